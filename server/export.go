package server

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// The one receipts exporter, shared by the operator API (receipts.csv,
// receipts.jsonl) and the console's export page (export.csv, export.jsonl):
// the receipts of a period, in chain order, streamed in constant memory
// with the write deadline renewed every exportChunk rows.

// csvHeader is the first row of a CSV export.
var csvHeader = []string{"receipt_id", "received_at", "decided_at", "consent_id", "revision",
	"choices", "method", "lang", "page", "policy", "seq", "prev", "hash"}

// exportWriteTime is how long each chunk of an export may take to write:
// an export of a million receipts outlasts the server's WriteTimeout.
const exportWriteTime = 30 * time.Second

// exportChunk is how many rows are written between flushes.
const exportChunk = 1000

// receiptLineJSON is one line of a JSON Lines export: the lookup API's
// fields, the consent id and the receipt's place in its chain.
type receiptLineJSON struct {
	ConsentID string `json:"consentId"`
	receiptJSON
	Seq  int64  `json:"seq"`
	Prev string `json:"prev"`
	Hash string `json:"hash"`
}

// parseDays returns the UTC instants [from 00:00, the day after to 00:00)
// of the query's from and to (YYYY-MM-DD, inclusive), or an error for a
// missing or malformed date or from after to.
func parseDays(r *http.Request) (time.Time, time.Time, error) {
	var days [2]time.Time
	for i, k := range []string{"from", "to"} {
		v := r.URL.Query().Get(k)
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("%s: %q is not a date YYYY-MM-DD", k, truncate(v, 32))
		}
		days[i] = d
	}
	if days[1].Before(days[0]) {
		return time.Time{}, time.Time{}, errors.New("from is after to")
	}
	return days[0], days[1].AddDate(0, 0, 1), nil
}

// exportFormat is one way of writing receipts.
type exportFormat struct {
	ext, contentType string
	// open returns, for a stream into w, header (writes what comes before
	// the first row, for an empty period too) and row (writes one receipt).
	open func(w *bufio.Writer) (header func() error, row func(*receipts.Receipt) error)
}

var (
	exportCSV = exportFormat{ext: "csv", contentType: "text/csv; charset=utf-8",
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
						strconv.FormatInt(rec.Seq, 10), rec.Prev, rec.Hash)
					cw.Write(row)
					cw.Flush() // into the bufio.Writer: cheap
					return cw.Error()
				}
		}}
	exportJSONL = exportFormat{ext: "jsonl", contentType: "application/x-ndjson",
		open: func(w *bufio.Writer) (func() error, func(*receipts.Receipt) error) {
			enc := json.NewEncoder(w)
			return func() error { return nil }, func(rec *receipts.Receipt) error {
				return enc.Encode(receiptLineJSON{ConsentID: rec.ConsentID, receiptJSON: newReceiptJSON(rec), Seq: rec.Seq, Prev: rec.Prev, Hash: rec.Hash})
			}
		}}
)

// exportFilename is the attachment name of an export of portal for
// [from, to): receipts-PORTAL-FROM-TO.EXT, to inclusive.
func exportFilename(portal string, from, to time.Time, ext string) string {
	return fmt.Sprintf("receipts-%s-%s-%s.%s", portal, from.Format(time.DateOnly), to.AddDate(0, 0, -1).Format(time.DateOnly), ext)
}

// exportReceipts streams the receipts of portal received in [from, to) in
// format f, as an attachment. Before the first row a store failure is 503
// (a cancelled request gets nothing); once rows are sent a failure cuts
// the response short (http.ErrAbortHandler), so the client sees it
// incomplete rather than a clean end. An empty period is the header alone.
func (s *Server) exportReceipts(w http.ResponseWriter, r *http.Request, portal string, from, to time.Time, f exportFormat) {
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
	err := s.receipts.Export(r.Context(), portal, from, to, func(rec *receipts.Receipt) error {
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
			return
		}
		s.storeError(w, err, "")
		return
	}
	if err != nil {
		s.log.Error("receipts export cut short", "portal", portal, "rows", n, "err", err.Error())
		panic(http.ErrAbortHandler)
	}
	if !started {
		start()
	}
	bw.Flush()
}
