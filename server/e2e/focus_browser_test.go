package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/harness"
)

// TestBrowserManageFocusReturns opens and closes the preferences from the
// portal's Manage cookies link again and again in one page, and checks focus
// comes back to the link each time, never left on the hidden frame.
//
// The app moves focus into its dialog itself (a deferred focus) while the
// loader's MutationObserver sees the dialog show: whichever runs first used to
// decide whether the loader remembered the link (a focus that landed first
// made the portal's activeElement the frame, and the link was forgotten). The
// second loop makes the losing order certain: focus lands in the hidden frame
// before the loader's observer runs. Without the fix (the loader keeping the
// element the dialog was opened with), it fails with the CI failure's state:
// the frame hidden and the portal's activeElement the IFRAME.
func TestBrowserManageFocusReturns(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	tb := newTab(t)
	tb.AcceptAll(h.PortalURL("hostile.html", "portal=gated&gated"))
	tb.WaitFor("the frame gone", `!document.querySelector("iframe[data-portal-consent]")`)
	tb.Run(chromedp.Reload())
	tb.WaitReturning()

	const linkFocused = `document.activeElement === document.getElementById("manage") &&
		getComputedStyle(document.querySelector("iframe[data-portal-consent]")).visibility === "hidden"`
	for i := 0; i < 6; i++ {
		tb.ClickPage("#manage")
		tb.WaitDialog("pc-preferences")
		tb.Run(chromedp.KeyEvent(kb.Escape))
		tb.WaitFor("focus back on the link (mouse)", linkFocused)
	}
	for i := 0; i < 4; i++ {
		// The app's focus landing first: as soon as the loader has asked the
		// app for the dialog, an element in the (still hidden) frame takes
		// focus, which makes the frame the portal's activeElement before the
		// loader's observer sees the dialog.
		tb.Eval(harness.InFrame(`(() => {
			const show = w.portalConsentShow;
			w.portalConsentShow = (v) => {
				const r = show(v);
				w.portalConsentShow = show;
				const b = d.createElement("button");
				d.body.appendChild(b);
				b.focus();
				w.focusFirst = document.activeElement === f;
				b.remove();
				return r;
			};
			const m = document.getElementById("manage");
			m.focus();
			m.click();
			return true;
		})()`), nil)
		tb.WaitDialog("pc-preferences")
		var first bool
		tb.Eval(harness.InFrame(`w.focusFirst`), &first)
		if !first {
			t.Fatalf("round %d: focus did not land in the frame before the dialog showed: the race is not reproduced", i)
		}
		tb.Run(chromedp.KeyEvent(kb.Escape))
		tb.WaitFor("focus back on the link (focus in the frame first)", linkFocused)
	}
	tb.NoErrors()
}

// TestBrowserPressOutlivesItsButton: a press that starts on the server's
// banner button and is released after that button was replaced (the app's
// first render landing between the press and the release) still clicks: the
// loader clicks the button that now has the same id. The wasm is held back so
// that the test, not the app, replaces the button, at a known moment.
func TestBrowserPressOutlivesItsButton(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	release := h.HoldWasm()
	defer release()
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("gated.html", "portal=gated")))
	tb.WaitBanner()
	var xy []float64
	tb.Eval(harness.InFrame(`(() => { const r = f.getBoundingClientRect(), b = d.getElementById("pc-accept").getBoundingClientRect();
		return [r.left + b.left + b.width / 2, r.top + b.top + b.height / 2]; })()`), &xy)
	if len(xy) != 2 {
		t.Fatal("no Accept all button")
	}
	tb.Run(chromedp.MouseEvent(input.MouseMoved, xy[0], xy[1]),
		chromedp.MouseEvent(input.MousePressed, xy[0], xy[1], chromedp.ButtonLeft, chromedp.ClickCount(1)))
	tb.Eval(harness.InFrame(`(() => { const b = d.getElementById("pc-accept"); b.replaceWith(b.cloneNode(true)); return true; })()`), nil)
	tb.Run(chromedp.MouseEvent(input.MouseReleased, xy[0], xy[1], chromedp.ButtonLeft, chromedp.ClickCount(1)))
	tb.WaitChoice()
	c, err := policy.Current(tb.Cookie(), gatedPolicy, time.Now())
	if err != nil || !c.Accepted("statistical") {
		t.Errorf("stored %q (%v), want Accept all", tb.Cookie(), err)
	}
	tb.NoErrors()
}
