package e2e

// The bad-input table of the README: each case ends either in "ask again"
// (the banner shows and works) or in one clear console error, and the portal
// page is unharmed either way. Cookie values the Go codec refuses (malformed,
// foreign, future version, expired, old revision…) also run through the real
// loader in TestBrowserLoaderAgreesWithGo; the consent host failing (down,
// wasm 404, corrupt wasm, a policy the app refuses) in
// TestBrowserBrokenConsentHost; a CSP without 'wasm-unsafe-eval' in
// TestBrowserContentSecurityPolicy.

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/harness"
)

func TestBrowserBadTag(t *testing.T) {
	for _, tc := range []struct {
		name, query, wantErr string
	}{
		{"data-portal missing", "noportal=1", `data-portal="" is missing or not a portal id`},
		{"data-portal empty", "portal=", `data-portal="" is missing or not a portal id`},
		{"data-portal unknown", "portal=nope", `unknown portal "nope"`},
		{"data-portal with markup", "portal=" + url.QueryEscape(`"><img id=x src=x onerror=alert(1)>`), "is missing or not a portal id"},
		{"data-portal uppercase", "portal=MTRAN", `data-portal="MTRAN" is missing or not a portal id`},
		{"data-portal too long", "portal=" + strings.Repeat("a", 200), "is missing or not a portal id"},
		{"data-portal path", "portal=" + url.QueryEscape("../mtran"), "is missing or not a portal id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := harness.StartHosts(t)
			tb := newTab(t)
			tb.Run(chromedp.Navigate(h.PortalURL("bad.html", tc.query)))
			tb.FailedQuietly(tc.wantErr)
			var img bool
			tb.Eval(`document.getElementById("x") !== null`, &img)
			if img {
				t.Error("markup from data-portal reached the page")
			}
		})
	}
}

func TestBrowserLoaderIncludedTwice(t *testing.T) {
	h := harness.StartHosts(t)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("bad.html", "twice=1")))
	tb.WaitBanner()
	tb.WaitApp()
	time.Sleep(300 * time.Millisecond)
	var frames int
	tb.Eval(`document.querySelectorAll("iframe").length`, &frames)
	if frames != 1 {
		t.Errorf("%d frames for two tags, want 1", frames)
	}
	tb.Click("pc-reject")
	tb.WaitConsent()
	tb.NoErrors()
}

func TestBrowserPortalScriptErrors(t *testing.T) {
	h := harness.StartHosts(t)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("bad.html", "throw=1")))
	tb.WaitBanner()
	tb.WaitApp()
	tb.Click("pc-accept")
	if c := tb.WaitConsent(); !c.Accepted(policy.Statistical) {
		t.Errorf("Accept stored %q", c.Encode())
	}
	if e := tb.ConsoleErrors(); len(e) > 0 {
		t.Errorf("the banner logged errors: %q", e)
	}
	for _, e := range tb.PageExceptions() {
		if !strings.Contains(e, "the portal's") {
			t.Errorf("an exception that is not the portal's own: %q", e)
		}
	}
	if n := len(tb.PageExceptions()); n != 2 {
		t.Errorf("%d page exceptions, want the portal's 2", n)
	}
}

// TestBrowserOddCookies: values the browser keeps but that are no choice ask
// again, quietly.
func TestBrowserOddCookies(t *testing.T) {
	valid := policy.NewConsent(harness.Policies[0], time.Now(), nil).Encode()
	for _, tc := range []struct{ name, value string }{
		{"truncated", valid[:len(valid)/2]},
		{"over 4 KB (the browser drops it)", strings.Repeat("1", 5000)},
		{"just over the codec's 1 KB", "1|1|" + strings.Repeat("9", 1100)},
		{"binary-looking", "%00%FF%FE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := harness.StartHosts(t)
			tb := newTab(t)
			tb.Run(chromedp.Navigate(h.PortalURL("page2.html", "")))
			tb.Eval(`document.cookie = "cookies_preferences=`+tc.value+`; path=/"`, nil)
			tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "")))
			tb.WaitBanner()
			tb.NoErrors()
		})
	}
}

// TestBrowserSameNameCookies: two cookies_preferences, a valid one on / and a
// broken one on /sub. document.cookie lists the longer path first, and the
// first one is read (like policy.CookieValue): pages under /sub ask again,
// other pages keep the choice.
func TestBrowserSameNameCookies(t *testing.T) {
	valid := policy.NewConsent(harness.Policies[0], time.Now(), nil).Encode()
	h := harness.StartHosts(t)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("page2.html", "")))
	tb.Eval(`document.cookie = "cookies_preferences=`+valid+`; path=/"; document.cookie = "cookies_preferences=broken; path=/sub"`, nil)
	tb.Run(chromedp.Navigate(h.Portal.URL + "/sub/plain.html"))
	tb.WaitBanner()
	tb.NoErrors()
	tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "")))
	tb.WaitReturning()
	tb.NoErrors()
}
