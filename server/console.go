package server

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/portalconsent/portalconsent/server/operators"
	"github.com/portalconsent/portalconsent/server/ratelimit"
	"golang.org/x/text/language"
)

// The operator console, server-rendered, in English or French by the
// operator's Accept-Language:
//
//	GET  /console/                 sign-in form, or once signed in the operator's portals
//	POST /console/sign-in          token (a password field) → session cookie, 303 to /console/
//	POST /console/sign-out         revokes the session, clears the cookie
//	GET  /console/portals/{id}     a portal's page: 403 outside the operator's scope, 404 unknown
//
// Sessions are stateless and signed (operators.Sessions) so that any host
// behind a load balancer sharing PORTALCONSENT_SESSION_KEY accepts them. The
// cookie is HttpOnly, SameSite=Strict, Path=/, and on https Secure with the
// __Host- prefix; it lasts 8 hours idle, renewed by each use. Every POST
// carries an anti-forgery token (bound to the session, or before sign-in to
// a double-submit cookie) and a cross-site Origin or Sec-Fetch-Site is
// refused (403). Sign-in attempts are rate-limited per client address (429
// with Retry-After).

// consoleCSP is the console pages' policy: no script at all, forms to this
// host only.
const consoleCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Default rate of sign-in attempts per client address: one every 5 s on
// average, bursts of 10.
const (
	DefaultSignInRate  = 0.2
	DefaultSignInBurst = 10
)

// WithSessionKey sets the key session cookies are signed with (at least 32
// bytes; New fails otherwise). Hosts behind one load balancer must share
// it. Without it a random key is made: sessions end with the process.
func WithSessionKey(key []byte) Option {
	return func(s *Server) { s.sessionKey = append([]byte{}, key...) }
}

// WithSignInRate limits console sign-in attempts per client address
// (perSecond 0 lifts the limit).
func WithSignInRate(perSecond float64, burst int) Option {
	return func(s *Server) { s.signIn = ratelimit.New(perSecond, burst) }
}

// WithPublicURL tells the server the scheme and host it is reached at
// ("https://consent.example"), as behind a TLS-terminating proxy: with
// https the console's cookies are Secure and __Host- prefixed, and a POST's
// Origin must be this one.
func WithPublicURL(u string) Option {
	return func(s *Server) { s.publicURL = strings.TrimSuffix(u, "/") }
}

// maxSignInBody bounds a sign-in or sign-out form.
const maxSignInBody = 4 << 10

func (s *Server) consoleRoutes() {
	s.handleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusMovedPermanently)
	})
	s.handleFunc("GET /console/{$}", s.consoleHome)
	s.handleFunc("POST /console/sign-in", s.consoleSignIn)
	s.handleFunc("POST /console/sign-out", s.consoleSignOut)
	s.handleFunc("GET /console/portals/{id}", s.consolePortal)
	s.handleFunc("GET /console/portals/{id}/lookup", s.consoleLookup)
	s.handleFunc("GET /console/portals/{id}/notices/{sha256}", s.consoleNotice)
	s.handleFunc("GET /console/portals/{id}/history", s.consoleHistory)
	s.consoleCookiesRoutes()
}

// https reports whether the console is reached over https: r came over TLS,
// or the public URL says so.
func (s *Server) https(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.publicURL, "https://")
}

func (s *Server) sessionCookie(r *http.Request) string {
	if s.https(r) {
		return "__Host-pc_session"
	}
	return "pc_session"
}

func (s *Server) csrfCookie(r *http.Request) string {
	if s.https(r) {
		return "__Host-pc_csrf"
	}
	return "pc_csrf"
}

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.https(r), SameSite: http.SameSiteStrictMode})
}

// session returns the principal of r's session cookie, as configured now,
// and the session; it renews the cookie (a new last-seen). A cookie that
// is expired, revoked, tampered with, or of a credential since changed is
// cleared and refused.
func (s *Server) session(w http.ResponseWriter, r *http.Request) (operators.Principal, operators.Session, bool) {
	c, err := r.Cookie(s.sessionCookie(r))
	if err != nil || c.Value == "" {
		return operators.Principal{}, operators.Session{}, false
	}
	now := s.now()
	ss, ok := s.sessions.Decode(c.Value, now)
	var p operators.Principal
	if ok {
		p, ok = s.auth.Lookup(ss.Name)
		ok = ok && s.sessions.Matches(ss, p)
	}
	if !ok {
		s.setCookie(w, r, s.sessionCookie(r), "", -1)
		return operators.Principal{}, operators.Session{}, false
	}
	ss.LastSeen = now.Unix()
	s.setCookie(w, r, s.sessionCookie(r), s.sessions.Encode(ss), int(operators.IdleTimeout/time.Second))
	return p, ss, true
}

// sameOrigin reports whether a POST may be from the console's own pages:
// Sec-Fetch-Site, when sent, is same-origin, and Origin, when sent, is the
// console's origin.
func (s *Server) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	// Origin is "null" under a no-referrer policy: refused, the console's
	// pages have none.
	o := r.Header.Get("Origin")
	if o == "" {
		return true // not a browser, or an old one: the token decides
	}
	want := origin(r)
	if s.publicURL != "" {
		if u, err := url.Parse(s.publicURL); err == nil {
			want = u.Scheme + "://" + u.Host
		}
	}
	return o == want
}

// consoleText is the console's wording in one language.
type consoleText struct {
	Lang, Title, SignInTitle, SignInIntro, TokenLabel, TokenHelp, SignIn, WrongToken, TooMany,
	SignedInAs, Portals, NoPortals, SignOut, Back, Forbidden, ForbiddenMsg, NotFound, NotFoundMsg,
	PortalIntro, Revision, Expired string
	// The navigation between a portal's pages (consoleNav).
	PortalNav, NavStats, NavLookup, NavHistory, NavCookies, NavExport string
}

var consoleTexts = []consoleText{{
	Lang: "en", Title: "Operator console", SignInTitle: "Sign in",
	SignInIntro: "Sign in with your operator token to see the consents of your portals.",
	TokenLabel:  "Operator token", TokenHelp: "The token you were given (at least 24 characters). It is sent once and never stored in the browser.",
	SignIn: "Sign in", WrongToken: "That token is not valid. Check it and try again.",
	TooMany:    "Too many sign-in attempts from your address. Wait a moment and try again.",
	SignedInAs: "Signed in as", Portals: "Your portals", NoPortals: "No portal is served that you may see.",
	SignOut: "Sign out", Back: "Back to your portals", Forbidden: "Not allowed",
	ForbiddenMsg: "This portal is outside what you may see.", NotFound: "Unknown portal",
	NotFoundMsg: "No portal has this id.", PortalIntro: "The receipts and statistics of this portal.",
	Revision: "Revision", Expired: "Your session has ended. Sign in again.",
	PortalNav: "Pages of this portal", NavStats: "Statistics", NavLookup: "Consent lookup",
	NavHistory: "Policy history", NavCookies: "Undeclared cookies", NavExport: "Export",
}, {
	Lang: "fr", Title: "Console des opérateurs", SignInTitle: "Connexion",
	SignInIntro: "Connectez-vous avec votre jeton d’opérateur pour consulter les consentements de vos portails.",
	TokenLabel:  "Jeton d’opérateur", TokenHelp: "Le jeton qui vous a été remis (au moins 24 caractères). Il est envoyé une fois et jamais gardé dans le navigateur.",
	SignIn: "Se connecter", WrongToken: "Ce jeton n’est pas valide. Vérifiez-le et réessayez.",
	TooMany:    "Trop de tentatives de connexion depuis votre adresse. Patientez un instant puis réessayez.",
	SignedInAs: "Connecté en tant que", Portals: "Vos portails", NoPortals: "Aucun portail servi ne vous est ouvert.",
	SignOut: "Se déconnecter", Back: "Retour à vos portails", Forbidden: "Accès refusé",
	ForbiddenMsg: "Ce portail ne fait pas partie de ceux que vous pouvez consulter.", NotFound: "Portail inconnu",
	NotFoundMsg: "Aucun portail ne porte cet identifiant.", PortalIntro: "Les reçus et les statistiques de ce portail.",
	Revision: "Révision", Expired: "Votre session a pris fin. Reconnectez-vous.",
	PortalNav: "Pages de ce portail", NavStats: "Statistiques", NavLookup: "Recherche d’un consentement",
	NavHistory: "Historique de la politique", NavCookies: "Cookies non déclarés", NavExport: "Export",
}}

var consoleMatcher = language.NewMatcher([]language.Tag{language.English, language.French})

// consoleLang returns the console's wording for r's Accept-Language.
func consoleLang(r *http.Request) *consoleText {
	prefs := preferences(r.Header.Get("Accept-Language"))
	if len(prefs) == 0 {
		return &consoleTexts[0]
	}
	_, i, conf := consoleMatcher.Match(prefs...)
	if conf == language.No || i < 0 || i >= len(consoleTexts) {
		return &consoleTexts[0]
	}
	return &consoleTexts[i]
}

var consolePages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html>
<html lang="{{.T.Lang}}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Heading}} – {{.T.Title}}</title><link rel="stylesheet" href="{{.CSS}}"><link rel="stylesheet" href="{{.ConsoleCSS}}"></head>
<body class="pc-page pc-console"><main class="pc-page-main">
<p>{{.T.Title}}</p>
{{if .ID}}<nav aria-label="{{.T.PortalNav}}"><ul class="pc-console-nav">
{{range .Nav}}<li><a href="{{.Href}}"{{if .Current}} aria-current="page"{{end}}>{{.Label}}</a></li>
{{end}}</ul></nav>{{end}}
{{end}}
{{define "foot"}}{{with .Principal}}<form method="post" action="/console/sign-out">
<input type="hidden" name="csrf" value="{{$.CSRF}}">
<p>{{$.T.SignedInAs}} <strong>{{.}}</strong>. <button type="submit" class="pc-btn pc-secondary">{{$.T.SignOut}}</button></p>
</form>{{end}}
</main></body></html>
{{end}}
{{define "sign-in"}}{{template "head" .}}<h1>{{.T.SignInTitle}}</h1>
{{with .Error}}<p role="alert" class="pc-error"><strong>{{.}}</strong></p>{{end}}
<p>{{.T.SignInIntro}}</p>
<form method="post" action="/console/sign-in">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<p><label for="token">{{.T.TokenLabel}}</label><br>
<input type="password" id="token" name="token" required minlength="24" autocomplete="current-password" aria-describedby="token-help" spellcheck="false"></p>
<p id="token-help">{{.T.TokenHelp}}</p>
<p><button type="submit" class="pc-btn pc-primary">{{.T.SignIn}}</button></p>
</form>
{{template "foot" .}}{{end}}
{{define "home"}}{{template "head" .}}<h1>{{.T.Portals}}</h1>
{{if .Portals}}{{template "stats-overview" .}}{{else}}<p>{{.T.NoPortals}}</p>{{end}}
{{template "foot" .}}{{end}}
{{define "error"}}{{template "head" .}}<h1>{{.Heading}}</h1>
<p>{{.Message}}</p>
<p><a href="/console/">{{.T.Back}}</a></p>
{{template "foot" .}}{{end}}
`))

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
	CSRF      string
	Error     string
	Message   string
	Portals   []consolePortalLink
	ID        string
	Revision  int
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
)

// consoleNav returns the links between the pages of portal id, current
// marked (one of the nav… constants).
func consoleNav(t *consoleText, id, current string) []consoleNavLink {
	base := "/console/portals/" + url.PathEscape(id)
	var out []consoleNavLink
	for _, l := range []struct{ page, label string }{
		{navStats, t.NavStats}, {navLookup, t.NavLookup}, {navHistory, t.NavHistory},
		{navCookies, t.NavCookies}, {navExport, t.NavExport},
	} {
		href := base
		if l.page != "" {
			href += "/" + l.page
		}
		out = append(out, consoleNavLink{Href: href, Label: l.label, Current: l.page == current})
	}
	return out
}

// renderConsole writes a console page with the status, its strict CSP and
// no caching.
func (s *Server) renderConsole(w http.ResponseWriter, status int, name string, d *consolePage) {
	d.CSS, d.ConsoleCSS = s.css.name, s.consoleCSS.name
	if d.ID != "" && d.Nav == nil {
		d.Nav = consoleNav(d.T, d.ID, navStats)
	}
	var b bytes.Buffer
	if err := consolePages.ExecuteTemplate(&b, name, d); err != nil {
		writeError(w, http.StatusInternalServerError, "rendering the page failed: "+err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("Content-Language", d.T.Lang)
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Accept-Language, Cookie")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// consoleError writes the console's error page with status.
func (s *Server) consoleError(w http.ResponseWriter, status int, t *consoleText, p operators.Principal, ss operators.Session, heading, msg string) {
	d := &consolePage{T: t, Heading: heading, Message: msg}
	if p.Name != "" {
		d.Principal, d.CSRF = p.Name, s.sessions.CSRF(ss.ID)
	}
	s.renderConsole(w, status, "error", d)
}

// signInForm writes the sign-in form with status, setting a fresh
// double-submit cookie its token is bound to.
func (s *Server) signInForm(w http.ResponseWriter, r *http.Request, status int, msg string) {
	raw := make([]byte, 18)
	rand.Read(raw)
	v := base64.RawURLEncoding.EncodeToString(raw)
	s.setCookie(w, r, s.csrfCookie(r), v, 3600)
	t := consoleLang(r)
	s.renderConsole(w, status, "sign-in", &consolePage{T: t, Heading: t.SignInTitle, CSRF: s.sessions.CSRF("pre:" + v), Error: msg})
}

func (s *Server) consoleHome(w http.ResponseWriter, r *http.Request) {
	p, ss, ok := s.session(w, r)
	if !ok {
		s.signInForm(w, r, http.StatusOK, "")
		return
	}
	t := consoleLang(r)
	d := &consolePage{T: t, Heading: t.Portals, Principal: p.Name, CSRF: s.sessions.CSRF(ss.ID)}
	for _, pol := range s.Policies() {
		if p.Allows(pol.ID) {
			d.Portals = append(d.Portals, consolePortalLink{ID: pol.ID, Name: pol.Name})
		}
	}
	d.Data = s.statsOverviewData(r, t, p.Allows) // consolestats.go
	s.renderConsole(w, http.StatusOK, "home", d)
}

func (s *Server) consoleSignIn(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	t := consoleLang(r)
	if !s.sameOrigin(r) {
		s.consoleError(w, http.StatusForbidden, t, operators.Principal{}, operators.Session{}, t.Forbidden, "cross-site request refused")
		return
	}
	if ok, wait := s.signIn.Allow(ratelimit.ClientKey(r), s.now()); !ok {
		w.Header().Set("Retry-After", ratelimit.RetryAfter(wait))
		s.signInForm(w, r, http.StatusTooManyRequests, t.TooMany)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSignInBody)
	if err := r.ParseForm(); err != nil {
		s.signInForm(w, r, http.StatusBadRequest, t.WrongToken)
		return
	}
	c, err := r.Cookie(s.csrfCookie(r))
	if err != nil || !s.sessions.CheckCSRF("pre:"+c.Value, r.PostForm.Get("csrf")) {
		s.consoleError(w, http.StatusForbidden, t, operators.Principal{}, operators.Session{}, t.Forbidden, "missing or wrong anti-forgery token: reload the sign-in page")
		return
	}
	p, ok := s.auth.Authenticate(r.PostForm.Get("token"))
	if !ok {
		s.log.Info("console sign-in refused") // never the token
		s.signInForm(w, r, http.StatusUnauthorized, t.WrongToken)
		return
	}
	ss := s.sessions.New(p, s.now())
	s.setCookie(w, r, s.csrfCookie(r), "", -1)
	s.setCookie(w, r, s.sessionCookie(r), s.sessions.Encode(ss), int(operators.IdleTimeout/time.Second))
	s.log.Info("console sign-in", "principal", p.Name)
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

func (s *Server) consoleSignOut(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	t := consoleLang(r)
	if !s.sameOrigin(r) {
		s.consoleError(w, http.StatusForbidden, t, operators.Principal{}, operators.Session{}, t.Forbidden, "cross-site request refused")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSignInBody)
	r.ParseForm()
	p, ss, ok := s.session(w, r)
	if !ok {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
		return
	}
	if !s.sessions.CheckCSRF(ss.ID, r.PostForm.Get("csrf")) {
		s.consoleError(w, http.StatusForbidden, t, p, ss, t.Forbidden, "missing or wrong anti-forgery token")
		return
	}
	s.sessions.Revoke(ss.ID, s.now())
	s.setCookie(w, r, s.sessionCookie(r), "", -1)
	s.log.Info("console sign-out", "principal", p.Name)
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

// consolePrincipal returns the signed-in principal of a console page, or
// having redirected to the sign-in form, false.
func (s *Server) consolePrincipal(w http.ResponseWriter, r *http.Request) (operators.Principal, operators.Session, bool) {
	p, ss, ok := s.session(w, r)
	if !ok {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
	}
	return p, ss, ok
}

// consolePortalFor returns the portal a console page of one portal may show: checked
// for the signed-in operator (403 page outside scope, 404 unknown), nil
// having answered. The console pages of a portal start with it.
func (s *Server) consolePortalFor(w http.ResponseWriter, r *http.Request) (*portal, operators.Principal, operators.Session) {
	p, ss, ok := s.consolePrincipal(w, r)
	if !ok {
		return nil, p, ss
	}
	t := consoleLang(r)
	id := r.PathValue("id")
	if !p.Allows(id) {
		s.consoleError(w, http.StatusForbidden, t, p, ss, t.Forbidden, t.ForbiddenMsg)
		return nil, p, ss
	}
	pt, known := s.portals.Load().byID[id]
	if !known {
		s.consoleError(w, http.StatusNotFound, t, p, ss, t.NotFound, t.NotFoundMsg)
		return nil, p, ss
	}
	return pt, p, ss
}
