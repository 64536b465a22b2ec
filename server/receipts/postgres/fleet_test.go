package postgres

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// TestSecretMadeOnce: processes racing on one database agree on one
// secret, made by exactly one of them.
func TestSecretMadeOnce(t *testing.T) {
	_, dsn := newDatabase(t)
	stores := []*Store{openStore(t, dsn), openStore(t, dsn), openStore(t, dsn)}
	ctx := context.Background()
	var wg sync.WaitGroup
	values := make([][]byte, 12)
	made := make([]bool, 12)
	errs := make([]error, 12)
	for i := range values {
		wg.Go(func() {
			values[i], made[i], errs[i] = stores[i%3].Secret(ctx, "session-key", fmt.Appendf(nil, "fresh-%d", i))
		})
	}
	wg.Wait()
	n := 0
	for i := range values {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(values[i], values[0]) {
			t.Errorf("caller %d got %q, caller 0 %q", i, values[i], values[0])
		}
		if made[i] {
			n++
			if string(values[i]) != fmt.Sprintf("fresh-%d", i) {
				t.Errorf("the maker got %q, not its own", values[i])
			}
		}
	}
	if n != 1 {
		t.Errorf("%d callers made the secret, want 1", n)
	}
	// Another name is another secret; a later call keeps the first.
	if v, made, err := stores[0].Secret(ctx, "admin-token-sha256", []byte("h")); err != nil || !made || string(v) != "h" {
		t.Errorf("another secret: %q %v %v", v, made, err)
	}
	if v, made, _ := stores[1].Secret(ctx, "session-key", []byte("later")); made || !bytes.Equal(v, values[0]) {
		t.Errorf("a later call: %q made=%v", v, made)
	}
}

// TestRevocationsShared: a revocation recorded by one process wakes
// another's WaitRevocation and is read by it; recording it again keeps
// the later times; expired ones are neither read nor kept.
func TestRevocationsShared(t *testing.T) {
	_, dsn := newDatabase(t)
	a, b := openStore(t, dsn), openStore(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// b listens: its first call only starts listening.
	if err := b.WaitRevocation(ctx); err != nil {
		t.Fatal(err)
	}
	woke := make(chan error, 1)
	go func() { woke <- b.WaitRevocation(ctx) }()
	time.Sleep(100 * time.Millisecond)
	now := time.Now().Truncate(time.Microsecond)
	r := Revocation{Kind: "session", ID: "s1", At: now, Until: now.Add(time.Hour)}
	start := time.Now()
	if err := a.Revoke(ctx, r); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-woke:
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("told after %v, want within 1 s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitRevocation was not woken by another process's Revoke")
	}
	got, mark, err := b.Revocations(ctx, time.Time{})
	if err != nil || len(got) != 1 || got[0].ID != "s1" || !got[0].Until.Equal(r.Until) || !got[0].At.Equal(r.At) {
		t.Fatalf("Revocations = %+v, %v", got, err)
	}
	// Recorded again with a later expiry: one row, the later times.
	r2 := r
	r2.Until = r.Until.Add(time.Hour)
	r2.At = r.At.Add(-time.Hour)
	if err := a.Revoke(ctx, r2); err != nil {
		t.Fatal(err)
	}
	got, _, err = b.Revocations(ctx, mark)
	if err != nil || len(got) != 1 || !got[0].Until.Equal(r2.Until) || !got[0].At.Equal(r.At) {
		t.Errorf("after a second Revoke: %+v, %v", got, err)
	}
	// An expired one is not read, and is pruned.
	if err := a.Revoke(ctx, Revocation{Kind: "session", ID: "old", At: now.Add(-2 * time.Hour), Until: now.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	got, _, _ = b.Revocations(ctx, time.Time{})
	if len(got) != 1 {
		t.Errorf("expired revocation read: %+v", got)
	}
	if err := a.PruneRevocations(ctx, now); err != nil {
		t.Fatal(err)
	}
	if n := count(t, a.pool, "SELECT count(*) FROM session_revocations"); n != 1 {
		t.Errorf("%d rows after pruning, want 1", n)
	}
	// Close while nobody waits closes the listening connection.
	b.Close()
	deadline := time.Now().Add(5 * time.Second) // the server sees the end a moment later
	for count(t, a.pool, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a listening connection is left 5 s after Close")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWritersHaveConnectionsOfTheirOwn: with every read connection taken
// (an export or console pages, here held by the test), receipts are still
// appended, on the writers' own connections.
func TestWritersHaveConnectionsOfTheirOwn(t *testing.T) {
	_, dsn := newDatabase(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	s := openStore(t, dsn+sep+"pool_max_conns=2")
	ctx := context.Background()
	var held []*pgxpool.Conn
	for range 2 {
		c, err := s.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for i := range 3 {
		r := mkReceipt("mtran", time.Now())
		if err := s.Append(actx, r, nil); err != nil {
			t.Fatalf("append %d with every read connection taken: %v", i, err)
		}
	}
}
