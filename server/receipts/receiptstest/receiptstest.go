// Package receiptstest is the contract test suite of receipts.Store: every
// backend (sqlite, postgres) runs Run against itself, so that they behave
// the same.
//
// The SQL the suite runs to tamper with a database is portable between
// SQLite and PostgreSQL: $1-style placeholders, the tables and columns of
// the shared schema (receipts.prev and receipts.hash are 32 raw bytes,
// passed as []byte).
package receiptstest

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// Backend opens stores for the suite.
type Backend struct {
	// New returns a store on a new, empty database.
	New func(t *testing.T) receipts.Store
	// Reopen closes s and opens the same database again (a restart). s may
	// already be closed.
	Reopen func(t *testing.T, s receipts.Store) receipts.Store
	// Exec runs SQL on s's database directly, bypassing the append-only
	// protection, to tamper with it as an attacker with file access would.
	// It fails the test on an error.
	Exec func(t *testing.T, s receipts.Store, sql string, args ...any)
	// ExecChecked runs SQL on s's database directly through an ordinary
	// connection, with the append-only protection in place, and returns the
	// database's error: the suite checks that UPDATE and DELETE of receipts
	// are refused.
	ExecChecked func(t *testing.T, s receipts.Store, sql string, args ...any) error
	// NewLogged returns a store on a new, empty database that logs to log
	// (the suite checks that a full day of tallies is logged once).
	NewLogged func(t *testing.T, log *slog.Logger) receipts.Store
	// Host opens another store on s's database while s stays open: a
	// second host, with a writer of its own. nil for a backend of one
	// writer (SQLite): the suite's cases of two hosts then append through
	// s alone, and must read the same.
	Host func(t *testing.T, s receipts.Store) receipts.Store
}

// base is the ReceivedAt of the suite's first receipt: a whole microsecond,
// UTC.
var base = time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)

// Run runs the contract suite against b, each case on a new store.
func Run(t *testing.T, b Backend) {
	cases := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"RoundTrip", testRoundTrip},
		{"SeqPerPortal", testSeqPerPortal},
		{"Concurrent", testConcurrent},
		{"Reopen", testReopen},
		{"Consent", testConsent},
		{"Resend", testResend},
		{"Verify", testVerify},
		{"AppendOnly", testAppendOnly},
		{"DeleteBefore", testDeleteBefore},
		{"DeleteAll", testDeleteAll},
		{"Notices", testNotices},
		{"Export", testExport},
		{"Undeclared", testUndeclared},
		{"UndeclaredTypes", testUndeclaredTypes},
		{"Reappeared", testReappeared},
		{"TallyCaps", testTallyCaps},
		{"TallyPages", testTallyPages},
		{"UndeclaredHosts", testUndeclaredHosts},
		{"Checkpoints", testCheckpoints},
		{"Stats", testStats},
		{"StatsConcurrent", testStatsConcurrent},
		{"StatsRetention", testStatsRetention},
		{"ImpressionsFlushed", testImpressionsFlushed},
		{"CancelledContext", testCancelled},
		{"Close", testClose},
		{"Ping", testPing},
		{"Policies", testPolicies},
		{"PoliciesConcurrent", testPoliciesConcurrent},
		{"Operators", testOperators},
		{"OperatorsConcurrent", testOperatorsConcurrent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, b) })
	}
}

// open returns a new store, closed at the end of the test.
func open(t *testing.T, b Backend) receipts.Store {
	t.Helper()
	s := b.New(t)
	t.Cleanup(func() { s.Close() })
	return s
}

// reopen restarts s, the new store closed at the end of the test.
func reopen(t *testing.T, b Backend, s receipts.Store) receipts.Store {
	t.Helper()
	s = b.Reopen(t, s)
	t.Cleanup(func() { s.Close() })
	return s
}

// receipt returns an unsealed receipt of portal and consent id received at
// at.
func receipt(portal, consentID string, at time.Time) *receipts.Receipt {
	return &receipts.Receipt{
		ID:        uuid.Must(uuid.NewV7()).String(),
		Portal:    portal,
		ConsentID: consentID,
		Revision:  3,
		Choices: []policy.Choice{
			{Category: "necessary", Accepted: true},
			{Category: "statistical", Accepted: false},
			{Category: "marketing", Accepted: true},
		},
		Method:     receipts.MethodCustom,
		Lang:       "fr",
		Page:       "https://shop.example/cart",
		DecidedAt:  at.Add(-3 * time.Second).Truncate(time.Second),
		ReceivedAt: at,
		Notice:     receipts.NoticeHash([]byte(`{"revision":3}`)),
	}
}

// appendN appends n receipts to portal, received a minute apart from
// start, and returns them sealed.
func appendN(t *testing.T, s receipts.Store, portal string, start time.Time, n int) []*receipts.Receipt {
	t.Helper()
	var out []*receipts.Receipt
	for i := range n {
		r := receipt(portal, fmt.Sprintf("c-%s-%d", portal, i), start.Add(time.Duration(i)*time.Minute))
		if err := s.Append(context.Background(), r, nil); err != nil {
			t.Fatalf("Append %s #%d: %v", portal, i+1, err)
		}
		out = append(out, r)
	}
	return out
}

// sameReceipt fails the test unless got has every field of want exactly,
// times in UTC.
func sameReceipt(t *testing.T, got, want *receipts.Receipt) {
	t.Helper()
	type field struct {
		name      string
		got, want any
	}
	fields := []field{
		{"ID", got.ID, want.ID}, {"Portal", got.Portal, want.Portal}, {"Seq", got.Seq, want.Seq},
		{"ConsentID", got.ConsentID, want.ConsentID}, {"Revision", got.Revision, want.Revision},
		{"Choices", receipts.EncodeChoices(got.Choices), receipts.EncodeChoices(want.Choices)},
		{"Method", got.Method, want.Method}, {"Lang", got.Lang, want.Lang}, {"Page", got.Page, want.Page},
		{"DecidedAt", got.DecidedAt.UnixNano(), want.DecidedAt.UnixNano()},
		{"ReceivedAt", got.ReceivedAt.UnixNano(), want.ReceivedAt.UnixNano()},
		{"Notice", got.Notice, want.Notice}, {"Prev", got.Prev, want.Prev}, {"Hash", got.Hash, want.Hash},
		{"DecidedAt location", got.DecidedAt.Location(), time.UTC},
		{"ReceivedAt location", got.ReceivedAt.Location(), time.UTC},
	}
	for _, f := range fields {
		if f.got != f.want {
			t.Errorf("receipt #%d %s = %v, want %v", want.Seq, f.name, f.got, f.want)
		}
	}
	if len(got.Choices) != len(want.Choices) {
		t.Errorf("receipt #%d: %d choices, want %d", want.Seq, len(got.Choices), len(want.Choices))
	}
}

// exportAll returns every receipt of portal.
func exportAll(t *testing.T, s receipts.Store, portal string) []*receipts.Receipt {
	t.Helper()
	var out []*receipts.Receipt
	err := s.Export(context.Background(), portal, time.Unix(0, 0), time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), func(r *receipts.Receipt) error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Export %s: %v", portal, err)
	}
	return out
}

// hashBytes returns the 32 bytes of a hex hash.
func hashBytes(t *testing.T, h string) []byte {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		t.Fatalf("hash %q: %v", h, err)
	}
	return b
}

func testRoundTrip(t *testing.T, b Backend) {
	s := open(t, b)
	ctx := context.Background()
	r := receipt("shop", "consent-1", base)
	want := *r
	if err := s.Append(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	if r.Seq != 1 || r.Prev != receipts.Genesis || r.Hash != r.ComputeHash() {
		t.Fatalf("sealed as #%d prev %s hash %s", r.Seq, r.Prev, r.Hash)
	}
	want.Seq, want.Prev, want.Hash = r.Seq, r.Prev, r.Hash
	got, err := s.Consent(ctx, "shop", "consent-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("Consent: %d receipts, want 1", len(got))
	}
	sameReceipt(t, &got[0], &want)
	for i, c := range got[0].Choices {
		if c != want.Choices[i] {
			t.Errorf("choice %d = %v, want %v", i, c, want.Choices[i])
		}
	}
	if got[0].ComputeHash() != got[0].Hash {
		t.Error("the stored receipt does not hash to its Hash")
	}
}

func testSeqPerPortal(t *testing.T, b Backend) {
	s := open(t, b)
	ctx := context.Background()
	var sealed []*receipts.Receipt
	for i, portal := range []string{"a", "b", "a", "a", "b"} {
		r := receipt(portal, fmt.Sprint("c", i), base.Add(time.Duration(i)*time.Second))
		if err := s.Append(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
		sealed = append(sealed, r)
	}
	last := map[string]*receipts.Receipt{}
	for _, r := range sealed {
		prev, seq := receipts.Genesis, int64(1)
		if l := last[r.Portal]; l != nil {
			prev, seq = l.Hash, l.Seq+1
		}
		if r.Seq != seq || r.Prev != prev || r.Hash != r.ComputeHash() {
			t.Errorf("portal %s: sealed #%d prev %.8s, want #%d prev %.8s (hash ok: %v)", r.Portal, r.Seq, r.Prev, seq, prev, r.Hash == r.ComputeHash())
		}
		last[r.Portal] = r
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

func testConcurrent(t *testing.T, b Backend) {
	s := open(t, b)
	const workers, each = 64, 50
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seqs = map[string][]int64{}
		errs []error
	)
	for w := range workers {
		wg.Go(func() {
			portal := []string{"a", "b"}[w%2]
			for i := range each {
				r := receipt(portal, fmt.Sprintf("w%d-%d", w, i), base.Add(time.Duration(w*each+i)*time.Microsecond))
				err := s.Append(context.Background(), r, receipts.Cookies("_ga"))
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					seqs[portal] = append(seqs[portal], r.Seq)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d appends failed, first: %v", len(errs), errs[0])
	}
	for portal, got := range seqs {
		slices.Sort(got)
		for i, seq := range got {
			if seq != int64(i+1) {
				t.Fatalf("portal %s: seq #%d is %d; seqs not contiguous", portal, i+1, seq)
			}
		}
		if n := len(exportAll(t, s, portal)); n != workers/2*each {
			t.Errorf("portal %s: %d receipts stored, want %d", portal, n, workers/2*each)
		}
	}
	if err := s.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
	tallies, err := s.Undeclared(context.Background(), "a", base.Truncate(24*time.Hour), base.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(tallies) != 1 || tallies[0].Count != workers/2*each {
		t.Errorf("tallies of a: %+v, want one of count %d", tallies, workers/2*each)
	}
}

func testReopen(t *testing.T, b Backend) {
	s := open(t, b)
	ctx := context.Background()
	before := appendN(t, s, "shop", base, 3)
	if err := s.ServeNotice(ctx, receipts.Notice{Portal: "shop", SHA256: receipts.NoticeHash([]byte("doc")), Revision: 1, Lang: "en", Body: []byte("doc")}, base); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, b, s)
	got := exportAll(t, s, "shop")
	if len(got) != 3 {
		t.Fatalf("after reopen: %d receipts, want 3", len(got))
	}
	for i := range got {
		sameReceipt(t, got[i], before[i])
	}
	if _, err := s.Notice(ctx, "shop", receipts.NoticeHash([]byte("doc"))); err != nil {
		t.Errorf("notice after reopen: %v", err)
	}
	r := receipt("shop", "after", base.Add(time.Hour))
	if err := s.Append(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	if r.Seq != 4 || r.Prev != before[2].Hash {
		t.Errorf("after reopen sealed as #%d prev %.8s, want #4 prev %.8s", r.Seq, r.Prev, before[2].Hash)
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

func testConsent(t *testing.T, b Backend) {
	s := open(t, b)
	ctx := context.Background()
	var mine []*receipts.Receipt
	for i := range 6 {
		id := "other"
		if i%2 == 0 {
			id = "mine"
		}
		r := receipt("shop", id, base.Add(time.Duration(i)*time.Second))
		if err := s.Append(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
		if id == "mine" {
			mine = append(mine, r)
		}
	}
	appendN(t, s, "elsewhere", base, 1) // consent id c-elsewhere-0
	got, err := s.Consent(ctx, "shop", "mine")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(mine) {
		t.Fatalf("Consent: %d receipts, want %d", len(got), len(mine))
	}
	for i := range got {
		sameReceipt(t, &got[i], mine[i])
	}
	for _, q := range [][2]string{{"shop", "nobody"}, {"nowhere", "mine"}, {"shop", "c-elsewhere-0"}} {
		if _, err := s.Consent(ctx, q[0], q[1]); !errors.Is(err, receipts.ErrNotFound) {
			t.Errorf("Consent(%q, %q) = %v, want ErrNotFound", q[0], q[1], err)
		}
	}
}

// brokenAt fails the test unless err is a *BrokenLink of portal at seq.
func brokenAt(t *testing.T, err error, portal string, seq int64, missing bool) {
	t.Helper()
	var bl *receipts.BrokenLink
	if !errors.As(err, &bl) {
		t.Fatalf("Verify = %v, want a *BrokenLink at %s #%d", err, portal, seq)
	}
	if bl.Portal != portal || bl.Seq != seq {
		t.Fatalf("Verify = %v, want it at %s #%d", err, portal, seq)
	}
	if missing != (bl.ReceiptID == "") {
		t.Errorf("Verify = %v: ReceiptID %q, want missing: %v", err, bl.ReceiptID, missing)
	}
}

func testVerify(t *testing.T, b Backend) {
	// Each case tampers with the 5 receipts of portal "shop" (portal
	// "other" stays intact) and says where Verify must find the break.
	cases := []struct {
		name    string
		tamper  func(t *testing.T, s receipts.Store, rs []*receipts.Receipt)
		seq     int64
		missing bool
	}{
		{"altered field", func(t *testing.T, s receipts.Store, rs []*receipts.Receipt) {
			b.Exec(t, s, `UPDATE receipts SET page = $1 WHERE portal = $2 AND seq = $3`, "https://evil.example/", "shop", 3)
		}, 3, false},
		{"altered choices", func(t *testing.T, s receipts.Store, rs []*receipts.Receipt) {
			b.Exec(t, s, `UPDATE receipts SET choices = $1 WHERE portal = $2 AND seq = $3`, "necessary=1/statistical=1/marketing=1", "shop", 2)
		}, 2, false},
		{"altered and rehashed", func(t *testing.T, s receipts.Store, rs []*receipts.Receipt) {
			r := *rs[2]
			r.Page = "https://evil.example/"
			b.Exec(t, s, `UPDATE receipts SET page = $1, hash = $2 WHERE portal = $3 AND seq = $4`, r.Page, hashBytes(t, r.ComputeHash()), "shop", 3)
		}, 4, false},
		{"two altered: the first is named", func(t *testing.T, s receipts.Store, rs []*receipts.Receipt) {
			b.Exec(t, s, `UPDATE receipts SET method = $1 WHERE portal = $2 AND seq = $3`, receipts.MethodRejectAll, "shop", 4)
			b.Exec(t, s, `UPDATE receipts SET lang = $1 WHERE portal = $2 AND seq = $3`, "de", "shop", 2)
		}, 2, false},
		{"deleted first", func(t *testing.T, s receipts.Store, rs []*receipts.Receipt) {
			b.Exec(t, s, `DELETE FROM receipts WHERE portal = $1 AND seq = $2`, "shop", 1)
		}, 1, true},
		{"deleted middle", func(t *testing.T, s receipts.Store, rs []*receipts.Receipt) {
			b.Exec(t, s, `DELETE FROM receipts WHERE portal = $1 AND seq = $2`, "shop", 3)
		}, 3, true},
		{"deleted last", func(t *testing.T, s receipts.Store, rs []*receipts.Receipt) {
			b.Exec(t, s, `DELETE FROM receipts WHERE portal = $1 AND seq = $2`, "shop", 5)
		}, 5, true},
		{"deleted all", func(t *testing.T, s receipts.Store, rs []*receipts.Receipt) {
			b.Exec(t, s, `DELETE FROM receipts WHERE portal = $1`, "shop")
		}, 1, true},
		{"inserted with a wrong prev", func(t *testing.T, s receipts.Store, rs []*receipts.Receipt) {
			forge(t, b, s, rs[4], receipts.NoticeHash([]byte("not the previous receipt")))
		}, 6, false},
		{"inserted after the head", func(t *testing.T, s receipts.Store, rs []*receipts.Receipt) {
			forge(t, b, s, rs[4], rs[4].Hash) // a valid link, but past the chain's head
		}, 6, false},
		{"reordered", func(t *testing.T, s receipts.Store, rs []*receipts.Receipt) {
			b.Exec(t, s, `UPDATE receipts SET seq = $1 WHERE portal = $2 AND seq = $3`, -1, "shop", 2)
			b.Exec(t, s, `UPDATE receipts SET seq = $1 WHERE portal = $2 AND seq = $3`, 2, "shop", 3)
			b.Exec(t, s, `UPDATE receipts SET seq = $1 WHERE portal = $2 AND seq = $3`, 3, "shop", -1)
		}, 2, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t, b)
			appendN(t, s, "other", base, 3)
			rs := appendN(t, s, "shop", base, 5)
			if err := s.Verify(context.Background()); err != nil {
				t.Fatalf("before tampering: %v", err)
			}
			c.tamper(t, s, rs)
			brokenAt(t, s.Verify(context.Background()), "shop", c.seq, c.missing)
		})
	}
}

// forge inserts after last a copy of it at the next seq, with prev and a
// hash that matches the forged content.
func forge(t *testing.T, b Backend, s receipts.Store, last *receipts.Receipt, prev string) {
	f := *last
	f.Seq, f.Prev, f.Page = last.Seq+1, prev, "https://forged.example/"
	b.Exec(t, s, `INSERT INTO receipts (id, portal, seq, consent_id, revision, choices, method, lang, page, decided_at, received_at, notice, prev, hash)
		SELECT id, portal, $1, consent_id, revision, choices, method, lang, $2, decided_at, received_at, notice, $3, $4
		FROM receipts WHERE portal = $5 AND seq = $6`,
		f.Seq, f.Page, hashBytes(t, f.Prev), hashBytes(t, f.ComputeHash()), last.Portal, last.Seq)
}

func testAppendOnly(t *testing.T, b Backend) {
	s := open(t, b)
	ctx := context.Background()
	rs := appendN(t, s, "shop", base, 4)
	check := func(when string) {
		t.Helper()
		for _, q := range []string{
			`UPDATE receipts SET page = 'https://evil.example/' WHERE portal = 'shop'`,
			`DELETE FROM receipts WHERE portal = 'shop'`,
		} {
			if err := b.ExecChecked(t, s, q); err == nil {
				t.Errorf("%s: %q succeeded, want it refused", when, q)
			}
		}
		if err := s.Verify(ctx); err != nil {
			t.Errorf("%s: %v", when, err)
		}
	}
	check("before DeleteBefore")
	if n, err := s.DeleteBefore(ctx, rs[2].ReceivedAt); err != nil || n != 2 {
		t.Fatalf("DeleteBefore = %d, %v; want 2", n, err)
	}
	check("after DeleteBefore")
	if got := exportAll(t, s, "shop"); len(got) != 2 {
		t.Errorf("%d receipts left, want 2", len(got))
	}
}

func testDeleteBefore(t *testing.T, b Backend) {
	s := open(t, b)
	ctx := context.Background()
	day := base.Truncate(24 * time.Hour)
	// shop: 10 receipts, one a day from base; other: 4, one a day.
	var shop, other []*receipts.Receipt
	for i := range 10 {
		at := base.Add(time.Duration(i) * 24 * time.Hour)
		r := receipt("shop", fmt.Sprint("s", i), at)
		if err := s.Append(ctx, r, receipts.Cookies("_ga")); err != nil {
			t.Fatal(err)
		}
		shop = append(shop, r)
		if i < 4 {
			r := receipt("other", fmt.Sprint("o", i), at)
			if err := s.Append(ctx, r, receipts.Cookies("_fbp")); err != nil {
				t.Fatal(err)
			}
			other = append(other, r)
		}
	}
	// The cutoff is just after the 6th receipt of shop, on its day.
	cutoff := shop[5].ReceivedAt.Add(time.Microsecond)
	n, err := s.DeleteBefore(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if n != 6+4 {
		t.Errorf("DeleteBefore deleted %d, want 10", n)
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatalf("after retention: %v", err)
	}
	left := exportAll(t, s, "shop")
	if len(left) != 4 || left[0].Seq != 7 {
		t.Fatalf("after retention: %d receipts from #%d, want 4 from #7", len(left), left[0].Seq)
	}
	if got := exportAll(t, s, "other"); len(got) != 0 {
		t.Errorf("other: %d receipts left, want 0", len(got))
	}
	if _, err := s.Consent(ctx, "shop", "s0"); !errors.Is(err, receipts.ErrNotFound) {
		t.Errorf("Consent of a deleted receipt: %v, want ErrNotFound", err)
	}
	// The tallies of days before the cutoff's day are gone, the others kept.
	tallies, err := s.Undeclared(ctx, "shop", day, day.Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(tallies) != 5 || !tallies[0].Day.Equal(cutoff.Truncate(24*time.Hour)) {
		t.Errorf("tallies after retention: %d from %v, want 5 from %v", len(tallies), tallies[0].Day, cutoff.Truncate(24*time.Hour))
	}
	if n, err := s.DeleteBefore(ctx, cutoff); n != 0 || err != nil {
		t.Errorf("DeleteBefore again = %d, %v; want 0", n, err)
	}
	// Both chains go on after their anchor.
	r := receipt("shop", "new", base.Add(20*24*time.Hour))
	if err := s.Append(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	if r.Seq != 11 || r.Prev != shop[9].Hash {
		t.Errorf("after retention sealed as #%d, want #11 after the last", r.Seq)
	}
	o := receipt("other", "new", base.Add(20*24*time.Hour))
	if err := s.Append(ctx, o, nil); err != nil {
		t.Fatal(err)
	}
	if o.Seq != 5 || o.Prev != other[3].Hash {
		t.Errorf("other after retention sealed as #%d, want #5 after the deleted last", o.Seq)
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, b, s)
	if err := s.Verify(ctx); err != nil {
		t.Fatalf("after reopen: %v", err)
	}
	// A deletion past the anchor is still caught.
	b.Exec(t, s, `DELETE FROM receipts WHERE portal = $1 AND seq = $2`, "shop", 7)
	brokenAt(t, s.Verify(ctx), "shop", 7, true)
}

func testDeleteAll(t *testing.T, b Backend) {
	s := open(t, b)
	ctx := context.Background()
	rs := appendN(t, s, "shop", base, 3)
	if n, err := s.DeleteBefore(ctx, base.Add(time.Hour)); n != 3 || err != nil {
		t.Fatalf("DeleteBefore = %d, %v; want 3", n, err)
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatalf("empty chain after retention: %v", err)
	}
	r := receipt("shop", "new", base.Add(2*time.Hour))
	if err := s.Append(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	if r.Seq != 4 || r.Prev != rs[2].Hash {
		t.Errorf("sealed as #%d prev %.8s, want #4 prev %.8s", r.Seq, r.Prev, rs[2].Hash)
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

func testNotices(t *testing.T, b Backend) {
	s := open(t, b)
	ctx := context.Background()
	at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }
	doc := func(portal, body string, rev int64, lang string) receipts.Notice {
		return receipts.Notice{Portal: portal, SHA256: receipts.NoticeHash([]byte(body)), Revision: rev, Lang: lang, Body: []byte(body)}
	}
	en, fr, q := doc("shop", `{"lang":"en"}`, 2, "en"), doc("shop", `{"lang":"fr"}`, 2, "fr"), doc("other", `{"lang":"en"}`, 1, "en")
	serves := []struct {
		n  receipts.Notice
		at int
	}{{fr, 2}, {en, 1}, {en, 5}, {en, 3}, {q, 0}, {fr, 2}}
	for _, sv := range serves {
		n := sv.n
		n.FirstServed, n.LastServed = at(100), at(100) // ignored
		if err := s.ServeNotice(ctx, n, at(sv.at)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Notice(ctx, "shop", en.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Body) != string(en.Body) || got.Revision != 2 || got.Lang != "en" || got.Portal != "shop" || got.SHA256 != en.SHA256 {
		t.Errorf("Notice = %+v", got)
	}
	if !got.FirstServed.Equal(at(1)) || !got.LastServed.Equal(at(5)) {
		t.Errorf("served %v..%v, want %v..%v (LastServed only moves forward)", got.FirstServed, got.LastServed, at(1), at(5))
	}
	if got.FirstServed.Location() != time.UTC || got.LastServed.Location() != time.UTC {
		t.Error("served times are not UTC")
	}
	all, err := s.Notices(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Lang != "en" || all[1].Lang != "fr" || string(all[1].Body) != string(fr.Body) {
		t.Errorf("Notices = %+v, want en then fr", all)
	}
	if _, err := s.Notice(ctx, "shop", receipts.NoticeHash([]byte("never served"))); !errors.Is(err, receipts.ErrNotFound) {
		t.Errorf("Notice of an unknown document: %v, want ErrNotFound", err)
	}
	if _, err := s.Notice(ctx, "nowhere", en.SHA256); !errors.Is(err, receipts.ErrNotFound) {
		t.Errorf("Notice of an unknown portal: %v, want ErrNotFound", err)
	}
	if all, err := s.Notices(ctx, "nowhere"); err != nil || len(all) != 0 {
		t.Errorf("Notices of an unknown portal = %v, %v", all, err)
	}
}

func testExport(t *testing.T, b Backend) {
	s := open(t, b)
	ctx := context.Background()
	rs := appendN(t, s, "shop", base, 10)
	appendN(t, s, "other", base, 3)
	var got []*receipts.Receipt
	err := s.Export(ctx, "shop", rs[2].ReceivedAt, rs[7].ReceivedAt, func(r *receipts.Receipt) error {
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("Export [#3, #8): %d receipts, want 5", len(got))
	}
	for i, r := range got {
		sameReceipt(t, r, rs[2+i])
	}
	stop := errors.New("stop")
	calls := 0
	err = s.Export(ctx, "shop", base, base.Add(time.Hour), func(r *receipts.Receipt) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 2 {
		t.Errorf("Export stopped after %d calls with %v, want 2 and the fn's error", calls, err)
	}
	calls = 0
	err = s.Export(ctx, "nowhere", base, base.Add(time.Hour), func(*receipts.Receipt) error { calls++; return nil })
	if err != nil || calls != 0 {
		t.Errorf("Export of an unknown portal: %d calls, %v", calls, err)
	}
}

func testUndeclared(t *testing.T, b Backend) {
	s := open(t, b)
	ctx := context.Background()
	day := base.Truncate(24 * time.Hour)
	type appendAt struct {
		at    time.Duration // after day
		page  string
		names []string
	}
	var pages []string
	for i := range 8 {
		pages = append(pages, fmt.Sprintf("https://shop.example/p%d", i))
	}
	appends := []appendAt{
		{10 * time.Hour, pages[0], []string{"_ga", "_fbp"}},
		{11 * time.Hour, pages[1], []string{"_ga"}},
		{9 * time.Hour, pages[0], []string{"_ga"}}, // received out of order
		{12 * time.Hour, pages[2], []string{"_ga"}},
		{12 * time.Hour, pages[3], []string{"_ga"}},
		{12 * time.Hour, pages[4], []string{"_ga"}},
		{13 * time.Hour, pages[5], []string{"_ga"}},
		{13 * time.Hour, pages[6], []string{"_ga"}},
		{25 * time.Hour, pages[7], []string{"_ga"}}, // the next day
		{14 * time.Hour, pages[1], nil},
	}
	for i, a := range appends {
		r := receipt("shop", fmt.Sprint("c", i), day.Add(a.at))
		r.Page = a.page
		if err := s.Append(ctx, r, receipts.Cookies(a.names...)); err != nil {
			t.Fatal(err)
		}
	}
	appendN(t, s, "other", base, 1)
	got, err := s.Undeclared(ctx, "shop", day, day.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []receipts.Undeclared{
		{Portal: "shop", Day: day, Name: "_fbp", Count: 1, FirstSeen: day.Add(10 * time.Hour), LastSeen: day.Add(10 * time.Hour), Pages: pages[:1]},
		{Portal: "shop", Day: day, Name: "_ga", Count: 8, FirstSeen: day.Add(9 * time.Hour), LastSeen: day.Add(13 * time.Hour), Pages: pages[:receipts.MaxPages]},
		{Portal: "shop", Day: day.Add(24 * time.Hour), Name: "_ga", Count: 1, FirstSeen: day.Add(25 * time.Hour), LastSeen: day.Add(25 * time.Hour), Pages: pages[7:8]},
	}
	if len(got) != len(want) {
		t.Fatalf("Undeclared: %d tallies %+v, want %d", len(got), got, len(want))
	}
	for i, g := range got {
		w := want[i]
		sort.Strings(g.Pages)
		if g.Portal != w.Portal || !g.Day.Equal(w.Day) || g.Name != w.Name || g.Count != w.Count ||
			!g.FirstSeen.Equal(w.FirstSeen) || !g.LastSeen.Equal(w.LastSeen) || !slices.Equal(g.Pages, w.Pages) {
			t.Errorf("tally %d = %+v\nwant %+v", i, g, w)
		}
		if g.Day.Location() != time.UTC || g.FirstSeen.Location() != time.UTC {
			t.Errorf("tally %d: times not UTC", i)
		}
	}
	next, err := s.Undeclared(ctx, "shop", day.Add(24*time.Hour), day.Add(48*time.Hour))
	if err != nil || len(next) != 1 || next[0].Name != "_ga" {
		t.Errorf("Undeclared of the second day = %+v, %v", next, err)
	}
	if o, err := s.Undeclared(ctx, "other", day, day.Add(48*time.Hour)); err != nil || len(o) != 0 {
		t.Errorf("Undeclared of other = %+v, %v; want none", o, err)
	}
}

func testCancelled(t *testing.T, b Backend) {
	s := open(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := receipt("shop", "cancelled", base)
	if err := s.Append(ctx, r, receipts.Cookies("_ga")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a cancelled context = %v, want context.Canceled", err)
	}
	if _, err := s.Consent(context.Background(), "shop", "cancelled"); !errors.Is(err, receipts.ErrNotFound) {
		t.Errorf("the cancelled receipt was stored: %v", err)
	}
	rs := appendN(t, s, "shop", base, 1)
	if rs[0].Seq != 1 {
		t.Errorf("after a cancelled append, sealed as #%d, want #1", rs[0].Seq)
	}
}

func testClose(t *testing.T, b Backend) {
	s := open(t, b)
	const n = 64
	var (
		wg      sync.WaitGroup
		started sync.WaitGroup
		mu      sync.Mutex
		stored  []*receipts.Receipt
	)
	started.Add(n)
	for i := range n {
		wg.Go(func() {
			r := receipt("shop", fmt.Sprint("c", i), base.Add(time.Duration(i)*time.Second))
			started.Done()
			if err := s.Append(context.Background(), r, nil); err == nil {
				mu.Lock()
				stored = append(stored, r)
				mu.Unlock()
			}
		})
	}
	started.Wait()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	if err := s.Append(context.Background(), receipt("shop", "late", base), nil); err == nil {
		t.Error("Append after Close succeeded")
	}
	s = reopen(t, b, s)
	got := exportAll(t, s, "shop")
	if len(got) != len(stored) {
		t.Fatalf("%d appends returned nil before Close, %d receipts stored", len(stored), len(got))
	}
	sort.Slice(stored, func(i, j int) bool { return stored[i].Seq < stored[j].Seq })
	for i := range got {
		sameReceipt(t, got[i], stored[i])
	}
	if err := s.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func testPing(t *testing.T, b Backend) {
	s := open(t, b)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}
