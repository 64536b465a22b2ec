package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/servertest"
)

// TestBrowserAppWaitsForThePage: on a first visit the server's banner shows
// at once, but the wasm is fetched only once the portal's page has loaded
// (slowload.html's image, held by the test, holds its load event).
func TestBrowserAppWaitsForThePage(t *testing.T) {
	h := harness.StartHosts(t)
	release := h.HoldImage()
	defer release()
	tb := newTab(t)
	tb.Run(harness.NavigateNoWait(h.PortalURL("slowload.html", "")))
	tb.WaitBanner()
	time.Sleep(1500 * time.Millisecond)
	var state string
	tb.Eval(`document.readyState`, &state)
	if state == "complete" {
		t.Fatal("the page loaded although its image is held: the test proves nothing")
	}
	if n := h.WasmRequests(); n != 0 {
		t.Errorf("the wasm was requested %d times before the page's load event", n)
	}
	release()
	h.WaitWasmServed(t, 1)
	if n := h.WasmRequests(); n != 1 {
		t.Errorf("the wasm was requested %d times once the page loaded, want 1", n)
	}
	if tb.AppRunning() {
		t.Error("the app started without any intent")
	}
	tb.NoErrors()
}

// TestBrowserAppPrefetchedWithoutLoad: a page that never fires load (its
// image never arrives, like a portal that long-polls in an element) still
// gets the wasm prefetched on a fast network, after a timeout.
func TestBrowserAppPrefetchedWithoutLoad(t *testing.T) {
	h := harness.StartHosts(t)
	release := h.HoldImage()
	defer release()
	tb := newTab(t)
	tb.Run(harness.NavigateNoWait(h.PortalURL("slowload.html", "")))
	tb.WaitBanner()
	h.WaitWasmServed(t, 1)
	var state string
	tb.Eval(`document.readyState`, &state)
	if state == "complete" {
		t.Error("the page loaded although its image is held")
	}
	tb.NoErrors()
}

// TestBrowserIntentRestartsTheLowPriorityDownload: the visitor's intent
// during the low-priority prefetch does not wait for it: the download
// starts again, at high priority, and the app runs from it.
func TestBrowserIntentRestartsTheLowPriorityDownload(t *testing.T) {
	h := harness.StartHosts(t)
	release := h.HoldWasm()
	defer release()
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "")))
	tb.WaitBanner()
	harness.Until(t, "the prefetch's request", func() bool { return h.WasmRequests() == 1 })
	tb.Hover()
	harness.Until(t, "the download restarted on intent", func() bool { return h.WasmRequests() == 2 })
	release()
	tb.WaitApp()
	if n := h.WasmRequests(); n != 2 {
		t.Errorf("%d wasm requests, want 2 (the prefetch, then the one on intent)", n)
	}
	tb.Click("pc-reject")
	tb.WaitConsent()
	tb.NoErrors()
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
			h := harness.StartHosts(t)
			tb := newTab(t)
			tb.Run(harness.WithConnection(tc.conn), chromedp.Navigate(h.PortalURL("plain.html", "")))
			tb.WaitBanner()
			if !tc.metered {
				h.WaitWasmServed(t, 1)
				tb.Click("pc-accept")
				tb.WaitConsent()
				tb.NoErrors()
				return
			}
			time.Sleep(2500 * time.Millisecond) // past the load event and the idle callback's timeout
			tb.Hover()
			time.Sleep(500 * time.Millisecond)
			if n := h.WasmRequests(); n != 0 {
				t.Fatalf("on a metered network the wasm was requested %d times before the visitor asked for it", n)
			}
			if tb.AppRunning() {
				t.Fatal("pointing at the banner started the app on a metered network")
			}
			tb.Click("pc-customize")
			tb.WaitDialog("pc-preferences")
			if n := h.WasmRequests(); n != 1 {
				t.Errorf("Customize fetched the wasm %d times, want 1", n)
			}
			tb.NoErrors()

			// Accept all on a new page of the same network: no wasm.
			h2 := harness.StartHosts(t)
			tb2 := newTab(t)
			tb2.Run(harness.WithConnection(tc.conn), chromedp.Navigate(h2.PortalURL("plain.html", "")))
			tb2.WaitBanner()
			tb2.Click("pc-reject")
			if c := tb2.WaitConsent(); c.Accepted(policy.Statistical) {
				t.Errorf("Reject all stored %q", c.Encode())
			}
			time.Sleep(2500 * time.Millisecond)
			if n := h2.WasmRequests(); n != 0 {
				t.Errorf("Reject all on a metered network fetched the wasm %d times", n)
			}
			tb2.NoErrors()
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
		pageCalls  int  // sendBeacon calls the page makes (the impression's; the receipt goes by fetch)
	}{
		{"fast network", "", false, 0},
		{"choice before the prefetch", "", true, 1},
		{"metered network", `{saveData: true, effectiveType: "4g"}`, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &servertest.CountingStore{Store: servertest.OpenStore(t)}
			h := harness.StartHostsWith(t, []server.Option{server.WithReceipts(store), server.WithRateLimit(0, 0)})
			release := h.HoldImage()
			defer release()
			tb := newTab(t)
			probe := strings.ReplaceAll(harness.BeaconProbe, "REPEAT", "1")
			tb.Run(chromedp.ActionFunc(func(ctx context.Context) error {
				_, err := page.AddScriptToEvaluateOnNewDocument(probe).Do(ctx)
				return err
			}))
			if tc.conn != "" {
				tb.Run(harness.WithConnection(tc.conn))
			}
			tb.Run(harness.NavigateNoWait(h.PortalURL("slowload.html", "")))
			tb.WaitBanner()
			if tc.early {
				tb.Click("pc-accept")
				tb.WaitConsent()
			}
			release() // the page loads: the prefetch may start
			harness.Until(t, "the impression", func() bool { return store.Impressions() >= 1 })
			time.Sleep(2500 * time.Millisecond) // a second impression would be in by now
			if n := store.Impressions(); n != 1 {
				t.Errorf("%d impressions counted for one banner, want 1", n)
			}
			var calls int
			tb.Eval(`window.__beacons`, &calls)
			if calls != tc.pageCalls {
				t.Errorf("the page made %d sendBeacon calls, want %d", calls, tc.pageCalls)
			}
			if !tc.early && tc.conn == "" && h.WasmServed() == 0 {
				t.Error("no prefetch on a fast network")
			}
			tb.NoErrors()
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
			h := harness.StartHosts(t, gatedPolicy)
			tb := newTab(t)
			tb.Run(chromedp.ActionFunc(func(ctx context.Context) error {
				_, err := page.AddScriptToEvaluateOnNewDocument(tc.script).Do(ctx)
				return err
			}))
			u := h.PortalURL("gated.html", "portal=gated")
			tb.AcceptAll(u)
			tb.Run(chromedp.Navigate(u))
			tb.WaitReturning()
			tb.WaitFor("the gated scripts on the returning visit", `(window.gatedLog || []).length >= 7`)
			var decided bool
			tb.Eval(`PortalConsent.get().decided && PortalConsent.accepted("statistical")`, &decided)
			if !decided {
				t.Error("the stored choice was not read without the Cookie Store API")
			}
			tb.NoErrors()
		})
	}
}
