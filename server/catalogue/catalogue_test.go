package catalogue

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/assets"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/receipts/sqlite"
)

// testAssets returns the few assets a configuration names.
func testAssets(t *testing.T) *assets.Set {
	t.Helper()
	a := &assets.Set{}
	for _, f := range []struct {
		dst  **assets.Asset
		name string
	}{{&a.Wasm, "app.wasm"}, {&a.WasmExec, "wasm_exec.js"}, {&a.CSS, "banner.css"}, {&a.Embeds, "embeds.js"}, {&a.Beyond, "beyond.js"}, {&a.Prefs, "prefs.js"}} {
		x, err := assets.New(f.name, []byte("/* "+f.name+" */"), "text/plain", true, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		*f.dst = x
	}
	return a
}

// TestEarlier is the one check of an earlier revision: a notice replaced
// by a publication stays live for its policy's lifetime from then, in its
// own language only, and across a new catalogue over the same store (a
// restart).
func TestEarlier(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "receipts.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ps, err := policy.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	old := ps[0] // mtran, in English and French
	c := New(testAssets(t), st, slog.New(slog.DiscardHandler), clock)
	if err := c.Publish([]*policy.Policy{old}); err != nil {
		t.Fatal(err)
	}
	next := *old
	next.Revision++
	now = now.Add(time.Hour)
	if err := c.Publish([]*policy.Policy{&next}); err != nil {
		t.Fatal(err)
	}
	if p, _ := served(c, "mtran"); p.Policy.Revision != next.Revision {
		t.Fatalf("serving revision %d after the publication", p.Policy.Revision)
	}
	ctx := context.Background()
	restarted := New(testAssets(t), st, slog.New(slog.DiscardHandler), clock)
	for _, cat := range []*Catalogue{c, restarted} {
		e, err := cat.Earlier(ctx, "mtran", "fr", old.Revision)
		if err != nil || e == nil {
			t.Fatalf("Earlier(fr, %d) = %v, %v", old.Revision, e, err)
		}
		if e.Policy.Texts.Lang != "fr" || e.Notice.Revision != int64(old.Revision) || !e.Notice.LastServed.Equal(now) {
			t.Errorf("Earlier = revision %d in %s, last served %v", e.Notice.Revision, e.Policy.Texts.Lang, e.Notice.LastServed)
		}
		lifetime := time.Duration(old.Lifetime()) * 24 * time.Hour
		if !e.Live(now.Add(lifetime)) || e.Live(now.Add(lifetime+time.Second)) {
			t.Errorf("live to %v, want exactly its lifetime of %v", now.Add(lifetime), lifetime)
		}
		if e, err := cat.Earlier(ctx, "mtran", "ja", old.Revision); e != nil || err != nil {
			t.Errorf("a language never served: %v, %v", e, err)
		}
		if e, err := cat.Earlier(ctx, "mtran", "fr", old.Revision-1); e != nil || err != nil {
			t.Errorf("a revision never served: %v, %v", e, err)
		}
	}
	none := New(testAssets(t), receipts.None{}, slog.New(slog.DiscardHandler), clock)
	if err := none.Publish([]*policy.Policy{old}); err != nil {
		t.Fatal(err)
	}
	if _, err := none.Earlier(ctx, "mtran", "fr", old.Revision); !errors.Is(err, receipts.ErrNoStore) {
		t.Errorf("Earlier without a store: %v, want ErrNoStore", err)
	}
}

// TestPublishRefuses: an invalid policy or two with one id change nothing.
func TestPublishRefuses(t *testing.T) {
	ps, err := policy.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	c := New(testAssets(t), receipts.None{}, slog.New(slog.DiscardHandler), time.Now)
	if err := c.Publish(ps); err != nil {
		t.Fatal(err)
	}
	bad := *ps[0]
	bad.Categories = nil
	for _, set := range [][]*policy.Policy{{&bad}, {ps[0], ps[0]}} {
		if err := c.Publish(set); err == nil {
			t.Errorf("published %d policies with a bad or twice-declared one", len(set))
		}
		if c.Len() != len(ps) {
			t.Errorf("a refused publication changed the portals served: %d", c.Len())
		}
	}
}

// served returns the portal c serves under id, built, or false when c
// serves none or cannot build it.
func served(c *Catalogue, id string) (*Portal, bool) {
	p, err := c.Portal(context.Background(), id)
	return p, err == nil
}
