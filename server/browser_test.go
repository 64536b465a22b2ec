package server

// Browser tests: Debian's Chromium, driven by chromedp, loads portal pages
// served from one loopback origin (http://127.0.0.1:PORT) that embed the
// banner from the real consent host on another (http://localhost:PORT), and
// checks what the visitor and the portal see.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/web"
)

const chromiumPath = "/usr/bin/chromium"

// newBrowser starts a headless Chromium with a fresh profile for one test and
// returns its first tab; everything is removed when the test ends.
func newBrowser(t testing.TB) context.Context {
	t.Helper()
	ctx, stop, err := launchBrowser()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return ctx
}

// launchBrowser starts a headless Chromium with a fresh profile (as root:
// no sandbox) and returns its first tab and a function that stops it and
// removes the profile.
func launchBrowser() (context.Context, func(), error) {
	if _, err := os.Stat(chromiumPath); err != nil {
		return nil, nil, fmt.Errorf("browser tests need Chromium at %s (apt-get install chromium): %v", chromiumPath, err)
	}
	profile, err := os.MkdirTemp("", "portalconsent-chromium-")
	if err != nil {
		return nil, nil, err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
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

// hosts is a consent host and a portal host on two loopback origins.
type hosts struct {
	consent *httptest.Server // http://localhost:PORT
	portal  *httptest.Server // http://127.0.0.1:PORT
	// consentURL is the consent host as portals name it.
	consentURL string
	// vendorURL serves another consent banner's files, for the benchmark.
	vendorURL string
	// embedURL is the host of the embeds of the embeds fixture (see
	// startEmbedHost), empty until a test starts one.
	embedURL string

	mu       sync.Mutex
	wasmGate chan struct{} // while not nil, wasm responses wait for it to close
	cfgGate  chan struct{} // while not nil, config.json responses wait for it to close
	imgGate  chan struct{} // while not nil, the portal's /held.png waits for it to close
	wasmHits int
	// wasmDone counts the wasm responses sent whole.
	wasmDone int
	sent     int64 // response body bytes sent by all hosts
	// posts are the receipts the consent host received (POST
	// /portals/{id}/consents), in order, before the server handles them.
	posts []receiptPost
}

// receiptPost is one receipt request as the consent host received it.
type receiptPost struct {
	Path, ContentType, Origin, Cookie string
	Body                              []byte
}

// receiptPosts returns the receipt requests received so far.
func (h *hosts) receiptPosts() []receiptPost {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]receiptPost(nil), h.posts...)
}

// counting counts the response body bytes h sends into hosts.sent.
func (h *hosts) counting(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&countingWriter{ResponseWriter: w, h: h}, r)
	})
}

// bytesSent returns the response body bytes all hosts have sent.
func (h *hosts) bytesSent() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sent
}

type countingWriter struct {
	http.ResponseWriter
	h *hosts
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.h.mu.Lock()
	c.h.sent += int64(n)
	c.h.mu.Unlock()
	return n, err
}

// Hijack lets the broken-host test drop a connection.
func (c *countingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return c.ResponseWriter.(http.Hijacker).Hijack()
}

// holdWasm makes the consent host hold every wasm response until the
// returned release function is called.
func (h *hosts) holdWasm() (release func()) { return h.hold(&h.wasmGate) }

// holdImage holds back the portal's /held.png (slowload.html's image, and
// so the page's load event) until release is called.
func (h *hosts) holdImage() (release func()) { return h.hold(&h.imgGate) }

// holdConfig holds back the portals' config.json responses until release is
// called.
func (h *hosts) holdConfig() (release func()) { return h.hold(&h.cfgGate) }

func (h *hosts) hold(gate *chan struct{}) (release func()) {
	g := make(chan struct{})
	h.mu.Lock()
	*gate = g
	h.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(g) }) }
}

// wasmRequests returns how many wasm requests the consent host received.
func (h *hosts) wasmRequests() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.wasmHits
}

// wasmServed returns how many wasm responses the consent host sent whole.
func (h *hosts) wasmServed() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.wasmDone
}

// waitWasmServed waits until the consent host has sent n wasm responses
// whole (the app's prefetch or its download on intent).
func (h *hosts) waitWasmServed(t *testing.T, n int) {
	t.Helper()
	until(t, fmt.Sprintf("%d wasm responses served", n), func() bool { return h.wasmServed() >= n })
}

// passGate waits until gate is closed (at once when it is nil); false when
// the request went away first.
func passGate(gate chan struct{}, r *http.Request) bool {
	if gate == nil {
		return true
	}
	select {
	case <-gate:
		return true
	case <-r.Context().Done():
		return false
	}
}

// serveConsent is the consent host: the real server, with gates on the wasm
// and on config.json.
func (h *hosts) serveConsent(srv http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var gate chan struct{}
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/consents") {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			h.mu.Lock()
			h.posts = append(h.posts, receiptPost{r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Origin"), r.Header.Get("Cookie"), body})
			h.mu.Unlock()
		}
		h.mu.Lock()
		if strings.HasSuffix(r.URL.Path, ".wasm") {
			h.wasmHits++
			gate = h.wasmGate
		} else if strings.HasSuffix(r.URL.Path, "/config.json") {
			gate = h.cfgGate
		}
		h.mu.Unlock()
		if !passGate(gate, r) {
			return
		}
		srv.ServeHTTP(w, r)
		if strings.HasSuffix(r.URL.Path, ".wasm") && r.Context().Err() == nil {
			h.mu.Lock()
			h.wasmDone++
			h.mu.Unlock()
		}
	})
}

// appFrame is a condition on the consent frame (f) and its window (w),
// whether or not the server's banner still shows; false without a frame.
func appFrame(cond string) string {
	return `(() => { const f = document.querySelector("iframe[data-portal-consent]"); if (!f || !f.contentWindow) return false;
		const w = f.contentWindow; return (` + cond + `); })()`
}

// portalURL returns the address of a fixture page on the portal host; query
// may set portal=ID, csp=NAME and consent=URL (see portalHandler).
func (h *hosts) portalURL(page, query string) string {
	u := h.portal.URL + "/" + page
	if query != "" {
		u += "?" + query
	}
	return u
}

var testPolicies = func() []*policy.Policy {
	ps, err := policy.Defaults()
	if err != nil {
		panic(err)
	}
	return ps
}()

func startHosts(t testing.TB, extra ...*policy.Policy) *hosts {
	t.Helper()
	return startHostsWith(t, nil, extra...)
}

// startHostsWith is startHosts with the consent host's options.
func startHostsWith(t testing.TB, opts []Option, extra ...*policy.Policy) *hosts {
	t.Helper()
	return startHostsFS(t, web.Files(), opts, extra...)
}

// startHostsFS is startHostsWith with the consent host's assets from fsys.
func startHostsFS(t testing.TB, fsys fs.FS, opts []Option, extra ...*policy.Policy) *hosts {
	t.Helper()
	srv, err := New(append(append([]*policy.Policy(nil), testPolicies...), extra...), fsys, opts...)
	if err != nil {
		t.Fatal(err)
	}
	h := &hosts{}
	h.consent = httptest.NewServer(h.counting(h.serveConsent(srv)))
	t.Cleanup(h.consent.Close)
	h.consentURL = strings.Replace(h.consent.URL, "127.0.0.1", "localhost", 1)
	h.portal = httptest.NewServer(h.counting(portalHandler(t, h)))
	t.Cleanup(h.portal.Close)
	return h
}

// cspPresets are Content-Security-Policy headers a portal page may carry
// (query csp=NAME); CONSENT stands for the consent host.
var cspPresets = map[string]string{
	// The strictest a portal can be: no inline styles either (the frame's
	// styles are a constructed stylesheet).
	"strict": "default-src 'self'; script-src 'self' 'unsafe-inline' CONSENT 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self' CONSENT",
	"wasm":   "default-src 'self'; script-src 'self' 'unsafe-inline' CONSENT 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline' CONSENT; connect-src 'self' CONSENT",
	"nowasm": "default-src 'self'; script-src 'self' 'unsafe-inline' CONSENT; style-src 'self' 'unsafe-inline' CONSENT; connect-src 'self' CONSENT",
	// A nonce-based strict CSP: only scripts with the nonce, and those they
	// add (the loader's ui.js, the runtime, the gated scripts it runs).
	"nonce": "default-src 'self'; script-src 'nonce-N' 'strict-dynamic' 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self' CONSENT; worker-src blob:",
}

// portalHandler serves the fixture pages of testdata/ as a portal would,
// with the script tag pointing at the consent host.
func portalHandler(t testing.TB, h *hosts) http.Handler {
	pages := template.Must(template.ParseGlob(filepath.Join("testdata", "*.html")))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/broken/") {
			brokenHost(t, h, w, r)
			return
		}
		if r.URL.Path == "/held.png" {
			h.mu.Lock()
			gate := h.imgGate
			h.mu.Unlock()
			if !passGate(gate, r) {
				return
			}
			w.Header().Set("Content-Type", "image/png")
			w.Header().Set("Cache-Control", "no-store")
			w.Write(onePixelPNG)
			return
		}
		if js, ok := gatedJS[r.URL.Path]; ok {
			// Stand-ins for a tracker's script: a.js answers late, so a b.js
			// run out of order would log first.
			if r.URL.Path == "/gated/a.js" {
				time.Sleep(150 * time.Millisecond)
			}
			w.Header().Set("Content-Type", "text/javascript")
			w.Write([]byte(js))
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/")
		if strings.HasPrefix(name, "spa/") {
			name = "hostile.html"
		}
		name = strings.TrimPrefix(name, "sub/") // the same pages under a longer path
		if pages.Lookup(name) == nil {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		data := struct {
			Consent, Portal, Cookie, Banner, Vendor, Embed, Lang string
			Hero                                                 string // the bench page's hero image URL (Lighthouse bench)
			Now                                                  int64
			NoPortal, Twice, Throw, Gated, GTag                  bool
		}{Consent: h.consentURL, Portal: "mtran", Cookie: q.Get("cookie"), Banner: q.Get("banner"), Vendor: h.vendorURL,
			Embed: h.embedURL, Lang: q.Get("lang"), Hero: q.Get("hero"),
			NoPortal: q.Has("noportal"), Twice: q.Has("twice"), Throw: q.Has("throw"), Gated: q.Has("gated"), GTag: q.Has("gtag")}
		if n, err := strconv.ParseInt(q.Get("now"), 10, 64); err == nil {
			data.Now = n
		}
		if q.Has("portal") {
			data.Portal = q.Get("portal")
		}
		if c := q.Get("consent"); c != "" {
			data.Consent = c
		}
		if csp, ok := cspPresets[q.Get("csp")]; ok {
			w.Header().Set("Content-Security-Policy", strings.ReplaceAll(csp, "CONSENT", h.consentURL))
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := pages.ExecuteTemplate(w, name, data); err != nil {
			t.Errorf("rendering %s: %v", name, err)
		}
	})
}

// onePixelPNG is a 1×1 transparent PNG.
var onePixelPNG = func() []byte {
	var buf bytes.Buffer
	png.Encode(&buf, image.NewNRGBA(image.Rect(0, 0, 1, 1)))
	return buf.Bytes()
}()

// gatedJS are the scripts the gated fixture's scripts load.
var gatedJS = map[string]string{
	"/gated/a.js": `gatedLog.push("a"); document.cookie = "_ga=GA1.1.1; Path=/";`,
	"/gated/b.js": `gatedLog.push("b");`,
}

// brokenHost serves, under /broken/CASE/, a consent host that fails in one
// way: "unreachable" drops the connection after embed.js, "wasm404" points the loader at a wasm that does not exist, "corrupt" at
// bytes that are not WebAssembly, "badpolicy" hands the app a policy it must
// refuse (so the Go program exits).
func brokenHost(t testing.TB, h *hosts, w http.ResponseWriter, r *http.Request) {
	kase, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/broken/"), "/")
	switch rest {
	case "embed.js":
		proxy(t, w, h.consent.URL+"/embed.js")
		return
	case "corrupt.wasm":
		w.Header().Set("Content-Type", "application/wasm")
		w.Write([]byte("\x00asm this is not a module"))
		return
	case "portals/mtran/config.json":
		if kase == "unreachable" {
			// The host went away after the loader ran: the connection drops.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
	default:
		if strings.HasPrefix(rest, "assets/") { // ui.js, which embed.js loads beside itself
			proxy(t, w, h.consent.URL+"/"+rest)
			return
		}
		http.NotFound(w, r)
		return
	}
	res, err := http.Get(h.consent.URL + "/portals/mtran/config.json")
	if err != nil {
		t.Error(err)
		return
	}
	defer res.Body.Close()
	var cfg map[string]any
	if err := json.NewDecoder(res.Body).Decode(&cfg); err != nil {
		t.Error(err)
		return
	}
	assets := cfg["assets"].(map[string]any)
	for k, v := range assets {
		assets[k] = h.consentURL + v.(string)
	}
	switch kase {
	case "wasm404":
		assets["wasm"] = h.consentURL + "/assets/missing.wasm"
	case "corrupt":
		assets["wasm"] = "corrupt.wasm"
	case "badpolicy":
		// The loader does not check the policy: the app must refuse it.
		cfg["policy"].(map[string]any)["name"] = ""
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(cfg)
}

// tab is the tab of a browser of its own, with what its pages logged.
type tab struct {
	t   testing.TB
	ctx context.Context

	mu         sync.Mutex
	errors     []string // console.error calls
	exceptions []string // uncaught exceptions
}

// proxy answers with what the consent host serves at url (identity-encoded).
func proxy(t testing.TB, w http.ResponseWriter, url string) {
	res, err := http.Get(url)
	if err != nil {
		t.Error(err)
		return
	}
	defer res.Body.Close()
	w.Header().Set("Content-Type", res.Header.Get("Content-Type"))
	w.WriteHeader(res.StatusCode)
	io.Copy(w, res.Body)
}

func newTab(t testing.TB) *tab {
	t.Helper()
	ctx := newBrowser(t)
	tb := &tab{t: t, ctx: ctx}
	chromedp.ListenTarget(ctx, func(ev any) {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError {
				var parts []string
				for _, a := range ev.Args {
					var s string
					if json.Unmarshal(a.Value, &s) != nil {
						s = string(a.Value) + a.Description
					}
					parts = append(parts, s)
				}
				tb.errors = append(tb.errors, strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			tb.exceptions = append(tb.exceptions, msg)
		}
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return tb
}

func (tb *tab) run(actions ...chromedp.Action) {
	tb.t.Helper()
	if err := chromedp.Run(tb.ctx, actions...); err != nil {
		tb.t.Fatal(err)
	}
}

func (tb *tab) consoleErrors() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.errors...)
}

func (tb *tab) pageExceptions() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.exceptions...)
}

// eval evaluates a JavaScript expression in the portal page into out.
func (tb *tab) eval(expr string, out any) {
	tb.t.Helper()
	tb.run(chromedp.Evaluate(expr, out))
}

// inFrame wraps a JavaScript expression so that it runs with d (the
// document or shadow root the banner is in), w (its window) and f (what
// holds it) in scope; it yields null when there is none. Before the app
// runs, the server's banner is in a shadow root of the page: d is that
// shadow root, w the page's window, and f stands for its host, with the
// page's viewport as its box (coordinates in d are the page's) and
// getComputedStyle(f) the host's style. Once the app has taken over, d is
// the consent frame's document, w its window and f the frame.
func inFrame(expr string) string {
	return `(() => { const h = document.querySelector("div[data-portal-consent]");
		let f, d, w;
		if (h && h.shadowRoot) {
			d = h.shadowRoot; w = window;
			f = {tagName: "HOST", host: h, getBoundingClientRect: () => new DOMRect(0, 0, innerWidth, innerHeight)};
		} else {
			f = document.querySelector("iframe[data-portal-consent]");
			if (!f || !f.contentDocument) return null;
			d = f.contentDocument; w = f.contentWindow;
		}
		const getComputedStyle = (e, p) => window.getComputedStyle(e && e.tagName === "HOST" && e.host ? e.host : e, p);
		return (` + expr + `); })()`
}

// waitFor polls a JavaScript condition in the portal page until it is true.
func (tb *tab) waitFor(what, cond string) {
	tb.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ok bool
		if err := chromedp.Run(tb.ctx, chromedp.Evaluate(`!!(`+cond+`)`, &ok)); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			var state string
			chromedp.Run(tb.ctx, chromedp.Evaluate(`JSON.stringify(`+inFrame(`({mode: (d.querySelector(".pc-root") || {getAttribute() { return null; }}).getAttribute("data-pc-mode"),
				running: w.portalConsentRunning === true, start: w.portalConsentConfig && w.portalConsentConfig.start,
				dialogs: [...d.querySelectorAll("[role=dialog]")].map(e => e.id), active: d.activeElement && (d.activeElement.id || d.activeElement.tagName),
				topActive: document.activeElement && document.activeElement.tagName, visibility: getComputedStyle(f).visibility})`)+`)`, &state))
			tb.t.Fatalf("timed out waiting for %s (console errors: %q, exceptions: %q, frame: %s)", what, tb.consoleErrors(), tb.pageExceptions(), state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mode returns the consent frame's layout: "hidden", "banner", "modal", or
// "" while the app has not rendered.
func (tb *tab) mode() string {
	tb.t.Helper()
	var m string
	tb.eval(inFrame(`(d.querySelector(".pc-root") || {getAttribute(){return ""}}).getAttribute("data-pc-mode") || ""`)+` || ""`, &m)
	return m
}

// waitBanner waits until the banner is shown and visible: the server's, in
// the page, or the app's, in the frame.
func (tb *tab) waitBanner() {
	tb.t.Helper()
	tb.waitFor("the banner", inFrame(`d.getElementById("pc-accept") !== null &&
		getComputedStyle(f).visibility === "visible" && f.getBoundingClientRect().height > 40 &&
		d.getElementById("pc-accept").getBoundingClientRect().height > 0`))
}

// waitApp shows intent (hovers the banner) and waits until the Go consent
// app runs in the frame: app.Root.OnStart sets portalConsentRunning after the
// first render.
func (tb *tab) waitApp() {
	tb.t.Helper()
	if !tb.appRunning() {
		tb.hover()
	}
	tb.waitFor("the consent app", inFrame(`w.portalConsentRunning === true && d.querySelector(".pc-root[data-pc-mode]") !== null`))
}

// waitReturning waits until the loader has applied the portal's
// configuration (PortalConsent.get().ready: set in the same task that decides
// to show nothing, so no sleep is needed), then checks that it showed nothing
// and fetched no wasm.
func (tb *tab) waitReturning() {
	tb.t.Helper()
	tb.waitFor("the portal configuration applied", `window.PortalConsent && PortalConsent.get().ready`)
	var state struct {
		Frame bool
		Wasm  []string
	}
	tb.eval(`({Frame: document.querySelector("iframe") !== null,
		Wasm: performance.getEntriesByType("resource").map(e => e.name).filter(n => n.endsWith(".wasm"))})`, &state)
	if state.Frame || len(state.Wasm) > 0 {
		tb.t.Errorf("returning visitor: frame shown %v, wasm fetched %q", state.Frame, state.Wasm)
	}
}

// hover moves the mouse over the banner: the visitor's intent, which starts
// the app.
func (tb *tab) hover() {
	tb.t.Helper()
	var xy []float64
	tb.eval(inFrame(`(() => { const r = f.getBoundingClientRect(), b = (d.querySelector(".pc-banner") || f).getBoundingClientRect();
		return [r.left + Math.max(b.left, 0) + b.width / 2, r.top + Math.max(b.top, 0) + 8]; })()`), &xy)
	if len(xy) != 2 {
		tb.t.Fatal("no consent frame to hover")
	}
	tb.run(chromedp.MouseEvent(input.MouseMoved, xy[0], xy[1]))
}

// appRunning reports whether the Go consent app has started in the frame.
func (tb *tab) appRunning() bool {
	tb.t.Helper()
	var ok bool
	tb.eval(`!!(`+inFrame(`w.portalConsentRunning === true`)+`)`, &ok)
	return ok
}

// click clicks, with the mouse, the centre of the element with the given id
// inside the consent frame.
func (tb *tab) click(id string) {
	tb.t.Helper()
	var xy []float64
	tb.eval(inFrame(`(() => { const r = f.getBoundingClientRect(), e = d.getElementById(`+jsString(id)+`);
		if (!e) return null; const b = e.getBoundingClientRect();
		return [r.left + b.left + b.width / 2, r.top + b.top + b.height / 2]; })()`), &xy)
	if len(xy) != 2 {
		tb.t.Fatalf("no element #%s in the consent frame", id)
	}
	tb.run(chromedp.MouseClickXY(xy[0], xy[1]))
}

// clickPage clicks, with the mouse, an element of the portal page.
func (tb *tab) clickPage(sel string) {
	tb.t.Helper()
	tb.run(chromedp.Click(sel, chromedp.ByQuery))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// cookie returns the cookies_preferences value the portal page sees.
func (tb *tab) cookie() string {
	tb.t.Helper()
	var line string
	tb.eval(`document.cookie`, &line)
	return policy.CookieValue(line, policy.CookieName)
}

// waitConsent waits for the cookie and returns the choice it holds, checked
// against the mtran policy.
func (tb *tab) waitConsent() policy.Consent {
	tb.t.Helper()
	tb.waitFor("the cookies_preferences cookie", `document.cookie.includes("cookies_preferences=")`)
	c, err := policy.Current(tb.cookie(), testPolicies[0], time.Now())
	if err != nil {
		tb.t.Fatalf("stored cookie %q: %v", tb.cookie(), err)
	}
	return c
}

func (tb *tab) noErrors() {
	tb.t.Helper()
	if e := tb.consoleErrors(); len(e) > 0 {
		tb.t.Errorf("console errors: %q", e)
	}
	if e := tb.pageExceptions(); len(e) > 0 {
		tb.t.Errorf("page exceptions: %q", e)
	}
}

func TestBrowserRejectIsStoredOnThePortalAndRemembered(t *testing.T) {
	for _, page := range []string{"plain.html", "hostile.html"} {
		t.Run(page, func(t *testing.T) {
			h := startHosts(t)
			tb := newTab(t)
			tb.run(chromedp.Navigate(h.portalURL(page, "")))
			tb.waitBanner()
			tb.waitApp()

			var kinds []string
			tb.eval(inFrame(`["pc-accept", "pc-reject"].map(id => d.getElementById(id).tagName + ":" + d.getElementById(id).type + ":" + d.getElementById(id).className)`), &kinds)
			if len(kinds) != 2 || !strings.HasPrefix(kinds[0], "BUTTON:button:") || strings.TrimPrefix(kinds[0], "BUTTON:button:") != strings.TrimPrefix(kinds[1], "BUTTON:button:") {
				t.Errorf("Accept and Reject are not buttons of equal weight: %q", kinds)
			}

			tb.click("pc-reject")
			c := tb.waitConsent()
			if c.Accepted(policy.Statistical) || !c.Accepted(policy.Necessary) {
				t.Errorf("Reject all stored %q", c.Encode())
			}
			tb.waitFor("the banner to hide", inFrame(`getComputedStyle(f).visibility === "hidden"`))

			// The cookie belongs to the portal's origin, not to the consent host.
			var consentCookies []*network.Cookie
			tb.run(chromedp.ActionFunc(func(ctx context.Context) error {
				var err error
				consentCookies, err = network.GetCookies().WithURLs([]string{h.consentURL}).Do(ctx)
				return err
			}))
			for _, ck := range consentCookies {
				if ck.Name == policy.CookieName && ck.Domain == "localhost" {
					t.Errorf("cookie stored on the consent host: %+v", ck)
				}
			}

			// A returning visitor: the loader reads the choice and stops; no frame,
			// no wasm.
			wasm := h.wasmRequests()
			tb.run(chromedp.Reload())
			tb.waitReturning()
			if n := h.wasmRequests() - wasm; n != 0 {
				t.Errorf("a returning visitor fetched the wasm %d times", n)
			}
			tb.noErrors()
		})
	}
}

func TestBrowserAcceptGrantsStatistical(t *testing.T) {
	h := startHosts(t)
	tb := newTab(t)
	tb.run(chromedp.Navigate(h.portalURL("plain.html", "")))
	tb.waitBanner()
	tb.waitApp()
	tb.click("pc-accept")
	c := tb.waitConsent()
	if !c.Accepted(policy.Statistical) {
		t.Errorf("Accept all stored %q, which does not grant statistical", c.Encode())
	}
	tb.noErrors()
}

func TestBrowserCustomizeStoresExactlyTheChoice(t *testing.T) {
	for _, toggle := range []bool{true, false} {
		t.Run(fmt.Sprintf("statistical=%v", toggle), func(t *testing.T) {
			h := startHosts(t)
			tb := newTab(t)
			tb.run(chromedp.Navigate(h.portalURL("hostile.html", "")))
			tb.waitBanner()
			tb.waitApp()
			tb.click("pc-customize")
			tb.waitFor("the preferences dialog", inFrame(`d.getElementById("pc-preferences") !== null && getComputedStyle(f).height === innerHeight + "px"`))

			var state []bool
			tb.eval(inFrame(`[d.getElementById("pc-switch-necessary").checked, d.getElementById("pc-switch-necessary").disabled, d.getElementById("pc-switch-statistical").checked]`), &state)
			if fmt.Sprint(state) != "[true true false]" {
				t.Errorf("switches necessary checked, disabled, statistical checked = %v, want [true true false]", state)
			}
			if toggle {
				tb.click("pc-switch-statistical")
				tb.waitFor("the switch to turn on", inFrame(`d.getElementById("pc-switch-statistical").checked`))
			}
			tb.click("pc-save")
			c := tb.waitConsent()
			if c.Accepted(policy.Statistical) != toggle {
				t.Errorf("Save stored %q, want statistical=%v", c.Encode(), toggle)
			}
			tb.waitFor("the frame to hide", inFrame(`getComputedStyle(f).visibility === "hidden"`))
			tb.noErrors()
		})
	}
}

func TestBrowserPolicyDialog(t *testing.T) {
	h := startHosts(t)
	tb := newTab(t)
	tb.run(chromedp.Navigate(h.portalURL("hostile.html", "")))
	tb.waitBanner()
	tb.waitApp()
	tb.click("pc-policy")
	tb.waitFor("the policy dialog", inFrame(`d.getElementById("pc-policy-dialog") !== null`))

	var dlg struct {
		Role, Modal, LabelledBy, Title, Text string
		FocusInside                          bool
		FrameHeight, ViewHeight              float64
	}
	tb.eval(inFrame(`(() => { const g = d.getElementById("pc-policy-dialog");
		return { Role: g.getAttribute("role"), Modal: g.getAttribute("aria-modal"),
			LabelledBy: g.getAttribute("aria-labelledby"),
			Title: d.getElementById(g.getAttribute("aria-labelledby")).textContent,
			Text: g.innerText, FocusInside: document.activeElement === f && g.contains(d.activeElement),
			FrameHeight: f.getBoundingClientRect().height, ViewHeight: innerHeight }; })()`), &dlg)
	if dlg.Role != "dialog" || dlg.Modal != "true" || dlg.Title != "Cookies policy" {
		t.Errorf("dialog role=%q aria-modal=%q title=%q", dlg.Role, dlg.Modal, dlg.Title)
	}
	for _, want := range []string{"What is a cookie?", "sessionid", "django_language", "csrftoken", "cookies_preferences", "https://mtran.my.opendatasoft.com"} {
		if !strings.Contains(dlg.Text, want) {
			t.Errorf("policy dialog does not show %q", want)
		}
	}
	if !dlg.FocusInside {
		t.Error("focus did not move into the dialog")
	}
	if dlg.FrameHeight != dlg.ViewHeight {
		t.Errorf("frame is %vpx high while the dialog is open, want the viewport's %vpx", dlg.FrameHeight, dlg.ViewHeight)
	}

	tb.run(chromedp.KeyEvent(kb.Escape))
	tb.waitFor("the dialog to close", inFrame(`d.getElementById("pc-policy-dialog") === null`))

	tb.waitFor("focus to return to the Cookie policy button", inFrame(`d.activeElement === d.getElementById("pc-policy")`))
	if m := tb.mode(); m != "banner" {
		t.Errorf("after Escape the app shows %q, want the banner again", m)
	}

	// The Close button closes it too.
	tb.click("pc-policy")
	tb.waitFor("the policy dialog", inFrame(`d.getElementById("pc-policy-dialog") !== null`))
	tb.click("pc-close")
	tb.waitFor("the dialog to close", inFrame(`d.getElementById("pc-policy-dialog") === null`))
	if tb.cookie() != "" {
		t.Errorf("closing the policy stored a choice: %q", tb.cookie())
	}
	tb.noErrors()
}

// TestBrowserHostilePortalIsUntouched checks that every behaviour of a portal
// page that go-app would otherwise take over still works with the banner.
func TestBrowserHostilePortalIsUntouched(t *testing.T) {
	h := startHosts(t)
	tb := newTab(t)
	tb.run(chromedp.Navigate(h.portalURL("hostile.html", "")))
	tb.waitBanner()
	// The server's banner, in the page before the app runs: the portal's
	// rules (all: unset, colours, font, display: inline, !important, on
	// every div, p and button) reach neither its host nor what it holds.
	var server map[string]string
	tb.eval(inFrame(`(() => { const s = getComputedStyle(d.getElementById("pc-accept")), hs = getComputedStyle(f),
		b = d.querySelector(".pc-banner").getBoundingClientRect();
		return { color: s.color, background: s.backgroundColor, display: s.display, font: s.fontFamily,
			host: f.tagName + " " + hs.position + " " + hs.display, bottom: String(Math.abs(b.bottom - innerHeight) < 1 && b.width === innerWidth) }; })()`), &server)
	if st := server; st["host"] != "HOST fixed block" || st["bottom"] != "true" || st["color"] == "rgb(255, 0, 0)" ||
		st["background"] == "rgb(0, 255, 0)" || st["display"] == "inline" || strings.Contains(st["font"], "monospace") {
		t.Errorf("the portal's CSS reached the server's banner: %v", st)
	}
	tb.waitApp()

	var state struct {
		Handlers, FirstKept, StorageKept bool
		FrameStyle                       map[string]string
	}
	tb.eval(`({
		Handlers: window.onclick === portalHandlers.click && window.onpopstate === portalHandlers.popstate && window.onresize === portalHandlers.resize,
		FirstKept: document.body.firstElementChild === portalFirst && portalFirst.id === "first",
		StorageKept: localStorage.getItem("portal-state") !== null,
		FrameStyle: (() => { const s = getComputedStyle(document.querySelector("iframe[data-portal-consent]").contentDocument.getElementById("pc-accept"));
			return { color: s.color, background: s.backgroundColor, display: s.display, font: s.fontFamily }; })()
	})`, &state)
	if !state.Handlers {
		t.Error("the portal's window.onclick/onpopstate/onresize were replaced")
	}
	if !state.FirstKept {
		t.Error("the portal's first body element was replaced")
	}
	if !state.StorageKept {
		t.Error("the portal's localStorage item was deleted")
	}
	if st := state.FrameStyle; st["color"] == "rgb(255, 0, 0)" || st["background"] == "rgb(0, 255, 0)" || st["display"] == "inline" || strings.Contains(st["font"], "monospace") {
		t.Errorf("the portal's CSS reached the banner: %v", st)
	}

	// A click on the page reaches the portal's handler exactly once.
	tb.clickPage("#portal-button")
	var clicks int
	tb.eval(`portalLog.click`, &clicks)
	if clicks != 1 {
		t.Errorf("portal window.onclick ran %d times for one click, want 1", clicks)
	}

	// Resizing the window runs the portal's onresize.
	tb.run(chromedp.EmulateViewport(900, 700))
	tb.waitFor("the portal's onresize", `portalLog.resize > 0`)

	// The SPA link adds exactly one history entry; Back runs the portal's onpopstate.
	var before, after int
	tb.eval(`history.length`, &before)
	tb.clickPage("#spa")
	tb.waitFor("the SPA route", `location.pathname === "/spa/route"`)
	tb.eval(`history.length`, &after)
	if after != before+1 {
		t.Errorf("SPA navigation grew history from %d to %d, want exactly one entry", before, after)
	}
	tb.run(chromedp.NavigateBack())
	tb.waitFor("the portal's onpopstate after Back", `portalLog.popstate === 1 && location.pathname === "/hostile.html"`)

	// The banner still works after all this, and the link navigates.
	tb.click("pc-reject")
	tb.waitConsent()
	tb.clickPage("#nav")
	tb.waitFor("the link to navigate", `location.pathname === "/page2.html"`)
	tb.noErrors()
}

func TestBrowserMalformedCookieAsksAgain(t *testing.T) {
	for _, value := range []string{"garbage", "1|1|x|y|z", "2|1|1732300000|q8B3x0aPq1V2LmN7rT4sYw|necessary=1", "%7B%22a%22%3A1%7D"} {
		t.Run(value, func(t *testing.T) {
			h := startHosts(t)
			tb := newTab(t)
			tb.run(chromedp.Navigate(h.portalURL("page2.html", "")))
			tb.eval(`document.cookie = "cookies_preferences=`+value+`; path=/"`, nil)
			tb.run(chromedp.Navigate(h.portalURL("plain.html", "")))
			tb.waitBanner()
			tb.waitApp()
			tb.noErrors()
		})
	}
}

// failedQuietly waits for the loader's console error and checks the outcome
// of every failure: exactly one error, starting "PortalConsent: " and
// containing want; no frame left; the page's own script ran; no choice
// stored; no uncaught exception.
func (tb *tab) failedQuietly(want string) {
	tb.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); len(tb.consoleErrors()) == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // a second error would arrive by now
	errs := tb.consoleErrors()
	if len(errs) != 1 || !strings.HasPrefix(errs[0], "PortalConsent: ") || !strings.Contains(errs[0], want) {
		tb.t.Errorf("console errors = %q, want one containing %q", errs, want)
	}
	var state struct{ Frame, Ready bool }
	tb.eval(`({Frame: document.querySelector("iframe") !== null, Ready: window.portalReady === true})`, &state)
	if state.Frame || !state.Ready {
		tb.t.Errorf("frame left: %v, page script ran: %v", state.Frame, state.Ready)
	}
	if tb.cookie() != "" {
		tb.t.Errorf("a choice was stored: %q", tb.cookie())
	}
	if e := tb.pageExceptions(); len(e) > 0 {
		tb.t.Errorf("page exceptions: %q", e)
	}
}

func TestBrowserUnknownPortalLeavesThePageAlone(t *testing.T) {
	h := startHosts(t)
	tb := newTab(t)
	tb.run(chromedp.Navigate(h.portalURL("plain.html", "portal=nope")))
	tb.failedQuietly(`unknown portal "nope"`)
}

func TestBrowserContentSecurityPolicy(t *testing.T) {
	t.Run("wasm-unsafe-eval allowed", func(t *testing.T) {
		h := startHosts(t)
		tb := newTab(t)
		tb.run(chromedp.Navigate(h.portalURL("plain.html", "csp=wasm")))
		tb.waitBanner()
		tb.waitApp()
		tb.click("pc-accept")
		if c := tb.waitConsent(); !c.Accepted(policy.Statistical) {
			t.Errorf("stored %q", c.Encode())
		}
		tb.noErrors()
	})
	t.Run("wasm-unsafe-eval missing", func(t *testing.T) {
		h := startHosts(t)
		tb := newTab(t)
		tb.run(chromedp.Navigate(h.portalURL("plain.html", "csp=nowasm")))
		tb.failedQuietly("wasm-unsafe-eval")
	})
}

// TestBrowserBrokenConsentHost checks that each way the consent app can fail
// ends in exactly one clear console error, no frame and no choice, while the
// portal page goes on.
func TestBrowserBrokenConsentHost(t *testing.T) {
	for _, tc := range []struct{ kase, want string }{
		{"wasm404", "HTTP status code is not ok"},
		{"corrupt", "could not start"},
		{"badpolicy", "the consent app stopped: policy:1: name: is empty"},
		{"unreachable", "Failed to fetch"},
	} {
		t.Run(tc.kase, func(t *testing.T) {
			h := startHosts(t)
			tb := newTab(t)
			consent := h.portal.URL + "/broken/" + tc.kase
			tb.run(chromedp.Navigate(h.portalURL("plain.html", "consent="+consent)))
			if tc.kase == "badpolicy" {
				// The app starts, and exits, when the visitor shows intent.
				tb.waitBanner()
				tb.hover()
			}
			tb.failedQuietly(tc.want)
		})
	}
}

// TestBrowserFirstVisitBeforeTheApp holds the wasm back: the server's banner
// shows at once, and Accept or Reject clicked before the app runs is stored
// (by the loader) and never lost.
func TestBrowserFirstVisitBeforeTheApp(t *testing.T) {
	for _, button := range []string{"pc-reject", "pc-accept"} {
		t.Run(button, func(t *testing.T) {
			h := startHosts(t)
			release := h.holdWasm()
			defer release()
			tb := newTab(t)
			tb.run(chromedp.Navigate(h.portalURL("hostile.html", "")))
			tb.waitBanner()
			if tb.appRunning() {
				t.Fatal("the app runs although its wasm is held back")
			}
			tb.click(button)
			c := tb.waitConsent()
			if c.Accepted(policy.Statistical) != (button == "pc-accept") {
				t.Errorf("%s before the app stored %q", button, c.Encode())
			}
			tb.waitFor("the frame to go", `document.querySelector("iframe[data-portal-consent]") === null`)
			release()
			time.Sleep(300 * time.Millisecond)
			tb.noErrors()

			tb.run(chromedp.Reload())
			tb.waitReturning()
		})
	}
}

// TestBrowserCustomizeBeforeTheApp: Customize clicked on the server's banner
// opens the preferences as soon as the app runs, and closing them returns
// focus to the Customize button.
func TestBrowserCustomizeBeforeTheApp(t *testing.T) {
	h := startHosts(t)
	release := h.holdWasm()
	defer release()
	tb := newTab(t)
	tb.run(chromedp.Navigate(h.portalURL("plain.html", "")))
	tb.waitBanner()
	tb.click("pc-customize")
	tb.waitFor("the busy state", inFrame(`d.getElementById("pc-customize").getAttribute("aria-busy") === "true"`))
	release()
	tb.waitFor("the preferences dialog", inFrame(`d.getElementById("pc-preferences") !== null && d.activeElement.id === "pc-preferences"`))
	tb.run(chromedp.KeyEvent(kb.Escape))
	tb.waitFor("focus back on Customize", inFrame(`d.getElementById("pc-preferences") === null && d.activeElement === d.getElementById("pc-customize")`))
	tb.noErrors()
}

// TestBrowserTakeoverIsSeamless compares the pixels of the server's banner
// with the app's first render.
func TestBrowserTakeoverIsSeamless(t *testing.T) {
	h := startHosts(t)
	release := h.holdWasm()
	defer release()
	tb := newTab(t)
	tb.run(chromedp.Navigate(h.portalURL("plain.html", "")))
	tb.waitBanner()
	tb.takeoverChangesNothingVisible(release, "the server's banner and the app's")
	tb.noErrors()
}

// settle waits until the banner's fonts are loaded and two frames have been
// painted since: what a screenshot then shows is laid out.
func (tb *tab) settle() {
	tb.t.Helper()
	tb.run(chromedp.Evaluate(inFrame(`(d.fonts || document.fonts).ready.then(() => new Promise(r => w.requestAnimationFrame(() => w.requestAnimationFrame(() => r(true)))))`), nil, awaitPromise))
}

// takeoverChangesNothingVisible captures the server's banner, lets the wasm through
// (release), waits for the app and checks its banner has the same size and
// no visible change: no pixel's colour moves by more than 64 levels in a
// channel, and at most 1 pixel in 2,000 moves at all. The server's banner is
// drawn in the page and the app's in the frame: the anti-aliasing of a
// rounded corner at a fractional x (a button after a text of fractional
// width) comes out a few levels apart (27 pixels, by at most 53 levels, in
// the French banner); a moved text, border or colour changes far more. what
// names the two in the error. SHOT_DIR=DIR keeps both captures there when
// they differ.
func (tb *tab) takeoverChangesNothingVisible(release func(), what string) {
	tb.t.Helper()
	tb.settle()
	before := tb.bannerShot()
	release()
	tb.waitApp()
	tb.settle()
	after := tb.bannerShot()
	if before.Bounds() != after.Bounds() {
		tb.t.Fatalf("the banner changed size: %v, then %v", before.Bounds(), after.Bounds())
	}
	differ, visible := 0, 0
	for y := before.Bounds().Min.Y; y < before.Bounds().Max.Y; y++ {
		for x := before.Bounds().Min.X; x < before.Bounds().Max.X; x++ {
			if d := colourDistance(before.At(x, y), after.At(x, y)); d > 64 {
				visible++
			} else if d > 0 {
				differ++
			}
		}
	}
	area := before.Bounds().Dx() * before.Bounds().Dy()
	if visible > 0 || (differ+visible)*2000 > area {
		tb.t.Errorf("between %s, %d pixels change visibly and %d more by anti-aliasing (of %d)", what, visible, differ, area)
		if dir := os.Getenv("SHOT_DIR"); dir != "" {
			for name, img := range map[string]image.Image{"before": before, "after": after} {
				var buf bytes.Buffer
				png.Encode(&buf, img)
				os.WriteFile(filepath.Join(dir, name+".png"), buf.Bytes(), 0o644)
			}
		}
	}
}

// colourDistance returns the largest difference of two colours' channels,
// in 8-bit levels.
func colourDistance(a, b color.Color) int {
	r1, g1, b1, a1 := a.RGBA()
	r2, g2, b2, a2 := b.RGBA()
	d := 0
	for _, p := range [][2]uint32{{r1, r2}, {g1, g2}, {b1, b2}, {a1, a2}} {
		v := int(p[0]>>8) - int(p[1]>>8)
		if v < 0 {
			v = -v
		}
		d = max(d, v)
	}
	return d
}

// bannerShot captures the viewport's area of the banner (with 30 pixels of
// the page above it: a shadow the banner cast there would show), as the
// server shows it in the page or as the app shows it in the frame.
func (tb *tab) bannerShot() image.Image {
	tb.t.Helper()
	var r []float64
	tb.eval(inFrame(`(() => { const o = f.getBoundingClientRect(), b = d.querySelector(".pc-banner").getBoundingClientRect();
		return [o.left + b.left, o.top + b.top - 30, b.width, b.height + 30]; })()`), &r)
	if len(r) != 4 {
		tb.t.Fatal("no banner to capture")
	}
	var buf []byte
	tb.run(chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		buf, err = page.CaptureScreenshot().WithFormat(page.CaptureScreenshotFormatPng).
			WithClip(&page.Viewport{X: r[0], Y: r[1], Width: r[2], Height: r[3], Scale: 1}).Do(ctx)
		return err
	}))
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		tb.t.Fatal(err)
	}
	return img
}

// TestBrowserStrictCSP: a portal that allows no inline styles still gets a
// styled banner (a constructed stylesheet) and a working app.
func TestBrowserStrictCSP(t *testing.T) {
	h := startHosts(t)
	tb := newTab(t)
	tb.run(chromedp.Navigate(h.portalURL("plain.html", "csp=strict")))
	tb.waitBanner()
	tb.waitApp()
	var bg string
	tb.eval(inFrame(`getComputedStyle(d.getElementById("pc-accept")).backgroundColor`), &bg)
	if bg == "" || bg == "rgba(0, 0, 0, 0)" || bg == "rgb(239, 239, 239)" {
		t.Errorf("the Accept button is unstyled (background %q)", bg)
	}
	tb.click("pc-reject")
	tb.waitConsent()
	tb.noErrors()
}

// TestBrowserLoaderAgreesWithGo runs every value of the Go codec's vectors
// (policy/testdata/cookie-vectors.json) through the real loader: a valid
// choice shows nothing and fetches no wasm; anything else shows the banner.
func TestBrowserLoaderAgreesWithGo(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "policy", "testdata", "cookie-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vf struct {
		Now    int64 `json:"now"`
		Policy struct {
			Revision            int `json:"revision"`
			LifetimeDays        int `json:"lifetimeDays"`
			RefusalLifetimeDays int `json:"refusalLifetimeDays"`
			Categories          []struct {
				ID       string `json:"id"`
				Required bool   `json:"required"`
			} `json:"categories"`
		} `json:"policy"`
		Values []struct {
			Name, Value, Error string
		} `json:"values"`
	}
	if err := json.Unmarshal(raw, &vf); err != nil {
		t.Fatal(err)
	}
	// A portal whose policy is the vectors' policy.
	p := *testPolicies[0]
	p.ID, p.Revision, p.LifetimeDays, p.Categories = "vectors", vf.Policy.Revision, vf.Policy.LifetimeDays, nil
	p.RefusalLifetimeDays = vf.Policy.RefusalLifetimeDays
	p.Translations = nil // its categories are the vectors', in English only
	for _, c := range vf.Policy.Categories {
		p.Categories = append(p.Categories, policy.Category{ID: c.ID, Name: c.ID, Description: c.ID, Required: c.Required})
	}
	h := startHosts(t, &p)
	release := h.holdWasm() // the verdict needs no app
	defer release()
	tb := newTab(t)
	for _, v := range vf.Values {
		q := url.Values{"portal": {"vectors"}, "cookie": {v.Value}, "now": {strconv.FormatInt(vf.Now, 10)}}
		tb.run(chromedp.Navigate(h.portalURL("vector.html", q.Encode())))
		var stored string
		tb.eval(`window.cookieStored`, &stored)
		if got := policy.CookieValue(stored, policy.CookieName); got != v.Value {
			t.Logf("%s: the browser stores %q as %q; judged as stored", v.Name, v.Value, got)
		}
		if v.Error == "" && policy.CookieValue(stored, policy.CookieName) == v.Value {
			tb.waitReturning()
		} else {
			tb.waitFor(v.Name+": the banner", inFrame(`d.getElementById("pc-accept") !== null`))
		}
		tb.run(chromedp.ActionFunc(func(ctx context.Context) error {
			return network.ClearBrowserCookies().Do(ctx)
		}))
	}
	tb.noErrors()
}

// TestBrowserAppStartsOnIntent: the app is fetched and compiled while the
// server's banner shows, but starts only when the visitor shows intent; a
// keyboard visitor tabbing into the banner starts it without losing focus, and
// Enter works on the app's button.
func TestBrowserAppStartsOnIntent(t *testing.T) {
	h := startHosts(t)
	tb := newTab(t)
	tb.run(chromedp.Navigate(h.portalURL("plain.html", "")))
	tb.waitBanner()
	h.waitWasmServed(t, 1) // prefetched once the page has loaded
	time.Sleep(500 * time.Millisecond)
	if tb.appRunning() {
		t.Fatal("the app started without any intent from the visitor")
	}
	if h.wasmRequests() != 1 {
		t.Errorf("the wasm was requested %d times while the banner showed, want 1 (prefetch)", h.wasmRequests())
	}
	var inside bool
	for i := 0; i < 5 && !inside; i++ {
		tb.run(chromedp.KeyEvent(kb.Tab))
		tb.eval(`!!document.activeElement && document.activeElement.matches("[data-portal-consent]")`, &inside)
	}
	if !inside {
		t.Fatal("five Tabs did not reach the banner")
	}
	tb.waitFor("the app, started by focus", inFrame(`w.portalConsentRunning === true && d.querySelector(".pc-root[data-pc-mode]") !== null`))
	tb.waitFor("focus on Accept in the app's banner", inFrame(`document.activeElement === f && d.activeElement && d.activeElement.id === "pc-accept"`))
	tb.run(chromedp.KeyEvent(kb.Enter))
	if c := tb.waitConsent(); !c.Accepted(policy.Statistical) {
		t.Errorf("Enter on Accept stored %q", c.Encode())
	}
	tb.noErrors()
}
