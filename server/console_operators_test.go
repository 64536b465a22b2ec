package server

import (
	"cmp"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var tokenField = regexp.MustCompile(`id="new-token" readonly value="([^"]+)"`)

// TestConsoleOperators is an operator's life on the console's operators
// page: the admin creates one (their token shown once, working), changes
// their portals, gives them a new token (the old one refused), removes
// them; an operator of the file is read-only (409); another operator,
// even of every portal, is refused (403) with a valid anti-forgery token;
// a cross-site form is refused (403), a form over 16 KiB too (413); the
// page is in French too.
func TestConsoleOperators(t *testing.T) {
	s := newReceiptServer(t, openTestStore(t), nil, WithOperators(testOperators(t)), WithSignInRate(0, 0))
	admin := signIn(t, s, testAdminToken)
	get := func(c *http.Cookie, lang string) (int, string) {
		req := httptest.NewRequest("GET", "/console/operators", nil)
		req.AddCookie(c)
		req.Header.Set("Accept-Language", lang)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	lang := "en" // of the posts
	post := func(c *http.Cookie, target string, form url.Values, origin string) (int, string) {
		_, page := get(c, lang)
		m := csrfField.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no anti-forgery token on the page:\n%s", page)
		}
		if !form.Has("csrf") {
			form.Set("csrf", m[1])
		}
		req := httptest.NewRequest("POST", target, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		req.Header.Set("Accept-Language", lang)
		req.AddCookie(c)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	const here = "http://example.com"
	code, page := get(admin, "en")
	if code != 200 || !strings.Contains(page, "<th scope=\"row\">alice</th><td>mtran</td><td>file operators.yaml</td>") ||
		strings.Contains(page, `action="/console/operators/alice/`) || strings.Contains(page, "$2a$") {
		t.Fatalf("the page: %d\n%s", code, page)
	}
	if _, home := func() (int, string) {
		req := httptest.NewRequest("GET", "/console/", nil)
		req.AddCookie(admin)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}(); !strings.Contains(home, `href="/console/operators"`) {
		t.Error("the admin's home page has no link to the operators page")
	}

	code, page = post(admin, "/console/operators", url.Values{"name": {"carol"}, "portals": {"twisto, mtran"}}, here)
	m := tokenField.FindStringSubmatch(page)
	if code != 201 || m == nil || !strings.Contains(page, "<th scope=\"row\">carol</th><td>twisto, mtran</td><td>this console</td>") {
		t.Fatalf("creating carol: %d\n%s", code, page)
	}
	token := m[1]
	if res, _ := apiDo(t, s, token, "GET", "/api/v1/portals/mtran/versions", "", ""); res.StatusCode != 200 {
		t.Errorf("carol's token: %d", res.StatusCode)
	}
	if _, page := get(admin, "en"); strings.Contains(page, token) || strings.Contains(page, `id="new-token"`) {
		t.Error("the token is shown again")
	}
	for _, c := range []struct {
		name, target string
		form         url.Values
		want         int
		says         string
		lang         string // "" for English
	}{
		{"taken", "/console/operators", url.Values{"name": {"carol"}, "portals": {"*"}}, 409, "exists already", ""},
		{"of the file", "/console/operators", url.Values{"name": {"dpo"}, "portals": {"*"}}, 409, "managed by file operators.yaml", ""},
		{"bad name", "/console/operators", url.Values{"name": {"no way"}, "portals": {"*"}}, 422, "Nothing was changed: “no way” is not a name", ""},
		{"bad scope", "/console/operators/carol/scope", url.Values{"portals": {"*, mtran"}}, 422, "stands alone", ""},
		{"bad name, in French", "/console/operators", url.Values{"name": {"no way"}, "portals": {"*"}}, 422, "Rien n’a été modifié : « no way » n’est pas un nom", "fr"},
		{"no portal, in French", "/console/operators/carol/scope", url.Values{"portals": {" "}}, 422, "aucun portail : indiquez", "fr"},
		{"not a portal id, in French", "/console/operators/carol/scope", url.Values{"portals": {"mtran, Bad Id!"}}, 422, "« Bad » n’est pas un identifiant de portail", "fr"},
		{"repeated, in French", "/console/operators/carol/scope", url.Values{"portals": {"mtran, mtran"}}, 422, "« mtran » est donné deux fois", "fr"},
		{"star beside ids, in French", "/console/operators/carol/scope", url.Values{"portals": {"*, mtran"}}, 422, "* (tous les portails) s’emploie seul", "fr"},
		{"rotate the file's", "/console/operators/alice/token", url.Values{}, 409, "managed by file", ""},
		{"remove nobody", "/console/operators/nobody/delete", url.Values{}, 404, "no operator called nobody", ""},
		{"forged", "/console/operators/carol/delete", url.Values{"csrf": {"forged"}}, 403, "anti-forgery", ""},
		{"too large", "/console/operators", url.Values{"name": {strings.Repeat("x", 20<<10)}, "portals": {"*"}}, 413, "cannot be read", ""},
	} {
		lang = cmp.Or(c.lang, "en")
		if code, page := post(admin, c.target, c.form, here); code != c.want || !strings.Contains(page, c.says) {
			t.Errorf("%s: %d, want %d with %q\n%.2000s", c.name, code, c.want, c.says, page)
		}
	}
	lang = "en"
	if code, _ := post(admin, "/console/operators/carol/delete", url.Values{}, "https://evil.example"); code != 403 {
		t.Errorf("a cross-site form: %d, want 403", code)
	}
	for _, who := range []string{aliceToken, dpoToken} {
		c := signIn(t, s, who)
		if code, _ := get(c, "en"); code != 403 {
			t.Errorf("%s… on the page: %d, want 403", who[:4], code)
		}
	}

	if code, page := post(admin, "/console/operators/carol/scope", url.Values{"portals": {"twisto"}}, here); code != 200 ||
		!strings.Contains(page, "<td>twisto</td><td>this console</td>") {
		t.Errorf("the scope: %d\n%s", code, page)
	}
	if res, _ := apiDo(t, s, token, "GET", "/api/v1/portals/mtran/versions", "", ""); res.StatusCode != 403 {
		t.Errorf("carol on mtran after the change: %d, want 403", res.StatusCode)
	}
	code, page = post(admin, "/console/operators/carol/token", url.Values{}, here)
	m = tokenField.FindStringSubmatch(page)
	if code != 200 || m == nil || m[1] == token {
		t.Fatalf("a new token: %d\n%s", code, page)
	}
	if res, _ := apiDo(t, s, token, "GET", "/api/v1/portals", "", ""); res.StatusCode != 401 {
		t.Errorf("the old token: %d, want 401", res.StatusCode)
	}
	if code, page := post(admin, "/console/operators/carol/delete", url.Values{}, here); code != 200 || strings.Contains(page, ">carol</th>") {
		t.Errorf("removing: %d\n%s", code, page)
	}
	if res, _ := apiDo(t, s, m[1], "GET", "/api/v1/portals", "", ""); res.StatusCode != 401 {
		t.Errorf("a removed operator's token: %d, want 401", res.StatusCode)
	}
	if _, page := get(admin, "fr"); !strings.Contains(page, `<html lang="fr">`) || !strings.Contains(page, "Nouvel opérateur") {
		t.Errorf("the French page:\n%s", page)
	}
}
