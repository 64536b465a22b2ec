package postgres

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// oldAndNew appends n receipts of January 2025 and n of now to portal
// "shop" of s.
func oldAndNew(t *testing.T, s *Store, n int) {
	t.Helper()
	old := time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC)
	for i := range n {
		mustAppend(t, s, mkReceipt("shop", old.Add(time.Duration(i)*time.Hour)))
	}
	for range n {
		mustAppend(t, s, mkReceipt("shop", time.Now()))
	}
}

// cutoff2025 is a retention cutoff that takes January 2025 whole.
var cutoff2025 = time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)

// waitDetaching waits until a backend of database db runs a DETACH
// PARTITION that waits for a lock, and returns its pid.
func waitDetaching(t *testing.T, a *pgx.Conn, db string) int {
	t.Helper()
	return waitLocked(t, a, db, "ALTER TABLE receipts DETACH PARTITION%", "retention's DETACH")
}

// waitLocked waits until a backend of database db runs a statement LIKE
// query that waits for a lock, and returns its pid.
func waitLocked(t *testing.T, a *pgx.Conn, db, query, what string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var pid int
		err := a.QueryRow(context.Background(), `SELECT pid FROM pg_stat_activity
			WHERE datname = $1 AND query LIKE $2 AND wait_event_type = 'Lock' LIMIT 1`, db, query).Scan(&pid)
		if err == nil {
			return pid
		}
		if err != pgx.ErrNoRows {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not waiting for a lock after 10 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRetentionOneHostAtATime: while another host holds the retention
// lock, DeleteBefore deletes nothing and returns at once; once it is
// released, it deletes.
func TestRetentionOneHostAtATime(t *testing.T) {
	_, dsn := newDatabase(t)
	s := openStore(t, dsn)
	oldAndNew(t, s, 5)
	other, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	if _, err := other.Exec(context.Background(), "SELECT pg_advisory_lock($1)", lockRetention); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteBefore(context.Background(), cutoff2025); err != nil || n != 0 {
		t.Fatalf("DeleteBefore while another host runs it: %d, %v; want 0, nil", n, err)
	}
	if n := count(t, s.pool, "SELECT count(*) FROM receipts"); n != 10 {
		t.Fatalf("%d receipts left, want all 10", n)
	}
	if _, err := other.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lockRetention); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteBefore(context.Background(), cutoff2025); err != nil || n != 5 {
		t.Fatalf("DeleteBefore: %d, %v; want 5", n, err)
	}
	if err := s.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestRetentionDoesNotHoldAppends: a long reader (an export) keeps
// retention's DETACH of an old month waiting; meanwhile appends of both
// processes go on, Verify waits for retention instead of seeing a chain
// half pruned, and once the reader ends the month is gone, counted, and
// the chains verify. (Retention that locked the chains, as it did, held
// every append behind the reader.)
func TestRetentionDoesNotHoldAppends(t *testing.T) {
	db, dsn := newDatabase(t)
	procs := []*Store{openStore(t, dsn), openStore(t, dsn)}
	oldAndNew(t, procs[0], 5)
	ctx := context.Background()
	reader, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close(ctx)
	tx, err := reader.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM receipts").Scan(&n); err != nil || n != 10 {
		t.Fatalf("reader: %d, %v", n, err)
	}
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := procs[0].DeleteBefore(ctx, cutoff2025)
		done <- result{n, err}
	}()
	a := admin(t)
	waitDetaching(t, a, db)
	verified := make(chan error, 1)
	go func() { verified <- procs[1].Verify(ctx) }()
	waitLocked(t, a, db, "SELECT pg_advisory_lock_shared%", "Verify")
	for i := range 20 {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := procs[i%2].Append(actx, mkReceipt("shop", time.Now()), receipts.Cookies("_ga"))
		cancel()
		if err != nil {
			t.Fatalf("append %d while retention waits for a reader: %v", i, err)
		}
	}
	select {
	case r := <-done:
		t.Fatalf("retention ended (%d, %v) while the reader still reads the month", r.n, r.err)
	case err := <-verified:
		t.Fatalf("Verify ended (%v) while retention was half done", err)
	default:
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.n != 5 {
		t.Fatalf("DeleteBefore: %d, %v; want 5", r.n, r.err)
	}
	if err := <-verified; err != nil {
		t.Fatalf("Verify during retention: %v", err)
	}
	if slices.Contains(partitionNames(t, procs[0]), "receipts_2025_01") {
		t.Error("receipts_2025_01 not dropped")
	}
	if got := count(t, procs[0].pool, "SELECT count(*) FROM receipts"); got != 25 {
		t.Errorf("%d receipts left, want 25", got)
	}
	for _, s := range procs {
		if err := s.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRetentionFinishesADetachLeftPending: a retention cut off in the
// middle of its DETACH … CONCURRENTLY (as when its host dies) leaves the
// month detach-pending and the chains verifiable; the next run finishes
// it, drops the month and counts its receipts.
func TestRetentionFinishesADetachLeftPending(t *testing.T) {
	db, dsn := newDatabase(t)
	s := openStore(t, dsn)
	oldAndNew(t, s, 5)
	ctx := context.Background()
	if !mustBool(t, s, "SELECT current_setting('server_version_num')::int >= 140000") {
		t.Skip("no DETACH … CONCURRENTLY before PostgreSQL 14") // CI runs Debian's 15
	}
	reader, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close(ctx)
	tx, err := reader.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT count(*) FROM receipts"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.DeleteBefore(ctx, cutoff2025)
		done <- err
	}()
	a := admin(t)
	pid := waitDetaching(t, a, db)
	if _, err := a.Exec(ctx, "SELECT pg_cancel_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("DeleteBefore whose DETACH was cancelled returned no error")
	}
	tx.Rollback(ctx)
	if !mustBool(t, s, `SELECT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE c.relname = 'receipts_2025_01' AND i.inhdetachpending)`) {
		t.Fatal("receipts_2025_01 is not detach-pending after the cancelled DETACH")
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatalf("Verify with a detach pending: %v", err)
	}
	if n, err := s.DeleteBefore(ctx, cutoff2025); err != nil || n != 5 {
		t.Fatalf("DeleteBefore after the pending detach: %d, %v; want 5", n, err)
	}
	if mustBool(t, s, "SELECT to_regclass('receipts_2025_01') IS NOT NULL") {
		t.Error("receipts_2025_01 still exists")
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

func mustBool(t *testing.T, s *Store, sql string) bool {
	t.Helper()
	var b bool
	if err := s.pool.QueryRow(context.Background(), sql).Scan(&b); err != nil {
		t.Fatal(err)
	}
	return b
}
