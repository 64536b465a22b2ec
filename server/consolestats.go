package server

import (
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portalconsent/portalconsent/server/charts"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// The console's statistics: the overview of the operator's portals
// (GET /console/ signed in) and a portal's page (GET /console/portals/{id}
// ?from=YYYY-MM-DD&to=YYYY-MM-DD). Both read Store.Stats, the daily
// aggregates, through newStatsReport, as the stats API does. The charts are
// SVG from package charts, each with its numbers in a table beside it.

// maxPageDays bounds the period of the portal page.
const maxPageDays = 366

// statsText is the statistics pages' wording in one language.
type statsText struct {
	Name, Revision, Today, Days30, Shares, NoShare, Unavailable                                     string
	Period, From, To, Show, PeriodHelp, NotDate, ToBeforeFrom, TooLong                              string
	Summary, Decisions, AcceptAll, RejectAll, Custom, Total, Withdrawals, Impressions, Decided      string
	Day, DecisionsTitle, DecisionsDesc, WithdrawalsTitle, WithdrawalsDesc, ImpressionsTitle         string
	ImpressionsDesc, CategoriesTitle, CategoriesDesc, Category, Accepting, Share, ByLangTitle       string
	ByLangDesc, Language, ByRevTitle, ByRevDesc, NoDecision, NoImpression, NoCategory, NoneInPeriod string
	DecidedHelp, RevisionCol                                                                        string
}

var statsTexts = map[string]statsText{
	"en": {
		Name: "Portal", Revision: "Current revision", Today: "Decisions today (UTC)", Days30: "Decisions, last 30 days",
		Shares: "Accepting each optional category, last 30 days", NoShare: "no decision", Unavailable: "The statistics cannot be read at the moment: retry later.",
		Period: "Period", From: "From", To: "To (inclusive)", Show: "Show", PeriodHelp: "UTC days, at most 366. Without dates: the last 30 days.",
		NotDate: "%s: “%s” is not a date (YYYY-MM-DD).", ToBeforeFrom: "The end of the period is before its start.", TooLong: "The period is over 366 days (%d).",
		Summary: "Over the period", Decisions: "Decisions", AcceptAll: "Accept all", RejectAll: "Reject all", Custom: "Custom",
		Total: "Total", Withdrawals: "Withdrawals", Impressions: "Banners shown", Decided: "Share of banners decided",
		Day: "Day (UTC)", DecisionsTitle: "Decisions per day", DecisionsDesc: "Stacked bars per day: Accept all, Reject all and custom choices, from %s to %s.",
		WithdrawalsTitle: "Withdrawals per day", WithdrawalsDesc: "Bars per day: decisions refusing a category the same visitor's previous decision accepted, from %s to %s.",
		ImpressionsTitle: "Banners shown per day", ImpressionsDesc: "Bars per day: banners shown, from %s to %s.",
		CategoriesTitle: "Share of decisions accepting each category", CategoriesDesc: "Horizontal bars from 0 to 100 %%, over %s to %s.",
		Category: "Category", Accepting: "Decisions accepting it", Share: "Share",
		ByLangTitle: "Decisions by language", ByLangDesc: "Stacked bars per language: Accept all, Reject all and custom choices, over %s to %s.",
		Language: "Language", ByRevTitle: "Decisions by policy revision", ByRevDesc: "Stacked bars per revision: Accept all, Reject all and custom choices, over %s to %s.",
		NoDecision: "No decision in this period", NoImpression: "No banner shown in this period", NoCategory: "No optional category",
		NoneInPeriod: "None in this period.", RevisionCol: "Revision",
		DecidedHelp: "Decisions divided by banners shown. Choices changed later from “Manage cookies” count as decisions without a banner, so this can pass 100 %.",
	},
	"fr": {
		Name: "Portail", Revision: "Révision actuelle", Today: "Décisions aujourd’hui (UTC)", Days30: "Décisions, 30 derniers jours",
		Shares: "Acceptation de chaque catégorie facultative, 30 derniers jours", NoShare: "aucune décision", Unavailable: "Les statistiques ne peuvent pas être lues pour l’instant : réessayez plus tard.",
		Period: "Période", From: "Du", To: "Au (inclus)", Show: "Afficher", PeriodHelp: "Jours UTC, 366 au plus. Sans dates : les 30 derniers jours.",
		NotDate: "%s : « %s » n’est pas une date (AAAA-MM-JJ).", ToBeforeFrom: "La fin de la période précède son début.", TooLong: "La période dépasse 366 jours (%d).",
		Summary: "Sur la période", Decisions: "Décisions", AcceptAll: "Tout accepter", RejectAll: "Tout refuser", Custom: "Personnalisé",
		Total: "Total", Withdrawals: "Retraits", Impressions: "Bandeaux affichés", Decided: "Part des bandeaux suivis d’une décision",
		Day: "Jour (UTC)", DecisionsTitle: "Décisions par jour", DecisionsDesc: "Barres empilées par jour : Tout accepter, Tout refuser et choix personnalisés, du %s au %s.",
		WithdrawalsTitle: "Retraits par jour", WithdrawalsDesc: "Barres par jour : décisions refusant une catégorie que la décision précédente du même visiteur acceptait, du %s au %s.",
		ImpressionsTitle: "Bandeaux affichés par jour", ImpressionsDesc: "Barres par jour : bandeaux affichés, du %s au %s.",
		CategoriesTitle: "Part des décisions acceptant chaque catégorie", CategoriesDesc: "Barres horizontales de 0 à 100 %%, du %s au %s.",
		Category: "Catégorie", Accepting: "Décisions l’acceptant", Share: "Part",
		ByLangTitle: "Décisions par langue", ByLangDesc: "Barres empilées par langue : Tout accepter, Tout refuser et choix personnalisés, du %s au %s.",
		Language: "Langue", ByRevTitle: "Décisions par révision de la politique", ByRevDesc: "Barres empilées par révision : Tout accepter, Tout refuser et choix personnalisés, du %s au %s.",
		NoDecision: "Aucune décision sur cette période", NoImpression: "Aucun bandeau affiché sur cette période", NoCategory: "Aucune catégorie facultative",
		NoneInPeriod: "Aucun sur cette période.", RevisionCol: "Révision",
		DecidedHelp: "Décisions divisées par bandeaux affichés. Un choix modifié plus tard via « Gérer les cookies » compte comme une décision sans bandeau : la part peut dépasser 100 %.",
	},
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
	v, ok := share(n, of)
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
	Day, AcceptAll, RejectAll, Custom, Total, Withdrawals, Impressions, Decided string
}

// statsSplitRow is one row of the by-language or by-revision table.
type statsSplitRow struct {
	Key, AcceptAll, RejectAll, Custom, Total, Impressions, Decided string
	Shares                                                         []string // per category, as Categories
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

func statsTextFor(t *consoleText) statsText {
	if st, ok := statsTexts[t.Lang]; ok {
		return st
	}
	return statsTexts["en"]
}

// statsOverviewData returns the overview of the portals p may see, in
// t's language; a store that fails leaves the numbers out with a message.
func (s *Server) statsOverviewData(r *http.Request, t *consoleText, allows func(string) bool) *statsOverview {
	st := statsTextFor(t)
	ov := &statsOverview{S: st}
	to := receipts.Day(s.now()).AddDate(0, 0, 1)
	from := to.AddDate(0, 0, -defaultDays)
	set := s.portals.Load()
	for _, pol := range s.Policies() {
		if !allows(pol.ID) {
			continue
		}
		row := statsOverviewRow{ID: pol.ID, Name: pol.Name, Revision: fmtInt(t.Lang, int64(pol.Revision)), Today: "—", Days30: "—"}
		if s.receipts != nil && ov.Error == "" {
			stats, err := s.receipts.Stats(r.Context(), pol.ID, from, to)
			if err != nil {
				s.log.Error("receipts store", "err", err.Error())
				s.metrics.StoreError("read")
				ov.Error = st.Unavailable
			} else {
				rp := newStatsReport(stats, from, to)
				row.Today = fmtInt(t.Lang, rp.Days[len(rp.Days)-1].Total.Count())
				row.Days30 = fmtInt(t.Lang, rp.Total.Count())
				pt := set.byID[pol.ID]
				if pt != nil {
					for _, c := range optionalCategories(pt.policy, t.Lang, rp.Total.Accepted) {
						row.Shares = append(row.Shares, statsCatRow{Name: c.Name, Share: fmtShare(t.Lang, rp.Total.Accepted[c.ID], rp.Total.Count())})
					}
				}
			}
		}
		ov.Rows = append(ov.Rows, row)
	}
	return ov
}

// statsPeriod reads the page's from and to: empty or absent, to is today
// (UTC) and from 29 days before to. It returns [from, to+1 day) and the
// form's values, or a message for a field that is not a date, to before
// from, or a period over maxPageDays days.
func statsPeriod(r *http.Request, now time.Time, st statsText) (from, to time.Time, fromV, toV, msg string) {
	q := r.URL.Query()
	fromV, toV = strings.TrimSpace(q.Get("from")), strings.TrimSpace(q.Get("to"))
	last := receipts.Day(now)
	if toV != "" {
		d, err := time.Parse(time.DateOnly, toV)
		if err != nil {
			return from, to, fromV, toV, fmt.Sprintf(st.NotDate, st.To, truncate(toV, 32))
		}
		last = d
	}
	first := last.AddDate(0, 0, -(defaultDays - 1))
	if fromV != "" {
		d, err := time.Parse(time.DateOnly, fromV)
		if err != nil {
			return from, to, fromV, toV, fmt.Sprintf(st.NotDate, st.From, truncate(fromV, 32))
		}
		first = d
	}
	if last.Before(first) {
		return from, to, fromV, toV, st.ToBeforeFrom
	}
	if n := int(last.Sub(first)/(24*time.Hour)) + 1; n > maxPageDays {
		return from, to, fromV, toV, fmt.Sprintf(st.TooLong, n)
	}
	return first, last.AddDate(0, 0, 1), first.Format(time.DateOnly), last.Format(time.DateOnly), ""
}

func (s *Server) consolePortal(w http.ResponseWriter, r *http.Request) {
	pt, p, ss := s.consolePortalFor(w, r)
	if pt == nil {
		return
	}
	t := consoleLang(r)
	st := statsTextFor(t)
	page := &consolePage{T: t, Heading: pt.policy.Name, Principal: p.Name, CSRF: s.sessions.CSRF(ss.ID),
		ID: pt.policy.ID, Revision: pt.policy.Revision, Nav: consoleNav(t, pt.policy.ID, navStats)}
	from, to, fromV, toV, msg := statsPeriod(r, s.now(), st)
	d := &statsPageData{S: st, From: fromV, To: toV, Error: msg}
	page.Data = d
	if msg != "" {
		s.renderConsole(w, http.StatusBadRequest, "portal", page)
		return
	}
	if s.receipts == nil {
		d.Error = st.Unavailable
		s.renderConsole(w, http.StatusServiceUnavailable, "portal", page)
		return
	}
	stats, err := s.receipts.Stats(r.Context(), pt.policy.ID, from, to)
	if err != nil {
		s.log.Error("receipts store", "err", err.Error())
		s.metrics.StoreError("read")
		d.Error = st.Unavailable
		s.renderConsole(w, http.StatusServiceUnavailable, "portal", page)
		return
	}
	fillStatsPage(d, newStatsReport(stats, from, to), pt, t.Lang)
	s.renderConsole(w, http.StatusOK, "portal", page)
}

// fillStatsPage sets d's charts and tables from rp.
func fillStatsPage(d *statsPageData, rp statsReport, pt *portal, lang string) {
	st := d.S
	num := func(n int64) string { return fmtInt(lang, n) }
	first, last := rp.From.Format(time.DateOnly), rp.To.AddDate(0, 0, -1).Format(time.DateOnly)
	methods := []string{receipts.MethodAcceptAll, receipts.MethodRejectAll, receipts.MethodCustom}
	series := []charts.Series{{Label: st.AcceptAll}, {Label: st.RejectAll}, {Label: st.Custom}}
	d.Shown = true
	tot := rp.Total
	d.Summary = statsDayRow{AcceptAll: num(tot.Method(methods[0])), RejectAll: num(tot.Method(methods[1])), Custom: num(tot.Method(methods[2])),
		Total: num(tot.Count()), Withdrawals: num(tot.Withdrawals), Impressions: num(tot.Impressions), Decided: fmtShare(lang, tot.Count(), tot.Impressions)}

	var labels []string
	var dec, wd, imp [][]int64
	for _, day := range rp.Days {
		g := day.Total
		labels = append(labels, day.Day.Format(time.DateOnly))
		dec = append(dec, []int64{g.Decisions[methods[0]], g.Decisions[methods[1]], g.Decisions[methods[2]]})
		wd = append(wd, []int64{day.Withdrawals})
		imp = append(imp, []int64{g.Impressions})
		d.Days = append(d.Days, statsDayRow{Day: labels[len(labels)-1], AcceptAll: num(g.Decisions[methods[0]]), RejectAll: num(g.Decisions[methods[1]]),
			Custom: num(g.Decisions[methods[2]]), Total: num(g.Count()), Withdrawals: num(day.Withdrawals), Impressions: num(g.Impressions),
			Decided: fmtShare(lang, g.Count(), g.Impressions)})
	}
	svg := func(s string) template.HTML { return template.HTML(s) } // escaped by package charts
	d.DecisionsSVG = svg(charts.Stacked{ID: "chart-decisions", Title: st.DecisionsTitle, Desc: fmt.Sprintf(st.DecisionsDesc, first, last),
		Series: series, Bars: labels, Values: dec, Format: num, Empty: st.NoDecision}.SVG())
	d.WithdrawalsSVG = svg(charts.Stacked{ID: "chart-withdrawals", Title: st.WithdrawalsTitle, Desc: fmt.Sprintf(st.WithdrawalsDesc, first, last),
		Series: []charts.Series{{Label: st.Withdrawals}}, Bars: labels, Values: wd, Format: num, Empty: st.NoneInPeriod}.SVG())
	d.ImpressionsSVG = svg(charts.Stacked{ID: "chart-impressions", Title: st.ImpressionsTitle, Desc: fmt.Sprintf(st.ImpressionsDesc, first, last),
		Series: []charts.Series{{Label: st.Impressions}}, Bars: labels, Values: imp, Format: num, Empty: st.NoImpression}.SVG())

	cats := optionalCategories(pt.policy, lang, tot.Accepted)
	var rows []charts.Share
	for _, c := range cats {
		d.Categories = append(d.Categories, c.Name)
		v, _ := share(tot.Accepted[c.ID], tot.Count())
		text := fmtShare(lang, tot.Accepted[c.ID], tot.Count())
		rows = append(rows, charts.Share{Label: c.Name, Value: v, Text: text})
		d.CatRows = append(d.CatRows, statsCatRow{Name: c.Name, Accepting: num(tot.Accepted[c.ID]), Share: text})
	}
	d.CategoriesSVG = svg(charts.Shares{ID: "chart-categories", Title: st.CategoriesTitle, Desc: fmt.Sprintf(st.CategoriesDesc, first, last),
		Rows: rows, Empty: st.NoCategory}.SVG())

	split := func(sums []reportSum, key func(reportSum) string) ([]statsSplitRow, []string, [][]int64) {
		var out []statsSplitRow
		var bars []string
		var vals [][]int64
		for _, g := range sums {
			row := statsSplitRow{Key: key(g), AcceptAll: num(g.Method(methods[0])), RejectAll: num(g.Method(methods[1])), Custom: num(g.Method(methods[2])),
				Total: num(g.Count()), Impressions: num(g.Impressions), Decided: fmtShare(lang, g.Count(), g.Impressions)}
			for _, c := range cats {
				row.Shares = append(row.Shares, fmtShare(lang, g.Accepted[c.ID], g.Count()))
			}
			out = append(out, row)
			bars = append(bars, row.Key)
			vals = append(vals, []int64{g.Method(methods[0]), g.Method(methods[1]), g.Method(methods[2])})
		}
		return out, bars, vals
	}
	rows0, bars, vals := split(rp.ByLang, func(g reportSum) string { return g.Lang })
	d.LangSplit = statsSplit{S: st, ID: "lang", Title: st.ByLangTitle, KeyHead: st.Language, Categories: d.Categories, Rows: rows0,
		SVG: svg(charts.Stacked{ID: "chart-lang", Title: st.ByLangTitle, Desc: fmt.Sprintf(st.ByLangDesc, first, last),
			Series: series, Bars: bars, Values: vals, Format: num, Empty: st.NoDecision}.SVG())}
	rows0, bars, vals = split(rp.ByRev, func(g reportSum) string { return num(g.Revision) })
	d.RevSplit = statsSplit{S: st, ID: "revision", Title: st.ByRevTitle, KeyHead: st.RevisionCol, Categories: d.Categories, Rows: rows0,
		SVG: svg(charts.Stacked{ID: "chart-revision", Title: st.ByRevTitle, Desc: fmt.Sprintf(st.ByRevDesc, first, last),
			Series: series, Bars: bars, Values: vals, Format: num, Empty: st.NoDecision}.SVG())}
}

var _ = template.Must(consolePages.New("stats-overview").Parse(`{{with .Data}}
{{with .Error}}<p role="alert" class="pc-error"><strong>{{.}}</strong></p>{{end}}
<div class="pc-table-wrap" role="region" aria-labelledby="overview-caption" tabindex="0"><table class="pc-stats-overview">
<caption id="overview-caption">{{$.T.Portals}}</caption>
<thead><tr><th scope="col">{{.S.Name}}</th><th scope="col" class="pc-num">{{.S.Revision}}</th><th scope="col" class="pc-num">{{.S.Today}}</th><th scope="col" class="pc-num">{{.S.Days30}}</th><th scope="col">{{.S.Shares}}</th></tr></thead>
<tbody>{{range .Rows}}<tr data-portal="{{.ID}}"><th scope="row"><a href="/console/portals/{{.ID}}">{{.Name}}</a> <code>{{.ID}}</code></th>
<td class="pc-num">{{.Revision}}</td><td class="pc-num" data-cell="today">{{.Today}}</td><td class="pc-num" data-cell="days30">{{.Days30}}</td>
<td><ul class="pc-stats-shares">{{range .Shares}}<li>{{.Name}}: <span class="pc-num">{{.Share}}</span></li>{{end}}</ul></td></tr>
{{end}}</tbody></table></div>{{end}}`))

var _ = template.Must(consolePages.New("stats-split").Parse(`<section class="pc-stats-block" aria-labelledby="h-{{.ID}}"><h2 id="h-{{.ID}}">{{.Title}}</h2><div class="pc-stats-pair">
<div class="pc-stats-chart">{{.SVG}}</div>
<div class="pc-table-wrap" role="region" aria-labelledby="h-{{.ID}}" tabindex="0"><table id="table-{{.ID}}">
<thead><tr><th scope="col">{{.KeyHead}}</th><th scope="col" class="pc-num">{{.S.AcceptAll}}</th><th scope="col" class="pc-num">{{.S.RejectAll}}</th><th scope="col" class="pc-num">{{.S.Custom}}</th><th scope="col" class="pc-num">{{.S.Total}}</th>
{{range .Categories}}<th scope="col" class="pc-num">{{.}}</th>{{end}}<th scope="col" class="pc-num">{{.S.Impressions}}</th><th scope="col" class="pc-num">{{.S.Decided}}</th></tr></thead>
<tbody>{{range .Rows}}<tr><th scope="row">{{.Key}}</th><td class="pc-num">{{.AcceptAll}}</td><td class="pc-num">{{.RejectAll}}</td><td class="pc-num">{{.Custom}}</td><td class="pc-num">{{.Total}}</td>
{{range .Shares}}<td class="pc-num">{{.}}</td>{{end}}<td class="pc-num">{{.Impressions}}</td><td class="pc-num">{{.Decided}}</td></tr>
{{end}}</tbody></table></div></div></section>`))

var _ = template.Must(consolePages.New("portal").Parse(`{{template "head" .}}<h1>{{.Heading}}</h1>
<p>{{.T.PortalIntro}} <code>{{.ID}}</code>, {{.T.Revision}} {{.Revision}}.</p>
{{with .Data}}
<form method="get" action="/console/portals/{{$.ID}}" class="pc-stats-form">
<fieldset><legend>{{.S.Period}}</legend>
{{with .Error}}<p role="alert" class="pc-error" id="period-error"><strong>{{.}}</strong></p>{{end}}
<p><label for="from">{{.S.From}}</label> <input type="date" id="from" name="from" value="{{.From}}" aria-describedby="period-help{{if .Error}} period-error{{end}}">
<label for="to">{{.S.To}}</label> <input type="date" id="to" name="to" value="{{.To}}" aria-describedby="period-help{{if .Error}} period-error{{end}}">
<button type="submit" class="pc-btn pc-primary">{{.S.Show}}</button></p>
<p id="period-help">{{.S.PeriodHelp}}</p>
</fieldset></form>
{{if .Shown}}
<h2 id="summary">{{.S.Summary}} ({{.From}} – {{.To}})</h2>
<div class="pc-table-wrap" role="region" aria-labelledby="summary" tabindex="0"><table id="stats-summary">
<thead><tr><th scope="col" class="pc-num">{{.S.AcceptAll}}</th><th scope="col" class="pc-num">{{.S.RejectAll}}</th><th scope="col" class="pc-num">{{.S.Custom}}</th><th scope="col" class="pc-num">{{.S.Total}}</th><th scope="col" class="pc-num">{{.S.Withdrawals}}</th><th scope="col" class="pc-num">{{.S.Impressions}}</th><th scope="col" class="pc-num">{{.S.Decided}}</th></tr></thead>
<tbody>{{with .Summary}}<tr><td class="pc-num">{{.AcceptAll}}</td><td class="pc-num">{{.RejectAll}}</td><td class="pc-num">{{.Custom}}</td><td class="pc-num">{{.Total}}</td><td class="pc-num">{{.Withdrawals}}</td><td class="pc-num">{{.Impressions}}</td><td class="pc-num">{{.Decided}}</td></tr>{{end}}</tbody></table></div>
<p class="pc-stats-help">{{.S.DecidedHelp}}</p>

<section class="pc-stats-block" aria-labelledby="h-decisions"><h2 id="h-decisions">{{.S.DecisionsTitle}}</h2><div class="pc-stats-pair">
<div class="pc-stats-chart">{{.DecisionsSVG}}</div>
<div class="pc-table-wrap" role="region" aria-labelledby="h-decisions" tabindex="0"><table id="table-decisions">
<thead><tr><th scope="col">{{.S.Day}}</th><th scope="col" class="pc-num">{{.S.AcceptAll}}</th><th scope="col" class="pc-num">{{.S.RejectAll}}</th><th scope="col" class="pc-num">{{.S.Custom}}</th><th scope="col" class="pc-num">{{.S.Total}}</th></tr></thead>
<tbody>{{range .Days}}<tr><th scope="row">{{.Day}}</th><td class="pc-num">{{.AcceptAll}}</td><td class="pc-num">{{.RejectAll}}</td><td class="pc-num">{{.Custom}}</td><td class="pc-num">{{.Total}}</td></tr>
{{end}}</tbody></table></div></div></section>

<section class="pc-stats-block" aria-labelledby="h-withdrawals"><h2 id="h-withdrawals">{{.S.WithdrawalsTitle}}</h2><div class="pc-stats-pair">
<div class="pc-stats-chart">{{.WithdrawalsSVG}}</div>
<div class="pc-table-wrap" role="region" aria-labelledby="h-withdrawals" tabindex="0"><table id="table-withdrawals">
<thead><tr><th scope="col">{{.S.Day}}</th><th scope="col" class="pc-num">{{.S.Withdrawals}}</th></tr></thead>
<tbody>{{range .Days}}<tr><th scope="row">{{.Day}}</th><td class="pc-num">{{.Withdrawals}}</td></tr>
{{end}}</tbody></table></div></div></section>

<section class="pc-stats-block" aria-labelledby="h-impressions"><h2 id="h-impressions">{{.S.ImpressionsTitle}}</h2><div class="pc-stats-pair">
<div class="pc-stats-chart">{{.ImpressionsSVG}}</div>
<div class="pc-table-wrap" role="region" aria-labelledby="h-impressions" tabindex="0"><table id="table-impressions">
<thead><tr><th scope="col">{{.S.Day}}</th><th scope="col" class="pc-num">{{.S.Impressions}}</th><th scope="col" class="pc-num">{{.S.Decisions}}</th><th scope="col" class="pc-num">{{.S.Decided}}</th></tr></thead>
<tbody>{{range .Days}}<tr><th scope="row">{{.Day}}</th><td class="pc-num">{{.Impressions}}</td><td class="pc-num">{{.Total}}</td><td class="pc-num">{{.Decided}}</td></tr>
{{end}}</tbody></table></div></div></section>

<section class="pc-stats-block" aria-labelledby="h-categories"><h2 id="h-categories">{{.S.CategoriesTitle}}</h2><div class="pc-stats-pair">
<div class="pc-stats-chart">{{.CategoriesSVG}}</div>
<div class="pc-table-wrap" role="region" aria-labelledby="h-categories" tabindex="0"><table id="table-categories">
<thead><tr><th scope="col">{{.S.Category}}</th><th scope="col" class="pc-num">{{.S.Accepting}}</th><th scope="col" class="pc-num">{{.S.Share}}</th></tr></thead>
<tbody>{{range .CatRows}}<tr><th scope="row">{{.Name}}</th><td class="pc-num">{{.Accepting}}</td><td class="pc-num">{{.Share}}</td></tr>
{{end}}</tbody></table></div></div></section>

{{template "stats-split" .LangSplit}}
{{template "stats-split" .RevSplit}}
{{end}}{{end}}
<p><a href="/console/">{{.T.Back}}</a></p>
{{template "foot" .}}`))
