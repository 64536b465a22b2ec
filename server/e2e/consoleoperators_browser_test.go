package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/servertest"
)

// TestBrowserConsoleOperators: the admin creates an operator on the
// console's operators page, reads their token once, and that token signs
// in to the console with the operator's scope; the operators of the file
// are read-only. The page (the list with both kinds, and the answer
// showing a token) is axe-clean at 1200 px and on an emulated 375 px
// phone, light and dark, in English and French.
func TestBrowserConsoleOperators(t *testing.T) {
	src := harness.AxeSource(t)
	ts := startStatsConsole(t)
	tb := newTab(t)
	tb.Run(emulation.ClearDeviceMetricsOverride(), chromedp.EmulateViewport(1200, 800), chromedp.Navigate(ts.URL+"/console/"))
	tb.consoleSignIn(servertest.AdminToken)
	tb.WaitFor("the admin's home", `document.querySelector("a[href='/console/operators']") !== null`)
	tb.Run(chromedp.Click(`a[href="/console/operators"]`, chromedp.ByQuery))
	tb.WaitFor("the operators page", `location.pathname === "/console/operators" && document.querySelector("#name") !== null`)
	if got := tb.text("tbody"); !strings.Contains(got, "Read-only here") || !strings.Contains(got, "file operators.yaml") {
		t.Errorf("the operators of the file are not shown read-only: %q", got)
	}
	tb.Run(chromedp.SendKeys("#name", "carol", chromedp.ByQuery), chromedp.SendKeys("#portals", "mtran", chromedp.ByQuery),
		chromedp.Click(`form[action="/console/operators"] button[type=submit]`, chromedp.ByQuery))
	tb.WaitFor("the new token", `document.querySelector("#new-token") !== null`)
	var token string
	tb.Eval(`document.querySelector("#new-token").value`, &token)
	if len(token) < 40 {
		t.Fatalf("token %q", token)
	}
	if got := tb.text("[role=status]"); !strings.Contains(got, "carol created") {
		t.Errorf("status %q", got)
	}
	for _, v := range tb.AxeTop(src) {
		t.Errorf("the page showing a token: axe violation: %v", v)
	}
	tb.axeConsolePages(src, ts.URL+"/console/operators")
	tb.Run(network.SetExtraHTTPHeaders(network.Headers{"Accept-Language": "fr"}))
	tb.axeConsolePages(src, ts.URL+"/console/operators")
	if got := tb.text("h1"); got != "Opérateurs" {
		t.Errorf("French h1 %q", got)
	}
	if strings.Contains(tb.text("main"), token) {
		t.Error("the token is shown again")
	}

	// carol signs in with her token: mtran only.
	tb.Run(network.SetExtraHTTPHeaders(network.Headers{}), emulation.ClearDeviceMetricsOverride(), chromedp.EmulateViewport(1200, 800),
		chromedp.Navigate(ts.URL+"/console/"))
	tb.WaitFor("the sign-out button", `document.querySelector("form[action='/console/sign-out'] button") !== null`)
	tb.Run(chromedp.Click(`form[action="/console/sign-out"] button`, chromedp.ByQuery))
	tb.consoleSignIn(token)
	tb.WaitFor("carol's portals", `document.querySelector("form[action='/console/sign-out']") !== null`)
	var links []string
	tb.Eval(`[...document.querySelectorAll("main table a")].map(a => a.getAttribute("href"))`, &links)
	if len(links) != 1 || links[0] != "/console/portals/mtran" {
		t.Errorf("carol's portal links %q", links)
	}
	tb.Run(chromedp.Navigate(ts.URL + "/console/operators"))
	tb.WaitFor("carol refused the operators page", `document.querySelector("h1") !== null`)
	if got := tb.text("h1"); got != "Not allowed" {
		t.Errorf("carol on the operators page: h1 %q", got)
	}
	tb.NoErrors()
}
