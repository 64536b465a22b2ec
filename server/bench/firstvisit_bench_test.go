package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/servertest"
)

// firstVisitBudget is what a first visitor who decides at once (Accept all
// on the first layer) may download from the consent host, on the wire
// (brotli, headers included): 16 KB (issue 23).
const firstVisitBudget = 16 * 1024

// BenchmarkFirstVisitBytes measures, from cold browsers (BENCH_RUNS each,
// default 11), the bytes a first visitor receives from the banner's hosts on
// the wire (the sum of CDP Network.loadingFinished encodedDataLength over
// its responses: brotli bodies and headers; see harness.Wire), for a visitor
// who decides at once (Accept all on the first layer) and for one who opens
// the preferences, with our banner, vanilla-cookieconsent 3.1.0 and the
// floor (testdata/floor.js), the last two served as in BenchmarkBanner
// (vendorHost; only when VANILLA_DIR is set, as `make bench` sets it).
//   - Ours, from the consent host: Accept all brings the loader, the
//     configuration, ui.js, beyond.js, the receipt's and the impression's
//     answers; Customize (until the preferences are open) the app's wasm
//     and runtime on top. The wasm, fetched by a worker, is not in the
//     page's network log: the page fetches it again (refetchWasm) for its
//     bytes on the wire.
//   - vanilla-cookieconsent, from its CDN (vendorHost): its script and
//     stylesheet; "Accept all" of its first layer, or "Customize" (its
//     showPreferencesBtn) until its preferences modal shows. It posts
//     nothing.
//   - The floor, from vendorHost (floor.js) and the consent host
//     (config.json): it has no banner and no button, so both visitors cost
//     its page load.
//
// It fails when our Accept all visitor gets over firstVisitBudget or
// requests the wasm, and reports, for each banner, the bytes per 1,000
// first visits of which 95 % decide at once and 5 % customize.
func BenchmarkFirstVisitBytes(b *testing.B) {
	runs := 11
	if n, err := strconv.Atoi(os.Getenv("BENCH_RUNS")); err == nil && n > 0 {
		runs = n
	}
	store := &servertest.CountingStore{Store: servertest.OpenStore(b)}
	h := harness.StartHostsWith(b, []server.Option{server.WithReceipts(store), server.WithRateLimit(0, 0)})
	consent := h.ConsentURL + "/"
	banners := []string{"ours"}
	hosts := map[string][]string{"ours": {consent}}
	if os.Getenv("VANILLA_DIR") != "" {
		h.VendorURL = strings.Replace(vendorHost(b, h).URL, "127.0.0.1", "localhost", 1)
		banners = append(banners, "vanilla", "floor")
		hosts["vanilla"] = []string{h.VendorURL + "/"}
		hosts["floor"] = []string{h.VendorURL + "/", consent}
	}
	bytesOf := map[string][]float64{} // by banner/path
	countOf := map[string][]float64{}
	var last []string // our responses of the last Accept all run
	for i := 0; i < b.N; i++ {
		for range runs {
			for _, banner := range banners {
				for _, path := range []string{"accept", "customize"} {
					tb := harness.NewTab(b)
					wire := tb.Wire()
					firstVisit(tb, h, store, banner, path)
					var bytes float64
					var n int
					for _, host := range hosts[banner] {
						for u, enc := range wire.Encodings(host) {
							if (strings.HasSuffix(u, ".js") || strings.HasSuffix(u, ".json") || strings.HasSuffix(u, ".css")) && enc != "br" {
								b.Fatalf("%s came with Content-Encoding %q, not brotli", u, enc)
							}
						}
						hb, hn := wire.Bytes(host)
						bytes, n = bytes+hb, n+hn
					}
					if banner == "ours" && path == "accept" {
						if w := wire.Requested(".wasm"); len(w) != 0 {
							b.Fatalf("a first visitor who accepted at once requested the wasm")
						}
						last = wire.Finished(consent)
					}
					if banner == "ours" && path == "customize" && len(wire.Requested(".wasm")) == 0 {
						bytes += refetchWasm(tb, wire, consent)
					}
					bytesOf[banner+"/"+path] = append(bytesOf[banner+"/"+path], bytes)
					countOf[banner+"/"+path] = append(countOf[banner+"/"+path], float64(n))
				}
			}
		}
	}
	m := func(banner, path string) float64 { return median(bytesOf[banner+"/"+path]) }
	mix := func(banner string) float64 { return (950*m(banner, "accept") + 50*m(banner, "customize")) / 1e6 }
	cell := func(banner, path string) string {
		if len(bytesOf[banner+"/"+path]) == 0 {
			return "—"
		}
		return fmt.Sprintf("%.0f B (%.0f)", m(banner, path), median(countOf[banner+"/"+path]))
	}
	mixCell := func(banner string) string {
		if len(bytesOf[banner+"/accept"]) == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f MB", mix(banner))
	}
	fmt.Printf("\nFirst visit, bytes on the wire from the banner's hosts (brotli, headers included; responses in brackets), medians of %d cold runs, %s %s:\n\n",
		runs, chromiumVersion(), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Printf("| first visitor | ours (consent host) | vanilla-cookieconsent 3.1.0 (its CDN) | floor (floor.js + config.json) |\n|---|---:|---:|---:|\n")
	fmt.Printf("| decides at once (Accept all) | %s | %s | %s |\n", cell("ours", "accept"), cell("vanilla", "accept"), cell("floor", "accept"))
	fmt.Printf("| opens the preferences (Customize; the floor has none) | %s, the wasm included | %s | %s |\n", cell("ours", "customize"), cell("vanilla", "customize"), cell("floor", "customize"))
	fmt.Printf("| per 1,000 first visits, 95 %% at once, 5 %% preferences | %s | %s | %s |\n\n", mixCell("ours"), mixCell("vanilla"), mixCell("floor"))
	fmt.Printf("Ours, Accept all at once, the last run's responses: %s\n\n", strings.Join(last, ", "))
	b.ReportMetric(m("ours", "accept"), "accept-B")
	b.ReportMetric(m("ours", "customize"), "customize-B")
	b.ReportMetric(mix("ours"), "MB/1000-visits")
	if len(banners) > 1 {
		b.ReportMetric(m("vanilla", "accept"), "vanilla-accept-B")
		b.ReportMetric(m("vanilla", "customize"), "vanilla-customize-B")
		b.ReportMetric(mix("vanilla"), "vanilla-MB/1000-visits")
		b.ReportMetric(m("floor", "accept"), "floor-B")
		b.ReportMetric(mix("floor"), "floor-MB/1000-visits")
	}
	if a := m("ours", "accept"); a > firstVisitBudget {
		b.Fatalf("a first visitor who accepts at once receives %.0f B from the consent host, over the %d B budget", a, firstVisitBudget)
	}
}

// firstVisit loads the bench page with banner ("ours", "vanilla" or
// "floor") in the cold tab tb as a first visitor and, for path "accept",
// clicks Accept all as soon as the banner shows and waits for the choice
// stored (ours: acknowledged by the consent host), or for "customize" opens
// the preferences (ours: Customize on the server's banner, until the app's
// dialog is open; vanilla: its Customize button, until its preferences modal
// shows; its buttons are clicked from script, as BenchmarkBanner does: a
// mouse click can land while its banner slides in). The floor has nothing to click: it waits until the floor has read
// the cookies and fetched the configuration. Ours also waits for the
// impression's answer. Then it lets the last responses' loadingFinished
// events arrive.
func firstVisit(tb *harness.Tab, h *harness.Hosts, store *servertest.CountingStore, banner, path string) {
	tb.T.Helper()
	impressions := store.Impressions()
	tb.Run(chromedp.Navigate(h.PortalURL("bench.html", "banner="+banner)))
	switch banner {
	case "ours":
		wasm := h.WasmRequests()
		tb.WaitBanner()
		if path == "accept" {
			tb.Click("pc-accept")
			tb.WaitChoice()
			tb.WaitAcknowledged()
			if h.WasmRequests() != wasm {
				tb.T.Fatalf("a first visitor who accepted at once requested the wasm")
			}
		} else {
			tb.Click("pc-customize")
			tb.WaitDialog("pc-preferences")
		}
		harness.Until(tb.T, "the impression", func() bool { return store.Impressions() > impressions })
	case "vanilla":
		tb.WaitFor("vanilla-cookieconsent's banner", `document.documentElement.classList.contains("show--consent") &&
			document.querySelector("#cc-main .cm").getBoundingClientRect().height > 0`)
		if path == "accept" {
			tb.Eval(`document.querySelector('#cc-main .cm [data-role="all"]').click()`, nil)
			tb.WaitFor("vanilla-cookieconsent's cookie", `document.cookie.includes("cc_cookie=")`)
		} else {
			tb.Eval(`document.querySelector('#cc-main .cm [data-role="show"]').click()`, nil)
			tb.WaitFor("vanilla-cookieconsent's preferences", `document.documentElement.classList.contains("show--preferences") &&
				document.querySelector("#cc-main .pm").getBoundingClientRect().height > 0`)
		}
	case "floor":
		tb.WaitFor("the floor's configuration", `window.__floorReady === true`)
	default:
		tb.T.Fatalf("no banner %q", banner)
	}
	time.Sleep(500 * time.Millisecond) // the last responses' loadingFinished events
}

// refetchWasm fetches again from the page, bypassing the HTTP cache, the
// wasm that the app's worker fetched (whose requests the page's network log
// does not show), and returns its bytes on the wire.
func refetchWasm(tb *harness.Tab, wire *harness.Wire, consent string) float64 {
	tb.T.Helper()
	cfg := wire.Requested("/config.json")
	if len(cfg) == 0 {
		tb.T.Fatal("no config.json in the page's network log")
	}
	var wasm string
	tb.Run(chromedp.Evaluate(`fetch(`+harness.JSString(cfg[0])+`, {credentials: "omit"}).then((r) => r.json()).then((c) => {
		const u = new URL(c.assets.wasm, `+harness.JSString(consent)+`).href;
		return fetch(u, {credentials: "omit", cache: "no-store"}).then((r) => r.arrayBuffer()).then(() => u); })`, &wasm, harness.AwaitPromise))
	var bytes float64
	harness.Until(tb.T, "the wasm's loadingFinished", func() bool { bytes, _ = wire.Bytes(wasm); return bytes > 0 })
	return bytes
}
