package server

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
	"github.com/portalconsent/portalconsent/server/store"
)

const phoneUA = "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Mobile Safari/537.36"

// phone makes the tab an emulated phone of w×h CSS pixels.
func (tb *tab) phone(w, h int64) {
	tb.t.Helper()
	tb.run(
		emulation.SetDeviceMetricsOverride(w, h, 3, true),
		emulation.SetTouchEmulationEnabled(true).WithMaxTouchPoints(5),
		emulation.SetUserAgentOverride(phoneUA).WithPlatform("Android"),
	)
}

// inVisualViewport is a condition: the consent frame (or the server
// banner's host, a zero-height line) spans the visual viewport's width,
// flush with its bottom, and the element sel in it is laid out with its whole
// box within the visual viewport.
func inVisualViewport(sel string) string {
	return inFrame(`(() => { const e = d.querySelector(` + jsString(sel) + `); if (!e || getComputedStyle(f).visibility !== "visible") return false;
		const host = f.tagName === "HOST", fr = (host ? f.host : f).getBoundingClientRect(), r = e.getBoundingClientRect(), v = visualViewport;
		const L = (host ? 0 : fr.left) + r.left, T = (host ? 0 : fr.top) + r.top, near = (a, b) => Math.abs(a - b) <= 1;
		return near(fr.left, v.offsetLeft) && near(fr.width, v.width) && near(fr.bottom, v.offsetTop + v.height) &&
			r.width > 100 && r.height > 40 && L >= v.offsetLeft - 1 && T >= v.offsetTop - 1 &&
			L + r.width <= v.offsetLeft + v.width + 1 && T + r.height <= v.offsetTop + v.height + 1; })()`)
}

// tap taps, with a touch, the centre of the element with the given id in the
// consent frame. Touch points are in CSS pixels of the visual viewport.
func (tb *tab) tap(id string) {
	tb.t.Helper()
	var xy []float64
	tb.eval(inFrame(`(() => { const e = d.getElementById(`+jsString(id)+`); if (!e) return null;
		const fr = f.getBoundingClientRect(), r = e.getBoundingClientRect(), v = visualViewport;
		return [(fr.left + r.left + r.width / 2 - v.offsetLeft) * v.scale, (fr.top + r.top + r.height / 2 - v.offsetTop) * v.scale]; })()`), &xy)
	if len(xy) != 2 {
		tb.t.Fatalf("no element #%s in the consent frame to tap", id)
	}
	tb.run(chromedp.ActionFunc(func(ctx context.Context) error {
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
	tb.eval(`JSON.stringify({layout: [innerWidth, innerHeight], page: document.documentElement.scrollWidth,
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
	h := startHosts(t)
	tb := newTab(t)
	tb.phone(390, 844)
	tb.run(chromedp.Navigate(h.portalURL("wide.html", "")))
	tb.waitBanner()
	// The page is wider than the screen: the layout viewport is too.
	var wide bool
	tb.eval(`innerWidth > visualViewport.width + 100 && navigator.maxTouchPoints > 0`, &wide)
	if !wide {
		t.Fatalf("the fixture does not widen the layout viewport on a touch phone: %s", tb.viewports())
	}
	tb.waitFor("the banner in the visual viewport "+tb.viewports(), inVisualViewport(".pc-banner"))

	// The dialogs, opened with a tap.
	for _, d := range []struct{ button, dialog string }{{"pc-customize", "#pc-preferences"}, {"pc-policy", "#pc-policy-dialog"}} {
		tb.tap(d.button)
		tb.waitFor(d.dialog+" in the visual viewport "+tb.viewports(), inVisualViewport(d.dialog))
		tb.run(chromedp.KeyEvent(kb.Escape))
		tb.waitFor("the dialog to close", inFrame(`d.querySelector(`+jsString(d.dialog)+`) === null && d.querySelector(".pc-root").getAttribute("data-pc-mode") === "banner"`))
		tb.waitFor("the banner in the visual viewport again", inVisualViewport(".pc-banner"))
	}

	// Pinch-zoomed, then moved: the banner stays in the visual viewport.
	for _, zoom := range []float64{2, 1.5} {
		tb.run(emulation.SetPageScaleFactor(zoom))
		tb.waitFor(fmt.Sprintf("a page scale of %v", zoom), fmt.Sprintf(`Math.abs(visualViewport.scale - %v) < 0.01`, zoom))
		tb.waitFor(fmt.Sprintf("the banner in the visual viewport at %v× %s", zoom, tb.viewports()), inVisualViewport(".pc-banner"))
	}

	// Back to scale 1, a tap on Accept stores the choice.
	tb.run(emulation.SetPageScaleFactor(1))
	tb.waitFor("a page scale of 1", `visualViewport.scale === 1`)
	tb.waitFor("the banner in the visual viewport at 1×", inVisualViewport(".pc-banner"))
	tb.tap("pc-accept")
	c := tb.waitConsent()
	if !c.Accepted(policy.Statistical) {
		t.Errorf("a tap on Accept all stored %q", c.Encode())
	}
	tb.noErrors()
}

// TestBrowserPhoneDemoPages: at 320 CSS pixels, on a phone, no demo page
// scrolls sideways.
func TestBrowserPhoneDemoPages(t *testing.T) {
	ps, err := store.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	var example *policy.Policy
	for _, p := range store.Policies(ps) {
		if p.ID == "example" {
			example = p
		}
	}
	h := startHosts(t, example)
	tb := newTab(t)
	tb.phone(320, 640)
	for _, id := range []string{"mtran", "twisto", "example"} {
		tb.run(chromedp.Navigate(h.consent.URL + "/demo/" + id))
		tb.waitBanner()
		var s struct{ Scroll, Client, Inner float64 }
		tb.eval(`({Scroll: document.documentElement.scrollWidth, Client: document.documentElement.clientWidth, Inner: innerWidth})`, &s)
		if s.Scroll > 320 || s.Client != 320 || s.Inner != 320 {
			t.Errorf("/demo/%s at 320 px: %v CSS px wide (client %v, window %v), want no sideways scroll", id, s.Scroll, s.Client, s.Inner)
		}
	}
	tb.noErrors()
}
