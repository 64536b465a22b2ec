package catalogue

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/receipts/sqlite"
)

// countingStore counts the policies read one by one (CurrentPolicy):
// each is a portal built from the database.
type countingStore struct {
	*sqlite.Store
	reads atomic.Int64
}

func (s *countingStore) CurrentPolicy(ctx context.Context, portal string) (receipts.PolicyVersion, error) {
	s.reads.Add(1)
	return s.Store.CurrentPolicy(ctx, portal)
}

// generated publishes n portals of two languages into the database
// through c, "gen00", "gen01", …, each named after its id, and returns
// their ids.
func generated(t *testing.T, c *Catalogue, n int) []string {
	t.Helper()
	var two *policy.Policy // mtran in English and French only
	for _, src := range builtIns(t) {
		if src.Policy.ID == "mtran" {
			q := *src.Policy
			q.Translations = nil
			for _, tr := range src.Policy.Translations {
				if tr.Texts.Lang == "fr" {
					q.Translations = append(q.Translations, tr)
				}
			}
			two = &q
		}
	}
	if two == nil || len(two.Languages()) != 2 {
		t.Fatal("no built-in portal mtran in French")
	}
	var ids []string
	for i := range n {
		p := *two
		p.ID, p.Name = fmt.Sprintf("gen%02d", i), fmt.Sprintf("Generated portal %d", i)
		if _, err := c.Put(context.Background(), Source{Policy: &p}, PutOptions{By: "admin", Via: "api", MayCreate: true}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	return ids
}

// TestCacheBounded asks for many more portals than the cache holds, three
// times over: what is kept never weighs more than the cap, and every
// answer is the portal asked for (its own name in its config.json, in
// each language).
func TestCacheBounded(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "receipts.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	c := New(testAssets(t), st, slog.New(slog.DiscardHandler), time.Now)
	ids := generated(t, c, 40)
	one, err := c.Portal(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	limit := 5*one.weight + one.weight/2 // five portals, not six
	c.SetCacheBytes(limit)
	for round := range 3 {
		for _, id := range ids {
			p, err := c.Portal(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if p.ID() != id || len(p.Variants) != 2 {
				t.Fatalf("round %d: asked for %s, got %s in %d languages", round, id, p.ID(), len(p.Variants))
			}
			for _, v := range p.Variants {
				if !strings.Contains(string(v.Config.Raw), `"name":"`+p.Policy.Name+`"`) || !strings.HasSuffix(id, strings.TrimPrefix(p.Policy.Name, "Generated portal ")) {
					t.Fatalf("round %d: the %s config.json of %s is not its own", round, v.Policy.Texts.Lang, id)
				}
			}
			if n, bytes := c.CacheStats(); bytes > limit || n > 5 {
				t.Fatalf("round %d: %d portals kept, %d bytes, over the cap of %d bytes", round, n, bytes, limit)
			}
		}
	}
	if n, _ := c.CacheStats(); n != 5 {
		t.Errorf("%d portals kept, want the five last asked for", n)
	}
	c.SetCacheBytes(one.weight - 1)
	if p, err := c.Portal(ctx, ids[3]); err != nil || p.ID() != ids[3] {
		t.Fatalf("a portal heavier than the cap: %v, %v", p, err)
	}
	if n, bytes := c.CacheStats(); n != 0 || bytes != 0 {
		t.Errorf("a portal heavier than the cap is kept: %d portals, %d bytes", n, bytes)
	}
}

// TestPublicationRebuildsItsOwn: a publication on another host, once
// loaded, rebuilds only its own portal (one policy read from the
// database); the others are answered from the cache as they were, and the
// earlier revision's check still finds the notice replaced.
func TestPublicationRebuildsItsOwn(t *testing.T) {
	dir := t.TempDir()
	sa, err := sqlite.Open(filepath.Join(dir, "receipts.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer sa.Close()
	sb, err := sqlite.Open(filepath.Join(dir, "receipts.db"))
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingStore{Store: sb}
	defer sb.Close()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	a, b := New(testAssets(t), sa, log, time.Now), New(testAssets(t), counted, log, time.Now)
	ids := generated(t, a, 20)
	if err := b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if counted.reads.Load() != 0 {
		t.Fatalf("loading read %d policies, want none before they are asked for", counted.reads.Load())
	}
	before := map[string]*Portal{}
	for _, id := range ids {
		p, err := b.Portal(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		before[id] = p
	}
	if n := counted.reads.Load(); n != int64(len(ids)) {
		t.Fatalf("%d policies read to build %d portals", n, len(ids))
	}
	old := before[ids[7]].Policy
	next := *old
	next.Revision++
	if _, err := a.Put(ctx, Source{Policy: &next}, PutOptions{By: "admin", Via: "api"}); err != nil {
		t.Fatal(err)
	}
	counted.reads.Store(0)
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		p, err := b.Portal(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case id == ids[7] && p.Policy.Revision != next.Revision:
			t.Errorf("%s serves revision %d after its publication, want %d", id, p.Policy.Revision, next.Revision)
		case id != ids[7] && p != before[id]:
			t.Errorf("%s was built again after another portal's publication", id)
		}
	}
	if n := counted.reads.Load(); n != 1 {
		t.Errorf("%d policies read after one publication, want 1", n)
	}
	e, err := b.Earlier(ctx, ids[7], old.Languages()[1], old.Revision)
	if err != nil || e == nil || !e.Live(time.Now()) {
		t.Errorf("the replaced revision of %s: %v, %v; want it live", ids[7], e, err)
	}
	if es, err := b.Entries(ctx); err != nil || len(es) != len(ids) || es[7].Name != next.Name || es[7].Revision != next.Revision {
		t.Errorf("Entries = %+v, %v", es, err)
	}
	if _, err := b.Portal(ctx, "nosuchportal"); err != ErrUnknownPortal {
		t.Errorf("an unknown portal: %v", err)
	}
}

// TestEarlierBounded: the stored notices read for the earlier-revision
// check are kept for earlierPortals portals at most.
func TestEarlierBounded(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "receipts.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var e earlierNotices
	for i := range earlierPortals + 100 {
		if _, err := e.get(context.Background(), st, fmt.Sprintf("p%05d", i), time.Minute); err != nil {
			t.Fatal(err)
		}
		if len(e.byID) > earlierPortals || len(e.loaded) > earlierPortals {
			t.Fatalf("%d portals' notices kept, over %d", len(e.byID), earlierPortals)
		}
	}
}

// TestBuildOnce: many requests at once for a portal not built build it
// once (one policy read), and all get that portal.
func TestBuildOnce(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "receipts.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	ids := generated(t, New(testAssets(t), st, log, time.Now), 1)
	counted := &countingStore{Store: st}
	c := New(testAssets(t), counted, log, time.Now)
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	got := make(chan *Portal, 16)
	for range cap(got) {
		go func() {
			p, err := c.Portal(ctx, ids[0])
			if err != nil {
				t.Error(err)
			}
			got <- p
		}()
	}
	first := <-got
	for range cap(got) - 1 {
		if p := <-got; p != first {
			t.Fatal("two requests at once got two builds of one portal")
		}
	}
	if n := counted.reads.Load(); n != 1 {
		t.Errorf("%d policies read for one portal asked for 16 times at once", n)
	}
}
