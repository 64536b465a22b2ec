package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// floodFigures is what a flood leaves: the tallies stored, and what the
// console's cookies page and the undeclared API cost to read them.
type floodFigures struct {
	undeclaredRows, reappearedRows int
	pageBytes, apiBytes            int
	pageTime                       time.Duration
	pageAlloc, pagePeakHeap        uint64
}

// measure serves the request of target with header h and returns the
// body's length, the time taken, the bytes allocated meanwhile and the
// peak of the heap in use, sampled every millisecond.
func measure(t *testing.T, s http.Handler, target string, h http.Header) (n int, d time.Duration, alloc, peak uint64) {
	t.Helper()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var top atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > top.Load() {
				top.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	start := time.Now()
	res, body := serve(t, s, "GET", target, h)
	d = time.Since(start)
	close(stop)
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%.500s", target, res.StatusCode, body)
	}
	return len(body), d, after.TotalAlloc - before.TotalAlloc, top.Load()
}

// TestFloodIsBounded floods one portal as the attacker did: 3,050
// receipts of 32 new random undeclared names each (97,600 names) and
// reappeared beacons of 32 random names matching the declared _pk_id.*
// each, all on one day, with no rate limit. The tallies keep at most
// receipts.MaxTallyNames names per portal, day and table (the rest counted
// as one "other" row), and the console's cookies page and the undeclared
// API read at most a page of them: their size and the memory they take
// stay bounded whatever the flood. The figures are logged (-v).
func TestFloodIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("the flood takes a few seconds")
	}
	now := testNow
	s := newReceiptServer(t, openTestStore(t), withStatsCookies(t), WithOperators(testOperators(t)),
		WithSignInRate(0, 0), WithRateLimit(0, 0))
	p := testPortal(t, s, "mtran").Policy
	const receiptsN, perReceipt, workers = 3050, 32, 16
	const page = "https://mtran.my.opendatasoft.com/p"
	start := time.Now()
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 22))
			for next.Add(1) <= receiptsN {
				names := make([]string, perReceipt)
				for i := range names {
					names[i] = fmt.Sprintf("x%016x", rnd.Uint64())
				}
				body := receiptJSONBody(consentValue(p, now).Encode(), "reject-all", "en", page, names...)
				if res, got := post(t, s, "/portals/mtran/consents", body, nil); res.StatusCode != http.StatusCreated {
					if failed.Add(1) == 1 {
						t.Errorf("receipt: %d %s", res.StatusCode, got)
					}
					return
				}
				for i := range names {
					names[i] = fmt.Sprintf("%q", fmt.Sprintf("_pk_id.%x", rnd.Uint64()))
				}
				body = fmt.Sprintf(`{"revision":%d,"names":[%s],"page":%q}`, p.Revision, strings.Join(names, ","), page)
				if res, got := post(t, s, "/portals/mtran/cookies/reappeared", body, nil); res.StatusCode != http.StatusNoContent {
					if failed.Add(1) == 1 {
						t.Errorf("reappeared: %d %s", res.StatusCode, got)
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("flood: %d receipts of %d names and as many reappeared beacons in %v", receiptsN, perReceipt, time.Since(start).Round(time.Millisecond))

	ctx := context.Background()
	day := testNow.Truncate(24 * time.Hour)
	var f floodFigures
	us, err := s.store.Undeclared(ctx, "mtran", day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := s.store.Reappeared(ctx, "mtran", day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	f.undeclaredRows, f.reappearedRows = len(us), len(rs)

	c := signIn(t, s, aliceToken)
	f.pageBytes, f.pageTime, f.pageAlloc, f.pagePeakHeap = measure(t, s, "/console/portals/mtran/cookies",
		http.Header{"Cookie": {c.Name + "=" + c.Value}})
	f.apiBytes, _, _, _ = measure(t, s, "/api/v1/portals/mtran/cookies/undeclared",
		http.Header{"Authorization": {"Bearer " + testAdminToken}})
	t.Logf("tallies stored: %d undeclared rows, %d reappeared rows", f.undeclaredRows, f.reappearedRows)
	t.Logf("console cookies page: %d bytes in %v, %.1f MB allocated, heap in use at most %.1f MB",
		f.pageBytes, f.pageTime.Round(time.Millisecond), float64(f.pageAlloc)/1e6, float64(f.pagePeakHeap)/1e6)
	t.Logf("undeclared API: %d bytes", f.apiBytes)

	// The bounds: the cap plus the "other" row per table (one per category
	// for reappeared: _pk_id.* is statistical only); a console page of at
	// most 100 names a list; an API answer of at most its default page.
	if f.undeclaredRows > 1001 || f.reappearedRows > 1001 {
		t.Errorf("tallies: %d undeclared and %d reappeared rows for one portal and day, want at most 1,001 each", f.undeclaredRows, f.reappearedRows)
	}
	if f.pageBytes > 1<<20 {
		t.Errorf("console cookies page: %d bytes, want at most 1 MiB", f.pageBytes)
	}
	if f.pageAlloc > 64<<20 {
		t.Errorf("console cookies page: %d bytes allocated, want at most 64 MiB", f.pageAlloc)
	}
	if f.apiBytes > 256<<10 {
		t.Errorf("undeclared API: %d bytes, want at most 256 KiB", f.apiBytes)
	}
}
