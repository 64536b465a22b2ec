// Package auth is operator authentication, shared by the operator API and
// the console: bearer tokens (the admin's or an operator's), the console's
// signed session cookies, anti-forgery tokens and the same-origin check of
// a console POST. It answers who a request is and whether it may see a
// portal; it never logs a token.
package auth

import (
	"crypto/rand"
	"encoding/base64"

	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/portalconsent/portalconsent/server/operators"
	"github.com/portalconsent/portalconsent/server/ratelimit"
	"github.com/portalconsent/portalconsent/server/respond"
)

// Auth checks operators' credentials.
type Auth struct {
	ops       *operators.Set
	sessions  *operators.Sessions
	signIn    *ratelimit.Limiter
	clients   *ratelimit.Clients
	publicURL string
	now       func() time.Time
}

// New returns the authentication of ops (who may see which portal) with
// console sessions signed by sessions, sign-in attempts and unverified
// bearer tokens limited per client by signIn (the client's address told
// by clients: nil, the connection's peer), and publicURL the scheme and
// host the console is reached at ("" when not behind a proxy).
func New(ops *operators.Set, sessions *operators.Sessions, signIn *ratelimit.Limiter, clients *ratelimit.Clients, publicURL string, now func() time.Time) *Auth {
	return &Auth{ops: ops, sessions: sessions, signIn: signIn, clients: clients, publicURL: strings.TrimSuffix(publicURL, "/"), now: now}
}

// bearer returns the token of an Authorization: Bearer header, or "".
func bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return token
}

// Authorize returns nil when r carries a credential that may see portal: a
// bearer token (the admin's or an operator's) or a console session cookie.
// Otherwise it returns the refusal: 401 for no credential or a wrong one
// (with WWW-Authenticate), 403 for a portal outside the credential's scope,
// 429 for too many unverified tokens from one client (with Retry-After).
// The answer is never cached.
func (a *Auth) Authorize(w http.ResponseWriter, r *http.Request, portal string) error {
	_, err := a.Principal(w, r, portal)
	return err
}

// Principal returns who r's credential proves, refused as Authorize
// refuses; with portal "" any valid credential passes (the caller shows
// only what the principal may see).
func (a *Auth) Principal(w http.ResponseWriter, r *http.Request, portal string) (operators.Principal, error) {
	w.Header().Set("Cache-Control", "no-store")
	if tok := bearer(r); tok != "" && !a.ops.Quick(tok) {
		// A token neither the admin's nor verified before costs bcrypt's
		// time per operator: limited like console sign-ins.
		if ok, wait := a.AllowSignIn(r); !ok {
			return operators.Principal{}, respond.Errorf(http.StatusTooManyRequests, "too many token checks from this client: retry later").
				With("Retry-After", ratelimit.RetryAfter(wait))
		}
	}
	p, ok := a.principal(w, r)
	if !ok {
		return operators.Principal{}, respond.Errorf(http.StatusUnauthorized, "unauthorized").With("WWW-Authenticate", `Bearer realm="portalconsent"`)
	}
	if portal != "" && !p.Allows(portal) {
		return operators.Principal{}, respond.Errorf(http.StatusForbidden, "forbidden: portal %q is outside what %q may see", respond.Clip(portal, 64), p.Name)
	}
	return p, nil
}

// principal returns who r is: the bearer token's principal when r has an
// Authorization header (a wrong one is not rescued by a cookie), else the
// console session's (renewed: see Session).
func (a *Auth) principal(w http.ResponseWriter, r *http.Request) (operators.Principal, bool) {
	if r.Header.Get("Authorization") != "" {
		return a.ops.Authenticate(bearer(r))
	}
	p, _, ok := a.Session(w, r)
	return p, ok
}

// AllowSignIn reports whether the client of r may try a credential now,
// and else how long it must wait.
func (a *Auth) AllowSignIn(r *http.Request) (bool, time.Duration) {
	return a.signIn.Allow(a.clients.Key(r), a.now())
}

// Authenticate returns the principal of token, or false (a wrong token).
func (a *Auth) Authenticate(token string) (operators.Principal, bool) {
	return a.ops.Authenticate(token)
}

// HTTPS reports whether the console is reached over https: r came over
// TLS, or the public URL says so.
func (a *Auth) HTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(a.publicURL, "https://")
}

func (a *Auth) sessionCookie(r *http.Request) string {
	if a.HTTPS(r) {
		return "__Host-pc_session"
	}
	return "pc_session"
}

func (a *Auth) csrfCookie(r *http.Request) string {
	if a.HTTPS(r) {
		return "__Host-pc_csrf"
	}
	return "pc_csrf"
}

func (a *Auth) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: a.HTTPS(r), SameSite: http.SameSiteStrictMode})
}

// Session returns the principal of r's session cookie, as configured now,
// and the session; it renews the cookie (a new last-seen). A cookie that
// is expired, revoked, tampered with, or of a credential since changed is
// cleared and refused.
func (a *Auth) Session(w http.ResponseWriter, r *http.Request) (operators.Principal, operators.Session, bool) {
	c, err := r.Cookie(a.sessionCookie(r))
	if err != nil || c.Value == "" {
		return operators.Principal{}, operators.Session{}, false
	}
	now := a.now()
	ss, ok := a.sessions.Decode(c.Value, now)
	var p operators.Principal
	if ok {
		p, ok = a.ops.Lookup(ss.Name)
		ok = ok && a.sessions.Matches(ss, p)
	}
	if !ok {
		a.setCookie(w, r, a.sessionCookie(r), "", -1)
		return operators.Principal{}, operators.Session{}, false
	}
	ss.LastSeen = now.Unix()
	a.setCookie(w, r, a.sessionCookie(r), a.sessions.Encode(ss), int(operators.IdleTimeout/time.Second))
	return p, ss, true
}

// StartSession signs p in: a new session cookie, the sign-in form's
// anti-forgery cookie cleared.
func (a *Auth) StartSession(w http.ResponseWriter, r *http.Request, p operators.Principal) {
	ss := a.sessions.New(p, a.now())
	a.setCookie(w, r, a.csrfCookie(r), "", -1)
	a.setCookie(w, r, a.sessionCookie(r), a.sessions.Encode(ss), int(operators.IdleTimeout/time.Second))
}

// EndSession revokes ss and clears its cookie.
func (a *Auth) EndSession(w http.ResponseWriter, r *http.Request, ss operators.Session) {
	a.sessions.Revoke(ss.ID, a.now())
	a.setCookie(w, r, a.sessionCookie(r), "", -1)
}

// CSRF returns the anti-forgery token of the forms of session ss.
func (a *Auth) CSRF(ss operators.Session) string { return a.sessions.CSRF(ss.ID) }

// CheckCSRF reports whether token is the anti-forgery token of session ss.
func (a *Auth) CheckCSRF(ss operators.Session, token string) bool {
	return a.sessions.CheckCSRF(ss.ID, token)
}

// PreCSRF sets a fresh double-submit cookie for the sign-in form and
// returns the form's anti-forgery token bound to it.
func (a *Auth) PreCSRF(w http.ResponseWriter, r *http.Request) string {
	raw := make([]byte, 18)
	rand.Read(raw)
	v := base64.RawURLEncoding.EncodeToString(raw)
	a.setCookie(w, r, a.csrfCookie(r), v, 3600)
	return a.sessions.CSRF("pre:" + v)
}

// CheckPreCSRF reports whether the sign-in form's token matches r's
// double-submit cookie.
func (a *Auth) CheckPreCSRF(r *http.Request, token string) bool {
	c, err := r.Cookie(a.csrfCookie(r))
	return err == nil && a.sessions.CheckCSRF("pre:"+c.Value, token)
}

// SameOrigin reports whether a POST may be from the console's own pages:
// Sec-Fetch-Site, when sent, is same-origin, and Origin, when sent, is the
// console's origin.
func (a *Auth) SameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	// Origin is "null" under a no-referrer policy: refused, the console's
	// pages have none.
	o := r.Header.Get("Origin")
	if o == "" {
		return true // not a browser, or an old one: the token decides
	}
	want := respond.Origin(r)
	if a.publicURL != "" {
		if u, err := url.Parse(a.publicURL); err == nil {
			want = u.Scheme + "://" + u.Host
		}
	}
	return o == want
}
