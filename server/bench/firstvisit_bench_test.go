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
// default 11), the bytes a first visitor receives from the consent host on
// the wire (the sum of CDP Network.loadingFinished encodedDataLength over
// its responses: brotli bodies and headers; see harness.Wire), for a visitor who clicks Accept
// all at once (the loader, the configuration, ui.js, beyond.js, the receipt's
// and the impression's answers) and for one who opens Customize (the app's
// wasm and runtime on top). The wasm, fetched by a worker, is not in the
// page's network log: the page fetches it again (refetchWasm) for its
// bytes on the wire. It fails above firstVisitBudget for the first, and
// reports the bytes per 1,000 first visits of which 95 % decide at once and
// 5 % customize.
func BenchmarkFirstVisitBytes(b *testing.B) {
	runs := 11
	if n, err := strconv.Atoi(os.Getenv("BENCH_RUNS")); err == nil && n > 0 {
		runs = n
	}
	store := &servertest.CountingStore{Store: servertest.OpenStore(b)}
	h := harness.StartHostsWith(b, []server.Option{server.WithReceipts(store), server.WithRateLimit(0, 0)})
	consent := h.ConsentURL + "/"
	var accept, customize []float64
	var acceptN, customizeN []float64
	var last []string // the responses of the last Accept all run
	for i := 0; i < b.N; i++ {
		for range runs {
			for _, path := range []string{"accept", "customize"} {
				tb := harness.NewTab(b)
				wire := tb.Wire()
				impressions, wasm := store.Impressions(), h.WasmRequests()
				tb.Run(chromedp.Navigate(h.PortalURL("bench.html", "banner=ours")))
				tb.WaitBanner()
				if path == "accept" {
					tb.Click("pc-accept")
					tb.WaitChoice()
					tb.WaitAcknowledged()
				} else {
					tb.Click("pc-customize")
					tb.WaitDialog("pc-preferences")
				}
				harness.Until(b, "the impression", func() bool { return store.Impressions() > impressions })
				time.Sleep(500 * time.Millisecond) // the last responses' loadingFinished events
				for u, enc := range wire.Encodings(consent) {
					if (strings.HasSuffix(u, ".js") || strings.HasSuffix(u, ".json")) && enc != "br" {
						b.Fatalf("%s came with Content-Encoding %q, not brotli", u, enc)
					}
				}
				bytes, n := wire.Bytes(consent)
				if path == "accept" {
					if w := wire.Requested(".wasm"); len(w) != 0 || h.WasmRequests() != wasm {
						b.Fatalf("a first visitor who accepted at once requested the wasm")
					}
					last = wire.Finished(consent)
					accept = append(accept, bytes)
					acceptN = append(acceptN, float64(n))
				} else {
					if len(wire.Requested(".wasm")) == 0 {
						bytes += refetchWasm(tb, wire, consent)
					}
					customize = append(customize, bytes)
					customizeN = append(customizeN, float64(n))
				}
			}
		}
	}
	a, c := median(accept), median(customize)
	mix := 950*a + 50*c
	fmt.Printf("\nFirst visit, bytes from the consent host on the wire (brotli, headers included), medians of %d cold runs, %s:\n\n", runs, time.Now().UTC().Format("2006-01-02"))
	fmt.Printf("| visitor | bytes | responses |\n|---|---:|---:|\n")
	fmt.Printf("| Accept all at once | %.0f B | %.0f |\n", a, median(acceptN))
	fmt.Printf("| Customize (the app) | %.0f B | %.0f + the wasm |\n", c, median(customizeN))
	fmt.Printf("| per 1,000 first visits, 95 %% at once, 5 %% Customize | %.1f MB | |\n\n", mix/1e6)
	fmt.Printf("Accept all at once, the last run's responses: %s\n\n", strings.Join(last, ", "))
	b.ReportMetric(a, "accept-B")
	b.ReportMetric(c, "customize-B")
	b.ReportMetric(mix/1e6, "MB/1000-visits")
	if a > firstVisitBudget {
		b.Fatalf("a first visitor who accepts at once receives %.0f B from the consent host, over the %d B budget", a, firstVisitBudget)
	}
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
