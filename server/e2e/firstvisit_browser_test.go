package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/servertest"
)

// TestBrowserFirstVisitDecidesWithoutWasm: a first visitor who goes straight
// to Accept all, with the mouse, with the keyboard (Tab to the button, Enter)
// or with a touch on an emulated phone, never requests the wasm (neither the
// consent host nor the browser's network log sees one), and the choice, its
// receipt and the impression are all there.
func TestBrowserFirstVisitDecidesWithoutWasm(t *testing.T) {
	for _, how := range []string{"mouse", "keyboard", "touch"} {
		t.Run(how, func(t *testing.T) {
			store := &servertest.CountingStore{Store: servertest.OpenStore(t)}
			h := harness.StartHostsWith(t, []server.Option{server.WithReceipts(store), server.WithRateLimit(0, 0)})
			tb := newTab(t)
			if how == "touch" {
				tb.Phone(390, 844)
			}
			wire := tb.Wire()
			// A page made for phones (width=device-width).
			tb.Run(chromedp.Navigate(h.PortalURL("bench.html", "banner=ours")))
			tb.WaitBanner()
			time.Sleep(2500 * time.Millisecond) // past the load event and an idle callback: no wasm comes by itself
			switch how {
			case "mouse":
				tb.Click("pc-accept")
			case "keyboard":
				var on string
				for i := 0; i < 10 && on != "pc-accept"; i++ {
					tb.Run(chromedp.KeyEvent(kb.Tab))
					tb.Eval(`(document.activeElement && document.activeElement.shadowRoot && document.activeElement.shadowRoot.activeElement || {}).id || ""`, &on)
				}
				if on != "pc-accept" {
					t.Fatalf("Tab never reached Accept all on the server's banner (focus on %q)", on)
				}
				tb.Run(chromedp.KeyEvent(kb.Enter))
			case "touch":
				tb.tap("pc-accept")
			}
			c := tb.WaitConsent()
			if !c.Accepted(policy.Statistical) {
				t.Errorf("Accept all stored %q", c.Encode())
			}
			tb.WaitAcknowledged()
			harness.Until(t, "the impression", func() bool { return store.Impressions() >= 1 })
			posts := h.ReceiptPosts()
			if len(posts) != 1 || !strings.Contains(string(posts[0].Body), `"method":"accept-all"`) {
				t.Errorf("receipts posted: %d, want one accept-all (%s)", len(posts), posts)
			}
			time.Sleep(500 * time.Millisecond) // a wasm request would be out by now
			if n := h.WasmRequests(); n != 0 {
				t.Errorf("the consent host got %d wasm requests", n)
			}
			if u := wire.Requested(".wasm"); len(u) != 0 {
				t.Errorf("the page requested %q", u)
			}
			if u := wire.Requested("wasm_exec"); len(u) != 0 {
				t.Errorf("the page requested the app's runtime %q", u)
			}
			tb.NoErrors()
		})
	}
}

// TestBrowserPointerIntentFetchesTheApp: on a desktop, nothing fetches the
// wasm while the page loads and the banner waits; the pointer entering the
// banner (not on Accept all or Reject all) does, and the app takes the
// banner over before any click; a click then goes to the app.
func TestBrowserPointerIntentFetchesTheApp(t *testing.T) {
	h := harness.StartHosts(t)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "")))
	tb.WaitBanner()
	time.Sleep(2500 * time.Millisecond) // past the load event and an idle callback
	if n := h.WasmRequests(); n != 0 {
		t.Fatalf("the wasm was requested %d times without intent", n)
	}
	tb.Hover()
	tb.WaitFor("the app's takeover", harness.InFrame(`w.portalConsentRunning === true && !document.querySelector("div[data-portal-consent]")`))
	if n := h.WasmRequests(); n != 1 {
		t.Errorf("%d wasm requests on intent, want 1", n)
	}
	tb.Click("pc-reject")
	c := tb.WaitConsent()
	if c.Accepted(policy.Statistical) {
		t.Errorf("Reject all in the app stored %q", c.Encode())
	}
	tb.NoErrors()
}
