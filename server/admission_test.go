package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// gateStore is a receipts store whose appends wait for the test (a slow
// database) or fail as unreachable, counted.
type gateStore struct {
	receipts.Store
	gate    chan struct{} // an append waits for a value, or its close
	entered chan struct{}
	down    atomic.Bool
	calls   atomic.Int32
}

func (g *gateStore) Append(ctx context.Context, r *receipts.Receipt, undeclared []receipts.Name) error {
	g.calls.Add(1)
	if g.down.Load() {
		return fmt.Errorf("%w: dial: connection refused", receipts.ErrUnavailable)
	}
	g.entered <- struct{}{}
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Store.Append(ctx, r, undeclared)
}

// TestAdmission: with 2 receipts waiting for a slow store, a third is
// refused at once (503, Retry-After) rather than parked, and the two are
// stored (201) once the store answers; a store that answers unreachable
// has the beacons refused at once, without being asked, for a second.
func TestAdmission(t *testing.T) {
	st := &gateStore{Store: openTestStore(t), gate: make(chan struct{}), entered: make(chan struct{}, 8)}
	s := newReceiptServer(t, st, nil, WithRateLimit(0, 0), WithReceiptQueue(2))
	p := testPortal(t, s, "mtran").Policy
	send := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/portals/mtran/consents",
			strings.NewReader(receiptJSONBody(consentValue(p, testNow).Encode(), "reject-all", "en", "https://mtran.my.opendatasoft.com/")))
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec
	}
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Go(func() { codes[i] = send().Code })
	}
	for range 2 {
		select {
		case <-st.entered:
		case <-time.After(10 * time.Second):
			close(st.gate)
			wg.Wait()
			t.Fatalf("the two first receipts never reached the store: answered %v", codes)
		}
	}
	start := time.Now()
	rec := send()
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), "too many receipts waiting") {
		t.Errorf("a third receipt beside two waiting: %d %q %s, want 503 with Retry-After 1", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	// Not a timing of the refusal (benchmarks time things): a bound far
	// below the store's own deadline (10 s) that shows the caller was not
	// parked waiting for a place, even on a loaded machine.
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the refusal took %v: a caller beyond the queue must not wait", d)
	}
	close(st.gate)
	wg.Wait()
	if codes[0] != 201 || codes[1] != 201 {
		t.Errorf("the two admitted receipts: %v, want 201 each", codes)
	}
	if rec := send(); rec.Code != 201 {
		t.Errorf("once the queue drained: %d, want 201", rec.Code)
	}

	// The store unreachable: the first is told so (503, Retry-After), the
	// next are refused without asking the store, for a second.
	st.down.Store(true)
	if rec := send(); rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Errorf("store unreachable: %d %q, want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	calls := st.calls.Load()
	for range 5 {
		if rec := send(); rec.Code != 503 || rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), "does not answer") {
			t.Errorf("store known down: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
	}
	if n := st.calls.Load() - calls; n != 0 {
		t.Errorf("the store known down was asked %d times within its second", n)
	}
	st.down.Store(false)
	time.Sleep(1100 * time.Millisecond)
	if rec := send(); rec.Code != 201 {
		t.Errorf("a second later, the store back: %d, want 201", rec.Code)
	}
}
