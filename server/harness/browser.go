// Package harness runs the browser tests and benchmarks of the consent host:
// Debian's Chromium, driven by chromedp, loads portal pages served from one
// loopback origin (http://127.0.0.1:PORT) that embed the banner from the
// real consent host (package server, through its exported API) on another
// (http://localhost:PORT); a Tab drives the page with the real mouse and
// keyboard and reads what the visitor and the portal see, and axe-core
// checks its accessibility.
package harness

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where the browser tests expect Debian's Chromium (apt-get
// install chromium).
const ChromiumPath = "/usr/bin/chromium"

// NewBrowser starts a headless Chromium with a fresh profile for t and
// returns its first tab's context (90 s of life); the browser stops and its
// profile is removed when t ends. It fails t if Chromium is missing or does
// not start.
func NewBrowser(t testing.TB) context.Context {
	t.Helper()
	ctx, stop, err := LaunchBrowser()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return ctx
}

// LaunchBrowser starts a headless Chromium with a fresh profile (as root:
// no sandbox; the flags of the README) and returns its first tab's context
// and a function that stops it and removes the profile. It returns an error
// when Chromium is not at ChromiumPath or does not start.
func LaunchBrowser() (context.Context, func(), error) {
	if _, err := os.Stat(ChromiumPath); err != nil {
		return nil, nil, fmt.Errorf("browser tests need Chromium at %s (apt-get install chromium): %v", ChromiumPath, err)
	}
	profile, err := os.MkdirTemp("", "portalconsent-chromium-")
	if err != nil {
		return nil, nil, err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.WindowSize(1200, 800),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	stop := func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
		// Chromium's helpers may still be writing the profile for a moment.
		for i := 0; i < 20 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if err := chromedp.Run(ctx); err != nil {
		stop()
		return nil, nil, fmt.Errorf("starting Chromium: %w", err)
	}
	return ctx, stop, nil
}
