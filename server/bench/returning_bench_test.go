package bench

// The returning visitor's main-thread time, where it goes: a tool of
// `make bench` for the loader's work (issue 13), never `make test`.

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/cdproto/profiler"
	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/server/harness"
)

// BenchmarkReturningProfile makes a choice on the bench page in a fresh
// Chromium, then alternates PROFILE_RUNS times (default 10) the bare page
// and the page with the banner (warm cache), each with the V8 CPU profiler
// (50 µs sampling, every other visit of ours: the profiler slows what it
// samples, so those visits are not timed) from before the navigation to
// 500 ms after the load event; for our banner, then for
// vanilla-cookieconsent (VANILLA_DIR). In our browser, the page with the
// floor (testdata/floor.js: one async script that reads the cookies and
// fetches the configuration, the least a loader does under the one-tag
// contract) is timed too, after the same choice. It prints the medians of
// Chromium's ScriptDuration of the pages, the banners' ratio beyond the bare
// page, and our page's profile: self time by script and by function (native
// calls count for their caller's script). Run by `make bench` (or PROFILE=1).
func BenchmarkReturningProfile(b *testing.B) {
	if os.Getenv("LIGHTHOUSE") == "" && os.Getenv("PROFILE") == "" {
		b.Skip("run by `make bench` (or set PROFILE=1)")
	}
	runs := 10
	if n, err := strconv.Atoi(os.Getenv("PROFILE_RUNS")); err == nil && n > 0 {
		runs = n
	}
	h := harness.StartHosts(b)
	h.VendorURL = strings.Replace(vendorHost(b, h).URL, "127.0.0.1", "localhost", 1)
	bare := h.PortalURL("bench.html", "banner=none")
	script := map[string][]float64{}
	files, funcs := map[string][]float64{}, map[string][]float64{}
	for i := 0; i < b.N; i++ {
		for _, kind := range []string{"ours", "vanilla"} {
			u := h.PortalURL("bench.html", "banner="+kind)
			ctx, stop, err := harness.LaunchBrowser()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := benchPage(ctx, h, u, kind, true, false, 300*time.Millisecond); err != nil {
				stop()
				b.Fatal(err)
			}
			for run := 0; run < runs; run++ {
				variants := []string{"none", kind}
				if kind == "ours" {
					variants = append(variants, "floor")
				}
				for _, v := range variants {
					// The CPU profiler slows what it samples: every other run
					// of ours is profiled, the others are timed.
					profile := v == "ours" && run%2 == 1
					ms, prof, err := profileVisit(ctx, map[string]string{"none": bare, kind: u, "floor": h.PortalURL("bench.html", "banner=floor")}[v], profile)
					if err != nil {
						stop()
						b.Fatal(err)
					}
					if profile {
						byFile, byFunc := profileSelfTimes(prof)
						for k, v := range byFile {
							files[k] = append(files[k], v)
						}
						for k, v := range byFunc {
							funcs[k] = append(funcs[k], v)
						}
						continue
					}
					script[kind+"/"+v] = append(script[kind+"/"+v], ms)
				}
			}
			stop()
		}
	}
	no, o := median(script["ours/none"]), median(script["ours/ours"])
	nv, v := median(script["vanilla/none"]), median(script["vanilla/vanilla"])
	f := median(script["ours/floor"])
	fmt.Printf("\nReturning visit of the bench page (warm cache, a choice stored), %s, medians of %d visits each, %s:\n\n", chromiumVersion(), runs, time.Now().UTC().Format("2006-01-02"))
	fmt.Printf("| Chromium's ScriptDuration | no banner | with the banner | banner − none |\n|---|---:|---:|---:|\n")
	fmt.Printf("| ours | %.2f ms | %.2f ms | %+.2f ms |\n", no, o, o-no)
	fmt.Printf("| vanilla-cookieconsent 3.1.0 | %.2f ms | %.2f ms | %+.2f ms |\n", nv, v, v-nv)
	fmt.Printf("| the floor (cookies read, configuration fetched) | %.2f ms | %.2f ms | %+.2f ms |\n", no, f, f-no)
	fmt.Printf("\nours / vanilla (beyond the bare page): %.2f× (target ≤ 0.5×); the floor / vanilla: %.2f×\n", (o-no)/(v-nv), (f-no)/(v-nv))
	b.ReportMetric(o-no, "ours-returning-script-ms")
	b.ReportMetric(v-nv, "vanilla-returning-script-ms")
	b.ReportMetric(f-no, "floor-returning-script-ms")
	// Sums over the visits, divided by their number: a function seen in only
	// some visits still counts, for its share.
	avg := func(m map[string][]float64) []cpuCost {
		var out []cpuCost
		for k, vs := range m {
			var s float64
			for _, v := range vs {
				s += v
			}
			out = append(out, cpuCost{k, s / float64(runs/2*b.N)})
		}
		slices.SortFunc(out, func(a, b cpuCost) int { return cmpFloat(b.MS, a.MS) })
		return out
	}
	fmt.Println("\n| ours: CPU profile self time by script, mean of the visits | ms |\n|---|---:|")
	for _, c := range avg(files) {
		if c.MS >= 0.02 && c.Key != "(program)" {
			fmt.Printf("| %s | %.2f |\n", c.Key, c.MS)
		}
	}
	fmt.Println("\n| ours: top functions (script, function), mean of the visits | ms |\n|---|---:|")
	for i, c := range avg(funcs) {
		if i == 25 || c.MS < 0.02 {
			break
		}
		if !strings.HasPrefix(c.Key, "(program)") {
			fmt.Printf("| %s | %.2f |\n", c.Key, c.MS)
		}
	}
	fmt.Println()
}

// profileVisit loads u in ctx's tab and returns the document's
// ScriptDuration (ms) and, with profile, the CPU profile of the visit.
func profileVisit(ctx context.Context, u string, profile bool) (float64, *profiler.Profile, error) {
	var prof *profiler.Profile
	var metrics []*performance.Metric
	err := chromedp.Run(ctx,
		chromedp.ActionFunc(func(ctx context.Context) error {
			if err := performance.Enable().Do(ctx); err != nil {
				return err
			}
			if !profile {
				return nil
			}
			if err := profiler.Enable().Do(ctx); err != nil {
				return err
			}
			if err := profiler.SetSamplingInterval(50).Do(ctx); err != nil {
				return err
			}
			return profiler.Start().Do(ctx)
		}),
		chromedp.Navigate(u),
		chromedp.ActionFunc(func(ctx context.Context) error {
			// The loader's work ends with the configuration applied.
			deadline := time.Now().Add(15 * time.Second)
			for ; time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				var ok bool
				if err := chromedp.Evaluate(`document.readyState === "complete" && (!document.querySelector("script[data-portal]") || (window.PortalConsent && PortalConsent.get().ready)) && (!document.querySelector("script[data-consent]") || window.__floorReady === true)`, &ok).Do(ctx); err != nil {
					return err
				}
				if ok {
					return nil
				}
			}
			return fmt.Errorf("%s: not ready within 15 s", u)
		}),
		chromedp.Sleep(500*time.Millisecond),
		chromedp.ActionFunc(func(ctx context.Context) error {
			var err error
			if profile {
				if prof, err = profiler.Stop().Do(ctx); err != nil {
					return err
				}
			}
			metrics, err = performance.GetMetrics().Do(ctx)
			return err
		}),
		chromedp.ActionFunc(func(ctx context.Context) error {
			_, _, _, _, err := page.Navigate("about:blank").Do(ctx)
			return err
		}),
	)
	return 1000 * metric(metrics, "ScriptDuration"), prof, err
}
