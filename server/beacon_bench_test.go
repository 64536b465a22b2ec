package server

import (
	"context"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/portalconsent/portalconsent/web"
)

// beaconProbe wraps the page's navigator.sendBeacon to time, on the main
// thread, the impression beacon ui.js sends.
const beaconProbe = `(() => {
  if (window !== top) return;
  const send = navigator.sendBeacon;
  window.__beaconMS = 0;
  window.__beacons = 0;
  navigator.sendBeacon = function (url, data) {
    const t = performance.now();
    const ok = send.call(navigator, url, data);
    window.__beaconMS += performance.now() - t;
    window.__beacons++;
    return ok;
  };
})()`

// withoutBeacon is fsys with ui.js minus its impression beacon.
type withoutBeacon struct {
	fs.FS
	ui []byte
}

func (f withoutBeacon) Open(name string) (fs.File, error) {
	if name == "ui.js" {
		return fstest.MapFS{"ui.js": {Data: f.ui}}.Open(name)
	}
	return f.FS.Open(name)
}

// BenchmarkImpressionBeacon measures the impression beacon's cost on a
// first visit, from cold browsers (BENCH_RUNS each, default 11),
// alternating the real ui.js and one without the beacon: Chromium's
// ScriptDuration of the whole page load with and without (its difference
// is within the noise of a page load), and the main-thread time of the
// sendBeacon call itself, timed in the page (performance.now, coarsened to
// 0.1 ms by Chromium without cross-origin isolation, so the median of
// many runs). The consent host keeps receipts in SQLite, so the beacon is
// counted as in production.
func BenchmarkImpressionBeacon(b *testing.B) {
	runs := 11
	if n, err := strconv.Atoi(os.Getenv("BENCH_RUNS")); err == nil && n > 0 {
		runs = n
	}
	real, err := fs.ReadFile(web.Files(), "ui.js")
	if err != nil {
		b.Fatal(err)
	}
	const call = `(win.requestIdleCallback || setTimeout)(() => { try { navigator.sendBeacon(abs("portals/" + p.id + "/impressions"), JSON.stringify({ revision: p.revision, lang: texts.lang })); } catch (e) {} });`
	if !strings.Contains(string(real), call) {
		b.Fatal("ui.js has no impression beacon to compare without")
	}
	variants := map[string]*hosts{
		"with":    startHostsFS(b, web.Files(), []Option{WithReceipts(openTestStore(b)), WithRateLimit(0, 0)}),
		"without": startHostsFS(b, withoutBeacon{web.Files(), []byte(strings.Replace(string(real), call, "", 1))}, []Option{WithReceipts(openTestStore(b))}),
	}

	script := map[string][]float64{}
	var beaconMS []float64
	for i := 0; i < b.N; i++ {
		for range runs {
			for _, v := range []string{"with", "without"} {
				h := variants[v]
				ctx, stop, err := launchBrowser()
				if err != nil {
					b.Fatal(err)
				}
				err = chromedp.Run(ctx, chromedp.ActionFunc(func(ctx context.Context) error {
					_, err := page.AddScriptToEvaluateOnNewDocument(beaconProbe).Do(ctx)
					return err
				}))
				var r benchRun
				if err == nil {
					r, err = benchPage(ctx, h, h.portalURL("bench.html", "banner=ours"), "ours", false, false, 500*time.Millisecond)
				}
				var ms float64
				var n int
				if err == nil {
					err = chromedp.Run(ctx, chromedp.Evaluate(`window.__beaconMS`, &ms), chromedp.Evaluate(`window.__beacons`, &n))
				}
				stop()
				if err != nil {
					b.Fatal(err)
				}
				if want := map[string]int{"with": 1, "without": 0}[v]; n != want {
					b.Fatalf("%s the beacon: %d beacons sent, want %d", v, n, want)
				}
				script[v] = append(script[v], r.ScriptMS)
				if v == "with" {
					beaconMS = append(beaconMS, ms)
				}
			}
		}
	}
	with, without := median(script["with"]), median(script["without"])
	b.ReportMetric(median(beaconMS), "beacon-ms")
	b.ReportMetric(with, "script-ms-with")
	b.ReportMetric(without, "script-ms-without")
	b.Logf("first visit, %d cold runs each: sendBeacon call median %.3f ms (max %.3f); ScriptDuration median %.1f ms with the beacon, %.1f ms without",
		len(beaconMS), median(beaconMS), maxOf(beaconMS), with, without)
}

func maxOf(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
