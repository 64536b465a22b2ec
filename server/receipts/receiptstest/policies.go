package receiptstest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// policies returns s as receipts.Policies, failing the test when the
// backend does not keep policies.
func policies(t *testing.T, s receipts.Store) receipts.Policies {
	t.Helper()
	ps, ok := s.(receipts.Policies)
	if !ok {
		t.Fatalf("%T does not implement receipts.Policies", s)
	}
	return ps
}

// publication returns a publication of portal whose policy JSON says
// what, with one notice in English.
func publication(portal, what string, revision int64) receipts.Publication {
	body := []byte(fmt.Sprintf(`{"id":%q,"name":"The %s portal","revision":%d,"what":%q}`, portal, portal, revision, what))
	notice := []byte(fmt.Sprintf(`{"id":%q,"revision":%d,"what":%q,"lang":"en"}`, portal, revision, what))
	return receipts.Publication{Portal: portal, Revision: revision, Policy: body,
		Source: []byte("id: " + portal + "\n# " + what + "\n"), Format: "yaml", By: "alice", Via: receipts.ViaAPI,
		Notices: []receipts.Notice{{Portal: portal, SHA256: receipts.NoticeHash(notice), Revision: revision, Lang: "en", Body: notice}}}
}

// testPolicies checks receipts.Policies: versions and their audit fields,
// an unchanged publication storing nothing, the notices recorded with the
// publication, If-Match preconditions, delete and a later publication
// going on from the last version, the generation, and a restart.
func testPolicies(t *testing.T, b Backend) {
	s := open(t, b)
	ps := policies(t, s)
	ctx := context.Background()
	gen := func() int64 {
		t.Helper()
		n, err := ps.PolicyGeneration(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	g0 := gen()
	if _, err := ps.CurrentPolicy(ctx, "shop"); !errors.Is(err, receipts.ErrNotFound) {
		t.Fatalf("CurrentPolicy of a portal never published: %v, want ErrNotFound", err)
	}
	if vs, err := ps.PolicyVersions(ctx, "shop"); err != nil || len(vs) != 0 {
		t.Fatalf("PolicyVersions of a portal never published = %v, %v", vs, err)
	}

	p1 := publication("shop", "one", 7)
	v1, changed, err := ps.Publish(ctx, p1, base)
	if err != nil || !changed {
		t.Fatalf("first Publish = %v, %v", changed, err)
	}
	want := receipts.PolicyVersion{Portal: "shop", Version: 1, Revision: 7, PublishedAt: base.Truncate(time.Microsecond), By: "alice",
		Via: receipts.ViaAPI, Policy: p1.Policy, Source: p1.Source, Format: "yaml"}
	checkVersion(t, "first Publish", v1, want)
	cur, err := ps.CurrentPolicy(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	checkVersion(t, "CurrentPolicy", cur, want)
	if cur.ManagedBy() != "database" {
		t.Errorf("ManagedBy = %q, want database", cur.ManagedBy())
	}
	n, err := s.Notice(ctx, "shop", p1.Notices[0].SHA256)
	if err != nil {
		t.Fatalf("the publication's notice is not recorded: %v", err)
	}
	if !n.FirstServed.Equal(base.Truncate(time.Microsecond)) || string(n.Body) != string(p1.Notices[0].Body) || n.Revision != 7 {
		t.Errorf("notice recorded = %+v", n)
	}
	if g := gen(); g == g0 {
		t.Error("the generation did not move with a publication")
	}

	// The same policy again: nothing stored, the generation stays.
	g1 := gen()
	again := p1
	again.By, again.Source = "bob", []byte("# only a comment changed\n")
	v, changed, err := ps.Publish(ctx, again, base.Add(time.Hour))
	if err != nil || changed || v.Version != 1 || v.By != "alice" {
		t.Fatalf("unchanged Publish = %+v, %v, %v; want version 1 by alice, unchanged", v, changed, err)
	}
	if gen() != g1 {
		t.Error("an unchanged publication moved the generation")
	}

	// A new version; the same policy from a file is a version too.
	p2 := publication("shop", "two", 8)
	p2.By, p2.Via = receipts.ByAdmin, receipts.ViaConsole
	if v, changed, err := ps.Publish(ctx, p2, base.Add(2*time.Hour)); err != nil || !changed || v.Version != 2 {
		t.Fatalf("second Publish = %+v, %v, %v", v, changed, err)
	}
	p3 := p2
	p3.By, p3.Via, p3.File = receipts.ByFile, receipts.ViaFile, "shop.yaml"
	v3, changed, err := ps.Publish(ctx, p3, base.Add(3*time.Hour))
	if err != nil || !changed || v3.Version != 3 || v3.ManagedBy() != "file" || v3.File != "shop.yaml" {
		t.Fatalf("Publish of the same policy from a file = %+v, %v, %v", v3, changed, err)
	}
	vs, err := ps.PolicyVersions(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 || vs[0].Version != 3 || vs[1].Version != 2 || vs[2].Version != 1 {
		t.Fatalf("PolicyVersions = %+v, want 3, 2, 1", vs)
	}
	if vs[1].By != "admin" || vs[1].Via != "console" || vs[1].Revision != 8 || !vs[1].PublishedAt.Equal(base.Add(2*time.Hour).Truncate(time.Microsecond)) ||
		vs[0].By != "file" || vs[0].Via != "file" || vs[0].File != "shop.yaml" || vs[1].Policy != nil {
		t.Errorf("PolicyVersions audit fields = %+v", vs)
	}

	// Preconditions.
	stale := publication("shop", "three", 9)
	stale.Match, stale.Version = true, 2
	if _, _, err := ps.Publish(ctx, stale, base.Add(4*time.Hour)); !errors.Is(err, receipts.ErrConflict) {
		t.Fatalf("Publish matching version 2 of a portal at 3: %v, want ErrConflict", err)
	}
	stale.Version = 0
	if _, _, err := ps.Publish(ctx, stale, base.Add(4*time.Hour)); !errors.Is(err, receipts.ErrConflict) {
		t.Fatalf("Publish of a new portal over an existing one: %v, want ErrConflict", err)
	}
	if _, err := s.Notice(ctx, "shop", stale.Notices[0].SHA256); !errors.Is(err, receipts.ErrNotFound) {
		t.Errorf("a refused publication recorded its notice: %v", err)
	}
	stale.Version = 3
	if v, changed, err := ps.Publish(ctx, stale, base.Add(4*time.Hour)); err != nil || !changed || v.Version != 4 {
		t.Fatalf("Publish matching the current version = %+v, %v, %v", v, changed, err)
	}
	fresh := publication("new", "x", 1)
	fresh.Match = true
	if v, _, err := ps.Publish(ctx, fresh, base); err != nil || v.Version != 1 {
		t.Fatalf("Publish of a new portal matching none = %+v, %v", v, err)
	}

	// Refused publications.
	bad := publication("shop", "bad", 1)
	bad.Notices[0].Portal = "other"
	if _, _, err := ps.Publish(ctx, bad, base); err == nil || errors.Is(err, receipts.ErrUnavailable) {
		t.Errorf("Publish with another portal's notice: %v, want a plain error", err)
	}
	bad = publication("Not an id", "bad", 1)
	if _, _, err := ps.Publish(ctx, bad, base); err == nil {
		t.Error("Publish of a malformed portal id succeeded")
	}

	// Delete.
	if err := ps.DeletePolicy(ctx, "shop", 3); !errors.Is(err, receipts.ErrConflict) {
		t.Fatalf("DeletePolicy of a stale version: %v, want ErrConflict", err)
	}
	g2 := gen()
	if err := ps.DeletePolicy(ctx, "shop", 4); err != nil {
		t.Fatal(err)
	}
	if gen() == g2 {
		t.Error("a deletion did not move the generation")
	}
	if _, err := ps.CurrentPolicy(ctx, "shop"); !errors.Is(err, receipts.ErrNotFound) {
		t.Fatalf("CurrentPolicy of a deleted portal: %v", err)
	}
	if err := ps.DeletePolicy(ctx, "shop", 0); !errors.Is(err, receipts.ErrNotFound) {
		t.Fatalf("DeletePolicy of a deleted portal: %v, want ErrNotFound", err)
	}
	all, err := ps.CurrentPolicies(ctx)
	if err != nil || len(all) != 1 || all[0].Portal != "new" || all[0].Version != 1 || all[0].Policy != nil || all[0].Source != nil {
		t.Fatalf("CurrentPolicies after the deletion = %+v, %v; want the version of \"new\" alone, without its policy", all, err)
	}
	if names, err := ps.PolicyNames(ctx); err != nil || len(names) != 1 || names["new"] != "The new portal" {
		t.Fatalf("PolicyNames after the deletion = %v, %v; want new: The new portal", names, err)
	}
	if vs, _ := ps.PolicyVersions(ctx, "shop"); len(vs) != 4 {
		t.Errorf("a deleted portal keeps %d versions, want 4", len(vs))
	}
	if v, _, err := ps.Publish(ctx, publication("shop", "back", 10), base.Add(5*time.Hour)); err != nil || v.Version != 5 {
		t.Fatalf("Publish after the deletion = %+v, %v; want version 5", v, err)
	}

	// A restart keeps everything.
	s = reopen(t, b, s)
	ps = policies(t, s)
	all, err = ps.CurrentPolicies(ctx)
	if err != nil || len(all) != 2 || all[0].Portal != "new" || all[1].Portal != "shop" || all[1].Version != 5 || all[1].Revision != 10 {
		t.Fatalf("CurrentPolicies after a restart = %+v, %v", all, err)
	}
}

// testPoliciesConcurrent publishes one portal from many goroutines at once,
// each matching the version it read: exactly one wins, the others get
// ErrConflict.
func testPoliciesConcurrent(t *testing.T, b Backend) {
	s := open(t, b)
	ps := policies(t, s)
	ctx := context.Background()
	if _, _, err := ps.Publish(ctx, publication("shop", "start", 1), base); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := publication("shop", fmt.Sprint("edit ", i), int64(i+2))
			p.Match, p.Version = true, 1
			_, _, errs[i] = ps.Publish(ctx, p, base.Add(time.Minute))
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, receipts.ErrConflict):
			t.Errorf("concurrent Publish: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d concurrent publications matching version 1 won, want 1", won)
	}
	if vs, _ := ps.PolicyVersions(ctx, "shop"); len(vs) != 2 {
		t.Errorf("%d versions, want 2", len(vs))
	}
}

// checkVersion compares a version with want, times to the microsecond.
func checkVersion(t *testing.T, what string, got, want receipts.PolicyVersion) {
	t.Helper()
	if got.Portal != want.Portal || got.Version != want.Version || got.Revision != want.Revision || !got.PublishedAt.Equal(want.PublishedAt) ||
		got.By != want.By || got.Via != want.Via || got.File != want.File || string(got.Policy) != string(want.Policy) ||
		string(got.Source) != string(want.Source) || got.Format != want.Format {
		t.Errorf("%s = %+v\nwant %+v", what, got, want)
	}
}
