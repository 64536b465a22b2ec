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

// TestBrowserNoWasmWithoutIntent: on a first visit the server's banner shows
// at once, and the wasm is fetched neither before the portal's page has
// loaded (slowload.html's image, held by the test, holds its load event) nor
// after: only the visitor's intent fetches it.
func TestBrowserNoWasmWithoutIntent(t *testing.T) {
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
	tb.WaitFor("the page's load", `document.readyState === "complete"`)
	time.Sleep(2500 * time.Millisecond) // an idle callback's timeout, and more
	if n := h.WasmRequests(); n != 0 {
		t.Errorf("the wasm was requested %d times once the page loaded, without intent", n)
	}
	if tb.AppRunning() {
		t.Error("the app started without any intent")
	}
	tb.NoErrors()
}

// TestBrowserMeteredNetwork: with Save-Data or a slow effective type
// pointing at the banner does not fetch the wasm, and Accept all or Reject
// all never need it; Customize does. A navigator.connection that is missing,
// throws or lies counts as a fast network: pointing at the banner fetches the
// wasm, and nothing breaks.
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
				tb.Hover()
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

// TestBrowserImpressionOncePerBanner: each banner shown is counted once,
// sent from the page (one sendBeacon call) once idle, or on a choice made
// before, on a fast network as on a metered one, and no wasm is fetched for
// it.
func TestBrowserImpressionOncePerBanner(t *testing.T) {
	for _, tc := range []struct {
		name, conn string
		early      bool // decide before the page loads
	}{
		{"fast network", "", false},
		{"choice before the page's load", "", true},
		{"metered network", `{saveData: true, effectiveType: "4g"}`, false},
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
			release() // the page loads
			harness.Until(t, "the impression", func() bool { return store.Impressions() >= 1 })
			time.Sleep(2500 * time.Millisecond) // a second impression would be in by now
			if n := store.Impressions(); n != 1 {
				t.Errorf("%d impressions counted for one banner, want 1", n)
			}
			var calls int
			tb.Eval(`window.__beacons`, &calls)
			if calls != 1 {
				t.Errorf("the page made %d sendBeacon calls, want 1 (the impression's; the receipt goes by fetch)", calls)
			}
			if n := h.WasmRequests(); n != 0 {
				t.Errorf("%d wasm requests without intent", n)
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
