// Package reports sums what the store keeps per day into what the operator
// API and the console show of a period: the statistics of a portal and the
// cookies found on its pages. Both read them only through this package, so
// that they cannot disagree.
package reports

import (
	"sort"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// Stats is what the console's portal page and the stats API show of
// a period: every day of [From, To), and the period's sums in total, by
// language and by revision. Both are built from receipts.Stats by
// NewStats only, so that they cannot disagree.
type Stats struct {
	Portal   string
	From, To time.Time // [From 00:00, To 00:00), UTC
	Days     []Day
	Total    Sum
	ByLang   []Sum // by language
	ByRev    []Sum // by revision
}

// Day is one day of a report; a day without counts has zeros.
type Day struct {
	Day         time.Time
	Withdrawals int64
	Total       receipts.StatsGroup
	ByLang      map[string]receipts.StatsGroup
	ByRevision  map[int64]receipts.StatsGroup
}

// Sum is a sum over the period: Lang or Revision tells which split
// it is (neither for the total); Withdrawals is only in the total (they
// are counted per day, not per language or revision).
type Sum struct {
	receipts.StatsGroup
	Withdrawals int64
}

// Method returns the decisions made with method.
func (g Sum) Method(m string) int64 { return g.Decisions[m] }

// NewStats returns st over [from, to) with every day of the period.
func NewStats(st receipts.Stats, from, to time.Time) Stats {
	rp := Stats{Portal: st.Portal, From: from, To: to}
	byDay := map[time.Time]*receipts.DayStats{}
	for i := range st.Days {
		byDay[st.Days[i].Day] = &st.Days[i]
	}
	langs, revs := map[string]*Sum{}, map[int64]*Sum{}
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		ds := byDay[d]
		if ds == nil {
			ds = &receipts.DayStats{Day: d}
		}
		day := Day{Day: d, Withdrawals: ds.Withdrawals, Total: ds.Total(), ByLang: ds.ByLang(), ByRevision: ds.ByRevision()}
		rp.Days = append(rp.Days, day)
		rp.Total.Withdrawals += ds.Withdrawals
		addGroup(&rp.Total.StatsGroup, day.Total)
		for lang, g := range day.ByLang {
			if langs[lang] == nil {
				langs[lang] = &Sum{StatsGroup: receipts.StatsGroup{Lang: lang}}
			}
			addGroup(&langs[lang].StatsGroup, g)
		}
		for rev, g := range day.ByRevision {
			if revs[rev] == nil {
				revs[rev] = &Sum{StatsGroup: receipts.StatsGroup{Revision: rev}}
			}
			addGroup(&revs[rev].StatsGroup, g)
		}
	}
	for _, g := range langs {
		rp.ByLang = append(rp.ByLang, *g)
	}
	sort.Slice(rp.ByLang, func(i, j int) bool { return rp.ByLang[i].Lang < rp.ByLang[j].Lang })
	for _, g := range revs {
		rp.ByRev = append(rp.ByRev, *g)
	}
	sort.Slice(rp.ByRev, func(i, j int) bool { return rp.ByRev[i].Revision < rp.ByRev[j].Revision })
	return rp
}

// addGroup adds o's counts to g (not its Revision and Lang).
func addGroup(g *receipts.StatsGroup, o receipts.StatsGroup) {
	g.Impressions += o.Impressions
	for k, v := range o.Decisions {
		if g.Decisions == nil {
			g.Decisions = map[string]int64{}
		}
		g.Decisions[k] += v
	}
	for k, v := range o.Accepted {
		if g.Accepted == nil {
			g.Accepted = map[string]int64{}
		}
		g.Accepted[k] += v
	}
}

// Category is an optional category whose share the report shows.
type Category struct{ ID, Name string }

// OptionalCategories returns the optional categories of p, named in lang
// when p has it, then the other categories some decision of rp accepted
// (of an earlier revision: named by id), by id. Required categories are
// left out: every decision accepts them.
func OptionalCategories(p *policy.Policy, lang string, accepted map[string]int64) []Category {
	q, ok := p.In(lang)
	if !ok {
		q = p
	}
	var out []Category
	known := map[string]bool{}
	for _, c := range q.Categories {
		known[c.ID] = true
		if !c.Required {
			out = append(out, Category{ID: c.ID, Name: c.Name})
		}
	}
	var extra []string
	for id := range accepted {
		if !known[id] {
			extra = append(extra, id)
		}
	}
	sort.Strings(extra)
	for _, id := range extra {
		out = append(out, Category{ID: id, Name: id})
	}
	return out
}

// Share returns n/of, and false when of is 0 (no share to show).
func Share(n, of int64) (float64, bool) {
	if of <= 0 {
		return 0, false
	}
	return float64(n) / float64(of), true
}
