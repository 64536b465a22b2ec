package policy

import (
	"strconv"
	"strings"
)

// Change is one difference between two policies, as Diff reports it.
type Change struct {
	// Kind is "category", "signal", "cookie" or "setting".
	Kind string
	// Key names the item: a category id, a signal name, a cookie row's
	// names joined by ", ", or a setting's field name.
	Key string
	// Op is "added", "removed" or "changed".
	Op string
	// Field is the field that changed (for "changed"), or for a signal the
	// category that grants it; empty otherwise.
	Field string
	// From and To are the values before and after; the side that does not
	// exist is empty.
	From, To string
}

// Diff returns what changed from policy a to policy b in what a visitor
// consents to: categories (by id: added, removed, name, description or
// required changed), the Consent Mode signals each category grants, the
// cookie rows (identified by their names: added, removed, or a field
// changed) and the choice's lifetime and cookie domain. Wording outside
// those fields (banner and policy texts) is not compared. A nil policy
// counts as an empty one; the result is empty when nothing changed and is
// in a stable order: categories, signals, cookie rows, settings, each in
// b's order followed by what was removed in a's order.
func Diff(a, b *Policy) []Change {
	if a == nil {
		a = &Policy{}
	}
	if b == nil {
		b = &Policy{}
	}
	var out []Change
	out = append(out, diffCategories(a.Categories, b.Categories)...)
	out = append(out, diffSignals(a.Categories, b.Categories)...)
	out = append(out, diffCookies(a.Cookies, b.Cookies)...)
	for _, s := range []struct{ key, from, to string }{
		{"lifetimeDays", strconv.Itoa(a.lifetime()), strconv.Itoa(b.lifetime())},
		{"cookieDomain", a.CookieDomain, b.CookieDomain},
	} {
		if s.from != s.to {
			out = append(out, Change{Kind: "setting", Key: s.key, Op: "changed", Field: s.key, From: s.from, To: s.to})
		}
	}
	return out
}

func (p *Policy) lifetime() int {
	if p.LifetimeDays == 0 {
		return DefaultLifetimeDays
	}
	return p.LifetimeDays
}

// keyed pairs the items of two lists by key: both (in b's order, with a's
// index or -1) then those only in a.
func keyed(aKeys, bKeys []string) (pairs [][2]int, removed []int) {
	ai := make(map[string]int, len(aKeys))
	for i, k := range aKeys {
		ai[k] = i
	}
	seen := make(map[string]bool, len(bKeys))
	for j, k := range bKeys {
		seen[k] = true
		i, ok := ai[k]
		if !ok {
			i = -1
		}
		pairs = append(pairs, [2]int{i, j})
	}
	for i, k := range aKeys {
		if !seen[k] {
			removed = append(removed, i)
		}
	}
	return pairs, removed
}

func diffCategories(a, b []Category) []Change {
	ids := func(cs []Category) []string {
		ks := make([]string, len(cs))
		for i, c := range cs {
			ks[i] = c.ID
		}
		return ks
	}
	var out []Change
	pairs, removed := keyed(ids(a), ids(b))
	for _, p := range pairs {
		cb := b[p[1]]
		if p[0] < 0 {
			out = append(out, Change{Kind: "category", Key: cb.ID, Op: "added", To: cb.Name})
			continue
		}
		ca := a[p[0]]
		for _, f := range []struct{ name, from, to string }{
			{"name", ca.Name, cb.Name},
			{"description", ca.Description, cb.Description},
			{"required", strconv.FormatBool(ca.Required), strconv.FormatBool(cb.Required)},
		} {
			if f.from != f.to {
				out = append(out, Change{Kind: "category", Key: cb.ID, Op: "changed", Field: f.name, From: f.from, To: f.to})
			}
		}
	}
	for _, i := range removed {
		out = append(out, Change{Kind: "category", Key: a[i].ID, Op: "removed", From: a[i].Name})
	}
	return out
}

// diffSignals reports each (category, signal) grant added or removed.
func diffSignals(a, b []Category) []Change {
	grants := func(cs []Category) []string {
		var ks []string
		for _, c := range cs {
			for _, s := range c.Signals {
				ks = append(ks, c.ID+"\x00"+s)
			}
		}
		return ks
	}
	split := func(k string) (cat, sig string) {
		cat, sig, _ = strings.Cut(k, "\x00")
		return cat, sig
	}
	ak, bk := grants(a), grants(b)
	pairs, removed := keyed(ak, bk)
	var out []Change
	for _, p := range pairs {
		if p[0] < 0 {
			cat, sig := split(bk[p[1]])
			out = append(out, Change{Kind: "signal", Key: sig, Op: "added", Field: cat, To: "granted"})
		}
	}
	for _, i := range removed {
		cat, sig := split(ak[i])
		out = append(out, Change{Kind: "signal", Key: sig, Op: "removed", Field: cat, From: "granted"})
	}
	return out
}

// cookieKeys names each row by its names; a second row with the same names
// gets " (2)", and so on, so that every row is compared.
func cookieKeys(cs []Cookie) []string {
	ks := make([]string, len(cs))
	n := map[string]int{}
	for i, c := range cs {
		k := strings.Join(c.Names, ", ")
		n[k]++
		if n[k] > 1 {
			k += " (" + strconv.Itoa(n[k]) + ")"
		}
		ks[i] = k
	}
	return ks
}

func diffCookies(a, b []Cookie) []Change {
	ak, bk := cookieKeys(a), cookieKeys(b)
	pairs, removed := keyed(ak, bk)
	var out []Change
	for _, p := range pairs {
		cb, key := b[p[1]], bk[p[1]]
		if p[0] < 0 {
			out = append(out, Change{Kind: "cookie", Key: key, Op: "added", To: cb.Category + ", " + cb.Duration})
			continue
		}
		ca := a[p[0]]
		for _, f := range []struct{ name, from, to string }{
			{"provider", ca.Provider, cb.Provider},
			{"function", ca.Function, cb.Function},
			{"purpose", ca.Purpose, cb.Purpose},
			{"category", ca.Category, cb.Category},
			{"duration", ca.Duration, cb.Duration},
			{"paths", strings.Join(ca.Paths, ", "), strings.Join(cb.Paths, ", ")},
			{"type", ca.Kind(), cb.Kind()},
		} {
			if f.from != f.to {
				out = append(out, Change{Kind: "cookie", Key: key, Op: "changed", Field: f.name, From: f.from, To: f.to})
			}
		}
	}
	for _, i := range removed {
		out = append(out, Change{Kind: "cookie", Key: ak[i], Op: "removed", From: a[i].Category + ", " + a[i].Duration})
	}
	return out
}
