package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/policyfiles"
	"github.com/portalconsent/portalconsent/server/servertest"
)

// TestBrowserPortalCreatedThroughTheAPI: a portal that exists only because
// the admin published it with PUT /api/v1/portals/{id}/policy serves a
// working banner to its visitors: shown at once, the choice stored in the
// cookie for the published revision, its receipt kept.
func TestBrowserPortalCreatedThroughTheAPI(t *testing.T) {
	st := servertest.OpenStore(t)
	h := harness.StartHostsWith(t, []server.Option{server.WithReceipts(st), server.WithAdminToken(servertest.AdminToken)})
	yaml := strings.Replace(string(policyfiles.Example()), "id: example", "id: created", 1)
	req, err := http.NewRequest("PUT", h.Consent.URL+"/api/v1/portals/created/policy", strings.NewReader(yaml))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+servertest.AdminToken)
	req.Header.Set("Content-Type", "application/yaml")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("publishing a new portal: %d", res.StatusCode)
	}
	created, err := policyfiles.Parse("created.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}

	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "portal=created")))
	tb.WaitBanner()
	tb.Click("pc-reject")
	tb.WaitFor("the cookies_preferences cookie", `document.cookie.includes("cookies_preferences=")`)
	c, err := policy.Current(tb.Cookie(), created, time.Now())
	if err != nil {
		t.Fatalf("the stored choice %q does not hold for the published policy: %v", tb.Cookie(), err)
	}
	if rs := waitStoredFor(t, st, "created", c); len(rs) != 1 {
		t.Errorf("%d receipts of the choice, want 1", len(rs))
	}
	tb.NoErrors()
}
