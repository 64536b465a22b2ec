// Package export streams receipts (CSV and JSON Lines), for the operator
// API (receipts.csv, receipts.jsonl) and the console's export page
// (export.csv, export.jsonl), and reads the one period of UTC days that
// the API and the console ask with ?from= and ?to=.
package export

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// The receipts of a period are written in chain order, streamed in constant
// memory with the write deadline renewed every exportChunk rows.

// csvHeader is the first row of a CSV export.
var csvHeader = []string{"receipt_id", "received_at", "decided_at", "consent_id", "revision",
	"choices", "method", "lang", "page", "policy", "writer", "seq", "prev", "hash"}

// exportWriteTime is how long each chunk of an export may take to write:
// an export of a million receipts outlasts the server's WriteTimeout.
const exportWriteTime = 30 * time.Second

// exportChunk is how many rows are written between flushes.
const exportChunk = 1000

// ReceiptLine is one line of a JSON Lines export: the lookup API's
// fields, the consent id and the receipt's place in its chain (the
// portal's chain of writer Writer, at Seq).
type ReceiptLine struct {
	ConsentID string `json:"consentId"`
	ReceiptJSON
	Writer int    `json:"writer"`
	Seq    int64  `json:"seq"`
	Prev   string `json:"prev"`
	Hash   string `json:"hash"`
}

// Format is one way of writing receipts.
type Format struct {
	ext, contentType string
	// open returns, for a stream into w, header (writes what comes before
	// the first row, for an empty period too) and row (writes one receipt).
	open func(w *bufio.Writer) (header func() error, row func(*receipts.Receipt) error)
}

var (
	CSV = Format{ext: "csv", contentType: "text/csv; charset=utf-8",
		open: func(w *bufio.Writer) (func() error, func(*receipts.Receipt) error) {
			cw := csv.NewWriter(w)
			row := make([]string, len(csvHeader))
			return func() error {
					cw.Write(csvHeader)
					cw.Flush()
					return cw.Error()
				}, func(rec *receipts.Receipt) error {
					row = append(row[:0], rec.ID, rec.ReceivedAt.UTC().Format(time.RFC3339Nano),
						rec.DecidedAt.UTC().Format(time.RFC3339), rec.ConsentID, strconv.FormatInt(rec.Revision, 10),
						receipts.EncodeChoices(rec.Choices), rec.Method, rec.Lang, rec.Page, rec.Notice,
						strconv.Itoa(rec.Writer), strconv.FormatInt(rec.Seq, 10), rec.Prev, rec.Hash)
					for i, c := range row {
						row[i] = csvCell(c)
					}
					cw.Write(row)
					cw.Flush() // into the bufio.Writer: cheap
					return cw.Error()
				}
		}}
	JSONL = Format{ext: "jsonl", contentType: "application/x-ndjson",
		open: func(w *bufio.Writer) (func() error, func(*receipts.Receipt) error) {
			enc := json.NewEncoder(w)
			return func() error { return nil }, func(rec *receipts.Receipt) error {
				return enc.Encode(ReceiptLine{ConsentID: rec.ConsentID, ReceiptJSON: NewReceiptJSON(rec), Writer: rec.Writer, Seq: rec.Seq, Prev: rec.Prev, Hash: rec.Hash})
			}
		}}
)

// formulaStarts are the first characters that make a spreadsheet read a
// CSV cell as a formula (OWASP, "CSV Injection").
const formulaStarts = "=+-@\t\r"

// csvCell returns s as a CSV cell a spreadsheet reads as text: a cell
// starting with =, +, -, @, a tab or a carriage return (a consent id may
// start with "-") gets a leading apostrophe, as OWASP recommends; a reader
// of the file strips it. Any other cell is s.
func csvCell(s string) string {
	if s != "" && strings.IndexByte(formulaStarts, s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// exportFilename is the attachment name of an export of portal for
// [from, to): receipts-PORTAL-FROM-TO.EXT, to inclusive.
func exportFilename(portal string, from, to time.Time, ext string) string {
	return fmt.Sprintf("receipts-%s-%s-%s.%s", portal, from.Format(time.DateOnly), to.AddDate(0, 0, -1).Format(time.DateOnly), ext)
}

// Stream writes the receipts of portal in st received in p in format f, as
// an attachment. Before the first row it returns a store's failure (nil for
// a cancelled request: the client is gone); once rows are sent a failure
// cuts the response short (it panics with http.ErrAbortHandler, logged to
// log), so the client sees it incomplete rather than a clean end. An empty
// period is the header alone.
func Stream(w http.ResponseWriter, r *http.Request, st receipts.Store, log *slog.Logger, portal string, p Period, f Format) error {
	from, to := p.From, p.To
	rc := http.NewResponseController(w)
	bw := bufio.NewWriterSize(w, 64<<10)
	header, row := f.open(bw)
	started := false
	start := func() error {
		started = true
		rc.SetWriteDeadline(time.Now().Add(exportWriteTime))
		w.Header().Set("Content-Type", f.contentType)
		w.Header().Set("Content-Disposition", `attachment; filename="`+exportFilename(portal, from, to, f.ext)+`"`)
		return header()
	}
	n := 0
	err := st.Export(r.Context(), portal, from, to, func(rec *receipts.Receipt) error {
		if !started {
			if err := start(); err != nil {
				return err
			}
		}
		if err := row(rec); err != nil {
			return err
		}
		if n++; n%exportChunk == 0 {
			rc.SetWriteDeadline(time.Now().Add(exportWriteTime))
			return bw.Flush()
		}
		return nil
	})
	if err != nil && !started {
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	if err != nil {
		log.Error("receipts export cut short", "portal", portal, "rows", n, "err", err.Error())
		panic(http.ErrAbortHandler)
	}
	if !started {
		start()
	}
	bw.Flush()
	return nil
}
