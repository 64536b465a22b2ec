package bench

import (
	"bytes"
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/servertest"
	"github.com/portalconsent/portalconsent/web"
)

// beaconRepeat is how many calls the probe times together: their bodies
// (about 40 bytes each) stay well within the keepalive quota (64 KiB).
const beaconRepeat = 200

// impressionParts are the statements of ui.js that send the impression,
// each replaced by what ui.js would be without it: the benchmark builds that
// ui.js to weigh the impression in brotli bytes. A part not found fails the
// benchmark (ui.js changed: update them).
var impressionParts = []struct{ code, without string }{
	{`impression = [consentHost + "portals/" + p.id + "/impressions", JSON.stringify({ revision: p.revision, lang: texts.lang })];
      (window.requestIdleCallback || setTimeout)(beacon);`, ""},
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

// BenchmarkImpressionBeacon measures the impression beacon's cost on a
// first visit, from cold browsers (BENCH_RUNS each, default 11), on a fast
// and on a metered network (Save-Data): the page sends it with
// navigator.sendBeacon once idle (the app, fetched only on intent, is not
// there to send it off the main thread), whose main-thread time the probe
// measures (performance.now, coarsened to 0.1 ms), with the
// mean of beaconRepeat more calls once the page load is measured (see
// harness.BeaconProbe). Each run checks the consent host counted one impression. It
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
		s, err := server.New(harness.Policies, fsys)
		if err != nil {
			b.Fatal(err)
		}
		return brotliSize(b, s, "ui.js")
	}
	brWith, brWithout := uiBrotli(web.Files()), uiBrotli(withoutBeacon{web.Files(), without})
	store := &servertest.CountingStore{Store: servertest.OpenStore(b)}
	h := harness.StartHostsFS(b, web.Files(), []server.Option{server.WithReceipts(store), server.WithRateLimit(0, 0)})
	probe := strings.ReplaceAll(harness.BeaconProbe, "REPEAT", strconv.Itoa(beaconRepeat))

	calls := map[string][]float64{}
	ms := map[string][]float64{}
	var meanMS []float64
	for i := 0; i < b.N; i++ {
		for range runs {
			for _, network := range []string{"fast", "metered"} {
				ctx, stop, err := harness.LaunchBrowser()
				if err != nil {
					b.Fatal(err)
				}
				before := store.Impressions()
				served := h.WasmServed()
				err = chromedp.Run(ctx, chromedp.ActionFunc(func(ctx context.Context) error {
					_, err := page.AddScriptToEvaluateOnNewDocument(probe).Do(ctx)
					return err
				}))
				if err == nil && network == "metered" {
					err = chromedp.Run(ctx, harness.WithConnection(`{saveData: true, effectiveType: "4g"}`))
				}
				if err == nil {
					_, err = benchPage(ctx, h, h.PortalURL("bench.html", "banner=ours"), "ours", false, false, 500*time.Millisecond)
				}
				// The impression is sent by then: in the idle callback after
				// the banner.
				for deadline := time.Now().Add(10 * time.Second); err == nil && store.Impressions() == before && time.Now().Before(deadline); {
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
				if got := store.Impressions() - before; got < 1 {
					b.Fatalf("%s network: no impression counted", network)
				}
				if h.WasmServed() != served {
					b.Fatalf("%s network: the wasm was fetched without intent", network)
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

// brotliSize returns the size of the asset name (e.g. "ui.js", served at
// /assets/ui.HASH.js) as srv serves it to a browser that accepts brotli. It
// fails b if srv has no such asset or does not serve it with brotli.
func brotliSize(b *testing.B, srv *server.Server, name string) int {
	ext := path.Ext(name)
	prefix := "GET /assets/" + strings.TrimSuffix(name, ext) + "."
	for _, p := range srv.Patterns() {
		if !strings.HasPrefix(p, prefix) || !strings.HasSuffix(p, ext) || strings.Count(p[len(prefix):], ".") != 1 {
			continue
		}
		req := httptest.NewRequest("GET", strings.TrimPrefix(p, "GET "), nil)
		req.Header.Set("Accept-Encoding", "br")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Encoding") != "br" {
			b.Fatalf("%s: %d, Content-Encoding %q, want 200 and br", p, rec.Code, rec.Header().Get("Content-Encoding"))
		}
		return rec.Body.Len()
	}
	b.Fatalf("no route serves %s (%s…%s) among %q", name, prefix, ext, srv.Patterns())
	return 0
}
