package server

import (
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/portalconsent/portalconsent/policy"
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
	h := startHosts(t, gatedPolicy)
	tb := newTab(t)
	tb.acceptAll(h.portalURL("hostile.html", "portal=gated&gated"))
	tb.waitFor("the frame gone", `!document.querySelector("iframe[data-portal-consent]")`)
	tb.run(chromedp.Reload())
	tb.waitReturning()

	const linkFocused = `document.activeElement === document.getElementById("manage") &&
		getComputedStyle(document.querySelector("iframe[data-portal-consent]")).visibility === "hidden"`
	for i := 0; i < 6; i++ {
		tb.clickPage("#manage")
		tb.waitDialog("pc-preferences")
		tb.run(chromedp.KeyEvent(kb.Escape))
		tb.waitFor("focus back on the link (mouse)", linkFocused)
	}
	for i := 0; i < 4; i++ {
		// The app's focus landing first: as soon as the loader has asked the
		// app for the dialog, an element in the (still hidden) frame takes
		// focus, which makes the frame the portal's activeElement before the
		// loader's observer sees the dialog.
		tb.eval(inFrame(`(() => {
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
		tb.waitDialog("pc-preferences")
		var first bool
		tb.eval(inFrame(`w.focusFirst`), &first)
		if !first {
			t.Fatalf("round %d: focus did not land in the frame before the dialog showed: the race is not reproduced", i)
		}
		tb.run(chromedp.KeyEvent(kb.Escape))
		tb.waitFor("focus back on the link (focus in the frame first)", linkFocused)
	}
	tb.noErrors()
}

// TestBrowserPressOutlivesItsButton: a press that starts on the server's
// banner button and is released after that button was replaced (the app's
// first render landing between the press and the release) still clicks: the
// loader clicks the button that now has the same id. The wasm is held back so
// that the test, not the app, replaces the button, at a known moment.
func TestBrowserPressOutlivesItsButton(t *testing.T) {
	h := startHosts(t, gatedPolicy)
	release := h.holdWasm()
	defer release()
	tb := newTab(t)
	tb.run(chromedp.Navigate(h.portalURL("gated.html", "portal=gated")))
	tb.waitBanner()
	var xy []float64
	tb.eval(inFrame(`(() => { const r = f.getBoundingClientRect(), b = d.getElementById("pc-accept").getBoundingClientRect();
		return [r.left + b.left + b.width / 2, r.top + b.top + b.height / 2]; })()`), &xy)
	if len(xy) != 2 {
		t.Fatal("no Accept all button")
	}
	tb.run(chromedp.MouseEvent(input.MouseMoved, xy[0], xy[1]),
		chromedp.MouseEvent(input.MousePressed, xy[0], xy[1], chromedp.ButtonLeft, chromedp.ClickCount(1)))
	tb.eval(inFrame(`(() => { const b = d.getElementById("pc-accept"); b.replaceWith(b.cloneNode(true)); return true; })()`), nil)
	tb.run(chromedp.MouseEvent(input.MouseReleased, xy[0], xy[1], chromedp.ButtonLeft, chromedp.ClickCount(1)))
	tb.waitChoice()
	c, err := policy.Current(tb.cookie(), gatedPolicy, time.Now())
	if err != nil || !c.Accepted("statistical") {
		t.Errorf("stored %q (%v), want Accept all", tb.cookie(), err)
	}
	tb.noErrors()
}
