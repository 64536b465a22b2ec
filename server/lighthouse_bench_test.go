package server

// The Lighthouse comparison of `make bench` (never `make test`): the bench
// page with no banner, ours and vanilla-cookieconsent 3.1.0, light and with a
// large hero image, each measured by Lighthouse 12.2.3's CLI (default mobile
// settings: simulated slow 4G and 4× CPU, computed from the trace, so loopback
// is fine), and a CPU profile of our first visit under 4× CPU throttling that
// says where the main thread's time goes.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/cdproto/profiler"
	"github.com/chromedp/chromedp"
)

// lighthouseChromeFlags are the flags of the Chromium Lighthouse launches
// (chrome-launcher adds a fresh temporary profile of its own to each run).
const lighthouseChromeFlags = "--headless=new --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync --no-first-run"

// heroPNG is an 800×500 opaque PNG of noise from a fixed seed: the same
// 1.2 MB (noise does not compress) at every run.
func heroPNG() ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, 800, 500))
	rng := rand.New(rand.NewPCG(13, 5))
	for y := 0; y < 500; y++ {
		for x := 0; x < 800; x++ {
			v := rng.Uint32()
			img.SetRGBA(x, y, color.RGBA{uint8(v), uint8(v >> 8), uint8(v >> 16), 255})
		}
	}
	var buf bytes.Buffer
	err := png.Encode(&buf, img)
	return buf.Bytes(), err
}

// benchLoopbackHosts starts the bench hosts with everything on 127.0.0.1
// (Lighthouse is given 127.0.0.1 URLs only): the consent host (named by the
// page's consent= parameter), vanilla-cookieconsent's host and a host serving
// the hero image. It returns the page URL for a banner kind ("none", "ours",
// "vanilla") with or without the hero image, and the banners' origins.
func benchLoopbackHosts(b *testing.B) (h *hosts, pageURL func(kind string, hero bool) string, origins map[string]string) {
	h = startHosts(b)
	h.vendorURL = vendorHost(b, h).URL
	hero, err := heroPNG()
	if err != nil {
		b.Fatal(err)
	}
	img := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/hero.png" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write(hero)
	}))
	b.Cleanup(img.Close)
	pageURL = func(kind string, withHero bool) string {
		q := url.Values{"banner": {kind}, "consent": {h.consent.URL}}
		if withHero {
			q.Set("hero", img.URL+"/hero.png")
		}
		return h.portalURL("bench.html", q.Encode())
	}
	return h, pageURL, map[string]string{"ours": h.consent.URL, "vanilla": h.vendorURL}
}

// lighthouseResult is what one Lighthouse run measured.
type lighthouseResult struct {
	Score, LCP, FCP, TBT float64 // score 0–100, times in ms
	Bytes                float64 // total-byte-weight: bytes transferred for the page load
	BannerBytes          float64 // transferred from the banner's host
	BannerFiles          []string
}

// lighthouse runs Lighthouse's CLI (cli, a path to lighthouse/cli/index.js)
// once on u, performance category only, default mobile settings, and reads
// its JSON report; banner is the banner host's origin ("" for none). A run
// that Lighthouse reports as failed (runtimeError, no score) is an error.
func lighthouse(ctx context.Context, cli, u, banner, dir string) (lighthouseResult, error) {
	out := filepath.Join(dir, "report.json")
	cmd := exec.CommandContext(ctx, "node", cli, u,
		"--only-categories=performance", "--output=json", "--output-path="+out, "--quiet",
		"--chrome-flags="+lighthouseChromeFlags)
	cmd.Env = append(os.Environ(), "CHROME_PATH="+chromiumPath)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return lighthouseResult{}, fmt.Errorf("lighthouse %s: %v\n%s", u, err, msg)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		return lighthouseResult{}, err
	}
	var rep struct {
		RuntimeError *struct{ Code, Message string }
		Categories   struct {
			Performance struct{ Score *float64 }
		}
		Audits map[string]struct {
			NumericValue float64
			Details      struct {
				Items []struct {
					URL          string
					TransferSize float64
				}
			}
		}
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		return lighthouseResult{}, fmt.Errorf("lighthouse report of %s: %v", u, err)
	}
	if rep.RuntimeError != nil && rep.RuntimeError.Code != "" {
		return lighthouseResult{}, fmt.Errorf("lighthouse %s: %s: %s", u, rep.RuntimeError.Code, rep.RuntimeError.Message)
	}
	if rep.Categories.Performance.Score == nil {
		return lighthouseResult{}, fmt.Errorf("lighthouse %s: no performance score", u)
	}
	r := lighthouseResult{
		Score: 100 * *rep.Categories.Performance.Score,
		LCP:   rep.Audits["largest-contentful-paint"].NumericValue,
		FCP:   rep.Audits["first-contentful-paint"].NumericValue,
		TBT:   rep.Audits["total-blocking-time"].NumericValue,
		Bytes: rep.Audits["total-byte-weight"].NumericValue,
	}
	for _, it := range rep.Audits["network-requests"].Details.Items {
		if banner != "" && strings.HasPrefix(it.URL, banner+"/") {
			r.BannerBytes += it.TransferSize
			p, _ := url.Parse(it.URL)
			r.BannerFiles = append(r.BannerFiles, path.Base(p.Path))
		}
	}
	return r, nil
}

// BenchmarkLighthouse runs Lighthouse LIGHTHOUSE_RUNS times (default 5) on
// each variant — the light bench page and the one with a 1.2 MB hero image,
// each with no banner, ours and vanilla-cookieconsent — interleaved so that
// drifts of the machine's load hit every variant alike, and prints the
// medians with ratios within the run. LIGHTHOUSE is the CLI's index.js, which
// `make bench` installs; without it the benchmark is skipped. A run in which
// a banner's script was not fetched fails the benchmark (the banner did not
// load, the figures would be the bare page's).
func BenchmarkLighthouse(b *testing.B) {
	cli := os.Getenv("LIGHTHOUSE")
	if cli == "" {
		b.Skip("LIGHTHOUSE is not set: run `make bench`, which installs lighthouse 12.2.3 from npm")
	}
	runs := 5
	if n, err := strconv.Atoi(os.Getenv("LIGHTHOUSE_RUNS")); err == nil && n > 0 {
		runs = n
	}
	_, pageURL, origins := benchLoopbackHosts(b)
	kinds := []string{"none", "ours", "vanilla"}
	pages := []struct {
		name string
		hero bool
	}{{"light", false}, {"hero", true}}
	// The banner's script, by name (ours is content-hashed: ui.HASH.js).
	mustFetch := map[string]func(string) bool{
		"ours":    func(f string) bool { return strings.HasPrefix(f, "ui.") && strings.HasSuffix(f, ".js") },
		"vanilla": func(f string) bool { return f == "cookieconsent.umd.js" },
	}
	res := map[string][]lighthouseResult{} // by page/kind
	for i := 0; i < b.N; i++ {
		for run := 0; run < runs; run++ {
			for _, pg := range pages {
				for _, kind := range kinds {
					dir := b.TempDir()
					r, err := lighthouse(context.Background(), cli, pageURL(kind, pg.hero), origins[kind], dir)
					if err != nil {
						b.Fatal(err)
					}
					if f := mustFetch[kind]; f != nil && !slices.ContainsFunc(r.BannerFiles, f) {
						b.Fatalf("%s page, %s: Lighthouse saw no banner script among the banner host's requests %v", pg.name, kind, r.BannerFiles)
					}
					res[pg.name+"/"+kind] = append(res[pg.name+"/"+kind], r)
				}
			}
		}
	}
	med := func(key string, f func(lighthouseResult) float64) float64 {
		var xs []float64
		for _, r := range res[key] {
			xs = append(xs, f(r))
		}
		return median(xs)
	}
	ratio := func(a, v float64) string {
		if v == 0 || math.IsNaN(a) || math.IsNaN(v) {
			return "—"
		}
		return fmt.Sprintf("%.2f×", a/v)
	}
	metrics := []struct {
		name, key, unit string
		f               func(lighthouseResult) float64
	}{
		{"score", "score", "", func(r lighthouseResult) float64 { return r.Score }},
		{"LCP", "lcp-ms", "ms", func(r lighthouseResult) float64 { return r.LCP }},
		{"FCP", "fcp-ms", "ms", func(r lighthouseResult) float64 { return r.FCP }},
		{"TBT", "tbt-ms", "ms", func(r lighthouseResult) float64 { return r.TBT }},
		{"total bytes", "bytes", "B", func(r lighthouseResult) float64 { return r.Bytes }},
		{"banner host's bytes", "banner-bytes", "B", func(r lighthouseResult) float64 { return r.BannerBytes }},
	}
	fmt.Printf("\nLighthouse 12.2.3, default mobile settings (simulated slow 4G, 4× CPU), %s on loopback, medians of %d runs, %s:\n\n",
		chromiumVersion(), runs, time.Now().UTC().Format("2006-01-02"))
	fmt.Println("| page | metric | no banner | ours | vanilla-cookieconsent 3.1.0 | ours / none | ours − none | ours / vanilla |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|")
	for _, pg := range pages {
		for _, m := range metrics {
			n, o, v := med(pg.name+"/none", m.f), med(pg.name+"/ours", m.f), med(pg.name+"/vanilla", m.f)
			val := func(x float64) string { return strings.TrimSpace(fmt.Sprintf("%.0f %s", x, m.unit)) }
			fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", pg.name, m.name, val(n), val(o), val(v),
				ratio(o, n), strings.TrimSpace(fmt.Sprintf("%+.0f %s", o-n, m.unit)), ratio(o, v))
			b.ReportMetric(o, pg.name+"-ours-"+m.key)
			b.ReportMetric(n, pg.name+"-none-"+m.key)
			b.ReportMetric(v, pg.name+"-vanilla-"+m.key)
		}
	}
	tbt := func(r lighthouseResult) float64 { return r.TBT }
	lcp := func(r lighthouseResult) float64 { return r.LCP }
	fmt.Println()
	fmt.Println("| target (issue 13) | this run | met |")
	fmt.Println("|---|---:|---|")
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "no"
	}
	lo, lv := med("light/ours", tbt), med("light/vanilla", tbt)
	fmt.Printf("| light page: TBT ours ≤ vanilla's (tarteaucitron is not measured here) | %.0f ms vs %.0f ms | %s |\n", lo, lv, yes(lo <= lv))
	ho, hn := med("hero/ours", lcp), med("hero/none", lcp)
	fmt.Printf("| hero page: LCP ours ≤ 1.01× no banner | %.3f× | %s |\n", ho/hn, yes(ho <= 1.01*hn))
	to, tn := med("hero/ours", tbt), med("hero/none", tbt)
	fmt.Printf("| hero page: TBT ours ≤ no banner + 40 ms | %+.0f ms | %s |\n", to-tn, yes(to <= tn+40))
	fmt.Println()
	fmt.Println("Each run's figures (score / LCP / TBT ms):")
	for _, pg := range pages {
		for _, kind := range kinds {
			var cells []string
			for _, r := range res[pg.name+"/"+kind] {
				cells = append(cells, fmt.Sprintf("%.0f/%.0f/%.0f", r.Score, r.LCP, r.TBT))
			}
			fmt.Printf("  %s %s: %s\n", pg.name, kind, strings.Join(cells, "  "))
		}
	}
	fmt.Println()
}

// cpuCost is one line of a CPU profile summary: self time in ms.
type cpuCost struct {
	Key string
	MS  float64
}

// profileSelfTimes sums a V8 CPU profile's self time (ms) by script file
// (the URL's last path element, "wasm" for WebAssembly, or the profiler's own
// names: "(program)" is the renderer outside JavaScript — parsing, style,
// layout, compilation — and "(garbage collector)") and by file and
// function. Idle time is left out.
func profileSelfTimes(p *profiler.Profile) (byFile, byFunc map[string]float64) {
	byFile, byFunc = map[string]float64{}, map[string]float64{}
	nodes := map[int64]*profiler.ProfileNode{}
	for _, n := range p.Nodes {
		nodes[n.ID] = n
	}
	for i, id := range p.Samples {
		// A sample lasts until the next one.
		if i+1 >= len(p.TimeDeltas) {
			break
		}
		ms := float64(p.TimeDeltas[i+1]) / 1000
		n := nodes[id]
		if n == nil || n.CallFrame == nil || n.CallFrame.FunctionName == "(idle)" {
			continue
		}
		file := n.CallFrame.FunctionName
		if u := n.CallFrame.URL; u != "" {
			if strings.HasPrefix(u, "wasm://") {
				file = "wasm"
			} else if pu, err := url.Parse(u); err == nil {
				file = path.Base(pu.Path)
				if pu.Path == "" || pu.Path == "/" {
					file = u
				}
			}
		}
		fn := n.CallFrame.FunctionName
		if fn == "" {
			fn = "(anonymous)"
		}
		byFile[file] += ms
		byFunc[file+" "+fn] += ms
	}
	return byFile, byFunc
}

// BenchmarkFirstVisitProfile records, PROFILE_RUNS times (default 3), a CPU
// profile of the main thread of the light bench page with our banner on a
// first visit (fresh browser, hosts on 127.0.0.1 as in BenchmarkLighthouse,
// so the banner's frame shares the page's renderer) under 4× CPU throttling,
// from navigation until the banner is visible, the wasm fetched and 2 s more;
// and prints the median self time by script and the top functions, with
// Chromium's layout, style and script durations and the page's long tasks
// (blocking time: each long task's excess over 50 ms). Workers are not in
// the profile: they do not block the main thread.
func BenchmarkFirstVisitProfile(b *testing.B) {
	if os.Getenv("LIGHTHOUSE") == "" && os.Getenv("PROFILE") == "" {
		b.Skip("run by `make bench` (or set PROFILE=1)")
	}
	runs := 3
	if n, err := strconv.Atoi(os.Getenv("PROFILE_RUNS")); err == nil && n > 0 {
		runs = n
	}
	h, pageURL, _ := benchLoopbackHosts(b)
	u := pageURL("ours", false)
	probe := strings.NewReplacer("KIND", "ours", "CLICK", "false").Replace(benchProbe)
	files, funcs, timeline := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	for i := 0; i < b.N; i++ {
		for range runs {
			ctx, stop, err := launchBrowser()
			if err != nil {
				b.Fatal(err)
			}
			wasm := h.wasmRequests()
			var prof *profiler.Profile
			var metrics []*performance.Metric
			var tasks [][2]float64
			err = chromedp.Run(ctx,
				chromedp.ActionFunc(func(ctx context.Context) error {
					if err := emulation.SetCPUThrottlingRate(4).Do(ctx); err != nil {
						return err
					}
					if _, err := page.AddScriptToEvaluateOnNewDocument(probe).Do(ctx); err != nil {
						return err
					}
					if err := performance.Enable().Do(ctx); err != nil {
						return err
					}
					if err := profiler.Enable().Do(ctx); err != nil {
						return err
					}
					if err := profiler.SetSamplingInterval(100).Do(ctx); err != nil {
						return err
					}
					return profiler.Start().Do(ctx)
				}),
				chromedp.Navigate(u),
				chromedp.ActionFunc(func(ctx context.Context) error {
					deadline := time.Now().Add(30 * time.Second)
					for ; time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
						var visible bool
						if err := chromedp.Evaluate(`__bench.visible >= 0`, &visible).Do(ctx); err != nil {
							return err
						}
						if visible && h.wasmRequests() > wasm {
							return nil
						}
					}
					return fmt.Errorf("%s: within 30 s, the banner was not visible or the wasm not fetched", u)
				}),
				chromedp.Sleep(2*time.Second),
				chromedp.ActionFunc(func(ctx context.Context) error {
					var err error
					if prof, err = profiler.Stop().Do(ctx); err != nil {
						return err
					}
					metrics, err = performance.GetMetrics().Do(ctx)
					return err
				}),
				chromedp.Evaluate(`__bench.longtasks`, &tasks),
			)
			stop()
			if err != nil {
				b.Fatal(err)
			}
			byFile, byFunc := profileSelfTimes(prof)
			for k, v := range byFile {
				files[k] = append(files[k], v)
			}
			for k, v := range byFunc {
				funcs[k] = append(funcs[k], v)
			}
			for _, name := range []string{"TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration"} {
				timeline[name] = append(timeline[name], 1000*metric(metrics, name))
			}
			var blocking, longest float64
			for _, t := range tasks {
				blocking += max(0, t[1]-50)
				longest = max(longest, t[1])
			}
			timeline["blocking"] = append(timeline["blocking"], blocking)
			timeline["longest"] = append(timeline["longest"], longest)
		}
	}
	// A key absent from a run counts 0 in it.
	medianOf := func(m map[string][]float64) []cpuCost {
		var out []cpuCost
		for k, xs := range m {
			for len(xs) < runs*b.N {
				xs = append(xs, 0)
			}
			out = append(out, cpuCost{k, median(xs)})
		}
		slices.SortFunc(out, func(a, b cpuCost) int {
			if a.MS != b.MS {
				if a.MS > b.MS {
					return -1
				}
				return 1
			}
			return strings.Compare(a.Key, b.Key)
		})
		return out
	}
	fmt.Printf("\nFirst visit with our banner, 4× CPU throttling, %s, medians of %d runs, %s:\n\n", chromiumVersion(), runs, time.Now().UTC().Format("2006-01-02"))
	fmt.Println("| main thread (Chromium's metrics) | ms |\n|---|---:|")
	for _, k := range []struct{ key, name string }{
		{"TaskDuration", "all tasks"}, {"ScriptDuration", "JavaScript and wasm"},
		{"LayoutDuration", "layout"}, {"RecalcStyleDuration", "style recalculation"},
		{"blocking", "blocking time (long tasks' excess over 50 ms)"}, {"longest", "longest task"},
	} {
		fmt.Printf("| %s | %.1f |\n", k.name, median(timeline[k.key]))
		b.ReportMetric(median(timeline[k.key]), k.key+"-ms")
	}
	fmt.Println("\n| CPU profile self time by script | ms |\n|---|---:|")
	for _, c := range medianOf(files) {
		if c.MS >= 0.5 {
			fmt.Printf("| %s | %.1f |\n", c.Key, c.MS)
		}
	}
	fmt.Println("\n| top functions (script, function) | ms |\n|---|---:|")
	for i, c := range medianOf(funcs) {
		if i == 25 || c.MS < 0.5 {
			break
		}
		fmt.Printf("| %s | %.1f |\n", c.Key, c.MS)
	}
	fmt.Println()
}
