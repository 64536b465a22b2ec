package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// TestMigrateRetentionGate checks 0008_retention_gate.sql on a database of
// 0007 holding receipts: they stay, a DELETE is still refused, and
// retention then deletes the old prefix through the gate (no trigger
// dropped or made again: the schema is the same after it), leaving the
// gate closed and the chain verifying.
func TestMigrateRetentionGate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	cfg := config{window: 0, maxBatch: 1, busy: time.Second, retentionBatch: 4}
	s, err := open(path, cfg, migrationsBefore(t, "0008"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	day := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		at := day.Add(time.Duration(i) * time.Hour)
		if i >= 7 {
			at = day.AddDate(0, 0, 2) // kept
		}
		for _, portal := range []string{"shop", "news"} {
			r := &receipts.Receipt{Portal: portal, ConsentID: fmt.Sprintf("c%d", i), Revision: 1, Method: receipts.MethodCustom, Lang: "en",
				Page: "https://a.example/", DecidedAt: at, ReceivedAt: at, Notice: receipts.NoticeHash(nil)}
			if err := s.Append(ctx, r, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.Close()

	all, err := receipts.Migrations(mustSub(migrationFiles, "migrations"))
	if err != nil {
		t.Fatal(err)
	}
	s, err = open(path, cfg, all)
	if err != nil {
		t.Fatalf("migrating a database of 0007: %v", err)
	}
	defer s.Close()
	db := rawDB(t, path)
	if _, err := db.Exec(`DELETE FROM receipts WHERE portal = 'shop' AND seq = 1`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("DELETE of a receipt after the migration: %v, want it refused", err)
	}
	var schema string
	if err := db.QueryRow(`SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_schema ORDER BY name)`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteBefore(ctx, day.AddDate(0, 0, 1)); err != nil || n != 14 {
		t.Fatalf("DeleteBefore = %d, %v; want 14", n, err)
	}
	var after string
	if err := db.QueryRow(`SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_schema ORDER BY name)`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != schema {
		t.Errorf("retention changed the schema:\n%s\nthen\n%s", schema, after)
	}
	var open int
	if err := db.QueryRow(`SELECT count(*) FROM retention_gate WHERE portal IS NOT NULL OR seq IS NOT NULL`).Scan(&open); err != nil || open != 0 {
		t.Errorf("gates left open after retention: %d, %v", open, err)
	}
	if err := s.Verify(ctx); err != nil {
		t.Errorf("the chains after retention: %v", err)
	}
	for _, portal := range []string{"shop", "news"} {
		var seqs []int64
		err := s.Export(ctx, portal, day, day.AddDate(0, 0, 3), func(r *receipts.Receipt) error {
			seqs = append(seqs, r.Seq)
			return nil
		})
		if err != nil || fmt.Sprint(seqs) != "[8 9 10]" {
			t.Errorf("%s after retention: receipts %v, %v; want [8 9 10]", portal, seqs, err)
		}
	}
}

// TestRetentionGate checks what the gate lets through: only a prefix of
// the one chain it opens, up to its seq, and only once the chain's anchor
// is there; a DELETE of its row is refused (that would not open it
// either).
func TestRetentionGate(t *testing.T) {
	s := openT(t)
	ctx := context.Background()
	for i := range 4 {
		for _, portal := range []string{"shop", "news"} {
			r := &receipts.Receipt{Portal: portal, ConsentID: fmt.Sprintf("c%d", i), Revision: 1, Method: receipts.MethodCustom, Lang: "en",
				Page: "https://a.example/", DecidedAt: time.Now(), Notice: receipts.NoticeHash(nil)}
			if err := s.Append(ctx, r, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	db := rawDB(t, s.Path())
	db.SetMaxOpenConns(1)
	in := func(stmts ...string) error {
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		for _, q := range stmts {
			if _, err := tx.Exec(q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	}
	const anchor = `INSERT INTO anchors (portal, seq, hash) VALUES ('shop', 2, zeroblob(32))`
	for _, c := range []struct {
		name  string
		stmts []string
		ok    bool
	}{
		{"gate closed", []string{`DELETE FROM receipts WHERE portal = 'shop' AND seq = 1`}, false},
		{"gate opened without an anchor", []string{`UPDATE retention_gate SET portal = 'shop', seq = 2`}, false},
		{"gate opened past the anchor", []string{anchor, `UPDATE retention_gate SET portal = 'shop', seq = 3`}, false},
		{"the prefix it opens", []string{anchor, `UPDATE retention_gate SET portal = 'shop', seq = 2`, `DELETE FROM receipts WHERE portal = 'shop' AND seq <= 2`}, true},
		{"past its seq", []string{anchor, `UPDATE retention_gate SET portal = 'shop', seq = 2`, `DELETE FROM receipts WHERE portal = 'shop' AND seq = 3`}, false},
		{"another chain", []string{anchor, `UPDATE retention_gate SET portal = 'shop', seq = 2`, `DELETE FROM receipts WHERE portal = 'news' AND seq = 1`}, false},
		{"its row deleted", []string{`DELETE FROM retention_gate`}, false},
		{"a second row", []string{`INSERT INTO retention_gate (id, portal, seq) VALUES (2, NULL, NULL)`}, false},
	} {
		if err := in(c.stmts...); (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok %v", c.name, err, c.ok)
		}
	}
	if err := s.Verify(ctx); err != nil {
		t.Errorf("the chains after the rolled back attempts: %v", err)
	}
}

// TestRetentionYieldsAndStaysDurable checks retention under appends that
// never leave the writer idle, without group commit (each append its own
// transaction, so no window for the background jobs): it still finishes
// (a background job at least every backgroundEvery), the chain verifies,
// and the writer's connection is back to synchronous=FULL after its lazy
// commits, so that the appends after it wait for the disk again.
func TestRetentionYieldsAndStaysDurable(t *testing.T) {
	migs, err := receipts.Migrations(mustSub(migrationFiles, "migrations"))
	if err != nil {
		t.Fatal(err)
	}
	var batches int
	cfg := config{window: 0, maxBatch: 1, busy: time.Second, retentionBatch: 2, retentionTime: time.Hour, retained: func(int64) { batches++ }}
	s, err := open(filepath.Join(t.TempDir(), "r.db"), cfg, migs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	old := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
	receipt := func(i int, at time.Time) *receipts.Receipt {
		return &receipts.Receipt{Portal: "shop", ConsentID: fmt.Sprintf("c%d", i), Revision: 1, Method: receipts.MethodCustom, Lang: "en",
			Page: "https://a.example/", DecidedAt: at, ReceivedAt: at, Notice: receipts.NoticeHash(nil)}
	}
	for i := range 20 {
		if err := s.Append(ctx, receipt(i, old.Add(time.Duration(i)*time.Minute)), nil); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := s.Append(ctx, receipt(1000*(g+1)+i, time.Now()), nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	n, err := s.DeleteBefore(dctx, old.AddDate(0, 0, 1))
	close(stop)
	wg.Wait()
	if err != nil || n != 20 || batches != 10 {
		t.Fatalf("DeleteBefore under appends = %d, %v in %d transactions; want 20 in 10", n, err, batches)
	}
	if err := s.Verify(ctx); err != nil {
		t.Errorf("the chain after retention: %v", err)
	}
	var sync int
	if err := s.job(ctx, func(ctx context.Context, conn *sql.Conn) error {
		return conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync)
	}); err != nil || sync != 2 {
		t.Errorf("the writer's synchronous after retention: %d, %v; want 2 (FULL)", sync, err)
	}
}
