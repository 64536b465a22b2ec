package console

import (
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/portalconsent/portalconsent/server/catalogue"
	"github.com/portalconsent/portalconsent/server/charts"
	"github.com/portalconsent/portalconsent/server/export"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/reports"
	"github.com/portalconsent/portalconsent/server/respond"
)

// The console's statistics: the overview of the operator's portals
// (GET /console/ signed in) and a portal's page (GET /console/portals/{id}
// ?from=YYYY-MM-DD&to=YYYY-MM-DD). Both read Store.Stats, the daily
// aggregates, through reports.NewStats, as the stats API does. The charts are
// SVG from package charts, each with its numbers in a table beside it.

// maxPageDays bounds the period of the portal page.
const maxPageDays = 366

// statsText is the statistics pages' wording in one language.
type statsText struct {
	Name, Revision, Today, Days30, Shares, NoShare, Unavailable                                        string
	Period, From, To, Show, PeriodHelp, NotDate, ToBeforeFrom, TooLong                                 string
	Summary, Decisions, AcceptAll, RejectAll, Custom, Signal, Total, Withdrawals, Impressions, Decided string
	Day, DecisionsTitle, DecisionsDesc, WithdrawalsTitle, WithdrawalsDesc, ImpressionsTitle            string
	ImpressionsDesc, CategoriesTitle, CategoriesDesc, Category, Accepting, Share, ByLangTitle          string
	ByLangDesc, Language, ByRevTitle, ByRevDesc, NoDecision, NoImpression, NoCategory, NoneInPeriod    string
	DecidedHelp, RevisionCol                                                                           string
}

// statsMethods are the methods of a decision, in the order of the columns
// and the charts' series (MethodHeads).
var statsMethods = []string{receipts.MethodAcceptAll, receipts.MethodRejectAll, receipts.MethodCustom, receipts.MethodSignal}

// MethodHeads returns the column heads of statsMethods.
func (st statsText) MethodHeads() []string {
	return []string{st.AcceptAll, st.RejectAll, st.Custom, st.Signal}
}

// fmtInt writes n with grouped thousands: 1,234,567 (en), 1 234 567 (fr,
// narrow no-break spaces).
func fmtInt(lang string, n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	sep := ","
	if lang == "fr" {
		sep = "\u202f"
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	return sign + b.String()
}

// fmtShare writes n/of as a percentage with one decimal: 12.5% (en),
// 12,5 % (fr, a no-break space), and "—" when of is 0.
func fmtShare(lang string, n, of int64) string {
	v, ok := reports.Share(n, of)
	if !ok {
		return "—"
	}
	s := strconv.FormatFloat(math.Round(v*1000)/10, 'f', 1, 64)
	if lang == "fr" {
		return strings.Replace(s, ".", ",", 1) + "\u00a0%"
	}
	return s + "%"
}

// statsDayRow is one row of a per-day table.
type statsDayRow struct {
	Day                                      string
	Methods                                  []string // decisions per method, as statsMethods
	Total, Withdrawals, Impressions, Decided string
}

// statsSplitRow is one row of the by-language or by-revision table.
type statsSplitRow struct {
	Key                         string
	Methods                     []string // decisions per method, as statsMethods
	Total, Impressions, Decided string
	Shares                      []string // per category, as Categories
}

// statsCatRow is one row of the categories table.
type statsCatRow struct{ Name, Accepting, Share string }

// statsPageData is the data of the portal page.
type statsPageData struct {
	S        statsText
	From, To string // the form's values
	Error    string // the form's problem (400)
	Shown    bool   // the charts are there
	Summary  statsDayRow
	// The charts and their tables.
	DecisionsSVG, WithdrawalsSVG, ImpressionsSVG, CategoriesSVG template.HTML
	Days                                                        []statsDayRow
	Categories                                                  []string
	CatRows                                                     []statsCatRow
	LangSplit, RevSplit                                         statsSplit
}

// statsSplit is the by-language or by-revision chart and table.
type statsSplit struct {
	S                  statsText
	ID, Title, KeyHead string
	SVG                template.HTML
	Categories         []string
	Rows               []statsSplitRow
}

// statsOverviewRow is one portal of the overview.
type statsOverviewRow struct {
	ID, Name, Revision, Today, Days30 string
	Shares                            []statsCatRow // Name and Share
}

// statsOverview is the data of the overview.
type statsOverview struct {
	S     statsText
	Rows  []statsOverviewRow
	Error string
}

// statsOverviewData returns the overview of the portals allowed, in tx's
// language; a store that fails leaves the numbers out with a message (a
// host that keeps no receipts shows none, without one).
func (c *Console) statsOverviewData(r *http.Request, tx *texts, es []catalogue.Entry, allows func(string) bool) *statsOverview {
	st, l := tx.Stats, tx.Console.Lang
	ov := &statsOverview{S: st}
	to := receipts.Day(c.now()).AddDate(0, 0, 1)
	from := to.AddDate(0, 0, -export.DefaultDays)
	for _, e := range es {
		if !allows(e.ID) {
			continue
		}
		row := statsOverviewRow{ID: e.ID, Name: e.Name, Revision: versionText(&tx.Console, e.Version, int64(e.Revision)), Today: "—", Days30: "—"}
		if receipts.Keeps(c.store) && ov.Error == "" {
			pt, err := c.cat.Portal(r.Context(), e.ID)
			if errors.Is(err, catalogue.ErrUnknownPortal) {
				continue // removed meanwhile
			}
			var stats receipts.Stats
			if err == nil {
				stats, err = c.store.Stats(r.Context(), e.ID, from, to)
			}
			if err != nil {
				c.failed(err)
				ov.Error = st.Unavailable
			} else {
				rp := reports.NewStats(stats, from, to)
				row.Today = fmtInt(l, rp.Days[len(rp.Days)-1].Total.Count())
				row.Days30 = fmtInt(l, rp.Total.Count())
				for _, cat := range reports.OptionalCategories(pt.Policy, l, rp.Total.Accepted) {
					row.Shares = append(row.Shares, statsCatRow{Name: cat.Name, Share: fmtShare(l, rp.Total.Accepted[cat.ID], rp.Total.Count())})
				}
			}
		}
		ov.Rows = append(ov.Rows, row)
	}
	return ov
}

// statsPeriod reads the page's from and to: empty or absent, to is today
// (UTC) and from 29 days before to. It returns the period (see
// export.ParsePeriod) and the form's values, or a message for a field that
// is not a date, to before from, or a period over maxPageDays days.
func statsPeriod(r *http.Request, now time.Time, st statsText) (p export.Period, fromV, toV, msg string) {
	fromV, toV = strings.TrimSpace(r.URL.Query().Get("from")), strings.TrimSpace(r.URL.Query().Get("to"))
	q := url.Values{"from": {fromV}, "to": {toV}}
	if toV == "" {
		q.Set("to", receipts.Day(now).Format(time.DateOnly))
	}
	if fromV == "" {
		last, err := time.Parse(time.DateOnly, q.Get("to"))
		if err != nil {
			last = receipts.Day(now) // to is reported
		}
		q.Set("from", last.AddDate(0, 0, -(export.DefaultDays-1)).Format(time.DateOnly))
	}
	p, err := export.ParsePeriod(q, now, maxPageDays)
	if e, ok := errors.AsType[*export.PeriodError](err); ok {
		switch e.Problem {
		case export.Reversed:
			msg = st.ToBeforeFrom
		case export.TooLong:
			msg = fmt.Sprintf(st.TooLong, e.Days)
		default:
			field := st.From
			if e.Field == "to" {
				field = st.To
			}
			msg = fmt.Sprintf(st.NotDate, field, respond.Clip(e.Value, 32))
		}
		return p, fromV, toV, msg
	}
	return p, p.From.Format(time.DateOnly), p.Last().Format(time.DateOnly), ""
}

// Portal serves a portal's statistics over the period of ?from=&to=.
func (c *Console) Portal(w http.ResponseWriter, r *http.Request) {
	pt, s := c.portalFor(w, r)
	if pt == nil {
		return
	}
	st := s.tx.Stats
	page := c.page(s, pt.Policy.Name, pt, navStats)
	p, fromV, toV, msg := statsPeriod(r, c.now(), st)
	d := &statsPageData{S: st, From: fromV, To: toV, Error: msg}
	page.Data = d
	if msg != "" {
		c.render(w, http.StatusBadRequest, "portal", page)
		return
	}
	stats, err := c.store.Stats(r.Context(), pt.Policy.ID, p.From, p.To)
	if err != nil {
		d.Error = st.Unavailable
		c.render(w, c.failed(err), "portal", page)
		return
	}
	fillStatsPage(d, reports.NewStats(stats, p.From, p.To), pt, s.tx.Console.Lang)
	c.render(w, http.StatusOK, "portal", page)
}

// fillStatsPage sets d's charts and tables from rp.
func fillStatsPage(d *statsPageData, rp reports.Stats, pt *catalogue.Portal, lang string) {
	st := d.S
	num := func(n int64) string { return fmtInt(lang, n) }
	first, last := rp.From.Format(time.DateOnly), rp.To.AddDate(0, 0, -1).Format(time.DateOnly)
	heads := st.MethodHeads()
	series := make([]charts.Series, len(heads))
	for i, h := range heads {
		series[i] = charts.Series{Label: h}
	}
	// counts returns decisions per method, as numbers and as text.
	counts := func(decisions map[string]int64) ([]int64, []string) {
		n, text := make([]int64, len(statsMethods)), make([]string, len(statsMethods))
		for i, m := range statsMethods {
			n[i] = decisions[m]
			text[i] = num(n[i])
		}
		return n, text
	}
	d.Shown = true
	tot := rp.Total
	_, totText := counts(tot.Decisions)
	d.Summary = statsDayRow{Methods: totText, Total: num(tot.Count()), Withdrawals: num(tot.Withdrawals), Impressions: num(tot.Impressions),
		Decided: fmtShare(lang, tot.Count(), tot.Impressions)}

	var labels []string
	var dec, wd, imp [][]int64
	for _, day := range rp.Days {
		g := day.Total
		n, text := counts(g.Decisions)
		labels = append(labels, day.Day.Format(time.DateOnly))
		dec = append(dec, n)
		wd = append(wd, []int64{day.Withdrawals})
		imp = append(imp, []int64{g.Impressions})
		d.Days = append(d.Days, statsDayRow{Day: labels[len(labels)-1], Methods: text, Total: num(g.Count()), Withdrawals: num(day.Withdrawals),
			Impressions: num(g.Impressions), Decided: fmtShare(lang, g.Count(), g.Impressions)})
	}
	svg := func(s string) template.HTML { return template.HTML(s) } // escaped by package charts
	d.DecisionsSVG = svg(charts.Stacked{ID: "chart-decisions", Title: st.DecisionsTitle, Desc: fmt.Sprintf(st.DecisionsDesc, first, last),
		Series: series, Bars: labels, Values: dec, Format: num, Empty: st.NoDecision}.SVG())
	d.WithdrawalsSVG = svg(charts.Stacked{ID: "chart-withdrawals", Title: st.WithdrawalsTitle, Desc: fmt.Sprintf(st.WithdrawalsDesc, first, last),
		Series: []charts.Series{{Label: st.Withdrawals}}, Bars: labels, Values: wd, Format: num, Empty: st.NoneInPeriod}.SVG())
	d.ImpressionsSVG = svg(charts.Stacked{ID: "chart-impressions", Title: st.ImpressionsTitle, Desc: fmt.Sprintf(st.ImpressionsDesc, first, last),
		Series: []charts.Series{{Label: st.Impressions}}, Bars: labels, Values: imp, Format: num, Empty: st.NoImpression}.SVG())

	cats := reports.OptionalCategories(pt.Policy, lang, tot.Accepted)
	var rows []charts.Share
	for _, c := range cats {
		d.Categories = append(d.Categories, c.Name)
		v, _ := reports.Share(tot.Accepted[c.ID], tot.Count())
		text := fmtShare(lang, tot.Accepted[c.ID], tot.Count())
		rows = append(rows, charts.Share{Label: c.Name, Value: v, Text: text})
		d.CatRows = append(d.CatRows, statsCatRow{Name: c.Name, Accepting: num(tot.Accepted[c.ID]), Share: text})
	}
	d.CategoriesSVG = svg(charts.Shares{ID: "chart-categories", Title: st.CategoriesTitle, Desc: fmt.Sprintf(st.CategoriesDesc, first, last),
		Rows: rows, Empty: st.NoCategory}.SVG())

	split := func(sums []reports.Sum, key func(reports.Sum) string) ([]statsSplitRow, []string, [][]int64) {
		var out []statsSplitRow
		var bars []string
		var vals [][]int64
		for _, g := range sums {
			n, text := counts(g.Decisions)
			row := statsSplitRow{Key: key(g), Methods: text, Total: num(g.Count()), Impressions: num(g.Impressions), Decided: fmtShare(lang, g.Count(), g.Impressions)}
			for _, c := range cats {
				row.Shares = append(row.Shares, fmtShare(lang, g.Accepted[c.ID], g.Count()))
			}
			out = append(out, row)
			bars = append(bars, row.Key)
			vals = append(vals, n)
		}
		return out, bars, vals
	}
	rows0, bars, vals := split(rp.ByLang, func(g reports.Sum) string { return g.Lang })
	d.LangSplit = statsSplit{S: st, ID: "lang", Title: st.ByLangTitle, KeyHead: st.Language, Categories: d.Categories, Rows: rows0,
		SVG: svg(charts.Stacked{ID: "chart-lang", Title: st.ByLangTitle, Desc: fmt.Sprintf(st.ByLangDesc, first, last),
			Series: series, Bars: bars, Values: vals, Format: num, Empty: st.NoDecision}.SVG())}
	rows0, bars, vals = split(rp.ByRev, func(g reports.Sum) string { return num(g.Revision) })
	d.RevSplit = statsSplit{S: st, ID: "revision", Title: st.ByRevTitle, KeyHead: st.RevisionCol, Categories: d.Categories, Rows: rows0,
		SVG: svg(charts.Stacked{ID: "chart-revision", Title: st.ByRevTitle, Desc: fmt.Sprintf(st.ByRevDesc, first, last),
			Series: series, Bars: bars, Values: vals, Format: num, Empty: st.NoDecision}.SVG())}
}
