package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/servertest"
)

// TestBrowserConsoleLookup: a visitor accepts all in the real banner; the
// operator looks the consent id of the cookie up in the console, sees the
// receipt with its choices, and follows its link to the notice, rendered as
// the policy page that visitor was shown. axe-core finds nothing on the
// lookup (with its receipt), notice and history pages at 1200 px and on a
// phone (375 px), light and dark.
func TestBrowserConsoleLookup(t *testing.T) {
	src := harness.AxeSource(t)
	st := servertest.OpenStore(t)
	h := harness.StartHostsWith(t, []server.Option{server.WithReceipts(st), server.WithOperators(servertest.Operators(t)), server.WithSignInRate(0, 0)})
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("receipt.html", "")))
	tb.WaitBanner()
	tb.Click("pc-accept")
	c := tb.WaitConsent()
	harness.Until(t, "the receipt", func() bool {
		rs, err := st.Consent(context.Background(), "mtran", c.ID)
		return err == nil && len(rs) == 1
	})

	tb.Run(chromedp.Navigate(h.Consent.URL + "/console/"))
	tb.consoleSignIn(servertest.AliceToken)
	tb.WaitFor("the portal list", `document.querySelector("main table a") !== null`)
	tb.Run(chromedp.Navigate(h.Consent.URL + "/console/portals/mtran/lookup"))
	tb.WaitFor("the lookup form", `document.querySelector("#consent") !== null`)
	tb.Run(chromedp.SendKeys("#consent", c.ID, chromedp.ByQuery),
		chromedp.Click(`form[role=search] button[type=submit]`, chromedp.ByQuery))
	tb.WaitFor("the receipt row", `document.querySelectorAll("tr.pc-receipt").length === 1`)
	row := tb.text("tr.pc-receipt")
	for _, want := range []string{"Accept all", "statistical: accepted", h.Portal.URL + "/receipt.html", "en"} {
		if !strings.Contains(row, want) {
			t.Errorf("receipt row %q lacks %q", row, want)
		}
	}
	lookupURL := h.Consent.URL + "/console/portals/mtran/lookup?consent=" + c.ID
	tb.Run(chromedp.Click(`tr.pc-receipt a`, chromedp.ByQuery))
	tb.WaitFor("the notice", `location.pathname.includes("/notices/") && document.querySelector(".pc-notice table") !== null`)
	if got := tb.text(".pc-notice"); !strings.Contains(got, "csrftoken") {
		t.Errorf("the notice lacks mtran's cookie table (csrftoken): %.300s", got)
	}
	var scripts int
	tb.Eval(`document.scripts.length`, &scripts)
	if scripts != 0 {
		t.Errorf("the notice page runs %d scripts", scripts)
	}
	noticeURL := ""
	tb.Eval(`location.href`, &noticeURL)
	tb.NoErrors()

	tb.axeConsolePages(src, lookupURL, noticeURL, h.Consent.URL+"/console/portals/mtran/history")
	tb.NoErrors()
}
