package operators

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

const (
	adminTok = "admin-token-0123456789abcdef"
	aliceTok = "alice-token-0123456789abcdef"
	dpoTok   = "dpo-token-0123456789abcdefgh"
)

func hash(t testing.TB, tok string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(tok), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func file(t testing.TB) string {
	return "operators:\n" +
		"  - name: alice\n    tokenHash: \"" + hash(t, aliceTok) + "\"\n    portals: [mtran]\n" +
		"  - name: dpo\n    tokenHash: '" + hash(t, dpoTok) + "'\n    portals: [\"*\"]\n"
}

func TestOperatorParse(t *testing.T) {
	ops, err := Parse("ops.yaml", []byte(file(t)))
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 || ops[0].Name != "alice" || ops[0].Portals[0] != "mtran" || ops[1].Portals[0] != "*" {
		t.Fatalf("got %+v", ops)
	}
	good := hash(t, aliceTok)
	for _, tt := range []struct{ name, yaml, want string }{
		{"unknown field", "operators:\n  - name: a\n    tokenHash: \"" + good + "\"\n    portals: [mtran]\n    role: admin\n", `ops.yaml:5: operators[0]: unknown field "role"`},
		{"unknown top field", "operatorz: []\n", `ops.yaml:1: unknown field "operatorz"`},
		{"missing hash", "operators:\n  - name: a\n    portals: [mtran]\n", "ops.yaml:2: operators[0]: tokenHash: missing"},
		{"not bcrypt", "operators:\n  - name: a\n    tokenHash: plain\n    portals: [mtran]\n", "ops.yaml:3: operators[0]: tokenHash: not a bcrypt hash"},
		{"bad portal", "operators:\n  - name: a\n    tokenHash: \"" + good + "\"\n    portals: [Mtran]\n", `ops.yaml:4: operators[0]: portals: "Mtran" is not a portal id`},
		{"star beside", "operators:\n  - name: a\n    tokenHash: \"" + good + "\"\n    portals: [mtran, \"*\"]\n", `ops.yaml:4: operators[0]: portals: "*" (every portal) stands alone`},
		{"empty portals", "operators:\n  - name: a\n    tokenHash: \"" + good + "\"\n    portals: []\n", "ops.yaml:4: operators[0]: portals: not a list"},
		{"duplicate", "operators:\n  - name: a\n    tokenHash: \"" + good + "\"\n    portals: [mtran]\n  - name: a\n    tokenHash: \"" + good + "\"\n    portals: [mtran]\n", `ops.yaml:5: operators[1]: name: "a" is already the operator at line 2`},
		{"admin name", "operators:\n  - name: admin\n    tokenHash: \"" + good + "\"\n    portals: [mtran]\n", `ops.yaml:2: operators[0]: name: "admin" is not`},
		{"repeated field", "operators:\n  - name: a\n    name: b\n    tokenHash: \"" + good + "\"\n    portals: [mtran]\n", "ops.yaml:3: operators[0]: name: repeated"},
		{"not yaml", "operators: [\n", "ops.yaml: "},
		{"two documents", "operators: []\n---\noperators: []\n", "ops.yaml:2: a second YAML document"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("ops.yaml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func newSet(t testing.TB) (*Set, *atomic.Int32) {
	s := New(adminTok)
	ops, err := Parse("ops.yaml", []byte(file(t)))
	if err != nil {
		t.Fatal(err)
	}
	s.SetOperators(ops)
	var n atomic.Int32
	s.compare = func(h, tok []byte) error { n.Add(1); return bcrypt.CompareHashAndPassword(h, tok) }
	return s, &n
}

func TestOperatorAuthenticate(t *testing.T) {
	s, bcrypts := newSet(t)
	for _, tt := range []struct {
		tok, name string
		ok        bool
		mtran     bool
		twisto    bool
	}{
		{adminTok, AdminName, true, true, true},
		{aliceTok, "alice", true, true, false},
		{dpoTok, "dpo", true, true, true},
		{aliceTok + "x", "", false, false, false},
		{"", "", false, false, false},
		{strings.Repeat("a", 200), "", false, false, false},
	} {
		p, ok := s.Authenticate(tt.tok)
		if ok != tt.ok || p.Name != tt.name || p.Allows("mtran") != tt.mtran || p.Allows("twisto") != tt.twisto {
			t.Errorf("%.8s…: %+v %v", tt.tok, p, ok)
		}
	}
	// A verified token is not run through bcrypt again...
	n := bcrypts.Load()
	for range 3 {
		if _, ok := s.Authenticate(aliceTok); !ok {
			t.Fatal("alice refused")
		}
	}
	if bcrypts.Load() != n {
		t.Errorf("cached token ran bcrypt %d more times", bcrypts.Load()-n)
	}
	// ...until the operators change: then alice, removed, is refused.
	s.SetOperators(nil)
	if _, ok := s.Authenticate(aliceTok); ok {
		t.Error("removed operator still accepted from the cache")
	}
	if _, ok := s.Lookup("alice"); ok {
		t.Error("removed operator still looked up")
	}
	if p, ok := s.Lookup(AdminName); !ok || !p.All {
		t.Error("admin lookup")
	}
}

func TestOperatorCacheBounded(t *testing.T) {
	s, _ := newSet(t)
	s.compare = func(_, _ []byte) error { return nil } // every token is alice's
	for i := range cacheSize + 10 {
		if _, ok := s.Authenticate(aliceTok + strconv.Itoa(i)); !ok {
			t.Fatal("refused")
		}
	}
	if len(s.cache) != cacheSize {
		t.Fatalf("cache holds %d entries", len(s.cache))
	}
}

func TestOperatorHashToken(t *testing.T) {
	if _, err := HashToken("short"); err == nil {
		t.Error("short token hashed")
	}
	if _, err := HashToken(strings.Repeat("x", 73)); err == nil {
		t.Error("73-byte token hashed")
	}
	h, err := HashToken(aliceTok)
	if err != nil || bcrypt.CompareHashAndPassword([]byte(h), []byte(aliceTok)) != nil {
		t.Fatalf("%q %v", h, err)
	}
}

func TestOperatorSessions(t *testing.T) {
	set, _ := newSet(t)
	ss, err := NewSessions([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSessions([]byte("short")); err == nil {
		t.Error("short key accepted")
	}
	now := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
	alice, _ := set.Lookup("alice")
	s := ss.New(alice, now)
	v := ss.Encode(s)
	if got, ok := ss.Decode(v, now.Add(7*time.Hour)); !ok || got.ID != s.ID || !ss.Matches(got, alice) {
		t.Fatal("fresh session refused")
	}
	if _, ok := ss.Decode(v, now.Add(IdleTimeout+time.Second)); ok {
		t.Error("session idle over 8 h accepted")
	}
	// Renewed, it lives on, up to MaxAge.
	s.LastSeen = now.Add(7 * time.Hour).Unix()
	if _, ok := ss.Decode(ss.Encode(s), now.Add(14*time.Hour)); !ok {
		t.Error("renewed session refused")
	}
	s.LastSeen = now.Add(MaxAge - time.Hour).Unix()
	if _, ok := ss.Decode(ss.Encode(s), now.Add(MaxAge+time.Second)); ok {
		t.Error("session older than MaxAge accepted")
	}
	// Tampered: a payload edited (another name) or signed with another key.
	payload, sig, _ := strings.Cut(v, ".")
	forged := strings.Replace(payload, "a", "b", 1) + "." + sig
	if _, ok := ss.Decode(forged, now); ok {
		t.Error("tampered payload accepted")
	}
	other, _ := NewSessions([]byte(strings.Repeat("o", 32)))
	if _, ok := ss.Decode(other.Encode(s), now); ok {
		t.Error("session of another key accepted")
	}
	// Another credential of the same name (a new hash) no longer matches.
	dpo, _ := set.Lookup("dpo")
	dpo.Name = "alice"
	got, _ := ss.Decode(v, now)
	if ss.Matches(got, dpo) {
		t.Error("session matches a changed credential")
	}
	// Revoked.
	ss.Revoke(s.ID, now)
	if _, ok := ss.Decode(v, now.Add(time.Minute)); ok {
		t.Error("revoked session accepted")
	}
	// CSRF tokens are bound to their id.
	if !ss.CheckCSRF("x", ss.CSRF("x")) || ss.CheckCSRF("y", ss.CSRF("x")) || ss.CheckCSRF("", ss.CSRF("")) {
		t.Error("CSRF tokens")
	}
}

func TestOperatorReloader(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "operators.yaml")
	if err := os.WriteFile(path, []byte(file(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	set := New(adminTok)
	r, err := NewReloader(path, set, nil)
	if err != nil {
		t.Fatal(err)
	}
	var results []error
	r.OnReload = func(err error) { results = append(results, err) }
	if _, ok := set.Authenticate(aliceTok); !ok {
		t.Fatal("alice refused")
	}
	// A broken file keeps the last good operators.
	os.WriteFile(path, []byte("operators:\n  - name: alice\n    colour: red\n"), 0o600)
	if err := r.Reload(); err == nil || !strings.Contains(err.Error(), "operators.yaml:3:") {
		t.Fatalf("reload of a broken file: %v", err)
	}
	if _, ok := set.Authenticate(aliceTok); !ok {
		t.Fatal("alice refused after a broken reload")
	}
	// The watch sees a new file renamed over the old one.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watching := make(chan struct{})
	r.watching = func() { close(watching) }
	go r.Watch(ctx, 20*time.Millisecond)
	<-watching
	only := "operators:\n  - name: dpo\n    tokenHash: \"" + hash(t, dpoTok) + "\"\n    portals: [twisto]\n"
	tmp := filepath.Join(dir, ".operators.yaml.tmp")
	os.WriteFile(tmp, []byte(only), 0o600)
	os.Rename(tmp, path)
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, ok := set.Authenticate(dpoTok)
		if ok && !p.All && p.Allows("twisto") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watch did not reload the file")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, ok := set.Authenticate(aliceTok); ok {
		t.Error("alice still accepted after her removal")
	}
}
