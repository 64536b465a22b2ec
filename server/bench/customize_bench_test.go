package bench

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/harness"
)

// The emulated phone of BenchmarkCustomizeTap: Lighthouse's mobile
// throttling ("slow 4G": 150 ms of round trip, 1,638.4 kbit/s down, 750
// kbit/s up, in bytes per second for CDP) and 4× CPU slowdown, on a 412×915
// CSS-pixel touch screen at device scale factor 2.625 with harness.PhoneUA.
const (
	slow4GLatencyMS = 150
	slow4GDown      = 1638.4 * 1024 / 8 // 204,800 B/s
	slow4GUp        = 750 * 1024 / 8    // 96,000 B/s
	phoneCPUSlowing = 4
)

// tapProbe runs in the portal page (not in frames) from the first byte. It
// records the first touchstart's time (event.timeStamp: when the touch was
// made, on the page's performance.now() clock); once armed, a
// requestAnimationFrame loop looks, on every frame, for the preferences
// dialog #pc-preferences in the server banner's shadow root
// ([data-portal-consent]) or in the consent frame's document
// (iframe[data-portal-consent]) and records performance.now() of the first
// frame in which it is laid out (non-zero size), not hidden
// (checkVisibility: display, visibility, opacity, content-visibility; and
// the frame itself shown when it is in the frame) and operable: a category
// switch in it enabled (the first optional category's; the necessary
// category's is disabled by design).
const tapProbe = `(() => {
  if (window !== top) return;
  const P = window.__tap = { tap: -1, visible: -1, where: "" };
  addEventListener("touchstart", (e) => { if (P.tap < 0) P.tap = e.timeStamp; }, { capture: true, passive: true });
  const shown = (e) => { const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && e.checkVisibility({ opacityProperty: true, visibilityProperty: true, contentVisibilityAuto: true }); };
  const ready = (root) => { const d = root && root.getElementById("pc-preferences");
    return d && shown(d) && [...d.querySelectorAll('input[type=checkbox], [role=switch]')].some((s) => !s.disabled && s.getAttribute("aria-disabled") !== "true"); };
  P.arm = () => {
    (function frame() {
      const h = document.querySelector("[data-portal-consent]:not(iframe)"), f = document.querySelector("iframe[data-portal-consent]");
      let where = "";
      if (h && h.shadowRoot && ready(h.shadowRoot)) where = "shadow";
      else if (f && shown(f) && f.contentDocument && ready(f.contentDocument)) where = "frame";
      if (where) { P.visible = performance.now(); P.where = where; return; }
      requestAnimationFrame(frame);
    })();
  };
})()`

// tapRun is what one cold tap on Customize measured.
type tapRun struct {
	Tap, Visible float64 // ms since navigation start (the page's clock)
	Where        string  // "shadow" (the server's dialog) or "frame" (the app's)
	Banner       float64 // ms since navigation start: the banner seen by the bench (a poll: approximate)
	Wasm         int     // wasm requests the consent host received during the run
	Workers      int     // workers throttled like the page
}

// BenchmarkCustomizeTap measures, on an emulated phone (touch, device scale
// factor, phone viewport and user agent), CPU slowed 4× and the network
// throttled to Lighthouse's slow 4G (the page, and the workers it starts: see
// throttleWorkers), each run a cold first visit in a fresh
// Chromium profile, the time from a tap on Customize (CDP
// Input.dispatchTouchEvent on #pc-customize of the server's banner, half a
// second after the banner shows and the page has loaded) to the preferences
// dialog visible and operable (see tapProbe), timed in the page on its own
// clock. TAP_RUNS runs (default 7); it reports the median and the p90 (the
// nearest rank). Without Chromium it is skipped.
func BenchmarkCustomizeTap(b *testing.B) {
	if _, err := os.Stat(harness.ChromiumPath); err != nil {
		b.Skipf("no Chromium at %s (apt-get install chromium)", harness.ChromiumPath)
	}
	runs := 7
	if n, err := strconv.Atoi(os.Getenv("TAP_RUNS")); err == nil && n > 0 {
		runs = n
	}
	h := harness.StartHostsWith(b, []server.Option{server.WithRateLimit(0, 0)})
	u := h.PortalURL("bench.html", "banner=ours")
	var times []float64
	var all []tapRun
	for i := 0; i < b.N; i++ {
		for range runs {
			r, err := customizeTap(h, u)
			if err != nil {
				b.Fatal(err)
			}
			times = append(times, r.Visible-r.Tap)
			all = append(all, r)
		}
	}
	med, p90 := median(times), nearestRank(times, 0.9)
	fmt.Printf("\nTap on Customize → preferences visible and operable, emulated phone (412×915, DPR 2.625, touch), 4× CPU, slow 4G (150 ms RTT, 1,638.4 kbit/s down, 750 up), cold, %d runs, %s, %s:\n\n",
		len(times), chromiumVersion(), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Printf("| | median | p90 |\n|---|---:|---:|\n| tap → preferences visible and operable | %.0f ms | %.0f ms |\n\n", med, p90)
	for i, r := range all {
		fmt.Printf("  run %d: banner seen at %.0f ms, tap at %.0f ms, preferences at %.0f ms (%s): %.0f ms; wasm requests %d, workers throttled %d\n",
			i+1, r.Banner, r.Tap, r.Visible, r.Where, r.Visible-r.Tap, r.Wasm, r.Workers)
	}
	fmt.Println()
	b.ReportMetric(med, "tap-median-ms")
	b.ReportMetric(p90, "tap-p90-ms")
}

// nearestRank returns the q quantile of xs by the nearest-rank method (for
// 7 runs and q 0.9: the 7th smallest, the largest).
func nearestRank(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	k := int(float64(len(s))*q+0.999999) - 1
	return s[max(0, min(k, len(s)-1))]
}

// customizeTap makes one cold run of BenchmarkCustomizeTap in a Chromium of
// its own, on the page u.
func customizeTap(h *harness.Hosts, u string) (tapRun, error) {
	ctx, stop, err := harness.LaunchBrowser()
	if err != nil {
		return tapRun{}, err
	}
	defer stop()
	wasm := h.WasmRequests()
	throttled := throttleWorkers(ctx)
	var r tapRun
	var xy []float64
	err = chromedp.Run(ctx,
		emulation.SetDeviceMetricsOverride(412, 915, 2.625, true),
		emulation.SetTouchEmulationEnabled(true).WithMaxTouchPoints(5),
		emulation.SetUserAgentOverride(harness.PhoneUA).WithPlatform("Android"),
		emulation.SetCPUThrottlingRate(phoneCPUSlowing),
		network.Enable(),
		network.EmulateNetworkConditions(false, slow4GLatencyMS, slow4GDown, slow4GUp),
		// Workers the page starts (the loader's, which fetches the wasm)
		// wait for the debugger until throttleWorkers has throttled them.
		target.SetAutoAttach(true, true).WithFlatten(true),
		chromedp.ActionFunc(func(ctx context.Context) error {
			_, err := page.AddScriptToEvaluateOnNewDocument(tapProbe).Do(ctx)
			return err
		}),
		harness.NavigateNoWait(u),
		waitJS(`document.readyState === "complete" && (() => { const h = document.querySelector("[data-portal-consent]:not(iframe)");
			const b = h && h.shadowRoot && h.shadowRoot.getElementById("pc-customize");
			return !!b && b.getBoundingClientRect().height > 0 && getComputedStyle(h).visibility === "visible"; })()`, 60*time.Second, "the banner"),
		chromedp.Evaluate(`performance.now()`, &r.Banner),
		chromedp.Sleep(500*time.Millisecond),
		chromedp.Evaluate(`(() => { const b = document.querySelector("[data-portal-consent]:not(iframe)").shadowRoot.getElementById("pc-customize");
			const r = b.getBoundingClientRect(), v = visualViewport;
			__tap.arm(); return [(r.left + r.width / 2 - v.offsetLeft) * v.scale, (r.top + r.height / 2 - v.offsetTop) * v.scale]; })()`, &xy),
		chromedp.ActionFunc(func(ctx context.Context) error {
			if err := input.DispatchTouchEvent(input.TouchStart, []*input.TouchPoint{{X: xy[0], Y: xy[1]}}).Do(ctx); err != nil {
				return err
			}
			return input.DispatchTouchEvent(input.TouchEnd, []*input.TouchPoint{}).Do(ctx)
		}),
		waitJS(`__tap.visible >= 0`, 90*time.Second, "the preferences after the tap"),
		chromedp.Evaluate(`({Tap: __tap.tap, Visible: __tap.visible, Where: __tap.where})`, &r),
	)
	r.Wasm = h.WasmRequests() - wasm
	if err == nil {
		r.Workers, err = throttled()
	}
	if err == nil && r.Tap < 0 {
		err = fmt.Errorf("%s: the page saw no touchstart", u)
	}
	return r, err
}

// waitJS returns an action that polls the JavaScript condition cond every
// 100 ms until it is true, and fails after limit naming what.
func waitJS(cond string, limit time.Duration, what string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			var ok bool
			if err := chromedp.Evaluate(`!!(`+cond+`)`, &ok).Do(ctx); err != nil {
				return err
			}
			if ok {
				return nil
			}
		}
		return fmt.Errorf("%s: not within %s", what, limit)
	})
}

// throttleWorkers throttles every worker the page of ctx starts like the
// page, then lets it run. Network.emulateNetworkConditions applies to one
// target and a dedicated worker's fetches (the loader's worker fetches the
// wasm) are not the page's; on a worker Chromium refuses that command but
// takes Network.emulateNetworkConditionsByRule with one rule for every URL,
// the same figures. The page must auto-attach what it starts waiting for
// the debugger (Target.setAutoAttach with waitForDebuggerOnStart), so that no
// request leaves a worker before it is throttled; any other target attached
// so is let run at once. The returned function says how many workers were
// throttled, or the first error.
func throttleWorkers(ctx context.Context) func() (int, error) {
	var mu sync.Mutex
	var n int
	var first error
	chromedp.ListenTarget(ctx, func(ev any) {
		a, ok := ev.(*target.EventAttachedToTarget)
		if !ok || !a.WaitingForDebugger {
			return
		}
		worker := strings.Contains(a.TargetInfo.Type, "worker")
		// A listener must not block: the commands go from a goroutine.
		go func() {
			wctx, _ := chromedp.NewContext(ctx, chromedp.WithTargetID(a.TargetInfo.TargetID))
			err := chromedp.Run(wctx, chromedp.ActionFunc(func(ctx context.Context) error {
				if !worker {
					return nil
				}
				return cdp.Execute(ctx, "Network.emulateNetworkConditionsByRule", map[string]any{"matchedNetworkConditions": []map[string]any{
					{"urlPattern": "", "latency": slow4GLatencyMS, "downloadThroughput": slow4GDown, "uploadThroughput": slow4GUp}}}, nil)
			}), runtime.RunIfWaitingForDebugger())
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = fmt.Errorf("throttling the %s %s: %w", a.TargetInfo.Type, a.TargetInfo.URL, err)
			}
			if err == nil && worker {
				n++
			}
		}()
	})
	return func() (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return n, first
	}
}
