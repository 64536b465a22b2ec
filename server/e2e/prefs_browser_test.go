package e2e

// Browser tests of the preferences and the policy dialog shown before the
// app runs (issue 23, item 2): the server renders them (dialogs.json), the
// loader shows them at once from prefs.js in the banner's shadow root, a
// choice saved there is stored as an early Accept is, and the app takes
// them over, switches and focus kept, when the wasm arrives. The wasm is
// held back by the test (harness.Hosts.HoldWasm) until it releases it.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/harness"
)

// serverDialog is a condition: the dialog with the given id is the server's
// (in the banner's shadow root: the app has not taken over), over the
// viewport (the element at its centre is in it, and the overlay covers the
// viewport), with focus inside it, and its first switch (when it has one)
// enabled.
func serverDialog(id string) string {
	return harness.InFrame(`(() => { const e = d.getElementById(` + harness.JSString(id) + `); if (f.tagName !== "HOST" || !e) return false;
		const r = e.getBoundingClientRect(), o = e.closest(".pc-overlay").getBoundingClientRect(), s = e.querySelector(".pc-switch:not([disabled])");
		return r.height > 100 && document.activeElement === f.host && e.contains(d.activeElement) &&
			o.width >= innerWidth - 1 && o.height >= innerHeight - 1 &&
			e.contains(d.elementFromPoint(r.left + r.width / 2, r.top + Math.min(r.height, innerHeight) / 2)) &&
			(!e.querySelector(".pc-switch") || !!s); })()`)
}

// appTookOver is a condition: the app runs, its frame is shown and the
// server's banner (and dialog) is gone.
const appTookOver = `(() => { const f = document.querySelector("iframe[data-portal-consent]");
	return !document.querySelector("div[data-portal-consent]") && !!f && f.contentWindow.portalConsentRunning === true &&
		getComputedStyle(f).visibility === "visible"; })()`

// gatedConsent waits for the gated portal's choice to be stored and
// acknowledged, and returns it.
func (tb *tab) gatedConsent() policy.Consent {
	tb.T.Helper()
	tb.WaitChoice()
	tb.WaitAcknowledged()
	c, err := policy.Current(tb.Cookie(), gatedPolicy, time.Now())
	if err != nil {
		tb.T.Fatalf("stored cookie %q: %v", tb.Cookie(), err)
	}
	return c
}

// checked returns whether the switch of category cat is on, in the server's
// dialog or the app's.
func (tb *tab) checked(cat string) bool {
	tb.T.Helper()
	var on bool
	tb.Eval(`!!`+harness.InFrame(`d.getElementById("pc-switch-`+cat+`").checked`), &on)
	return on
}

// TestBrowserPhoneCustomizeWithoutTheApp: on a phone with the wasm held
// back, a tap on Customize shows the server's preferences at once; a tap
// turns a switch on, Save stores the choice (method custom) as an early
// Accept is stored: the cookie, the receipt, the gated scripts of the
// accepted category only; the app is never started, even once the wasm
// could come.
func TestBrowserPhoneCustomizeWithoutTheApp(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	release := h.HoldWasm()
	defer release()
	tb := newTab(t)
	tb.Phone(390, 844)
	wire := tb.Wire()
	tb.Run(chromedp.Navigate(h.PortalURL("gated.html", "portal=gated")))
	tb.WaitBanner()
	tb.tap("pc-customize")
	tb.WaitFor("the server's preferences", serverDialog("pc-preferences"))
	if tb.checked("statistical") || tb.checked("marketing") {
		t.Fatal("optional switches are on before the visitor turned them")
	}
	tb.tap("pc-switch-statistical")
	tb.WaitFor("the statistics switch on", harness.InFrame(`d.getElementById("pc-switch-statistical").checked`))
	if tb.checked("marketing") {
		t.Error("tapping the statistics switch turned marketing on")
	}
	tb.tap("pc-save")
	c := tb.gatedConsent()
	if !c.Accepted("statistical") || c.Accepted("marketing") {
		t.Errorf("Save stored %q, want statistics only", c.Encode())
	}
	posts := h.ReceiptPosts()
	if len(posts) != 1 || !strings.Contains(string(posts[0].Body), `"method":"custom"`) {
		t.Errorf("receipts posted: %d, want one custom (%s)", len(posts), posts)
	}
	tb.WaitFor("the statistics scripts", `(window.gatedLog || []).includes("module")`)
	if s := tb.gated(); has(s.Log, "marketing") {
		t.Errorf("the marketing script ran: %q", s.Log)
	}
	// Nothing is shown any more, and the app never starts.
	release()
	time.Sleep(700 * time.Millisecond)
	var left bool
	tb.Eval(`!!document.querySelector("[data-portal-consent]")`, &left)
	if left {
		t.Error("the banner or the frame is still on the page after the choice")
	}
	if n := h.WasmServed(); n != 0 {
		t.Errorf("%d wasm responses served after a choice made without the app", n)
	}
	for _, u := range wire.Finished("") {
		if strings.Contains(u, ".wasm") {
			t.Errorf("the page downloaded %s", u)
		}
	}
	tb.NoErrors()
}

// TestBrowserAppTakesOverTheServerPreferences: on a phone with the wasm held
// back, the visitor opens Customize, turns the statistics switch on and
// leaves focus on it; when the wasm is released the app takes over (its
// frame shown, the server's banner gone) with the switch still on and focus
// on the app's switch with the same id; Save in the app stores it.
func TestBrowserAppTakesOverTheServerPreferences(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	release := h.HoldWasm()
	defer release()
	tb := newTab(t)
	tb.Phone(390, 844)
	tb.Run(chromedp.Navigate(h.PortalURL("gated.html", "portal=gated")))
	tb.WaitBanner()
	tb.tap("pc-customize")
	tb.WaitFor("the server's preferences", serverDialog("pc-preferences"))
	tb.tap("pc-switch-statistical")
	tb.WaitFor("the statistics switch on", harness.InFrame(`d.getElementById("pc-switch-statistical").checked`))
	tb.Eval(harness.InFrame(`(d.getElementById("pc-switch-statistical").focus(), 0)`), nil)
	release()
	tb.WaitFor("the app's takeover", appTookOver)
	tb.WaitFor("the app's preferences", harness.InFrame(`w.portalConsentRunning === true && d.getElementById("pc-preferences") !== null`))
	if !tb.checked("statistical") || tb.checked("marketing") {
		t.Errorf("after the takeover statistics on: %v, marketing on: %v; want on, off", tb.checked("statistical"), tb.checked("marketing"))
	}
	// Focus: the page's active element is the frame, the frame's is the
	// app's switch (after the app's own deferred focus had its chance).
	time.Sleep(300 * time.Millisecond)
	var chain string
	tb.Eval(`(() => { const f = document.activeElement; return f.tagName + ">" + (f.contentDocument ? f.contentDocument.activeElement.id : ""); })()`, &chain)
	if chain != "IFRAME>pc-switch-statistical" {
		t.Errorf("focus after the takeover: %s, want IFRAME>pc-switch-statistical", chain)
	}
	tb.tap("pc-save")
	c := tb.gatedConsent()
	if !c.Accepted("statistical") || c.Accepted("marketing") {
		t.Errorf("Save in the app stored %q, want statistics only", c.Encode())
	}
	posts := h.ReceiptPosts()
	if len(posts) != 1 || !strings.Contains(string(posts[0].Body), `"method":"custom"`) {
		t.Errorf("receipts posted: %d, want one custom (%s)", len(posts), posts)
	}
	tb.NoErrors()
}

// TestBrowserPolicyWithoutTheApp: with the wasm held back, the policy link
// opens the server's policy dialog at once; Escape closes it (focus back on
// the link, the banner still there); its Manage cookies opens the server's
// preferences, where Tab stays in the dialog, Space turns a switch, and
// Close returns to the banner without a choice; Reject all of the
// preferences stores a refusal (method reject-all) without the app.
func TestBrowserPolicyWithoutTheApp(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	release := h.HoldWasm()
	defer release()
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("gated.html", "portal=gated")))
	tb.WaitBanner()
	tb.Click("pc-policy")
	tb.WaitFor("the server's policy dialog", serverDialog("pc-policy-dialog"))
	tb.Run(chromedp.KeyEvent(kb.Escape))
	tb.WaitFor("the policy dialog closed, focus on its link", harness.InFrame(`f.tagName === "HOST" && !d.getElementById("pc-policy-dialog") &&
		d.activeElement && d.activeElement.id === "pc-policy" && d.querySelector(".pc-root").getAttribute("data-pc-mode") === "banner"`))

	tb.Click("pc-policy")
	tb.WaitFor("the server's policy dialog again", serverDialog("pc-policy-dialog"))
	tb.Eval(harness.InFrame(`(d.getElementById("pc-manage").scrollIntoView({block: "center"}), 0)`), nil)
	tb.Click("pc-manage")
	tb.WaitFor("the server's preferences from the policy", serverDialog("pc-preferences"))
	// Tab cycles inside the dialog: from the last control to the first.
	var ids []string
	for i := 0; i < 30; i++ {
		tb.Run(chromedp.KeyEvent(kb.Tab))
		var id string
		tb.Eval(harness.InFrame(`d.activeElement && d.getElementById("pc-preferences").contains(d.activeElement) ? d.activeElement.id || d.activeElement.tagName : "outside"`), &id)
		ids = append(ids, id)
		if id == "outside" {
			t.Fatalf("Tab left the dialog: %q", ids)
		}
		if id == "pc-switch-statistical" {
			break
		}
	}
	tb.Run(chromedp.KeyEvent(" "))
	tb.WaitFor("Space turned the switch on", harness.InFrame(`d.getElementById("pc-switch-statistical").checked`))
	// Shift+Tab from the first control goes to the last.
	tb.Eval(harness.InFrame(`(d.getElementById("pc-close").focus(), 0)`), nil)
	tb.Run(chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(input.ModifierShift)))
	var last string
	tb.Eval(harness.InFrame(`(() => { const all = d.getElementById("pc-preferences").querySelectorAll('button:not([disabled]), input:not([disabled]), a[href], summary, [tabindex]:not([tabindex="-1"])');
		return d.activeElement === all[all.length - 1] ? "last" : (d.activeElement.id || d.activeElement.tagName); })()`), &last)
	if last != "last" {
		t.Errorf("Shift+Tab on Close went to %q, want the dialog's last control", last)
	}
	tb.Click("pc-close")
	tb.WaitFor("the banner back, focus on the policy link", harness.InFrame(`f.tagName === "HOST" && !d.getElementById("pc-preferences") &&
		d.activeElement && d.activeElement.id === "pc-policy"`))
	var start string
	tb.Eval(`document.querySelector("iframe[data-portal-consent]").contentWindow.portalConsentConfig.start`, &start)
	if start != "" {
		t.Errorf("after Close the app would start on %q, want the banner", start)
	}

	tb.Click("pc-customize")
	tb.WaitFor("the server's preferences", serverDialog("pc-preferences"))
	if tb.checked("statistical") {
		t.Error("a switch turned in preferences closed without saving is still on")
	}
	tb.Click("pc-prefs-reject")
	c := tb.gatedConsent()
	if c.Accepted("statistical") || c.Accepted("marketing") {
		t.Errorf("Reject all stored %q", c.Encode())
	}
	posts := h.ReceiptPosts()
	if len(posts) != 1 || !strings.Contains(string(posts[0].Body), `"method":"reject-all"`) {
		t.Errorf("receipts posted: %d, want one reject-all (%s)", len(posts), posts)
	}
	if n := h.WasmServed(); n != 0 {
		t.Errorf("%d wasm responses served", n)
	}
	tb.NoErrors()
}

// TestA11yServerDialogs runs axe-core's WCAG A and AA rules on the page with
// the server's preferences, then its policy dialog, open before the app
// runs (the wasm held back), on a desktop and a phone: no violation.
func TestA11yServerDialogs(t *testing.T) {
	src := harness.AxeSource(t)
	for _, phone := range []bool{false, true} {
		for _, view := range []struct{ button, dialog string }{{"pc-customize", "pc-preferences"}, {"pc-policy", "pc-policy-dialog"}} {
			t.Run(fmt.Sprintf("%s/phone=%v", view.dialog, phone), func(t *testing.T) {
				h := harness.StartHosts(t)
				release := h.HoldWasm()
				defer release()
				tb := newTab(t)
				if phone {
					tb.Phone(390, 844)
				}
				// A page made for phones (width=device-width).
				tb.Run(chromedp.Navigate(h.PortalURL("bench.html", "banner=ours")))
				tb.WaitBanner()
				if phone {
					tb.tap(view.button)
				} else {
					tb.Click(view.button)
				}
				tb.WaitFor("the server's dialog", serverDialog(view.dialog))
				for _, v := range tb.AxeTop(src) {
					t.Errorf("axe violation: %v", v)
				}
				tb.NoErrors()
			})
		}
	}
}
