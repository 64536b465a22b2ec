package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/receipts/receiptstest"
)

// backend returns the suite's Backend on files of t.TempDir(), each store
// opened with opts.
func backend(opts ...Option) receiptstest.Backend {
	return receiptstest.Backend{
		New: func(t *testing.T) receipts.Store {
			s, err := Open(filepath.Join(t.TempDir(), "receipts.db"), opts...)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		NewLogged: func(t *testing.T, log *slog.Logger) receipts.Store {
			s, err := Open(filepath.Join(t.TempDir(), "receipts.db"), append(opts[:len(opts):len(opts)], Log(log))...)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Reopen: func(t *testing.T, s receipts.Store) receipts.Store {
			path := s.(*Store).Path()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2, err := Open(path, opts...)
			if err != nil {
				t.Fatal(err)
			}
			return s2
		},
		Exec: func(t *testing.T, s receipts.Store, query string, args ...any) {
			t.Helper()
			if err := tamper(s.(*Store).Path(), query, args...); err != nil {
				t.Fatal(err)
			}
		},
		ExecChecked: func(t *testing.T, s receipts.Store, query string, args ...any) error {
			db := rawDB(t, s.(*Store).Path())
			_, err := db.Exec(query, args...)
			return err
		},
	}
}

// rawDB opens path as another process would, closed at the end of t.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(path, "busy_timeout(5000)"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// tamper runs query on the database at path with its triggers on receipts
// dropped, as an attacker with the file can, then puts them back.
func tamper(path, query string, args ...any) error {
	db, err := sql.Open("sqlite", dsn(path, "busy_timeout(5000)"))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	defer conn.ExecContext(ctx, "ROLLBACK")
	rows, err := conn.QueryContext(ctx, "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'receipts'")
	if err != nil {
		return err
	}
	triggers := map[string]string{}
	for rows.Next() {
		var name, sql string
		if err := rows.Scan(&name, &sql); err != nil {
			return err
		}
		triggers[name] = sql
	}
	rows.Close()
	for name := range triggers {
		if _, err := conn.ExecContext(ctx, "DROP TRIGGER "+name); err != nil {
			return err
		}
	}
	if _, err := conn.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("%s: %w", query, err)
	}
	for _, sql := range triggers {
		if _, err := conn.ExecContext(ctx, sql); err != nil {
			return err
		}
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return err
}

func TestContract(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []Option
	}{
		{"GroupCommit", nil},
		{"NoGroupCommit", []Option{GroupCommit(0)}},
		{"SmallBatches", []Option{GroupCommit(time.Millisecond), MaxBatch(3)}},
	} {
		t.Run(c.name, func(t *testing.T) { receiptstest.Run(t, backend(c.opts...)) })
	}
}

func openT(t *testing.T, opts ...Option) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "receipts.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sample(portal string, i int) *receipts.Receipt {
	return &receipts.Receipt{
		Portal: portal, ConsentID: fmt.Sprint("c", i), Revision: 1, Method: receipts.MethodAcceptAll,
		Lang: "en", Page: "https://shop.example/", DecidedAt: time.Now(), Notice: receipts.NoticeHash(nil),
	}
}

func TestPragmas(t *testing.T) {
	s := openT(t)
	for _, c := range []struct {
		db   *sql.DB
		want map[string]string
	}{
		{s.wdb, map[string]string{"journal_mode": "wal", "synchronous": "2", "busy_timeout": "5000", "foreign_keys": "1", "query_only": "0"}},
		{s.rdb, map[string]string{"journal_mode": "wal", "busy_timeout": "5000", "foreign_keys": "1", "query_only": "1"}},
	} {
		if c.db == s.wdb {
			// The writer goroutine holds the one write connection between
			// batches: ask it through a job.
			err := s.job(context.Background(), func(ctx context.Context, conn *sql.Conn) error {
				return checkConn(ctx, conn, c.want)
			})
			if err != nil {
				t.Error(err)
			}
			continue
		}
		if err := checkPragmas(context.Background(), c.db, c.want); err != nil {
			t.Error(err)
		}
	}
	if _, err := s.rdb.Exec("INSERT INTO chains (portal, seq, hash) VALUES ('x', 1, x'00')"); err == nil {
		t.Error("a read connection wrote")
	}
}

func checkConn(ctx context.Context, conn *sql.Conn, want map[string]string) error {
	for name, v := range want {
		var got string
		if err := conn.QueryRowContext(ctx, "PRAGMA "+name).Scan(&got); err != nil {
			return err
		}
		if got != v {
			return fmt.Errorf("pragma %s = %q, want %q", name, got, v)
		}
	}
	return nil
}

func TestFileMode(t *testing.T) {
	s := openT(t)
	if err := s.Append(context.Background(), sample("shop", 0), nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{s.Path(), s.Path() + "-wal", s.Path() + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m&0o077 != 0 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(f), m)
		}
	}
}

func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	v1 := fstest.MapFS{"0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER);")}}
	v2 := fstest.MapFS{"0001_a.sql": v1["0001_a.sql"], "0002_b.sql": {Data: []byte("CREATE TABLE b (y INTEGER); INSERT INTO a VALUES (1);")}}
	bad := fstest.MapFS{"0001_a.sql": v1["0001_a.sql"], "0002_b.sql": v2["0002_b.sql"], "0003_c.sql": {Data: []byte("CREATE TABLE c (z INTEGER); SELECT nonsense FROM nowhere;")}}
	cfg := config{window: 0, maxBatch: 1, busy: time.Second}
	openWith := func(fsys fstest.MapFS) error {
		migs, err := receipts.Migrations(fsys)
		if err != nil {
			t.Fatal(err)
		}
		s, err := open(path, cfg, migs)
		if err == nil {
			s.Close()
		}
		return err
	}
	versions := func() (out []int) {
		db := rawDB(t, path)
		rows, err := db.Query("SELECT version FROM schema_migrations ORDER BY version")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			rows.Scan(&v)
			out = append(out, v)
		}
		return out
	}
	if err := openWith(v1); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(versions()); got != "[1]" {
		t.Errorf("fresh database: versions %s, want [1]", got)
	}
	if err := openWith(v1); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if err := openWith(v2); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(versions()); got != "[1 2]" {
		t.Errorf("upgraded: versions %s, want [1 2]", got)
	}
	// A failing migration leaves nothing of itself behind.
	if err := openWith(bad); err == nil || !errors.Is(err, receipts.ErrUnavailable) {
		t.Errorf("failing migration: %v", err)
	}
	var n int
	if err := rawDB(t, path).QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 'c'").Scan(&n); err != nil || n != 0 {
		t.Errorf("failed migration's table: %d, %v", n, err)
	}
	// A database of a newer program is refused.
	err := openWith(v1)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("opening a version 2 database knowing version 1: %v, want refused", err)
	}
	// The real migrations apply on a fresh database and are a no-op on
	// reopen.
	real := filepath.Join(t.TempDir(), "r.db")
	for range 2 {
		s, err := Open(real)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	all, err := receipts.Migrations(mustSub(migrationFiles, "migrations"))
	if err != nil {
		t.Fatal(err)
	}
	if err := rawDB(t, real).QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != len(all) {
		t.Errorf("after two opens: %d migrations recorded, want %d, %v", n, len(all), err)
	}
}

// TestFailedBatch makes one batch fail before its commit: every caller of
// it gets ErrUnavailable, nothing is stored, and the next batch continues
// the chain where the last committed one left it.
func TestFailedBatch(t *testing.T) {
	var fail atomic.Bool
	hook := func(c *config) {
		c.hook = func() error {
			if fail.Load() {
				return errors.New("injected failure")
			}
			return nil
		}
	}
	s := openT(t, hook, GroupCommit(20*time.Millisecond))
	ctx := context.Background()
	first := sample("shop", 0)
	if err := s.Append(ctx, first, receipts.Cookies("_ga")); err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	errs := make(chan error, 8)
	for i := range 8 {
		go func() { errs <- s.Append(ctx, sample("shop", i+1), receipts.Cookies("_ga")) }()
	}
	for range 8 {
		if err := <-errs; !errors.Is(err, receipts.ErrUnavailable) {
			t.Errorf("Append in a failing batch: %v, want ErrUnavailable", err)
		}
	}
	fail.Store(false)
	next := sample("shop", 9)
	if err := s.Append(ctx, next, nil); err != nil {
		t.Fatal(err)
	}
	if next.Seq != 2 || next.Prev != first.Hash {
		t.Errorf("after a failed batch sealed as #%d, want #2 after the last committed", next.Seq)
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	day := first.ReceivedAt.Truncate(24 * time.Hour)
	u, err := s.Undeclared(ctx, "shop", day, day.Add(24*time.Hour))
	if err != nil || len(u) != 1 || u[0].Count != 1 {
		t.Errorf("tallies after a failed batch: %+v, %v; want one of count 1", u, err)
	}
}

// TestLockedDatabase has another process hold the database's write lock
// longer than the busy timeout: appends fail with ErrUnavailable, the
// writer is not wedged, and appends succeed once the lock is released.
func TestLockedDatabase(t *testing.T) {
	s := openT(t, BusyTimeout(50*time.Millisecond), GroupCommit(0))
	ctx := context.Background()
	first := sample("shop", 0)
	if err := s.Append(ctx, first, nil); err != nil {
		t.Fatal(err)
	}
	other := rawDB(t, s.Path())
	other.SetMaxOpenConns(1)
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.Append(ctx, sample("shop", i+1), nil); !errors.Is(err, receipts.ErrUnavailable) {
			t.Fatalf("Append while locked: %v, want ErrUnavailable", err)
		}
	}
	// Reads go on meanwhile (WAL, separate read connections).
	if got, err := s.Consent(ctx, "shop", first.ConsentID); err != nil || len(got) != 1 {
		t.Errorf("Consent while the database is locked: %d receipts, %v", len(got), err)
	}
	if _, err := s.DeleteBefore(ctx, time.Now()); !errors.Is(err, receipts.ErrUnavailable) {
		t.Errorf("DeleteBefore while locked: %v, want ErrUnavailable", err)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	next := sample("shop", 9)
	if err := s.Append(ctx, next, nil); err != nil {
		t.Fatalf("Append after the lock is released: %v", err)
	}
	if next.Seq != 2 || next.Prev != first.Hash {
		t.Errorf("sealed as #%d, want #2", next.Seq)
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestFullDisk caps the database's size (max_page_count, as a full disk
// would): appends fail with ErrUnavailable, then succeed once there is room
// again.
func TestFullDisk(t *testing.T) {
	s := openT(t, GroupCommit(0))
	ctx := context.Background()
	setMax := func(n string) {
		t.Helper()
		err := s.job(ctx, func(ctx context.Context, conn *sql.Conn) error {
			_, err := conn.ExecContext(ctx, "PRAGMA max_page_count = "+n)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	first := sample("shop", 0)
	if err := s.Append(ctx, first, nil); err != nil {
		t.Fatal(err)
	}
	var pages string
	if err := s.rdb.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	setMax(pages)
	var failed error
	for i := range 200 {
		r := sample("shop", i+1)
		r.Page = strings.Repeat("x", 1000)
		if failed = s.Append(ctx, r, nil); failed != nil {
			break
		}
	}
	if !errors.Is(failed, receipts.ErrUnavailable) {
		t.Fatalf("Append on a full database: %v, want ErrUnavailable", failed)
	}
	// The failed batch dropped the connection, and with it the cap: a new
	// connection has the default limit, as when space is freed.
	next := sample("shop", 999)
	if err := s.Append(ctx, next, nil); err != nil {
		t.Fatalf("Append once there is room: %v", err)
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestBadInput(t *testing.T) {
	s := openT(t)
	ctx := context.Background()
	if err := s.Append(ctx, nil, nil); err == nil {
		t.Error("Append(nil) succeeded")
	}
	r := sample("shop", 0)
	r.ID = "not-a-uuid"
	if err := s.Append(ctx, r, nil); err == nil || errors.Is(err, receipts.ErrUnavailable) {
		t.Errorf("Append with a bad id: %v", err)
	}
	n := receipts.Notice{Portal: "shop", SHA256: receipts.NoticeHash([]byte("a")), Body: []byte("b")}
	if err := s.ServeNotice(ctx, n, time.Now()); err == nil {
		t.Error("ServeNotice with a wrong SHA256 succeeded")
	}
	if _, err := Open(""); err == nil {
		t.Error(`Open("") succeeded`)
	}
}

func TestClosed(t *testing.T) {
	s := openT(t)
	s.Close()
	ctx := context.Background()
	if err := s.Append(ctx, sample("shop", 0), nil); !errors.Is(err, ErrClosed) || !errors.Is(err, receipts.ErrUnavailable) {
		t.Errorf("Append after Close: %v", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, receipts.ErrUnavailable) {
		t.Errorf("Ping after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestRemovedDatabase moves the database file away: appends fail with
// ErrUnavailable (rather than go to the unlinked file) and Ping reports it;
// once the file is back, appends continue the chain.
func TestRemovedDatabase(t *testing.T) {
	s := openT(t, GroupCommit(0))
	ctx := context.Background()
	first := sample("shop", 0)
	if err := s.Append(ctx, first, nil); err != nil {
		t.Fatal(err)
	}
	away := s.Path() + ".away"
	if err := os.Rename(s.Path(), away); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.Append(ctx, sample("shop", i+1), nil); !errors.Is(err, receipts.ErrUnavailable) {
			t.Fatalf("Append with the file gone: %v, want ErrUnavailable", err)
		}
	}
	if err := s.Ping(ctx); !errors.Is(err, receipts.ErrUnavailable) {
		t.Errorf("Ping with the file gone: %v, want ErrUnavailable", err)
	}
	if _, err := os.Stat(s.Path()); err == nil {
		t.Fatal("a new database file was created in the old one's place")
	}
	if err := os.Rename(away, s.Path()); err != nil {
		t.Fatal(err)
	}
	next := sample("shop", 9)
	if err := s.Append(ctx, next, nil); err != nil {
		t.Fatalf("Append once the file is back: %v", err)
	}
	if next.Seq != 2 || next.Prev != first.Hash {
		t.Errorf("sealed as #%d, want #2", next.Seq)
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Error(err)
	}
}

// TestBackfill checks that 0002_stats.sql computes, for the receipts stored
// before it, the aggregates Append would have.
func TestBackfill(t *testing.T) {
	s := openT(t)
	receiptstest.Backfill(t, s, func() {
		mig, err := migrationFiles.ReadFile("migrations/0002_stats.sql")
		if err != nil {
			t.Fatal(err)
		}
		_, backfill, ok := strings.Cut(string(mig), "-- The aggregates of the receipts stored before this migration.")
		if !ok {
			t.Fatal("0002_stats.sql has no backfill")
		}
		db := rawDB(t, s.Path())
		for _, table := range []string{"stats_decisions", "stats_accepted", "stats_withdrawals", "stats_impressions"} {
			if _, err := db.Exec("DELETE FROM " + table); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.Exec(backfill); err != nil {
			t.Fatal(err)
		}
	})
}

// TestDeleteBeforeInBatches checks retention deletes a chain's old prefix
// a batch a transaction (the writer runs appends between two), each
// moving the anchor, and the chain verifies after it.
func TestDeleteBeforeInBatches(t *testing.T) {
	migs, err := receipts.Migrations(mustSub(migrationFiles, "migrations"))
	if err != nil {
		t.Fatal(err)
	}
	var batches []int64
	cfg := config{window: 0, maxBatch: 1, busy: time.Second, retentionBatch: 3, retentionTime: time.Hour, retained: func(n int64) { batches = append(batches, n) }}
	s, err := open(filepath.Join(t.TempDir(), "r.db"), cfg, migs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	day := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
	for i := range 12 {
		at := day.Add(time.Duration(i) * time.Minute)
		if i >= 10 {
			at = day.AddDate(0, 0, 2) // kept
		}
		r := &receipts.Receipt{Portal: "shop", ConsentID: fmt.Sprintf("c%d", i), Revision: 1, Method: receipts.MethodCustom, Lang: "en",
			Page: "https://a.example/", DecidedAt: at, ReceivedAt: at, Notice: receipts.NoticeHash(nil)}
		if err := s.Append(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeleteBefore(ctx, day.AddDate(0, 0, 1))
	if err != nil || n != 10 {
		t.Fatalf("DeleteBefore = %d, %v; want 10", n, err)
	}
	if fmt.Sprint(batches) != "[3 3 3 1]" {
		t.Errorf("deleted in transactions of %v, want [3 3 3 1]", batches)
	}
	if err := s.Verify(ctx); err != nil {
		t.Errorf("the chain after retention: %v", err)
	}
	if rs, err := s.Consent(ctx, "shop", "c10"); err != nil || len(rs) != 1 {
		t.Errorf("a receipt after the cutoff: %v, %v", rs, err)
	}
}
