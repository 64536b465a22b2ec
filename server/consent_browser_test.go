package server

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/policy"
)

// Browser tests of consent that takes effect (gated scripts, withdrawal,
// asking again, Manage cookies, Consent Mode, GPC and the JS API), on the
// gated fixture page (testdata/gated.html) and on the hostile page.

// gatedPolicy is a portal whose statistics and marketing categories map to
// Consent Mode signals and declare tracker cookies by pattern.
var gatedPolicy = func() *policy.Policy {
	p := *testPolicies[0]
	p.ID = "gated"
	p.Categories = []policy.Category{
		{ID: "necessary", Name: "Necessary", Description: "Needed for the portal to work.", Required: true, Signals: []string{"security_storage"}},
		{ID: "statistical", Name: "Statistics", Description: "Audience measurement.", Signals: []string{"analytics_storage"}},
		{ID: "marketing", Name: "Marketing", Description: "Advertising.", Signals: []string{"ad_storage", "ad_user_data", "ad_personalization"}},
	}
	row := func(cat string, paths []string, names ...string) policy.Cookie {
		return policy.Cookie{Provider: "Tracker", Function: "Tracking", Purpose: "Measure", Duration: "13 months", Category: cat, Names: names, Paths: paths}
	}
	p.Cookies = []policy.Cookie{
		row("necessary", nil, "sessionid"),
		row("statistical", []string{"/sub"}, "_pk_id.*", "_pk_ses.*", "_ga", "_ga_*"),
		row("marketing", nil, "_gcl_au"),
	}
	if err := p.Validate(); err != nil {
		panic(err)
	}
	return &p
}()

// gatedState is what the gated fixture page observed.
type gatedState struct {
	Log     []string
	Cookies []string
}

func (tb *tab) gated() gatedState {
	tb.t.Helper()
	var s gatedState
	tb.eval(`({Log: window.gatedLog || [], Cookies: document.cookie.split("; ").filter(Boolean).map(c => c.split("=")[0]).sort()})`, &s)
	return s
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// statsRun is the log of the statistics scripts of the gated page: document
// order, the module last (modules are deferred, as the parser would run them),
// and the nonce kept.
var statsRun = []string{"inline1", "a", "b", "inline2", "last:nonce", "module"}

func TestBrowserGatedScripts(t *testing.T) {
	h := startHosts(t, gatedPolicy)
	for _, page := range []string{"gated.html", "hostile.html"} {
		t.Run(page, func(t *testing.T) {
			tb := newTab(t)
			tb.run(chromedp.Navigate(h.portalURL(page, "portal=gated&gated")))
			tb.waitBanner()
			time.Sleep(300 * time.Millisecond)
			// Before a choice nothing gated runs and no optional cookie appears.
			if s := tb.gated(); len(s.Log) != 0 || has(s.Cookies, "_ga") || has(s.Cookies, "_pk_id.1.abc") {
				t.Fatalf("before a choice: %+v", s)
			}
			// Accept, on the server's banner: the scripts run at once, in
			// document order, once.
			tb.click("pc-accept")
			tb.waitFor("the gated scripts", `(window.gatedLog || []).length >= 7`)
			time.Sleep(200 * time.Millisecond)
			s := tb.gated()
			want := []string{"inline1", "a", "b", "inline2", "marketing", "last:nonce", "module"}
			if strings.Join(s.Log, ",") != strings.Join(want, ",") {
				t.Errorf("after Accept all, ran %q, want %q", s.Log, want)
			}
			for _, c := range []string{"_pk_id.1.abc", "_ga", "_gcl_au"} {
				if !has(s.Cookies, c) {
					t.Errorf("cookie %s not set by its script: %q", c, s.Cookies)
				}
			}
			// Every later page view runs them again, with no banner.
			tb.run(chromedp.Reload())
			tb.waitFor("the gated scripts on the next page view", `(window.gatedLog || []).length >= 7`)
			tb.waitReturning()
			tb.noErrors()
		})
	}
}

func TestBrowserRejectRunsNothing(t *testing.T) {
	h := startHosts(t, gatedPolicy)
	tb := newTab(t)
	tb.run(chromedp.Navigate(h.portalURL("gated.html", "portal=gated")))
	tb.waitBanner()
	tb.click("pc-reject")
	tb.waitFor("the choice", `document.cookie.includes("cookies_preferences=")`)
	tb.run(chromedp.Reload())
	tb.waitReturning()
	time.Sleep(300 * time.Millisecond)
	if s := tb.gated(); len(s.Log) != 0 || has(s.Cookies, "_ga") || has(s.Cookies, "_gcl_au") {
		t.Errorf("after Reject all: %+v", s)
	}
	tb.noErrors()
}
