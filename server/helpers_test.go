package server

import (
	"testing"

	"github.com/portalconsent/portalconsent/server/catalogue"
)

// testPortal returns the portal id served by s, failing the test when
// there is none.
func testPortal(t testing.TB, s *Server, id string) *catalogue.Portal {
	t.Helper()
	p, ok := s.cat.Portal(id)
	if !ok {
		t.Fatalf("portal %q is not served", id)
	}
	return p
}

// consoleCSP is the Content-Security-Policy every console page must carry:
// no script at all, forms to this host only.
const consoleCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// receiptBody is the JSON of a receipt as the browser sends it (the
// README's receipt contract).
type receiptBody struct {
	Value      string   `json:"value"`
	Method     string   `json:"method"`
	Lang       string   `json:"lang"`
	Page       string   `json:"page"`
	Undeclared []string `json:"undeclared"`
}
