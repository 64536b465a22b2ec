package receiptstest

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// want builds the Stats the suite expects of portal from receipts given in
// chain order and impressions, counted independently of the stores'
// aggregation.
type want struct {
	b    *receipts.StatsBuilder
	last map[string][]policy.Choice // by consent id
}

func newWant(portal string) *want {
	return &want{b: receipts.NewStatsBuilder(portal), last: map[string][]policy.Choice{}}
}

func (w *want) receipt(r *receipts.Receipt) {
	day := r.ReceivedAt.UTC().Truncate(24 * time.Hour)
	w.b.AddDecisions(day, r.Revision, r.Lang, r.Method, 1)
	for _, c := range r.Choices {
		if c.Accepted {
			w.b.AddAccepted(day, r.Revision, r.Lang, c.Category, 1)
		}
	}
	accepted := map[string]bool{}
	for _, c := range w.last[r.ConsentID] {
		accepted[c.Category] = c.Accepted
	}
	for _, c := range r.Choices {
		if !c.Accepted && accepted[c.Category] {
			w.b.AddWithdrawals(day, 1)
			break
		}
	}
	w.last[r.ConsentID] = r.Choices
}

func (w *want) impression(revision int64, lang string, at time.Time) {
	w.b.AddImpressions(at.UTC().Truncate(24*time.Hour), revision, lang, 1)
}

// sameStats fails the test unless got is want.
func sameStats(t *testing.T, got, want receipts.Stats) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Stats =\n%s\nwant\n%s", dump(got), dump(want))
	}
	for _, d := range got.Days {
		if d.Day.Location() != time.UTC {
			t.Errorf("day %v is not UTC", d.Day)
		}
	}
}

func dump(s receipts.Stats) string {
	out := fmt.Sprintf("portal %q, %d days", s.Portal, len(s.Days))
	for _, d := range s.Days {
		out += fmt.Sprintf("\n  %s withdrawals %d", d.Day.Format(time.RFC3339), d.Withdrawals)
		for _, g := range d.Groups {
			out += fmt.Sprintf("\n    rev %d %q impressions %d decisions %v accepted %v", g.Revision, g.Lang, g.Impressions, g.Decisions, g.Accepted)
		}
	}
	return out
}

// choices returns necessary accepted, then statistical and marketing as
// given.
func choices(stat, mkt bool) []policy.Choice {
	return []policy.Choice{{Category: "necessary", Accepted: true}, {Category: "statistical", Accepted: stat}, {Category: "marketing", Accepted: mkt}}
}

func testStats(t *testing.T, b Backend) {
	s := open(t, b)
	ctx := context.Background()
	day := base.Truncate(24 * time.Hour)
	w := newWant("shop")
	type decision struct {
		at        time.Duration // after day
		consent   string
		rev       int64
		lang      string
		method    string
		stat, mkt bool
	}
	ds := []decision{
		{1 * time.Hour, "a", 3, "fr", receipts.MethodAcceptAll, true, true},
		{2 * time.Hour, "b", 3, "fr", receipts.MethodRejectAll, false, false},
		{3 * time.Hour, "c", 3, "en", receipts.MethodCustom, true, false},
		{4 * time.Hour, "a", 3, "fr", receipts.MethodCustom, true, false},      // withdraws marketing
		{5 * time.Hour, "a", 3, "fr", receipts.MethodRejectAll, false, false},  // withdraws statistical
		{6 * time.Hour, "b", 3, "fr", receipts.MethodAcceptAll, true, true},    // accepts more: no withdrawal
		{26 * time.Hour, "d", 4, "en", receipts.MethodAcceptAll, true, true},   // the next day, a new revision
		{27 * time.Hour, "b", 4, "en", receipts.MethodRejectAll, false, false}, // withdraws, across days and revisions
		{28 * time.Hour, "a", 4, "en", receipts.MethodRejectAll, false, false}, // refuses again: no withdrawal
		{50 * time.Hour, "e", 4, "fr", receipts.MethodCustom, false, true},     // the third day
	}
	for i, d := range ds {
		r := receipt("shop", d.consent, day.Add(d.at))
		r.Revision, r.Lang, r.Method, r.Choices = d.rev, d.lang, d.method, choices(d.stat, d.mkt)
		if err := s.Append(ctx, r, nil); err != nil {
			t.Fatalf("Append #%d: %v", i+1, err)
		}
		w.receipt(r)
	}
	for _, imp := range []struct {
		at   time.Duration
		rev  int64
		lang string
	}{{30 * time.Minute, 3, "fr"}, {50 * time.Minute, 3, "fr"}, {2 * time.Hour, 3, "en"}, {25 * time.Hour, 4, "en"}, {49 * time.Hour, 2, "de"}} {
		if err := s.CountImpression(ctx, "shop", imp.rev, imp.lang, day.Add(imp.at)); err != nil {
			t.Fatal(err)
		}
		w.impression(imp.rev, imp.lang, day.Add(imp.at))
	}
	// Another portal's counts stay its own.
	if err := s.Append(ctx, receipt("other", "a", day.Add(time.Hour)), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.CountImpression(ctx, "other", 3, "fr", day.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want := w.b.Stats()
	if len(want.Days) != 3 || want.Days[0].Withdrawals != 2 || want.Days[1].Withdrawals != 1 {
		t.Fatalf("the suite's own count is off: %s", dump(want))
	}
	got, err := s.Stats(ctx, "shop", day, day.Add(3*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	sameStats(t, got, want)

	// A period is the days whose 00:00 is in [from, to).
	got, err = s.Stats(ctx, "shop", day.Add(time.Hour), day.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	mid := want
	mid.Days = want.Days[1:2]
	sameStats(t, got, mid)
	for _, q := range []struct {
		portal   string
		from, to time.Time
	}{{"nowhere", day, day.Add(72 * time.Hour)}, {"shop", day.Add(72 * time.Hour), day.Add(96 * time.Hour)}, {"shop", day, day}} {
		got, err := s.Stats(ctx, q.portal, q.from, q.to)
		if err != nil || len(got.Days) != 0 || got.Portal != q.portal {
			t.Errorf("Stats(%q, %v, %v) = %s, %v; want no days", q.portal, q.from, q.to, dump(got), err)
		}
	}
	// The sums the console shows.
	first := want.Days[0]
	tot := first.Total()
	if tot.Count() != 6 || tot.Decisions[receipts.MethodAcceptAll] != 2 || tot.Accepted["statistical"] != 4 || tot.Impressions != 3 {
		t.Errorf("Total of the first day = %+v", tot)
	}
	if byLang := first.ByLang(); byLang["fr"].Count() != 5 || byLang["en"].Count() != 1 || byLang["en"].Impressions != 1 {
		t.Errorf("ByLang of the first day = %+v", byLang)
	}
	if byRev := want.Days[2].ByRevision(); byRev[4].Count() != 1 || byRev[2].Impressions != 1 || byRev[2].Count() != 0 {
		t.Errorf("ByRevision of the third day = %+v", byRev)
	}

	// They survive a restart.
	s = reopen(t, b, s)
	got, err = s.Stats(ctx, "shop", day, day.Add(3*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	sameStats(t, got, want)
}

// testStatsConcurrent appends, from many goroutines at once, receipts of a
// few consent ids that alternate between accepting and refusing marketing,
// with impressions among them: group commit puts several receipts of one
// consent id in one batch, whose withdrawals must be counted in chain order.
func testStatsConcurrent(t *testing.T, b Backend) {
	s := open(t, b)
	ctx := context.Background()
	const workers, each = 32, 20
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for g := range workers {
		wg.Go(func() {
			for i := range each {
				r := receipt("shop", fmt.Sprint("c", g%4), base.Add(time.Duration(g*each+i)*time.Microsecond))
				r.Choices = choices(true, (g+i)%2 == 0)
				// Four visitors choosing again and again: each choice a
				// second of its own, not a resend of an earlier one.
				r.DecidedAt = base.Add(-time.Duration(g*each+i) * time.Second).Truncate(time.Second)
				err := s.Append(ctx, r, nil)
				if err == nil && i%5 == 0 {
					err = s.CountImpression(ctx, "shop", 3, "fr", base)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d appends failed, first: %v", len(errs), errs[0])
	}
	all := exportAll(t, s, "shop")
	sort.Slice(all, func(i, j int) bool { return all[i].Seq < all[j].Seq })
	w := newWant("shop")
	for _, r := range all {
		w.receipt(r)
	}
	for range workers * each / 5 {
		w.impression(3, "fr", base)
	}
	want := w.b.Stats()
	if want.Days[0].Withdrawals == 0 {
		t.Fatal("no withdrawal among the receipts: the test tests nothing")
	}
	got, err := s.Stats(ctx, "shop", base.Truncate(24*time.Hour), base.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	sameStats(t, got, want)
}

// testStatsRetention checks that DeleteBefore deletes the aggregates of the
// days whose 00:00 is before the cutoff, the cutoff's own day included when
// it is after 00:00, and keeps the later ones.
func testStatsRetention(t *testing.T, b Backend) {
	s := open(t, b)
	ctx := context.Background()
	day := base.Truncate(24 * time.Hour)
	for i := range 5 {
		at := day.Add(time.Duration(i)*24*time.Hour + 10*time.Hour)
		for j, cs := range [][]policy.Choice{choices(true, true), choices(false, false)} {
			r := receipt("shop", fmt.Sprint("c", j), at.Add(time.Duration(j)*time.Minute))
			r.Choices = cs
			if err := s.Append(ctx, r, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CountImpression(ctx, "shop", 3, "fr", at); err != nil {
			t.Fatal(err)
		}
	}
	days := func() []time.Time {
		t.Helper()
		st, err := s.Stats(ctx, "shop", day, day.Add(10*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var out []time.Time
		for _, d := range st.Days {
			if d.Withdrawals != 0 || d.Total().Impressions != 1 || d.Total().Count() != 2 {
				t.Errorf("day %v: %s", d.Day, dump(st))
			}
			out = append(out, d.Day)
		}
		return out
	}
	if got := days(); len(got) != 5 {
		t.Fatalf("before retention: %d days, want 5", len(got))
	}
	// At 00:00 of the third day: the first two go.
	if _, err := s.DeleteBefore(ctx, day.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := days(); len(got) != 3 || !got[0].Equal(day.Add(48*time.Hour)) {
		t.Fatalf("after retention at 00:00 of day 3: days %v, want 3 from day 3", got)
	}
	// At 10:00:30 of the fourth day (between its two receipts): the
	// fourth day goes too, since one of its receipts went.
	if _, err := s.DeleteBefore(ctx, day.Add(3*24*time.Hour+10*time.Hour+30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := days(); len(got) != 1 || !got[0].Equal(day.Add(4*24*time.Hour)) {
		t.Fatalf("after retention within day 4: days %v, want day 5 only", got)
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// Backfill checks a backend's migration that computes the aggregates of
// the receipts stored before it: it appends receipts to s (several days,
// revisions, languages and consent ids, withdrawals among them), then calls
// rebuild, which must empty the aggregate tables and run that migration's
// backfill on s's database; Stats must then be what Append made.
func Backfill(t *testing.T, s receipts.Store, rebuild func()) {
	t.Helper()
	ctx := context.Background()
	day := base.Truncate(24 * time.Hour)
	for i := range 60 {
		r := receipt("shop", fmt.Sprint("c", i%7), day.Add(time.Duration(i)*97*time.Minute))
		r.Revision, r.Lang = int64(3+i/30), []string{"fr", "en", "de"}[i%3]
		r.Method = []string{receipts.MethodAcceptAll, receipts.MethodRejectAll, receipts.MethodCustom}[i%3]
		r.Choices = choices(i%2 == 0, i%3 != 1)
		if err := s.Append(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Append(ctx, receipt("other", "c0", day), nil); err != nil {
		t.Fatal(err)
	}
	before, err := s.Stats(ctx, "shop", day, day.AddDate(0, 0, 10))
	if err != nil {
		t.Fatal(err)
	}
	var withdrawals int64
	for _, d := range before.Days {
		withdrawals += d.Withdrawals
	}
	if len(before.Days) < 3 || withdrawals == 0 {
		t.Fatalf("the receipts make %d days and %d withdrawals: the test tests little", len(before.Days), withdrawals)
	}
	rebuild()
	after, err := s.Stats(ctx, "shop", day, day.AddDate(0, 0, 10))
	if err != nil {
		t.Fatal(err)
	}
	sameStats(t, after, before)
}

// testImpressionsFlushed counts impressions, which a store may hold in
// memory, then restarts it: Close writes what it holds, so that the
// reopened store's Stats has every one (a restart loses none; only a
// process killed loses those of its last flush interval).
func testImpressionsFlushed(t *testing.T, b Backend) {
	s := b.New(t)
	ctx := context.Background()
	day := base.Truncate(24 * time.Hour)
	const n = 25
	for i := range n {
		if err := s.CountImpression(ctx, "shop", 3, "fr", day.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CountImpression(ctx, "shop", 4, "en", day.Add(25*time.Hour)); err != nil {
		t.Fatal(err)
	}
	s = b.Reopen(t, s)
	t.Cleanup(func() { s.Close() })
	got, err := s.Stats(ctx, "shop", day, day.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	w := newWant("shop")
	for i := range n {
		w.impression(3, "fr", day.Add(time.Duration(i)*time.Minute))
	}
	w.impression(4, "en", day.Add(25*time.Hour))
	sameStats(t, got, w.b.Stats())
}
