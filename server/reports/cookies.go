package reports

import (
	"slices"
	"sort"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// MaxPages is how many pages a cookie's sum lists.
const MaxPages = 20

// Cookie is one cookie name (or web storage key) summed over the days of a
// period, as the undeclared route shows it.
type Cookie struct {
	// Type is where the name was found (receipts.Undeclared.Type: cookie,
	// localStorage, sessionStorage); empty for a reappeared cookie.
	Type      string   `json:"type,omitempty"`
	Name      string   `json:"name"`
	Count     int64    `json:"count"`
	FirstSeen string   `json:"firstSeen"`
	LastSeen  string   `json:"lastSeen"`
	Pages     []string `json:"pages"` // distinct, at most MaxPages
}

// SumUndeclared sums daily tallies per type and name: counts added, first
// and last seen the extremes, pages the distinct ones in day order. The
// names come most frequent first, then by type, then by name.
func SumUndeclared(us []receipts.Undeclared) []Cookie {
	type acc struct {
		count       int64
		first, last time.Time
		pages       []string
	}
	type key struct{ typ, name string }
	byName := map[key]*acc{}
	for _, u := range us {
		a := byName[key{u.Type, u.Name}]
		if a == nil {
			a = &acc{first: u.FirstSeen, last: u.LastSeen}
			byName[key{u.Type, u.Name}] = a
		}
		a.count += u.Count
		if u.FirstSeen.Before(a.first) {
			a.first = u.FirstSeen
		}
		if u.LastSeen.After(a.last) {
			a.last = u.LastSeen
		}
		for _, p := range u.Pages {
			if len(a.pages) < MaxPages && !slices.Contains(a.pages, p) {
				a.pages = append(a.pages, p)
			}
		}
	}
	out := []Cookie{}
	for k, a := range byName {
		pages := a.pages
		if pages == nil {
			pages = []string{}
		}
		out = append(out, Cookie{Type: k.typ, Name: k.name, Count: a.count, FirstSeen: a.first.UTC().Format(time.RFC3339Nano),
			LastSeen: a.last.UTC().Format(time.RFC3339Nano), Pages: pages})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Reappeared is one refused cookie found again, summed over the days of a
// period: the undeclared sum's shape plus the category.
type Reappeared struct {
	Cookie
	Category string `json:"category"`
}

// SumReappeared sums daily tallies per name and category as SumUndeclared
// does, most frequent first, then by name and category.
func SumReappeared(rs []receipts.Reappeared) []Reappeared {
	byCat := map[string][]receipts.Undeclared{}
	for _, r := range rs {
		byCat[r.Category] = append(byCat[r.Category], receipts.Undeclared{Portal: r.Portal, Day: r.Day, Name: r.Name,
			Count: r.Count, FirstSeen: r.FirstSeen, LastSeen: r.LastSeen, Pages: r.Pages})
	}
	out := []Reappeared{}
	for cat, us := range byCat {
		for _, u := range SumUndeclared(us) {
			out = append(out, Reappeared{Cookie: u, Category: cat})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Category < out[j].Category
	})
	return out
}
