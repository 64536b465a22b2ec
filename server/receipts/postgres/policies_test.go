package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// TestPoliciesNotified: a publication and a deletion by one process wake
// another's WaitPolicies within a second; an unchanged publication moves
// nothing, and a cancelled wait returns.
func TestPoliciesNotified(t *testing.T) {
	_, dsn := newDatabase(t)
	a, b := openStore(t, dsn), openStore(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.WaitPolicies(ctx); err != nil { // starts listening only
		t.Fatal(err)
	}
	body := []byte(`{"id":"shop"}`)
	pub := receipts.Publication{Portal: "shop", Revision: 1, Policy: body, By: "admin", Via: receipts.ViaAPI}
	for _, change := range []struct {
		what string
		do   func() error
	}{
		{"a publication", func() error { _, _, err := a.Publish(ctx, pub, time.Now()); return err }},
		{"a deletion", func() error { return a.DeletePolicy(ctx, "shop", 0) }},
	} {
		woke := make(chan error, 1)
		go func() { woke <- b.WaitPolicies(ctx) }()
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		if err := change.do(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-woke:
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("%s: told after %v, want within 1 s", change.what, d)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s did not wake WaitPolicies", change.what)
		}
	}
	g, err := b.PolicyGeneration(ctx)
	if err != nil || g != 2 {
		t.Errorf("PolicyGeneration = %d, %v; want 2", g, err)
	}
	short, stop := context.WithTimeout(ctx, 100*time.Millisecond)
	defer stop()
	if err := b.WaitPolicies(short); err == nil {
		t.Error("WaitPolicies returned nil with no change and its context ended")
	}
}
