package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/policy"
)

// navigateNoWait starts loading u without waiting for its load event (which
// chromedp.Navigate waits for: slowload.html's may never fire).
func navigateNoWait(u string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		_, _, errText, _, err := page.Navigate(u).Do(ctx)
		if err == nil && errText != "" {
			err = fmt.Errorf("navigating to %s: %s", u, errText)
		}
		return err
	})
}

// withConnection makes every page of the tab see navigator.connection as
// the JavaScript expression conn (evaluated before the page's scripts; it
// may throw, as a getter).
func withConnection(conn string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(`Object.defineProperty(Navigator.prototype, "connection",
			{configurable: true, get() { return (` + conn + `); }});`).Do(ctx)
		return err
	})
}

// TestBrowserAppWaitsForThePage: on a first visit the server's banner shows
// at once, but the wasm is fetched only once the portal's page has loaded
// (slowload.html's image, held by the test, holds its load event).
func TestBrowserAppWaitsForThePage(t *testing.T) {
	h := startHosts(t)
	release := h.holdImage()
	defer release()
	tb := newTab(t)
	tb.run(navigateNoWait(h.portalURL("slowload.html", "")))
	tb.waitBanner()
	time.Sleep(1500 * time.Millisecond)
	var state string
	tb.eval(`document.readyState`, &state)
	if state == "complete" {
		t.Fatal("the page loaded although its image is held: the test proves nothing")
	}
	if n := h.wasmRequests(); n != 0 {
		t.Errorf("the wasm was requested %d times before the page's load event", n)
	}
	release()
	h.waitWasmServed(t, 1)
	if n := h.wasmRequests(); n != 1 {
		t.Errorf("the wasm was requested %d times once the page loaded, want 1", n)
	}
	if tb.appRunning() {
		t.Error("the app started without any intent")
	}
	tb.noErrors()
}

// TestBrowserAppPrefetchedWithoutLoad: a page that never fires load (its
// image never arrives, like a portal that long-polls in an element) still
// gets the wasm prefetched on a fast network, after a timeout.
func TestBrowserAppPrefetchedWithoutLoad(t *testing.T) {
	h := startHosts(t)
	release := h.holdImage()
	defer release()
	tb := newTab(t)
	tb.run(navigateNoWait(h.portalURL("slowload.html", "")))
	tb.waitBanner()
	h.waitWasmServed(t, 1)
	var state string
	tb.eval(`document.readyState`, &state)
	if state == "complete" {
		t.Error("the page loaded although its image is held")
	}
	tb.noErrors()
}

// TestBrowserIntentRestartsTheLowPriorityDownload: the visitor's intent
// during the low-priority prefetch does not wait for it: the download
// starts again, at high priority, and the app runs from it.
func TestBrowserIntentRestartsTheLowPriorityDownload(t *testing.T) {
	h := startHosts(t)
	release := h.holdWasm()
	defer release()
	tb := newTab(t)
	tb.run(chromedp.Navigate(h.portalURL("plain.html", "")))
	tb.waitBanner()
	until(t, "the prefetch's request", func() bool { return h.wasmRequests() == 1 })
	tb.hover()
	until(t, "the download restarted on intent", func() bool { return h.wasmRequests() == 2 })
	release()
	tb.waitApp()
	if n := h.wasmRequests(); n != 2 {
		t.Errorf("%d wasm requests, want 2 (the prefetch, then the one on intent)", n)
	}
	tb.click("pc-reject")
	tb.waitConsent()
	tb.noErrors()
}

// TestBrowserMeteredNetwork: with Save-Data or a slow effective type the
// wasm is never prefetched, pointing at the banner does not fetch it, and
// Accept all or Reject all never need it; Customize does. A
// navigator.connection that is missing, throws or lies counts as a fast
// network: the wasm is prefetched, and nothing breaks.
func TestBrowserMeteredNetwork(t *testing.T) {
	for _, tc := range []struct {
		name, conn string
		metered    bool
	}{
		{"save-data", `{saveData: true, effectiveType: "4g"}`, true},
		{"slow-2g", `{saveData: false, effectiveType: "slow-2g"}`, true},
		{"2g", `{saveData: false, effectiveType: "2g"}`, true},
		{"3g", `{saveData: false, effectiveType: "3g"}`, true},
		{"4g", `{saveData: false, effectiveType: "4g"}`, false},
		{"missing", `undefined`, false},
		{"throws", `(() => { throw new Error("no connection"); })()`, false},
		{"lies", `{saveData: "yes", effectiveType: 42}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startHosts(t)
			tb := newTab(t)
			tb.run(withConnection(tc.conn), chromedp.Navigate(h.portalURL("plain.html", "")))
			tb.waitBanner()
			if !tc.metered {
				h.waitWasmServed(t, 1)
				tb.click("pc-accept")
				tb.waitConsent()
				tb.noErrors()
				return
			}
			time.Sleep(2500 * time.Millisecond) // past the load event and the idle callback's timeout
			tb.hover()
			time.Sleep(500 * time.Millisecond)
			if n := h.wasmRequests(); n != 0 {
				t.Fatalf("on a metered network the wasm was requested %d times before the visitor asked for it", n)
			}
			if tb.appRunning() {
				t.Fatal("pointing at the banner started the app on a metered network")
			}
			tb.click("pc-customize")
			tb.waitDialog("pc-preferences")
			if n := h.wasmRequests(); n != 1 {
				t.Errorf("Customize fetched the wasm %d times, want 1", n)
			}
			tb.noErrors()

			// Accept all on a new page of the same network: no wasm.
			h2 := startHosts(t)
			tb2 := newTab(t)
			tb2.run(withConnection(tc.conn), chromedp.Navigate(h2.portalURL("plain.html", "")))
			tb2.waitBanner()
			tb2.click("pc-reject")
			if c := tb2.waitConsent(); c.Accepted(policy.Statistical) {
				t.Errorf("Reject all stored %q", c.Encode())
			}
			time.Sleep(2500 * time.Millisecond)
			if n := h2.wasmRequests(); n != 0 {
				t.Errorf("Reject all on a metered network fetched the wasm %d times", n)
			}
			tb2.noErrors()
		})
	}
}

// TestBrowserImpressionOncePerBanner: each banner shown is counted once. On
// a fast network the worker that prefetches the app sends the impression
// (the page makes no call for it); a choice made before the prefetch, or a
// metered network (no prefetch), sends it from the page.
func TestBrowserImpressionOncePerBanner(t *testing.T) {
	for _, tc := range []struct {
		name, conn string
		early      bool // decide before the page loads (no prefetch yet)
		pageCalls  int  // sendBeacon calls the page makes (the impression's, the receipt's)
	}{
		{"fast network", "", false, 0},
		{"choice before the prefetch", "", true, 2},
		{"metered network", `{saveData: true, effectiveType: "4g"}`, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &countingStore{Store: openTestStore(t)}
			h := startHostsWith(t, []Option{WithReceipts(store), WithRateLimit(0, 0)})
			release := h.holdImage()
			defer release()
			tb := newTab(t)
			probe := strings.ReplaceAll(beaconProbe, "REPEAT", "1")
			tb.run(chromedp.ActionFunc(func(ctx context.Context) error {
				_, err := page.AddScriptToEvaluateOnNewDocument(probe).Do(ctx)
				return err
			}))
			if tc.conn != "" {
				tb.run(withConnection(tc.conn))
			}
			tb.run(navigateNoWait(h.portalURL("slowload.html", "")))
			tb.waitBanner()
			if tc.early {
				tb.click("pc-accept")
				tb.waitConsent()
			}
			release() // the page loads: the prefetch may start
			until(t, "the impression", func() bool { return store.n.Load() >= 1 })
			time.Sleep(2500 * time.Millisecond) // a second impression would be in by now
			if n := store.n.Load(); n != 1 {
				t.Errorf("%d impressions counted for one banner, want 1", n)
			}
			var calls int
			tb.eval(`window.__beacons`, &calls)
			if calls != tc.pageCalls {
				t.Errorf("the page made %d sendBeacon calls, want %d", calls, tc.pageCalls)
			}
			if !tc.early && tc.conn == "" && h.wasmServed() == 0 {
				t.Error("no prefetch on a fast network")
			}
			tb.noErrors()
		})
	}
}

// TestBrowserCookiesWithoutCookieStore: where the page has no Cookie Store
// API, or its getAll fails, the loader reads document.cookie: a first
// visitor gets the banner, and the choice then takes effect on the next
// page (gated scripts run, nothing shows, no wasm).
func TestBrowserCookiesWithoutCookieStore(t *testing.T) {
	for _, tc := range []struct{ name, script string }{
		{"missing", `delete window.cookieStore; delete Window.prototype.cookieStore;`},
		{"failing", `if (window.cookieStore) cookieStore.getAll = () => Promise.reject(new TypeError("no cookie store"));`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startHosts(t, gatedPolicy)
			tb := newTab(t)
			tb.run(chromedp.ActionFunc(func(ctx context.Context) error {
				_, err := page.AddScriptToEvaluateOnNewDocument(tc.script).Do(ctx)
				return err
			}))
			u := h.portalURL("gated.html", "portal=gated")
			tb.acceptAll(u)
			tb.run(chromedp.Navigate(u))
			tb.waitReturning()
			tb.waitFor("the gated scripts on the returning visit", `(window.gatedLog || []).length >= 7`)
			var decided bool
			tb.eval(`PortalConsent.get().decided && PortalConsent.accepted("statistical")`, &decided)
			if !decided {
				t.Error("the stored choice was not read without the Cookie Store API")
			}
			tb.noErrors()
		})
	}
}
