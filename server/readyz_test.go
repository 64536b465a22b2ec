package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// pingStore is a store whose Ping the test controls and counts.
type pingStore struct {
	receipts.None
	mu    sync.Mutex
	err   error
	block bool // Ping waits for its context to end
	pings int
	// blocked, when set, hears of each Ping that starts waiting.
	blocked chan struct{}
}

func (p *pingStore) Ping(ctx context.Context) error {
	p.mu.Lock()
	p.pings++
	err, block, blocked := p.err, p.block, p.blocked
	p.mu.Unlock()
	if block {
		select {
		case blocked <- struct{}{}:
		default: // nobody listens (nil), or already told
		}
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

func (p *pingStore) set(err error, block bool) {
	p.mu.Lock()
	p.err, p.block = err, block
	p.mu.Unlock()
}

func (p *pingStore) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pings
}

// TestReadyz: /readyz is 200 while the database answers and policies are
// loaded, 503 with the reason otherwise (a failing database, one that
// hangs, no policy), never cached, and asks the database at most once a
// second however often it is called; /healthz stays 200 throughout.
func TestReadyz(t *testing.T) {
	st := &pingStore{}
	s, err := New(defaultPolicies(t), fakeAssetsFS(), WithReceipts(st))
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		Status  string
		Portals int
		Reason  string
	}
	ready := func() (int, answer) {
		t.Helper()
		res, body := serve(t, s, "GET", "/readyz", nil)
		if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", res.Header)
		}
		var a answer
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		if strings.Contains(string(body), "secret-db-host") {
			t.Errorf("the answer leaks the database's error: %s", body)
		}
		return res.StatusCode, a
	}
	healthy := func() {
		t.Helper()
		if res, _ := serve(t, s, "GET", "/healthz", nil); res.StatusCode != 200 {
			t.Errorf("/healthz: %d, want 200 (the process is up)", res.StatusCode)
		}
	}
	if code, a := ready(); code != 200 || a.Status != "ready" || a.Portals != 2 {
		t.Fatalf("ready: %d %+v", code, a)
	}
	for range 50 {
		ready()
	}
	if n := st.count(); n != 1 {
		t.Errorf("51 checks within a second asked the database %d times, want 1", n)
	}

	st.set(fmt.Errorf("%w: dial secret-db-host: refused", receipts.ErrUnavailable), false)
	time.Sleep(1100 * time.Millisecond)
	if code, a := ready(); code != 503 || a.Status != "unready" || !strings.Contains(a.Reason, "database does not answer") {
		t.Errorf("database failing: %d %+v, want 503 naming the database", code, a)
	}
	healthy()

	st.mu.Lock()
	st.blocked = make(chan struct{}, 1)
	st.mu.Unlock()
	st.set(nil, true) // a database that hangs
	time.Sleep(1100 * time.Millisecond)
	start := time.Now()
	done := make(chan int)
	go func() {
		res, _ := serve(t, s, "GET", "/readyz", nil)
		done <- res.StatusCode
	}()
	select {
	case <-st.blocked:
	case <-time.After(10 * time.Second):
		t.Fatal("the check never asked the hanging database")
	}
	// While that check waits for the database, another takes the last
	// answer at once rather than wait in line. The bounds below are not
	// timings (benchmarks time things): far below the database's 2 s
	// deadline, or far above it where nothing would end a hang, so that a
	// loaded machine cannot make them fail.
	other := time.Now()
	if code, _ := ready(); code != 503 {
		t.Errorf("a check beside a hanging one: %d, want the last answer, 503", code)
	}
	if d := time.Since(other); d > 1500*time.Millisecond {
		t.Errorf("a check beside a hanging one waited %v", d)
	}
	if code := <-done; code != 503 {
		t.Errorf("database hanging: %d, want 503", code)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a hanging database held /readyz %v, want about 2 s", d)
	}

	st.set(nil, false)
	time.Sleep(1100 * time.Millisecond)
	if code, _ := ready(); code != 200 {
		t.Errorf("database back: %d, want 200", code)
	}
	if err := s.SetPolicies(nil); err != nil {
		t.Fatal(err)
	}
	if code, a := ready(); code != 503 || !strings.Contains(a.Reason, "no portal policy") {
		t.Errorf("no policy: %d %+v, want 503 saying so", code, a)
	}
	healthy()
	if res, _ := serve(t, s, "HEAD", "/readyz", nil); res.StatusCode != 503 {
		t.Errorf("HEAD /readyz: %d, want 503", res.StatusCode)
	}
}

// TestReadyzSQLite: a real store answers, and a closed one does not.
func TestReadyzSQLite(t *testing.T) {
	st := openTestStore(t)
	s := newReceiptServer(t, st, nil)
	if res, body := serve(t, s, "GET", "/readyz", nil); res.StatusCode != 200 {
		t.Fatalf("ready: %d %s", res.StatusCode, body)
	}
	st.Close()
	time.Sleep(1100 * time.Millisecond)
	if res, body := serve(t, s, "GET", "/readyz", nil); res.StatusCode != 503 {
		t.Errorf("closed store: %d %s, want 503", res.StatusCode, body)
	}
}
