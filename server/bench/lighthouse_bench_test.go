package bench

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
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/cdproto/profiler"
	"github.com/chromedp/cdproto/tracing"
	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/server/harness"
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
// "vanilla", "floor") with or without the hero image, and the banners'
// origins (space-separated: the floor's script is on vanilla's host, its
// configuration on ours).
func benchLoopbackHosts(b *testing.B) (h *harness.Hosts, pageURL func(kind string, hero bool) string, origins map[string]string) {
	h = harness.StartHosts(b)
	h.VendorURL = vendorHost(b, h).URL
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
		q := url.Values{"banner": {kind}, "consent": {h.Consent.URL}}
		if withHero {
			q.Set("hero", img.URL+"/hero.png")
		}
		return h.PortalURL("bench.html", q.Encode())
	}
	return h, pageURL, map[string]string{"ours": h.Consent.URL, "vanilla": h.VendorURL, "floor": h.VendorURL + " " + h.Consent.URL}
}

// lighthouseResult is what one Lighthouse run measured.
type lighthouseResult struct {
	Score, LCP, FCP, TBT float64 // score 0–100, times in ms
	Bytes                float64 // total-byte-weight: bytes transferred for the page load
	BannerBytes          float64 // transferred from the banner's host
	BannerFiles          []string
	// WeightBanner is the total-byte-weight audit's items from the banner's
	// hosts (the audit lists the page load's largest responses only).
	WeightBanner float64
	Wasm         int // responses of the banner's hosts ending in .wasm
}

// lighthouse runs Lighthouse's CLI (cli, a path to lighthouse/cli/index.js)
// once on u, performance category only, default mobile settings, and reads
// its JSON report; banner is the banner hosts' origins, space-separated
// ("" for none). A run
// that Lighthouse reports as failed (runtimeError, no score) is an error.
func lighthouse(ctx context.Context, cli, u, banner, dir string) (lighthouseResult, error) {
	out := filepath.Join(dir, "report.json")
	cmd := exec.CommandContext(ctx, "node", cli, u,
		"--only-categories=performance", "--output=json", "--output-path="+out, "--quiet",
		"--chrome-flags="+lighthouseChromeFlags)
	cmd.Env = append(os.Environ(), "CHROME_PATH="+harness.ChromiumPath)
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
					TotalBytes   float64
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
		for _, o := range strings.Fields(banner) {
			if strings.HasPrefix(it.URL, o+"/") {
				r.BannerBytes += it.TransferSize
				p, _ := url.Parse(it.URL)
				r.BannerFiles = append(r.BannerFiles, path.Base(p.Path))
				if strings.HasSuffix(p.Path, ".wasm") {
					r.Wasm++
				}
			}
		}
	}
	for _, it := range rep.Audits["total-byte-weight"].Details.Items {
		for _, o := range strings.Fields(banner) {
			if strings.HasPrefix(it.URL, o+"/") {
				r.WeightBanner += it.TotalBytes
			}
		}
	}
	return r, nil
}

// BenchmarkLighthouse runs Lighthouse LIGHTHOUSE_RUNS times (default 5) on
// each variant — the light bench page and the one with a 1.2 MB hero image,
// each with no banner, ours, vanilla-cookieconsent and the floor — interleaved so that
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
	// "floor" is testdata/floor.js: the least a loader does under the
	// one-tag contract (one async script from another origin, the cookies
	// read, the configuration fetched), what a banner cannot go under.
	kinds := []string{"none", "ours", "vanilla", "floor"}
	pages := []struct {
		name string
		hero bool
	}{{"light", false}, {"hero", true}}
	// LIGHTHOUSE_ONLY (e.g. "light/ours,light/none"), for a quick look
	// while working: only those variants run, the others show as NaN.
	only := strings.Split(os.Getenv("LIGHTHOUSE_ONLY"), ",")
	skip := func(pg, kind string) bool {
		return os.Getenv("LIGHTHOUSE_ONLY") != "" && !slices.Contains(only, pg+"/"+kind)
	}
	// The banner's script, by name (ours is content-hashed: ui.HASH.js).
	mustFetch := map[string]func(string) bool{
		"ours":    func(f string) bool { return strings.HasPrefix(f, "ui.") && strings.HasSuffix(f, ".js") },
		"vanilla": func(f string) bool { return f == "cookieconsent.umd.js" },
		"floor":   func(f string) bool { return f == "config.json" },
	}
	res := map[string][]lighthouseResult{} // by page/kind
	for i := 0; i < b.N; i++ {
		for run := 0; run < runs; run++ {
			for _, pg := range pages {
				for _, kind := range kinds {
					if skip(pg.name, kind) {
						continue
					}
					dir := b.TempDir()
					r, err := lighthouse(context.Background(), cli, pageURL(kind, pg.hero), origins[kind], dir)
					if err != nil {
						b.Fatal(err)
					}
					if f := mustFetch[kind]; f != nil && !slices.ContainsFunc(r.BannerFiles, f) {
						b.Fatalf("%s page, %s: Lighthouse saw no banner script among the banner host's requests %v", pg.name, kind, r.BannerFiles)
					}
					res[pg.name+"/"+kind] = append(res[pg.name+"/"+kind], r)
					// LIGHTHOUSE_KEEP=DIR keeps each run's JSON report there
					// (its long-tasks and bootup-time audits say what ran).
					if keep := os.Getenv("LIGHTHOUSE_KEEP"); keep != "" {
						raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
						if err == nil {
							err = os.WriteFile(filepath.Join(keep, fmt.Sprintf("%s-%s-%d.json", pg.name, kind, run+1)), raw, 0o644)
						}
						if err != nil {
							b.Fatal(err)
						}
					}
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
		{"total bytes (total-byte-weight)", "bytes", "B", func(r lighthouseResult) float64 { return r.Bytes }},
		{"total-byte-weight's items from the banner's hosts", "weight-banner-bytes", "B", func(r lighthouseResult) float64 { return r.WeightBanner }},
		{"banner host's bytes (network-requests)", "banner-bytes", "B", func(r lighthouseResult) float64 { return r.BannerBytes }},
		{"wasm responses", "wasm", "", func(r lighthouseResult) float64 { return float64(r.Wasm) }},
	}
	fmt.Printf("\nLighthouse 12.2.3, default mobile settings (simulated slow 4G, 4× CPU), %s on loopback, medians of %d runs, %s:\n\n",
		chromiumVersion(), runs, time.Now().UTC().Format("2006-01-02"))
	fmt.Println("| page | metric | no banner | ours | vanilla-cookieconsent 3.1.0 | floor | ours / none | ours − none | ours / vanilla | floor / none |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, pg := range pages {
		for _, m := range metrics {
			n, o, v, f := med(pg.name+"/none", m.f), med(pg.name+"/ours", m.f), med(pg.name+"/vanilla", m.f), med(pg.name+"/floor", m.f)
			val := func(x float64) string { return strings.TrimSpace(fmt.Sprintf("%.0f %s", x, m.unit)) }
			fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", pg.name, m.name, val(n), val(o), val(v), val(f),
				ratio(o, n), strings.TrimSpace(fmt.Sprintf("%+.0f %s", o-n, m.unit)), ratio(o, v), ratio(f, n))
			b.ReportMetric(o, pg.name+"-ours-"+m.key)
			b.ReportMetric(n, pg.name+"-none-"+m.key)
			b.ReportMetric(v, pg.name+"-vanilla-"+m.key)
			b.ReportMetric(f, pg.name+"-floor-"+m.key)
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
	hv, hf := med("hero/vanilla", lcp), med("hero/floor", lcp)
	fmt.Printf("| (hero page: LCP vanilla-cookieconsent / no banner; the floor / no banner) | %.3f×; %.3f× | |\n", hv/hn, hf/hn)
	fmt.Printf("| hero page: LCP ours ≤ the one-tag floor's (issue 23) | %.0f ms vs %.0f ms (%.3f×) | %s |\n", ho, hf, ho/hf, yes(ho <= hf))
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
// layout, paint, compilation — and "(garbage collector)") and by file and
// function. A built-in function (appendChild, no URL) counts for the nearest
// caller with a URL; with none, for "(bench probe)", the only script without
// one. Idle time is left out.
func profileSelfTimes(p *profiler.Profile) (byFile, byFunc map[string]float64) {
	byFile, byFunc = map[string]float64{}, map[string]float64{}
	nodes := map[int64]*profiler.ProfileNode{}
	parent := map[int64]int64{}
	for _, n := range p.Nodes {
		nodes[n.ID] = n
		for _, c := range n.Children {
			parent[c] = n.ID
		}
	}
	fileOf := func(u string) string {
		if strings.HasPrefix(u, "wasm://") {
			return "wasm"
		}
		if pu, err := url.Parse(u); err == nil && pu.Path != "" && pu.Path != "/" {
			return path.Base(pu.Path)
		}
		return u
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
		fn := n.CallFrame.FunctionName
		if fn == "" {
			fn = "(anonymous)"
		}
		var file string
		switch {
		case n.CallFrame.URL != "":
			file = fileOf(n.CallFrame.URL)
		case strings.HasPrefix(n.CallFrame.FunctionName, "("): // (program), (garbage collector), (root)
			file = fn
		default:
			file = "(bench probe)"
			for a, ok := parent[id]; ok; a, ok = parent[a] {
				if u := nodes[a].CallFrame.URL; u != "" {
					file = fileOf(u)
					break
				}
			}
		}
		byFile[file] += ms
		byFunc[file+" "+fn] += ms
	}
	return byFile, byFunc
}

// traceEvent is one event of a Chromium trace (JSON trace format).
type traceEvent struct {
	Name, Cat, Ph string
	Ts, Dur       float64 // µs
	Pid, Tid      int64
	Args          struct {
		Name     string // thread_name metadata
		FileName string // v8.run
		Data     struct {
			URL          string
			FunctionName string
		}
	}
}

// longTask is one main-thread task over 50 ms in a trace: its start (ms
// since navigation), length and the self time of what ran in it by name.
type longTask struct {
	Start, MS float64
	Parts     map[string]float64
}

// traceSelfTimes sums the self time (ms) of the trace events of the
// renderers' main threads (CrRendererMain) by event name — Layout,
// UpdateLayoutTree (style), ParseHTML, Paint, v8.compile… —, naming the
// script of script events (v8.run, FunctionCall, v8.compile…), and returns
// the tasks over 50 ms with the same breakdown. Events are taken as nested
// by time on their thread, as Chromium records them; unmatched begin/end
// events are dropped.
func traceSelfTimes(events []traceEvent) (map[string]float64, []longTask) {
	main := map[[2]int64]bool{}
	nav := math.Inf(1)
	for _, e := range events {
		if e.Ph == "M" && e.Name == "thread_name" && e.Args.Name == "CrRendererMain" {
			main[[2]int64{e.Pid, e.Tid}] = true
		}
		if e.Name == "navigationStart" {
			nav = min(nav, e.Ts)
		}
	}
	type span struct {
		key        string
		start, end float64
		self       float64
		root       int
	}
	keyOf := func(e traceEvent) string {
		u := e.Args.Data.URL
		if u == "" {
			u = e.Args.FileName
		}
		if u != "" && !strings.HasPrefix(e.Name, "Parse") && !strings.HasPrefix(e.Name, "Resource") {
			if pu, err := url.Parse(u); err == nil && pu.Path != "" && pu.Path != "/" {
				return e.Name + " " + path.Base(pu.Path)
			}
			return e.Name + " " + u
		}
		return e.Name
	}
	threads := map[[2]int64][]span{}
	open := map[[2]int64][]traceEvent{}
	for _, e := range events {
		t := [2]int64{e.Pid, e.Tid}
		if !main[t] {
			continue
		}
		switch e.Ph {
		case "X":
			threads[t] = append(threads[t], span{key: keyOf(e), start: e.Ts, end: e.Ts + e.Dur})
		case "B":
			open[t] = append(open[t], e)
		case "E":
			if o := open[t]; len(o) > 0 {
				b := o[len(o)-1]
				open[t] = o[:len(o)-1]
				threads[t] = append(threads[t], span{key: keyOf(b), start: b.Ts, end: e.Ts})
			}
		}
	}
	self := map[string]float64{}
	var long []longTask
	for _, spans := range threads {
		slices.SortFunc(spans, func(a, b span) int {
			if a.start != b.start {
				if a.start < b.start {
					return -1
				}
				return 1
			}
			if a.end > b.end { // the enclosing one first
				return -1
			}
			if a.end < b.end {
				return 1
			}
			return 0
		})
		var stack []int
		for i := range spans {
			sp := &spans[i]
			for len(stack) > 0 && spans[stack[len(stack)-1]].end <= sp.start {
				stack = stack[:len(stack)-1]
			}
			sp.self = (sp.end - sp.start) / 1000
			sp.root = i
			if len(stack) > 0 {
				p := &spans[stack[len(stack)-1]]
				p.self -= min(sp.self, (p.end-sp.start)/1000)
				sp.root = p.root
			}
			stack = append(stack, i)
		}
		tasks := map[int]*longTask{}
		for _, sp := range spans {
			self[sp.key] += sp.self
			r := spans[sp.root]
			if ms := (r.end - r.start) / 1000; ms > 50 {
				lt := tasks[sp.root]
				if lt == nil {
					start := r.start
					if !math.IsInf(nav, 1) {
						start -= nav
					}
					lt = &longTask{Start: start / 1000, MS: ms, Parts: map[string]float64{}}
					tasks[sp.root] = lt
				}
				lt.Parts[sp.key] += sp.self
			}
		}
		for _, lt := range tasks {
			long = append(long, *lt)
		}
	}
	slices.SortFunc(long, func(a, b longTask) int { return cmpFloat(a.Start, b.Start) })
	return self, long
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// longTaskProbe records the portal page's long tasks, for the bare page
// (benchProbe, which also watches for a banner, does it for ours).
const longTaskProbe = `(() => {
  if (window !== top) return;
  const B = window.__bench = { longtasks: [] };
  new PerformanceObserver(l => { for (const e of l.getEntries()) B.longtasks.push([e.startTime, e.duration]); }).observe({ type: "longtask", buffered: true });
})()`

// profileStats gathers the runs of one page in BenchmarkFirstVisitProfile:
// values by key, one per run (a key missing from a run counts 0 in it).
type profileStats struct {
	files, funcs, timeline, trace map[string][]float64
	longs                         [][]longTask // by run
	runs                          int
}

func (st *profileStats) add(m map[string][]float64, k string, v float64) {
	for len(m[k]) < st.runs-1 {
		m[k] = append(m[k], 0)
	}
	m[k] = append(m[k], v)
}

// sorted returns the medians of m, largest first.
func (st *profileStats) sorted(m map[string][]float64) []cpuCost {
	var out []cpuCost
	for k, xs := range m {
		for len(xs) < st.runs {
			xs = append(xs, 0)
		}
		out = append(out, cpuCost{k, median(xs)})
	}
	slices.SortFunc(out, func(a, b cpuCost) int {
		if c := cmpFloat(b.MS, a.MS); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out
}

func (st *profileStats) median(m map[string][]float64, k string) float64 {
	xs := slices.Clone(m[k])
	for len(xs) < st.runs {
		xs = append(xs, 0)
	}
	return median(xs)
}

// profileFirstVisit loads u in a fresh browser under 4× CPU throttling with
// the CPU profiler and a trace running, until the page is loaded (ours: the
// banner visible and the wasm fetched) and 2 s more, and adds what it
// measured to st.
func profileFirstVisit(h *harness.Hosts, u, kind string, st *profileStats) error {
	ctx, stop, err := harness.LaunchBrowser()
	if err != nil {
		return err
	}
	defer stop()
	probe, ready := longTaskProbe, `document.readyState === "complete"`
	if kind == "ours" {
		probe, ready = strings.NewReplacer("KIND", "ours", "CLICK", "false").Replace(benchProbe), `__bench.visible >= 0`
	}
	wasm := h.WasmRequests()
	var events []traceEvent
	var evErr error
	traced := make(chan struct{})
	var closeOnce sync.Once
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *tracing.EventDataCollected:
			for _, v := range ev.Value {
				var e traceEvent
				if err := json.Unmarshal(v, &e); err != nil && evErr == nil {
					evErr = err
				}
				events = append(events, e)
			}
		case *tracing.EventTracingComplete:
			closeOnce.Do(func() { close(traced) })
		}
	})
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
			if err := profiler.Start().Do(ctx); err != nil {
				return err
			}
			return tracing.Start().WithTransferMode(tracing.TransferModeReportEvents).WithTraceConfig(&tracing.TraceConfig{
				IncludedCategories: []string{"devtools.timeline", "disabled-by-default-devtools.timeline", "v8", "v8.execute", "loading", "blink", "blink.user_timing"},
			}).Do(ctx)
		}),
		chromedp.Navigate(u),
		chromedp.ActionFunc(func(ctx context.Context) error {
			deadline := time.Now().Add(30 * time.Second)
			for ; time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				var ok bool
				if err := chromedp.Evaluate(ready, &ok).Do(ctx); err != nil {
					return err
				}
				if ok && (kind != "ours" || h.WasmRequests() > wasm) {
					return nil
				}
			}
			return fmt.Errorf("%s: not ready within 30 s (%s, and for ours the wasm fetched)", u, ready)
		}),
		chromedp.Sleep(2*time.Second),
		chromedp.ActionFunc(func(ctx context.Context) error {
			var err error
			if prof, err = profiler.Stop().Do(ctx); err != nil {
				return err
			}
			if metrics, err = performance.GetMetrics().Do(ctx); err != nil {
				return err
			}
			if err := tracing.End().Do(ctx); err != nil {
				return err
			}
			select {
			case <-traced:
				return evErr
			case <-ctx.Done():
				return ctx.Err()
			}
		}),
		chromedp.Evaluate(`__bench.longtasks`, &tasks),
	)
	if err != nil {
		return err
	}
	st.runs++
	byFile, byFunc := profileSelfTimes(prof)
	for k, v := range byFile {
		st.add(st.files, k, v)
	}
	for k, v := range byFunc {
		st.add(st.funcs, k, v)
	}
	byName, long := traceSelfTimes(events)
	for k, v := range byName {
		st.add(st.trace, k, v)
	}
	st.longs = append(st.longs, long)
	for _, name := range []string{"TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration"} {
		st.add(st.timeline, name, 1000*metric(metrics, name))
	}
	var blocking, longest float64
	for _, t := range tasks {
		blocking += max(0, t[1]-50)
		longest = max(longest, t[1])
	}
	st.add(st.timeline, "blocking", blocking)
	st.add(st.timeline, "longest", longest)
	return nil
}

// BenchmarkFirstVisitProfile records, PROFILE_RUNS times (default 3) and
// alternating with the bare page, a CPU profile of the main thread of the
// light bench page with our banner on a first visit (fresh browser, hosts on
// 127.0.0.1 as in BenchmarkLighthouse, so the banner's frame shares the
// page's renderer) under 4× CPU throttling, from navigation until the banner
// is visible, the wasm fetched and 2 s more, with a trace of the renderer's
// main thread over the same time; and prints the medians of Chromium's task,
// script, layout and style durations, the page's long tasks (blocking time:
// each long task's excess over 50 ms), the trace events' self time by name
// (layout, style, parsing, compilation…, with the script of script events),
// each run's tasks over 50 ms and what ran in them, and the CPU profile's
// self time by script and by function. Workers are in neither: they do not
// block the main thread.
func BenchmarkFirstVisitProfile(b *testing.B) {
	if os.Getenv("LIGHTHOUSE") == "" && os.Getenv("PROFILE") == "" {
		b.Skip("run by `make bench` (or set PROFILE=1)")
	}
	runs := 3
	if n, err := strconv.Atoi(os.Getenv("PROFILE_RUNS")); err == nil && n > 0 {
		runs = n
	}
	h, pageURL, _ := benchLoopbackHosts(b)
	kinds := []string{"none", "ours"}
	st := map[string]*profileStats{}
	for _, k := range kinds {
		st[k] = &profileStats{files: map[string][]float64{}, funcs: map[string][]float64{}, timeline: map[string][]float64{}, trace: map[string][]float64{}}
	}
	for i := 0; i < b.N; i++ {
		for range runs {
			for _, k := range kinds {
				if err := profileFirstVisit(h, pageURL(k, false), k, st[k]); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	o, n := st["ours"], st["none"]
	fmt.Printf("\nFirst visit of the light bench page, 4× CPU throttling, %s, medians of %d runs, %s:\n\n", chromiumVersion(), runs, time.Now().UTC().Format("2006-01-02"))
	fmt.Println("| main thread (Chromium's metrics) | no banner | ours | ours − none |\n|---|---:|---:|---:|")
	for _, k := range []struct{ key, name string }{
		{"TaskDuration", "all tasks"}, {"ScriptDuration", "JavaScript and wasm"},
		{"LayoutDuration", "layout"}, {"RecalcStyleDuration", "style recalculation"},
		{"blocking", "blocking time (long tasks' excess over 50 ms)"}, {"longest", "longest task"},
	} {
		vo, vn := o.median(o.timeline, k.key), n.median(n.timeline, k.key)
		fmt.Printf("| %s | %.1f ms | %.1f ms | %+.1f ms |\n", k.name, vn, vo, vo-vn)
		b.ReportMetric(vo, k.key+"-ms")
		b.ReportMetric(vn, "none-"+k.key+"-ms")
	}
	fmt.Println("\n| main-thread trace events, self time (script events name their file) | no banner | ours | ours − none |\n|---|---:|---:|---:|")
	for i, c := range o.sorted(o.trace) {
		if i == 25 || c.MS < 0.5 {
			break
		}
		vn := n.median(n.trace, c.Key)
		fmt.Printf("| %s | %.1f | %.1f | %+.1f |\n", c.Key, vn, c.MS, c.MS-vn)
	}
	for _, k := range kinds {
		fmt.Printf("\n%s: main-thread tasks over 50 ms (trace), each run: start since navigation, length, what ran in it (self time, ms):\n", map[string]string{"none": "No banner", "ours": "Ours"}[k])
		for i, run := range st[k].longs {
			fmt.Printf("  run %d:", i+1)
			if len(run) == 0 {
				fmt.Print(" none")
			}
			fmt.Println()
			for _, lt := range run {
				var parts []cpuCost
				for k, v := range lt.Parts {
					parts = append(parts, cpuCost{k, v})
				}
				slices.SortFunc(parts, func(a, b cpuCost) int { return cmpFloat(b.MS, a.MS) })
				var cells []string
				for j, p := range parts {
					if j == 8 || p.MS < 1 {
						break
					}
					cells = append(cells, fmt.Sprintf("%s %.1f", p.Key, p.MS))
				}
				fmt.Printf("    at %.0f ms, %.0f ms: %s\n", lt.Start, lt.MS, strings.Join(cells, ", "))
			}
		}
	}
	fmt.Println("\n| ours: CPU profile self time by script | ms |\n|---|---:|")
	for _, c := range o.sorted(o.files) {
		if c.MS >= 0.5 {
			fmt.Printf("| %s | %.1f |\n", c.Key, c.MS)
		}
	}
	fmt.Println("\n| ours: top functions (script, function) | ms |\n|---|---:|")
	for i, c := range o.sorted(o.funcs) {
		if i == 25 || c.MS < 0.5 {
			break
		}
		fmt.Printf("| %s | %.1f |\n", c.Key, c.MS)
	}
	fmt.Println()
}
