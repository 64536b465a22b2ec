package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
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
