package e2e

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/policyfiles"
	"github.com/portalconsent/portalconsent/web"
)

// reloadPortal is the policy file of the portal "demo"; extra is appended to
// its categories.
func reloadPortal(extra string) string {
	return `id: demo
name: Demo portal
url: https://demo.example.org
categories:
  - id: necessary
    name: Necessary
    description: Needed.
    required: true
  - id: statistical
    name: Statistical
    description: Analytics.
    signals: [analytics_storage]
` + extra + `trackers:
  - type: matomo
    category: statistical
cookies:
  - provider: Demo
    function: Login
    names: [sessionid]
    purpose: To remember the user
    category: necessary
    duration: 2 weeks
`
}

// TestBrowserReloadKeepsTheLastGoodPolicy serves the portal "demo" from a
// policy directory: the banner shows; a broken file is reloaded and the
// banner still works with the old revision (a visitor's Accept is stored
// for it and remembered); then a valid file with a new category is reloaded
// and the visitor who had accepted is asked again. The browser's cache is
// cleared after each reload: config.json may be cached for a minute, so that
// is how long a real visitor may wait for the new revision.
func TestBrowserReloadKeepsTheLastGoodPolicy(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "demo.yaml")
	if err := os.WriteFile(file, []byte(reloadPortal("")), 0o644); err != nil {
		t.Fatal(err)
	}
	var srv *server.Server
	apply := func(ps []*policy.Policy) error {
		if srv != nil {
			return srv.SetPolicies(ps)
		}
		var err error
		srv, err = server.New(ps, web.Files())
		return err
	}
	var logs bytes.Buffer
	reloader, errs := policyfiles.NewReloader(dir, apply, slog.New(slog.NewJSONHandler(&logs, nil)))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	first := srv.Policies()[0]
	h := harness.StartHostsServing(t, srv)
	page := h.PortalURL("plain.html", "portal=demo")
	clearCache := chromedp.ActionFunc(func(ctx context.Context) error { return network.ClearBrowserCache().Do(ctx) })

	tb := newTab(t)
	tb.Run(chromedp.Navigate(page))
	tb.WaitBanner()

	// A broken file: logged, and the old policy keeps serving.
	if err := os.WriteFile(file, []byte(reloadPortal("  - id: marketing\n    name: [Marketing\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if errs := reloader.Reload(); len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "demo.yaml:") {
		t.Fatalf("Reload = %v", errs)
	}
	if !strings.Contains(logs.String(), "the previous policy keeps serving") {
		t.Errorf("not logged: %s", logs.String())
	}
	tb.Run(clearCache, chromedp.Navigate(page))
	tb.WaitBanner()
	tb.Click("pc-accept")
	tb.WaitFor("the cookies_preferences cookie", `document.cookie.includes("cookies_preferences=")`)
	c, err := policy.Current(tb.Cookie(), first, time.Now())
	if err != nil || !c.Accepted(policy.Statistical) || c.Revision != first.Revision {
		t.Fatalf("stored %q for the old revision %d: %v", tb.Cookie(), first.Revision, err)
	}
	tb.Run(clearCache, chromedp.Reload())
	tb.WaitReturning()

	// Fixed, with a new category: the visitor who accepted is asked again.
	if err := os.WriteFile(file, []byte(reloadPortal("  - id: marketing\n    name: Marketing\n    description: Ads.\n    signals: [ad_storage]\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if errs := reloader.Reload(); len(errs) > 0 {
		t.Fatal(errs)
	}
	second := srv.Policies()[0]
	if second.Revision == first.Revision {
		t.Fatal("the new category did not change the revision")
	}
	if _, err := policy.Current(tb.Cookie(), second, time.Now()); err == nil {
		t.Fatalf("the stored choice %q still counts for the new revision", tb.Cookie())
	}
	tb.Run(clearCache, chromedp.Navigate(page))
	tb.WaitBanner()
	tb.WaitApp()
	tb.Click("pc-customize")
	tb.WaitFor("the marketing switch", harness.InFrame(`[...d.querySelectorAll("[role=dialog] *")].some(e => e.textContent.trim() === "Marketing")`))
	tb.NoErrors()
}
