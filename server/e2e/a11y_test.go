package server

// Accessibility, measured: axe-core (installed from npm by `make test` into
// server/.tools/) runs in the consent frame in every state the visitor can reach, and
// on the server's cookie-policy page, at desktop and mobile widths, in light
// and dark; keyboard flows, reduced motion and a 320 px wide viewport (200%
// zoom at 640 px) are checked with the real keyboard.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// axePath is axe-core's browser bundle, relative to this package's directory;
// the Makefile installs it (a prerequisite of `make test`).
var axePath = filepath.Join(".tools", "node_modules", "axe-core", "axe.min.js")

// axeTags are the rule sets the banner must pass: WCAG 2.0, 2.1 and 2.2, A and AA.
const axeTags = `["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]`

func axeSource(t testing.TB) string {
	t.Helper()
	src, err := os.ReadFile(axePath)
	if err != nil {
		t.Fatalf("axe-core is missing (%v): run `make test`, or install it with "+
			"`npm install --no-audit --no-fund --prefix server/.tools axe-core@4.14.1` at the module root (make test does)", err)
	}
	return string(src)
}

type axeViolation struct {
	ID, Impact, Help string
	Nodes            []struct{ Target, Summary string }
}

func (v axeViolation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s", v.ID, v.Impact, v.Help)
	for _, n := range v.Nodes {
		fmt.Fprintf(&b, "\n\t\t%s\n\t\t\t%s", n.Target, strings.ReplaceAll(n.Summary, "\n", "\n\t\t\t"))
	}
	return b.String()
}

// awaitPromise makes chromedp.Evaluate wait for the promise the expression returns.
func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams {
	return p.WithAwaitPromise(true)
}

// axeResults maps axe's violations (of the window W and document D in scope)
// to what axeViolation holds; the frame's promise is adopted by the page's.
const axeResults = `Promise.resolve(W.axe.run(D, {runOnly: {type: "tag", values: ` + axeTags + `}, resultTypes: ["violations"]}))
	.then(r => r.violations.map(v => ({ID: v.id, Impact: v.impact || "", Help: v.help,
		Nodes: v.nodes.map(n => ({Target: n.target.map(String).join(" "), Summary: n.failureSummary || ""}))})))`

// axeFrame runs axe-core in the consent frame's document.
func (tb *tab) axeFrame(src string) []axeViolation {
	tb.t.Helper()
	var ok bool
	tb.eval(inFrame(`(w.eval(`+jsString(src)+`), typeof w.axe === "object")`), &ok)
	if !ok {
		tb.t.Fatal("axe-core did not load in the consent frame")
	}
	var vs []axeViolation
	tb.run(chromedp.Evaluate(inFrame(`((W, D) => `+axeResults+`)(w, d)`), &vs, awaitPromise))
	return vs
}

// axeTop runs axe-core in the top document.
func (tb *tab) axeTop(src string) []axeViolation {
	tb.t.Helper()
	var ok bool
	tb.run(chromedp.Evaluate(src+"\n;typeof window.axe === \"object\"", &ok))
	if !ok {
		tb.t.Fatal("axe-core did not load in the page")
	}
	var vs []axeViolation
	tb.run(chromedp.Evaluate(`((W, D) => `+axeResults+`)(window, document)`, &vs, awaitPromise))
	return vs
}

// emulateMedia emulates media features, e.g. prefers-color-scheme: dark.
func emulateMedia(features map[string]string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var fs []*emulation.MediaFeature
		for k, v := range features {
			fs = append(fs, &emulation.MediaFeature{Name: k, Value: v})
		}
		return emulation.SetEmulatedMedia().WithFeatures(fs).Do(ctx)
	})
}

// openPreferences opens the preferences from the app's banner and waits until
// the dialog fills the frame and has focus.
func (tb *tab) openPreferences() {
	tb.t.Helper()
	tb.click("pc-customize")
	tb.waitFor("the preferences dialog", inFrame(`d.getElementById("pc-preferences") !== null &&
		getComputedStyle(f).height === innerHeight + "px" && d.activeElement.id === "pc-preferences"`))
}

// openPolicy opens the policy dialog from the app's banner.
func (tb *tab) openPolicy() {
	tb.t.Helper()
	tb.click("pc-policy")
	tb.waitFor("the policy dialog", inFrame(`d.getElementById("pc-policy-dialog") !== null &&
		getComputedStyle(f).height === innerHeight + "px" && d.activeElement.id === "pc-policy-dialog"`))
}

// a11yStates are the states the accessibility tests visit: the three of the
// consent frame, and the server's policy page.
var a11yStates = []struct {
	name  string
	frame bool
	open  func(tb *tab)
}{
	{"banner", true, func(tb *tab) {}},
	{"preferences", true, (*tab).openPreferences},
	{"policy-dialog", true, (*tab).openPolicy},
	// The preferences of a visitor who has chosen: with their consent id.
	{"preferences-chosen", true, func(tb *tab) {
		tb.click("pc-accept")
		tb.waitChoice()
		tb.eval(inFrame(`w.portalConsentShow("preferences")`), nil)
		tb.waitFor("the consent id in the preferences", inFrame(`d.getElementById("pc-consent-id") !== null &&
			d.activeElement.id === "pc-preferences"`))
	}},
	// The preferences with every category's cookie disclosure open.
	{"preferences-cookies", true, func(tb *tab) {
		tb.openPreferences()
		tb.eval(inFrame(`[...d.querySelectorAll("#pc-preferences details")].map(x => x.open = true).length`), nil)
		tb.waitFor("the disclosures open", inFrame(`d.querySelectorAll("details").length > 0 &&
			[...d.querySelectorAll("details .pc-cookie-list")].every(l => l.checkVisibility())`))
	}},
	{"policy-page", false, nil},
	// The banner with the Global Privacy Control notice shown (what the
	// loader does when the browser sends GPC; TestBrowserGlobalPrivacyControl
	// covers the signal itself).
	{"gpc-banner", true, func(tb *tab) {
		tb.eval(inFrame(`(d.getElementById("pc-gpc").hidden = false, true)`), nil)
	}},
	// The reload notice after a withdrawal (the host says scripts of the
	// withdrawn category ran; TestBrowserWithdrawal covers that for real).
	{"reload-notice", true, func(tb *tab) {
		tb.click("pc-accept")
		tb.waitChoice()
		tb.eval(inFrame(`(w.portalConsentHost.changed = () => true, w.portalConsentShow("preferences"))`), nil)
		tb.waitFor("the preferences", inFrame(`d.getElementById("pc-preferences") !== null`))
		tb.click("pc-switch-statistical")
		tb.click("pc-save")
		tb.waitFor("the reload notice", inFrame(`d.activeElement === d.getElementById("pc-reload")`))
	}},
}

// a11yVisit shows a state at the given viewport and colour scheme.
func a11yVisit(t *testing.T, width, height int64, scheme string, state string) (*tab, bool) {
	h := startHosts(t)
	tb := newTab(t)
	features := map[string]string{"prefers-color-scheme": scheme}
	tb.run(chromedp.EmulateViewport(width, height), emulateMedia(features))
	for _, s := range a11yStates {
		if s.name != state {
			continue
		}
		if !s.frame {
			tb.run(chromedp.Navigate(h.consent.URL + "/portals/mtran/policy"))
			tb.waitFor("the policy page", `document.querySelector(".pc-policy") !== null`)
			return tb, false
		}
		tb.run(chromedp.Navigate(h.portalURL("plain.html", "")))
		tb.waitBanner()
		tb.waitApp()
		s.open(tb)
		return tb, true
	}
	t.Fatalf("no state %q", state)
	return nil, false
}

// TestA11yAxe runs axe-core's WCAG 2.0/2.1/2.2 A and AA rules on every state,
// at 1200x800 and 375x740, light and dark: no violation.
func TestA11yAxe(t *testing.T) {
	src := axeSource(t)
	viewports := []struct {
		name          string
		width, height int64
	}{{"desktop-1200x800", 1200, 800}, {"mobile-375x740", 375, 740}}
	for _, s := range a11yStates {
		for _, vp := range viewports {
			for _, scheme := range []string{"light", "dark"} {
				t.Run(s.name+"/"+vp.name+"/"+scheme, func(t *testing.T) {
					tb, frame := a11yVisit(t, vp.width, vp.height, scheme, s.name)
					if scheme == "dark" {
						var dark bool
						tb.eval(`matchMedia("(prefers-color-scheme: dark)").matches`, &dark)
						if !dark {
							t.Fatal("prefers-color-scheme: dark is not emulated")
						}
					}
					var vs []axeViolation
					if frame {
						vs = tb.axeFrame(src)
					} else {
						vs = tb.axeTop(src)
					}
					for _, v := range vs {
						t.Errorf("axe violation: %v", v)
					}
					tb.noErrors()
				})
			}
		}
	}
}

// focusInFrame is a condition: focus is in the consent frame on the element
// with the given id.
func focusInFrame(id string) string {
	return inFrame(`document.activeElement === f && d.activeElement !== null && d.activeElement.id === ` + jsString(id))
}

// TestKeyboardBannerReachedFirst: from the top of the plain page (one link
// before the frame), Accept all has focus within four Tabs, and keeps it once
// the app has taken the banner over.
func TestKeyboardBannerReachedFirst(t *testing.T) {
	h := startHosts(t)
	tb := newTab(t)
	tb.run(chromedp.Navigate(h.portalURL("plain.html", "")))
	tb.waitBanner()
	reached := 0
	for i := 1; i <= 4 && reached == 0; i++ {
		tb.run(chromedp.KeyEvent(kb.Tab))
		// Focus entering the banner starts the app, whose takeover moves focus
		// back to the same button a moment later: look for a second.
		for deadline := time.Now().Add(time.Second); reached == 0 && time.Now().Before(deadline); {
			var ok bool
			tb.eval(`!!(`+focusInFrame("pc-accept")+`)`, &ok)
			if ok {
				reached = i
			} else {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	if reached == 0 {
		var where string
		tb.eval(`document.activeElement.tagName + "#" + document.activeElement.id + " / " + (`+inFrame(`d.activeElement && d.activeElement.id`)+`)`, &where)
		t.Fatalf("four Tabs did not reach Accept all in the banner (focus on %s)", where)
	}
	t.Logf("Accept all reached with %d Tabs", reached)
	tb.waitFor("the app, started by focus", inFrame(`w.portalConsentRunning === true`))
	tb.waitFor("focus kept on Accept all", focusInFrame("pc-accept"))
	tb.noErrors()
}

// TestKeyboardPreferencesTrapFocus: with the preferences open, ten Tabs and
// ten Shift+Tabs keep focus inside the dialog, and visit all its controls.
func TestKeyboardPreferencesTrapFocus(t *testing.T) {
	h := startHosts(t)
	tb := newTab(t)
	tb.run(chromedp.Navigate(h.portalURL("plain.html", "")))
	tb.waitBanner()
	tb.waitApp()
	tb.openPreferences()

	var controls int
	tb.eval(inFrame(`d.getElementById("pc-preferences").querySelectorAll("button:not([disabled]), input:not([disabled]), summary").length`), &controls)
	for _, dir := range []struct {
		name string
		opts []chromedp.KeyOption
	}{
		{"Tab", nil},
		{"Shift+Tab", []chromedp.KeyOption{chromedp.KeyModifiers(input.ModifierShift)}},
	} {
		seen := map[string]bool{}
		for i := 1; i <= 10; i++ {
			tb.run(chromedp.KeyEvent(kb.Tab, dir.opts...))
			var where struct {
				Inside bool
				ID     string
			}
			tb.eval(inFrame(`({Inside: document.activeElement === f && d.getElementById("pc-preferences").contains(d.activeElement),
				ID: d.activeElement ? d.activeElement.id || d.activeElement.tagName : ""})`), &where)
			if !where.Inside {
				t.Fatalf("%s #%d: focus left the preferences dialog (on %q)", dir.name, i, where.ID)
			}
			seen[where.ID] = true
		}
		if len(seen) < controls {
			t.Errorf("%s visited %d of the dialog's %d controls: %v", dir.name, len(seen), controls, seen)
		}
	}
	tb.noErrors()
}

// TestKeyboardSwitchToggles: Space toggles the focused statistical switch.
func TestKeyboardSwitchToggles(t *testing.T) {
	h := startHosts(t)
	tb := newTab(t)
	tb.run(chromedp.Navigate(h.portalURL("plain.html", "")))
	tb.waitBanner()
	tb.waitApp()
	tb.openPreferences()
	// Tab to the switch, as a keyboard visitor does.
	for i := 0; i < 6; i++ {
		var ok bool
		tb.eval(`!!(`+focusInFrame("pc-switch-statistical")+`)`, &ok)
		if ok {
			break
		}
		tb.run(chromedp.KeyEvent(kb.Tab))
	}
	tb.waitFor("focus on the statistical switch", focusInFrame("pc-switch-statistical"))
	for _, want := range []bool{true, false} {
		tb.run(chromedp.KeyEvent(" "))
		tb.waitFor(fmt.Sprintf("the switch to be %v after Space", want),
			inFrame(`d.getElementById("pc-switch-statistical").checked === `+fmt.Sprint(want)))
	}
	// The draft follows the switch: Space, then Save, stores statistical=1.
	tb.run(chromedp.KeyEvent(" "))
	tb.waitFor("the switch on", inFrame(`d.getElementById("pc-switch-statistical").checked`))
	tb.click("pc-save")
	if c := tb.waitConsent(); !c.Accepted("statistical") {
		t.Errorf("Space then Save stored %q", c.Encode())
	}
	tb.noErrors()
}

// TestKeyboardEscapeClosesPreferences: Escape closes the preferences opened
// from the app's banner, and focus returns to Customize.
func TestKeyboardEscapeClosesPreferences(t *testing.T) {
	h := startHosts(t)
	tb := newTab(t)
	tb.run(chromedp.Navigate(h.portalURL("plain.html", "")))
	tb.waitBanner()
	tb.waitApp()
	tb.openPreferences()
	tb.run(chromedp.KeyEvent(kb.Tab)) // focus on a control inside, not on the dialog
	tb.run(chromedp.KeyEvent(kb.Escape))
	tb.waitFor("the preferences to close", inFrame(`d.getElementById("pc-preferences") === null`))
	tb.waitFor("focus back on Customize", focusInFrame("pc-customize"))
	if m := tb.mode(); m != "banner" {
		t.Errorf("after Escape the app shows %q, want the banner", m)
	}
	if tb.cookie() != "" {
		t.Errorf("Escape stored a choice: %q", tb.cookie())
	}
	tb.noErrors()
}

// TestReducedMotion: with prefers-reduced-motion: reduce the switch's knob
// does not animate (and does without it).
func TestReducedMotion(t *testing.T) {
	for _, tc := range []struct {
		motion, want string
	}{{"reduce", "0s"}, {"no-preference", "0.15s"}} {
		t.Run(tc.motion, func(t *testing.T) {
			h := startHosts(t)
			tb := newTab(t)
			tb.run(emulateMedia(map[string]string{"prefers-reduced-motion": tc.motion}))
			tb.run(chromedp.Navigate(h.portalURL("plain.html", "")))
			tb.waitBanner()
			tb.waitApp()
			tb.openPreferences()
			var got string
			tb.eval(inFrame(`getComputedStyle(d.getElementById("pc-switch-statistical"), "::after").transitionDuration`), &got)
			if got != tc.want {
				t.Errorf("prefers-reduced-motion: %s: .pc-switch::after transition-duration = %q, want %q", tc.motion, got, tc.want)
			}
			tb.noErrors()
		})
	}
}

// TestNarrowViewport: at 320 CSS pixels wide (200% zoom of 640 px), the
// frame's document does not scroll sideways, neither does a dialog, and no
// button clips its text, in the banner and in both dialogs.
func TestNarrowViewport(t *testing.T) {
	for _, state := range []string{"banner", "preferences", "preferences-chosen", "preferences-cookies", "policy-dialog"} {
		t.Run(state, func(t *testing.T) {
			tb, _ := a11yVisit(t, 320, 640, "light", state)
			var m struct {
				ScrollWidth, ClientWidth float64
				Clipped, Dialogs         []string
			}
			tb.eval(inFrame(`({ScrollWidth: d.documentElement.scrollWidth, ClientWidth: d.documentElement.clientWidth,
				Clipped: [...d.querySelectorAll("button")].filter(b => b.scrollWidth > b.clientWidth || b.scrollHeight > b.clientHeight + 1)
					.map(b => b.id + ": " + b.scrollWidth + "x" + b.scrollHeight + " in " + b.clientWidth + "x" + b.clientHeight),
				Dialogs: [...d.querySelectorAll(".pc-dialog")].filter(g => g.scrollWidth > g.clientWidth)
					.map(g => g.id + ": " + g.scrollWidth + " > " + g.clientWidth)})`), &m)
			if m.ScrollWidth > m.ClientWidth {
				t.Errorf("the frame's document scrolls sideways: scrollWidth %v > clientWidth %v", m.ScrollWidth, m.ClientWidth)
			}
			for _, c := range m.Clipped {
				t.Errorf("button clips its text: %s", c)
			}
			for _, g := range m.Dialogs {
				t.Errorf("dialog scrolls sideways: %s", g)
			}
			tb.noErrors()
		})
	}
	// The policy page: only the cookie tables' own regions may scroll sideways.
	t.Run("policy-page", func(t *testing.T) {
		tb, _ := a11yVisit(t, 320, 640, "light", "policy-page")
		var sw, cw float64
		tb.eval(`document.documentElement.scrollWidth`, &sw)
		tb.eval(`document.documentElement.clientWidth`, &cw)
		if sw > cw {
			t.Errorf("the policy page scrolls sideways: scrollWidth %v > clientWidth %v", sw, cw)
		}
	})
}
