package bench

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
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/web"
)

// benchProbe runs in the portal page (not in frames) from the first byte: it
// records long tasks and layout shifts, the moment the banner is visible and,
// when asked, clicks Accept at once and records when the choice's cookie is
// written.
const benchProbe = `(() => {
  if (window !== top) return;
  const B = window.__bench = { visible: -1, clicked: -1, honoured: -1, intent: -1, running: -1, longtasks: [], cls: 0 };
  new PerformanceObserver(l => { for (const e of l.getEntries()) B.longtasks.push([e.startTime, e.duration]); }).observe({ type: "longtask", buffered: true });
  new PerformanceObserver(l => { for (const e of l.getEntries()) if (!e.hadRecentInput) B.cls += e.value; }).observe({ type: "layout-shift", buffered: true });
  const kind = "KIND", autoClick = CLICK;
  const cookie = kind === "ours" ? "cookies_preferences=" : "cc_cookie=";
  function accept() {
    if (kind === "ours") {
      // The server's banner, in a shadow root of the page until the app runs.
      const h = document.querySelector("div[data-portal-consent]");
      const b = h && h.shadowRoot && h.shadowRoot.getElementById("pc-accept");
      return b && getComputedStyle(h).visibility === "visible" && b.getBoundingClientRect().height > 0 ? b : null;
    }
    const m = document.querySelector("#cc-main .cm");
    if (!m || !document.documentElement.classList.contains("show--consent") || m.getBoundingClientRect().height === 0) return null;
    return m.querySelector('[data-role="all"]');
  }
  // The bare page has no banner to wait for: only the observers.
  if (kind === "none") return;
  function tick() {
    const b = accept();
    if (b && B.visible < 0) {
      B.visible = performance.now();
      if (autoClick) { B.clicked = performance.now(); b.click(); }
    }
    if (B.clicked >= 0 && B.honoured < 0 && document.cookie.includes(cookie)) B.honoured = performance.now();
    if (B.visible < 0 || (B.clicked >= 0 && B.honoured < 0)) setTimeout(tick, 2);
  }
  tick();
  // intent is what a pointer entering the banner does: our app starts.
  B.showIntent = () => {
    const h = document.querySelector("div[data-portal-consent]");
    B.intent = performance.now();
    h.shadowRoot.querySelector(".pc-banner").dispatchEvent(new PointerEvent("pointerover", { bubbles: true }));
    (function wait() {
      const f = document.querySelector("iframe[data-portal-consent]");
      if (f && f.contentWindow.portalConsentRunning) B.running = performance.now();
      else setTimeout(wait, 2);
    })();
  };
})()`

// benchRun is what one cold page load measured.
type benchRun struct {
	Visible, Clicked, Honoured float64 // ms since navigation start
	Intent, Running            float64 // ms since navigation start (ours: intent shown, app running)
	Longtasks                  [][2]float64
	CLS                        float64
	Bytes                      float64 // bytes received for the whole page load
	ScriptMS                   float64 // main-thread JavaScript time of the whole page load
	Wasm                       int     // wasm responses
	Requests                   int     // the page's requests to the banners' hosts (Resource Timing: from the HTTP cache too)
}

// benchPage loads url in the browser of ctx and measures it. kind is "ours",
// "vanilla" or "none"; click makes the probe click Accept as soon as the
// banner is visible; settle is how long to let the page run after that; intent
// then (ours only) shows intent and waits for the app to run.
func benchPage(ctx context.Context, h *harness.Hosts, url, kind string, click, intent bool, settle time.Duration) (benchRun, error) {
	sent := h.BytesSent()
	wasm := h.WasmRequests()
	probe := strings.NewReplacer("KIND", kind, "CLICK", strconv.FormatBool(click)).Replace(benchProbe)
	var r benchRun
	var after []*performance.Metric
	// The probe is this page load's: it goes before the next one (each would
	// otherwise run in every later page of the tab).
	var probeID page.ScriptIdentifier
	defer func() {
		if probeID != "" {
			chromedp.Run(ctx, page.RemoveScriptToEvaluateOnNewDocument(probeID))
		}
	}()
	err := chromedp.Run(ctx,
		performance.Enable(),
		chromedp.ActionFunc(func(ctx context.Context) error {
			var err error
			probeID, err = page.AddScriptToEvaluateOnNewDocument(probe).Do(ctx)
			return err
		}),
		chromedp.Navigate(url),
		chromedp.ActionFunc(func(ctx context.Context) error {
			deadline := time.Now().Add(15 * time.Second)
			for time.Now().Before(deadline) {
				var done bool
				cond := `document.readyState === "complete"`
				if kind != "none" {
					cond = `__bench.visible >= 0 && (__bench.clicked < 0 || __bench.honoured >= 0)`
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
		chromedp.ActionFunc(func(ctx context.Context) error {
			if !intent {
				return nil
			}
			if err := chromedp.Evaluate(`__bench.showIntent()`, nil).Do(ctx); err != nil {
				return err
			}
			for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				var ok bool
				if err := chromedp.Evaluate(`__bench.running >= 0`, &ok).Do(ctx); err != nil || ok {
					return err
				}
			}
			return fmt.Errorf("%s: the app did not run within 15s of intent", url)
		}),
		chromedp.Evaluate(`({Visible: __bench.visible, Clicked: __bench.clicked, Honoured: __bench.honoured,
			Intent: __bench.intent, Running: __bench.running, Longtasks: __bench.longtasks, CLS: __bench.cls,
			Requests: performance.getEntriesByType("resource").filter((e) => [`+harness.JSString(h.ConsentURL+"/")+`, `+harness.JSString(h.VendorURL+"/")+`].some((o) => e.name.startsWith(o))).length})`, &r),
		chromedp.ActionFunc(func(ctx context.Context) error {
			var err error
			after, err = performance.GetMetrics().Do(ctx)
			return err
		}),
	)
	// Counted by the hosts, whatever fetched them (the page, its frames or a
	// worker).
	r.Bytes = float64(h.BytesSent() - sent)
	r.Wasm = h.WasmRequests() - wasm
	// Chromium's metrics are the current document's: they restart with each
	// navigation.
	r.ScriptMS = 1000 * metric(after, "ScriptDuration")
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
// `make bench` installs from npm) and the bench's floor (testdata/floor.js)
// brotli- and gzip-compressed, like a CDN.
func vendorHost(b *testing.B, h *harness.Hosts) *httptest.Server {
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
		mux.Handle("GET /"+f.name, cdnFile(b, raw, f.ct))
	}
	// The bench's floor (testdata/floor.js): the least a loader does.
	raw, err := os.ReadFile("testdata/floor.js")
	if err != nil {
		b.Fatal(err)
	}
	mux.Handle("GET /floor.js", cdnFile(b, raw, "text/javascript; charset=utf-8"))
	srv := httptest.NewServer(h.Counting(mux))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkBanner compares, in one run, our banner and vanilla-cookieconsent
// on the same portal page, each from a cold browser:
//   - a first visit left alone for two seconds: banner visible, bytes, long
//     tasks, layout shift; then (ours) intent, and the time until the app runs;
//   - a first visit clicking Accept as soon as the banner is visible: when the
//     choice is stored;
//   - the same visitor returning (warm cache), alternating with the bare page
//     in the same browser: bytes fetched, wasm, and main-thread time beyond the
//     bare page's.
func BenchmarkBanner(b *testing.B) {
	runs := 11
	if n, err := strconv.Atoi(os.Getenv("BENCH_RUNS")); err == nil && n > 0 {
		runs = n
	}
	h := harness.StartHosts(b)
	h.VendorURL = strings.Replace(vendorHost(b, h).URL, "127.0.0.1", "localhost", 1)
	bare := h.PortalURL("bench.html", "banner=none")
	s := map[string]map[string][]float64{"ours": {}, "vanilla": {}, "none": {}}
	add := func(kind, key string, v float64) { s[kind][key] = append(s[kind][key], v) }
	longTasks := func(r benchRun, from, to float64) (n, worst float64) {
		for _, t := range r.Longtasks {
			// Entries start on whole milliseconds: a task that starts with the
			// intent belongs to it.
			if t[0] >= from-1 && t[0] < to-1 && t[1] > 50 {
				n++
			}
			if t[0] >= from-1 && t[0] < to-1 {
				worst = max(worst, t[1])
			}
		}
		return n, worst
	}
	for i := 0; i < b.N; i++ {
		for run := 0; run < runs; run++ {
			for _, kind := range []string{"ours", "vanilla", "none"} {
				url := h.PortalURL("bench.html", "banner="+kind)
				ctx, stop, err := harness.LaunchBrowser()
				if err != nil {
					b.Fatal(err)
				}
				r, err := benchPage(ctx, h, url, kind, false, kind == "ours", 2*time.Second)
				stop()
				if err != nil {
					b.Fatal(err)
				}
				add(kind, "visible", r.Visible)
				add(kind, "bytes", r.Bytes)
				add(kind, "cls", r.CLS)
				end := math.Inf(1)
				if kind == "ours" {
					end = r.Intent
					add(kind, "running", r.Running-r.Intent)
					n, worst := longTasks(r, r.Intent, math.Inf(1))
					add(kind, "intenttasks", n)
					add(kind, "intentworst", worst)
				}
				n, worst := longTasks(r, 0, end)
				add(kind, "longtasks", n)
				add(kind, "worst", worst)
				if kind == "none" {
					continue
				}

				ctx, stop, err = harness.LaunchBrowser()
				if err != nil {
					b.Fatal(err)
				}
				r, err = benchPage(ctx, h, url, kind, true, false, 300*time.Millisecond)
				if err == nil {
					add(kind, "click", r.Honoured)
					add(kind, "clickvisible", r.Visible)
					// Returning: alternate the bare page and the banner's page.
					var task, bareTask, bytes, wasm, reqs []float64
					for j := 0; j < 5 && err == nil; j++ {
						var rb, rr benchRun
						if rb, err = benchPage(ctx, h, bare, "none", false, false, 300*time.Millisecond); err != nil {
							break
						}
						if rr, err = benchPage(ctx, h, url, "none", false, false, 300*time.Millisecond); err != nil {
							break
						}
						bareTask = append(bareTask, rb.ScriptMS)
						task = append(task, rr.ScriptMS)
						bytes = append(bytes, rr.Bytes-rb.Bytes)
						wasm = append(wasm, float64(rr.Wasm))
						reqs = append(reqs, float64(rr.Requests))
					}
					add(kind, "backtask", median(task)-median(bareTask))
					add(kind, "backbytes", median(bytes))
					add(kind, "backwasm", median(wasm))
					add(kind, "backreqs", median(reqs))
				}
				stop()
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	m := func(kind, key string) float64 { return median(s[kind][key]) }
	ratio := func(a, v float64) string {
		if v == 0 || math.IsNaN(a) || math.IsNaN(v) {
			return "—"
		}
		return fmt.Sprintf("%.2f×", a/v)
	}
	na := math.NaN()
	rows := []struct {
		name       string
		o, v       float64
		unit, goal string
	}{
		{"first visit: banner visible", m("ours", "visible"), m("vanilla", "visible"), "ms", "≤ 0.8×"},
		{"first visit: Accept honoured (clicked as soon as visible)", m("ours", "click"), m("vanilla", "click"), "ms", "≤ 1.5×"},
		{"first visit: response bytes beyond the bare page (ours: the wasm fetched on intent)", m("ours", "bytes") - m("none", "bytes"), m("vanilla", "bytes") - m("none", "bytes"), "B", ""},
		{"first visit: long tasks > 50 ms on the portal (2 s)", m("ours", "longtasks"), m("vanilla", "longtasks"), "", "0"},
		{"first visit: longest task (2 s)", m("ours", "worst"), m("vanilla", "worst"), "ms", ""},
		{"first visit: cumulative layout shift", m("ours", "cls"), m("vanilla", "cls"), "", "0"},
		{"ours: intent → Go app running", m("ours", "running"), na, "ms", ""},
		{"ours: long tasks > 50 ms after intent (app start)", m("ours", "intenttasks"), na, "", ""},
		{"ours: longest task after intent (app start)", m("ours", "intentworst"), na, "ms", ""},
		{"returning: response bytes beyond the bare page (warm cache)", m("ours", "backbytes"), m("vanilla", "backbytes"), "B", ""},
		{"returning: wasm responses", m("ours", "backwasm"), m("vanilla", "backwasm"), "", "0"},
		{"returning: the page's requests to the banner's hosts (from the HTTP cache too)", m("ours", "backreqs"), m("vanilla", "backreqs"), "", "ours 2"},
		{"returning: main-thread JavaScript beyond the bare page", m("ours", "backtask"), m("vanilla", "backtask"), "ms", "≤ 0.5×"},
	}
	fmt.Printf("\nMedians of %d cold runs per banner, headless Chromium %s on loopback, %s:\n\n", runs, chromiumVersion(), time.Now().UTC().Format("2006-01-02"))
	fmt.Println("| metric | portal-consent | vanilla-cookieconsent 3.1.0 | ratio | target |")
	fmt.Println("|---|---:|---:|---:|---|")
	for _, r := range rows {
		v := fmt.Sprintf("%.1f %s", r.v, r.unit)
		if math.IsNaN(r.v) {
			v = "—"
		}
		fmt.Printf("| %s | %.1f %s | %s | %s | %s |\n", r.name, r.o, r.unit, v, ratio(r.o, r.v), r.goal)
	}
	fmt.Println()
	b.ReportMetric(m("ours", "visible"), "visible-ms")
	b.ReportMetric(m("ours", "click"), "click-ms")
	b.ReportMetric(m("vanilla", "visible"), "vanilla-visible-ms")
	b.ReportMetric(m("vanilla", "click"), "vanilla-click-ms")
}

// chromiumVersion returns what Chromium says of its version, or "?".
func chromiumVersion() string {
	out, err := exec.Command(harness.ChromiumPath, "--version").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

// BenchmarkServerLoad drives the real handler with wrk (Debian's package) on
// loopback: requests per second and p99 latency for the loader and for a
// portal's configuration, brotli accepted, 64 connections, 10 s each.
func BenchmarkServerLoad(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk is not installed: run `make bench`, which installs it (apt-get install wrk)")
	}
	srv, err := server.New(harness.Policies, web.Files())
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
