package e2e

// Accessibility, measured: axe-core (installed from npm by `make test` into
// server/.tools/) runs in the consent frame in every state the visitor can reach, and
// on the server's cookie-policy page, at desktop and mobile widths, in light
// and dark; keyboard flows, reduced motion and a 320 px wide viewport (200%
// zoom at 640 px) are checked with the real keyboard.

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/portalconsent/portalconsent/server/harness"
)

// a11yStates are the states the accessibility tests visit: the three of the
// consent frame, and the server's policy page.
var a11yStates = []struct {
	name  string
	frame bool
	open  func(tb *tab)
}{
	{"banner", true, func(tb *tab) {}},
	{"preferences", true, (*tab).OpenPreferences},
	{"policy-dialog", true, (*tab).OpenPolicy},
	// The preferences of a visitor who has chosen: with their consent id.
	{"preferences-chosen", true, func(tb *tab) {
		tb.Click("pc-accept")
		tb.WaitChoice()
		tb.Eval(harness.InFrame(`w.portalConsentShow("preferences")`), nil)
		tb.WaitFor("the consent id in the preferences", harness.InFrame(`d.getElementById("pc-consent-id") !== null &&
			d.activeElement.id === "pc-preferences"`))
	}},
	// The preferences with every category's cookie disclosure open.
	{"preferences-cookies", true, func(tb *tab) {
		tb.OpenPreferences()
		tb.Eval(harness.InFrame(`[...d.querySelectorAll("#pc-preferences details")].map(x => x.open = true).length`), nil)
		tb.WaitFor("the disclosures open", harness.InFrame(`d.querySelectorAll("details").length > 0 &&
			[...d.querySelectorAll("details .pc-cookie-list")].every(l => l.checkVisibility())`))
	}},
	{"policy-page", false, nil},
	// The banner with the Global Privacy Control notice shown (what the
	// loader does when the browser sends GPC; TestBrowserGlobalPrivacyControl
	// covers the signal itself).
	{"gpc-banner", true, func(tb *tab) {
		tb.Eval(harness.InFrame(`(d.getElementById("pc-gpc").hidden = false, true)`), nil)
	}},
	// The reload notice after a withdrawal (the host says scripts of the
	// withdrawn category ran; TestBrowserWithdrawal covers that for real).
	{"reload-notice", true, func(tb *tab) {
		tb.Click("pc-accept")
		tb.WaitChoice()
		tb.Eval(harness.InFrame(`(w.portalConsentHost.changed = () => true, w.portalConsentShow("preferences"))`), nil)
		tb.WaitFor("the preferences", harness.InFrame(`d.getElementById("pc-preferences") !== null`))
		tb.Click("pc-switch-statistical")
		tb.Click("pc-save")
		tb.WaitFor("the reload notice", harness.InFrame(`d.activeElement === d.getElementById("pc-reload")`))
	}},
}

// a11yVisit shows a state at the given viewport and colour scheme.
func a11yVisit(t *testing.T, width, height int64, scheme string, state string) (*tab, bool) {
	h := harness.StartHosts(t)
	tb := newTab(t)
	features := map[string]string{"prefers-color-scheme": scheme}
	tb.Run(chromedp.EmulateViewport(width, height), harness.EmulateMedia(features))
	for _, s := range a11yStates {
		if s.name != state {
			continue
		}
		if !s.frame {
			tb.Run(chromedp.Navigate(h.Consent.URL + "/portals/mtran/policy"))
			tb.WaitFor("the policy page", `document.querySelector(".pc-policy") !== null`)
			return tb, false
		}
		tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "")))
		tb.WaitBanner()
		tb.WaitApp()
		s.open(tb)
		return tb, true
	}
	t.Fatalf("no state %q", state)
	return nil, false
}

// TestA11yAxe runs axe-core's WCAG 2.0/2.1/2.2 A and AA rules on every state,
// at 1200x800 and 375x740, light and dark: no violation.
func TestA11yAxe(t *testing.T) {
	src := harness.AxeSource(t)
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
						tb.Eval(`matchMedia("(prefers-color-scheme: dark)").matches`, &dark)
						if !dark {
							t.Fatal("prefers-color-scheme: dark is not emulated")
						}
					}
					var vs []harness.AxeViolation
					if frame {
						vs = tb.AxeFrame(src)
					} else {
						vs = tb.AxeTop(src)
					}
					for _, v := range vs {
						t.Errorf("axe violation: %v", v)
					}
					tb.NoErrors()
				})
			}
		}
	}
}

// focusInFrame is a condition: focus is in the consent frame on the element
// with the given id.
func focusInFrame(id string) string {
	return harness.InFrame(`document.activeElement === f && d.activeElement !== null && d.activeElement.id === ` + harness.JSString(id))
}

// TestKeyboardBannerReachedFirst: from the top of the plain page (one link
// before the banner), Accept all on the server's banner has focus within four
// Tabs (focus on Accept all is no intent: the app is not fetched for it).
func TestKeyboardBannerReachedFirst(t *testing.T) {
	h := harness.StartHosts(t)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "")))
	tb.WaitBanner()
	onAccept := harness.InFrame(`document.activeElement === (f.tagName === "HOST" ? f.host : f) && d.activeElement !== null && d.activeElement.id === "pc-accept"`)
	reached := 0
	for i := 1; i <= 4 && reached == 0; i++ {
		tb.Run(chromedp.KeyEvent(kb.Tab))
		var ok bool
		tb.Eval(`!!(`+onAccept+`)`, &ok)
		if ok {
			reached = i
		}
	}
	if reached == 0 {
		var where string
		tb.Eval(`document.activeElement.tagName + "#" + document.activeElement.id + " / " + (`+harness.InFrame(`d.activeElement && d.activeElement.id`)+`)`, &where)
		t.Fatalf("four Tabs did not reach Accept all in the banner (focus on %s)", where)
	}
	t.Logf("Accept all reached with %d Tabs", reached)
	time.Sleep(500 * time.Millisecond)
	if n := h.WasmRequests(); n != 0 || tb.AppRunning() {
		t.Errorf("focus on Accept all fetched the wasm %d times (app running: %v)", n, tb.AppRunning())
	}
	tb.NoErrors()
}

// TestKeyboardPreferencesTrapFocus: with the preferences open, ten Tabs and
// ten Shift+Tabs keep focus inside the dialog, and visit all its controls.
func TestKeyboardPreferencesTrapFocus(t *testing.T) {
	h := harness.StartHosts(t)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "")))
	tb.WaitBanner()
	tb.WaitApp()
	tb.OpenPreferences()

	var controls int
	tb.Eval(harness.InFrame(`d.getElementById("pc-preferences").querySelectorAll("button:not([disabled]), input:not([disabled]), summary").length`), &controls)
	for _, dir := range []struct {
		name string
		opts []chromedp.KeyOption
	}{
		{"Tab", nil},
		{"Shift+Tab", []chromedp.KeyOption{chromedp.KeyModifiers(input.ModifierShift)}},
	} {
		seen := map[string]bool{}
		for i := 1; i <= 10; i++ {
			tb.Run(chromedp.KeyEvent(kb.Tab, dir.opts...))
			var where struct {
				Inside bool
				ID     string
			}
			tb.Eval(harness.InFrame(`({Inside: document.activeElement === f && d.getElementById("pc-preferences").contains(d.activeElement),
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
	tb.NoErrors()
}

// TestKeyboardSwitchToggles: Space toggles the focused statistical switch.
func TestKeyboardSwitchToggles(t *testing.T) {
	h := harness.StartHosts(t)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "")))
	tb.WaitBanner()
	tb.WaitApp()
	tb.OpenPreferences()
	// Tab to the switch, as a keyboard visitor does.
	for i := 0; i < 6; i++ {
		var ok bool
		tb.Eval(`!!(`+focusInFrame("pc-switch-statistical")+`)`, &ok)
		if ok {
			break
		}
		tb.Run(chromedp.KeyEvent(kb.Tab))
	}
	tb.WaitFor("focus on the statistical switch", focusInFrame("pc-switch-statistical"))
	for _, want := range []bool{true, false} {
		tb.Run(chromedp.KeyEvent(" "))
		tb.WaitFor(fmt.Sprintf("the switch to be %v after Space", want),
			harness.InFrame(`d.getElementById("pc-switch-statistical").checked === `+fmt.Sprint(want)))
	}
	// The draft follows the switch: Space, then Save, stores statistical=1.
	tb.Run(chromedp.KeyEvent(" "))
	tb.WaitFor("the switch on", harness.InFrame(`d.getElementById("pc-switch-statistical").checked`))
	tb.Click("pc-save")
	if c := tb.WaitConsent(); !c.Accepted("statistical") {
		t.Errorf("Space then Save stored %q", c.Encode())
	}
	tb.NoErrors()
}

// TestKeyboardEscapeClosesPreferences: Escape closes the preferences opened
// from the app's banner, and focus returns to Customize.
func TestKeyboardEscapeClosesPreferences(t *testing.T) {
	h := harness.StartHosts(t)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "")))
	tb.WaitBanner()
	tb.WaitApp()
	tb.OpenPreferences()
	tb.Run(chromedp.KeyEvent(kb.Tab)) // focus on a control inside, not on the dialog
	tb.Run(chromedp.KeyEvent(kb.Escape))
	tb.WaitFor("the preferences to close", harness.InFrame(`d.getElementById("pc-preferences") === null`))
	tb.WaitFor("focus back on Customize", focusInFrame("pc-customize"))
	if m := tb.Mode(); m != "banner" {
		t.Errorf("after Escape the app shows %q, want the banner", m)
	}
	if tb.Cookie() != "" {
		t.Errorf("Escape stored a choice: %q", tb.Cookie())
	}
	tb.NoErrors()
}

// TestReducedMotion: with prefers-reduced-motion: reduce the switch's knob
// does not animate (and does without it).
func TestReducedMotion(t *testing.T) {
	for _, tc := range []struct {
		motion, want string
	}{{"reduce", "0s"}, {"no-preference", "0.15s"}} {
		t.Run(tc.motion, func(t *testing.T) {
			h := harness.StartHosts(t)
			tb := newTab(t)
			tb.Run(harness.EmulateMedia(map[string]string{"prefers-reduced-motion": tc.motion}))
			tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "")))
			tb.WaitBanner()
			tb.WaitApp()
			tb.OpenPreferences()
			var got string
			tb.Eval(harness.InFrame(`getComputedStyle(d.getElementById("pc-switch-statistical"), "::after").transitionDuration`), &got)
			if got != tc.want {
				t.Errorf("prefers-reduced-motion: %s: .pc-switch::after transition-duration = %q, want %q", tc.motion, got, tc.want)
			}
			tb.NoErrors()
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
			tb.Eval(harness.InFrame(`({ScrollWidth: d.documentElement.scrollWidth, ClientWidth: d.documentElement.clientWidth,
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
			tb.NoErrors()
		})
	}
	// The policy page: only the cookie tables' own regions may scroll sideways.
	t.Run("policy-page", func(t *testing.T) {
		tb, _ := a11yVisit(t, 320, 640, "light", "policy-page")
		var sw, cw float64
		tb.Eval(`document.documentElement.scrollWidth`, &sw)
		tb.Eval(`document.documentElement.clientWidth`, &cw)
		if sw > cw {
			t.Errorf("the policy page scrolls sideways: scrollWidth %v > clientWidth %v", sw, cw)
		}
	})
}
