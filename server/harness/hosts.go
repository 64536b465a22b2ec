package harness

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"image"
	"image/png"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/web"
)

// testdata holds the portal fixture pages that portalHandler serves.
//
//go:embed testdata/*.html
var testdata embed.FS

// Hosts is a consent host and a portal host on two loopback origins: the
// consent host serves the real server, and the portal host the fixture pages
// of testdata/ (templates: the consent host's address, the portal id and
// the query's options fill them in).
type Hosts struct {
	Consent *httptest.Server // the consent host, which portals name http://localhost:PORT
	Portal  *httptest.Server // the portal host, http://127.0.0.1:PORT
	// ConsentURL is the consent host as portals name it (http://localhost:PORT).
	ConsentURL string
	// VendorURL serves another consent banner's files, for the benchmark.
	VendorURL string
	// EmbedURL is the host of the embeds of the embeds fixture, empty until
	// a test starts one and sets it.
	EmbedURL string

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
	posts []ReceiptPost
}

// ReceiptPost is one receipt request as the consent host received it.
type ReceiptPost struct {
	Path, ContentType, Origin, Cookie string
	Body                              []byte
}

// ReceiptPosts returns the receipt requests the consent host received so
// far, in order.
func (h *Hosts) ReceiptPosts() []ReceiptPost {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]ReceiptPost(nil), h.posts...)
}

// Counting wraps next so that the response body bytes it sends count in
// BytesSent (for a host of the caller's own, e.g. a benchmark's vendor host).
func (h *Hosts) Counting(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&countingWriter{ResponseWriter: w, h: h}, r)
	})
}

// BytesSent returns the response body bytes all hosts have sent.
func (h *Hosts) BytesSent() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sent
}

type countingWriter struct {
	http.ResponseWriter
	h *Hosts
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

// HoldWasm makes the consent host hold every wasm response until the
// returned release function is called.
func (h *Hosts) HoldWasm() (release func()) { return h.hold(&h.wasmGate) }

// HoldImage holds back the portal's /held.png (slowload.html's image, and
// so the page's load event) until release is called.
func (h *Hosts) HoldImage() (release func()) { return h.hold(&h.imgGate) }

// HoldConfig holds back the portals' config.json responses until release is
// called.
func (h *Hosts) HoldConfig() (release func()) { return h.hold(&h.cfgGate) }

func (h *Hosts) hold(gate *chan struct{}) (release func()) {
	g := make(chan struct{})
	h.mu.Lock()
	*gate = g
	h.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(g) }) }
}

// WasmRequests returns how many wasm requests the consent host received.
func (h *Hosts) WasmRequests() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.wasmHits
}

// WasmServed returns how many wasm responses the consent host sent whole.
func (h *Hosts) WasmServed() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.wasmDone
}

// WaitWasmServed waits until the consent host has sent n wasm responses
// whole (the app's prefetch or its download on intent); after 10 s it fails t.
func (h *Hosts) WaitWasmServed(t testing.TB, n int) {
	t.Helper()
	Until(t, fmt.Sprintf("%d wasm responses served", n), func() bool { return h.WasmServed() >= n })
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
func (h *Hosts) serveConsent(srv http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var gate chan struct{}
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/consents") {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			h.mu.Lock()
			h.posts = append(h.posts, ReceiptPost{r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Origin"), r.Header.Get("Cookie"), body})
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

// PortalURL returns the address of the fixture page (e.g. "plain.html") on
// the portal host, with query (already encoded) when not empty: it may set
// portal=ID, csp=NAME, consent=URL, lang, cookie and the pages' switches (see
// portalHandler). A page that does not exist is a 404 there.
func (h *Hosts) PortalURL(page, query string) string {
	u := h.Portal.URL + "/" + page
	if query != "" {
		u += "?" + query
	}
	return u
}

// Policies are the built-in policies (policy.Defaults: mtran, then twisto)
// that every consent host of StartHosts serves; callers must not modify them
// (copy one to make a variant).
var Policies = func() []*policy.Policy {
	ps, err := policy.Defaults()
	if err != nil {
		panic(err)
	}
	return ps
}()

// StartHosts starts a consent host serving the built web assets (make build)
// with Policies and the extra ones, and a portal host; both close when t
// ends. It fails t if the server refuses the policies or the assets.
func StartHosts(t testing.TB, extra ...*policy.Policy) *Hosts {
	t.Helper()
	return StartHostsWith(t, nil, extra...)
}

// StartHostsWith is StartHosts with the consent host's options.
func StartHostsWith(t testing.TB, opts []server.Option, extra ...*policy.Policy) *Hosts {
	t.Helper()
	return StartHostsFS(t, web.Files(), opts, extra...)
}

// StartHostsFS is StartHostsWith with the consent host's assets from fsys.
func StartHostsFS(t testing.TB, fsys fs.FS, opts []server.Option, extra ...*policy.Policy) *Hosts {
	t.Helper()
	srv, err := server.New(append(append([]*policy.Policy(nil), Policies...), extra...), fsys, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return StartHostsServing(t, srv)
}

// StartHostsServing starts the two hosts with srv (a consent server the
// caller made, e.g. one whose policies it reloads) as the consent host's
// handler, behind the same gates and counters as StartHosts; both hosts
// close when t ends.
func StartHostsServing(t testing.TB, srv http.Handler) *Hosts {
	t.Helper()
	h := &Hosts{}
	h.Consent = httptest.NewServer(h.Counting(h.serveConsent(srv)))
	t.Cleanup(h.Consent.Close)
	h.ConsentURL = strings.Replace(h.Consent.URL, "127.0.0.1", "localhost", 1)
	h.Portal = httptest.NewServer(h.Counting(portalHandler(t, h)))
	t.Cleanup(h.Portal.Close)
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
func portalHandler(t testing.TB, h *Hosts) http.Handler {
	pages := template.Must(template.ParseFS(testdata, "testdata/*.html"))
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
		}{Consent: h.ConsentURL, Portal: "mtran", Cookie: q.Get("cookie"), Banner: q.Get("banner"), Vendor: h.VendorURL,
			Embed: h.EmbedURL, Lang: q.Get("lang"), Hero: q.Get("hero"),
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
			w.Header().Set("Content-Security-Policy", strings.ReplaceAll(csp, "CONSENT", h.ConsentURL))
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
func brokenHost(t testing.TB, h *Hosts, w http.ResponseWriter, r *http.Request) {
	kase, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/broken/"), "/")
	switch rest {
	case "embed.js":
		proxy(t, w, h.Consent.URL+"/embed.js")
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
			proxy(t, w, h.Consent.URL+"/"+rest)
			return
		}
		http.NotFound(w, r)
		return
	}
	res, err := http.Get(h.Consent.URL + "/portals/mtran/config.json")
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
		assets[k] = h.ConsentURL + v.(string)
	}
	switch kase {
	case "wasm404":
		assets["wasm"] = h.ConsentURL + "/assets/missing.wasm"
	case "corrupt":
		assets["wasm"] = "corrupt.wasm"
	case "badpolicy":
		// The loader does not check the policy: the app must refuse it.
		cfg["policy"].(map[string]any)["name"] = ""
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(cfg)
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
