package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// ReceiptJSON is a receipt as the operator API shows it (the consent
// lookup, and each line of a JSON Lines export).
type ReceiptJSON struct {
	ReceiptID  string          `json:"receiptId"`
	ReceivedAt string          `json:"receivedAt"`
	DecidedAt  string          `json:"decidedAt"`
	Revision   int64           `json:"revision"`
	Choices    json.RawMessage `json:"choices"` // in the value's order
	Method     string          `json:"method"`
	Lang       string          `json:"lang"`
	Page       string          `json:"page"`
	Policy     string          `json:"policy"`
}

// NewReceiptJSON returns r as the API shows it.
func NewReceiptJSON(r *receipts.Receipt) ReceiptJSON {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, c := range r.Choices {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%t", c.Category, c.Accepted) // category ids are [a-z0-9_-]
	}
	b.WriteByte('}')
	return ReceiptJSON{
		ReceiptID: r.ID, ReceivedAt: r.ReceivedAt.UTC().Format(time.RFC3339Nano),
		DecidedAt: r.DecidedAt.UTC().Format(time.RFC3339), Revision: r.Revision,
		Choices: b.Bytes(), Method: r.Method, Lang: r.Lang, Page: r.Page, Policy: r.Notice,
	}
}
