package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/store"
)

// TestBrowserPreferencesRejectAllWithdraws: a returning visitor who accepted
// withdraws with one click: Manage cookies, then Reject all in the
// preferences. The choice refuses every optional category, the refused
// categories' cookies go, and the reload notice says scripts already running
// stop on a reload.
func TestBrowserPreferencesRejectAllWithdraws(t *testing.T) {
	h := startHosts(t, gatedPolicy)
	tb := newTab(t)
	tb.acceptAll(h.portalURL("gated.html", "portal=gated&gated"))
	tb.waitFor("the frame gone", `!document.querySelector("iframe[data-portal-consent]")`)
	tb.run(chromedp.Reload())
	tb.waitFor("the gated scripts", `(window.gatedLog || []).length >= 7`)
	tb.waitFor("the tracker's cookie", `document.cookie.includes("_ga=")`)

	tb.clickPage("#manage")
	tb.waitDialog("pc-preferences")
	var kinds []string
	tb.eval(inFrame(`["pc-prefs-accept", "pc-prefs-reject", "pc-save"].map(id => d.getElementById(id).className)`), &kinds)
	if len(kinds) != 3 || kinds[0] != kinds[1] || kinds[2] == kinds[0] {
		t.Errorf("classes of Accept all, Reject all, Save = %q: want Accept and Reject equal, Save distinct", kinds)
	}
	tb.click("pc-prefs-reject")
	tb.waitFor("the reload notice", inFrame(`d.getElementById("pc-reload") !== null && d.activeElement === d.getElementById("pc-reload")`))
	c, err := policy.Current(tb.cookie(), gatedPolicy, time.Now())
	if err != nil {
		t.Fatalf("stored %q: %v", tb.cookie(), err)
	}
	if c.Accepted("statistical") || c.Accepted("marketing") || !c.Accepted("necessary") {
		t.Errorf("Reject all in the preferences stored %q", c.Encode())
	}
	if s := tb.gated(); has(s.Cookies, "_ga") || has(s.Cookies, "_gcl_au") {
		t.Errorf("after Reject all the page still has cookies %q", s.Cookies)
	}
	var st struct{ Categories map[string]bool }
	tb.eval(`PortalConsent.get()`, &st)
	if st.Categories["statistical"] || st.Categories["marketing"] {
		t.Errorf("PortalConsent.get() after Reject all: %+v", st)
	}
	tb.noErrors()
}

// TestBrowserPreferencesAcceptAll: Accept all in the preferences (opened
// with Customize on a first visit) accepts every category and runs the gated
// scripts at once.
func TestBrowserPreferencesAcceptAll(t *testing.T) {
	h := startHosts(t, gatedPolicy)
	tb := newTab(t)
	tb.run(chromedp.Navigate(h.portalURL("gated.html", "portal=gated&gated")))
	tb.waitBanner()
	tb.waitApp()
	tb.click("pc-customize")
	tb.waitDialog("pc-preferences")
	tb.click("pc-prefs-accept")
	tb.waitFor("the gated scripts", `(window.gatedLog || []).length >= 7`)
	tb.waitFor("the frame to hide", inFrame(`getComputedStyle(f).visibility === "hidden"`))
	c, err := policy.Current(tb.cookie(), gatedPolicy, time.Now())
	if err != nil {
		t.Fatalf("stored %q: %v", tb.cookie(), err)
	}
	if !c.Accepted("statistical") || !c.Accepted("marketing") {
		t.Errorf("Accept all in the preferences stored %q", c.Encode())
	}
	tb.noErrors()
}

// examplePolicy is the example portal as the server serves it: its Matomo
// and Google Analytics rows come from its trackers.
func examplePolicy(t testing.TB) *policy.Policy {
	t.Helper()
	ps, err := store.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range store.Policies(ps) {
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
	h := startHosts(t, ex)
	tb := newTab(t)
	tb.run(chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(gpcScript).Do(ctx)
		return err
	}))
	tb.run(chromedp.Navigate(h.portalURL("plain.html", "portal=example")))
	tb.waitBanner()
	tb.waitApp()
	tb.click("pc-customize")
	tb.waitDialog("pc-preferences")
	var gpc bool
	tb.eval(inFrame(`(() => { const n = d.getElementById("pc-prefs-gpc"); return !!n && n.getBoundingClientRect().height > 0; })()`), &gpc)
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
	tb.eval(inFrame(`(() => { const x = `+details+`; return !!x && !x.open && !x.querySelector(".pc-cookie-list").checkVisibility(); })()`), &folded)
	if !folded {
		var dbg string
		tb.eval(inFrame(`JSON.stringify([...d.querySelectorAll("details")].map(x => [x.id, x.open, x.outerHTML.slice(0, 300)]))`), &dbg)
		t.Fatalf("the statistical cookies are not in a folded disclosure: %s", dbg)
	}
	// Tab to the disclosure's summary, as a keyboard visitor does.
	summary := details + `.querySelector("summary")`
	for i := 0; i < 12; i++ {
		var on bool
		tb.eval(`!!(`+inFrame(`document.activeElement === f && d.activeElement === `+summary)+`)`, &on)
		if on {
			break
		}
		tb.run(chromedp.KeyEvent(kb.Tab))
	}
	tb.waitFor("focus on the statistical cookies' summary", inFrame(`document.activeElement === f && d.activeElement === `+summary))
	tb.run(chromedp.KeyEvent(kb.Enter))
	tb.waitFor("the disclosure open", inFrame(details+`.open && `+details+`.querySelector(".pc-cookie-list").checkVisibility()`))
	var listed []string
	tb.eval(inFrame(`[...`+details+`.querySelectorAll(".pc-cookie-names")].map(e => e.textContent.trim())`), &listed)
	if strings.Join(listed, "|") != strings.Join(names, "|") {
		t.Errorf("the disclosure lists %q, want the statistical rows %q", listed, names)
	}
	// Each row says who sets it, why, and for how long.
	var dts []string
	tb.eval(inFrame(`[...`+details+`.querySelector(".pc-cookie").querySelectorAll("dt")].map(e => e.textContent)`), &dts)
	cols := ex.Texts.Columns
	if strings.Join(dts, "|") != strings.Join([]string{cols.Names, cols.Provider, cols.Purpose, cols.Duration}, "|") {
		t.Errorf("a row's terms are %q", dts)
	}
	// Space folds it again; Save still works with the keyboard afterwards.
	tb.run(chromedp.KeyEvent(" "))
	tb.waitFor("the disclosure folded", inFrame(`!`+details+`.open`))
	tb.noErrors()
}
