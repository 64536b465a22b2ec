package receiptstest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// testReappeared checks CountReappeared and Reappeared: a tally per day,
// name and category, counts, first and last seen whatever the order of
// arrival, at most MaxPages distinct pages, portals apart.
func testReappeared(t *testing.T, b Backend) {
	s := open(t, b)
	ctx := context.Background()
	day := base.Truncate(24 * time.Hour)
	ga := receipts.ReappearedCookie{Name: "_ga", Category: "statistics"}
	fbp := receipts.ReappearedCookie{Name: "_fbp", Category: "marketing"}
	var pages []string
	for i := range 8 {
		pages = append(pages, fmt.Sprintf("https://shop.example/p%d", i))
	}
	counts := []struct {
		at      time.Duration // after day
		page    string
		cookies []receipts.ReappearedCookie
	}{
		{10 * time.Hour, pages[0], []receipts.ReappearedCookie{ga, fbp}},
		{11 * time.Hour, pages[1], []receipts.ReappearedCookie{ga}},
		{9 * time.Hour, pages[0], []receipts.ReappearedCookie{ga}}, // out of order
		{12 * time.Hour, pages[2], []receipts.ReappearedCookie{ga}},
		{12 * time.Hour, pages[3], []receipts.ReappearedCookie{ga}},
		{12 * time.Hour, pages[4], []receipts.ReappearedCookie{ga}},
		{13 * time.Hour, pages[5], []receipts.ReappearedCookie{ga}},
		{25 * time.Hour, pages[7], []receipts.ReappearedCookie{ga}}, // the next day
		{14 * time.Hour, "", []receipts.ReappearedCookie{fbp}},      // no page
	}
	for _, c := range counts {
		if err := s.CountReappeared(ctx, "shop", c.page, c.cookies, day.Add(c.at)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CountReappeared(ctx, "other", pages[0], []receipts.ReappearedCookie{ga}, day.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.CountReappeared(ctx, "", pages[0], []receipts.ReappearedCookie{ga}, day); err == nil {
		t.Error("CountReappeared without portal: nil error")
	}
	got, err := s.Reappeared(ctx, "shop", day, day.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []receipts.Reappeared{
		{Portal: "shop", Day: day, Name: "_fbp", Category: "marketing", Count: 2, FirstSeen: day.Add(10 * time.Hour), LastSeen: day.Add(14 * time.Hour), Pages: pages[:1]},
		{Portal: "shop", Day: day, Name: "_ga", Category: "statistics", Count: 7, FirstSeen: day.Add(9 * time.Hour), LastSeen: day.Add(13 * time.Hour), Pages: pages[:receipts.MaxPages]},
		{Portal: "shop", Day: day.Add(24 * time.Hour), Name: "_ga", Category: "statistics", Count: 1, FirstSeen: day.Add(25 * time.Hour), LastSeen: day.Add(25 * time.Hour), Pages: pages[7:8]},
	}
	if len(got) != len(want) {
		t.Fatalf("Reappeared: %d tallies %+v, want %d", len(got), got, len(want))
	}
	for i, g := range got {
		w := want[i]
		sort.Strings(g.Pages)
		if g.Portal != w.Portal || !g.Day.Equal(w.Day) || g.Name != w.Name || g.Category != w.Category || g.Count != w.Count ||
			!g.FirstSeen.Equal(w.FirstSeen) || !g.LastSeen.Equal(w.LastSeen) || !slices.Equal(g.Pages, w.Pages) {
			t.Errorf("tally %d = %+v\nwant %+v", i, g, w)
		}
		if g.Day.Location() != time.UTC || g.FirstSeen.Location() != time.UTC {
			t.Errorf("tally %d: times not UTC", i)
		}
	}
	if o, err := s.Reappeared(ctx, "other", day, day.Add(48*time.Hour)); err != nil || len(o) != 1 || o[0].Count != 1 {
		t.Errorf("Reappeared of other = %+v, %v; want one tally", o, err)
	}
	// Retention deletes the days before the cutoff's, keeps the others.
	if _, err := s.DeleteBefore(ctx, day.Add(24*time.Hour+time.Hour)); err != nil {
		t.Fatal(err)
	}
	left, err := s.Reappeared(ctx, "shop", day, day.Add(48*time.Hour))
	if err != nil || len(left) != 1 || !left[0].Day.Equal(day.Add(24*time.Hour)) {
		t.Errorf("after retention: %+v, %v; want the second day's tally only", left, err)
	}
}
