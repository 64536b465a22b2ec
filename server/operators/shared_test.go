package operators

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// memShared is an in-memory Shared: the test's stand-in for the database.
type memShared struct {
	mu     sync.Mutex
	rows   []Revocation
	failed bool // Publish fails
	told   chan struct{}
}

func newMemShared() *memShared { return &memShared{told: make(chan struct{}, 8)} }

func (m *memShared) Publish(ctx context.Context, r Revocation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failed {
		return errors.New("database down")
	}
	m.rows = append(m.rows, r)
	select {
	case m.told <- struct{}{}:
	default:
	}
	return nil
}

func (m *memShared) Since(ctx context.Context, mark time.Time) ([]Revocation, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0 // the mark is the count of rows read, as Unix seconds
	if !mark.IsZero() {
		n = int(mark.Unix())
	}
	return slices.Clone(m.rows[n:]), time.Unix(int64(len(m.rows)), 0), nil
}

func (m *memShared) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-m.told:
		return nil
	}
}

func (m *memShared) Prune(context.Context, time.Time) error { return nil }

func (m *memShared) fail(b bool) {
	m.mu.Lock()
	m.failed = b
	m.mu.Unlock()
}

// TestSharedRevocations: two hosts' Sessions with one key and one Shared:
// a sign-out on one is refused by the other, at once (told) and a
// credential revoked on one refuses its older sessions on both but not
// those signed in after; a revocation that cannot be published is
// published later.
func TestSharedRevocations(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	a, _ := NewSessions(key)
	b, _ := NewSessions(key)
	sh := newMemShared()
	a.Share(sh, nil)
	b.Share(sh, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := func() time.Time { return time.Now() }
	go b.Follow(ctx, time.Hour, clock) // told, not polled: the hour never passes
	set, _ := newSet(t)
	alice, _ := set.Lookup("alice")
	now := time.Now()
	s1 := a.New(alice, now.Add(-time.Minute))
	v1 := a.Encode(s1)
	if _, ok := b.Decode(v1, now); !ok {
		t.Fatal("host b refuses host a's session")
	}
	a.Revoke(s1.ID, now)
	waitUntil(t, "host b refuses the signed-out session", func() bool { _, ok := b.Decode(v1, time.Now()); return !ok })

	// A credential revoked: sessions issued before refused on both, a
	// session issued after accepted.
	s2 := b.New(alice, now.Add(-time.Minute))
	v2 := b.Encode(s2)
	a.RevokeCredential(alice, now)
	if _, ok := a.Decode(v2, now); ok {
		t.Error("host a accepts a session of the credential it revoked")
	}
	waitUntil(t, "host b refuses the revoked credential's session", func() bool { _, ok := b.Decode(v2, time.Now()); return !ok })
	s3 := b.New(alice, now.Add(2*time.Second))
	if _, ok := b.Decode(b.Encode(s3), now.Add(3*time.Second)); !ok {
		t.Error("a session signed in after the revocation is refused")
	}

	// The database down: the revocation holds here at once, and reaches
	// the other host once it is back (Follow retries).
	sh.fail(true)
	s4 := a.New(alice, now)
	v4 := a.Encode(s4)
	a.Revoke(s4.ID, now)
	if _, ok := a.Decode(v4, now); ok {
		t.Error("host a accepts a session it revoked while the database was down")
	}
	sh.fail(false)
	go a.Follow(ctx, 50*time.Millisecond, clock)
	waitUntil(t, "the pending revocation reaches host b", func() bool { _, ok := b.Decode(v4, time.Now()); return !ok })
}

// TestRevocationsExpire: a revocation is forgotten once what it revoked
// would have expired.
func TestRevocationsExpire(t *testing.T) {
	ss, _ := NewSessions([]byte(strings.Repeat("k", 32)))
	now := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
	ss.Revoke("old", now)
	ss.RevokeCredential(Principal{Name: "alice", Cred: sha256.Sum256([]byte("x"))}, now)
	ss.apply(nil, now.Add(MaxAge+time.Second))
	if len(ss.revoked) != 0 || len(ss.creds) != 0 {
		t.Errorf("expired revocations kept: %v %v", ss.revoked, ss.creds)
	}
}

// TestCredentialsGone: SetOperators reports the operators removed or given
// a new hash, not those unchanged or added.
func TestCredentialsGone(t *testing.T) {
	set, _ := newSet(t)
	var gone []string
	set.OnCredentialsGone(func(ps []Principal) {
		for _, p := range ps {
			gone = append(gone, p.Name)
		}
	})
	ops, _ := Parse("ops.yaml", []byte(file(t)))
	var next []Operator
	for _, o := range ops {
		switch o.Name {
		case "alice": // removed
		case "dpo":
			o.TokenHash = ops[0].TokenHash // a new hash
			next = append(next, o)
		default:
			next = append(next, o)
		}
	}
	next = append(next, Operator{Name: "carol", TokenHash: ops[0].TokenHash, Portals: []string{"*"}})
	set.SetOperators(next)
	slices.Sort(gone)
	if !slices.Equal(gone, []string{"alice", "dpo"}) {
		t.Errorf("gone %v, want alice and dpo", gone)
	}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 1 s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStoredOperators: the operators of the database (SetStored) are let
// in beside those of the file, which win a name both hold and are the only
// ones File names; a stored operator removed, or given a new hash, is
// reported gone; the file reloaded keeps the stored ones.
func TestStoredOperators(t *testing.T) {
	set, _ := newSet(t)
	var gone []string
	set.OnCredentialsGone(func(ps []Principal) {
		for _, p := range ps {
			gone = append(gone, p.Name)
		}
	})
	const carolTok = "carol-token-0123456789abcdef"
	carol := Operator{Name: "carol", TokenHash: hash(t, carolTok), Portals: []string{"twisto"}, File: "ignored"}
	shadow := Operator{Name: "alice", TokenHash: hash(t, carolTok), Portals: []string{"*"}}
	set.SetStored([]Operator{carol, shadow})
	if p, ok := set.Authenticate(carolTok); !ok || p.Name != "carol" || !p.Allows("twisto") || p.Allows("mtran") {
		t.Fatalf("carol: %+v %v", p, ok)
	}
	if p, ok := set.Authenticate(aliceTok); !ok || p.Name != "alice" || p.All {
		t.Errorf("the file's alice: %+v %v", p, ok)
	}
	if set.File("alice") != "ops.yaml" || set.File("carol") != "" {
		t.Errorf("File: alice %q, carol %q", set.File("alice"), set.File("carol"))
	}
	var names []string
	var fileOps []Operator
	for _, o := range set.List() {
		names = append(names, o.Name+":"+o.File)
		if o.File != "" {
			fileOps = append(fileOps, o)
		}
	}
	if !slices.Equal(names, []string{"alice:ops.yaml", "carol:", "dpo:ops.yaml"}) {
		t.Errorf("List = %v", names)
	}
	set.SetOperators(fileOps) // the file reloaded, unchanged
	if _, ok := set.Authenticate(carolTok); !ok {
		t.Error("carol lost by a reload of the file")
	}
	if len(gone) != 0 {
		t.Errorf("gone %v before any removal", gone)
	}
	carol.TokenHash = hash(t, aliceTok)
	set.SetStored([]Operator{carol})
	if _, ok := set.Authenticate(carolTok); ok || !slices.Equal(gone, []string{"carol"}) {
		t.Errorf("carol given a new hash: old token ok %v, gone %v", ok, gone)
	}
	set.SetStored(nil)
	if _, ok := set.Lookup("carol"); ok || !slices.Equal(gone, []string{"carol", "carol"}) {
		t.Errorf("carol removed: still known %v, gone %v", ok, gone)
	}
}
