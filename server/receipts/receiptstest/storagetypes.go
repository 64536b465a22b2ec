package receiptstest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// testUndeclaredTypes checks the undeclared tallies are kept per type: the
// same name as a cookie, a localStorage key and a sessionStorage key makes
// three tallies, each read back with its type, in day, type, name order;
// UndeclaredPage pages (type, name) pairs, counts them all, and orders a
// page by count, then type, then name; the day's cap counts the names of
// every type together, and a new name past it is counted as the OtherName
// of its own type.
func testUndeclaredTypes(t *testing.T, b Backend) {
	s := open(t, b)
	ctx := context.Background()
	day := base.Truncate(24 * time.Hour)
	at := day.Add(2 * time.Hour)
	ls, ss := "localStorage", "sessionStorage"
	n := 0
	add := func(portal string, names ...receipts.Name) {
		t.Helper()
		n++
		if err := s.Append(ctx, receipt(portal, fmt.Sprint("t", n), at.Add(time.Duration(n)*time.Second)), names); err != nil {
			t.Fatal(err)
		}
	}
	add("shop", receipts.Name{Type: "cookie", Name: "ajs_id"}, receipts.Name{Type: ls, Name: "ajs_id"}, receipts.Name{Type: ss, Name: "ajs_id"})
	add("shop", receipts.Name{Type: ls, Name: "ajs_id"}, receipts.Name{Type: ls, Name: "app:state"})
	add("shop", receipts.Name{Type: ls, Name: "ajs_id"})

	got, err := s.Undeclared(ctx, "shop", day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, u := range got {
		seen = append(seen, fmt.Sprintf("%s %s %d", u.Type, u.Name, u.Count))
	}
	want := []string{"cookie ajs_id 1", "localStorage ajs_id 3", "localStorage app:state 1", "sessionStorage ajs_id 1"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("Undeclared = %q, want %q", seen, want)
	}

	page, total, err := s.UndeclaredPage(ctx, "shop", day, day.Add(24*time.Hour), 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen = nil
	for _, u := range page {
		seen = append(seen, u.Type+" "+u.Name)
	}
	// Most seen first (localStorage ajs_id, 3), then by type: cookie ajs_id.
	if total != 4 || fmt.Sprint(seen) != fmt.Sprint([]string{"cookie ajs_id", "localStorage ajs_id"}) {
		t.Errorf("UndeclaredPage(limit 2) = %q of %d, want [cookie ajs_id localStorage ajs_id] of 4", seen, total)
	}
	page, _, err = s.UndeclaredPage(ctx, "shop", day, day.Add(24*time.Hour), 2, 2)
	if err != nil || len(page) != 2 || page[0].Type != ls || page[0].Name != "app:state" || page[1].Type != ss {
		t.Errorf("UndeclaredPage(offset 2) = %+v, %v", page, err)
	}

	// The cap: cookie names fill the day; a new localStorage key is its
	// type's OtherName, a key tallied before keeps its own tally.
	all := names("c", 0, receipts.MaxTallyNames)
	for i := 0; i < len(all); i += 32 {
		add("full", receipts.Cookies(all[i:min(i+32, len(all))]...)...)
	}
	add("full", receipts.Name{Type: ls, Name: "late_key"}, receipts.Name{Type: "cookie", Name: "late_cookie"})
	us, err := s.Undeclared(ctx, "full", day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	others := map[string]int64{}
	for _, u := range us {
		if u.Name == receipts.OtherName {
			others[u.Type] = u.Count
		}
		if u.Name == "late_key" || u.Name == "late_cookie" {
			t.Errorf("%s %s past the cap has a tally of its own", u.Type, u.Name)
		}
	}
	if others["cookie"] != 1 || others[ls] != 1 || len(us) != receipts.MaxTallyNames+2 {
		t.Errorf("past the cap: other tallies %v and %d tallies, want one per type and %d", others, len(us), receipts.MaxTallyNames+2)
	}
}
