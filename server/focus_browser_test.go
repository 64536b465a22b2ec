package server

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
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
