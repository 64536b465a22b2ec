package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/policyfiles"
)

// apiDo sends method target with body (Content-Type ctype when body is not
// empty) and the headers, as the bearer of token.
func apiDo(t *testing.T, h http.Handler, token, method, target, ctype, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result(), rec.Body.Bytes()
}

// examplePolicy returns the example policy file as the policy of portal
// id, its name replaced by name.
func examplePolicy(id, name string) string {
	y := strings.Replace(string(policyfiles.Example()), "id: example", "id: "+id, 1)
	return strings.Replace(y, "name: Example open data portal", "name: "+name, 1)
}

type putAnswer struct {
	Portal    string
	Version   int64
	Revision  int64
	AsksAgain bool
	Unchanged bool
	Error     string
	Problems  []struct {
		Line    int
		Field   string
		Message string
	}
}

func decodeJSON[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

// TestAPIPolicies is a publication's life through the API, one status
// after another: create (201), unchanged (200), new versions with and
// without asking again, If-Match (412), problems (422), managed by file
// (409), too large (413), a content type of another kind (415), who may
// create and delete (403), read back as YAML and JSON, versions, delete
// (204) and a deleted portal's 404 on the public routes.
func TestAPIPolicies(t *testing.T) {
	now := testNow
	s := newConsoleServer(t, &now)
	const target = "/api/v1/portals/newportal/policy"
	yamlCT := "application/yaml"

	// Only the admin or an operator with "*" creates a portal.
	res, body := apiDo(t, s, aliceToken, "PUT", target, yamlCT, examplePolicy("newportal", "New portal"))
	if res.StatusCode != 403 {
		t.Fatalf("alice creating a portal: %d %s", res.StatusCode, body)
	}
	res, body = apiDo(t, s, testAdminToken, "PUT", target, yamlCT, examplePolicy("newportal", "New portal"))
	created := decodeJSON[putAnswer](t, body)
	if res.StatusCode != 201 || created.Portal != "newportal" || created.Version != 1 || !created.AsksAgain || created.Unchanged ||
		res.Header.Get("ETag") != `"v1"` || res.Header.Get("Location") != target {
		t.Fatalf("creating a portal: %d %+v %v", res.StatusCode, created, res.Header)
	}
	if res, body := serve(t, s, "GET", "/portals/newportal/config.json", nil); res.StatusCode != 200 || !strings.Contains(string(body), "New portal") {
		t.Fatalf("the new portal's config.json: %d", res.StatusCode)
	}

	// The same again: unchanged.
	res, body = apiDo(t, s, testAdminToken, "PUT", target, yamlCT, examplePolicy("newportal", "New portal"))
	if a := decodeJSON[putAnswer](t, body); res.StatusCode != 200 || !a.Unchanged || a.Version != 1 || a.AsksAgain {
		t.Fatalf("publishing the same policy: %d %+v", res.StatusCode, a)
	}
	// Wording only: a new version, nobody asked again.
	res, body = apiDo(t, s, testAdminToken, "PUT", target, yamlCT, examplePolicy("newportal", "New portal, renamed"))
	if a := decodeJSON[putAnswer](t, body); res.StatusCode != 200 || a.Unchanged || a.Version != 2 || a.AsksAgain || a.Revision != created.Revision {
		t.Fatalf("a wording change: %d %+v", res.StatusCode, a)
	}
	if _, body := serve(t, s, "GET", "/portals/newportal/config.json", nil); !strings.Contains(string(body), "New portal, renamed") {
		t.Fatal("config.json does not serve the new version")
	}
	// A lifetime change asks again; If-Match must be the current ETag.
	longer := strings.Replace(examplePolicy("newportal", "New portal, renamed"), "lifetimeDays: 182", "lifetimeDays: 190", 1)
	for _, im := range []string{`"v1"`, `"2"`, "v2", `"v0"`} {
		if res, body := apiDo(t, s, testAdminToken, "PUT", target, yamlCT, longer, "If-Match", im); res.StatusCode != 412 {
			t.Fatalf("If-Match %s: %d %s", im, res.StatusCode, body)
		}
	}
	res, body = apiDo(t, s, testAdminToken, "PUT", target, yamlCT, longer, "If-Match", `"v2"`)
	if a := decodeJSON[putAnswer](t, body); res.StatusCode != 200 || a.Version != 3 || !a.AsksAgain || a.Revision == created.Revision {
		t.Fatalf("a lifetime change: %d %+v", res.StatusCode, a)
	}
	if res, _ := apiDo(t, s, testAdminToken, "PUT", "/api/v1/portals/other/policy", yamlCT, examplePolicy("other", "x"), "If-Match", "*"); res.StatusCode != 412 {
		t.Errorf("If-Match * for a new portal: %d", res.StatusCode)
	}

	// Problems: each as -check reports it, nothing stored.
	broken := strings.Replace(longer, "lifetimeDays: 190", "lifetimeDays: long", 1)
	res, body = apiDo(t, s, testAdminToken, "PUT", target, yamlCT, broken)
	a := decodeJSON[putAnswer](t, body)
	_, perr := policyfiles.ParseBody("newportal", []byte(broken), "yaml")
	le, _ := errors.AsType[*policy.LoadError](perr)
	if res.StatusCode != 422 || len(a.Problems) != 1 || le == nil || a.Problems[0].Line != le.Line || a.Problems[0].Field != "lifetimeDays" ||
		a.Problems[0].Message != le.Msg || a.Error == "" {
		t.Fatalf("a broken policy: %d %s", res.StatusCode, body)
	}
	// A policy that decodes: every problem, each with its line, in order.
	broken = strings.Replace(strings.Replace(longer, "lifetimeDays: 190", "lifetimeDays: 900", 1), "category: statistical", "category: nowhere", 1)
	res, body = apiDo(t, s, testAdminToken, "PUT", target, yamlCT, broken)
	a = decodeJSON[putAnswer](t, body)
	_, perr = policyfiles.ParseBody("newportal", []byte(broken), "yaml")
	les := policy.LoadErrors(perr)
	if res.StatusCode != 422 || len(les) < 2 || len(a.Problems) != len(les) || a.Error != fmt.Sprintf("the policy has %d problem(s): nothing was published", len(les)) {
		t.Fatalf("a policy with several problems: %d %s", res.StatusCode, body)
	}
	for i, le := range les {
		if p := a.Problems[i]; p.Line != le.Line || p.Line == 0 || p.Field != le.Field || p.Message != le.Msg {
			t.Errorf("problem %d: %+v, want %v", i, p, le)
		}
	}
	if a.Problems[0].Field != "lifetimeDays" || !strings.HasSuffix(a.Problems[1].Field, ".category") || a.Problems[1].Line <= a.Problems[0].Line {
		t.Errorf("problems %+v, want lifetimeDays then the tracker's category, each on its line", a.Problems)
	}
	res, body = apiDo(t, s, testAdminToken, "PUT", target, yamlCT, examplePolicy("twisto", "x"))
	if a := decodeJSON[putAnswer](t, body); res.StatusCode != 422 || len(a.Problems) != 1 || a.Problems[0].Field != "id" || a.Problems[0].Line == 0 {
		t.Fatalf("another portal's id: %d %s", res.StatusCode, body)
	}
	if res, _ := apiDo(t, s, testAdminToken, "PUT", target, "text/plain", longer); res.StatusCode != 415 {
		t.Errorf("text/plain: %d", res.StatusCode)
	}
	huge := longer + "\n#" + strings.Repeat("x", 1<<20)
	if res, body := apiDo(t, s, testAdminToken, "PUT", target, yamlCT, huge); res.StatusCode != 413 {
		t.Errorf("over 1 MiB: %d %s", res.StatusCode, body)
	}

	// Managed by file: 409 naming the file, for PUT and DELETE.
	res, body = apiDo(t, s, dpoToken, "PUT", "/api/v1/portals/mtran/policy", yamlCT, examplePolicy("mtran", "x"))
	if res.StatusCode != 409 || !strings.Contains(string(body), "managed by file built-in") {
		t.Errorf("PUT over a portal managed by file: %d %s", res.StatusCode, body)
	}
	if res, body := apiDo(t, s, testAdminToken, "DELETE", "/api/v1/portals/mtran", "", ""); res.StatusCode != 409 || !strings.Contains(string(body), "built-in") {
		t.Errorf("DELETE of a portal managed by file: %d %s", res.StatusCode, body)
	}

	// JSON in, by an operator with "*"; read back in both forms.
	js, err := policyfiles.ToJSON("x.yaml", []byte(examplePolicy("jsonportal", "JSON portal")))
	if err != nil {
		t.Fatal(err)
	}
	res, body = apiDo(t, s, dpoToken, "PUT", "/api/v1/portals/jsonportal/policy", "application/json; charset=utf-8", string(js))
	if res.StatusCode != 201 {
		t.Fatalf("a JSON policy: %d %s", res.StatusCode, body)
	}
	res, asYAML := apiDo(t, s, dpoToken, "GET", "/api/v1/portals/jsonportal/policy", "", "", "Accept", "application/yaml")
	if res.StatusCode != 200 || res.Header.Get("ETag") != `"v1"` || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/yaml") ||
		!strings.Contains(string(asYAML), "name: JSON portal") {
		t.Fatalf("GET policy as YAML: %d %v\n%s", res.StatusCode, res.Header, asYAML)
	}
	res, body = apiDo(t, s, dpoToken, "PUT", "/api/v1/portals/jsonportal/policy", yamlCT, string(asYAML), "If-Match", `"v1"`)
	if a := decodeJSON[putAnswer](t, body); res.StatusCode != 200 || !a.Unchanged {
		t.Errorf("the YAML read back, published again: %d %s", res.StatusCode, body)
	}
	res, asJSON := apiDo(t, s, dpoToken, "GET", target, "", "")
	if res.StatusCode != 200 || res.Header.Get("ETag") != `"v3"` || decodeJSON[map[string]any](t, asJSON)["lifetimeDays"] != float64(190) {
		t.Errorf("GET policy as JSON: %d %v %s", res.StatusCode, res.Header, asJSON)
	}
	if res, _ := apiDo(t, s, dpoToken, "GET", "/api/v1/portals/nothere/policy", "", ""); res.StatusCode != 404 {
		t.Errorf("GET policy of an unknown portal: %d", res.StatusCode)
	}

	// The list and the versions.
	_, body = apiDo(t, s, testAdminToken, "GET", "/api/v1/portals", "", "")
	list := decodeJSON[[]struct {
		ID, Name, ManagedBy, File, Updated string
		Revision                           int
		Version                            int64
	}](t, body)
	found := map[string]string{}
	for _, p := range list {
		found[p.ID] = p.ManagedBy + " " + p.File
		if p.Updated == "" || p.Version < 1 {
			t.Errorf("portal %s without its version: %+v", p.ID, p)
		}
	}
	if found["newportal"] != "database " || found["jsonportal"] != "database " || found["mtran"] != "file built-in" {
		t.Errorf("portals listed: %v", found)
	}
	_, body = apiDo(t, s, testAdminToken, "GET", "/api/v1/portals/newportal/versions", "", "")
	vs := decodeJSON[[]struct {
		Version            int64
		By, Via, ManagedBy string
		PublishedAt        string
	}](t, body)
	if len(vs) != 3 || vs[0].Version != 3 || vs[2].Version != 1 || vs[0].By != "admin" || vs[0].Via != "api" || vs[0].ManagedBy != "database" || vs[0].PublishedAt == "" {
		t.Errorf("versions: %+v", vs)
	}
	_, body = apiDo(t, s, testAdminToken, "GET", "/api/v1/portals/jsonportal/versions", "", "")
	if vs := decodeJSON[[]struct{ By string }](t, body); len(vs) != 1 || vs[0].By != "dpo" {
		t.Errorf("jsonportal's versions: %s", body)
	}

	// Delete: only every portal's principals, If-Match, then 404 everywhere.
	if res, _ := apiDo(t, s, aliceToken, "DELETE", "/api/v1/portals/mtran", "", ""); res.StatusCode != 403 {
		t.Errorf("alice deleting her portal: %d", res.StatusCode)
	}
	if res, _ := apiDo(t, s, testAdminToken, "DELETE", "/api/v1/portals/newportal", "", "", "If-Match", `"v2"`); res.StatusCode != 412 {
		t.Errorf("DELETE with a stale If-Match: %d", res.StatusCode)
	}
	res, body = apiDo(t, s, testAdminToken, "DELETE", "/api/v1/portals/newportal", "", "", "If-Match", `"v3"`)
	if res.StatusCode != 204 || len(body) != 0 {
		t.Fatalf("DELETE: %d %s", res.StatusCode, body)
	}
	if res, body := serve(t, s, "GET", "/portals/newportal/config.json", nil); res.StatusCode != 404 || !strings.Contains(string(body), "unknown portal") {
		t.Errorf("a deleted portal's config.json: %d %s", res.StatusCode, body)
	}
	if res, _ := apiDo(t, s, testAdminToken, "DELETE", "/api/v1/portals/newportal", "", ""); res.StatusCode != 404 {
		t.Errorf("DELETE of a deleted portal: %d", res.StatusCode)
	}
	if res, _ := apiDo(t, s, testAdminToken, "GET", "/api/v1/portals/newportal/versions", "", ""); res.StatusCode != 200 {
		t.Errorf("a deleted portal's versions: %d", res.StatusCode)
	}
	if res, _ := apiDo(t, s, testAdminToken, "GET", "/api/v1/portals/never/versions", "", ""); res.StatusCode != 404 {
		t.Errorf("versions of a portal never published: %d", res.StatusCode)
	}
}

// TestAPIPolicyWriteSessions: a console session writes through the API
// only from the console's origin.
func TestAPIPolicyWriteSessions(t *testing.T) {
	now := testNow
	s := newConsoleServer(t, &now)
	c := signIn(t, s, testAdminToken)
	for _, c2 := range []struct {
		origin string
		want   int
	}{{"https://evil.example", 403}, {"http://example.com", 201}} {
		req := httptest.NewRequest("PUT", "/api/v1/portals/sessionportal/policy", strings.NewReader(examplePolicy("sessionportal", "S")))
		req.Header.Set("Content-Type", "application/yaml")
		req.Header.Set("Origin", c2.origin)
		req.AddCookie(c)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != c2.want {
			b, _ := io.ReadAll(rec.Body)
			t.Errorf("Origin %s: %d, want %d %s", c2.origin, rec.Code, c2.want, b)
		}
	}
}

// TestAPIPolicyOperatorScope: an operator publishes a new version of a
// portal of their scope managed by the database, but may neither create
// one, delete theirs, nor touch another's; the version names them.
func TestAPIPolicyOperatorScope(t *testing.T) {
	twisto := defaultPolicies(t)[1]
	s := newReceiptServer(t, openTestStore(t), []*policy.Policy{twisto}, WithOperators(testOperators(t)), WithSignInRate(0, 0))
	const target = "/api/v1/portals/mtran/policy"
	if res, body := apiDo(t, s, testAdminToken, "PUT", target, "application/yaml", examplePolicy("mtran", "MTRAN")); res.StatusCode != 201 {
		t.Fatalf("the admin creating mtran: %d %s", res.StatusCode, body)
	}
	res, body := apiDo(t, s, aliceToken, "PUT", target, "application/yaml", examplePolicy("mtran", "MTRAN by alice"))
	if a := decodeJSON[putAnswer](t, body); res.StatusCode != 200 || a.Version != 2 {
		t.Fatalf("alice publishing her portal: %d %s", res.StatusCode, body)
	}
	_, body = apiDo(t, s, aliceToken, "GET", "/api/v1/portals/mtran/versions", "", "")
	if vs := decodeJSON[[]struct{ By string }](t, body); len(vs) != 2 || vs[0].By != "alice" || vs[1].By != "admin" {
		t.Errorf("versions: %s", body)
	}
	for _, c := range []struct{ method, target, body string }{
		{"DELETE", "/api/v1/portals/mtran", ""},
		{"PUT", "/api/v1/portals/twisto/policy", examplePolicy("twisto", "x")},
		{"DELETE", "/api/v1/portals/twisto", ""},
		{"GET", "/api/v1/portals/twisto/policy", ""},
		{"GET", "/api/v1/portals/twisto/versions", ""},
		{"PUT", "/api/v1/portals/alicenew/policy", examplePolicy("alicenew", "x")},
	} {
		ct := ""
		if c.body != "" {
			ct = "application/yaml"
		}
		if res, body := apiDo(t, s, aliceToken, c.method, c.target, ct, c.body); res.StatusCode != 403 {
			t.Errorf("alice: %s %s: %d %s", c.method, c.target, res.StatusCode, body)
		}
	}
}
