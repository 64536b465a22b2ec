package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// The operator API for scripts, behind the same bearer token as api.go:
//
//	GET /api/v1/portals/{id}/stats?from=YYYY-MM-DD&to=YYYY-MM-DD
//	    the daily aggregates (decisions by method, acceptances per category,
//	    impressions, withdrawals; the same split by language and revision),
//	    then the period's sums: the console's portal page numbers
//	GET /api/v1/portals/{id}/receipts.jsonl?from=&to=
//	    the receipts, one JSON object a line, in chain order, streamed
//	GET /api/v1/portals/{id}/cookies/undeclared?from=&to=
//	    the undeclared cookie names, summed over the days
//
// from and to are UTC days, inclusive; without both the period is the last
// defaultDays days (today included); one without the other, a malformed
// date, from after to or a period over maxStatsDays days is 400.

// defaultDays is the period of the API when the query names none.
const defaultDays = 30

// maxStatsDays bounds the period of the stats route, which lists every day.
const maxStatsDays = 3660

// parsePeriod returns the instants [from 00:00, the day after to 00:00) of
// the query's from and to, the last defaultDays days (now's UTC day last)
// when both are absent, or an error when only one is there or parseDays
// refuses them.
func parsePeriod(r *http.Request, now time.Time) (time.Time, time.Time, error) {
	q := r.URL.Query()
	if !q.Has("from") && !q.Has("to") {
		to := receipts.Day(now).AddDate(0, 0, 1)
		return to.AddDate(0, 0, -defaultDays), to, nil
	}
	return parseDays(r)
}

// groupJSON is a receipts.StatsGroup as the API shows it.
type groupJSON struct {
	// Count is the number of decisions, all methods.
	Count       int64            `json:"count"`
	Decisions   map[string]int64 `json:"decisions"` // every method, 0 included
	Accepted    map[string]int64 `json:"accepted"`  // categories accepted at least once
	Impressions int64            `json:"impressions"`
}

func newGroupJSON(g receipts.StatsGroup) groupJSON {
	out := groupJSON{Count: g.Count(), Impressions: g.Impressions, Decisions: map[string]int64{}, Accepted: map[string]int64{}}
	for _, m := range []string{receipts.MethodAcceptAll, receipts.MethodRejectAll, receipts.MethodCustom} {
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

// dayJSON is one day of the stats route.
type dayJSON struct {
	Day         string `json:"day"` // YYYY-MM-DD, UTC
	Withdrawals int64  `json:"withdrawals"`
	groupJSON
	ByLang     map[string]groupJSON `json:"byLang"`
	ByRevision map[string]groupJSON `json:"byRevision"` // revision as a decimal string
}

// statsJSON is the body of the stats route: every day, then the period's
// sums (the numbers of the console's portal page).
type statsJSON struct {
	Portal string    `json:"portal"`
	From   string    `json:"from"`
	To     string    `json:"to"` // inclusive
	Days   []dayJSON `json:"days"`
	Total  struct {
		Withdrawals int64 `json:"withdrawals"`
		groupJSON
	} `json:"total"`
	ByLang     map[string]groupJSON `json:"byLang"`
	ByRevision map[string]groupJSON `json:"byRevision"`
}

// newStatsJSON returns st for [from, to) with every day of the period, the
// days without counts as zeros, through newStatsReport (as the console).
func newStatsJSON(st receipts.Stats, from, to time.Time) statsJSON {
	rp := newStatsReport(st, from, to)
	out := statsJSON{Portal: st.Portal, From: from.Format(time.DateOnly), To: to.AddDate(0, 0, -1).Format(time.DateOnly), Days: []dayJSON{},
		ByLang: map[string]groupJSON{}, ByRevision: map[string]groupJSON{}}
	for _, d := range rp.Days {
		dj := dayJSON{Day: d.Day.Format(time.DateOnly), Withdrawals: d.Withdrawals, groupJSON: newGroupJSON(d.Total),
			ByLang: map[string]groupJSON{}, ByRevision: map[string]groupJSON{}}
		for lang, g := range d.ByLang {
			dj.ByLang[lang] = newGroupJSON(g)
		}
		for rev, g := range d.ByRevision {
			dj.ByRevision[revKey(rev)] = newGroupJSON(g)
		}
		out.Days = append(out.Days, dj)
	}
	out.Total.Withdrawals, out.Total.groupJSON = rp.Total.Withdrawals, newGroupJSON(rp.Total.StatsGroup)
	for _, g := range rp.ByLang {
		out.ByLang[g.Lang] = newGroupJSON(g.StatsGroup)
	}
	for _, g := range rp.ByRev {
		out.ByRevision[revKey(g.Revision)] = newGroupJSON(g.StatsGroup)
	}
	return out
}

// apiStats serves the daily aggregates of a period.
func (s *Server) apiStats(w http.ResponseWriter, r *http.Request) {
	portal := s.apiPortal(w, r)
	if portal == "" {
		return
	}
	from, to, err := parsePeriod(r, s.now())
	if err == nil && to.Sub(from) > maxStatsDays*24*time.Hour {
		err = fmt.Errorf("the period is over %d days", maxStatsDays)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	st, err := s.receipts.Stats(r.Context(), portal, from, to)
	if err != nil {
		s.storeError(w, err, "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(newStatsJSON(st, from, to))
}

// apiReceiptsJSONL streams the receipts of a period as JSON Lines, in
// chain order, in constant memory; like receipts.csv, a failure once the
// first line is sent cuts the response short.
func (s *Server) apiReceiptsJSONL(w http.ResponseWriter, r *http.Request) {
	portal := s.apiPortal(w, r)
	if portal == "" {
		return
	}
	from, to, err := parsePeriod(r, s.now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.exportReceipts(w, r, portal, from, to, exportJSONL)
}

// maxUndeclaredPages is how many pages the undeclared route lists per name.
const maxUndeclaredPages = 20

// undeclaredJSON is one cookie name of the undeclared route, summed over
// the days of the period.
type undeclaredJSON struct {
	Name      string   `json:"name"`
	Count     int64    `json:"count"`
	FirstSeen string   `json:"firstSeen"`
	LastSeen  string   `json:"lastSeen"`
	Pages     []string `json:"pages"` // distinct, at most maxUndeclaredPages
}

// sumUndeclared sums daily tallies per name: counts added, first and last
// seen the extremes, pages the distinct ones in day order. The names come
// most frequent first, then by name.
func sumUndeclared(us []receipts.Undeclared) []undeclaredJSON {
	type acc struct {
		count       int64
		first, last time.Time
		pages       []string
	}
	byName := map[string]*acc{}
	for _, u := range us {
		a := byName[u.Name]
		if a == nil {
			a = &acc{first: u.FirstSeen, last: u.LastSeen}
			byName[u.Name] = a
		}
		a.count += u.Count
		if u.FirstSeen.Before(a.first) {
			a.first = u.FirstSeen
		}
		if u.LastSeen.After(a.last) {
			a.last = u.LastSeen
		}
		for _, p := range u.Pages {
			if len(a.pages) < maxUndeclaredPages && !slices.Contains(a.pages, p) {
				a.pages = append(a.pages, p)
			}
		}
	}
	out := []undeclaredJSON{}
	for name, a := range byName {
		pages := a.pages
		if pages == nil {
			pages = []string{}
		}
		out = append(out, undeclaredJSON{Name: name, Count: a.count, FirstSeen: a.first.UTC().Format(time.RFC3339Nano),
			LastSeen: a.last.UTC().Format(time.RFC3339Nano), Pages: pages})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// apiUndeclared serves the undeclared cookie names of a period.
func (s *Server) apiUndeclared(w http.ResponseWriter, r *http.Request) {
	portal := s.apiPortal(w, r)
	if portal == "" {
		return
	}
	from, to, err := parsePeriod(r, s.now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	us, err := s.receipts.Undeclared(r.Context(), portal, from, to)
	if err != nil {
		s.storeError(w, err, "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(sumUndeclared(us))
}
