package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// opsDo sends a JSON request to h's operators API with the bearer token
// and returns the status and the body.
func opsDo(t *testing.T, h *host, token, method, path, body string) (int, string) {
	t.Helper()
	hdr := http.Header{"Authorization": {"Bearer " + token}}
	if body != "" {
		hdr.Set("Content-Type", "application/json")
	}
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// apiWithin waits until token gets status from h's API, and fails the
// test past 1 s after since.
func apiWithin(t *testing.T, h *host, token string, status int, since time.Time, what string) time.Duration {
	t.Helper()
	for {
		if h.api(t, token) == status {
			return time.Since(since)
		}
		if time.Since(since) > time.Second {
			t.Fatalf("%s: host %s still answers %d after 1 s, want %d", what, h.url, h.api(t, token), status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFleetOperators runs two hosts on one PostgreSQL database: an
// operator created through one host's API is let in by the other within a
// second, with their scope; a scope changed on one host applies on the
// other within a second; a token rotated on one is refused by the other
// within a second, and the operator's session there ends; an operator
// removed on one is refused by the other, their session too. A host
// started after the changes loads the operators at once.
func TestFleetOperators(t *testing.T) {
	withoutSecretEnv(t)
	dsn := testPostgresDSN(t)
	ctx := context.Background()
	stateA := t.TempDir()
	a := startHost(t, ctx, dsn, stateA)
	b := startHost(t, ctx, dsn, t.TempDir())
	raw, err := os.ReadFile(filepath.Join(stateA, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(raw))

	code, body := opsDo(t, a, admin, "POST", "/api/v1/operators", `{"name":"carol","portals":["twisto"]}`)
	created := time.Now()
	var tok struct{ Token string }
	if code != 201 || json.Unmarshal([]byte(body), &tok) != nil || tok.Token == "" {
		t.Fatalf("POST /api/v1/operators on host a: %d %s", code, body)
	}
	// h.api reads mtran's receipts: outside carol's scope (403), not
	// unknown (401).
	d := apiWithin(t, b, tok.Token, 403, created, "a new operator")
	t.Logf("a new operator let in by the other host after %v", d)

	code, body = opsDo(t, a, admin, "PATCH", "/api/v1/operators/carol", `{"portals":["mtran","twisto"]}`)
	changed := time.Now()
	if code != 200 {
		t.Fatalf("PATCH on host a: %d %s", code, body)
	}
	d = apiWithin(t, b, tok.Token, 200, changed, "a scope changed")
	t.Logf("a new scope applied by the other host after %v", d)

	session := b.signIn(t, tok.Token)
	if !b.sees(t, session) || !a.sees(t, session) {
		t.Fatal("carol's session is refused before any change")
	}
	code, body = opsDo(t, a, admin, "POST", "/api/v1/operators/carol/token", "")
	rotated := time.Now()
	var next struct{ Token string }
	if code != 200 || json.Unmarshal([]byte(body), &next) != nil || next.Token == "" || next.Token == tok.Token {
		t.Fatalf("rotating on host a: %d %s", code, body)
	}
	d = apiWithin(t, b, tok.Token, 401, rotated, "the old token after a rotation")
	t.Logf("a rotated token refused by the other host after %v", d)
	refusedWithin(t, b, session, "the session of an operator whose token was rotated on host a")
	if code := b.api(t, next.Token); code != 200 {
		t.Errorf("the new token on host b: %d, want 200", code)
	}

	session = b.signIn(t, next.Token)
	code, body = opsDo(t, a, admin, "DELETE", "/api/v1/operators/carol", "")
	removed := time.Now()
	if code != 204 {
		t.Fatalf("DELETE on host a: %d %s", code, body)
	}
	d = apiWithin(t, b, next.Token, 401, removed, "a removed operator")
	t.Logf("a removed operator refused by the other host after %v", d)
	refusedWithin(t, b, session, "the session of an operator removed on host a")

	// dave, created on b, is known to a host started afterwards at once.
	if code, body := opsDo(t, b, admin, "POST", "/api/v1/operators", `{"name":"dave","portals":["*"]}`); code != 201 {
		t.Fatalf("POST on host b: %d %s", code, body)
	} else if json.Unmarshal([]byte(body), &tok) != nil {
		t.Fatal(body)
	}
	c := startHost(t, ctx, dsn, t.TempDir())
	if code := c.api(t, tok.Token); code != 200 {
		t.Errorf("a host started after dave was created: %d, want 200", code)
	}
	for name, h := range map[string]*host{"a": a, "b": b, "c": c} {
		for _, secret := range []string{tok.Token, next.Token} {
			if strings.Contains(h.log.String(), secret) {
				t.Errorf("host %s logged an operator's token", name)
			}
		}
	}
}
