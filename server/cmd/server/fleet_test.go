package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/operators"
	"github.com/portalconsent/portalconsent/server/receipts/postgres"
)

// withoutSecretEnv unsets the secrets' environment variables for the
// test, restoring them after.
func withoutSecretEnv(t *testing.T) {
	for _, k := range []string{"PORTALCONSENT_ADMIN_TOKEN", "PORTALCONSENT_SESSION_KEY"} {
		if v, ok := os.LookupEnv(k); ok {
			os.Unsetenv(k)
			t.Cleanup(func() { os.Setenv(k, v) })
		}
	}
}

func openPostgres(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// host is one consent host of a test fleet, in process.
type host struct {
	url string
	ops *operators.Set
	log *bytes.Buffer
}

const (
	fleetAlice  = "alice-fleet-token-0123456789abc"
	fleetBob    = "bob-fleet-token-0123456789abcdef"
	fleetBobNew = "bob-new-fleet-token-0123456789abc"
)

// fleetHashes are the hashes of the tokens in the operators file every
// host of the fleet has.
var fleetHashes = sync.OnceValue(func() map[string]string {
	out := map[string]string{}
	for _, tok := range []string{fleetAlice, fleetBob, fleetBobNew} {
		h, err := bcrypt.GenerateFromPassword([]byte(tok), bcrypt.MinCost)
		if err != nil {
			panic(err)
		}
		out[tok] = string(h)
	}
	return out
})

// fleetOperators are alice (mtran) and bob (every portal) with bobToken.
func fleetOperators(withAlice bool, bobToken string) []operators.Operator {
	ops := []operators.Operator{{Name: "bob", TokenHash: fleetHashes()[bobToken], Portals: []string{"*"}}}
	if withAlice {
		ops = append(ops, operators.Operator{Name: "alice", TokenHash: fleetHashes()[fleetAlice], Portals: []string{"mtran"}})
	}
	return ops
}

// startHost starts a host on the PostgreSQL database dsn with the state
// directory state, as the binary wires it: the database's secrets and
// shared revocations, alice an operator of mtran.
func startHost(t *testing.T, ctx context.Context, dsn, state string) *host {
	t.Helper()
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	st := openPostgres(t, dsn)
	set, key, err := fleetSecrets(ctx, st, filepath.Join(state, "admin-token"), log)
	if err != nil {
		t.Fatal(err)
	}
	set.SetOperators(fleetOperators(true, fleetBob))
	ps, err := policy.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(ps, fakeAssets(), server.WithReceipts(st), server.WithOperators(set), server.WithSessionKey(key),
		server.WithSharedRevocations(sharedRevocations{st}), server.WithSignInRate(0, 0), server.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { s.FollowRevocations(fctx); close(done) }()
	policiesDone := make(chan struct{})
	go func() { s.FollowPolicies(fctx); close(policiesDone) }()
	operatorsDone := make(chan struct{})
	go func() { s.FollowOperators(fctx); close(operatorsDone) }()
	hs := httptest.NewServer(s)
	t.Cleanup(func() { hs.Close(); cancel(); <-done; <-policiesDone; <-operatorsDone })
	return &host{url: hs.URL, ops: set, log: &logs}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout: 10 * time.Second}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// do sends a request to h with cookie (if any) and returns the status,
// the body and the session cookie set, if any.
func (h *host) do(t *testing.T, method, path string, form url.Values, cookie string, hdr http.Header) (int, string, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, h.url+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", h.url)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	session := ""
	for _, c := range res.Cookies() {
		if c.Name == "pc_session" && c.Value != "" {
			session = "pc_session=" + c.Value
		}
	}
	return res.StatusCode, string(b), session
}

// signIn signs token in on h and returns the session cookie.
func (h *host) signIn(t *testing.T, token string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", h.url+"/console/", nil)
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := csrfRe.FindStringSubmatch(string(b))
	if m == nil || len(res.Cookies()) == 0 {
		t.Fatalf("sign-in form: %d", res.StatusCode)
	}
	pre := res.Cookies()[0]
	code, _, session := h.do(t, "POST", "/console/sign-in", url.Values{"csrf": {m[1]}, "token": {token}}, pre.Name+"="+pre.Value, nil)
	if code != 303 || session == "" {
		t.Fatalf("sign-in: %d", code)
	}
	return session
}

// signOut signs the session out on h.
func (h *host) signOut(t *testing.T, session string) {
	t.Helper()
	code, body, _ := h.do(t, "GET", "/console/", nil, session, nil)
	m := csrfRe.FindStringSubmatch(body)
	if code != 200 || m == nil {
		t.Fatalf("console home: %d", code)
	}
	if code, _, _ := h.do(t, "POST", "/console/sign-out", url.Values{"csrf": {m[1]}}, session, nil); code != 303 {
		t.Fatalf("sign-out: %d", code)
	}
}

// sees reports whether session opens mtran's console page on h (200),
// else it is sent to sign in (303).
func (h *host) sees(t *testing.T, session string) bool {
	t.Helper()
	code, _, _ := h.do(t, "GET", "/console/portals/mtran", nil, session, nil)
	if code != 200 && code != 303 {
		t.Fatalf("console page: %d", code)
	}
	return code == 200
}

func (h *host) api(t *testing.T, token string) int {
	t.Helper()
	code, _, _ := h.do(t, "GET", "/api/v1/portals/mtran/receipts.csv?from=2026-03-01&to=2026-03-02", nil, "",
		http.Header{"Authorization": {"Bearer " + token}})
	return code
}

// refusedWithin fails the test unless session is refused by h within 1 s.
func refusedWithin(t *testing.T, h *host, session, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for h.sees(t, session) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still accepted by the other host after 1 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFleetOneSetOfSecrets: two hosts on one PostgreSQL database, with no
// secret configured: the first makes the admin token (its file only,
// 0600, the path logged, never the token) and the session key; both
// accept the admin token and each other's sessions; a sign-out on one, an
// operator given a new token or removed on one, are refused by the other
// within 1 s.
func TestFleetOneSetOfSecrets(t *testing.T) {
	withoutSecretEnv(t)
	dsn := testPostgresDSN(t)
	ctx := context.Background()
	stateA, stateB := t.TempDir(), t.TempDir()
	a := startHost(t, ctx, dsn, stateA)
	b := startHost(t, ctx, dsn, stateB)

	tokenFile := filepath.Join(stateA, "admin-token")
	fi, err := os.Stat(tokenFile)
	if err != nil {
		t.Fatalf("the first host wrote no admin-token file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("admin-token file mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(stateB, "admin-token")); err == nil {
		t.Error("the second host wrote an admin-token file too")
	}
	raw, _ := os.ReadFile(tokenFile)
	admin := strings.TrimSpace(string(raw))
	for name, h := range map[string]*host{"a": a, "b": b} {
		if strings.Contains(h.log.String(), admin) {
			t.Errorf("host %s logged the admin token", name)
		}
		if code := h.api(t, admin); code != 200 {
			t.Errorf("host %s: the admin token: %d, want 200", name, code)
		}
		if code := h.api(t, "not-the-admin-token-0123456789"); code != 401 {
			t.Errorf("host %s: a wrong token: %d, want 401", name, code)
		}
	}
	if !strings.Contains(a.log.String(), tokenFile) {
		t.Errorf("host a did not log the token file's path:\n%s", a.log)
	}

	// A session made on a is good on b; signed out on a, refused on b.
	s := a.signIn(t, admin)
	if !b.sees(t, s) {
		t.Fatal("host b refuses host a's session")
	}
	a.signOut(t, s)
	refusedWithin(t, b, s, "a session signed out on host a")

	// alice and bob sign in on b. bob given a new token in a's operators
	// file (reloaded on a, not yet on b): his session is refused on b too;
	// alice's is not.
	sa, sb := b.signIn(t, fleetAlice), b.signIn(t, fleetBob)
	if !a.sees(t, sa) || !b.sees(t, sa) || !a.sees(t, sb) || !b.sees(t, sb) {
		t.Fatal("a session is refused before any change")
	}
	a.ops.SetOperators(fleetOperators(true, fleetBobNew))
	refusedWithin(t, b, sb, "the session of an operator given a new token on host a")
	if !b.sees(t, sa) {
		t.Error("alice's session was refused when bob was given a new token")
	}
	// bob's new token works on a (b still has the old file).
	if nb := a.signIn(t, fleetBobNew); !a.sees(t, nb) {
		t.Error("bob's session with his new token is refused on host a")
	}
	// alice removed from a's operators: her session is refused on b too.
	a.ops.SetOperators(fleetOperators(false, fleetBobNew))
	refusedWithin(t, b, sa, "the session of an operator removed on host a")
	if a.sees(t, sa) {
		t.Error("host a accepts the session of the operator it removed")
	}
}

// TestFleetSecretsEnvironmentOverrides: PORTALCONSENT_ADMIN_TOKEN and
// PORTALCONSENT_SESSION_KEY still override the database's on their host.
func TestFleetSecretsEnvironmentOverrides(t *testing.T) {
	withoutSecretEnv(t)
	dsn := testPostgresDSN(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	st := openPostgres(t, dsn)
	dbSet, dbKey, err := fleetSecrets(ctx, st, filepath.Join(t.TempDir(), "admin-token"), log)
	if err != nil {
		t.Fatal(err)
	}
	const envToken = "environment-admin-token-0123456789"
	envKey := strings.Repeat("e", 32)
	t.Setenv("PORTALCONSENT_ADMIN_TOKEN", envToken)
	t.Setenv("PORTALCONSENT_SESSION_KEY", envKey)
	state := t.TempDir()
	set, key, err := fleetSecrets(ctx, st, filepath.Join(state, "admin-token"), log)
	if err != nil {
		t.Fatal(err)
	}
	if string(key) != envKey || bytes.Equal(key, dbKey) {
		t.Error("PORTALCONSENT_SESSION_KEY did not override the database's key")
	}
	if p, ok := set.Authenticate(envToken); !ok || p.Name != operators.AdminName {
		t.Error("PORTALCONSENT_ADMIN_TOKEN is not the admin token")
	}
	if _, err := os.Stat(filepath.Join(state, "admin-token")); err == nil {
		t.Error("a host with PORTALCONSENT_ADMIN_TOKEN wrote a token file")
	}
	if _, ok := dbSet.Authenticate(envToken); ok {
		t.Error("the environment's token leaked into the database")
	}
	t.Setenv("PORTALCONSENT_SESSION_KEY", "short")
	if _, _, err := fleetSecrets(ctx, st, filepath.Join(state, "admin-token"), log); err == nil {
		t.Error("a short PORTALCONSENT_SESSION_KEY accepted")
	}
}

// TestFleetSecretsRace: hosts starting together on a new database agree
// on one admin token, written by exactly one of them; a host that had a
// token file of its own before offers it when the database has none.
func TestFleetSecretsRace(t *testing.T) {
	withoutSecretEnv(t)
	dsn := testPostgresDSN(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	const n = 5
	dirs := make([]string, n)
	sets := make([]*operators.Set, n)
	keys := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		dirs[i] = t.TempDir()
		st := openPostgres(t, dsn)
		wg.Go(func() {
			var err error
			if sets[i], keys[i], err = fleetSecrets(ctx, st, filepath.Join(dirs[i], "admin-token"), log); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var files []string
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(d, "admin-token")); err == nil {
			files = append(files, strings.TrimSpace(string(b)))
		}
	}
	if len(files) != 1 {
		t.Fatalf("%d hosts wrote a token file, want 1", len(files))
	}
	for i := range n {
		if _, ok := sets[i].Authenticate(files[0]); !ok {
			t.Errorf("host %d refuses the token made", i)
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Errorf("host %d has another session key", i)
		}
	}

	// A new database, a host with its token file from before: adopted.
	dsn2 := testPostgresDSN(t)
	dir := t.TempDir()
	const old = "token-from-before-0123456789abcdef"
	if err := os.WriteFile(filepath.Join(dir, "admin-token"), []byte(old+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st2 := openPostgres(t, dsn2)
	if _, _, err := fleetSecrets(ctx, st2, filepath.Join(dir, "admin-token"), log); err != nil {
		t.Fatal(err)
	}
	other, _, err := fleetSecrets(ctx, st2, filepath.Join(t.TempDir(), "admin-token"), log)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := other.Authenticate(old); !ok {
		t.Error("the token of the first host's file was not adopted for the database")
	}
	d := sha256.Sum256([]byte(old))
	if v, _, _ := st2.Secret(ctx, secretAdminDigest, []byte("not made")); !bytes.Equal(v, d[:]) {
		t.Error("the database keeps another digest")
	}
}

// TestFleetBinaries: two hosts of the built binary on one PostgreSQL
// database, no secret configured: only the first writes an admin token
// (0600) and logs its path; both accept it, and a console session made
// on one is accepted by the other.
func TestFleetBinaries(t *testing.T) {
	dsn := testPostgresDSN(t)
	stateA, stateB := t.TempDir(), t.TempDir()
	a := startServerEnv(t, []string{"XDG_STATE_HOME=" + stateA}, dsn)
	b := startServerEnv(t, []string{"XDG_STATE_HOME=" + stateB}, dsn)
	file := filepath.Join(stateA, "portalconsent", "admin-token")
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the first host's token file: %v %v\n%s", fi, err, a.log())
	}
	if _, err := os.Stat(filepath.Join(stateB, "portalconsent", "admin-token")); err == nil {
		t.Error("the second host wrote a token file too")
	}
	raw, _ := os.ReadFile(file)
	token := strings.TrimSpace(string(raw))
	if !strings.Contains(a.log(), file) || strings.Contains(a.log()+b.log(), token) {
		t.Errorf("the first host must log the token file's path and neither the token:\n%s\n%s", a.log(), b.log())
	}
	ha, hb := &host{url: a.url}, &host{url: b.url}
	for _, h := range []*host{ha, hb} {
		if code := h.api(t, token); code != 200 {
			t.Errorf("%s: the admin token: %d", h.url, code)
		}
	}
	s := ha.signIn(t, token)
	if !hb.sees(t, s) {
		t.Error("the second host refuses the first host's session")
	}
	ha.signOut(t, s)
	refusedWithin(t, hb, s, "a session signed out on the first host")
}

// TestFleetResendStoredOnce posts one choice eight times at once, half to
// each of two hosts on one PostgreSQL database, as browsers resend a
// receipt whose answer they lost behind a load balancer: one answer is 201,
// the others 200, all with the same receipt, and one receipt is stored.
func TestFleetResendStoredOnce(t *testing.T) {
	dsn := testPostgresDSN(t)
	withoutSecretEnv(t)
	ctx := context.Background()
	state := t.TempDir()
	hosts := []*host{startHost(t, ctx, dsn, state), startHost(t, ctx, dsn, state)}
	ps, err := policy.Defaults() // as startHost serves them
	if err != nil {
		t.Fatal(err)
	}
	var mtran *policy.Policy
	for _, p := range ps {
		if p.ID == "mtran" {
			mtran = p
		}
	}
	for round := range 5 {
		c := policy.NewConsent(mtran, time.Now(), nil)
		body := `{"value":"` + c.Encode() + `","method":"reject-all","lang":"en","page":"https://mtran.my.opendatasoft.com/p"}`
		const sends = 8
		status := make([]int, sends)
		ids := make([]string, sends)
		var wg sync.WaitGroup
		for i := range sends {
			wg.Go(func() {
				res, err := http.Post(hosts[i%2].url+"/portals/mtran/consents", "text/plain;charset=UTF-8", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				defer res.Body.Close()
				var ack struct{ ReceiptID string }
				if err := json.NewDecoder(res.Body).Decode(&ack); err != nil {
					t.Errorf("send %d: %d, %v", i, res.StatusCode, err)
				}
				status[i], ids[i] = res.StatusCode, ack.ReceiptID
			})
		}
		wg.Wait()
		created := 0
		for i := range sends {
			switch {
			case status[i] == http.StatusCreated:
				created++
			case status[i] != http.StatusOK:
				t.Fatalf("round %d, send %d: status %d", round, i, status[i])
			}
			if ids[i] != ids[0] {
				t.Errorf("round %d: send %d answered receipt %s, send 0 %s", round, i, ids[i], ids[0])
			}
		}
		if created != 1 {
			t.Errorf("round %d: %d answers 201 of %d sends of one choice, want 1", round, created, sends)
		}
		rs, err := openPostgres(t, dsn).Consent(ctx, "mtran", c.ID)
		if err != nil || len(rs) != 1 || rs[0].ID != ids[0] {
			t.Fatalf("round %d: stored %+v (%v), want the one receipt %s", round, rs, err, ids[0])
		}
	}
}
