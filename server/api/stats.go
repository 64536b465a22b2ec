package api

import (
	"strconv"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/reports"
)

// GroupJSON is a receipts.StatsGroup as the API shows it.
type GroupJSON struct {
	// Count is the number of decisions, all methods.
	Count       int64            `json:"count"`
	Decisions   map[string]int64 `json:"decisions"` // every method, 0 included
	Accepted    map[string]int64 `json:"accepted"`  // categories accepted at least once
	Impressions int64            `json:"impressions"`
}

func newGroupJSON(g receipts.StatsGroup) GroupJSON {
	out := GroupJSON{Count: g.Count(), Impressions: g.Impressions, Decisions: map[string]int64{}, Accepted: map[string]int64{}}
	for _, m := range receipts.Methods {
		out.Decisions[m] = 0
	}
	for k, v := range g.Decisions {
		out.Decisions[k] = v
	}
	for k, v := range g.Accepted {
		out.Accepted[k] = v
	}
	return out
}

// DayJSON is one day of the stats route.
type DayJSON struct {
	Day         string `json:"day"` // YYYY-MM-DD, UTC
	Withdrawals int64  `json:"withdrawals"`
	GroupJSON
	ByLang     map[string]GroupJSON `json:"byLang"`
	ByRevision map[string]GroupJSON `json:"byRevision"` // revision as a decimal string
}

// StatsJSON is the body of the stats route: every day, then the period's
// sums (the numbers of the console's portal page).
type StatsJSON struct {
	Portal string    `json:"portal"`
	From   string    `json:"from"`
	To     string    `json:"to"` // inclusive
	Days   []DayJSON `json:"days"`
	Total  struct {
		Withdrawals int64 `json:"withdrawals"`
		GroupJSON
	} `json:"total"`
	ByLang     map[string]GroupJSON `json:"byLang"`
	ByRevision map[string]GroupJSON `json:"byRevision"`
}

// newStatsJSON returns st for [from, to) with every day of the period, the
// days without counts as zeros, through reports.NewStats (as the console).
func newStatsJSON(st receipts.Stats, from, to time.Time) StatsJSON {
	rp := reports.NewStats(st, from, to)
	out := StatsJSON{Portal: st.Portal, From: from.Format(time.DateOnly), To: to.AddDate(0, 0, -1).Format(time.DateOnly), Days: []DayJSON{},
		ByLang: map[string]GroupJSON{}, ByRevision: map[string]GroupJSON{}}
	for _, d := range rp.Days {
		dj := DayJSON{Day: d.Day.Format(time.DateOnly), Withdrawals: d.Withdrawals, GroupJSON: newGroupJSON(d.Total),
			ByLang: map[string]GroupJSON{}, ByRevision: map[string]GroupJSON{}}
		for lang, g := range d.ByLang {
			dj.ByLang[lang] = newGroupJSON(g)
		}
		for rev, g := range d.ByRevision {
			dj.ByRevision[revKey(rev)] = newGroupJSON(g)
		}
		out.Days = append(out.Days, dj)
	}
	out.Total.Withdrawals, out.Total.GroupJSON = rp.Total.Withdrawals, newGroupJSON(rp.Total.StatsGroup)
	for _, g := range rp.ByLang {
		out.ByLang[g.Lang] = newGroupJSON(g.StatsGroup)
	}
	for _, g := range rp.ByRev {
		out.ByRevision[revKey(g.Revision)] = newGroupJSON(g.StatsGroup)
	}
	return out
}

// revKey is a revision as the API keys it.
func revKey(rev int64) string { return strconv.FormatInt(rev, 10) }
