package e2e

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/servertest"
	"github.com/portalconsent/portalconsent/web"
)

// startConsole serves the real handler (real assets) with the test
// operators on a loopback origin.
func startConsole(t testing.TB) *httptest.Server {
	t.Helper()
	srv, err := server.New(harness.Policies, web.Files(), server.WithOperators(servertest.Operators(t)), server.WithSignInRate(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

// consoleSignIn types token into the sign-in form and submits it.
func (tb *tab) consoleSignIn(token string) {
	tb.T.Helper()
	var cleared bool
	tb.Run(chromedp.WaitVisible("#token", chromedp.ByQuery),
		chromedp.Evaluate(`(document.querySelector("#token").value = "") === ""`, &cleared),
		chromedp.SendKeys("#token", token, chromedp.ByQuery),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery),
	)
}

func (tb *tab) text(sel string) string {
	tb.T.Helper()
	var s string
	tb.Eval(`(document.querySelector(`+harness.JSString(sel)+`) || {textContent: ""}).textContent`, &s)
	return s
}

func TestBrowserConsoleSignInScopeSignOut(t *testing.T) {
	ts := startConsole(t)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(ts.URL + "/console/"))
	tb.WaitFor("the sign-in form", `document.querySelector("input[type=password]#token") !== null`)

	// A wrong token is refused: the form again, with an alert.
	tb.consoleSignIn(servertest.AliceToken + "x")
	tb.WaitFor("the refusal", `document.querySelector("[role=alert]") !== null`)
	if got := tb.text("[role=alert]"); !strings.Contains(got, "not valid") {
		t.Errorf("alert %q", got)
	}
	// The right one is accepted: the operator's portals, mtran only.
	tb.consoleSignIn(servertest.AliceToken)
	tb.WaitFor("the portal list", `document.querySelector("form[action='/console/sign-out']") !== null`)
	var links []string
	tb.Eval(`[...document.querySelectorAll("main table a")].map(a => a.getAttribute("href"))`, &links)
	if len(links) != 1 || links[0] != "/console/portals/mtran" {
		t.Errorf("portal links %q", links)
	}
	// The cookie: HttpOnly (invisible to scripts), SameSite=Strict.
	var visible string
	tb.Eval(`document.cookie`, &visible)
	if strings.Contains(visible, "pc_session") {
		t.Errorf("the session cookie is visible to scripts: %q", visible)
	}
	var cookies []*network.Cookie
	tb.Run(chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().WithURLs([]string{ts.URL}).Do(ctx)
		return err
	}))
	var sess *network.Cookie
	for _, c := range cookies {
		if c.Name == "pc_session" {
			sess = c
		}
	}
	if sess == nil || !sess.HTTPOnly || sess.SameSite != network.CookieSameSiteStrict || sess.Path != "/" || sess.Session {
		t.Fatalf("session cookie %+v", sess)
	}
	// In scope: mtran's page; out of scope: twisto, in the console and the API.
	tb.Run(chromedp.Click(`a[href="/console/portals/mtran"]`, chromedp.ByQuery))
	tb.WaitFor("mtran's page", `location.pathname === "/console/portals/mtran" && document.querySelector("h1") !== null`)
	tb.Run(chromedp.Navigate(ts.URL + "/console/portals/twisto"))
	tb.WaitFor("twisto's refusal", `document.querySelector("h1") !== null`)
	if got := tb.text("h1"); got != "Not allowed" {
		t.Errorf("twisto: h1 %q", got)
	}
	tb.Run(chromedp.Navigate(ts.URL + "/api/v1/portals/twisto/receipts.csv?from=2026-03-01&to=2026-03-02"))
	tb.WaitFor("the API's refusal", `document.body && document.body.innerText.includes("forbidden")`)
	tb.Run(chromedp.Navigate(ts.URL + "/api/v1/portals/mtran/receipts.csv?from=2026-03-01&to=2026-03-02"))
	// Sign-out: back to the form, and the pages refused.
	tb.Run(chromedp.Navigate(ts.URL + "/console/"))
	tb.WaitFor("the portal list", `document.querySelector("form[action='/console/sign-out'] button") !== null`)
	tb.Run(chromedp.Click(`form[action="/console/sign-out"] button`, chromedp.ByQuery))
	tb.WaitFor("the sign-in form after sign-out", `document.querySelector("#token") !== null`)
	tb.Run(chromedp.Navigate(ts.URL + "/console/portals/mtran"))
	tb.WaitFor("the sign-in form", `document.querySelector("#token") !== null && location.pathname === "/console/"`)
	tb.NoErrors()
}

// axeConsolePages loads each console page at 1200 px and on an emulated
// 375 px phone, light and dark, and checks it with axe-core (src): no
// violation, and on the phone no sideways scrolling. The tab must be signed
// in where the pages need it.
func (tb *tab) axeConsolePages(src string, urls ...string) {
	tb.T.Helper()
	for _, device := range []string{"desktop", "phone"} {
		if device == "phone" {
			tb.Phone(375, 740)
		} else {
			tb.Run(emulation.ClearDeviceMetricsOverride(), chromedp.EmulateViewport(1200, 800))
		}
		for _, u := range urls {
			for _, scheme := range []string{"light", "dark"} {
				tb.Run(harness.EmulateMedia(map[string]string{"prefers-color-scheme": scheme}), chromedp.Navigate(u))
				tb.WaitFor(u, `document.readyState === "complete" && document.querySelector("h1") !== null`)
				var dark bool
				tb.Eval(`matchMedia("(prefers-color-scheme: dark)").matches`, &dark)
				if dark != (scheme == "dark") {
					tb.T.Fatalf("prefers-color-scheme: %s is not emulated", scheme)
				}
				if device == "phone" {
					var wide bool
					tb.Eval(`document.documentElement.scrollWidth > innerWidth + 1`, &wide)
					if wide {
						tb.T.Errorf("%s on a phone: the page is wider than the screen", u)
					}
				}
				for _, v := range tb.AxeTop(src) {
					tb.T.Errorf("%s %s %s: axe violation: %v", u, device, scheme, v)
				}
			}
		}
	}
}

// TestA11yConsoleAxe: axe-core, 0 violations on the sign-in and the
// portal-list pages, at 1200 and 375 px, light and dark.
func TestA11yConsoleAxe(t *testing.T) {
	src := harness.AxeSource(t)
	ts := startConsole(t)
	tb := newTab(t)
	tb.axeConsolePages(src, ts.URL+"/console/") // the sign-in form
	tb.Run(emulation.ClearDeviceMetricsOverride(), chromedp.EmulateViewport(1200, 800), chromedp.Navigate(ts.URL+"/console/"))
	tb.consoleSignIn(servertest.DPOToken)
	tb.WaitFor("the portal list", `document.querySelector("main table a") !== null`)
	tb.axeConsolePages(src, ts.URL+"/console/") // the portal list
	tb.NoErrors()
}
