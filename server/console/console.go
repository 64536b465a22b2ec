// Package console is the operators' console, server-rendered, in English
// or French by the operator's Accept-Language, with no script:
//
//	GET  /console/                 sign-in form, or once signed in the operator's portals
//	GET  /console/?consent=ID      ... and the portals among them with receipts of that consent id (search.go)
//	POST /console/sign-in          token (a password field) → session cookie, 303 to /console/
//	POST /console/sign-out         revokes the session, clears the cookie
//	GET  /console/portals/{id}     a portal's statistics (stats.go)
//	GET  /console/portals/{id}/lookup, /notices/{sha256}, /history   proof pages (lookup.go)
//	GET  /console/portals/{id}/cookies, /export, /export.csv, /export.jsonl   (cookies.go)
//	GET  /console/operators, POST /console/operators[/{name}/scope|token|delete]
//	                               the admin's operators page (operators.go)
//	GET, POST /console/portals/{id}/policy, /console/new-portal   the policy editor (editor.go)
//
// A portal's pages answer 403 outside the operator's scope, 404 for an
// unknown portal, and 303 to the sign-in form without a session. Sessions,
// anti-forgery tokens and the same-origin check of a POST are package
// auth's: a cross-site POST or a wrong token is 403, too many sign-in
// attempts from one client 429 with Retry-After. Every page has a strict
// CSP, no-store, and is never framed. Its wording is one table per language
// (texts_en.go, texts_fr.go); its templates are embedded and parsed once.
package console

import (
	"bytes"
	"crypto/ed25519"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/portalconsent/portalconsent/server/assets"
	"github.com/portalconsent/portalconsent/server/auth"
	"github.com/portalconsent/portalconsent/server/catalogue"
	"github.com/portalconsent/portalconsent/server/lang"
	"github.com/portalconsent/portalconsent/server/metrics"
	"github.com/portalconsent/portalconsent/server/operators"
	"github.com/portalconsent/portalconsent/server/ratelimit"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/respond"
	"golang.org/x/text/language"
)

// consoleCSP is the console pages' policy: no script at all, forms to this
// host only.
const consoleCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// maxSignInBody bounds a sign-in or sign-out form.
const maxSignInBody = 4 << 10

//go:embed templates/*.html
var templateFiles embed.FS

// Console serves the console's pages.
type Console struct {
	cat     *catalogue.Catalogue
	auth    *auth.Auth
	dir     *auth.Directory
	store   receipts.Store
	assets  *assets.Set
	now     func() time.Time
	log     *slog.Logger
	metrics *metrics.Metrics
	errs    respond.Mapper
	pages   *template.Template
	// checkpointKey is the checkpoints' public key, base64; "" for none.
	checkpointKey string
}

// Config is what the console needs.
type Config struct {
	Catalogue *catalogue.Catalogue
	Auth      *auth.Auth
	Operators *auth.Directory // the operators the admin manages
	Store     receipts.Store  // receipts.None: the pages say the host keeps none (503)
	Assets    *assets.Set
	Now       func() time.Time
	Log       *slog.Logger
	Metrics   *metrics.Metrics
	// CheckpointKey is the public key of the receipts' checkpoints, shown
	// on the home page (base64); nil shows none.
	CheckpointKey ed25519.PublicKey
}

// New returns the console of c, its templates parsed.
func New(c Config) *Console {
	pages := template.Must(template.New("").Funcs(template.FuncMap{"cookieFacts": cookieFacts, "pager": pager}).ParseFS(templateFiles, "templates/*.html"))
	con := &Console{cat: c.Catalogue, auth: c.Auth, dir: c.Operators, store: c.Store, assets: c.Assets, now: c.Now, log: c.Log,
		metrics: c.Metrics, errs: respond.Mapper{Log: c.Log, Metrics: c.Metrics}, pages: pages}
	if c.CheckpointKey != nil {
		con.checkpointKey = base64.StdEncoding.EncodeToString(c.CheckpointKey)
	}
	return con
}

// texts is the console's wording in one language: one table per
// language, each in its own file.
type texts struct {
	Console   consoleText
	Lookup    lookupText
	Stats     statsText
	Cookies   cookiesText
	Operators operatorsText
	Editor    editorText
}

// byLang are the console's languages, English first (the default).
var byLang = []*texts{&english, &french}

var matcher = language.NewMatcher([]language.Tag{language.English, language.French})

// textsFor returns the console's wording for r's Accept-Language, English
// for anything else.
func textsFor(r *http.Request) *texts {
	return byLang[lang.Match(matcher, len(byLang), r.Header.Get("Accept-Language"))]
}

// consoleText is the wording every console page shares.
type consoleText struct {
	Lang, Title, SignInTitle, SignInIntro, TokenLabel, TokenHelp, SignIn, WrongToken, TooMany,
	SignedInAs, Portals, NoPortals, Operators, SignOut, Back, Forbidden, ForbiddenMsg, NotFound, NotFoundMsg, PortalUnavailable,
	PortalIntro, Revision, Expired string
	// How a version is named: its number and publication date first, the
	// revision as a technical id after (versionText).
	VersionOf, RevisionID string
	// Via names where a version was published from (receipts.Via…).
	Via map[string]string
	// The checkpoint key on the home page.
	CheckpointTitle, CheckpointText string
	// The home page's search for a consent id (search.go).
	SearchTitle, SearchLabel, SearchButton, SearchHelp, SearchFound, SearchNone, SearchHit string
	// The navigation between a portal's pages (consoleNav).
	PortalNav, NavStats, NavLookup, NavHistory, NavCookies, NavExport, NavPolicy, NewPortal string
}

// consolePage is the data of a console page.
type consolePage struct {
	T          *consoleText
	CSS        string
	ConsoleCSS string
	// Nav links a portal's pages (set with ID, see consoleNav).
	Nav []consoleNavLink
	// Data is the page's own data (each page's template knows its type).
	Data      any
	Heading   string
	Principal string // "" before sign-in
	Admin     bool   // signed in with the admin token: the operators page is theirs
	CSRF      string
	Error     string
	Message   string
	Portals   []consolePortalLink
	ID        string
	Revision  int
	// CheckpointKey is the checkpoints' public key (base64), on the home
	// page; "" for none.
	CheckpointKey string
	// Version names the version of the portal (ID) served, see versionText.
	Version string
	// MayCreate shows the New portal link.
	MayCreate bool
	// Style is the page's own stylesheet (the editor's preview), allowed
	// by the CSP with Nonce; "" for none.
	Style template.CSS
	Nonce string
	// Search is the home page's search for a consent id.
	Search *consoleSearch
}

type consolePortalLink struct{ ID, Name string }

type consoleNavLink struct {
	Href, Label string
	Current     bool
}

// Console pages of one portal, the keys of consoleNav's current page.
const (
	navStats   = ""
	navLookup  = "lookup"
	navHistory = "history"
	navCookies = "cookies"
	navExport  = "export"
	navPolicy  = "policy"
)

// consoleNav returns the links between the pages of portal id, current
// marked (one of the nav… constants).
func consoleNav(t *consoleText, id, current string) []consoleNavLink {
	base := "/console/portals/" + url.PathEscape(id)
	var out []consoleNavLink
	for _, l := range []struct{ page, label string }{
		{navStats, t.NavStats}, {navLookup, t.NavLookup}, {navHistory, t.NavHistory},
		{navCookies, t.NavCookies}, {navExport, t.NavExport}, {navPolicy, t.NavPolicy},
	} {
		href := base
		if l.page != "" {
			href += "/" + l.page
		}
		out = append(out, consoleNavLink{Href: href, Label: l.label, Current: l.page == current})
	}
	return out
}

// signedIn is a page of a signed-in operator: its wording, who, and the
// session.
type signedIn struct {
	tx *texts
	p  operators.Principal
	ss operators.Session
}

// page returns the data of a page of s with heading, for portal pt (nil
// for none) with nav the current page of its navigation.
func (c *Console) page(s signedIn, heading string, pt *catalogue.Portal, nav string) *consolePage {
	d := &consolePage{T: &s.tx.Console, Heading: heading, Principal: s.p.Name, CSRF: c.auth.CSRF(s.ss), Admin: s.p.Name == operators.AdminName}
	if pt != nil {
		d.ID, d.Revision, d.Nav = pt.Policy.ID, pt.Policy.Revision, consoleNav(d.T, pt.Policy.ID, nav)
		d.Version = versionText(d.T, pt.Version, int64(pt.Policy.Revision))
	}
	return d
}

// versionText names a portal's version v serving revision for an
// operator: its number and publication date first, the revision as a
// technical id after ("version 3 of 2026-12-07 14:03:05Z (revision
// 2324287148408292)"); the revision only for a policy not served from the
// database (v.Version 0).
func versionText(t *consoleText, v receipts.PolicyVersion, revision int64) string {
	rev := fmt.Sprintf(t.RevisionID, revision)
	if v.Version == 0 {
		return rev
	}
	return fmt.Sprintf(t.VersionOf, v.Version, utcTime(v.PublishedAt)) + " (" + rev + ")"
}

// render writes a console page with the status, its strict CSP and no
// caching. A template that fails is a 500 saying why.
func (c *Console) render(w http.ResponseWriter, status int, name string, d *consolePage) {
	d.CSS, d.ConsoleCSS = c.assets.CSS.Name, c.assets.ConsoleCSS.Name
	csp := consoleCSP
	if d.Style != "" {
		d.Nonce = styleNonce()
		csp = strings.Replace(csp, "style-src 'self'", "style-src 'self' 'nonce-"+d.Nonce+"'", 1)
	}
	var b bytes.Buffer
	if err := c.pages.ExecuteTemplate(&b, name, d); err != nil {
		respond.WriteError(w, http.StatusInternalServerError, "rendering the page failed: "+err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	h.Set("Content-Language", d.T.Lang)
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Accept-Language, Cookie")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// errorPage writes the console's error page with status; s.p is empty
// before sign-in.
func (c *Console) errorPage(w http.ResponseWriter, status int, s signedIn, heading, msg string) {
	d := &consolePage{T: &s.tx.Console, Heading: heading, Message: msg}
	if s.p.Name != "" {
		d.Principal, d.CSRF = s.p.Name, c.auth.CSRF(s.ss)
	}
	c.render(w, status, "error", d)
}

// signInForm writes the sign-in form with status, setting a fresh
// double-submit cookie its token is bound to.
func (c *Console) signInForm(w http.ResponseWriter, r *http.Request, status int, msg string) {
	csrf := c.auth.PreCSRF(w, r)
	t := &textsFor(r).Console
	c.render(w, status, "sign-in", &consolePage{T: t, Heading: t.SignInTitle, CSRF: csrf, Error: msg})
}

// Redirect sends /console to /console/.
func (c *Console) Redirect(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/console/", http.StatusMovedPermanently)
}

// Home serves the sign-in form, or once signed in the operator's portals
// with their numbers (stats.go) and the search for a consent id across them
// (search.go).
func (c *Console) Home(w http.ResponseWriter, r *http.Request) {
	p, ss, ok := c.auth.Session(w, r)
	if !ok {
		c.signInForm(w, r, http.StatusOK, "")
		return
	}
	s := signedIn{textsFor(r), p, ss}
	d := c.page(s, s.tx.Console.Portals, nil, "")
	es, err := c.cat.Entries(r.Context())
	if err != nil {
		c.errorPage(w, c.failed(err), s, s.tx.Console.Portals, s.tx.Console.PortalUnavailable)
		return
	}
	for _, e := range es {
		if p.Allows(e.ID) {
			d.Portals = append(d.Portals, consolePortalLink{ID: e.ID, Name: e.Name})
		}
	}
	status := c.searchConsent(r, s, es, p.Allows, d)
	d.Data = c.statsOverviewData(r, s.tx, es, p.Allows)
	d.CheckpointKey, d.MayCreate = c.checkpointKey, p.All
	c.render(w, status, "home", d)
}

// SignIn checks the token of the sign-in form and starts a session.
func (c *Console) SignIn(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	s := signedIn{tx: textsFor(r)}
	t := &s.tx.Console
	if !c.auth.SameOrigin(r) {
		c.errorPage(w, http.StatusForbidden, s, t.Forbidden, "cross-site request refused")
		return
	}
	if ok, wait := c.auth.AllowSignIn(r); !ok {
		w.Header().Set("Retry-After", ratelimit.RetryAfter(wait))
		c.signInForm(w, r, http.StatusTooManyRequests, t.TooMany)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSignInBody)
	if err := r.ParseForm(); err != nil {
		c.signInForm(w, r, http.StatusBadRequest, t.WrongToken)
		return
	}
	if !c.auth.CheckPreCSRF(r, r.PostForm.Get("csrf")) {
		c.errorPage(w, http.StatusForbidden, s, t.Forbidden, "missing or wrong anti-forgery token: reload the sign-in page")
		return
	}
	p, ok := c.auth.Authenticate(r.PostForm.Get("token"))
	if !ok {
		c.log.Info("console sign-in refused") // never the token
		c.signInForm(w, r, http.StatusUnauthorized, t.WrongToken)
		return
	}
	c.auth.StartSession(w, r, p)
	c.log.Info("console sign-in", "principal", p.Name)
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

// SignOut revokes the session of the sign-out form.
func (c *Console) SignOut(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	s := signedIn{tx: textsFor(r)}
	t := &s.tx.Console
	if !c.auth.SameOrigin(r) {
		c.errorPage(w, http.StatusForbidden, s, t.Forbidden, "cross-site request refused")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSignInBody)
	r.ParseForm()
	var ok bool
	if s.p, s.ss, ok = c.auth.Session(w, r); !ok {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
		return
	}
	if !c.auth.CheckCSRF(s.ss, r.PostForm.Get("csrf")) {
		c.errorPage(w, http.StatusForbidden, s, t.Forbidden, "missing or wrong anti-forgery token")
		return
	}
	c.auth.EndSession(w, r, s.ss)
	c.log.Info("console sign-out", "principal", s.p.Name)
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

// portalFor returns the portal a console page of one portal may show,
// checked for the signed-in operator: without a session, 303 to the
// sign-in form; outside the operator's scope, the 403 page; an unknown
// portal, the 404 page. It returns nil having answered. The console pages
// of a portal start with it.
func (c *Console) portalFor(w http.ResponseWriter, r *http.Request) (*catalogue.Portal, signedIn) {
	s := signedIn{tx: textsFor(r)}
	var ok bool
	if s.p, s.ss, ok = c.auth.Session(w, r); !ok {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
		return nil, s
	}
	t := &s.tx.Console
	id := r.PathValue("id")
	if !s.p.Allows(id) {
		c.errorPage(w, http.StatusForbidden, s, t.Forbidden, t.ForbiddenMsg)
		return nil, s
	}
	pt, err := c.cat.Portal(r.Context(), id)
	if errors.Is(err, catalogue.ErrUnknownPortal) {
		c.errorPage(w, http.StatusNotFound, s, t.NotFound, t.NotFoundMsg)
		return nil, s
	}
	if err != nil {
		c.errorPage(w, c.failed(err), s, t.Portals, t.PortalUnavailable)
		return nil, s
	}
	return pt, s
}

// failed returns the status of err, a store's failure (logged and counted
// by respond.Mapper), for a page that shows its own message.
func (c *Console) failed(err error) int { return c.errs.Answer(err).Status }
