package server

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

type operatorAnswer struct {
	Name      string
	Portals   []string
	ManagedBy string
	File      string
	Created   string
	Updated   string
	By        string
	Token     string
	Error     string
	Problems  []struct{ Field, Message string }
}

// TestAPIOperators is an operator's life through the API, one status after
// another: listed without hashes, created (201, their token told once and
// working with their scope), a name taken (409) or of the operators file
// (409 naming it), bad names and scopes (422), malformed bodies (400, 413,
// 415), the scope changed (PATCH and PUT), the token rotated (the old one
// and its sessions refused), removed (204, then 404), and kept across a
// restart.
func TestAPIOperators(t *testing.T) {
	now := testNow
	st := openTestStore(t)
	s := newReceiptServer(t, st, nil, WithOperators(testOperators(t)), WithSignInRate(0, 0), WithClock(func() time.Time { return now }))
	const jsonCT = "application/json"
	res, body := apiDo(t, s, testAdminToken, "GET", "/api/v1/operators", "", "")
	list := decodeJSON[[]operatorAnswer](t, body)
	if res.StatusCode != 200 || len(list) != 2 || list[0].Name != "alice" || list[0].ManagedBy != "file" || list[0].File != "operators.yaml" ||
		!slices.Equal(list[0].Portals, []string{"mtran"}) || list[1].Name != "dpo" {
		t.Fatalf("GET /api/v1/operators: %d %s", res.StatusCode, body)
	}

	res, body = apiDo(t, s, testAdminToken, "POST", "/api/v1/operators", jsonCT, `{"name":"carol","portals":["twisto"]}`)
	carol := decodeJSON[operatorAnswer](t, body)
	if res.StatusCode != 201 || carol.Name != "carol" || carol.ManagedBy != "database" || carol.By != "admin" || len(carol.Token) < 40 ||
		!slices.Equal(carol.Portals, []string{"twisto"}) || res.Header.Get("Location") != "/api/v1/operators/carol" ||
		res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("creating carol: %d %s %v", res.StatusCode, body, res.Header)
	}
	if res, body := apiDo(t, s, carol.Token, "GET", "/api/v1/portals", "", ""); res.StatusCode != 200 ||
		!strings.Contains(string(body), `"id":"twisto"`) || strings.Contains(string(body), `"id":"mtran"`) {
		t.Errorf("carol's portals: %d %s", res.StatusCode, body)
	}
	if res, _ := apiDo(t, s, carol.Token, "GET", "/api/v1/portals/mtran/versions", "", ""); res.StatusCode != 403 {
		t.Errorf("carol reading mtran: %d, want 403", res.StatusCode)
	}
	_, body = apiDo(t, s, testAdminToken, "GET", "/api/v1/operators", "", "")
	if strings.Contains(string(body), carol.Token) || strings.Contains(string(body), "$2") || strings.Contains(string(body), "token") {
		t.Errorf("the list shows a token or a hash: %s", body)
	}
	found := 0
	for _, o := range decodeJSON[[]operatorAnswer](t, body) {
		if o.Name == "carol" && o.Created == testNow.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano) && o.ManagedBy == "database" {
			found++
		}
	}
	if found != 1 {
		t.Errorf("carol in the list: %s", body)
	}

	// Refusals: nothing changes.
	big := `{"name":"x","portals":["` + strings.Repeat("a", 70<<10) + `"]}`
	for _, c := range []struct {
		name, method, target, ctype, body string
		want                              int
		field, says                       string
	}{
		{"taken", "POST", "/api/v1/operators", jsonCT, `{"name":"carol","portals":["*"]}`, 409, "", "exists"},
		{"of the file", "POST", "/api/v1/operators", jsonCT, `{"name":"alice","portals":["*"]}`, 409, "", "operators.yaml"},
		{"admin", "POST", "/api/v1/operators", jsonCT, `{"name":"admin","portals":["*"]}`, 422, "name", "admin"},
		{"bad name", "POST", "/api/v1/operators", jsonCT, `{"name":"a b","portals":["*"]}`, 422, "name", "not 1 to 64"},
		{"long name", "POST", "/api/v1/operators", jsonCT, `{"name":"` + strings.Repeat("n", 65) + `","portals":["*"]}`, 422, "name", ""},
		{"no name", "POST", "/api/v1/operators", jsonCT, `{"portals":["*"]}`, 422, "name", "missing"},
		{"no portals", "POST", "/api/v1/operators", jsonCT, `{"name":"erin"}`, 422, "portals", "missing"},
		{"empty portals", "POST", "/api/v1/operators", jsonCT, `{"name":"erin","portals":[]}`, 422, "portals", "no portal"},
		{"star beside", "POST", "/api/v1/operators", jsonCT, `{"name":"erin","portals":["*","mtran"]}`, 422, "portals", "stands alone"},
		{"bad portal", "POST", "/api/v1/operators", jsonCT, `{"name":"erin","portals":["Not An Id"]}`, 422, "portals", "not a portal id"},
		{"repeated portal", "POST", "/api/v1/operators", jsonCT, `{"name":"erin","portals":["mtran","mtran"]}`, 422, "portals", "repeated"},
		{"unknown field", "POST", "/api/v1/operators", jsonCT, `{"name":"erin","portals":["*"],"tokenHash":"$2a$x"}`, 400, "", "unknown field"},
		{"not JSON", "POST", "/api/v1/operators", jsonCT, `name=erin`, 400, "", "not a JSON object"},
		{"two values", "POST", "/api/v1/operators", jsonCT, `{"name":"erin","portals":["*"]} {}`, 400, "", "more than one"},
		{"form", "POST", "/api/v1/operators", "application/x-www-form-urlencoded", `name=erin`, 415, "", "application/json"},
		{"too large", "POST", "/api/v1/operators", jsonCT, big, 413, "", "body over"},
		{"rename", "PATCH", "/api/v1/operators/carol", jsonCT, `{"name":"carla","portals":["*"]}`, 400, "", "renamed"},
		{"scope of nobody", "PATCH", "/api/v1/operators/nobody", jsonCT, `{"portals":["*"]}`, 404, "", "unknown operator"},
		{"scope of a bad name", "PATCH", "/api/v1/operators/a%20b", jsonCT, `{"portals":["*"]}`, 400, "", "not an operator name"},
		{"scope of the file's", "PUT", "/api/v1/operators/dpo", jsonCT, `{"portals":["mtran"]}`, 409, "", "operators.yaml"},
		{"bad scope", "PATCH", "/api/v1/operators/carol", jsonCT, `{"portals":["*","x"]}`, 422, "portals", ""},
		{"rotate nobody", "POST", "/api/v1/operators/nobody/token", "", "", 404, "", "unknown operator"},
		{"rotate the file's", "POST", "/api/v1/operators/alice/token", "", "", 409, "", "operators.yaml"},
		{"remove nobody", "DELETE", "/api/v1/operators/nobody", "", "", 404, "", "unknown operator"},
		{"remove the file's", "DELETE", "/api/v1/operators/alice", "", "", 409, "", "managed by file operators.yaml"},
	} {
		res, body := apiDo(t, s, testAdminToken, c.method, c.target, c.ctype, c.body)
		a := decodeJSON[operatorAnswer](t, body)
		if res.StatusCode != c.want || a.Error == "" || !strings.Contains(string(body), c.says) ||
			(c.field != "" && (len(a.Problems) != 1 || a.Problems[0].Field != c.field)) {
			t.Errorf("%s: %d %.300s, want %d with %q", c.name, res.StatusCode, body, c.want, c.says)
		}
	}
	if ops, _ := st.(receipts.Operators).StoredOperators(t.Context()); len(ops) != 1 || ops[0].Name != "carol" ||
		!slices.Equal(ops[0].Portals, []string{"twisto"}) {
		t.Errorf("the refusals changed the database: %+v", ops)
	}

	// Only the admin: not alice (mtran), not dpo (every portal), not carol.
	for _, tok := range []string{aliceToken, dpoToken, carol.Token} {
		for _, c := range []struct{ method, target, body string }{
			{"GET", "/api/v1/operators", ""},
			{"POST", "/api/v1/operators", `{"name":"mallory","portals":["*"]}`},
			{"PATCH", "/api/v1/operators/carol", `{"portals":["*"]}`},
			{"PUT", "/api/v1/operators/carol", `{"portals":["*"]}`},
			{"POST", "/api/v1/operators/carol/token", ""},
			{"DELETE", "/api/v1/operators/carol", ""},
		} {
			if res, body := apiDo(t, s, tok, c.method, c.target, jsonCT, c.body); res.StatusCode != 403 {
				t.Errorf("%s…: %s %s: %d %s, want 403", tok[:4], c.method, c.target, res.StatusCode, body)
			}
		}
	}

	// The scope, PATCH then PUT: carol sees mtran at once.
	res, body = apiDo(t, s, testAdminToken, "PATCH", "/api/v1/operators/carol", jsonCT, `{"portals":["mtran","twisto"]}`)
	if a := decodeJSON[operatorAnswer](t, body); res.StatusCode != 200 || !slices.Equal(a.Portals, []string{"mtran", "twisto"}) || a.Token != "" {
		t.Fatalf("PATCH: %d %s", res.StatusCode, body)
	}
	if res, _ := apiDo(t, s, carol.Token, "GET", "/api/v1/portals/mtran/versions", "", ""); res.StatusCode != 200 {
		t.Errorf("carol reading mtran after PATCH: %d", res.StatusCode)
	}
	if res, body := apiDo(t, s, testAdminToken, "PUT", "/api/v1/operators/carol", jsonCT, `{"portals":["*"]}`); res.StatusCode != 200 {
		t.Fatalf("PUT: %d %s", res.StatusCode, body)
	}

	// Rotation: the old token and carol's session are refused, the new
	// token works.
	session := signIn(t, s, carol.Token)
	consolePage := func(c *http.Cookie) int {
		req := httptest.NewRequest("GET", "/console/portals/mtran", nil)
		req.AddCookie(c)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := consolePage(session); code != 200 {
		t.Fatalf("carol's session before the rotation: %d", code)
	}
	now = now.Add(time.Minute)
	res, body = apiDo(t, s, testAdminToken, "POST", "/api/v1/operators/carol/token", "", "")
	rotated := decodeJSON[operatorAnswer](t, body)
	if res.StatusCode != 200 || rotated.Token == "" || rotated.Token == carol.Token || rotated.Updated != now.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano) {
		t.Fatalf("rotating: %d %s", res.StatusCode, body)
	}
	if res, _ := apiDo(t, s, carol.Token, "GET", "/api/v1/portals", "", ""); res.StatusCode != 401 {
		t.Errorf("the old token: %d, want 401", res.StatusCode)
	}
	if code := consolePage(session); code != 303 {
		t.Errorf("carol's session after the rotation: %d, want 303 (signed out)", code)
	}
	if res, _ := apiDo(t, s, rotated.Token, "GET", "/api/v1/portals", "", ""); res.StatusCode != 200 {
		t.Errorf("the new token: %d, want 200", res.StatusCode)
	}

	// A restart on the same database: carol is there.
	s2 := newReceiptServer(t, st, nil, WithOperators(testOperators(t)), WithSignInRate(0, 0))
	if res, _ := apiDo(t, s2, rotated.Token, "GET", "/api/v1/portals", "", ""); res.StatusCode != 200 {
		t.Errorf("carol after a restart: %d, want 200", res.StatusCode)
	}

	// Removal.
	session = signIn(t, s, rotated.Token)
	if res, body := apiDo(t, s, testAdminToken, "DELETE", "/api/v1/operators/carol", "", ""); res.StatusCode != 204 {
		t.Fatalf("DELETE: %d %s", res.StatusCode, body)
	}
	if res, _ := apiDo(t, s, rotated.Token, "GET", "/api/v1/portals", "", ""); res.StatusCode != 401 {
		t.Errorf("a removed operator's token: %d, want 401", res.StatusCode)
	}
	if code := consolePage(session); code != 303 {
		t.Errorf("a removed operator's session: %d, want 303", code)
	}
	if res, _ := apiDo(t, s, testAdminToken, "DELETE", "/api/v1/operators/carol", "", ""); res.StatusCode != 404 {
		t.Errorf("DELETE twice: %d, want 404", res.StatusCode)
	}
}

// TestAPIOperatorsWrites: a console session's write must come from the
// console's origin, and a host without a receipts database keeps no
// operators (503).
func TestAPIOperatorsWrites(t *testing.T) {
	now := testNow
	s := newConsoleServer(t, &now)
	c := signIn(t, s, testAdminToken)
	for _, o := range []struct {
		origin string
		want   int
	}{{"https://evil.example", 403}, {"http://example.com", 201}} {
		req := httptest.NewRequest("POST", "/api/v1/operators", strings.NewReader(`{"name":"frank","portals":["mtran"]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", o.origin)
		req.AddCookie(c)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != o.want {
			t.Errorf("Origin %s: %d, want %d %s", o.origin, rec.Code, o.want, rec.Body)
		}
	}
	none := newReceiptServer(t, receipts.None{}, nil)
	if res, body := apiDo(t, none, testAdminToken, "POST", "/api/v1/operators", "application/json", `{"name":"frank","portals":["mtran"]}`); res.StatusCode != 503 {
		t.Errorf("no database: %d %s, want 503", res.StatusCode, body)
	}
}
