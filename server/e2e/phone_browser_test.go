package e2e

// Browser tests on an emulated phone (390×844 CSS pixels, device scale
// factor 3, touch, a mobile user agent): on a portal page wider than the
// screen the layout viewport is wider than the visual one, and the banner and
// its dialogs must stay in the visual viewport, through sideways scrolling
// and pinch-zoom.

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/policyfiles"
)

// inVisualViewport is a condition: the consent frame (or the server
// banner's host, a zero-height line) spans the visual viewport's width,
// flush with its bottom, and the element sel in it is laid out with its whole
// box within the visual viewport.
func inVisualViewport(sel string) string {
	return harness.InFrame(`(() => { const e = d.querySelector(` + harness.JSString(sel) + `); if (!e || getComputedStyle(f).visibility !== "visible") return false;
		const host = f.tagName === "HOST", fr = (host ? f.host : f).getBoundingClientRect(), r = e.getBoundingClientRect(), v = visualViewport;
		const L = (host ? 0 : fr.left) + r.left, T = (host ? 0 : fr.top) + r.top, near = (a, b) => Math.abs(a - b) <= 1;
		return near(fr.left, v.offsetLeft) && near(fr.width, v.width) && near(fr.bottom, v.offsetTop + v.height) &&
			r.width > 100 && r.height > 40 && L >= v.offsetLeft - 1 && T >= v.offsetTop - 1 &&
			L + r.width <= v.offsetLeft + v.width + 1 && T + r.height <= v.offsetTop + v.height + 1; })()`)
}

// tap taps, with a touch, the centre of the element with the given id in the
// consent frame. Touch points are in CSS pixels of the visual viewport.
func (tb *tab) tap(id string) {
	tb.T.Helper()
	var xy []float64
	tb.Eval(harness.InFrame(`(() => { const e = d.getElementById(`+harness.JSString(id)+`); if (!e) return null;
		const fr = f.getBoundingClientRect(), r = e.getBoundingClientRect(), v = visualViewport;
		return [(fr.left + r.left + r.width / 2 - v.offsetLeft) * v.scale, (fr.top + r.top + r.height / 2 - v.offsetTop) * v.scale]; })()`), &xy)
	if len(xy) != 2 {
		tb.T.Fatalf("no element #%s in the consent frame to tap", id)
	}
	tb.Run(chromedp.ActionFunc(func(ctx context.Context) error {
		if err := input.DispatchTouchEvent(input.TouchStart, []*input.TouchPoint{{X: xy[0], Y: xy[1]}}).Do(ctx); err != nil {
			return err
		}
		return input.DispatchTouchEvent(input.TouchEnd, []*input.TouchPoint{}).Do(ctx)
	}))
}

// viewports returns the layout viewport (which position: fixed follows),
// the page's width and the visual viewport.
func (tb *tab) viewports() string {
	var s string
	tb.Eval(`JSON.stringify({layout: [innerWidth, innerHeight], page: document.documentElement.scrollWidth,
		visual: [visualViewport.offsetLeft, visualViewport.offsetTop, visualViewport.width, visualViewport.height, visualViewport.scale]})`, &s)
	return s
}

// TestBrowserPhoneWidePage: on a phone, a page wider than the screen keeps
// the banner, the preferences and the policy dialog in the visual viewport,
// also pinch-zoomed; a tap on Accept stores the choice. (Headless Chromium
// does not pan the visual viewport with synthesized touch scrolls or
// pinches, nor with a script's scrollTo, which scrolls the layout viewport:
// the visual viewport's offset stays 0 here, and the zoom comes from
// Emulation.setPageScaleFactor.)
func TestBrowserPhoneWidePage(t *testing.T) {
	h := harness.StartHosts(t)
	tb := newTab(t)
	tb.Phone(390, 844)
	tb.Run(chromedp.Navigate(h.PortalURL("wide.html", "")))
	tb.WaitBanner()
	// The page is wider than the screen: the layout viewport is too.
	var wide bool
	tb.Eval(`innerWidth > visualViewport.width + 100 && navigator.maxTouchPoints > 0`, &wide)
	if !wide {
		t.Fatalf("the fixture does not widen the layout viewport on a touch phone: %s", tb.viewports())
	}
	tb.WaitFor("the banner in the visual viewport "+tb.viewports(), inVisualViewport(".pc-banner"))

	// The dialogs, opened with a tap.
	for _, d := range []struct{ button, dialog string }{{"pc-customize", "#pc-preferences"}, {"pc-policy", "#pc-policy-dialog"}} {
		tb.tap(d.button)
		tb.WaitFor(d.dialog+" in the visual viewport "+tb.viewports(), inVisualViewport(d.dialog))
		tb.Run(chromedp.KeyEvent(kb.Escape))
		tb.WaitFor("the dialog to close", harness.InFrame(`d.querySelector(`+harness.JSString(d.dialog)+`) === null && d.querySelector(".pc-root").getAttribute("data-pc-mode") === "banner"`))
		tb.WaitFor("the banner in the visual viewport again", inVisualViewport(".pc-banner"))
	}

	// Pinch-zoomed, then moved: the banner stays in the visual viewport.
	for _, zoom := range []float64{2, 1.5} {
		tb.Run(emulation.SetPageScaleFactor(zoom))
		tb.WaitFor(fmt.Sprintf("a page scale of %v", zoom), fmt.Sprintf(`Math.abs(visualViewport.scale - %v) < 0.01`, zoom))
		tb.WaitFor(fmt.Sprintf("the banner in the visual viewport at %v× %s", zoom, tb.viewports()), inVisualViewport(".pc-banner"))
	}

	// Back to scale 1, a tap on Accept stores the choice.
	tb.Run(emulation.SetPageScaleFactor(1))
	tb.WaitFor("a page scale of 1", `visualViewport.scale === 1`)
	tb.WaitFor("the banner in the visual viewport at 1×", inVisualViewport(".pc-banner"))
	tb.tap("pc-accept")
	c := tb.WaitConsent()
	if !c.Accepted(policy.Statistical) {
		t.Errorf("a tap on Accept all stored %q", c.Encode())
	}
	tb.NoErrors()
}

// TestBrowserPhoneDemoPages: at 320 CSS pixels, on a phone, no demo page
// scrolls sideways.
func TestBrowserPhoneDemoPages(t *testing.T) {
	ps, err := policyfiles.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	var example *policy.Policy
	for _, p := range policyfiles.Policies(ps) {
		if p.ID == "example" {
			example = p
		}
	}
	h := harness.StartHosts(t, example)
	tb := newTab(t)
	tb.Phone(320, 640)
	for _, id := range []string{"mtran", "twisto", "example"} {
		tb.Run(chromedp.Navigate(h.Consent.URL + "/demo/" + id))
		tb.WaitBanner()
		var s struct{ Scroll, Client, Inner float64 }
		tb.Eval(`({Scroll: document.documentElement.scrollWidth, Client: document.documentElement.clientWidth, Inner: innerWidth})`, &s)
		if s.Scroll > 320 || s.Client != 320 || s.Inner != 320 {
			t.Errorf("/demo/%s at 320 px: %v CSS px wide (client %v, window %v), want no sideways scroll", id, s.Scroll, s.Client, s.Inner)
		}
	}
	tb.NoErrors()
}
