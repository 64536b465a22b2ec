package postgres

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/servertest"
)

// TestHostsDoNotWaitOnEachOther holds, in an open transaction, every row
// host a's appends to portal shop lock (its writer's chain head, its
// aggregates of the day and its tally of the undeclared cookie _ga), as
// a's batch does while it commits; host b's appends to the same portal,
// each reporting _ga too, must still be committed at once: no lock on the
// write path is shared between hosts. Then both chains verify, each host's
// receipt is found by the other, and _ga's tally sums both hosts'.
func TestHostsDoNotWaitOnEachOther(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []Option
	}{{"GroupCommit", nil}, {"NoGroupCommit", []Option{GroupCommit(0)}}} {
		t.Run(c.name, func(t *testing.T) {
			_, dsn := newDatabase(t)
			a, b := openStore(t, dsn, c.opts...), openStore(t, dsn, c.opts...)
			if a.Writer() == b.Writer() {
				t.Fatalf("two stores open at once lease writer %d both", a.Writer())
			}
			ctx := context.Background()
			now := time.Now()
			first := mkReceipt("shop", now)
			ga := receipts.Cookies("_ga")
			if err := a.Append(ctx, first, ga); err != nil {
				t.Fatal(err)
			}
			if err := b.Append(ctx, mkReceipt("shop", now), ga); err != nil {
				t.Fatal(err)
			}

			// a's transaction in flight: its locks held.
			tx, err := a.pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(context.Background())
			for _, sql := range []string{
				"SELECT 1 FROM chains WHERE portal = 'shop' AND writer = $1 FOR UPDATE",
				"SELECT 1 FROM stats_decisions WHERE portal = 'shop' AND writer = $1 FOR UPDATE",
				"SELECT 1 FROM stats_accepted WHERE portal = 'shop' AND writer = $1 FOR UPDATE",
				"SELECT 1 FROM undeclared WHERE portal = 'shop' AND name = '_ga' AND writer = $1 FOR UPDATE",
			} {
				if _, err := tx.Exec(ctx, sql, a.Writer()); err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
			}
			for range 20 {
				r := mkReceipt("shop", time.Now())
				actx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := b.Append(actx, r, ga)
				cancel()
				if err != nil {
					t.Fatalf("b's Append while a's transaction holds its locks: %v (it waited on a)", err)
				}
				if r.Writer != b.Writer() {
					t.Fatalf("b sealed a receipt as writer %d, b's is %d", r.Writer, b.Writer())
				}
			}
			if err := tx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			for _, s := range []*Store{a, b} {
				if err := s.Verify(ctx); err != nil {
					t.Errorf("Verify of writer %d: %v", s.Writer(), err)
				}
			}
			if us, err := a.Undeclared(ctx, "shop", now.Add(-24*time.Hour), now.Add(24*time.Hour)); err != nil || len(us) != 1 || us[0].Name != "_ga" || us[0].Count != 22 {
				t.Errorf("Undeclared after both hosts = %+v, %v; want _ga counted 22 times", us, err)
			}
			got, err := b.Consent(ctx, "shop", first.ConsentID)
			if err != nil || len(got) != 1 || got[0].ID != first.ID || got[0].Writer != a.Writer() {
				t.Errorf("b.Consent of a's receipt = %+v, %v", got, err)
			}
			// The export: every chain whole, by writer then seq.
			var order [][2]int64
			if err := a.Export(ctx, "shop", now.Add(-time.Hour), time.Now().Add(time.Hour), func(r *receipts.Receipt) error {
				order = append(order, [2]int64{int64(r.Writer), r.Seq})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			sorted := slices.IsSortedFunc(order, func(x, y [2]int64) int {
				return cmp.Or(cmp.Compare(x[0], y[0]), cmp.Compare(x[1], y[1]))
			})
			if len(order) != 22 || !sorted || order[0] != [2]int64{int64(a.Writer()), 1} {
				t.Errorf("export of both hosts' receipts, (writer, seq): %v; want 22 by writer then seq", order)
			}
			heads, err := b.Heads(ctx)
			if err != nil || len(heads) != 2 || heads[0].Seq != 1 || heads[1].Seq != 21 {
				t.Errorf("Heads = %+v, %v; want shop's chains of both writers, #1 and #21", heads, err)
			}
		})
	}
}

// TestWithdrawalAcrossHosts: a choice stored by one host, refused by the
// same consent id through another, is a withdrawal, found in last_choices
// (kept in the transaction of each receipt); a resend through the first
// host of the second choice is stored once.
func TestWithdrawalAcrossHosts(t *testing.T) {
	_, dsn := newDatabase(t)
	a, b := openStore(t, dsn), openStore(t, dsn)
	ctx := context.Background()
	now := time.Now().UTC()
	accept := mkReceipt("shop", now)
	accept.Choices = []policy.Choice{{Category: "necessary", Accepted: true}, {Category: "statistical", Accepted: true}}
	mustAppend(t, a, accept)
	refuse := mkReceipt("shop", now.Add(time.Second))
	refuse.ConsentID, refuse.DecidedAt = accept.ConsentID, accept.DecidedAt.Add(time.Minute)
	mustAppend(t, b, refuse)
	var choices string
	if err := a.pool.QueryRow(ctx, "SELECT choices FROM last_choices WHERE portal = 'shop' AND consent_id = $1", accept.ConsentID).Scan(&choices); err != nil || choices != "necessary=1/statistical=0" {
		t.Errorf("last choice %q, %v; want the refusal", choices, err)
	}
	st, err := a.Stats(ctx, "shop", receipts.Day(now), receipts.Day(now).AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Days) != 1 || st.Days[0].Withdrawals != 1 {
		t.Errorf("Stats = %+v; want one withdrawal", st)
	}
	again := *refuse
	again.ID, again.Seq, again.Writer, again.Prev, again.Hash = "", 0, 0, "", ""
	again.ReceivedAt = time.Time{}
	if err := a.Append(ctx, &again, nil); !errors.Is(err, receipts.ErrResent) || again.ID != refuse.ID {
		t.Errorf("resend through the other host: %v, id %s; want ErrResent with %s", err, again.ID, refuse.ID)
	}
}

// TestExistingChainMigrates makes a database of the schema before writers
// (migrations up to 0006) holding a chain of portal shop and a checkpoint,
// then opens it: the chain is writer 0's and verifies, the first store
// leases writer 0 and continues it, the last choices are those of the
// receipts stored, so that a later refusal is a withdrawal.
func TestExistingChainMigrates(t *testing.T) {
	_, dsn := newDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	migs, err := receipts.Migrations(mustSub(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migs {
		if m.Version >= 7 {
			break
		}
		if _, err := conn.Exec(ctx, m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (version integer PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now());
		INSERT INTO schema_migrations (version) SELECT generate_series(1, 6)`); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
	m := monthOf(at)
	if _, err := conn.Exec(ctx, "CREATE TABLE "+m.table()+" PARTITION OF receipts FOR VALUES FROM ('"+
		m.start().Format(time.RFC3339)+"') TO ('"+m.end().Format(time.RFC3339)+"')"); err != nil {
		t.Fatal(err)
	}
	var old []*receipts.Receipt
	prev := receipts.Genesis
	for i := range 3 {
		r := mkReceipt("shop", at.Add(time.Duration(i)*time.Second))
		if i > 0 {
			r.ConsentID = old[0].ConsentID
		}
		r.Choices = []policy.Choice{{Category: "necessary", Accepted: true}, {Category: "statistical", Accepted: true}}
		r.DecidedAt = r.DecidedAt.Add(time.Duration(i) * time.Second)
		r.Seal(int64(i+1), prev)
		prev = r.Hash
		p, _ := hex.DecodeString(r.Prev)
		h, _ := hex.DecodeString(r.Hash)
		if _, err := conn.Exec(ctx, `INSERT INTO receipts (id, portal, seq, consent_id, revision, choices, method,
			lang, page, decided_at, received_at, notice, prev, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			r.ID, r.Portal, r.Seq, r.ConsentID, r.Revision, receipts.EncodeChoices(r.Choices), r.Method, r.Lang, r.Page,
			r.DecidedAt, r.ReceivedAt, r.Notice, p, h); err != nil {
			t.Fatal(err)
		}
		old = append(old, r)
	}
	h, _ := hex.DecodeString(prev)
	if _, err := conn.Exec(ctx, "INSERT INTO chains (portal, seq, hash) VALUES ('shop', 3, $1)", h); err != nil {
		t.Fatal(err)
	}
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	cp, err := receipts.SignCheckpoint(key, "shop", 3, prev, at)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO checkpoints (portal, seq, hash, signed_at, public_key, signature)
		VALUES ('shop', 3, $1, $2, $3, $4)`, h, cp.SignedAt, []byte(cp.PublicKey), cp.Signature); err != nil {
		t.Fatal(err)
	}

	s := openStore(t, dsn)
	if s.Writer() != 0 {
		t.Fatalf("the first store leased writer %d, want 0 (the existing chains')", s.Writer())
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatalf("the migrated chain: %v", err)
	}
	cs, err := s.LatestCheckpoints(ctx)
	if err != nil || len(cs) != 1 || cs[0].Writer != 0 {
		t.Fatalf("LatestCheckpoints = %+v, %v", cs, err)
	}
	if err := receipts.CheckCheckpoint(cs[0], key.Public().(ed25519.PublicKey), func(seq int64) (string, error) {
		return s.ChainHash(ctx, "shop", 0, seq)
	}); err != nil {
		t.Errorf("the checkpoint signed before writers: %v", err)
	}
	refuse := mkReceipt("shop", time.Now())
	refuse.ConsentID = old[0].ConsentID
	mustAppend(t, s, refuse)
	if refuse.Writer != 0 || refuse.Seq != 4 || refuse.Prev != prev {
		t.Errorf("appended as writer %d #%d after %s, want writer 0 #4 after the migrated head", refuse.Writer, refuse.Seq, refuse.Prev)
	}
	st, err := s.Stats(ctx, "shop", receipts.Day(time.Now()), receipts.Day(time.Now()).AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Days) != 1 || st.Days[0].Withdrawals != 1 {
		t.Errorf("Stats = %+v; want the refusal counted as a withdrawal of the migrated choice", st)
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// leasePIDOf returns the backend pid of s's lease session.
func leasePIDOf(s *Store) uint32 {
	s.slot.RLock()
	defer s.slot.RUnlock()
	return s.leasePID
}

// terminate ends the backend pid (waiting up to 5 s for it to exit), as a
// database restart or an idle-session kill would end a store's session.
func terminate(t *testing.T, pid uint32) {
	t.Helper()
	var ok bool
	if err := admin(t).QueryRow(context.Background(), "SELECT pg_terminate_backend($1, 5000)", int32(pid)).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
	}
}

// TestLeaseLostUnderLoad kills the session holding a store's writer slot
// while 8 goroutines append through it: the store's watchdog (checking
// every 100 ms) leases the slot again within 5 s (the same slot, still
// free), logs it without the DSN's password and counts it; no append
// fails, every acknowledged receipt is stored exactly once, and the chains
// verify.
func TestLeaseLostUnderLoad(t *testing.T) {
	_, dsn := newDatabase(t)
	var log servertest.LockedBuffer
	s := openStore(t, dsn, LeaseCheck(100*time.Millisecond), Log(slog.New(slog.NewTextHandler(&log, nil))))
	ctx := context.Background()
	w0, pid := s.Writer(), leasePIDOf(s)

	var (
		mu     sync.Mutex
		acked  []string
		failed []error
		stop   = make(chan struct{})
		wg     sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := mkReceipt("shop", time.Now())
				err := s.Append(ctx, r, receipts.Cookies("_ga"))
				mu.Lock()
				if err != nil {
					failed = append(failed, err)
				} else {
					acked = append(acked, r.ID)
				}
				mu.Unlock()
			}
		})
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("not within 5 s: %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	mu.Lock()
	before := len(acked)
	mu.Unlock()
	terminate(t, pid)
	waitFor("the lease taken again", func() bool { return s.Leases() == 1 })
	waitFor("appends after the new lease", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) > before+100
	})
	close(stop)
	wg.Wait()

	if len(failed) > 0 {
		t.Errorf("%d appends failed, the first: %v", len(failed), failed[0])
	}
	if s.Writer() != w0 || leasePIDOf(s) == pid {
		t.Errorf("after the lease was lost: writer %d (was %d, free again), lease backend %d (was %d)", s.Writer(), w0, leasePIDOf(s), pid)
	}
	if n := count(t, s.pool, "SELECT count(*) FROM receipts"); n != int64(len(acked)) {
		t.Errorf("%d receipts stored, %d acknowledged", n, len(acked))
	}
	if n := count(t, s.pool, "SELECT count(DISTINCT id) FROM receipts WHERE id = ANY($1::uuid[])", acked); n != int64(len(acked)) {
		t.Errorf("%d acknowledged receipts found, want %d", n, len(acked))
	}
	if err := s.Verify(ctx); err != nil {
		t.Errorf("Verify: %v", err)
	}
	logs := log.String()
	if !strings.Contains(logs, "writer lease lost and leased again") || strings.Contains(logs, "portalconsent:portalconsent") {
		t.Errorf("log:\n%s", logs)
	}
}

// TestLeaseTakenMeanwhile: store a's lease session is killed, and store c,
// opened meanwhile, takes a's slot (the lowest free); a's check finds its
// lease lost and takes another free slot (b holds the next): a's next
// receipts are sealed as that writer, c continues a's old chain, and every
// chain verifies.
func TestLeaseTakenMeanwhile(t *testing.T) {
	_, dsn := newDatabase(t)
	ctx := context.Background()
	a := openStore(t, dsn, LeaseCheck(time.Hour)) // checked by the test
	b := openStore(t, dsn)
	if a.Writer() != 0 || b.Writer() != 1 {
		t.Fatalf("writers %d and %d, want 0 and 1", a.Writer(), b.Writer())
	}
	mustAppend(t, a, mkReceipt("shop", time.Now()))
	if a.checkLease(ctx) {
		t.Fatal("checkLease switched with its lease alive")
	}
	terminate(t, leasePIDOf(a))
	c := openStore(t, dsn)
	if c.Writer() != 0 {
		t.Fatalf("c leased writer %d, want 0 (freed by a's lost session)", c.Writer())
	}
	if !a.checkLease(ctx) {
		t.Fatal("checkLease did not find the lease lost")
	}
	if a.Writer() != 2 || a.Leases() != 1 {
		t.Fatalf("a is writer %d after %d leases, want 2 (the lowest free) after 1", a.Writer(), a.Leases())
	}
	r := mkReceipt("shop", time.Now())
	mustAppend(t, a, r)
	rc := mkReceipt("shop", time.Now())
	mustAppend(t, c, rc)
	if r.Writer != 2 || r.Seq != 1 || rc.Writer != 0 || rc.Seq != 2 {
		t.Errorf("a's receipt: writer %d #%d, want 2 #1; c's: writer %d #%d, want 0 #2 (a's old chain continued)", r.Writer, r.Seq, rc.Writer, rc.Seq)
	}
	for _, s := range []*Store{a, b, c} {
		if err := s.Verify(ctx); err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
}
