package receiptstest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// resendOf returns r as a browser sends it again later: a new id and
// receive time (the server makes both), another page and method, the same
// cookie value (consent id, decision time, revision, choices).
func resendOf(r *receipts.Receipt, later time.Duration) *receipts.Receipt {
	c := *r
	c.ID = uuid.Must(uuid.NewV7()).String()
	c.ReceivedAt = r.ReceivedAt.Add(later)
	c.Page = "https://shop.example/elsewhere"
	c.Method = receipts.MethodAcceptAll
	c.Seq, c.Prev, c.Hash = 0, "", ""
	return &c
}

// testResend: a receipt sent again (same portal, consent id, decision time,
// revision and choices) is answered ErrResent with the first receipt, and
// nothing of it is stored or counted; across a restart, after other
// receipts of the consent, and when many arrive at once.
func testResend(t *testing.T, b Backend) {
	s := open(t, b)
	ctx := context.Background()
	first := receipt("shop", "consent-r", base)
	if err := s.Append(ctx, first, receipts.Cookies("_tracker")); err != nil {
		t.Fatal(err)
	}
	w := newWant("shop")
	w.receipt(first)

	again := resendOf(first, time.Minute)
	if err := s.Append(ctx, again, receipts.Cookies("_tracker", "_other")); !errors.Is(err, receipts.ErrResent) {
		t.Fatalf("Append of a resend = %v, want ErrResent", err)
	}
	sameReceipt(t, again, first)

	// The same consent id with another choice, or decided at another
	// second, is a new receipt.
	changed := receipt("shop", "consent-r", base.Add(2*time.Minute))
	changed.DecidedAt = first.DecidedAt
	changed.Choices = choices(true, true)
	later := receipt("shop", "consent-r", base.Add(3*time.Minute))
	for _, r := range []*receipts.Receipt{changed, later} {
		if err := s.Append(ctx, r, nil); err != nil {
			t.Fatalf("Append of a new choice of the consent: %v", err)
		}
		w.receipt(r)
	}

	// After a restart and later receipts of the consent, the first is
	// still found.
	s = reopen(t, b, s)
	again = resendOf(first, 4*time.Minute)
	if err := s.Append(ctx, again, nil); !errors.Is(err, receipts.ErrResent) {
		t.Fatalf("Append of a resend after a restart = %v, want ErrResent", err)
	}
	sameReceipt(t, again, first)

	// Many at once, of a new choice: one is stored, every caller gets it.
	fresh := receipt("shop", "consent-burst", base.Add(5*time.Minute))
	const n = 16
	got := make([]*receipts.Receipt, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		got[i] = resendOf(fresh, time.Duration(i)*time.Millisecond)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Append(ctx, got[i], nil)
		}()
	}
	wg.Wait()
	stored := -1
	for i, err := range errs {
		switch {
		case err == nil && stored >= 0:
			t.Errorf("resend %d stored as #%d, and resend %d as #%d", stored, got[stored].Seq, i, got[i].Seq)
		case err == nil:
			stored = i
		case !errors.Is(err, receipts.ErrResent):
			t.Errorf("resend %d: %v", i, err)
		}
	}
	if stored < 0 {
		t.Fatal("none of the concurrent resends was stored")
	}
	w.receipt(got[stored])
	for i := range got {
		if got[i].ID != got[stored].ID || got[i].Seq != got[stored].Seq || !got[i].ReceivedAt.Equal(got[stored].ReceivedAt) {
			t.Errorf("resend %d answered receipt #%d %s, want #%d %s", i, got[i].Seq, got[i].ID, got[stored].Seq, got[stored].ID)
		}
	}

	all := exportAll(t, s, "shop")
	if len(all) != 4 {
		t.Fatalf("%d receipts stored, want 4 (first, changed, later, burst)", len(all))
	}
	sameReceipt(t, all[0], first)
	if err := s.Verify(ctx); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	st, err := s.Stats(ctx, "shop", base.Add(-48*time.Hour), base.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	sameStats(t, st, w.b.Stats())
	tallies, err := s.Undeclared(ctx, "shop", base.Add(-48*time.Hour), base.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(tallies) != 1 || tallies[0].Name != "_tracker" || tallies[0].Count != 1 {
		t.Errorf("undeclared tallies %+v, want _tracker once (a resend's names are not counted)", tallies)
	}
}
