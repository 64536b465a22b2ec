package server

import (
	"context"
	"io/fs"
	"os"
	"regexp"
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
// thread, the impression beacon ui.js sends (performance.now, coarsened to
// 0.1 ms without cross-origin isolation). __beaconRepeat, called after the
// page load is measured, times REPEAT more calls with the same URL and body
// back to back (the consent host counts them as impressions) and returns
// their mean and how many the browser accepted (sendBeacon returns false
// past its keepalive quota, and a refused call is cheaper).
const beaconProbe = `(() => {
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

// beaconRepeat is how many calls the probe times together: their bodies
// (about 40 bytes each) stay well within the keepalive quota (64 KiB).
const beaconRepeat = 200

// impressionBeacon is ui.js's statement sending the impression beacon.
var impressionBeacon = regexp.MustCompile(`\(window\.requestIdleCallback \|\| setTimeout\)\(\(\) => \{ try \{ navigator\.sendBeacon\([^\n]*"/impressions"[^\n]*\} catch[^\n]*?\{\} \}\);`)

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
// sendBeacon call itself, timed in the page: ui.js's call alone (to the
// 0.1 ms Chromium's coarsened clock allows) and, once the page load is
// measured, the mean of beaconRepeat calls (see beaconProbe). It also reports ui.js's brotli size as
// served with and without the beacon. The consent host keeps receipts in
// SQLite, so the beacon is counted as in production.
func BenchmarkImpressionBeacon(b *testing.B) {
	runs := 11
	if n, err := strconv.Atoi(os.Getenv("BENCH_RUNS")); err == nil && n > 0 {
		runs = n
	}
	real, err := fs.ReadFile(web.Files(), "ui.js")
	if err != nil {
		b.Fatal(err)
	}
	if n := len(impressionBeacon.FindAllIndex(real, -1)); n != 1 {
		b.Fatalf("ui.js has %d impression beacons, want 1 to compare without", n)
	}
	noBeacon := withoutBeacon{web.Files(), impressionBeacon.ReplaceAll(real, nil)}
	uiBrotli := func(fsys fs.FS) int {
		s, err := New(testPolicies, fsys)
		if err != nil {
			b.Fatal(err)
		}
		return len(s.ui.br)
	}
	brWith, brWithout := uiBrotli(web.Files()), uiBrotli(noBeacon)
	variants := map[string]*hosts{
		"with":    startHostsFS(b, web.Files(), []Option{WithReceipts(openTestStore(b)), WithRateLimit(0, 0)}),
		"without": startHostsFS(b, noBeacon, []Option{WithReceipts(openTestStore(b))}),
	}
	probe := strings.ReplaceAll(beaconProbe, "REPEAT", strconv.Itoa(beaconRepeat))

	script := map[string][]float64{}
	var beaconMS, meanMS []float64
	for i := 0; i < b.N; i++ {
		for range runs {
			for _, v := range []string{"with", "without"} {
				h := variants[v]
				ctx, stop, err := launchBrowser()
				if err != nil {
					b.Fatal(err)
				}
				err = chromedp.Run(ctx, chromedp.ActionFunc(func(ctx context.Context) error {
					_, err := page.AddScriptToEvaluateOnNewDocument(probe).Do(ctx)
					return err
				}))
				var r benchRun
				if err == nil {
					r, err = benchPage(ctx, h, h.portalURL("bench.html", "banner=ours"), "ours", false, false, 500*time.Millisecond)
				}
				var ms float64
				var n int
				var rep struct {
					MS float64
					OK int
				}
				if err == nil {
					err = chromedp.Run(ctx, chromedp.Evaluate(`window.__beaconMS`, &ms), chromedp.Evaluate(`window.__beacons`, &n))
				}
				if err == nil && v == "with" && n == 1 {
					err = chromedp.Run(ctx, chromedp.Evaluate(`window.__beaconRepeat()`, &rep))
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
					if rep.OK != beaconRepeat {
						b.Fatalf("%d of the %d repeated beacons accepted: the mean would time refusals", rep.OK, beaconRepeat)
					}
					beaconMS = append(beaconMS, ms)
					meanMS = append(meanMS, rep.MS)
				}
			}
		}
	}
	with, without := median(script["with"]), median(script["without"])
	b.ReportMetric(median(beaconMS), "beacon-ms")
	b.ReportMetric(median(meanMS), "beacon-repeat-ms")
	b.ReportMetric(with, "script-ms-with")
	b.ReportMetric(without, "script-ms-without")
	b.ReportMetric(float64(brWith-brWithout), "beacon-brotli-B")
	b.Logf("first visit, %d cold runs each: first sendBeacon call median %.3f ms (max %.3f; coarsened clock), mean of %d more calls median %.4f ms (max %.4f); ScriptDuration median %.1f ms with the beacon, %.1f ms without; ui.js %d bytes brotli with the beacon, %d without (%+d)",
		len(beaconMS), median(beaconMS), maxOf(beaconMS), beaconRepeat, median(meanMS), maxOf(meanMS), with, without, brWith, brWithout, brWith-brWithout)
}

func maxOf(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
