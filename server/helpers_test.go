package server

import (
	"context"
	"testing"

	"github.com/portalconsent/portalconsent/server/catalogue"
	"github.com/portalconsent/portalconsent/server/servertest"
)

// testPortal returns the portal id served by s, failing the test when
// there is none.
func testPortal(t testing.TB, s *Server, id string) *catalogue.Portal {
	t.Helper()
	p, err := s.cat.Portal(context.Background(), id)
	if err != nil {
		t.Fatalf("portal %q is not served: %v", id, err)
	}
	return p
}

// consoleCSP is the Content-Security-Policy every console page must carry:
// no script at all, forms to this host only.
const consoleCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Fixtures shared with the other packages' tests (package servertest).
const (
	testAdminToken = servertest.AdminToken
	aliceToken     = servertest.AliceToken
	dpoToken       = servertest.DPOToken
)

var (
	testOperators   = servertest.Operators
	openTestStore   = servertest.OpenStore
	consentValue    = servertest.ConsentValue
	receiptJSONBody = servertest.ReceiptJSONBody
)

type receiptBody = servertest.ReceiptBody
