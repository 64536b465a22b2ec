package harness

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// AcceptAll visits url (a page with the gated scripts: gated.html, or
// hostile.html?gated=1) as a first visitor and clicks Accept all on the
// banner; it returns once the seven gated scripts ran, and fails the test
// after 20 s.
func (tb *Tab) AcceptAll(url string) {
	tb.T.Helper()
	tb.Run(chromedp.Navigate(url))
	tb.WaitBanner()
	tb.Click("pc-accept")
	tb.WaitFor("the gated scripts", `(window.gatedLog || []).length >= 7`)
}

// WaitChoice waits until the page has a cookies_preferences cookie.
func (tb *Tab) WaitChoice() {
	tb.T.Helper()
	tb.WaitFor("the choice", `document.cookie.includes("cookies_preferences=")`)
}

// WaitDialog waits until the dialog with the given id is open in the frame,
// over the whole viewport, with focus inside it.
func (tb *Tab) WaitDialog(id string) {
	tb.T.Helper()
	tb.WaitFor("dialog #"+id, InFrame(`d.getElementById(`+JSString(id)+`) !== null &&
		getComputedStyle(f).visibility === "visible" && getComputedStyle(f).height === innerHeight + "px" &&
		d.getElementById(`+JSString(id)+`).contains(d.activeElement) && document.activeElement === f`))
}

// PhoneUA is the user agent of the emulated phone (Phone).
const PhoneUA = "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Mobile Safari/537.36"

// Phone makes the tab an emulated phone of w×h CSS pixels: device scale
// factor 3, touch, a mobile user agent (PhoneUA).
func (tb *Tab) Phone(w, h int64) {
	tb.T.Helper()
	tb.Run(
		emulation.SetDeviceMetricsOverride(w, h, 3, true),
		emulation.SetTouchEmulationEnabled(true).WithMaxTouchPoints(5),
		emulation.SetUserAgentOverride(PhoneUA).WithPlatform("Android"),
	)
}

// NavigateNoWait returns an action that starts loading u without waiting for its load event (which
// chromedp.Navigate waits for: slowload.html's may never fire).
func NavigateNoWait(u string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		_, _, errText, _, err := page.Navigate(u).Do(ctx)
		if err == nil && errText != "" {
			err = fmt.Errorf("navigating to %s: %s", u, errText)
		}
		return err
	})
}

// WithConnection returns an action that makes every page of the tab see
// navigator.connection as the JavaScript expression conn (evaluated before
// the page's scripts; it may throw, as a getter).
func WithConnection(conn string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(`Object.defineProperty(Navigator.prototype, "connection",
			{configurable: true, get() { return (` + conn + `); }});`).Do(ctx)
		return err
	})
}

// Until polls cond (e.g. a store read) every 20 ms until it is true; after
// 10 s it fails t, naming what.
func Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 10 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BeaconProbe is a script (for page.AddScriptToEvaluateOnNewDocument, with
// REPEAT replaced by a count) that wraps the page's navigator.sendBeacon to
// time, on the main thread, the impression beacon ui.js sends from the page
// (performance.now, coarsened to 0.1 ms without cross-origin isolation). __beaconRepeat, called after the
// page load is measured, times REPEAT more calls with the same URL and body
// back to back (the consent host counts them as impressions) and returns
// their mean and how many the browser accepted (sendBeacon returns false
// past its keepalive quota, and a refused call is cheaper).
const BeaconProbe = `(() => {
  if (window !== top) return;
  const send = navigator.sendBeacon;
  window.__beaconMS = 0;
  window.__beacons = 0;
  let last;
  navigator.sendBeacon = function (url, data) {
    const t = performance.now();
    const ok = send.call(navigator, url, data);
    window.__beaconMS += performance.now() - t;
    window.__beacons++;
    last = [url, data];
    return ok;
  };
  window.__beaconRepeat = () => {
    let n = 0;
    const t = performance.now();
    for (let i = 0; i < REPEAT; i++) if (send.call(navigator, last[0], last[1])) n++;
    return { MS: (performance.now() - t) / REPEAT, OK: n };
  };
})()`

// AwaitPromise is an option of chromedp.Evaluate: it waits for the promise the expression returns.
func AwaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams {
	return p.WithAwaitPromise(true)
}

// EmulateMedia returns an action that emulates the media features (name to
// value, e.g. "prefers-color-scheme": "dark"); an empty map ends the
// emulation.
func EmulateMedia(features map[string]string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var fs []*emulation.MediaFeature
		for k, v := range features {
			fs = append(fs, &emulation.MediaFeature{Name: k, Value: v})
		}
		return emulation.SetEmulatedMedia().WithFeatures(fs).Do(ctx)
	})
}

// OpenPreferences clicks Customize on the app's banner and waits until the
// preferences dialog fills the frame and has focus.
func (tb *Tab) OpenPreferences() {
	tb.T.Helper()
	tb.Click("pc-customize")
	tb.WaitFor("the preferences dialog", InFrame(`d.getElementById("pc-preferences") !== null &&
		getComputedStyle(f).height === innerHeight + "px" && d.activeElement.id === "pc-preferences"`))
}

// OpenPolicy clicks Cookie policy on the app's banner and waits until the
// policy dialog fills the frame and has focus.
func (tb *Tab) OpenPolicy() {
	tb.T.Helper()
	tb.Click("pc-policy")
	tb.WaitFor("the policy dialog", InFrame(`d.getElementById("pc-policy-dialog") !== null &&
		getComputedStyle(f).height === innerHeight + "px" && d.activeElement.id === "pc-policy-dialog"`))
}
