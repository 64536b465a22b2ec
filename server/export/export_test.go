package export

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"slices"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// TestCSVFormulaCells: a CSV cell a spreadsheet would read as a formula
// (starting with =, +, -, @, a tab or a carriage return: a consent id may
// start with "-") is written with a leading apostrophe (OWASP); the other
// cells are written as they are.
func TestCSVFormulaCells(t *testing.T) {
	at := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
	rec := &receipts.Receipt{ID: "+0193", ReceivedAt: at, DecidedAt: at, ConsentID: "-2+3+cmd|' /C calc'!A0",
		Revision: 7, Choices: []policy.Choice{{Category: "necessary", Accepted: true}}, Method: "@SUM(1)",
		Lang: "=1+1", Page: "\thttps://p.example/", Notice: "\rx", Seq: 1, Prev: "0000", Hash: "abcd"}
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	header, row := CSV.open(w)
	if err := header(); err != nil {
		t.Fatal(err)
	}
	if err := row(rec); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("rows %q, %v", rows, err)
	}
	want := []string{"'+0193", "2026-03-03T10:00:00Z", "2026-03-03T10:00:00Z", "'-2+3+cmd|' /C calc'!A0", "7",
		receipts.EncodeChoices(rec.Choices), "'@SUM(1)", "'=1+1", "'\thttps://p.example/", "'\rx", "0", "1", "0000", "abcd"}
	if !slices.Equal(rows[1], want) {
		t.Errorf("row\n%q\nwant\n%q", rows[1], want)
	}
	for _, c := range []string{"", "a=b", "0193", "'", "https://p.example/"} {
		if got := csvCell(c); got != c {
			t.Errorf("csvCell(%q) = %q, want it unchanged", c, got)
		}
	}
}
