package harness

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/servertest"
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
// whole (the app's download on intent); after 10 s it fails t.
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
// The consent host keeps receipts in a SQLite store of its own unless opts
// give one (server.WithReceipts): a receipt it cannot keep (503) stays
// pending in the browser (cookies_preferences_pending) and makes later
// page views load ui.js to send it again.
func StartHostsFS(t testing.TB, fsys fs.FS, opts []server.Option, extra ...*policy.Policy) *Hosts {
	t.Helper()
	opts = append([]server.Option{server.WithReceipts(servertest.OpenStore(t))}, opts...)
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
