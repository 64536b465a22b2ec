package catalogue

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/policyfiles"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/receipts/sqlite"
)

// builtIns returns the built-in portals as sources managed by file.
func builtIns(t *testing.T) []Source {
	t.Helper()
	ps, err := policyfiles.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	var out []Source
	for _, p := range ps {
		out = append(out, Source{Policy: p.Policy, File: p.File, Text: p.Source, Format: "yaml"})
	}
	return out
}

// TestPublishFiles: files are published into the database as managed by
// file, once (a restart publishes nothing new), and served from it exactly
// as given; a changed file is a new version whose notices are recorded
// with it; a removed file removes its portal; a portal managed by the
// database stays through it all, and the API's Put refuses a portal
// managed by file, naming the file.
func TestPublishFiles(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "receipts.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	now := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	c := New(testAssets(t), st, slog.New(slog.DiscardHandler), clock)
	if !c.Stored() {
		t.Fatal("a catalogue over SQLite does not keep its policies there")
	}
	srcs := builtIns(t)
	if err := c.PublishFiles(ctx, srcs); err != nil {
		t.Fatal(err)
	}
	for _, src := range srcs {
		pt, ok := served(c, src.Policy.ID)
		if !ok {
			t.Fatalf("portal %s not served", src.Policy.ID)
		}
		if !reflect.DeepEqual(pt.Policy, src.Policy) {
			t.Errorf("portal %s served from the database differs from its file:\n%+v\nwant %+v", src.Policy.ID, pt.Policy, src.Policy)
		}
		want := src.File
		if want == "" {
			want = BuiltIn
		}
		if pt.Version.Version != 1 || pt.Version.File != want || pt.Version.By != "file" || pt.Version.Via != "file" {
			t.Errorf("portal %s: version %+v", src.Policy.ID, pt.Version)
		}
	}
	// A restart over the same files stores no new version.
	now = now.Add(time.Hour)
	restarted := New(testAssets(t), st, slog.New(slog.DiscardHandler), clock)
	if err := restarted.PublishFiles(ctx, builtIns(t)); err != nil {
		t.Fatal(err)
	}
	if vs, err := c.Versions(ctx, "mtran"); err != nil || len(vs) != 1 {
		t.Fatalf("versions of mtran after a restart = %v, %v", vs, err)
	}

	// A portal of the database.
	own := *srcs[0].Policy
	own.ID, own.Name = "ownportal", "Own portal"
	pub, err := c.Put(ctx, Source{Policy: &own, Text: []byte(`{"id":"ownportal"}`), Format: "json"}, PutOptions{By: "alice", Via: receipts.ViaAPI, Match: true, MayCreate: true})
	if err != nil || !pub.Created || !pub.Changed || !pub.AsksAgain || pub.Version.Version != 1 {
		t.Fatalf("Put of a new portal = %+v, %v", pub, err)
	}
	if _, ok := served(c, "ownportal"); !ok {
		t.Fatal("a portal put is not served")
	}
	other := own
	other.ID = "notallowed"
	if _, err := c.Put(ctx, Source{Policy: &other}, PutOptions{By: "alice", Via: receipts.ViaAPI}); !errors.Is(err, ErrMayNotCreate) {
		t.Fatalf("Put of a new portal without MayCreate: %v", err)
	}
	another := New(testAssets(t), st, slog.New(slog.DiscardHandler), clock) // a restart, or another host
	if err := another.PublishFiles(ctx, builtIns(t)); err != nil {
		t.Fatal(err)
	}
	if pt, ok := served(another, "ownportal"); !ok || pt.Version.By != "alice" || pt.Version.File != "" {
		t.Fatalf("a restarted host serves the portal put as %+v, %v", pt, ok)
	}
	if _, err := c.Put(ctx, Source{Policy: srcs[0].Policy}, PutOptions{By: "alice", Via: receipts.ViaAPI, MayCreate: true}); !errors.As(err, new(*ErrManagedByFile)) {
		t.Fatalf("Put over a portal managed by file: %v, want ErrManagedByFile", err)
	} else if err.Error() != `portal "example" is managed by file defaults/example.yaml: change the file instead` {
		t.Errorf("the refusal reads %q", err)
	}

	// A changed file: a new version, its notices recorded with it.
	changed := builtIns(t)
	next := *changed[1].Policy
	next.Revision++
	next.Name = "MTRAN, renamed"
	changed[1].Policy = &next
	changed = changed[:2] // twisto's file is gone
	now = now.Add(time.Hour)
	if err := c.PublishFiles(ctx, changed); err != nil {
		t.Fatal(err)
	}
	pt, ok := served(c, "mtran")
	if !ok || pt.Policy.Name != "MTRAN, renamed" || pt.Version.Version != 2 || !pt.Version.PublishedAt.Equal(now) {
		t.Fatalf("mtran after its file changed: %+v", pt)
	}
	for _, v := range pt.Variants {
		n, err := st.Notice(ctx, "mtran", v.Notice.SHA256)
		if err != nil || !n.FirstServed.Equal(now) {
			t.Errorf("notice %s of the new version: %+v, %v", v.Policy.Texts.Lang, n, err)
		}
	}
	if _, ok := served(c, "twisto"); ok {
		t.Error("twisto is still served after its file was removed")
	}
	if _, err := c.Current(ctx, "twisto"); !errors.Is(err, receipts.ErrNotFound) {
		t.Errorf("twisto is still in the database: %v", err)
	}
	if _, ok := served(c, "ownportal"); !ok {
		t.Error("the portal of the database is gone after a reload of the files")
	}
	if got := c.Len(); got != 3 {
		t.Errorf("%d portals served, want example, mtran, ownportal", got)
	}

	// Remove.
	if err := c.Remove(ctx, "mtran", false, 0); !errors.As(err, new(*ErrManagedByFile)) {
		t.Errorf("Remove of a portal managed by file: %v", err)
	}
	if err := c.Remove(ctx, "ownportal", true, 7); !errors.Is(err, receipts.ErrConflict) {
		t.Errorf("Remove of a stale version: %v, want ErrConflict", err)
	}
	if err := c.Remove(ctx, "ownportal", true, 1); err != nil {
		t.Fatal(err)
	}
	if _, ok := served(c, "ownportal"); ok {
		t.Error("a removed portal is still served")
	}
	if err := c.Remove(ctx, "ownportal", false, 0); !errors.Is(err, receipts.ErrNotFound) {
		t.Errorf("Remove of a removed portal: %v, want ErrNotFound", err)
	}
}

// TestPublishFilesWithoutDatabase: without a store of policies the files
// are served as given, and Put refuses.
func TestPublishFilesWithoutDatabase(t *testing.T) {
	c := New(testAssets(t), receipts.None{}, slog.New(slog.DiscardHandler), time.Now)
	if c.Stored() {
		t.Fatal("receipts.None keeps policies?")
	}
	srcs := builtIns(t)
	if err := c.PublishFiles(context.Background(), srcs); err != nil {
		t.Fatal(err)
	}
	if c.Len() != len(srcs) {
		t.Errorf("%d portals served, want %d", c.Len(), len(srcs))
	}
	if _, err := c.Put(context.Background(), srcs[0], PutOptions{By: "admin", Via: "api", MayCreate: true}); !errors.Is(err, receipts.ErrNoStore) {
		t.Errorf("Put without a database: %v", err)
	}
	bad := *srcs[0].Policy
	bad.Categories = nil
	if err := c.PublishFiles(context.Background(), []Source{{Policy: &bad}}); err == nil || c.Len() != len(srcs) {
		t.Errorf("an invalid file: %v, %d portals served", err, c.Len())
	}
}

// TestFollow: a host following the database (Follow, polling only, as
// when no notification comes) serves what another host over the same
// database publishes and deletes, within a second.
func TestFollow(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "receipts.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	a, b := New(testAssets(t), st, log, time.Now), New(testAssets(t), st, log, time.Now)
	for _, c := range []*Catalogue{a, b} {
		if err := c.PublishFiles(ctx, builtIns(t)); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() { b.Follow(ctx, 20*time.Millisecond, nil); close(done) }()
	defer func() { cancel(); <-done }()
	within := func(what string, ok func() bool) {
		t.Helper()
		for start := time.Now(); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Since(start) > time.Second {
				t.Fatalf("%s: not within a second", what)
			}
		}
	}
	own := *builtIns(t)[0].Policy
	own.ID = "followed"
	if _, err := a.Put(ctx, Source{Policy: &own}, PutOptions{By: "admin", Via: "api", MayCreate: true}); err != nil {
		t.Fatal(err)
	}
	within("a portal published on the other host", func() bool { _, ok := served(b, "followed"); return ok })
	if err := a.Remove(ctx, "followed", false, 0); err != nil {
		t.Fatal(err)
	}
	within("a portal deleted on the other host", func() bool { _, ok := served(b, "followed"); return !ok })
}

// TestPublishFilesDatabaseDown: when the database fails at a reload, the
// files are served as read, with the portals of the database already
// built (one never built cannot be, and is not unknown), and the problem
// is logged.
func TestPublishFilesDatabaseDown(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "receipts.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var logs strings.Builder
	c := New(testAssets(t), st, slog.New(slog.NewTextHandler(&logs, nil)), time.Now)
	if err := c.PublishFiles(ctx, builtIns(t)); err != nil {
		t.Fatal(err)
	}
	own := *builtIns(t)[0].Policy
	own.ID = "ownportal"
	other := own
	other.ID = "otherportal"
	for _, p := range []*policy.Policy{&own, &other} {
		if _, err := c.Put(ctx, Source{Policy: p}, PutOptions{By: "admin", Via: "api", MayCreate: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := served(c, "ownportal"); !ok { // built: kept while the database is down
		t.Fatal("the portal of the database is not served")
	}
	st.Close()
	changed := builtIns(t)
	renamed := *changed[1].Policy
	renamed.Name = "Renamed while the database is down"
	changed[1].Policy = &renamed
	if err := c.PublishFiles(ctx, changed[:2]); err != nil {
		t.Fatal(err)
	}
	if pt, ok := served(c, renamed.ID); !ok || pt.Policy.Name != renamed.Name {
		t.Error("the changed file is not served")
	}
	if _, ok := served(c, "ownportal"); !ok {
		t.Error("the portal of the database is no longer served")
	}
	if _, ok := served(c, "twisto"); ok {
		t.Error("a removed file's portal is still served")
	}
	// Never built on this host: it cannot be while the database is down,
	// and is not unknown (a 503, not a 404).
	if _, err := c.Portal(ctx, "otherportal"); err == nil || errors.Is(err, ErrUnknownPortal) {
		t.Errorf("a portal of the database never built, with the database down: %v; want the database's error", err)
	}
	if !strings.Contains(logs.String(), "serving the policy files as read") {
		t.Errorf("not logged:\n%s", logs.String())
	}
}
