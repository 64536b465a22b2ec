package server

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/api"
	"github.com/portalconsent/portalconsent/server/receipts"
)

var (
	tableRow  = regexp.MustCompile(`(?s)<tr[^>]*>(.*?)</tr>`)
	tableCell = regexp.MustCompile(`(?s)<t[hd][^>]*>(.*?)</t[hd]>`)
	anyTag    = regexp.MustCompile(`<[^>]+>`)
)

// tableRows returns the text of the cells of table id's rows (header row
// first), tags stripped, entities decoded.
func tableRows(t *testing.T, page, id string) [][]string {
	t.Helper()
	start := strings.Index(page, `<table id="`+id+`"`)
	if start < 0 {
		t.Fatalf("no table %s", id)
	}
	end := strings.Index(page[start:], "</table>")
	var out [][]string
	for _, r := range tableRow.FindAllStringSubmatch(page[start:start+end], -1) {
		var cells []string
		for _, c := range tableCell.FindAllStringSubmatch(r[1], -1) {
			cells = append(cells, strings.TrimSpace(html.UnescapeString(anyTag.ReplaceAllString(c[1], ""))))
		}
		out = append(out, cells)
	}
	return out
}

// consoleGet GETs target with the session cookie and Accept-Language.
func consoleGet(t *testing.T, s http.Handler, c *http.Cookie, target, lang string) (*http.Response, string) {
	t.Helper()
	h := http.Header{"Cookie": {c.Name + "=" + c.Value}}
	if lang != "" {
		h.Set("Accept-Language", lang)
	}
	res, body := serve(t, s, "GET", target, h)
	return res, string(body)
}

func newStatsServer(t *testing.T) *Server {
	st := openTestStore(t)
	fillAPI(t, st)
	return newReceiptServer(t, st, nil, WithOperators(testOperators(t)), WithSignInRate(0, 0))
}

func TestConsoleStatsPortalPage(t *testing.T) {
	s := newStatsServer(t)
	alice := signIn(t, s, aliceToken)
	res, page := consoleGet(t, s, alice, "/console/portals/mtran", "en")
	if res.StatusCode != 200 {
		t.Fatalf("portal page: %d\n%s", res.StatusCode, page)
	}
	// The default period: the 30 days ending today (testNow, 2026-03-03).
	if !strings.Contains(page, `name="from" value="2026-02-02"`) || !strings.Contains(page, `name="to" value="2026-03-03"`) {
		t.Errorf("default period not in the form")
	}
	// fillAPI: 03-01 c1 fr rev 3 accept-all (statistical), c2 en rev 3
	// reject-all, 2 impressions; 03-02 c1 fr rev 4 custom refusing
	// statistical (a withdrawal); 03-03 c3, c4 en rev 4 accept-all, 2
	// impressions.
	check := func(id string, want [][]string) {
		t.Helper()
		got := tableRows(t, page, id)
		for i, w := range want {
			if i >= len(got) || strings.Join(got[i], "|") != strings.Join(w, "|") {
				t.Errorf("table %s row %d: got %q, want %q", id, i, got, w)
				return
			}
		}
	}
	check("stats-summary", [][]string{{"Accept all", "Reject all", "Custom", "Browser signal", "Total", "Withdrawals", "Banners shown", "Share of banners decided"},
		{"3", "1", "1", "0", "5", "1", "4", "125.0%"}})
	days := tableRows(t, page, "table-decisions")
	if len(days) != 31 || strings.Join(days[28], "|") != "2026-03-01|1|1|0|0|2" || strings.Join(days[29], "|") != "2026-03-02|0|0|1|0|1" ||
		strings.Join(days[30], "|") != "2026-03-03|2|0|0|0|2" || strings.Join(days[1], "|") != "2026-02-02|0|0|0|0|0" {
		t.Errorf("decisions per day: %q", days)
	}
	wd := tableRows(t, page, "table-withdrawals")
	if len(wd) != 31 || strings.Join(wd[29], "|") != "2026-03-02|1" || strings.Join(wd[30], "|") != "2026-03-03|0" {
		t.Errorf("withdrawals per day: %q", wd)
	}
	imp := tableRows(t, page, "table-impressions")
	if len(imp) != 31 || strings.Join(imp[28], "|") != "2026-03-01|2|2|100.0%" || strings.Join(imp[29], "|") != "2026-03-02|0|1|—" {
		t.Errorf("impressions per day: %q", imp)
	}
	check("table-categories", [][]string{{"Category", "Decisions accepting it", "Share"}, {"Statistical", "3", "60.0%"}})
	check("table-lang", [][]string{{"Language", "Accept all", "Reject all", "Custom", "Browser signal", "Total", "Statistical", "Banners shown", "Share of banners decided"},
		{"en", "2", "1", "0", "0", "3", "66.7%", "3", "100.0%"}, {"fr", "1", "0", "1", "0", "2", "50.0%", "1", "200.0%"}})
	check("table-revision", [][]string{{"Revision", "Accept all", "Reject all", "Custom", "Browser signal", "Total", "Statistical", "Banners shown", "Share of banners decided"},
		{"3", "1", "1", "0", "0", "2", "50.0%", "2", "100.0%"}, {"4", "2", "0", "1", "0", "3", "66.7%", "2", "150.0%"}})
	// The charts carry the same numbers.
	for _, want := range []string{
		`<g class="pc-chart-bar" data-label="2026-03-03"><title>2026-03-03 — Accept all: 2, Reject all: 0, Custom: 0, Browser signal: 0</title><g class="pc-chart-s0" data-series="0" data-value="2">`,
		`data-label="Statistical" data-value="60"`, `role="img" aria-labelledby="chart-decisions-title chart-decisions-desc"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(page, "style=") {
		t.Error("a style attribute (the CSP refuses it)")
	}

	// The API gives the same sums.
	res, body := serve(t, s, "GET", "/api/v1/portals/mtran/stats", apiAuth)
	var apiStats api.StatsJSON
	if err := json.Unmarshal(body, &apiStats); err != nil || res.StatusCode != 200 {
		t.Fatalf("stats API: %d %v", res.StatusCode, err)
	}
	if apiStats.Total.Count != 5 || apiStats.Total.Withdrawals != 1 || apiStats.Total.Impressions != 4 || apiStats.Total.Accepted["statistical"] != 3 ||
		apiStats.Total.Decisions["accept-all"] != 3 || apiStats.ByLang["fr"].Count != 2 || apiStats.ByRevision["4"].Count != 3 || apiStats.ByRevision["4"].Impressions != 2 {
		t.Errorf("API sums %+v, byLang %+v, byRevision %+v", apiStats.Total, apiStats.ByLang, apiStats.ByRevision)
	}

	// French: its numbers and words.
	_, page = consoleGet(t, s, alice, "/console/portals/mtran?from=2026-03-01&to=2026-03-03", "fr-FR,fr;q=0.9")
	check("stats-summary", [][]string{{"Tout accepter", "Tout refuser", "Personnalisé", "Signal du navigateur", "Total", "Retraits", "Bandeaux affichés", "Part des bandeaux suivis d’une décision"},
		{"3", "1", "1", "0", "5", "1", "4", "125,0\u00a0%"}})
	check("table-categories", [][]string{{"Catégorie", "Décisions l’acceptant", "Part"}, {"Statistiques", "3", "60,0\u00a0%"}})
	if n := len(tableRows(t, page, "table-decisions")); n != 4 {
		t.Errorf("three days asked, %d rows", n)
	}
}

func TestConsoleStatsPeriodErrors(t *testing.T) {
	s := newStatsServer(t)
	alice := signIn(t, s, aliceToken)
	for _, c := range []struct{ query, lang, msg string }{
		{"from=yesterday&to=2026-03-03", "en", "From: “yesterday” is not a date (YYYY-MM-DD)."},
		{"from=2026-03-01&to=2026-02-30", "en", "To (inclusive): “2026-02-30” is not a date"},
		{"from=2026-03-03&to=2026-03-01", "en", "The end of the period is before its start."},
		{"from=2025-03-01&to=2026-03-03", "en", "The period is over 366 days (368)."},
		{"from=2026-03-03&to=2026-03-01", "fr", "La fin de la période précède son début."},
		{"to=2024-01-01&from=<script>", "fr", "Du : « &lt;script&gt; » n’est pas une date"},
	} {
		res, page := consoleGet(t, s, alice, "/console/portals/mtran?"+strings.ReplaceAll(c.query, "<", "%3C"), c.lang)
		if res.StatusCode != 400 || !strings.Contains(page, `<p role="alert" class="pc-error" id="period-error"><strong>`+html.EscapeString(c.msg)) &&
			!strings.Contains(page, c.msg) || !strings.Contains(page, `<form method="get" action="/console/portals/mtran"`) || strings.Contains(page, "<svg") {
			t.Errorf("%s: %d, want 400 with the form and %q\n%s", c.query, res.StatusCode, c.msg, page)
		}
	}
	// 366 days is allowed; an empty field takes its default.
	for _, q := range []string{"from=2025-03-03&to=2026-03-03", "from=&to=", "from=2026-03-01&to="} {
		if res, page := consoleGet(t, s, alice, "/console/portals/mtran?"+q, "en"); res.StatusCode != 200 {
			t.Errorf("%s: %d\n%s", q, res.StatusCode, page)
		}
	}
}

func TestConsoleStatsOverview(t *testing.T) {
	s := newStatsServer(t)
	for _, c := range []struct {
		token, lang string
		want        [][]string
	}{
		{aliceToken, "en", [][]string{{"Portal", "Published version", "Decisions today (UTC)", "Decisions, last 30 days", "Accepting each optional category, last 30 days"},
			{"MTRAN open data portal mtran", "version 1 of 2026-03-03 10:00:00Z (revision 1)", "2", "5", "Statistical: 60.0%"}}},
		{dpoToken, "fr", [][]string{{"Portail", "Version publiée", "Décisions aujourd’hui (UTC)", "Décisions, 30 derniers jours", "Acceptation de chaque catégorie facultative, 30 derniers jours"},
			{"MTRAN open data portal mtran", "version 1 du 2026-03-03 10:00:00Z (révision 1)", "2", "5", "Statistiques: 60,0\u00a0%"},
			{"Twisto open data portal twisto", "version 1 du 2026-03-03 10:00:00Z (révision 1)", "1", "1", "Statistiques: 0,0\u00a0%"}}},
	} {
		c0 := signIn(t, s, c.token)
		res, page := consoleGet(t, s, c0, "/console/", c.lang)
		if res.StatusCode != 200 {
			t.Fatalf("overview: %d", res.StatusCode)
		}
		start := strings.Index(page, `<table class="pc-stats-overview">`)
		if start < 0 {
			t.Fatalf("no overview table\n%s", page)
		}
		page = strings.Replace(page, `<table class="pc-stats-overview">`, `<table id="overview">`, 1)
		rows := tableRows(t, page, "overview")
		if len(rows) != len(c.want) {
			t.Errorf("%s: rows %q, want %q", c.token, rows, c.want)
			continue
		}
		for i := range rows {
			if strings.Join(rows[i], "|") != strings.Join(c.want[i], "|") {
				t.Errorf("%s row %d: %q, want %q", c.token, i, rows[i], c.want[i])
			}
		}
	}
}

// TestConsoleStatsSignalColumn: a decision stored from a browser signal
// (ADPC, method signal) has a column and a series of its own, counted in the
// total, not hidden in it.
func TestConsoleStatsSignalColumn(t *testing.T) {
	st := openTestStore(t)
	fillAPI(t, st)
	day := testNow.Truncate(24 * time.Hour)
	if err := st.Append(context.Background(), &receipts.Receipt{
		Portal: "mtran", ConsentID: fmt.Sprintf("%-22s", "c5"), Revision: 4, Method: receipts.MethodSignal, Lang: "en", Page: "https://a.example/one",
		Choices:   []policy.Choice{{Category: "necessary", Accepted: true}, {Category: "statistical", Accepted: false}},
		DecidedAt: day.Add(3*time.Hour - time.Second), ReceivedAt: day.Add(3 * time.Hour), Notice: receipts.NoticeHash([]byte("signal")),
	}, nil); err != nil {
		t.Fatal(err)
	}
	s := newReceiptServer(t, st, nil, WithOperators(testOperators(t)), WithSignInRate(0, 0))
	_, page := consoleGet(t, s, signIn(t, s, aliceToken), "/console/portals/mtran", "en")
	rows := tableRows(t, page, "stats-summary")
	if len(rows) != 2 || strings.Join(rows[0][:5], "|") != "Accept all|Reject all|Custom|Browser signal|Total" || strings.Join(rows[1][:5], "|") != "3|1|1|1|6" {
		t.Errorf("summary: %q", rows)
	}
	if days := tableRows(t, page, "table-decisions"); len(days) != 31 || strings.Join(days[30], "|") != "2026-03-03|2|0|0|1|3" {
		t.Errorf("decisions per day: %q", days)
	}
	if !strings.Contains(page, `<title>2026-03-03 — Accept all: 2, Reject all: 0, Custom: 0, Browser signal: 1</title>`) {
		t.Error("the decisions chart has no signal series")
	}
}
