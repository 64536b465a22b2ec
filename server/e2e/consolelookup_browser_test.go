package server

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserConsoleLookup: a visitor accepts all in the real banner; the
// operator looks the consent id of the cookie up in the console, sees the
// receipt with its choices, and follows its link to the notice, rendered as
// the policy page that visitor was shown. axe-core finds nothing on the
// lookup (with its receipt), notice and history pages at 1200 px and on a
// phone (375 px), light and dark.
func TestBrowserConsoleLookup(t *testing.T) {
	src := axeSource(t)
	st := openTestStore(t)
	h := startHostsWith(t, []Option{WithReceipts(st), WithOperators(testOperators(t)), WithSignInRate(0, 0)})
	tb := newTab(t)
	tb.run(chromedp.Navigate(h.portalURL("receipt.html", "")))
	tb.waitBanner()
	tb.click("pc-accept")
	c := tb.waitConsent()
	until(t, "the receipt", func() bool {
		rs, err := st.Consent(context.Background(), "mtran", c.ID)
		return err == nil && len(rs) == 1
	})

	tb.run(chromedp.Navigate(h.consent.URL + "/console/"))
	tb.consoleSignIn(aliceToken)
	tb.waitFor("the portal list", `document.querySelector("main table a") !== null`)
	tb.run(chromedp.Navigate(h.consent.URL + "/console/portals/mtran/lookup"))
	tb.waitFor("the lookup form", `document.querySelector("#consent") !== null`)
	tb.run(chromedp.SendKeys("#consent", c.ID, chromedp.ByQuery),
		chromedp.Click(`form[role=search] button[type=submit]`, chromedp.ByQuery))
	tb.waitFor("the receipt row", `document.querySelectorAll("tr.pc-receipt").length === 1`)
	row := tb.text("tr.pc-receipt")
	for _, want := range []string{"Accept all", "statistical: accepted", h.portal.URL + "/receipt.html", "en"} {
		if !strings.Contains(row, want) {
			t.Errorf("receipt row %q lacks %q", row, want)
		}
	}
	lookupURL := h.consent.URL + "/console/portals/mtran/lookup?consent=" + c.ID
	tb.run(chromedp.Click(`tr.pc-receipt a`, chromedp.ByQuery))
	tb.waitFor("the notice", `location.pathname.includes("/notices/") && document.querySelector(".pc-notice table") !== null`)
	if got := tb.text(".pc-notice"); !strings.Contains(got, "csrftoken") {
		t.Errorf("the notice lacks mtran's cookie table (csrftoken): %.300s", got)
	}
	var scripts int
	tb.eval(`document.scripts.length`, &scripts)
	if scripts != 0 {
		t.Errorf("the notice page runs %d scripts", scripts)
	}
	noticeURL := ""
	tb.eval(`location.href`, &noticeURL)
	tb.noErrors()

	tb.axeConsolePages(src, lookupURL, noticeURL, h.consent.URL+"/console/portals/mtran/history")
	tb.noErrors()
}
