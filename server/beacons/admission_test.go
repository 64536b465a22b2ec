package beacons

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/catalogue"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/servertest"
)

// slowStore is a receipts store whose appends wait for gate (a slow
// database), counting how many are inside Append at once.
type slowStore struct {
	receipts.Store
	gate         chan struct{} // an append waits for a value, or its close
	inside, most atomic.Int32
	entered      chan struct{}
}

func (s *slowStore) Append(ctx context.Context, r *receipts.Receipt, undeclared []receipts.Name) error {
	n := s.inside.Add(1)
	defer s.inside.Add(-1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	select {
	case <-s.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.Append(ctx, r, undeclared)
}

// countingBody is a request body that counts the bytes read from it.
type countingBody struct {
	r    io.Reader
	read atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *countingBody) Close() error { return nil }

// newTestBeacons returns the beacons of the default portals on st, with a
// queue of queue writes, and the mtran policy.
func newTestBeacons(t *testing.T, st receipts.Store, queue int) (*Beacons, *policy.Policy) {
	t.Helper()
	ps, err := policy.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	cat := catalogue.New(servertest.Assets(t), st, log, time.Now)
	if err := cat.Publish(ps); err != nil {
		t.Fatal(err)
	}
	p, err := cat.Portal(context.Background(), "mtran")
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{Catalogue: cat, Store: st, Admission: NewAdmission(queue), Now: time.Now, Log: log}), p.Policy
}

// postReceipt serves one receipt request with body to b.
func postReceipt(b *Beacons, body io.ReadCloser, size int64) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/portals/mtran/consents", nil)
	req.Body, req.ContentLength = body, size
	req.SetPathValue("id", "mtran")
	rec := httptest.NewRecorder()
	b.PostConsent(rec, req)
	return rec
}

// receiptBodyOf returns the body of a new receipt of p.
func receiptBodyOf(p *policy.Policy) string {
	return servertest.ReceiptJSONBody(servertest.ConsentValue(p, time.Now()).Encode(), "reject-all", "en", "https://mtran.my.opendatasoft.com/p")
}

// TestRefusedBeforeTheBody: with the queue full, a receipt is refused
// 503 with Retry-After and a small body before a byte of its body is
// read: a valid one keeps its connection (the server drains it), one
// declaring more than the route's bound, or no size, has it closed
// rather than read.
func TestRefusedBeforeTheBody(t *testing.T) {
	st := &slowStore{Store: servertest.OpenStore(t), gate: make(chan struct{}), entered: make(chan struct{}, 2)}
	b, mtran := newTestBeacons(t, st, 2)
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		body := receiptBodyOf(mtran)
		wg.Go(func() { codes[i] = postReceipt(b, io.NopCloser(strings.NewReader(body)), int64(len(body))).Code })
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
	valid := receiptBodyOf(mtran)
	for _, c := range []struct {
		name  string
		body  string
		size  int64
		close bool
	}{
		{"a valid receipt", valid, int64(len(valid)), false},
		{"a 1 MiB body", strings.Repeat("x", 1<<20), 1 << 20, true},
		{"a body of no stated size", valid, -1, true},
	} {
		body := &countingBody{r: strings.NewReader(c.body)}
		rec := postReceipt(b, body, c.size)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), "too many receipts waiting") {
			t.Errorf("%s beside a full queue: %d %q %s, want 503 with Retry-After 1", c.name, rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
		if n := body.read.Load(); n != 0 {
			t.Errorf("%s beside a full queue: %d bytes of its body read before the refusal", c.name, n)
		}
		if rec.Body.Len() > 128 {
			t.Errorf("%s: a refusal of %d bytes", c.name, rec.Body.Len())
		}
		if got := rec.Header().Get("Connection") == "close"; got != c.close {
			t.Errorf("%s: Connection %q, want close: %v", c.name, rec.Header().Get("Connection"), c.close)
		}
	}
	close(st.gate)
	wg.Wait()
	if codes[0] != http.StatusCreated || codes[1] != http.StatusCreated {
		t.Errorf("the two admitted receipts: %v, want 201 each", codes)
	}
	if rec := postReceipt(b, io.NopCloser(strings.NewReader(valid)), int64(len(valid))); rec.Code != http.StatusCreated {
		t.Errorf("once the queue drained: %d %s, want 201", rec.Code, rec.Body)
	}
}

// TestAdmissionBoundUnderFlood: 64 callers post receipts at once to a
// queue of 4 in front of a slow store; never more than 4 appends wait for
// the store, every answer is 201 or 503 with Retry-After, and every 201 is
// stored. Run with -race, it also shows the admission free of races.
func TestAdmissionBoundUnderFlood(t *testing.T) {
	gate := make(chan struct{})
	st := &slowStore{Store: servertest.OpenStore(t), gate: gate}
	b, mtran := newTestBeacons(t, st, 4)
	stop := make(chan struct{})
	go func() { // the store lets one append through at a time, slowly
		for {
			select {
			case gate <- struct{}{}:
				time.Sleep(time.Millisecond)
			case <-stop:
				close(gate)
				return
			}
		}
	}()
	var created, busy, other atomic.Int64
	var ids sync.Map
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range 40 {
				c := servertest.ConsentValue(mtran, time.Now())
				body := servertest.ReceiptJSONBody(c.Encode(), "reject-all", "en", "https://mtran.my.opendatasoft.com/p")
				rec := postReceipt(b, io.NopCloser(strings.NewReader(body)), int64(len(body)))
				switch {
				case rec.Code == http.StatusCreated:
					created.Add(1)
					ids.Store(c.ID, true)
				case rec.Code == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") != "":
					busy.Add(1)
				default:
					other.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	t.Logf("%d created, %d refused 503, at most %d appends at once", created.Load(), busy.Load(), st.most.Load())
	if m := st.most.Load(); m > 4 {
		t.Errorf("%d appends waited for the store at once, beyond the queue of 4", m)
	}
	if other.Load() > 0 {
		t.Errorf("%d answers other than 201 and 503 with Retry-After", other.Load())
	}
	if created.Load() == 0 || busy.Load() == 0 {
		t.Errorf("%d created, %d refused: the flood should see both", created.Load(), busy.Load())
	}
	var lost int
	ids.Range(func(k, _ any) bool {
		if rs, err := st.Consent(context.Background(), "mtran", k.(string)); err != nil || len(rs) != 1 {
			lost++
		}
		return true
	})
	if lost > 0 {
		t.Errorf("%d of %d receipts answered 201 not stored", lost, created.Load())
	}
}
