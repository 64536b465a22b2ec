package postgres

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// mkReceipt returns an unsealed receipt of portal received at at.
func mkReceipt(portal string, at time.Time) *receipts.Receipt {
	return &receipts.Receipt{
		ID:         uuid.Must(uuid.NewV7()).String(),
		Portal:     portal,
		ConsentID:  randomID(),
		Revision:   1,
		Choices:    []policy.Choice{{Category: "necessary", Accepted: true}, {Category: "statistical", Accepted: false}},
		Method:     receipts.MethodCustom,
		Lang:       "en",
		Page:       "https://shop.example/",
		DecidedAt:  at.Truncate(time.Second),
		ReceivedAt: at,
		Notice:     receipts.NoticeHash([]byte("{}")),
	}
}

func mustAppend(t testing.TB, s *Store, r *receipts.Receipt) {
	t.Helper()
	if err := s.Append(context.Background(), r, nil); err != nil {
		t.Fatalf("Append %s at %v: %v", r.Portal, r.ReceivedAt, err)
	}
}

// partitionNames returns the receipts partitions, from pg_inherits.
func partitionNames(t testing.TB, s *Store) []string {
	t.Helper()
	names, err := partitions(context.Background(), s.pool)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestPartitions(t *testing.T) {
	_, dsn := newDatabase(t)
	s := openStore(t, dsn)
	other := openStore(t, dsn) // another process: its partition cache goes stale
	ctx := context.Background()
	now := monthOf(time.Now())
	if got, want := partitionNames(t, s), []string{now.table(), now.next().table()}; !slices.Equal(got, want) {
		t.Fatalf("partitions after Open: %v, want %v", got, want)
	}

	// An Append in a month without a partition creates it.
	at := func(m time.Month, d int) time.Time { return time.Date(2025, m, d, 12, 0, 0, 0, time.UTC) }
	mustAppend(t, s, mkReceipt("shop", at(1, 10)))    // #1
	mustAppend(t, s, mkReceipt("shop", at(2, 10)))    // #2
	mustAppend(t, s, mkReceipt("shop", at(4, 10)))    // #3, after the cutoff
	mustAppend(t, s, mkReceipt("shop", at(2, 20)))    // #4, the clock went back
	mustAppend(t, s, mkReceipt("shop", at(3, 20)))    // #5, after the cutoff
	mustAppend(t, other, mkReceipt("blog", at(1, 5))) // other knows 2025-01; #1 of its writer's chain
	mustAppend(t, s, mkReceipt("blog", at(3, 1)))     // #1 of s's writer's chain of blog
	for _, name := range []string{"receipts_2025_01", "receipts_2025_02", "receipts_2025_03", "receipts_2025_04"} {
		if count(t, s.pool, "SELECT count(*) FROM pg_class WHERE relname = $1 AND relispartition", name) != 1 {
			t.Errorf("no partition %s", name)
		}
	}
	// Partitions have the indexes and the trigger of the parent.
	if n := count(t, s.pool, "SELECT count(*) FROM pg_indexes WHERE tablename = 'receipts_2025_01'"); n != 3 {
		t.Errorf("receipts_2025_01 has %d indexes, want 3", n)
	}

	if err := s.EnsurePartitions(ctx, time.Date(2031, 12, 31, 23, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	names := partitionNames(t, s)
	if !slices.Contains(names, "receipts_2031_12") || !slices.Contains(names, "receipts_2032_01") {
		t.Errorf("EnsurePartitions(2031-12-31): partitions %v", names)
	}
	if err := other.EnsurePartitions(ctx, time.Date(2031, 12, 31, 23, 0, 0, 0, time.UTC)); err != nil {
		t.Fatalf("EnsurePartitions again, from another process: %v", err)
	}

	// Retention: January and February go whole; in March, shop loses its
	// prefix up to #4 (the last received before the cutoff), so #3 of April
	// too; blog keeps #2.
	cutoff := at(3, 1).Add(-time.Hour)
	n, err := s.DeleteBefore(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("DeleteBefore deleted %d, want 5 (shop #1-#4, blog #1)", n)
	}
	names = partitionNames(t, s)
	if slices.Contains(names, "receipts_2025_01") || slices.Contains(names, "receipts_2025_02") {
		t.Errorf("after retention, partitions %v: the months before the cutoff are still there", names)
	}
	if n := count(t, s.pool, "SELECT count(*) FROM pg_class WHERE relname IN ('receipts_2025_01', 'receipts_2025_02')"); n != 0 {
		t.Errorf("%d dropped partitions still in pg_class", n)
	}
	if !slices.Contains(names, "receipts_2025_03") || !slices.Contains(names, "receipts_2025_04") {
		t.Errorf("after retention, partitions %v: the edge month or a later one is gone", names)
	}
	var anchorSeq int64
	if err := s.pool.QueryRow(ctx, "SELECT seq FROM anchors WHERE portal = 'shop'").Scan(&anchorSeq); err != nil || anchorSeq != 4 {
		t.Errorf("anchor of shop: #%d, %v; want #4", anchorSeq, err)
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatalf("after retention: %v", err)
	}
	if err := other.Verify(ctx); err != nil {
		t.Fatalf("after retention, from the other process: %v", err)
	}

	// The other process still believes 2025-01 exists: its Append there
	// makes the partition again, after its writer's anchor of blog (#1).
	late := mkReceipt("blog", at(1, 6))
	if err := other.Append(ctx, late, nil); err != nil {
		t.Fatalf("Append in a month retention dropped, from a stale process: %v", err)
	}
	if late.Seq != 2 || late.Writer != other.Writer() || other.Writer() == s.Writer() {
		t.Errorf("sealed as #%d of writer %d (the other's is %d, s's %d), want #2 of the other's", late.Seq, late.Writer, other.Writer(), s.Writer())
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestAppendOnlyTrigger(t *testing.T) {
	_, dsn := newDatabase(t)
	s := openStore(t, dsn)
	ctx := context.Background()
	for range 3 {
		mustAppend(t, s, mkReceipt("shop", time.Now()))
	}
	// As the server's own role and connections.
	for _, sql := range []string{
		"UPDATE receipts SET method = 'accept-all' WHERE portal = 'shop' AND seq = 2",
		"DELETE FROM receipts WHERE portal = 'shop' AND seq = 3",
		"TRUNCATE receipts",
		"UPDATE " + monthOf(time.Now()).table() + " SET page = 'x'", // the partition itself
		"DELETE FROM " + monthOf(time.Now()).table(),
	} {
		_, err := s.pool.Exec(ctx, sql)
		if pgCode(err) != "42501" || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want refused as append-only", sql, err)
		}
	}
	if n := count(t, s.pool, "SELECT count(*) FROM receipts"); n != 3 {
		t.Fatalf("%d receipts left, want 3", n)
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	// Retention's transactions may.
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL portalconsent.retention = 'on'"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "DELETE FROM receipts WHERE portal = 'shop' AND seq = 3")
		return err
	})
	if err != nil {
		t.Fatalf("DELETE with retention on: %v", err)
	}
	if n := count(t, s.pool, "SELECT count(*) FROM receipts"); n != 2 {
		t.Fatalf("%d receipts left, want 2", n)
	}
}

func TestRacingOpens(t *testing.T) {
	name, dsn := newDatabase(t)
	const n = 8
	var (
		wg   sync.WaitGroup
		errs = make([]error, n)
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			s, err := Open(context.Background(), dsn)
			if err == nil {
				err = s.Append(context.Background(), mkReceipt("shop", time.Now()), nil)
				s.Close()
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: %v", i, err)
		}
	}
	s := openStore(t, dsn)
	migs, _ := receipts.Migrations(mustSub(t))
	if got := count(t, s.pool, "SELECT count(*) FROM schema_migrations"); got != int64(len(migs)) {
		t.Errorf("schema_migrations has %d rows, want %d", got, len(migs))
	}
	if got := count(t, s.pool, "SELECT count(*) FROM receipts"); got != n {
		t.Errorf("%d receipts, want %d", got, n)
	}
	if err := s.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}

	// A database a newer binary migrated is refused.
	if _, err := s.pool.Exec(context.Background(), "INSERT INTO schema_migrations (version) VALUES (999)"); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), dsn)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of database %s at version 999: %v, want refused as newer", name, err)
	}
}

// TestTwoProcessesTwoChains appends to one portal from two processes at
// once: each leases its own writer, so that the portal has two chains, each
// contiguous, and both verify.
func TestTwoProcessesTwoChains(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []Option
	}{{"GroupCommit", nil}, {"NoGroupCommit", []Option{GroupCommit(0)}}} {
		t.Run(c.name, func(t *testing.T) {
			_, dsn := newDatabase(t)
			procs := []*Store{openStore(t, dsn, c.opts...), openStore(t, dsn, c.opts...)}
			const goroutines, each = 32, 50
			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				seqs = map[int][]int64{} // by writer
				errs []error
			)
			for _, s := range procs {
				for range goroutines {
					wg.Go(func() {
						for range each {
							r := mkReceipt("shop", time.Now())
							err := s.Append(context.Background(), r, receipts.Cookies("_ga"))
							mu.Lock()
							if err != nil {
								errs = append(errs, err)
							} else {
								seqs[r.Writer] = append(seqs[r.Writer], r.Seq)
							}
							mu.Unlock()
						}
					})
				}
			}
			wg.Wait()
			if len(errs) > 0 {
				t.Fatalf("%d appends failed, first: %v", len(errs), errs[0])
			}
			if len(seqs) != 2 || seqs[procs[0].Writer()] == nil || seqs[procs[1].Writer()] == nil {
				t.Fatalf("receipts sealed by writers %v, want one chain per process (writers %d and %d)", slices.Collect(maps.Keys(seqs)), procs[0].Writer(), procs[1].Writer())
			}
			for w, ss := range seqs {
				slices.Sort(ss)
				for i, seq := range ss {
					if seq != int64(i+1) {
						t.Fatalf("writer %d: seq #%d is %d: not contiguous", w, i+1, seq)
					}
				}
			}
			total := int64(2 * goroutines * each)
			if n := count(t, procs[0].pool, "SELECT count(*) FROM receipts WHERE portal = 'shop'"); n != total {
				t.Errorf("%d receipts stored, want %d", n, total)
			}
			if n := count(t, procs[0].pool, "SELECT sum(count)::bigint FROM undeclared WHERE portal = 'shop' AND name = '_ga'"); n != total {
				t.Errorf("tally %d, want %d", n, total)
			}
			for i, s := range procs {
				if err := s.Verify(context.Background()); err != nil {
					t.Errorf("Verify from process %d: %v", i, err)
				}
			}
		})
	}
}

// TestResendAcrossProcesses sends each of 20 choices 8 times at once,
// half through each of two processes on one database, as browsers resend
// a receipt whose answer they lost through a load balancer: each choice is
// stored once, and every answer carries that receipt.
func TestResendAcrossProcesses(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []Option
	}{{"GroupCommit", nil}, {"NoGroupCommit", []Option{GroupCommit(0)}}} {
		t.Run(c.name, func(t *testing.T) {
			_, dsn := newDatabase(t)
			procs := []*Store{openStore(t, dsn, c.opts...), openStore(t, dsn, c.opts...)}
			const choices, sends = 20, 8
			for range choices {
				first := mkReceipt("shop", time.Now())
				got := make([]*receipts.Receipt, sends)
				errs := make([]error, sends)
				var wg sync.WaitGroup
				for i := range sends {
					r := *first
					r.ID = uuid.Must(uuid.NewV7()).String()
					got[i] = &r
					wg.Go(func() { errs[i] = procs[i%2].Append(context.Background(), got[i], nil) })
				}
				wg.Wait()
				stored := 0
				for i, err := range errs {
					switch {
					case err == nil:
						stored++
					case !errors.Is(err, receipts.ErrResent):
						t.Fatalf("send %d: %v", i, err)
					}
					if got[i].ID != got[0].ID || got[i].Seq != got[0].Seq {
						t.Errorf("send %d answered #%d %s, send 0 #%d %s", i, got[i].Seq, got[i].ID, got[0].Seq, got[0].ID)
					}
				}
				if stored != 1 {
					t.Fatalf("%d of %d sends of one choice stored, want 1", stored, sends)
				}
			}
			if n := count(t, procs[0].pool, "SELECT count(*) FROM receipts WHERE portal = 'shop'"); n != choices {
				t.Errorf("%d receipts stored, want %d", n, choices)
			}
			if err := procs[1].Verify(context.Background()); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

// TestMultiPortalBatches appends receipts of several portals at once from
// two processes, so that batches lock several heads: sorted order keeps
// them from deadlocking.
func TestMultiPortalBatches(t *testing.T) {
	_, dsn := newDatabase(t)
	procs := []*Store{openStore(t, dsn, GroupCommit(5*time.Millisecond)), openStore(t, dsn, GroupCommit(5*time.Millisecond))}
	portals := []string{"e", "d", "c", "b", "a"}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for p, s := range procs {
		for g := range 16 {
			wg.Go(func() {
				for i := range 40 {
					portal := portals[(g+i+p)%len(portals)]
					if err := s.Append(context.Background(), mkReceipt(portal, time.Now()), nil); err != nil {
						failed.Add(1)
						t.Errorf("Append: %v", err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	if n := count(t, procs[0].pool, "SELECT count(*) FROM receipts"); n != 2*16*40 || failed.Load() > 0 {
		t.Errorf("%d receipts, %d failures", n, failed.Load())
	}
	if err := procs[1].Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestGroupCommit(t *testing.T) {
	_, dsn := newDatabase(t)
	ctx := context.Background()
	s := openStore(t, dsn, GroupCommit(200*time.Millisecond))
	// A trigger that fails the insert of one receipt: its batch fails whole.
	if _, err := s.pool.Exec(ctx, `CREATE FUNCTION fail_page() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.page = 'https://fail.example/' THEN RAISE EXCEPTION 'refused page'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER fail_page BEFORE INSERT ON receipts FOR EACH ROW EXECUTE FUNCTION fail_page()`); err != nil {
		t.Fatal(err)
	}

	// 20 appends within the window: one transaction.
	const n = 20
	run := func(bad int) []error {
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				r := mkReceipt("shop", time.Now())
				if i == bad {
					r.Page = "https://fail.example/"
				}
				errs[i] = s.Append(ctx, r, receipts.Cookies("_ga"))
			})
		}
		wg.Wait()
		return errs
	}
	for i, err := range run(-1) {
		if err != nil {
			t.Fatalf("Append #%d: %v", i, err)
		}
	}
	var batches int64
	if err := s.pool.QueryRow(ctx, "SELECT count(DISTINCT xmin::text) FROM receipts").Scan(&batches); err != nil {
		t.Fatal(err)
	}
	if batches != 1 {
		t.Errorf("20 appends within the window were stored by %d transactions, want 1", batches)
	}

	// A failing batch: every caller gets ErrUnavailable, nothing is stored.
	for i, err := range run(7) {
		if !errors.Is(err, receipts.ErrUnavailable) {
			t.Errorf("Append #%d of the failing batch: %v, want ErrUnavailable", i, err)
		}
	}
	if got := count(t, s.pool, "SELECT count(*) FROM receipts"); got != n {
		t.Errorf("%d receipts after the failing batch, want %d", got, n)
	}
	if got := count(t, s.pool, "SELECT coalesce(sum(count), 0)::bigint FROM undeclared"); got != n {
		t.Errorf("tally %d after the failing batch, want %d", got, n)
	}
	r := mkReceipt("shop", time.Now())
	mustAppend(t, s, r)
	if r.Seq != n+1 {
		t.Errorf("after the failing batch sealed as #%d, want #%d", r.Seq, n+1)
	}

	// A context that ends while its receipt waits in the queue for the
	// window: Append returns at once, the receipt is never stored, the
	// others of the batch are.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { mustAppend(t, s, mkReceipt("shop", time.Now())) })
	time.Sleep(5 * time.Millisecond)
	quitter := mkReceipt("shop", time.Now())
	begun := time.Now()
	if err := s.Append(cctx, quitter, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Append whose context ends in the queue: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(begun); d > 150*time.Millisecond {
		t.Errorf("Append whose context ended returned after %v: it waited for the batch", d)
	}
	wg.Wait()
	if _, err := s.Consent(ctx, "shop", quitter.ConsentID); !errors.Is(err, receipts.ErrNotFound) {
		t.Errorf("the abandoned receipt: %v, want never stored", err)
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestDatabaseGoesAway terminates the store's connections while appends
// run, as a database restart or failover would.
func TestDatabaseGoesAway(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []Option
	}{{"GroupCommit", nil}, {"NoGroupCommit", []Option{GroupCommit(0)}}} {
		t.Run(c.name, func(t *testing.T) {
			name, dsn := newDatabase(t)
			ctx := context.Background()
			s := openStore(t, dsn, c.opts...)
			a := admin(t)
			for range 10 {
				mustAppend(t, s, mkReceipt("shop", time.Now()))
			}
			terminate := func() int64 {
				var n int64
				if err := a.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
					WHERE datname = $1 AND usename = current_user AND pid <> pg_backend_pid()`, name).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}

			// Right after the backends are gone: the pool's idle
			// connections are dead.
			if n := terminate(); n == 0 {
				t.Fatal("no backend to terminate")
			}
			r := mkReceipt("shop", time.Now())
			err := s.Append(ctx, r, nil)
			switch {
			case err == nil:
				t.Logf("the Append right after the backends were terminated succeeded (as #%d): the store retried on a new connection", r.Seq)
			case errors.Is(err, receipts.ErrUnavailable):
				t.Logf("the Append right after the backends were terminated failed: %v", err)
			default:
				t.Fatalf("the Append right after the backends were terminated: %v, want nil or ErrUnavailable", err)
			}

			// Terminations while 16 goroutines append.
			var (
				wg             sync.WaitGroup
				ok, fail       atomic.Int64
				stop           = make(chan struct{})
				unexpectedErrs atomic.Value
				firstFail      atomic.Value
			)
			for range 16 {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						err := s.Append(ctx, mkReceipt("shop", time.Now()), receipts.Cookies("_ga"))
						switch {
						case err == nil:
							ok.Add(1)
						case errors.Is(err, receipts.ErrUnavailable):
							if fail.Add(1) == 1 {
								firstFail.Store(err)
							}
						default:
							unexpectedErrs.Store(err)
						}
					}
				})
			}
			for range 5 {
				time.Sleep(100 * time.Millisecond)
				terminate()
			}
			time.Sleep(100 * time.Millisecond)
			close(stop)
			wg.Wait()
			if err, _ := unexpectedErrs.Load().(error); err != nil {
				t.Fatalf("an Append failed with %v, want only ErrUnavailable", err)
			}
			t.Logf("during 5 terminations: %d appends succeeded, %d failed with ErrUnavailable (first: %v)", ok.Load(), fail.Load(), firstFail.Load())

			// Later appends succeed, the chain verifies.
			for range 10 {
				mustAppend(t, s, mkReceipt("shop", time.Now()))
			}
			if err := s.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			if err := s.Verify(ctx); err != nil {
				t.Fatal(err)
			}
			stored := count(t, s.pool, "SELECT count(*) FROM receipts")
			succeeded := 10 + 10 + ok.Load()
			if err == nil {
				succeeded++
			}
			// A COMMIT cut off may have committed: at most that many more.
			if stored < succeeded || stored > succeeded+fail.Load() {
				t.Errorf("%d receipts stored, %d appends succeeded, %d failed", stored, succeeded, fail.Load())
			} else if stored > succeeded {
				t.Logf("%d receipt(s) committed although their Append failed (COMMIT cut off)", stored-succeeded)
			}

			// The database gone for good: ErrUnavailable.
			if err := dropDatabase(a, name); err != nil {
				t.Fatal(err)
			}
			if err := s.Ping(ctx); !errors.Is(err, receipts.ErrUnavailable) {
				t.Errorf("Ping of a dropped database: %v, want ErrUnavailable", err)
			}
			if err := s.Append(ctx, mkReceipt("shop", time.Now()), nil); !errors.Is(err, receipts.ErrUnavailable) {
				t.Errorf("Append to a dropped database: %v, want ErrUnavailable", err)
			}
			if err := s.Verify(ctx); !errors.Is(err, receipts.ErrUnavailable) {
				t.Errorf("Verify of a dropped database: %v, want ErrUnavailable", err)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	_, dsn := newDatabase(t)
	s := openStore(t, dsn)
	ctx := context.Background()
	bad := []func(r *receipts.Receipt){
		func(r *receipts.Receipt) { r.Portal = "" },
		func(r *receipts.Receipt) { r.ID = "not a uuid" },
		func(r *receipts.Receipt) { r.ReceivedAt = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) },
		func(r *receipts.Receipt) { r.Page = "https://shop.example/\x00" },
		func(r *receipts.Receipt) { r.ConsentID = "\xff" },
	}
	for i, f := range bad {
		r := mkReceipt("shop", time.Now())
		f(r)
		err := s.Append(ctx, r, nil)
		if err == nil || errors.Is(err, receipts.ErrUnavailable) {
			t.Errorf("bad receipt %d: %v, want a plain error", i, err)
		}
	}
	if err := s.Append(ctx, nil, nil); err == nil {
		t.Error("Append(nil) succeeded")
	}
	err := s.ServeNotice(ctx, receipts.Notice{Portal: "shop", SHA256: "00", Body: []byte("x")}, time.Now())
	if err == nil || errors.Is(err, receipts.ErrUnavailable) {
		t.Errorf("ServeNotice with a wrong SHA256: %v, want a plain error", err)
	}
	if _, err := Open(ctx, "postgres://%zz"); err == nil {
		t.Error("Open of a malformed DSN succeeded")
	}
	if _, err := Open(ctx, withDatabase(t, serverDSN(t), "pc_test_does_not_exist")); !errors.Is(err, receipts.ErrUnavailable) {
		t.Errorf("Open of a missing database: %v, want ErrUnavailable", err)
	}
	mustAppend(t, s, mkReceipt("shop", time.Now()))
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRetentionWhileAppending drops a month of receipts while two
// processes append to the same chains.
func TestRetentionWhileAppending(t *testing.T) {
	_, dsn := newDatabase(t)
	procs := []*Store{openStore(t, dsn), openStore(t, dsn, GroupCommit(0))}
	ctx := context.Background()
	old := time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC)
	for i := range 20 {
		for _, portal := range []string{"shop", "blog"} {
			mustAppend(t, procs[i%2], mkReceipt(portal, old.Add(time.Duration(i)*time.Hour)))
		}
	}
	var (
		wg     sync.WaitGroup
		stop   = make(chan struct{})
		okN    atomic.Int64
		failed atomic.Value
	)
	for g := range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				portal := []string{"shop", "blog"}[g%2]
				if err := procs[g%2].Append(ctx, mkReceipt(portal, time.Now()), receipts.Cookies("_ga")); err != nil {
					failed.Store(err)
					return
				}
				okN.Add(1)
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	n, err := procs[0].DeleteBefore(ctx, time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC))
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("DeleteBefore while appending: %v", err)
	}
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("Append during retention: %v", err)
	}
	if n != 40 {
		t.Errorf("DeleteBefore deleted %d, want 40", n)
	}
	if slices.Contains(partitionNames(t, procs[0]), "receipts_2025_01") {
		t.Error("receipts_2025_01 not dropped")
	}
	t.Logf("%d appends during retention", okN.Load())
	for _, s := range procs {
		if err := s.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := count(t, procs[0].pool, "SELECT count(*) FROM receipts"); got != okN.Load() {
		t.Errorf("%d receipts left, want the %d appended during retention", got, okN.Load())
	}
}
