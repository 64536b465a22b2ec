package server

import (
	"crypto/ed25519"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/server/operators"
	"github.com/portalconsent/portalconsent/server/policyfiles"
)

// newConsoleServer returns a receipts server with the test operators, no
// sign-in limit, and a clock that *now sets.
func newConsoleServer(t testing.TB, now *time.Time, opts ...Option) *Server {
	t.Helper()
	opts = append([]Option{WithOperators(testOperators(t)), WithSignInRate(0, 0),
		WithClock(func() time.Time { return *now })}, opts...)
	return newReceiptServer(t, openTestStore(t), nil, opts...)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signInForm GETs /console/ and returns the form's token and the
// double-submit cookie.
func getSignInForm(t testing.TB, s http.Handler, scheme string) (string, *http.Cookie) {
	t.Helper()
	req := httptest.NewRequest("GET", scheme+"://consent.test/console/", nil)
	if scheme == "https" {
		req.TLS = &tls.ConnectionState{}
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	m := csrfField.FindStringSubmatch(rec.Body.String())
	cs := rec.Result().Cookies()
	if rec.Code != 200 || m == nil || len(cs) != 1 {
		t.Fatalf("sign-in form: %d, cookies %v\n%s", rec.Code, cs, rec.Body)
	}
	return m[1], cs[0]
}

// signInRequest returns the POST of the sign-in form with token.
func signInRequest(scheme, csrf string, c *http.Cookie, token string) *http.Request {
	form := url.Values{"csrf": {csrf}, "token": {token}}
	req := httptest.NewRequest("POST", scheme+"://consent.test/console/sign-in", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", scheme+"://consent.test")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if c != nil {
		req.AddCookie(c)
	}
	if scheme == "https" {
		req.TLS = &tls.ConnectionState{}
	}
	return req
}

// signIn signs in with token over http and returns the session cookie.
func signIn(t testing.TB, s http.Handler, token string) *http.Cookie {
	t.Helper()
	csrf, c := getSignInForm(t, s, "http")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, signInRequest("http", csrf, c, token))
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == "pc_session" && c.Value != "" {
			return c
		}
	}
	t.Fatalf("sign-in set no session cookie: %v", rec.Result().Cookies())
	return nil
}

// TestConsoleScopeEveryRoute is the scope proof: every console and API
// route × every kind of credential. A route registered under /console or
// /api/ that the table does not cover fails the test.
func TestConsoleScopeEveryRoute(t *testing.T) {
	now := testNow
	s := newConsoleServer(t, &now)
	cookies := map[string]*http.Cookie{
		"admin": signIn(t, s, testAdminToken), "alice": signIn(t, s, aliceToken), "dpo": signIn(t, s, dpoToken),
	}
	alice, _ := s.ops.Lookup("alice")
	expired := s.sessions.New(alice, now.Add(-operators.IdleTimeout-time.Minute))
	payload, sig, _ := strings.Cut(cookies["alice"].Value, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	tampered := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw), `"name":"alice"`, `"name":"dpo"`, 1))) + "." + sig

	type cred struct {
		name   string
		header http.Header
		// who is the principal the credential proves ("" none); bearer
		// tells a token from a session (console pages take sessions only).
		who    string
		bearer bool
	}
	bearerH := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	cookieH := func(v string) http.Header { return http.Header{"Cookie": {"pc_session=" + v}} }
	creds := []cred{
		{"none", nil, "", false},
		{"wrong token", bearerH(aliceToken + "x"), "", true},
		{"admin token", bearerH(testAdminToken), "admin", true},
		{"alice token", bearerH(aliceToken), "alice", true},
		{"dpo token", bearerH(dpoToken), "dpo", true},
		{"admin session", cookieH(cookies["admin"].Value), "admin", false},
		{"alice session", cookieH(cookies["alice"].Value), "alice", false},
		{"dpo session", cookieH(cookies["dpo"].Value), "dpo", false},
		{"expired session", cookieH(s.sessions.Encode(expired)), "", false},
		{"tampered session", cookieH(tampered), "", false},
	}
	allows := func(who, portal string) bool {
		return who == "admin" || who == "dpo" || (who == "alice" && portal == "mtran")
	}
	sha := strings.Repeat("a", 64)
	type route struct {
		pattern, method, target, portal string
		// want is the status for a principal allowed the portal.
		want int
		api  bool
		// all: only a principal of every portal may (create, delete);
		// body and ctype: the request's body and Content-Type.
		all         bool
		body, ctype string
	}
	var routes []route
	for _, p := range []string{"mtran", "twisto"} {
		// A valid policy of p: refused all the same, p is managed by file.
		policyYAML := strings.Replace(string(policyfiles.Example()), "id: example", "id: "+p, 1)
		routes = append(routes,
			route{pattern: "GET /api/v1/portals/{id}/policy", method: "GET", target: "/api/v1/portals/" + p + "/policy", portal: p, want: 200, api: true},
			route{pattern: "PUT /api/v1/portals/{id}/policy", method: "PUT", target: "/api/v1/portals/" + p + "/policy", portal: p, want: 409, api: true,
				body: policyYAML, ctype: "application/yaml"},
			route{pattern: "DELETE /api/v1/portals/{id}", method: "DELETE", target: "/api/v1/portals/" + p, portal: p, want: 409, api: true, all: true},
			route{pattern: "GET /api/v1/portals/{id}/versions", method: "GET", target: "/api/v1/portals/" + p + "/versions", portal: p, want: 200, api: true},
			// The editor: read-only (managed by file) but shown; a form with
			// a forged anti-forgery token refused (TestConsolePolicyEditor
			// posts real ones).
			route{pattern: "GET /console/portals/{id}/policy", method: "GET", target: "/console/portals/" + p + "/policy", portal: p, want: 200},
			route{pattern: "POST /console/portals/{id}/policy", method: "POST", target: "/console/portals/" + p + "/policy", portal: p, want: 403},
		)
		routes = append(routes,
			route{"GET /api/v1/portals/{id}/consents/{consentId}", "GET", "/api/v1/portals/" + p + "/consents/q8B3x0aPq1V2LmN7rT4sYw", p, 404, true, false, "", ""},
			route{"GET /api/v1/portals/{id}/policies/{sha256}", "GET", "/api/v1/portals/" + p + "/policies/" + sha, p, 404, true, false, "", ""},
			route{"GET /api/v1/portals/{id}/receipts.csv", "GET", "/api/v1/portals/" + p + "/receipts.csv?from=2026-03-01&to=2026-03-03", p, 200, true, false, "", ""},
			route{"GET /api/v1/portals/{id}/receipts.jsonl", "GET", "/api/v1/portals/" + p + "/receipts.jsonl", p, 200, true, false, "", ""},
			route{"GET /api/v1/portals/{id}/checkpoints.jsonl", "GET", "/api/v1/portals/" + p + "/checkpoints.jsonl", p, 200, true, false, "", ""},
			route{"GET /api/v1/portals/{id}/stats", "GET", "/api/v1/portals/" + p + "/stats?from=2026-03-01&to=2026-03-03", p, 200, true, false, "", ""},
			route{"GET /api/v1/portals/{id}/cookies/undeclared", "GET", "/api/v1/portals/" + p + "/cookies/undeclared", p, 200, true, false, "", ""},
			route{"GET /console/portals/{id}", "GET", "/console/portals/" + p, p, 200, false, false, "", ""},
			route{"GET /console/portals/{id}/lookup", "GET", "/console/portals/" + p + "/lookup?consent=q8B3x0aPq1V2LmN7rT4sYw", p, 200, false, false, "", ""},
			route{"GET /console/portals/{id}/notices/{sha256}", "GET", "/console/portals/" + p + "/notices/" + sha, p, 404, false, false, "", ""},
			route{"GET /console/portals/{id}/history", "GET", "/console/portals/" + p + "/history", p, 200, false, false, "", ""},
			route{"GET /api/v1/portals/{id}/cookies/reappeared", "GET", "/api/v1/portals/" + p + "/cookies/reappeared", p, 200, true, false, "", ""},
			route{"GET /console/portals/{id}/cookies", "GET", "/console/portals/" + p + "/cookies", p, 200, false, false, "", ""},
			route{"GET /console/portals/{id}/export", "GET", "/console/portals/" + p + "/export", p, 200, false, false, "", ""},
			route{"GET /console/portals/{id}/export.csv", "GET", "/console/portals/" + p + "/export.csv?from=2026-03-01&to=2026-03-03", p, 200, false, false, "", ""},
			route{"GET /console/portals/{id}/export.jsonl", "GET", "/console/portals/" + p + "/export.jsonl", p, 200, false, false, "", ""},
		)
	}
	routes = append(routes,
		route{pattern: "GET /api/v1/portals", method: "GET", target: "/api/v1/portals", portal: "", want: 200, api: true},
		route{"GET /console/portals/{id}", "GET", "/console/portals/nope", "nope", 404, false, false, "", ""},
		route{"GET /console/{$}", "GET", "/console/", "", 200, false, false, "", ""},
		route{"GET /console", "GET", "/console", "", 301, false, false, "", ""},
		route{"POST /console/sign-in", "POST", "/console/sign-in", "", 403, false, false, "", ""},
		route{"POST /console/sign-out", "POST", "/console/sign-out", "", 403, false, false, "", ""},
		// The operators: the admin's only (see adminOnly). alice and dpo are
		// of the operators file: the admin's writes are refused, 409.
		route{pattern: "GET /api/v1/operators", method: "GET", target: "/api/v1/operators", want: 200, api: true},
		// The OpenAPI document: anyone's, whatever the credential.
		route{pattern: "GET /api/v1/openapi.json", method: "GET", target: "/api/v1/openapi.json", want: 200, api: true},
		route{pattern: "POST /api/v1/operators", method: "POST", target: "/api/v1/operators", want: 409, api: true,
			body: `{"name":"alice","portals":["*"]}`, ctype: "application/json"},
		route{pattern: "PATCH /api/v1/operators/{name}", method: "PATCH", target: "/api/v1/operators/alice", want: 409, api: true,
			body: `{"portals":["*"]}`, ctype: "application/json"},
		route{pattern: "PUT /api/v1/operators/{name}", method: "PUT", target: "/api/v1/operators/dpo", want: 409, api: true,
			body: `{"portals":["*"]}`, ctype: "application/json"},
		route{pattern: "POST /api/v1/operators/{name}/token", method: "POST", target: "/api/v1/operators/alice/token", want: 409, api: true},
		route{pattern: "DELETE /api/v1/operators/{name}", method: "DELETE", target: "/api/v1/operators/alice", want: 409, api: true},
		route{pattern: "GET /console/operators", method: "GET", target: "/console/operators", want: 200},
		// The forms' anti-forgery token is forged: 403 for the admin too.
		route{pattern: "POST /console/operators", method: "POST", target: "/console/operators", want: 403},
		route{pattern: "POST /console/operators/{name}/scope", method: "POST", target: "/console/operators/alice/scope", want: 403},
		route{pattern: "POST /console/operators/{name}/token", method: "POST", target: "/console/operators/alice/token", want: 403},
		route{pattern: "POST /console/operators/{name}/delete", method: "POST", target: "/console/operators/alice/delete", want: 403},
		// A new portal: the admin and the operators of every portal only.
		route{pattern: "GET /console/new-portal", method: "GET", target: "/console/new-portal", want: 200, all: true},
		route{pattern: "POST /console/new-portal", method: "POST", target: "/console/new-portal", want: 403, all: true},
	)
	// adminOnly: the routes of the operators, the admin's only (a token or
	// a session); not even dpo's, an operator of every portal.
	adminOnly := func(rt route) bool { return strings.Contains(rt.pattern, "operators") }
	covered := map[string]bool{}
	for _, r := range routes {
		covered[r.pattern] = true
	}
	for _, p := range s.Patterns() {
		if (strings.Contains(p, " /console") || strings.Contains(p, " /api/")) && !covered[p] {
			t.Errorf("route %q is not in the scope table", p)
		}
	}
	for _, rt := range routes {
		for _, c := range creds {
			t.Run(rt.target+"/"+c.name, func(t *testing.T) {
				want := rt.want
				session := c.who != "" && !c.bearer
				switch {
				case rt.pattern == "GET /api/v1/openapi.json":
				case adminOnly(rt) && rt.api && c.who == "":
					want = 401
				case adminOnly(rt) && rt.api && c.who != "admin":
					want = 403
				case adminOnly(rt) && rt.api:
				case adminOnly(rt) && !session:
					want = 303 // to the sign-in form
				case adminOnly(rt) && c.who != "admin":
					want = 403
				case adminOnly(rt):
				case rt.api && c.who == "":
					want = 401
				case rt.api && rt.portal == "": // every principal, shown its scope
				case rt.api && !allows(c.who, rt.portal):
					want = 403
				case rt.api && rt.all && c.who == "alice":
					want = 403 // in her scope, but not every portal's
				case rt.api:
				case rt.pattern == "GET /console/{$}" || rt.pattern == "GET /console":
				case rt.pattern == "POST /console/sign-in":
				case rt.pattern == "POST /console/sign-out" && !session:
					want = 303 // nothing to sign out of
				case rt.method == "GET" && !session:
					want = 303 // to the sign-in form
				case rt.method == "POST" && !session:
					want = 303 // the editor's forms: to the sign-in form
				case rt.all && c.who == "alice":
					want = 403 // not every portal's
				case rt.portal == "nope" && c.who == "alice":
					want = 403 // outside her scope: not even its existence
				case rt.portal != "nope" && !allows(c.who, rt.portal):
					want = 403
				}
				body := "csrf=forged"
				if rt.body != "" {
					body = rt.body
				}
				req := httptest.NewRequest(rt.method, rt.target, strings.NewReader(body))
				if rt.method == "POST" {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				if rt.ctype != "" {
					req.Header.Set("Content-Type", rt.ctype)
				}
				for k, v := range c.header {
					req.Header[k] = v
				}
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, req)
				res := rec.Result()
				if res.StatusCode != want {
					t.Fatalf("status %d, want %d\n%.300s", res.StatusCode, want, rec.Body)
				}
				ct := res.Header.Get("Content-Type")
				switch {
				case rt.api && want >= 400:
					var e struct{ Error string }
					if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" {
						t.Errorf("API refusal is not a JSON error: %s", rec.Body)
					}
				case !rt.api && (want == 200 && !strings.Contains(rt.pattern, "/export.") || want == 403 || want == 404):
					if !strings.HasPrefix(ct, "text/html") || res.Header.Get("Content-Security-Policy") != consoleCSP ||
						res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Referrer-Policy") == "" {
						t.Errorf("console page headers: %v", res.Header)
					}
				}
				if res.Header.Get("Cache-Control") != "no-store" && rt.pattern != "GET /console" && rt.pattern != "GET /api/v1/openapi.json" {
					t.Errorf("Cache-Control %q", res.Header.Get("Cache-Control"))
				}
				body = rec.Body.String()
				if rt.pattern == "GET /api/v1/portals" && want == 200 {
					var list []struct{ ID string }
					if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
						t.Fatal(err)
					}
					var ids []string
					for _, p := range list {
						ids = append(ids, p.ID)
					}
					if slices.Contains(ids, "mtran") != allows(c.who, "mtran") || slices.Contains(ids, "twisto") != allows(c.who, "twisto") {
						t.Errorf("the portal list %v is not the operator's scope", ids)
					}
				}
				if rt.pattern == "GET /console/{$}" {
					signedIn := strings.Contains(body, `action="/console/sign-out"`)
					if signedIn != session {
						t.Errorf("signed in: %v, want %v", signedIn, session)
					}
					if session && (strings.Contains(body, `href="/console/portals/mtran"`) != allows(c.who, "mtran") ||
						strings.Contains(body, `href="/console/portals/twisto"`) != allows(c.who, "twisto")) {
						t.Errorf("the portal list is not the operator's scope:\n%s", body)
					}
				}
			})
		}
	}
}

func TestConsoleSignIn(t *testing.T) {
	for _, scheme := range []string{"http", "https", "https-public-url"} {
		t.Run(scheme, func(t *testing.T) {
			now := testNow
			var opts []Option
			sch := scheme
			if scheme == "https-public-url" {
				opts = append(opts, WithPublicURL("https://consent.test"))
				sch = "http" // TLS ends at a proxy
			}
			s := newConsoleServer(t, &now, opts...)
			https := scheme != "http"
			csrf, c := getSignInForm(t, s, sch)
			wantCSRF, wantSession := "pc_csrf", "pc_session"
			if https {
				wantCSRF, wantSession = "__Host-pc_csrf", "__Host-pc_session"
			}
			if c.Name != wantCSRF || !c.HttpOnly || c.Secure != https || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
				t.Errorf("double-submit cookie %+v", c)
			}
			do := func(req *http.Request) *httptest.ResponseRecorder {
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, req)
				return rec
			}
			origin := "http://consent.test"
			if https {
				origin = "https://consent.test"
			}
			req := func(csrf string, c *http.Cookie, token string, edit func(*http.Request)) *http.Request {
				r := signInRequest(sch, csrf, c, token)
				r.Header.Set("Origin", origin)
				if edit != nil {
					edit(r)
				}
				return r
			}
			// Refused: a wrong token (401, the form again), no or a wrong
			// double-submit cookie or token, a cross-site Origin or
			// Sec-Fetch-Site (403).
			if rec := do(req(csrf, c, aliceToken+"x", nil)); rec.Code != 401 || !strings.Contains(rec.Body.String(), `role="alert"`) {
				t.Errorf("wrong token: %d", rec.Code)
			}
			for name, r := range map[string]*http.Request{
				"no cookie":       req(csrf, nil, aliceToken, nil),
				"wrong csrf":      req(csrf+"x", c, aliceToken, nil),
				"cross origin":    req(csrf, c, aliceToken, func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }),
				"cross site":      req(csrf, c, aliceToken, func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }),
				"same site other": req(csrf, c, aliceToken, func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-site") }),
			} {
				if rec := do(r); rec.Code != 403 {
					t.Errorf("%s: %d, want 403", name, rec.Code)
				}
			}
			rec := do(req(csrf, c, aliceToken, nil))
			if rec.Code != 303 || rec.Header().Get("Location") != "/console/" {
				t.Fatalf("sign-in: %d %v", rec.Code, rec.Header())
			}
			var sess *http.Cookie
			for _, c := range rec.Result().Cookies() {
				if c.Name == wantSession {
					sess = c
				}
			}
			if sess == nil || !sess.HttpOnly || sess.Secure != https || sess.SameSite != http.SameSiteStrictMode ||
				sess.Path != "/" || sess.Domain != "" || sess.MaxAge != 8*3600 {
				t.Fatalf("session cookie %+v", sess)
			}
			if strings.Contains(sess.Value, aliceToken) {
				t.Fatal("the cookie carries the token")
			}
			get := func(path string, c *http.Cookie) *httptest.ResponseRecorder {
				r := httptest.NewRequest("GET", sch+"://consent.test"+path, nil)
				if sch == "https" {
					r.TLS = &tls.ConnectionState{}
				}
				r.AddCookie(c)
				return do(r)
			}
			// Sliding: used 7 h later it is renewed, and 7 h after that
			// still good; unused 8 h it is refused.
			now = testNow.Add(7 * time.Hour)
			rec = get("/console/portals/mtran", sess)
			if rec.Code != 200 {
				t.Fatalf("after 7 h: %d", rec.Code)
			}
			renewed := rec.Result().Cookies()[0]
			now = testNow.Add(14 * time.Hour)
			if rec := get("/console/portals/mtran", renewed); rec.Code != 200 {
				t.Errorf("renewed, after 14 h: %d", rec.Code)
			}
			if rec := get("/console/portals/mtran", sess); rec.Code != 303 {
				t.Errorf("not renewed, 14 h: %d", rec.Code)
			}
			now = testNow.Add(22*time.Hour + time.Minute)
			if rec := get("/console/portals/mtran", renewed); rec.Code != 303 {
				t.Errorf("idle over 8 h: %d", rec.Code)
			}
			// Sign-out: needs the session's token; then the session is
			// refused even with the old cookie.
			now = testNow.Add(14 * time.Hour)
			rec = get("/console/", renewed)
			m := csrfField.FindStringSubmatch(rec.Body.String())
			if m == nil || !strings.Contains(rec.Body.String(), `action="/console/sign-out"`) {
				t.Fatalf("no sign-out form:\n%s", rec.Body)
			}
			out := func(token string) *httptest.ResponseRecorder {
				r := httptest.NewRequest("POST", sch+"://consent.test/console/sign-out", strings.NewReader(url.Values{"csrf": {token}}.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("Origin", origin)
				if sch == "https" {
					r.TLS = &tls.ConnectionState{}
				}
				r.AddCookie(renewed)
				return do(r)
			}
			if rec := out(csrf); rec.Code != 403 {
				t.Errorf("sign-out with the sign-in form's token: %d", rec.Code)
			}
			rec = out(m[1])
			if rec.Code != 303 {
				t.Fatalf("sign-out: %d", rec.Code)
			}
			if c := rec.Result().Cookies(); len(c) == 0 || c[len(c)-1].MaxAge >= 0 {
				t.Errorf("sign-out did not clear the cookie: %v", c)
			}
			if rec := get("/console/portals/mtran", renewed); rec.Code != 303 {
				t.Errorf("revoked session: %d", rec.Code)
			}
		})
	}
}

func TestConsoleSignInRateLimit(t *testing.T) {
	now := testNow
	s := newConsoleServer(t, &now, WithSignInRate(0.2, 3))
	csrf, c := getSignInForm(t, s, "http")
	for i := range 4 {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, signInRequest("http", csrf, c, "wrong-token-0123456789abcdef"))
		want := 401
		if i == 3 {
			want = 429
		}
		if rec.Code != want {
			t.Fatalf("attempt %d: %d, want %d", i+1, rec.Code, want)
		}
		if want == 429 && rec.Header().Get("Retry-After") != "5" {
			t.Errorf("Retry-After %q", rec.Header().Get("Retry-After"))
		}
	}
	// Another client is not limited.
	r := signInRequest("http", csrf, c, aliceToken)
	r.RemoteAddr = "198.51.100.7:1234"
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, r)
	if rec.Code != 303 {
		t.Errorf("other client: %d", rec.Code)
	}
}

func TestConsoleFrench(t *testing.T) {
	now := testNow
	s := newConsoleServer(t, &now)
	res, body := serve(t, s, "GET", "/console/", http.Header{"Accept-Language": {"fr-CA,fr;q=0.9,en;q=0.5"}})
	if res.Header.Get("Content-Language") != "fr" || !strings.Contains(string(body), `<html lang="fr">`) ||
		!strings.Contains(string(body), "Jeton d’opérateur") {
		t.Errorf("French sign-in: %v\n%s", res.Header, body)
	}
	res, body = serve(t, s, "GET", "/console/", http.Header{"Accept-Language": {"de"}})
	if res.Header.Get("Content-Language") != "en" || !strings.Contains(string(body), "Operator token") {
		t.Errorf("fallback: %v", res.Header)
	}
}

// TestConsoleOperatorsReloaded: a session follows its operator's current
// scope, and ends when the operator is removed.
func TestConsoleOperatorsReloaded(t *testing.T) {
	now := testNow
	s := newConsoleServer(t, &now)
	c := signIn(t, s, aliceToken)
	h := http.Header{"Cookie": {"pc_session=" + c.Value}}
	if res, _ := serve(t, s, "GET", "/console/portals/twisto", h); res.StatusCode != 403 {
		t.Fatalf("twisto: %d", res.StatusCode)
	}
	ops := []operators.Operator{}
	s.ops.SetOperators(ops)
	if res, _ := serve(t, s, "GET", "/console/portals/mtran", h); res.StatusCode != 303 {
		t.Errorf("removed operator's session: %d", res.StatusCode)
	}
}

// TestAPITokenChecksRateLimited: tokens that need bcrypt (wrong ones, or
// an operator's first use) are limited per client; the admin token and
// verified tokens are not.
func TestAPITokenChecksRateLimited(t *testing.T) {
	now := testNow
	s := newConsoleServer(t, &now, WithSignInRate(0.2, 2))
	target := "/api/v1/portals/mtran/receipts.csv?from=2026-03-01&to=2026-03-02"
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	if res, _ := serve(t, s, "GET", target, bearer(aliceToken)); res.StatusCode != 200 {
		t.Fatalf("alice: %d", res.StatusCode)
	}
	if res, _ := serve(t, s, "GET", target, bearer("wrong-token-0123456789abcdef")); res.StatusCode != 401 {
		t.Fatalf("wrong token: %d", res.StatusCode)
	}
	res, body := serve(t, s, "GET", target, bearer("wrong-token-0123456789abcdef"))
	if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" {
		t.Fatalf("third check: %d %s", res.StatusCode, body)
	}
	for _, tok := range []string{aliceToken, testAdminToken} {
		if res, _ := serve(t, s, "GET", target, bearer(tok)); res.StatusCode != 200 {
			t.Errorf("%.5s… once limited: %d", tok, res.StatusCode)
		}
	}
}

// TestConsoleHomeShowsCheckpointKey: the console's home page shows the
// public key of the receipts' checkpoints (base64) when the host has one,
// in English and French, and nothing of it otherwise.
func TestConsoleHomeShowsCheckpointKey(t *testing.T) {
	pub := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	want := base64.StdEncoding.EncodeToString(pub)
	now := testNow
	s := newConsoleServer(t, &now, WithCheckpointKey(pub))
	c := signIn(t, s, aliceToken)
	for lang, title := range map[string]string{"en": "Checkpoint key", "fr": "Clé des points de contrôle"} {
		res, body := consoleGet(t, s, c, "/console/", lang)
		if res.StatusCode != 200 || !strings.Contains(body, "<code>"+want+"</code>") || !strings.Contains(body, title) {
			t.Errorf("%s home page: %d, lacks the key %s or %q", lang, res.StatusCode, want, title)
		}
	}
	s = newConsoleServer(t, &now)
	c = signIn(t, s, aliceToken)
	if _, body := consoleGet(t, s, c, "/console/", "en"); strings.Contains(body, "Checkpoint key") {
		t.Error("a host without a checkpoint key shows one")
	}
}
