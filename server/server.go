// Package server is the consent host: it serves the loader (embed.js), the
// WebAssembly app and its runtime, each portal's configuration for the banner,
// each portal's cookie-policy page (rendered natively from the banner
// components), and a demo portal page per portal.
//
// Routes:
//
//	GET /                              index: the portals, their demo and policy pages
//	GET /embed.js                      the loader (short cache, ETag)
//	GET /embed.js.sri                  the loader's Subresource Integrity value
//	GET /assets/{name}.{hash}.{ext}    ui.js, embeds.js, app.wasm, wasm_exec.js, banner.css (immutable)
//	GET /portals/{id}/config.json      the policy and asset URLs for the loader (CORS);
//	                                   ?lang=fr-CA,fr,en picks the language
//	GET /portals/{id}/policy           the cookie-policy page, in the language of
//	                                   ?lang= or else Accept-Language
//	GET /portals/{id}/policy/{lang}    the cookie-policy page in that language
//	GET /assets/theme-{id}.{hash}.css  a portal's theme, for its policy page (immutable)
//	GET /demo/{id}                     a demo portal page carrying the script tag
//	GET /demo/stand-in/{type}.js       a tracker's local stand-in, for the demo pages
//	GET /policy-example.yaml           the example portal's policy file, to copy
//	GET /healthz                       {"status":"ok","portals":N} (not cached)
//	GET /favicon.ico                   204: the server has no icon
//	POST /portals/{id}/consents        the receipt of a visitor's choice (see consents.go)
//	POST /portals/{id}/impressions     a banner shown: a counter per day (see impressions.go)
//	POST /portals/{id}/cookies/reappeared  refused cookies found again: a tally per day (see reappeared.go)
//	GET /api/v1/portals/{id}/consents/{consentId}   operator API, bearer token (see api.go)
//	GET /api/v1/portals/{id}/policies/{sha256}      a notice as shown
//	GET /api/v1/portals/{id}/receipts.csv           receipts of UTC days ?from= to ?to=
//	GET /api/v1/portals/{id}/receipts.jsonl         the same as JSON Lines (see apistats.go)
//	GET /api/v1/portals/{id}/stats                  daily aggregates of ?from= to ?to=
//	GET /api/v1/portals/{id}/cookies/undeclared     undeclared cookie names of ?from= to ?to=
//	GET /api/v1/portals/{id}/cookies/reappeared     refused cookies found again (see reappeared.go)
//	GET /console/, POST /console/sign-in, POST /console/sign-out,
//	GET /console/portals/{id}          the operators' console (see console.go)
//
// The operator API and the console let in the admin token and the
// operators of WithOperators, each to their portals only (403 outside).
// Metrics (WithMetrics) are recorded by route pattern and served elsewhere.
//
// Errors, on every route, are JSON {"error": "..."} with the HTTP status.
// Every request is logged (see
// WithLogger); a panicking handler is logged and answered 500.
package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/metrics"
	"github.com/portalconsent/portalconsent/server/operators"
	"github.com/portalconsent/portalconsent/server/ratelimit"
	"github.com/portalconsent/portalconsent/server/receipts"
	"golang.org/x/text/language"
)

// Server is the consent host's http.Handler.
type Server struct {
	mux      *http.ServeMux
	portals  atomic.Pointer[portalSet] // swapped whole by SetPolicies
	embedJS  *asset
	ui       *asset // ui.js, loaded by embed.js when the banner or a dialog shows
	embeds   *asset // embeds.js, loaded by embed.js on a page with embeds waiting for consent
	wasm     *asset
	wasmExec *asset
	css      *asset
	// consoleCSS is the console pages' stylesheet, after css.
	consoleCSS *asset
	sri        string // Subresource Integrity value of embed.js as served
	log        *slog.Logger

	receipts   receipts.Store     // nil: no receipts kept (503)
	limiter    *ratelimit.Limiter // receipts
	impLimiter *ratelimit.Limiter // impressions
	now        func() time.Time
	earlier    earlierNotices // stored notices of earlier revisions, cached
	adminToken string         // for auth when WithOperators is not given
	auth       *operators.Set // who may see which portal (api.go, console.go)
	sessions   *operators.Sessions
	sessionKey []byte
	signIn     *ratelimit.Limiter // console sign-in attempts per client
	publicURL  string             // -public-url: scheme and host the console is reached at
	metrics    *metrics.Metrics   // nil: none recorded
	patterns   []string           // every route pattern, in registration order
	routed     bool               // New is done: SetPolicies records the notices it serves
}

// Option configures a Server in New.
type Option func(*Server)

// WithLogger makes the server log each request (method, path, status, bytes,
// duration) at Info and each recovered panic at Error to l. The default
// discards the logs.
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) {
		if l != nil {
			s.log = l
		}
	}
}

// maxURIBytes is the longest request URI (path and query) served; longer ones
// get 414.
const maxURIBytes = 8 << 10

// portalSet is the portals served at one time, by id and in id order, and
// their themes' stylesheets by path.
type portalSet struct {
	byID   map[string]*portal
	order  []string
	themes map[string]*asset
}

// portal is one portal's policy with its precomputed responses.
type portal struct {
	policy *policy.Policy // all its languages
	config *asset         // config.json in the default language
	// variants are the policy in each language, default first (see lang.go).
	variants []*variant
	matcher  language.Matcher
	theme    *asset // the theme's stylesheet (ThemeCSS), nil without one
}

// configMaxAge is how long a portal's configuration may be cached: a policy
// change reaches visitors within a minute.
const configMaxAge = 60

// config is the body of /portals/{id}/config.json: everything the loader needs
// in one response.
type config struct {
	Policy *policy.Policy `json:"policy"`
	Assets configAssets   `json:"assets"`
	// Banner is the banner rendered by the server (the first paint).
	Banner string `json:"banner"`
	// CSS is the stylesheet of the consent frame, applied without a request:
	// web/banner.css then the portal's theme (ThemeCSS).
	CSS string `json:"css"`
	// Dir is "rtl" for a right-to-left language (policy.Dir), empty
	// otherwise: what the embeds' placeholders, drawn in the portal's own
	// page, are laid out in (the banner carries its own dir).
	Dir string `json:"dir,omitempty"`
}

type configAssets struct {
	Wasm     string `json:"wasm"`
	WasmExec string `json:"wasmExec"`
	CSS      string `json:"css"`
}

// New returns a server for the given policies, with assets read from
// assetsFS (see package web). It fails when there is no policy, when a policy
// is invalid or two share an id, or when an asset is missing (the wasm is
// built by `make build`). SetPolicies replaces the policies later.
func New(policies []*policy.Policy, assetsFS fs.FS, opts ...Option) (*Server, error) {
	if len(policies) == 0 {
		return nil, errors.New("server: no portal policy to serve")
	}
	s := &Server{
		mux: http.NewServeMux(), log: slog.New(slog.DiscardHandler), now: time.Now,
		limiter:    ratelimit.New(DefaultReceiptRate, DefaultReceiptBurst),
		impLimiter: ratelimit.New(DefaultReceiptRate, DefaultReceiptBurst),
	}
	for _, o := range opts {
		o(s)
	}
	if s.auth == nil {
		s.auth = operators.New(s.adminToken)
	}
	if s.sessionKey == nil {
		s.sessionKey = operators.RandomKey() // sessions of this process only
	}
	var err error
	if s.sessions, err = operators.NewSessions(s.sessionKey); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if s.signIn == nil {
		s.signIn = ratelimit.New(DefaultSignInRate, DefaultSignInBurst)
	}
	if s.ui, err = minified(assetsFS, "ui.js", "text/javascript; charset=utf-8", true); err != nil {
		return nil, err
	}
	if s.embeds, err = minified(assetsFS, "embeds.js", "text/javascript; charset=utf-8", true); err != nil {
		return nil, err
	}
	if s.embedJS, err = loader(assetsFS, s.ui, s.embeds); err != nil {
		return nil, err
	}
	s.sri = sri(s.embedJS.raw)
	if s.css, err = minified(assetsFS, "banner.css", "text/css; charset=utf-8", true); err != nil {
		return nil, err
	}
	if s.consoleCSS, err = minified(assetsFS, "console.css", "text/css; charset=utf-8", true); err != nil {
		return nil, err
	}
	if s.wasm, err = loadAsset(assetsFS, "dist/app.wasm", "application/wasm", true); err != nil {
		return nil, err
	}
	if s.wasmExec, err = loadAsset(assetsFS, "dist/wasm_exec.js", "text/javascript; charset=utf-8", true); err != nil {
		return nil, err
	}
	if err := s.SetPolicies(policies); err != nil {
		return nil, err
	}
	s.routes()
	s.routed = true
	s.serveNotices(context.Background())
	return s, nil
}

// SetPolicies replaces, at once, the portals the server serves: each
// portal's configuration (and its ETag, a hash of its content), policy page,
// demo page and the index follow the new policies; requests in flight finish
// with the old ones. It changes nothing and fails when a policy is invalid or
// two share an id. An empty list serves no portal.
func (s *Server) SetPolicies(policies []*policy.Policy) error {
	set := &portalSet{byID: map[string]*portal{}, themes: map[string]*asset{}}
	for _, p := range policies {
		if err := p.Validate(); err != nil {
			return fmt.Errorf("server: portal %q: %w", p.ID, err)
		}
		if _, dup := set.byID[p.ID]; dup {
			return fmt.Errorf("server: portal %q is declared twice", p.ID)
		}
		pt := &portal{policy: p}
		theme := ThemeCSS(p.Theme)
		if theme != "" {
			a, err := newAsset("theme-"+p.ID+".css", []byte(theme), "text/css; charset=utf-8", true, nil, nil)
			if err != nil {
				return err
			}
			pt.theme = a
			set.themes[a.name] = a
		}
		variants, matcher, err := s.newVariants(p, theme)
		if err != nil {
			return err
		}
		pt.config, pt.variants, pt.matcher = variants[0].config, variants, matcher
		for _, v := range variants {
			if v.notice, err = newNotice(v.policy); err != nil {
				return err
			}
		}
		set.byID[p.ID] = pt
		set.order = append(set.order, p.ID)
	}
	sort.Strings(set.order)
	if s.routed {
		// The notices replaced were served until now: an earlier revision
		// stays valid for its lifetime from this moment.
		s.serveSet(context.Background(), s.portals.Load())
	}
	s.portals.Store(set)
	s.earlier.forget()
	if s.routed {
		s.serveNotices(context.Background())
	}
	return nil
}

// Policies returns the policies served, sorted by id.
func (s *Server) Policies() []*policy.Policy {
	set := s.portals.Load()
	out := make([]*policy.Policy, 0, len(set.order))
	for _, id := range set.order {
		out = append(out, set.byID[id].policy)
	}
	return out
}

func (s *Server) routes() {
	s.handleFunc("GET /{$}", s.index)
	s.handle("GET /embed.js", s.embedJS)
	s.handleFunc("GET /embed.js.sri", s.embedSRI)
	s.handleFunc("GET /healthz", s.healthz)
	s.handleFunc("GET /favicon.ico", s.favicon)
	for _, a := range []*asset{s.ui, s.embeds, s.wasm, s.wasmExec, s.css, s.consoleCSS} {
		s.handle("GET "+a.name, a)
	}
	// Themes follow the policies (SetPolicies): looked up at each request.
	s.handleFunc("GET /assets/{name}", s.themeAsset)
	s.handleFunc("GET /portals/{id}/config.json", s.config)
	s.handleFunc("OPTIONS /portals/{id}/config.json", s.preflight)
	s.handleFunc("GET /portals/{id}/policy", s.policyPage)
	s.handleFunc("GET /portals/{id}/policy/{lang}", s.policyPageLang)
	s.handleFunc("GET /demo/{id}", s.demoPage)
	s.handleFunc("GET /demo/stand-in/{file}", s.standIn)
	s.handleFunc("GET /policy-example.yaml", s.policyExample)
	s.handleFunc("POST /portals/{id}/consents", s.postConsent)
	s.handleFunc("OPTIONS /portals/{id}/consents", s.consentsPreflight)
	s.handleFunc("POST /portals/{id}/impressions", s.postImpression)
	s.handleFunc("POST /portals/{id}/cookies/reappeared", s.postReappeared)
	s.handleFunc("GET /api/v1/portals/{id}/consents/{consentId}", s.apiConsent)
	s.handleFunc("GET /api/v1/portals/{id}/policies/{sha256}", s.apiNotice)
	s.handleFunc("GET /api/v1/portals/{id}/receipts.csv", s.apiReceiptsCSV)
	s.handleFunc("GET /api/v1/portals/{id}/receipts.jsonl", s.apiReceiptsJSONL)
	s.handleFunc("GET /api/v1/portals/{id}/stats", s.apiStats)
	s.handleFunc("GET /api/v1/portals/{id}/cookies/undeclared", s.apiUndeclared)
	s.handleFunc("GET /api/v1/portals/{id}/cookies/reappeared", s.apiReappeared)
	s.consoleRoutes()
	s.handleFunc("/", s.notFound)
}

// handle registers h for pattern on the mux and records the pattern
// (Patterns).
func (s *Server) handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.patterns = append(s.patterns, pattern)
}

func (s *Server) handleFunc(pattern string, h http.HandlerFunc) { s.handle(pattern, h) }

// Patterns returns the ServeMux pattern of every route, as registered: the
// route label of the request metrics takes only these values (and "none"
// for a request refused before routing).
func (s *Server) Patterns() []string { return append([]string(nil), s.patterns...) }

// themeAsset serves a portal's theme stylesheet, /assets/theme-{id}.{hash}.css,
// of the portals served now; any other name is 404.
func (s *Server) themeAsset(w http.ResponseWriter, r *http.Request) {
	if a := s.portals.Load().themes[r.URL.Path]; a != nil {
		a.ServeHTTP(w, r)
		return
	}
	cors(w)
	writeError(w, http.StatusNotFound, fmt.Sprintf("no such resource: %s %s", r.Method, r.URL.Path))
}

// notFound answers what no route matches: 405 with Allow when the path is
// served for other methods (the catch-all "/" matches every method, so the
// ServeMux never answers 405 itself), else 404.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	cors(w) // so that a portal's loader can read why
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodOptions} {
		if _, pattern := s.mux.Handler(&http.Request{Method: m, Host: r.Host, URL: r.URL}); pattern != "/" {
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path))
		return
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no such resource: %s %s", r.Method, r.URL.Path))
}

// ServeHTTP implements http.Handler. It logs the request, recovers a
// panicking handler (500), answers 414 to a request URI over 8 KiB and 400 to
// a path that is not absolute and clean (where the ServeMux would redirect).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &logWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v) // net/http's own way to abort a response
			}
			s.log.Error("panic serving request", "method", r.Method, "path", logPath(r),
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if rw.status == 0 {
				// Drop what the handler set for its own response (type,
				// cache, ETag), keep the headers every response carries.
				h := rw.Header()
				for k := range h {
					if k != "X-Content-Type-Options" && k != "Referrer-Policy" {
						delete(h, k)
					}
				}
				h.Set("Cache-Control", "no-store")
				writeError(rw, http.StatusInternalServerError, "internal server error")
			}
		}
		d := time.Since(start)
		s.metrics.Request(r.Pattern, rw.code(), d.Seconds())
		s.log.Info("request", "method", r.Method, "path", logPath(r), "status", rw.code(),
			"bytes", rw.bytes, "duration", d)
	}()
	rw.Header().Set("X-Content-Type-Options", "nosniff")
	rw.Header().Set("Referrer-Policy", "strict-origin-when-cross-origin")
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	if len(uri) > maxURIBytes {
		writeError(rw, http.StatusRequestURITooLong, fmt.Sprintf("request URI longer than %d bytes", maxURIBytes))
		return
	}
	if p := r.URL.EscapedPath(); r.Method != http.MethodConnect && (!strings.HasPrefix(p, "/") || cleanPath(p) != p) {
		writeError(rw, http.StatusBadRequest, fmt.Sprintf("malformed path %q: not absolute and clean", truncate(p, 256)))
		return
	}
	s.mux.ServeHTTP(rw, r)
}

// cleanPath returns the canonical form of an absolute URL path, as the
// ServeMux computes it: path.Clean, keeping a trailing slash.
func cleanPath(p string) string {
	np := path.Clean(p)
	if strings.HasSuffix(p, "/") && np != "/" {
		np += "/"
	}
	return np
}

// logPath returns the path of r for the logs, at most 512 bytes.
func logPath(r *http.Request) string { return truncate(r.URL.Path, 512) }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// logWriter records the status and body size of a response.
type logWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *logWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *logWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *logWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *logWriter) code() int {
	if w.status == 0 {
		return http.StatusOK // nothing written: net/http sends 200
	}
	return w.status
}

// favicon answers a browser's own request for /favicon.ico (it asks on any
// page without an icon link, such as embed.js.sri or config.json shown as
// text): 204 with no icon, cached a day, instead of a 404 that every such
// page would log as an error.
func (s *Server) favicon(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.WriteHeader(http.StatusNoContent)
}

// healthz reports the server is up and how many portals it serves.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintf(w, `{"status":"ok","portals":%d}`+"\n", len(s.portals.Load().order))
}

// SRI returns the Subresource Integrity value of the loader as served
// ("sha384-<base64>"): it changes with every release of embed.js.
func (s *Server) SRI() string { return s.sri }

// embedSRI serves the loader's integrity value, cached like the loader.
func (s *Server) embedSRI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(s.embedJS.maxAge)+", must-revalidate")
	h.Set("ETag", s.embedJS.etag)
	cors(w)
	if etagMatch(r.Header.Get("If-None-Match"), s.embedJS.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(s.sri)))
	w.Write([]byte(s.sri))
}

// lookup returns the portal named by the {id} path value, or writes a 404
// naming it and returns nil.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) *portal {
	id := r.PathValue("id")
	if p, ok := s.portals.Load().byID[id]; ok {
		return p
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("unknown portal %q", id))
	return nil
}

func (s *Server) config(w http.ResponseWriter, r *http.Request) {
	cors(w)
	p := s.lookup(w, r)
	if p == nil {
		return
	}
	// The language is in the URL (?lang=fr-CA,fr,en): no Vary, an ETag per
	// language.
	v := p.match(r.URL.Query().Get("lang"))
	w.Header().Set("Content-Language", v.policy.Texts.Lang)
	v.config.ServeHTTP(w, r)
}

func (s *Server) preflight(w http.ResponseWriter, r *http.Request) {
	cors(w)
	w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	w.Header().Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// cors lets any portal origin read the response (no credentials are used).
func cors(w http.ResponseWriter) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
}

// writeError writes {"error": msg} with the status.
func writeError(w http.ResponseWriter, status int, msg string) {
	var b bytes.Buffer
	json.NewEncoder(&b).Encode(struct {
		Error string `json:"error"`
	}{msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}
