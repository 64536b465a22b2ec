package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/policyfiles"
)

// TestBrowserPreferencesRejectAllWithdraws: a returning visitor who accepted
// withdraws with one click: Manage cookies, then Reject all in the
// preferences. The choice refuses every optional category, the refused
// categories' cookies go, and the reload notice says scripts already running
// stop on a reload.
func TestBrowserPreferencesRejectAllWithdraws(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	tb := newTab(t)
	tb.AcceptAll(h.PortalURL("gated.html", "portal=gated&gated"))
	tb.WaitFor("the frame gone", `!document.querySelector("iframe[data-portal-consent]")`)
	tb.Run(chromedp.Reload())
	tb.WaitFor("the gated scripts", `(window.gatedLog || []).length >= 7`)
	tb.WaitFor("the tracker's cookie", `document.cookie.includes("_ga=")`)

	tb.ClickPage("#manage")
	tb.WaitDialog("pc-preferences")
	var kinds []string
	tb.Eval(harness.InFrame(`["pc-prefs-accept", "pc-prefs-reject", "pc-save"].map(id => d.getElementById(id).className)`), &kinds)
	if len(kinds) != 3 || kinds[0] != kinds[1] || kinds[2] == kinds[0] {
		t.Errorf("classes of Accept all, Reject all, Save = %q: want Accept and Reject equal, Save distinct", kinds)
	}
	tb.Click("pc-prefs-reject")
	tb.WaitFor("the reload notice", harness.InFrame(`d.getElementById("pc-reload") !== null && d.activeElement === d.getElementById("pc-reload")`))
	c, err := policy.Current(tb.Cookie(), gatedPolicy, time.Now())
	if err != nil {
		t.Fatalf("stored %q: %v", tb.Cookie(), err)
	}
	if c.Accepted("statistical") || c.Accepted("marketing") || !c.Accepted("necessary") {
		t.Errorf("Reject all in the preferences stored %q", c.Encode())
	}
	if s := tb.gated(); has(s.Cookies, "_ga") || has(s.Cookies, "_gcl_au") {
		t.Errorf("after Reject all the page still has cookies %q", s.Cookies)
	}
	var st struct{ Categories map[string]bool }
	tb.Eval(`PortalConsent.get()`, &st)
	if st.Categories["statistical"] || st.Categories["marketing"] {
		t.Errorf("PortalConsent.get() after Reject all: %+v", st)
	}
	tb.NoErrors()
}

// TestBrowserPreferencesAcceptAll: Accept all in the preferences (opened
// with Customize on a first visit) accepts every category and runs the gated
// scripts at once.
func TestBrowserPreferencesAcceptAll(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("gated.html", "portal=gated&gated")))
	tb.WaitBanner()
	tb.WaitApp()
	tb.Click("pc-customize")
	tb.WaitDialog("pc-preferences")
	tb.Click("pc-prefs-accept")
	tb.WaitFor("the gated scripts", `(window.gatedLog || []).length >= 7`)
	tb.WaitFor("the frame to hide", harness.InFrame(`getComputedStyle(f).visibility === "hidden"`))
	c, err := policy.Current(tb.Cookie(), gatedPolicy, time.Now())
	if err != nil {
		t.Fatalf("stored %q: %v", tb.Cookie(), err)
	}
	if !c.Accepted("statistical") || !c.Accepted("marketing") {
		t.Errorf("Accept all in the preferences stored %q", c.Encode())
	}
	tb.NoErrors()
}

// examplePolicy is the example portal as the server serves it: its Matomo
// and Google Analytics rows come from its trackers.
func examplePolicy(t testing.TB) *policy.Policy {
	t.Helper()
	ps, err := policyfiles.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range policyfiles.Policies(ps) {
		if p.ID == "example" {
			return p
		}
	}
	t.Fatal("no example portal")
	return nil
}

// TestBrowserPreferencesCookieDisclosure: each category's cookies are in a
// disclosure folded by default, which the keyboard opens (Tab to it, Enter)
// and which then lists the category's rows, trackers' included. With Global
// Privacy Control the preferences carry its notice too.
func TestBrowserPreferencesCookieDisclosure(t *testing.T) {
	ex := examplePolicy(t)
	h := harness.StartHosts(t, ex)
	tb := newTab(t)
	tb.Run(chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(gpcScript).Do(ctx)
		return err
	}))
	tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "portal=example")))
	tb.WaitBanner()
	tb.WaitApp()
	tb.Click("pc-customize")
	tb.WaitDialog("pc-preferences")
	var gpc bool
	tb.Eval(harness.InFrame(`(() => { const n = d.getElementById("pc-prefs-gpc"); return !!n && n.getBoundingClientRect().height > 0; })()`), &gpc)
	if !gpc {
		t.Error("with GPC the preferences show no GPC notice")
	}

	var names []string
	for _, ck := range ex.Cookies {
		if ck.Category == policy.Statistical {
			names = append(names, strings.Join(ck.Names, ", "))
		}
	}
	if len(names) < 2 {
		t.Fatalf("the example's statistical category has %d rows", len(names))
	}
	details := `d.getElementById("pc-cookies-of-statistical")`
	var folded bool
	tb.Eval(harness.InFrame(`(() => { const x = `+details+`; return !!x && !x.open && !x.querySelector(".pc-cookie-list").checkVisibility(); })()`), &folded)
	if !folded {
		var dbg string
		tb.Eval(harness.InFrame(`JSON.stringify([...d.querySelectorAll("details")].map(x => [x.id, x.open, x.outerHTML.slice(0, 300)]))`), &dbg)
		t.Fatalf("the statistical cookies are not in a folded disclosure: %s", dbg)
	}
	// Tab to the disclosure's summary, as a keyboard visitor does.
	summary := details + `.querySelector("summary")`
	for i := 0; i < 12; i++ {
		var on bool
		tb.Eval(`!!(`+harness.InFrame(`document.activeElement === f && d.activeElement === `+summary)+`)`, &on)
		if on {
			break
		}
		tb.Run(chromedp.KeyEvent(kb.Tab))
	}
	tb.WaitFor("focus on the statistical cookies' summary", harness.InFrame(`document.activeElement === f && d.activeElement === `+summary))
	tb.Run(chromedp.KeyEvent(kb.Enter))
	tb.WaitFor("the disclosure open", harness.InFrame(details+`.open && `+details+`.querySelector(".pc-cookie-list").checkVisibility()`))
	var listed []string
	tb.Eval(harness.InFrame(`[...`+details+`.querySelectorAll(".pc-cookie-names")].map(e => e.textContent.trim())`), &listed)
	if strings.Join(listed, "|") != strings.Join(names, "|") {
		t.Errorf("the disclosure lists %q, want the statistical rows %q", listed, names)
	}
	// Each row says who sets it, why, and for how long.
	var dts []string
	tb.Eval(harness.InFrame(`[...`+details+`.querySelector(".pc-cookie").querySelectorAll("dt")].map(e => e.textContent)`), &dts)
	cols := ex.Texts.Columns
	if strings.Join(dts, "|") != strings.Join([]string{cols.Names, cols.Provider, cols.Purpose, cols.Duration}, "|") {
		t.Errorf("a row's terms are %q", dts)
	}
	// Space folds it again; Save still works with the keyboard afterwards.
	tb.Run(chromedp.KeyEvent(" "))
	tb.WaitFor("the disclosure folded", harness.InFrame(`!`+details+`.open`))
	tb.NoErrors()
}
