package sqlite

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// TestMigrateUndeclaredTypes checks 0007_undeclared_types.sql keeps the
// tallies a database held before it, typed cookie, and that the same name
// may then be tallied again as a localStorage key.
func TestMigrateUndeclaredTypes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	cfg := config{window: 0, maxBatch: 1, busy: time.Second}
	s, err := open(path, cfg, migrationsBefore(t, "0007"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	day := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
	db := rawDB(t, path)
	if _, err := db.Exec(`INSERT INTO undeclared (portal, day, name, count, first_seen, last_seen, pages) VALUES ('shop', $1, '_ga', 7, $2, $2, '["https://a.example/"]')`,
		day.Unix(), day.Add(time.Hour).UnixMicro()); err != nil {
		t.Fatal(err)
	}
	db.Close()

	all, err := receipts.Migrations(mustSub(migrationFiles, "migrations"))
	if err != nil {
		t.Fatal(err)
	}
	s, err = open(path, cfg, all)
	if err != nil {
		t.Fatalf("migrating a database of 0006: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	r := &receipts.Receipt{Portal: "shop", ConsentID: "c1", Revision: 1, Method: receipts.MethodCustom, Lang: "en",
		Page: "https://a.example/", DecidedAt: day.Add(time.Hour), ReceivedAt: day.Add(2 * time.Hour), Notice: receipts.NoticeHash(nil)}
	if err := s.Append(ctx, r, []receipts.Name{{Type: "localStorage", Name: "_ga"}}); err != nil {
		t.Fatal(err)
	}
	us, err := s.Undeclared(ctx, "shop", day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 2 || us[0].Type != "cookie" || us[0].Name != "_ga" || us[0].Count != 7 || len(us[0].Pages) != 1 ||
		us[1].Type != "localStorage" || us[1].Name != "_ga" || us[1].Count != 1 {
		t.Errorf("tallies after the migration: %+v", us)
	}
}

// migrationsBefore returns the embedded migrations whose file names sort
// before prefix: the schema of an older release.
func migrationsBefore(t *testing.T, prefix string) []receipts.Migration {
	t.Helper()
	before := fstest.MapFS{}
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() < prefix {
			b, err := migrationFiles.ReadFile("migrations/" + e.Name())
			if err != nil {
				t.Fatal(err)
			}
			before[e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	migs, err := receipts.Migrations(before)
	if err != nil {
		t.Fatal(err)
	}
	return migs
}
