// Package server is the consent host: it serves the loader (embed.js), the
// WebAssembly app and its runtime, each portal's configuration for the banner,
// each portal's cookie-policy page (rendered natively from the banner
// components), and a demo portal page per portal.
//
// Routes:
//
//	GET /                              index: the portals, their demo and policy pages
//	GET /embed.js                      the loader (short cache, ETag)
//	GET /assets/{name}.{hash}.{ext}    app.wasm, wasm_exec.js, banner.css (immutable)
//	GET /portals/{id}/config.json      the policy and asset URLs for the loader (CORS)
//	GET /portals/{id}/policy           the cookie-policy page
//	GET /demo/{id}                     a demo portal page carrying the script tag
//
// Errors are JSON {"error": "..."} with the HTTP status, except on HTML pages.
package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
	"strings"

	"github.com/portalconsent/portalconsent/policy"
)

// Server is the consent host's http.Handler.
type Server struct {
	mux      *http.ServeMux
	portals  map[string]*portal
	order    []string
	embedJS  *asset
	wasm     *asset
	wasmExec *asset
	css      *asset
}

// portal is one portal's policy with its precomputed responses.
type portal struct {
	policy *policy.Policy
	config *asset // config.json
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
	// CSS is the stylesheet of the consent frame, applied without a request.
	CSS string `json:"css"`
}

type configAssets struct {
	Wasm     string `json:"wasm"`
	WasmExec string `json:"wasmExec"`
	CSS      string `json:"css"`
}

// New returns a server for the given policies, with assets read from
// assetsFS (see package web). It fails when there is no policy, when a policy
// is invalid or two share an id, or when an asset is missing (the wasm is
// built by `make build`).
func New(policies []*policy.Policy, assetsFS fs.FS) (*Server, error) {
	if len(policies) == 0 {
		return nil, errors.New("server: no portal policy to serve")
	}
	s := &Server{mux: http.NewServeMux(), portals: map[string]*portal{}}
	var err error
	if s.embedJS, err = minified(assetsFS, "embed.js", "text/javascript; charset=utf-8", false); err != nil {
		return nil, err
	}
	if s.css, err = minified(assetsFS, "banner.css", "text/css; charset=utf-8", true); err != nil {
		return nil, err
	}
	if s.wasm, err = loadAsset(assetsFS, "dist/app.wasm", "application/wasm", true); err != nil {
		return nil, err
	}
	if s.wasmExec, err = loadAsset(assetsFS, "dist/wasm_exec.js", "text/javascript; charset=utf-8", true); err != nil {
		return nil, err
	}
	for _, p := range policies {
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("server: portal %q: %w", p.ID, err)
		}
		if _, dup := s.portals[p.ID]; dup {
			return nil, fmt.Errorf("server: portal %q is declared twice", p.ID)
		}
		body, err := json.Marshal(config{
			Policy: p,
			Assets: configAssets{Wasm: s.wasm.name, WasmExec: s.wasmExec.name, CSS: s.css.name},
			Banner: BannerHTML(p),
			CSS:    string(s.css.raw),
		})
		if err != nil {
			return nil, err
		}
		cfg, err := newAsset("config.json", body, "application/json", false, nil, nil)
		if err != nil {
			return nil, err
		}
		cfg.maxAge = configMaxAge
		s.portals[p.ID] = &portal{policy: p, config: cfg}
		s.order = append(s.order, p.ID)
	}
	sort.Strings(s.order)
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /{$}", s.index)
	s.mux.Handle("GET /embed.js", s.embedJS)
	for _, a := range []*asset{s.wasm, s.wasmExec, s.css} {
		s.mux.Handle("GET "+a.name, a)
	}
	s.mux.HandleFunc("GET /portals/{id}/config.json", s.config)
	s.mux.HandleFunc("OPTIONS /portals/{id}/config.json", s.preflight)
	s.mux.HandleFunc("GET /portals/{id}/policy", s.policyPage)
	s.mux.HandleFunc("GET /demo/{id}", s.demoPage)
	s.mux.HandleFunc("/", s.notFound)
}

// notFound answers what no route matches: 405 with Allow when the path is
// served for other methods (the catch-all "/" matches every method, so the
// ServeMux never answers 405 itself), else 404.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	cors(w) // so that a portal's loader can read why
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodOptions} {
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

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "strict-origin-when-cross-origin")
	s.mux.ServeHTTP(w, r)
}

// lookup returns the portal named by the {id} path value, or writes a 404
// naming it and returns nil.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, html bool) *portal {
	id := r.PathValue("id")
	if p, ok := s.portals[id]; ok {
		return p
	}
	msg := fmt.Sprintf("unknown portal %q", id)
	if html {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintln(w, msg)
		return nil
	}
	writeError(w, http.StatusNotFound, msg)
	return nil
}

func (s *Server) config(w http.ResponseWriter, r *http.Request) {
	cors(w)
	p := s.lookup(w, r, false)
	if p == nil {
		return
	}
	p.config.ServeHTTP(w, r)
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
