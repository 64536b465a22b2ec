package e2e

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/policyfiles"
	"github.com/portalconsent/portalconsent/server/servertest"
	"github.com/portalconsent/portalconsent/web"
)

// TestBrowserPagesLogNoError loads every page the server serves, as `make
// run` serves them (the built-in portals, the example included): the index,
// each portal's demo page, its policy page and the policy page in each of its
// languages, and every HTML page the index links to. On each it waits for the
// banner and starts the app where the page has one, and finds no console
// error, no uncaught exception and no Content-Security-Policy violation, in
// the page or in the consent frame (one target: the frame is same-origin).
func TestBrowserPagesLogNoError(t *testing.T) {
	ps, err := policyfiles.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	policies := policyfiles.Policies(ps)
	// make run keeps receipts (and impressions) in SQLite.
	srv, err := server.New(policies, web.Files(), server.WithReceipts(servertest.OpenStore(t)))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)

	paths := []string{"/"}
	for _, p := range policies {
		paths = append(paths, "/demo/"+p.ID, "/portals/"+p.ID+"/policy")
		for _, lang := range p.Languages() {
			paths = append(paths, "/portals/"+p.ID+"/policy/"+lang)
		}
	}

	tb := newTab(t)
	var mu sync.Mutex
	var logged []string
	chromedp.ListenTarget(tb.Ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeAssert {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				logged = append(logged, "console."+string(ev.Type)+": "+strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			logged = append(logged, "exception: "+msg)
		case *log.EventEntryAdded:
			e := ev.Entry
			if e.Level == log.LevelError || e.Source == log.SourceSecurity || strings.Contains(e.Text, "Content Security Policy") {
				logged = append(logged, "log ("+string(e.Source)+", "+string(e.Level)+"): "+e.Text+" "+e.URL)
			}
		}
	})
	tb.Run(log.Enable())
	// Any CSP violation of the page or of the consent frame (about:blank,
	// which inherits the page's CSP), also as an event the page sees.
	tb.Run(chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(`window.__cspViolations = [];
			document.addEventListener("securitypolicyviolation", (e) => { window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI); });`).Do(ctx)
		return err
	}))

	seen := map[string]bool{}
	for i := 0; i < len(paths); i++ {
		path := paths[i]
		if seen[path] {
			continue
		}
		seen[path] = true
		mu.Lock()
		logged = nil
		mu.Unlock()
		tb.Run(chromedp.Navigate(hs.URL + path))
		tb.WaitFor(path+" loaded", `document.readyState === "complete"`)
		var hasLoader bool
		tb.Eval(`document.querySelector("script[src$='/embed.js']") !== null`, &hasLoader)
		if hasLoader {
			tb.WaitFor(path+": the portal configuration", `window.PortalConsent && PortalConsent.get().ready`)
			// A first visit: the banner, then the app once the visitor shows
			// intent (its wasm compiled in a blob: worker).
			tb.WaitBanner()
			tb.WaitApp()
		}
		if path == "/" {
			// Every page the index links to on this host.
			var links []string
			tb.Eval(`[...document.querySelectorAll("a[href]")].map(a => a.href)`, &links)
			for _, l := range links {
				u, err := url.Parse(l)
				// Every page and file on this host, shown as the browser shows
				// it (text ones make it ask for /favicon.ico: 204).
				if err != nil || u.Host != strings.TrimPrefix(hs.URL, "http://") || u.Path == "" {
					continue
				}
				paths = append(paths, u.Path)
			}
		}
		var violations []string
		tb.Eval(`window.__cspViolations || []`, &violations)
		mu.Lock()
		got := append(append([]string(nil), logged...), violations...)
		mu.Unlock()
		if len(got) > 0 {
			b, _ := json.MarshalIndent(got, "", "  ")
			t.Errorf("%s logged:\n%s", path, b)
		}
	}
	if len(seen) < 1+len(policies)*4 {
		t.Errorf("visited %d pages, want at least %d", len(seen), 1+len(policies)*4)
	}
	t.Logf("visited %d pages", len(seen))
}
