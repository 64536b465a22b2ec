package receiptstest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// names returns n distinct cookie names starting with prefix.
func names(prefix string, from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%04d", prefix, from+i)
	}
	return out
}

// testTallyCaps checks the bounds of the tallies: a portal's undeclared
// tallies of one UTC day hold at most receipts.MaxTallyNames names, the
// names beyond counted as receipts.OtherName, while names already tallied
// keep being counted under their own; the reappeared tallies likewise (per
// name and category, the other tally per category); other portals and the
// next day are unaffected; the store logs once per table, portal and day
// (and category) that it is full.
func testTallyCaps(t *testing.T, b Backend) {
	var log syncBuffer
	s := b.NewLogged(t, slog.New(slog.NewTextHandler(&log, nil)))
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	day := base.Truncate(24 * time.Hour)
	const per = 32
	over := receipts.MaxTallyNames + 24 // names reported that day
	at := day.Add(time.Hour)
	consents := 0
	add := func(portal string, at time.Time, ns []string) {
		t.Helper()
		consents++ // a choice each: not a resend of the one before
		r := receipt(portal, fmt.Sprint("c", consents), at)
		if err := s.Append(ctx, r, receipts.Cookies(ns...)); err != nil {
			t.Fatal(err)
		}
	}
	all := names("n", 0, over)
	for i := 0; i < over; i += per {
		add("shop", at.Add(time.Duration(i)*time.Millisecond), all[i:min(i+per, over)])
	}
	// A name tallied before the cap is counted under its own name after it.
	add("shop", at.Add(time.Minute), []string{all[5], "late_new_name"})
	// Another portal, and the next day, have their own bounds.
	add("elsewhere", at, []string{"n_elsewhere"})
	add("shop", day.Add(25*time.Hour), []string{"next_day"})

	got, err := s.Undeclared(ctx, "shop", day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, u := range got {
		counts[u.Name] = u.Count
	}
	if len(got) != receipts.MaxTallyNames+1 {
		t.Errorf("undeclared: %d tallies on a flooded day, want %d names and %s", len(got), receipts.MaxTallyNames, receipts.OtherName)
	}
	if n := counts[receipts.OtherName]; n != int64(over-receipts.MaxTallyNames+1) {
		t.Errorf("undeclared: %s counted %d, want %d (the names past the cap and a late new one)", receipts.OtherName, n, over-receipts.MaxTallyNames+1)
	}
	if counts[all[5]] != 2 || counts[all[receipts.MaxTallyNames-1]] != 1 {
		t.Errorf("undeclared: %s counted %d (want 2), %s %d (want 1)", all[5], counts[all[5]], all[receipts.MaxTallyNames-1], counts[all[receipts.MaxTallyNames-1]])
	}
	if _, ok := counts[all[receipts.MaxTallyNames]]; ok {
		t.Errorf("undeclared: %s, past the cap, has a tally of its own", all[receipts.MaxTallyNames])
	}
	if _, ok := counts["late_new_name"]; ok {
		t.Error("undeclared: a new name after the cap has a tally of its own")
	}
	for portal, name := range map[string]string{"elsewhere": "n_elsewhere"} {
		us, err := s.Undeclared(ctx, portal, day, day.Add(24*time.Hour))
		if err != nil || len(us) != 1 || us[0].Name != name {
			t.Errorf("undeclared of %s: %+v, %v", portal, us, err)
		}
	}
	if us, err := s.Undeclared(ctx, "shop", day.Add(24*time.Hour), day.Add(48*time.Hour)); err != nil || len(us) != 1 || us[0].Name != "next_day" {
		t.Errorf("undeclared of the next day: %+v, %v", us, err)
	}

	// Reappeared: the same bound per portal and day, over name and
	// category pairs.
	stats, mkt := "statistics", "marketing"
	rc := func(cat string, ns []string) []receipts.ReappearedCookie {
		var out []receipts.ReappearedCookie
		for _, n := range ns {
			out = append(out, receipts.ReappearedCookie{Name: n, Category: cat})
		}
		return out
	}
	rall := names("_pk_id.", 0, over)
	for i := 0; i < over; i += per {
		if err := s.CountReappeared(ctx, "shop", "https://shop.example/", rc(stats, rall[i:min(i+per, over)]), at); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CountReappeared(ctx, "shop", "https://shop.example/", append(rc(stats, rall[7:8]), rc(mkt, []string{"_fbp"})...), at); err != nil {
		t.Fatal(err)
	}
	rs, err := s.Reappeared(ctx, "shop", day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	rcounts := map[receipts.ReappearedCookie]int64{}
	for _, r := range rs {
		rcounts[receipts.ReappearedCookie{Name: r.Name, Category: r.Category}] = r.Count
	}
	if len(rs) != receipts.MaxTallyNames+2 {
		t.Errorf("reappeared: %d tallies on a flooded day, want %d pairs and %s in two categories", len(rs), receipts.MaxTallyNames, receipts.OtherName)
	}
	if n := rcounts[receipts.ReappearedCookie{Name: receipts.OtherName, Category: stats}]; n != int64(over-receipts.MaxTallyNames) {
		t.Errorf("reappeared: %s in %s counted %d, want %d", receipts.OtherName, stats, n, over-receipts.MaxTallyNames)
	}
	if n := rcounts[receipts.ReappearedCookie{Name: receipts.OtherName, Category: mkt}]; n != 1 {
		t.Errorf("reappeared: %s in %s counted %d, want 1 (_fbp, new after the cap)", receipts.OtherName, mkt, n)
	}
	if n := rcounts[receipts.ReappearedCookie{Name: rall[7], Category: stats}]; n != 2 {
		t.Errorf("reappeared: %s counted %d, want 2", rall[7], n)
	}

	// Logged once per table, portal and day (reappeared: and category).
	logs := log.String()
	if n := strings.Count(logs, "table=undeclared portal=shop"); n != 1 {
		t.Errorf("undeclared: the full day logged %d times, want once\n%s", n, logs)
	}
	if n := strings.Count(logs, "table=reappeared portal=shop"); n != 2 {
		t.Errorf("reappeared: the full day logged %d times, want once per category (2)\n%s", n, logs)
	}
	if !strings.Contains(logs, "day="+day.Format(time.DateOnly)) || strings.Contains(logs, "portal=elsewhere") {
		t.Errorf("logs:\n%s", logs)
	}
}

// testTallyPages checks UndeclaredPage and ReappearedPage: the names
// summed over the period's days in order of their summed count, most
// first, then by name (byte order), limit from offset, with their daily
// tallies only, and the total; a bad limit or offset is an error.
func testTallyPages(t *testing.T, b Backend) {
	s := open(t, b)
	ctx := context.Background()
	day := base.Truncate(24 * time.Hour)
	// Summed counts over two days: B 4, a 3, _c 3, d 1 ("B" < "_c" < "a" in
	// byte order).
	reports := []struct {
		at    time.Duration
		names []string
	}{
		{time.Hour, []string{"a", "B", "_c", "d"}},
		{2 * time.Hour, []string{"a", "B"}},
		{25 * time.Hour, []string{"a", "B", "_c"}},
		{26 * time.Hour, []string{"B", "_c"}},
		{50 * time.Hour, []string{"zz_outside"}},
	}
	for i, r := range reports {
		if err := s.Append(ctx, receipt("shop", fmt.Sprint("c", i), day.Add(r.at)), receipts.Cookies(r.names...)); err != nil {
			t.Fatal(err)
		}
		var cs []receipts.ReappearedCookie
		for _, n := range r.names {
			cs = append(cs, receipts.ReappearedCookie{Name: n, Category: "statistics"})
		}
		if err := s.CountReappeared(ctx, "shop", "", cs, day.Add(r.at)); err != nil {
			t.Fatal(err)
		}
	}
	from, to := day, day.Add(48*time.Hour)
	for _, c := range []struct {
		limit, offset int
		want          []string // names, in order of the sums
	}{
		{10, 0, []string{"B", "_c", "a", "d"}},
		{2, 0, []string{"B", "_c"}},
		{2, 2, []string{"a", "d"}},
		{1, 3, []string{"d"}},
		{5, 4, nil},
	} {
		us, total, err := s.UndeclaredPage(ctx, "shop", from, to, c.limit, c.offset)
		if err != nil {
			t.Fatal(err)
		}
		rs, rtotal, err := s.ReappearedPage(ctx, "shop", from, to, c.limit, c.offset)
		if err != nil {
			t.Fatal(err)
		}
		sums := map[string]int64{}
		for _, u := range us {
			sums[u.Name] += u.Count
			if u.Day.Before(from) || !u.Day.Before(to) {
				t.Errorf("UndeclaredPage: a tally of %s, outside the period", u.Day)
			}
		}
		rsums := map[string]int64{}
		for _, r := range rs {
			rsums[r.Name] += r.Count
		}
		var got []string
		for _, n := range c.want {
			if _, ok := sums[n]; ok {
				got = append(got, n)
			}
		}
		if total != 4 || rtotal != 4 || len(sums) != len(c.want) || len(got) != len(c.want) || len(rsums) != len(c.want) {
			t.Errorf("limit %d offset %d: undeclared %v (total %d), reappeared %v (total %d); want %v of 4",
				c.limit, c.offset, sums, total, rsums, rtotal, c.want)
		}
		for _, n := range c.want {
			if rsums[n] != sums[n] {
				t.Errorf("limit %d offset %d: %s summed %d undeclared, %d reappeared", c.limit, c.offset, n, sums[n], rsums[n])
			}
		}
	}
	if _, _, err := s.UndeclaredPage(ctx, "shop", from, to, 0, 0); err == nil {
		t.Error("UndeclaredPage with limit 0: no error")
	}
	if _, _, err := s.ReappearedPage(ctx, "shop", from, to, 10, -1); err == nil {
		t.Error("ReappearedPage with offset -1: no error")
	}
	if us, total, err := s.UndeclaredPage(ctx, "nowhere", from, to, 10, 0); err != nil || len(us) != 0 || total != 0 {
		t.Errorf("UndeclaredPage of an unknown portal: %v, %d, %v", us, total, err)
	}
}

// testUndeclaredHosts checks the undeclared tallies of two hosts appending
// to one portal (Backend.Host; one store where there is one writer): the
// readers sum what both counted, name by name (count, first and last
// seen, pages of both, at most receipts.MaxPages), and the day's cap on
// distinct names holds across them: names counted by one host are counted
// under their own name by the other past the cap, a new name past it is
// receipts.OtherName whichever host reports it.
func testUndeclaredHosts(t *testing.T, b Backend) {
	a := open(t, b)
	h := a
	if b.Host != nil {
		h = b.Host(t, a)
		t.Cleanup(func() { h.Close() })
	}
	ctx := context.Background()
	day := base.Truncate(24 * time.Hour)
	consents := 0
	add := func(s receipts.Store, at time.Duration, page string, ns ...string) {
		t.Helper()
		consents++
		r := receipt("shop", fmt.Sprint("c", consents), day.Add(at))
		r.Page = page
		if err := s.Append(ctx, r, receipts.Cookies(ns...)); err != nil {
			t.Fatal(err)
		}
	}
	// _ga on every receipt of both hosts, received out of order.
	add(a, 10*time.Hour, "https://shop.example/a1", "_ga")
	add(h, 9*time.Hour, "https://shop.example/h1", "_ga")
	add(a, 11*time.Hour, "https://shop.example/a2", "_ga")
	add(h, 12*time.Hour, "https://shop.example/h2", "_ga")
	add(h, 12*time.Hour, "https://shop.example/h1", "_ga")
	// The day filled up to the cap by both hosts: a's names, then h's.
	fill := names("n", 0, receipts.MaxTallyNames-1) // and _ga
	half := len(fill) / 2
	for i := 0; i < half; i += 50 {
		add(a, 13*time.Hour, "", fill[i:min(i+50, half)]...)
	}
	for i := half; i < len(fill); i += 50 {
		add(h, 13*time.Hour, "", fill[i:min(i+50, len(fill))]...)
	}
	// Past the cap: a's names through h and h's through a keep their
	// tallies; new names through either are the other tally.
	add(h, 14*time.Hour, "", fill[0], "new_through_h")
	add(a, 14*time.Hour, "", fill[len(fill)-1], "new_through_a")

	got, err := a.Undeclared(ctx, "shop", day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]receipts.Undeclared{}
	for _, u := range got {
		if _, ok := byName[u.Name]; ok {
			t.Errorf("Undeclared: %s listed twice (the hosts' tallies not summed)", u.Name)
		}
		byName[u.Name] = u
	}
	if len(got) != receipts.MaxTallyNames+1 {
		t.Errorf("Undeclared: %d tallies, want %d names and %s", len(got), receipts.MaxTallyNames, receipts.OtherName)
	}
	ga := byName["_ga"]
	if ga.Count != 5 || !ga.FirstSeen.Equal(day.Add(9*time.Hour)) || !ga.LastSeen.Equal(day.Add(12*time.Hour)) {
		t.Errorf("_ga = %+v, want 5 from 09:00 to 12:00", ga)
	}
	pages := slices.Sorted(slices.Values(ga.Pages))
	if !slices.Equal(pages, []string{"https://shop.example/a1", "https://shop.example/a2", "https://shop.example/h1", "https://shop.example/h2"}) {
		t.Errorf("_ga pages = %v, want both hosts' four, each once", ga.Pages)
	}
	if byName[fill[0]].Count != 2 || byName[fill[len(fill)-1]].Count != 2 {
		t.Errorf("names counted by both hosts: %s %d, %s %d; want 2 each", fill[0], byName[fill[0]].Count, fill[len(fill)-1], byName[fill[len(fill)-1]].Count)
	}
	if o := byName[receipts.OtherName]; o.Count != 2 {
		t.Errorf("%s = %+v, want the two new names past the cap", receipts.OtherName, o)
	}
	for _, n := range []string{"new_through_h", "new_through_a"} {
		if _, ok := byName[n]; ok {
			t.Errorf("%s, new past the cap, has a tally of its own", n)
		}
	}
	// The page reader sums the hosts too: _ga is the most counted.
	for _, s := range []receipts.Store{a, h} {
		top, total, err := s.UndeclaredPage(ctx, "shop", day, day.Add(24*time.Hour), 1, 0)
		if err != nil || total != receipts.MaxTallyNames+1 || len(top) != 1 || top[0].Name != "_ga" || top[0].Count != 5 {
			t.Errorf("UndeclaredPage limit 1 = %+v, %d, %v; want _ga counted 5 of %d names", top, total, err, receipts.MaxTallyNames+1)
		}
	}
}
