package server

// Benchmarks, run by `make bench` (never by `make test`): our banner against
// vanilla-cookieconsent 3.1.0 on the same portal page, in headless Chromium on
// loopback, and the server under load from wrk. Figures are medians over
// BENCH_RUNS cold runs (a fresh browser profile each), compared as ratios
// within one run.

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/web"
)

// benchProbe runs in the portal page (not in frames) from the first byte: it
// records long tasks and layout shifts, the moment the banner is visible and,
// when asked, clicks Accept at once and records when the choice's cookie is
// written.
const benchProbe = `(() => {
  if (window !== top) return;
  const B = window.__bench = { visible: -1, clicked: -1, honoured: -1, ready: -1, longtasks: [], cls: 0 };
  new PerformanceObserver(l => { for (const e of l.getEntries()) B.longtasks.push(e.duration); }).observe({ type: "longtask", buffered: true });
  new PerformanceObserver(l => { for (const e of l.getEntries()) if (!e.hadRecentInput) B.cls += e.value; }).observe({ type: "layout-shift", buffered: true });
  const kind = "KIND", autoClick = CLICK;
  const cookie = kind === "ours" ? "cookies_preferences=" : "cc_cookie=";
  function accept() {
    if (kind === "ours") {
      const f = document.querySelector("iframe[data-portal-consent]");
      const b = f && f.contentDocument && f.contentDocument.getElementById("pc-accept");
      if (b && getComputedStyle(f).visibility === "visible" && f.getBoundingClientRect().height > 0 && b.getBoundingClientRect().height > 0) {
        if (B.ready < 0 && f.contentWindow.portalConsentConfig) B.ready = performance.now();
        return b;
      }
      return null;
    }
    const m = document.querySelector("#cc-main .cm");
    if (!m || !document.documentElement.classList.contains("show--consent") || m.getBoundingClientRect().height === 0) return null;
    if (B.ready < 0) B.ready = performance.now();
    return m.querySelector('[data-role="all"]');
  }
  function tick() {
    const b = accept();
    if (b && B.visible < 0) {
      B.visible = performance.now();
      if (autoClick) { B.clicked = performance.now(); b.click(); }
    }
    if (B.clicked >= 0 && B.honoured < 0 && document.cookie.includes(cookie)) B.honoured = performance.now();
    if (B.clicked >= 0 ? B.honoured < 0 : B.ready < 0) setTimeout(tick, 2);
  }
  tick();
})()`

// benchRun is what one cold page load measured.
type benchRun struct {
	Visible, Clicked, Honoured, Ready float64 // ms since navigation start
	Longtasks                         []float64
	CLS                               float64
	Bytes                             float64 // bytes received for the whole page load
	ScriptMS                          float64 // main-thread JavaScript time of the whole page load
	Wasm                              int     // wasm responses
}

// benchPage loads url in the browser of ctx and measures it. kind is "ours",
// "vanilla" or "none"; click makes the probe click Accept as soon as the
// banner is visible; settle is how long to let the page run after load.
func benchPage(ctx context.Context, url, kind string, click bool, settle time.Duration) (benchRun, error) {
	var (
		mu    sync.Mutex
		urls  = map[network.RequestID]string{}
		bytes float64
		wasm  int
	)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chromedp.ListenTarget(lctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventResponseReceived:
			urls[ev.RequestID] = ev.Response.URL
		case *network.EventLoadingFinished:
			bytes += ev.EncodedDataLength
			if strings.HasSuffix(urls[ev.RequestID], ".wasm") {
				wasm++
			}
		}
	})
	probe := strings.NewReplacer("KIND", kind, "CLICK", strconv.FormatBool(click)).Replace(benchProbe)
	var r benchRun
	var before, after []*performance.Metric
	err := chromedp.Run(ctx,
		network.Enable(),
		performance.Enable(),
		chromedp.ActionFunc(func(ctx context.Context) error {
			_, err := page.AddScriptToEvaluateOnNewDocument(probe).Do(ctx)
			return err
		}),
		chromedp.ActionFunc(func(ctx context.Context) error {
			var err error
			before, err = performance.GetMetrics().Do(ctx)
			return err
		}),
		chromedp.Navigate(url),
		chromedp.ActionFunc(func(ctx context.Context) error {
			deadline := time.Now().Add(15 * time.Second)
			for time.Now().Before(deadline) {
				var done bool
				cond := `true`
				if kind != "none" {
					cond = `__bench.visible >= 0 && (__bench.clicked < 0 ? __bench.ready >= 0 : __bench.honoured >= 0)`
				}
				if err := chromedp.Evaluate(cond, &done).Do(ctx); err != nil {
					return err
				}
				if done {
					return nil
				}
				time.Sleep(20 * time.Millisecond)
			}
			var state string
			chromedp.Evaluate(`JSON.stringify(window.__bench) + " frames:" + document.querySelectorAll("iframe").length`, &state).Do(ctx)
			return fmt.Errorf("%s: the banner did not show within 15s (%s)", url, state)
		}),
		chromedp.Sleep(settle),
		chromedp.Evaluate(`({Visible: __bench.visible, Clicked: __bench.clicked, Honoured: __bench.honoured,
			Ready: __bench.ready, Longtasks: __bench.longtasks, CLS: __bench.cls})`, &r),
		chromedp.ActionFunc(func(ctx context.Context) error {
			var err error
			after, err = performance.GetMetrics().Do(ctx)
			return err
		}),
	)
	mu.Lock()
	r.Bytes, r.Wasm = bytes, wasm
	mu.Unlock()
	r.ScriptMS = 1000 * (metric(after, "ScriptDuration") - metric(before, "ScriptDuration"))
	return r, err
}

func metric(ms []*performance.Metric, name string) float64 {
	for _, m := range ms {
		if m.Name == name {
			return m.Value
		}
	}
	return 0
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// vendorHost serves vanilla-cookieconsent's dist files (VANILLA_DIR, which
// `make bench` installs from npm) brotli- and gzip-compressed, like a CDN.
func vendorHost(b *testing.B) *httptest.Server {
	dir := os.Getenv("VANILLA_DIR")
	if dir == "" {
		b.Skip("VANILLA_DIR is not set: run `make bench`, which installs vanilla-cookieconsent 3.1.0 from npm")
	}
	mux := http.NewServeMux()
	for _, f := range []struct{ name, ct string }{
		{"cookieconsent.umd.js", "text/javascript; charset=utf-8"},
		{"cookieconsent.css", "text/css; charset=utf-8"},
	} {
		raw, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			b.Fatal(err)
		}
		a, err := newAsset(f.name, raw, f.ct, false, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		mux.Handle("GET /"+f.name, a)
	}
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkBanner compares, in one run, our banner and vanilla-cookieconsent
// on the same portal page: cold first visits (visible, click honoured, bytes,
// long tasks, layout shift) and returning visits (bytes, wasm, main-thread
// JavaScript beyond the bare page's).
func BenchmarkBanner(b *testing.B) {
	runs := 11
	if n, err := strconv.Atoi(os.Getenv("BENCH_RUNS")); err == nil && n > 0 {
		runs = n
	}
	h := startHosts(b)
	h.vendorURL = strings.Replace(vendorHost(b).URL, "127.0.0.1", "localhost", 1)
	kinds := []string{"ours", "vanilla", "none"}
	type series map[string][]float64
	cold := map[string]series{}
	back := map[string]series{}
	for _, k := range kinds {
		cold[k], back[k] = series{}, series{}
	}
	add := func(s series, r benchRun) {
		s["visible"] = append(s["visible"], r.Visible)
		s["ready"] = append(s["ready"], r.Ready)
		s["honoured"] = append(s["honoured"], r.Honoured)
		s["bytes"] = append(s["bytes"], r.Bytes)
		s["script"] = append(s["script"], r.ScriptMS)
		s["wasm"] = append(s["wasm"], float64(r.Wasm))
		s["cls"] = append(s["cls"], r.CLS)
		long, worst := 0.0, 0.0
		for _, d := range r.Longtasks {
			if d > 50 {
				long++
			}
			worst = max(worst, d)
		}
		s["longtasks"] = append(s["longtasks"], long)
		s["worsttask"] = append(s["worsttask"], worst)
	}
	for i := 0; i < b.N; i++ {
		for run := 0; run < runs; run++ {
			for _, k := range kinds {
				url := h.portalURL("bench.html", "banner="+k)
				// A cold visit without a click: first paint, app ready, bytes,
				// long tasks, layout shift.
				ctx, stop, err := launchBrowser()
				if err != nil {
					b.Fatal(err)
				}
				r, err := benchPage(ctx, url, k, false, 500*time.Millisecond)
				stop()
				if err != nil {
					b.Fatal(err)
				}
				add(cold[k], r)
				// A cold visit clicking Accept as soon as the banner shows, then
				// the same visitor returning (warm cache).
				ctx, stop, err = launchBrowser()
				if err != nil {
					b.Fatal(err)
				}
				r, err = benchPage(ctx, url, k, k != "none", 300*time.Millisecond)
				if err == nil {
					cold[k]["click"] = append(cold[k]["click"], r.Honoured)
					r, err = benchPage(ctx, url, "none", false, 500*time.Millisecond)
					add(back[k], r)
				}
				stop()
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	m := func(s series, key string) float64 { return median(s[key]) }
	ratio := func(a, v float64) string {
		if v == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f×", a/v)
	}
	ours, van, none := cold["ours"], cold["vanilla"], cold["none"]
	rows := []struct {
		name       string
		o, v       float64
		unit, goal string
	}{
		{"first visit: banner visible", m(ours, "visible"), m(van, "visible"), "ms", "≤ 0.8×"},
		{"first visit: Accept honoured (clicked when visible)", m(ours, "click"), m(van, "click"), "ms", "≤ 1.5×"},
		{"first visit: banner fully interactive (our app running)", m(ours, "ready"), m(van, "ready"), "ms", ""},
		{"first visit: bytes on the wire (beyond the bare page)", m(ours, "bytes") - m(none, "bytes"), m(van, "bytes") - m(none, "bytes"), "B", ""},
		{"first visit: main-thread JavaScript (beyond the bare page)", m(ours, "script") - m(none, "script"), m(van, "script") - m(none, "script"), "ms", ""},
		{"first visit: long tasks > 50 ms", m(ours, "longtasks"), m(van, "longtasks"), "", "0"},
		{"first visit: longest task", m(ours, "worsttask"), m(van, "worsttask"), "ms", ""},
		{"first visit: cumulative layout shift", m(ours, "cls"), m(van, "cls"), "", "0"},
		{"returning: bytes fetched (beyond the bare page)", m(back["ours"], "bytes") - m(back["none"], "bytes"), m(back["vanilla"], "bytes") - m(back["none"], "bytes"), "B", ""},
		{"returning: wasm responses", m(back["ours"], "wasm"), m(back["vanilla"], "wasm"), "", "0"},
		{"returning: main-thread JavaScript (beyond the bare page)", m(back["ours"], "script") - m(back["none"], "script"), m(back["vanilla"], "script") - m(back["none"], "script"), "ms", "≤ 0.5×"},
	}
	fmt.Printf("\nMedians of %d cold runs per banner, headless Chromium on loopback (%s):\n\n", runs, time.Now().UTC().Format("2006-01-02"))
	fmt.Println("| metric | portal-consent | vanilla-cookieconsent 3.1.0 | ratio | target |")
	fmt.Println("|---|---:|---:|---:|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %.1f %s | %.1f %s | %s | %s |\n", r.name, r.o, r.unit, r.v, r.unit, ratio(r.o, r.v), r.goal)
	}
	fmt.Println()
	b.ReportMetric(m(ours, "visible"), "visible-ms")
	b.ReportMetric(m(ours, "click"), "click-ms")
	b.ReportMetric(m(van, "visible"), "vanilla-visible-ms")
	b.ReportMetric(m(van, "click"), "vanilla-click-ms")
}

// BenchmarkServerLoad drives the real handler with wrk (Debian's package) on
// loopback: requests per second and p99 latency for the loader and for a
// portal's configuration, brotli accepted, 64 connections, 10 s each.
func BenchmarkServerLoad(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk is not installed: run `make bench`, which installs it (apt-get install wrk)")
	}
	srv, err := New(testPolicies, web.Files())
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	rps := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	p99 := regexp.MustCompile(`99%\s+([0-9.]+)(us|ms|s)`)
	fmt.Println("\n| endpoint | requests/s | p99 latency |\n|---|---:|---:|")
	for i := 0; i < b.N; i++ {
		for _, path := range []string{"/embed.js", "/portals/mtran/config.json"} {
			out, err := exec.Command(wrk, "-t2", "-c64", "-d10s", "--latency",
				"-H", "Accept-Encoding: br, gzip", ts.URL+path).CombinedOutput()
			if err != nil {
				b.Fatalf("wrk: %v\n%s", err, out)
			}
			r, l := rps.FindSubmatch(out), p99.FindSubmatch(out)
			if r == nil || l == nil {
				b.Fatalf("cannot read wrk's output:\n%s", out)
			}
			lat, _ := strconv.ParseFloat(string(l[1]), 64)
			switch string(l[2]) {
			case "us":
				lat /= 1000
			case "s":
				lat *= 1000
			}
			reqs, _ := strconv.ParseFloat(string(r[1]), 64)
			fmt.Printf("| %s | %.0f | %.2f ms |\n", path, reqs, lat)
			b.ReportMetric(reqs, strings.Trim(strings.ReplaceAll(path, "/", "_"), "_")+"-req/s")
		}
	}
	fmt.Println()
}
