// Package servertest holds the fixtures that the tests of several packages
// share: the test admin token and operators, a temporary receipts store, and
// receipt bodies as the browser sends them. It uses only the exported API of
// the server and its storage packages.
package servertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/assets"
	"github.com/portalconsent/portalconsent/server/operators"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/receipts/sqlite"
	"golang.org/x/crypto/bcrypt"
)

// AdminToken is the admin token of the test servers (longer than
// server.MinAdminTokenLen).
const AdminToken = "test-admin-token-0123456789abcdef"

// The operators' tokens of Operators.
const (
	AliceToken = "alice-token-0123456789abcdef" // operator alice, scoped to mtran
	DPOToken   = "dpo-token-0123456789abcdefgh" // operator dpo, every portal ("*")
)

// Operators returns a set with AdminToken and two operators: alice (portal
// mtran, AliceToken) and dpo (every portal, DPOToken). It fails t if a token
// cannot be hashed.
func Operators(t testing.TB) *operators.Set {
	t.Helper()
	set := operators.New(AdminToken)
	var ops []operators.Operator
	for _, o := range []struct{ name, tok, portal string }{{"alice", AliceToken, "mtran"}, {"dpo", DPOToken, "*"}} {
		h, err := bcrypt.GenerateFromPassword([]byte(o.tok), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, operators.Operator{Name: o.name, TokenHash: string(h), Portals: []string{o.portal}, File: "operators.yaml"})
	}
	set.SetOperators(ops)
	return set
}

// Assets returns the few assets a portal's configuration names, each a
// one-line stand-in.
func Assets(t testing.TB) *assets.Set {
	t.Helper()
	a := &assets.Set{}
	for _, f := range []struct {
		dst  **assets.Asset
		name string
	}{{&a.Wasm, "app.wasm"}, {&a.WasmExec, "wasm_exec.js"}, {&a.CSS, "banner.css"}, {&a.Embeds, "embeds.js"}, {&a.Beyond, "beyond.js"}, {&a.Prefs, "prefs.js"}} {
		x, err := assets.New(f.name, []byte("/* "+f.name+" */"), "text/plain", true, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		*f.dst = x
	}
	return a
}

// OpenStore returns a SQLite receipts store in a temporary directory of t,
// closed when t ends. It fails t if the store cannot be opened.
func OpenStore(t testing.TB) receipts.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "receipts.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// ConsentValue returns the choice on p decided at decided, accepting the
// optional categories named in accept (unknown names are ignored).
func ConsentValue(p *policy.Policy, decided time.Time, accept ...string) policy.Consent {
	return policy.NewConsent(p, decided, func(id string) bool {
		for _, a := range accept {
			if a == id {
				return true
			}
		}
		return false
	})
}

// ReceiptBody is the JSON of a receipt as the browser posts it to
// /portals/{id}/consents (the field names are the public contract).
type ReceiptBody struct {
	Value      string   `json:"value"`
	Method     string   `json:"method"`
	Lang       string   `json:"lang"`
	Page       string   `json:"page"`
	Undeclared []string `json:"undeclared"`
}

// ReceiptJSONBody returns the JSON of a ReceiptBody with these fields.
func ReceiptJSONBody(value, method, lang, page string, undeclared ...string) string {
	b, _ := json.Marshal(ReceiptBody{Value: value, Method: method, Lang: lang, Page: page, Undeclared: undeclared})
	return string(b)
}

// CopyOf returns a deep copy of p, through JSON; it fails t if p does not
// round-trip.
func CopyOf(t testing.TB, p *policy.Policy) *policy.Policy {
	t.Helper()
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q policy.Policy
	if err := json.Unmarshal(data, &q); err != nil {
		t.Fatal(err)
	}
	return &q
}

// CountingStore is a receipts store that counts the impressions recorded
// through it.
type CountingStore struct {
	receipts.Store
	n atomic.Int64
}

// CountImpression counts the impression, then records it in the store.
func (c *CountingStore) CountImpression(ctx context.Context, portal string, revision int64, lang string, at time.Time) error {
	c.n.Add(1)
	return c.Store.CountImpression(ctx, portal, revision, lang, at)
}

// Impressions returns how many impressions CountImpression was called for,
// failed ones included.
func (c *CountingStore) Impressions() int64 { return c.n.Load() }

// csrfField finds the sign-in form's CSRF token.
var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// SignIn signs in to the console of h with token, as a browser would over
// http (the form's CSRF field and cookie, then the POST), and returns the
// session cookie. It fails t if the form or the sign-in does not answer as
// expected or no session cookie is set.
func SignIn(t testing.TB, h http.Handler, token string) *http.Cookie {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://consent.test/console/", nil))
	m := csrfField.FindStringSubmatch(rec.Body.String())
	cs := rec.Result().Cookies()
	if rec.Code != 200 || m == nil || len(cs) != 1 {
		t.Fatalf("sign-in form: %d, cookies %v\n%s", rec.Code, cs, rec.Body)
	}
	form := url.Values{"csrf": {m[1]}, "token": {token}}
	req := httptest.NewRequest("POST", "http://consent.test/console/sign-in", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://consent.test")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.AddCookie(cs[0])
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
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

// PostgresDSN returns the DSN of a new database on the test PostgreSQL
// server (PORTALCONSENT_TEST_POSTGRES), dropped when t ends. Without the
// variable it fails t in CI (CI set) and skips it elsewhere.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("PORTALCONSENT_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("PORTALCONSENT_TEST_POSTGRES is not set: the PostgreSQL tests must run in CI (.ci/run sets it)")
		}
		t.Skip("PORTALCONSENT_TEST_POSTGRES is not set (e.g. postgres://portalconsent:portalconsent@127.0.0.1:5432/postgres?sslmode=disable)")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL at PORTALCONSENT_TEST_POSTGRES: %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "pc_fixture_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close(ctx)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close(context.Background())
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
