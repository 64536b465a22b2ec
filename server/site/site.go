// Package site is the consent host's public side: the index, each
// portal's config.json for the loader and its dialogs.json (the
// preferences and the policy dialog before the app runs), its cookie-policy page, its theme
// stylesheet, a demo page per portal with local stand-ins for its
// trackers, the loader's Subresource Integrity value, the example policy
// file, the health and readiness checks and the favicon. Errors are JSON
// {"error": "..."} (see package respond): 404 for an unknown portal or
// language.
package site

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/assets"
	"github.com/portalconsent/portalconsent/server/catalogue"
	"github.com/portalconsent/portalconsent/server/lang"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/respond"
)

//go:embed templates/*.html
var templateFiles embed.FS

// Site serves the public pages.
type Site struct {
	cat    *catalogue.Catalogue
	assets *assets.Set
	pages  *template.Template
	ready  readiness
}

// New returns the public site of the portals of cat, with the assets a;
// its readiness check (Ready) asks store.
func New(cat *catalogue.Catalogue, a *assets.Set, store receipts.Store) *Site {
	pages := template.Must(template.New("").Funcs(template.FuncMap{"langName": lang.Name}).ParseFS(templateFiles, "templates/*.html"))
	return &Site{cat: cat, assets: a, pages: pages, ready: readiness{store: store}}
}

// portal returns the portal of r's {id}, or a 404 naming it.
func (s *Site) portal(r *http.Request) (*catalogue.Portal, error) {
	id := r.PathValue("id")
	p, err := s.cat.Portal(r.Context(), id)
	if errors.Is(err, catalogue.ErrUnknownPortal) {
		return nil, respond.Errorf(http.StatusNotFound, "unknown portal %q", id)
	}
	return p, respond.Unavailable(err, "read", "the portal cannot be read at the moment: retry later")
}

// Config serves /portals/{id}/config.json in the language of ?lang= (a
// list such as fr-CA,fr,en; the default language otherwise), readable by
// any portal (CORS).
func (s *Site) Config(w http.ResponseWriter, r *http.Request) error {
	return s.serveVariant(w, r, func(v *catalogue.Variant) (*assets.Asset, error) { return v.Config, nil })
}

// Dialogs serves /portals/{id}/dialogs.json, the preferences and the
// policy dialog rendered by the server (catalogue.DialogsHTML), in the
// language of ?lang= as Config does, readable by any portal (CORS): the
// loader fetches it only when the visitor opens one of them before the app
// runs (never with config.json: most visitors decide at once).
func (s *Site) Dialogs(w http.ResponseWriter, r *http.Request) error {
	return s.serveVariant(w, r, (*catalogue.Variant).Dialogs)
}

// serveVariant serves the response of the portal of r's {id} which of
// picks in the language of ?lang= (a list such as fr-CA,fr,en; the
// default language otherwise), with CORS: cached and compressed as
// assets.Asset serves it; one that cannot be made is a 500.
func (s *Site) serveVariant(w http.ResponseWriter, r *http.Request, of func(*catalogue.Variant) (*assets.Asset, error)) error {
	respond.CORS(w)
	p, err := s.portal(r)
	if err != nil {
		return err
	}
	// The language is in the URL (?lang=fr-CA,fr,en): no Vary, an ETag per
	// language.
	v := p.Match(r.URL.Query().Get("lang"))
	a, err := of(v)
	if err != nil {
		return respond.Errorf(http.StatusInternalServerError, "rendering the portal's dialogs failed: %v", err)
	}
	w.Header().Set("Content-Language", v.Policy.Texts.Lang)
	a.ServeHTTP(w, r)
	return nil
}

// PreflightConfig answers a CORS preflight of config.json and
// dialogs.json.
func (s *Site) PreflightConfig(w http.ResponseWriter, r *http.Request) {
	respond.CORS(w)
	w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	w.Header().Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// Theme serves a portal's theme stylesheet, /assets/theme-{id}.{hash}.css,
// of the portals served now; any other name is 404.
func (s *Site) Theme(w http.ResponseWriter, r *http.Request) error {
	if a := s.cat.Theme(r.Context(), r.URL.Path); a != nil {
		a.ServeHTTP(w, r)
		return nil
	}
	respond.CORS(w)
	return respond.Errorf(http.StatusNotFound, "no such resource: %s %s", r.Method, r.URL.Path)
}

// Favicon answers a browser's own request for /favicon.ico (it asks on any
// page without an icon link, such as embed.js.sri or config.json shown as
// text): 204 with no icon, cached a day, instead of a 404 that every such
// page would log as an error.
func (s *Site) Favicon(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.WriteHeader(http.StatusNoContent)
}

// Health reports the process is up and how many portals it serves (see
// Ready for whether it can take traffic).
func (s *Site) Health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintf(w, `{"status":"ok","portals":%d}`+"\n", s.cat.Len())
}

// SRI serves the loader's integrity value, cached like the loader.
func (s *Site) SRI(w http.ResponseWriter, r *http.Request) {
	js := s.assets.EmbedJS
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(js.MaxAge)+", must-revalidate")
	h.Set("ETag", js.ETag)
	respond.CORS(w)
	if assets.ETagMatch(r.Header.Get("If-None-Match"), js.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(s.assets.SRI)))
	w.Write([]byte(s.assets.SRI))
}

// pageCSP is the Content-Security-Policy of the server's own pages. The demo
// page runs the banner, so it also allows 'wasm-unsafe-eval' as a portal must,
// and a blob: worker that compiles the wasm off the main thread (worker-src);
// so does the policy page (its Manage cookies button opens the preferences),
// with what the loader needs from this host: the configuration and the wasm
// (connect-src), and a blob: worker that compiles the wasm (worker-src).
const (
	pageCSP   = "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	policyCSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	demoCSP   = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src blob:; base-uri 'none'; form-action 'none'"
)

// render writes the page name with its CSP; a template that fails is a
// 500 naming why.
func (s *Site) render(w http.ResponseWriter, name, csp string, data any) error {
	var b bytes.Buffer
	if err := s.pages.ExecuteTemplate(&b, name, data); err != nil {
		return respond.Errorf(http.StatusInternalServerError, "rendering the page failed: %v", err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	h.Set("Cache-Control", "no-cache")
	w.Write(b.Bytes())
	return nil
}

// IndexMax is how many portals the index lists (the first by id), each
// built to show its languages: a host of thousands lists them through the
// operator API.
const IndexMax = 200

// Index serves the list of the first IndexMax portals with their pages.
func (s *Site) Index(w http.ResponseWriter, r *http.Request) error {
	es, err := s.cat.Entries(r.Context())
	if err != nil {
		return respond.Unavailable(err, "read", "the portals cannot be read at the moment: retry later")
	}
	var ps []*policy.Policy
	for _, e := range es[:min(len(es), IndexMax)] {
		p, err := s.cat.Portal(r.Context(), e.ID)
		if errors.Is(err, catalogue.ErrUnknownPortal) {
			continue // removed meanwhile
		}
		if err != nil {
			return respond.Unavailable(err, "read", "the portals cannot be read at the moment: retry later")
		}
		ps = append(ps, p.Policy)
	}
	return s.render(w, "index", pageCSP, map[string]any{"Origin": respond.Origin(r), "CSS": s.assets.CSS.Name,
		"Portals": indexRows(ps), "More": len(es) - min(len(es), IndexMax), "SRI": s.assets.SRI})
}

// Policy serves /portals/{id}/policy in the language of the lang query
// parameter, else of Accept-Language, else the policy's default (see
// lang.Preferences).
func (s *Site) Policy(w http.ResponseWriter, r *http.Request) error {
	p, err := s.portal(r)
	if err != nil {
		return err
	}
	w.Header().Set("Vary", "Accept-Language")
	list := r.URL.Query().Get("lang")
	if list == "" {
		list = r.Header.Get("Accept-Language")
	}
	return s.renderPolicy(w, r, p, p.Match(list))
}

// PolicyLang serves /portals/{id}/policy/{lang}: the policy page in
// exactly that language, or 404 naming the languages offered.
func (s *Site) PolicyLang(w http.ResponseWriter, r *http.Request) error {
	p, err := s.portal(r)
	if err != nil {
		return err
	}
	l := r.PathValue("lang")
	v := p.Exact(l)
	if v == nil {
		return respond.Errorf(http.StatusNotFound, "portal %q has no policy in %q (it has %s)",
			p.Policy.ID, respond.Clip(l, 64), strings.Join(p.Policy.Languages(), ", "))
	}
	return s.renderPolicy(w, r, p, v)
}

// alternate is a link to the policy page in one language.
type alternate struct {
	Lang, Name, URL string
	Current         bool
}

// renderPolicy writes the policy page of the portal in the language of v,
// with links to the page in each language the policy offers.
func (s *Site) renderPolicy(w http.ResponseWriter, r *http.Request, p *catalogue.Portal, v *catalogue.Variant) error {
	base := respond.Origin(r) + "/portals/" + p.Policy.ID + "/policy"
	var alts []alternate
	for _, o := range p.Variants {
		l := o.Policy.Texts.Lang
		alts = append(alts, alternate{Lang: l, Name: lang.Name(l), URL: base + "/" + l, Current: o == v})
	}
	w.Header().Set("Content-Language", v.Policy.Texts.Lang)
	theme := ""
	if p.Theme != nil {
		theme = p.Theme.Name
	}
	return s.render(w, "policy", policyCSP, map[string]any{
		"Policy": v.Policy, "CSS": s.assets.CSS.Name, "Theme": theme, "Dir": policy.Dir(v.Policy.Texts.Lang),
		"Content": catalogue.PolicyHTML(v.Policy),
		"Updated": v.Policy.UpdatedText(), "Alternates": alts,
		"Canonical": base + "/" + v.Policy.Texts.Lang, "Negotiated": base,
	})
}

// Demo serves a demo portal page carrying the script tag.
func (s *Site) Demo(w http.ResponseWriter, r *http.Request) error {
	p, err := s.portal(r)
	if err != nil {
		return err
	}
	return s.render(w, "demo", demoCSP, map[string]any{"Policy": p.Policy, "Origin": respond.Origin(r), "Trackers": demoTrackers(p.Policy)})
}
