package server

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/web"
)

// beaconProbe wraps the page's navigator.sendBeacon to time, on the main
// thread, the impression beacon ui.js sends from the page (performance.now, coarsened to
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

// impressionParts are the statements of ui.js that send the impression,
// each replaced by what ui.js would be without it: the benchmark builds that
// ui.js to weigh the impression in brotli bytes. A part not found fails the
// benchmark (ui.js changed: update them).
var impressionParts = []struct{ code, without string }{
	{`impression = [consentHost + "portals/" + p.id + "/impressions", JSON.stringify({ revision: p.revision, lang: texts.lang })];
      if (slow) (window.requestIdleCallback || setTimeout)(beacon);`, ""},
	{`"d[3]&&(fetch(d[3],{method:'POST',body:d[4],keepalive:!0,mode:'no-cors',credentials:'omit'}).catch(x=>0),postMessage('i'));" +`, ""},
	{`.concat(handed || [])`, ""},
	{`      try {
        if (impression) navigator.sendBeacon(impression[0], impression[1]);
      } catch {}
      impression = null;`, ""},
}

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

// countingStore counts the impressions a receipts store records.
type countingStore struct {
	receipts.Store
	n atomic.Int64
}

func (c *countingStore) CountImpression(ctx context.Context, portal string, revision int64, lang string, at time.Time) error {
	c.n.Add(1)
	return c.Store.CountImpression(ctx, portal, revision, lang, at)
}

// BenchmarkImpressionBeacon measures the impression beacon's cost on a
// first visit, from cold browsers (BENCH_RUNS each, default 11): on a fast
// network the worker that prefetches the app sends it, so the page's main
// thread makes no call for it; on a metered network (Save-Data: no worker)
// the page sends it with navigator.sendBeacon once idle, whose main-thread
// time the probe measures (performance.now, coarsened to 0.1 ms), with the
// mean of beaconRepeat more calls once the page load is measured (see
// beaconProbe). Each run checks the consent host counted one impression. It
// also reports ui.js's brotli size as served with and without the beacon's
// code (impressionParts). The consent host keeps receipts in SQLite, so the
// beacon is counted as in production.
func BenchmarkImpressionBeacon(b *testing.B) {
	runs := 11
	if n, err := strconv.Atoi(os.Getenv("BENCH_RUNS")); err == nil && n > 0 {
		runs = n
	}
	real, err := fs.ReadFile(web.Files(), "ui.js")
	if err != nil {
		b.Fatal(err)
	}
	without := real
	for _, p := range impressionParts {
		if n := bytes.Count(without, []byte(p.code)); n != 1 {
			b.Fatalf("ui.js has %d copies of the beacon's %.50q, want 1: update impressionParts", n, p.code)
		}
		without = bytes.Replace(without, []byte(p.code), []byte(p.without), 1)
	}
	uiBrotli := func(fsys fs.FS) int {
		s, err := New(testPolicies, fsys)
		if err != nil {
			b.Fatal(err)
		}
		return len(s.ui.br)
	}
	brWith, brWithout := uiBrotli(web.Files()), uiBrotli(withoutBeacon{web.Files(), without})
	store := &countingStore{Store: openTestStore(b)}
	h := startHostsFS(b, web.Files(), []Option{WithReceipts(store), WithRateLimit(0, 0)})
	probe := strings.ReplaceAll(beaconProbe, "REPEAT", strconv.Itoa(beaconRepeat))

	calls := map[string][]float64{}
	ms := map[string][]float64{}
	var meanMS []float64
	for i := 0; i < b.N; i++ {
		for range runs {
			for _, network := range []string{"fast", "metered"} {
				ctx, stop, err := launchBrowser()
				if err != nil {
					b.Fatal(err)
				}
				before := store.n.Load()
				served := h.wasmServed()
				err = chromedp.Run(ctx, chromedp.ActionFunc(func(ctx context.Context) error {
					_, err := page.AddScriptToEvaluateOnNewDocument(probe).Do(ctx)
					return err
				}))
				if err == nil && network == "metered" {
					err = chromedp.Run(ctx, withConnection(`{saveData: true, effectiveType: "4g"}`))
				}
				if err == nil {
					_, err = benchPage(ctx, h, h.portalURL("bench.html", "banner=ours"), "ours", false, false, 500*time.Millisecond)
				}
				// The impression is sent by then: with the prefetch (fast),
				// or in the idle callback after the banner (metered).
				for deadline := time.Now().Add(10 * time.Second); err == nil && store.n.Load() == before && time.Now().Before(deadline); {
					time.Sleep(20 * time.Millisecond)
				}
				var t float64
				var n int
				var rep struct {
					MS float64
					OK int
				}
				if err == nil {
					err = chromedp.Run(ctx, chromedp.Evaluate(`window.__beaconMS`, &t), chromedp.Evaluate(`window.__beacons`, &n))
				}
				if err == nil && n == 1 {
					err = chromedp.Run(ctx, chromedp.Evaluate(`window.__beaconRepeat()`, &rep))
				}
				stop()
				if err != nil {
					b.Fatal(err)
				}
				if got := store.n.Load() - before; got < 1 {
					b.Fatalf("%s network: no impression counted", network)
				}
				if network == "fast" && h.wasmServed() == served {
					b.Fatalf("fast network: the app was not prefetched")
				}
				calls[network] = append(calls[network], float64(n))
				ms[network] = append(ms[network], t)
				if n == 1 {
					if rep.OK != beaconRepeat {
						b.Fatalf("%d of the %d repeated beacons accepted: the mean would time refusals", rep.OK, beaconRepeat)
					}
					meanMS = append(meanMS, rep.MS)
				}
			}
		}
	}
	b.ReportMetric(median(ms["fast"]), "fast-beacon-ms")
	b.ReportMetric(median(ms["metered"]), "metered-beacon-ms")
	b.ReportMetric(median(meanMS), "beacon-repeat-ms")
	b.ReportMetric(float64(brWith-brWithout), "beacon-brotli-B")
	b.Logf("first visit, %d cold runs each: fast network: %.0f sendBeacon calls in the page (median), %.3f ms; "+
		"metered network: %.0f call, median %.3f ms (max %.3f; coarsened clock), mean of %d more calls median %.4f ms (max %.4f); "+
		"ui.js %d bytes brotli with the beacon, %d without (%+d)",
		len(ms["fast"]), median(calls["fast"]), median(ms["fast"]), median(calls["metered"]), median(ms["metered"]), maxOf(ms["metered"]),
		beaconRepeat, median(meanMS), maxOf(meanMS), brWith, brWithout, brWith-brWithout)
}

func maxOf(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
