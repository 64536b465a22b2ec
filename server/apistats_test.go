package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/api"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/reports"
)

// fillAPI stores, for portal mtran, receipts on testNow's day and the two
// before it (with undeclared cookies and a withdrawal) and impressions, and
// one receipt of twisto; it returns mtran's receipts in chain order.
func fillAPI(t *testing.T, st receipts.Store) []*receipts.Receipt {
	t.Helper()
	ctx := context.Background()
	day := testNow.Truncate(24 * time.Hour)
	type add struct {
		at               time.Duration // after day
		consent          string
		rev              int64
		lang, method     string
		statistical      bool
		page             string
		undeclared       []string
		impressionBefore bool
	}
	var out []*receipts.Receipt
	for i, a := range []add{
		{-47 * time.Hour, "c1", 3, "fr", receipts.MethodAcceptAll, true, "https://a.example/one", []string{"_ga", "_hj"}, true},
		{-46 * time.Hour, "c2", 3, "en", receipts.MethodRejectAll, false, "https://a.example/two", []string{"_ga"}, true},
		{-22 * time.Hour, "c1", 4, "fr", receipts.MethodCustom, false, "https://a.example/three", []string{"_ga"}, false}, // withdraws
		{1 * time.Hour, "c3", 4, "en", receipts.MethodAcceptAll, true, "https://a.example/one", nil, true},
		{2 * time.Hour, "c4", 4, "en", receipts.MethodAcceptAll, true, "https://a.example/one", []string{"_hj"}, true},
	} {
		if a.impressionBefore {
			if err := st.CountImpression(ctx, "mtran", a.rev, a.lang, day.Add(a.at-time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		r := &receipts.Receipt{
			Portal: "mtran", ConsentID: fmt.Sprintf("%-22s", a.consent), Revision: a.rev, Method: a.method, Lang: a.lang, Page: a.page,
			Choices:   []policy.Choice{{Category: "necessary", Accepted: true}, {Category: "statistical", Accepted: a.statistical}},
			DecidedAt: day.Add(a.at - time.Second), ReceivedAt: day.Add(a.at), Notice: receipts.NoticeHash([]byte(fmt.Sprint(i))),
		}
		if err := st.Append(ctx, r, receipts.Cookies(a.undeclared...)); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := st.Append(ctx, &receipts.Receipt{Portal: "twisto", ConsentID: "x", Revision: 1, Method: receipts.MethodAcceptAll,
		Lang: "en", Page: "https://t.example/", DecidedAt: testNow, ReceivedAt: testNow}, receipts.Cookies("_ga")); err != nil {
		t.Fatal(err)
	}
	return out
}

var apiAuth = http.Header{"Authorization": {"Bearer " + testAdminToken}}

func TestAPIStats(t *testing.T) {
	st := openTestStore(t)
	fillAPI(t, st)
	s := newReceiptServer(t, st, nil)
	res, body := serve(t, s, "GET", "/api/v1/portals/mtran/stats", apiAuth)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("stats: %d %s", res.StatusCode, body)
	}
	var got api.StatsJSON
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	today := testNow.Format(time.DateOnly)
	if got.Portal != "mtran" || got.To != today || got.From != testNow.AddDate(0, 0, -29).Format(time.DateOnly) || len(got.Days) != 30 {
		t.Fatalf("default period: %s to %s, %d days, want the last 30 days to %s", got.From, got.To, len(got.Days), today)
	}
	zero := map[string]int64{"accept-all": 0, "reject-all": 0, "custom": 0, "signal": 0}
	if d := got.Days[0]; d.Count != 0 || fmt.Sprint(d.Decisions) != fmt.Sprint(zero) || len(d.ByLang) != 0 {
		t.Errorf("a day without receipts: %+v", d)
	}
	for _, c := range []struct {
		day                 int // from the end
		count, withdrawals  int64
		impressions         int64
		accepted            int64 // statistical
		decisions           string
		byLang, byRevision  string // counts
		impressionsByLangFr int64
	}{
		{2, 2, 0, 2, 1, "map[accept-all:1 custom:0 reject-all:1 signal:0]", "en:1 fr:1", "3:2", 1},
		{1, 1, 1, 0, 0, "map[accept-all:0 custom:1 reject-all:0 signal:0]", "fr:1", "4:1", 0},
		{0, 2, 0, 2, 2, "map[accept-all:2 custom:0 reject-all:0 signal:0]", "en:2", "4:2", 0},
	} {
		d := got.Days[len(got.Days)-1-c.day]
		byLang, byRev := []string{}, []string{}
		for _, l := range []string{"en", "fr"} {
			if g, ok := d.ByLang[l]; ok {
				byLang = append(byLang, fmt.Sprintf("%s:%d", l, g.Count))
			}
		}
		for _, r := range []string{"3", "4"} {
			if g, ok := d.ByRevision[r]; ok {
				byRev = append(byRev, fmt.Sprintf("%s:%d", r, g.Count))
			}
		}
		if d.Day != testNow.AddDate(0, 0, -c.day).Format(time.DateOnly) || d.Count != c.count || d.Withdrawals != c.withdrawals ||
			d.Impressions != c.impressions || d.Accepted["statistical"] != c.accepted || fmt.Sprint(d.Decisions) != c.decisions ||
			strings.Join(byLang, " ") != c.byLang || strings.Join(byRev, " ") != c.byRevision || d.ByLang["fr"].Impressions != c.impressionsByLangFr {
			t.Errorf("day -%d: %+v", c.day, d)
		}
	}

	// An explicit period, inclusive.
	day := testNow.AddDate(0, 0, -1).Format(time.DateOnly)
	res, body = serve(t, s, "GET", "/api/v1/portals/mtran/stats?from="+day+"&to="+day, apiAuth)
	if err := json.Unmarshal(body, &got); err != nil || res.StatusCode != 200 || len(got.Days) != 1 || got.Days[0].Withdrawals != 1 {
		t.Errorf("one day: %d %s", res.StatusCode, body)
	}
	// A portal no longer served keeps its stats; one without any has zeros.
	res, body = serve(t, s, "GET", "/api/v1/portals/gone/stats?from="+day+"&to="+day, apiAuth)
	if err := json.Unmarshal(body, &got); err != nil || res.StatusCode != 200 || len(got.Days) != 1 || got.Days[0].Count != 0 {
		t.Errorf("unknown portal: %d %s", res.StatusCode, body)
	}
}

func TestAPIReceiptsJSONL(t *testing.T) {
	st := openTestStore(t)
	rs := fillAPI(t, st)
	s := newReceiptServer(t, st, nil)
	res, body := serve(t, s, "GET", "/api/v1/portals/mtran/receipts.jsonl", apiAuth)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/x-ndjson" ||
		!strings.Contains(res.Header.Get("Content-Disposition"), ".jsonl") {
		t.Fatalf("jsonl: %d %v %s", res.StatusCode, res.Header, body)
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	i := 0
	for ; sc.Scan(); i++ {
		if i >= len(rs) {
			t.Fatalf("more lines than receipts: %s", sc.Text())
		}
		var line map[string]any
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.UseNumber()
		if err := dec.Decode(&line); err != nil {
			t.Fatalf("line %d %q: %v", i+1, sc.Text(), err)
		}
		r := rs[i]
		want := map[string]any{
			"receiptId": r.ID, "receivedAt": r.ReceivedAt.Format(time.RFC3339Nano), "decidedAt": r.DecidedAt.Format(time.RFC3339),
			"consentId": r.ConsentID, "revision": json.Number(fmt.Sprint(r.Revision)), "method": r.Method, "lang": r.Lang,
			"page": r.Page, "policy": r.Notice, "writer": json.Number(fmt.Sprint(r.Writer)), "seq": json.Number(fmt.Sprint(r.Seq)), "prev": r.Prev, "hash": r.Hash,
			"choices": map[string]any{"necessary": true, "statistical": r.Choices[1].Accepted},
		}
		if fmt.Sprint(line) != fmt.Sprint(want) {
			t.Errorf("line %d\n%v\nwant\n%v", i+1, line, want)
		}
	}
	if i != len(rs) {
		t.Errorf("%d lines, want %d", i, len(rs))
	}
	// A period: the lines of its days only; an empty one, no lines.
	day := testNow.Format(time.DateOnly)
	if res, body := serve(t, s, "GET", "/api/v1/portals/mtran/receipts.jsonl?from="+day+"&to="+day, apiAuth); res.StatusCode != 200 || bytes.Count(body, []byte("\n")) != 2 {
		t.Errorf("today: %d %q, want 2 lines", res.StatusCode, body)
	}
	if res, body := serve(t, s, "GET", "/api/v1/portals/mtran/receipts.jsonl?from=2020-01-01&to=2020-01-02", apiAuth); res.StatusCode != 200 || len(body) != 0 {
		t.Errorf("empty period: %d %q", res.StatusCode, body)
	}
}

func TestAPIUndeclared(t *testing.T) {
	st := openTestStore(t)
	fillAPI(t, st)
	s := newReceiptServer(t, st, nil)
	day := testNow.Truncate(24 * time.Hour)
	at := func(d time.Duration) string { return day.Add(d).Format(time.RFC3339Nano) }
	for _, c := range []struct {
		name, query string
		want        []reports.Cookie
	}{
		{"last 30 days", "", []reports.Cookie{
			{Type: "cookie", Name: "_ga", Count: 3, FirstSeen: at(-47 * time.Hour), LastSeen: at(-22 * time.Hour), Pages: []string{"https://a.example/one", "https://a.example/two", "https://a.example/three"}},
			{Type: "cookie", Name: "_hj", Count: 2, FirstSeen: at(-47 * time.Hour), LastSeen: at(2 * time.Hour), Pages: []string{"https://a.example/one"}},
		}},
		{"today", "?from=" + testNow.Format(time.DateOnly) + "&to=" + testNow.Format(time.DateOnly), []reports.Cookie{
			{Type: "cookie", Name: "_hj", Count: 1, FirstSeen: at(2 * time.Hour), LastSeen: at(2 * time.Hour), Pages: []string{"https://a.example/one"}},
		}},
		{"none", "?from=2020-01-01&to=2020-01-01", []reports.Cookie{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, body := serve(t, s, "GET", "/api/v1/portals/mtran/cookies/undeclared"+c.query, apiAuth)
			if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %s", res.StatusCode, body)
			}
			want, _ := json.Marshal(c.want)
			if strings.TrimSpace(string(body)) != string(want) {
				t.Errorf("got  %s\nwant %s", body, want)
			}
		})
	}
}

// TestAPIStatsRefusals: the routes of apistats.go refuse like the others.
func TestAPIStatsRefusals(t *testing.T) {
	st := openTestStore(t)
	s := newReceiptServer(t, st, nil)
	for _, route := range []string{"stats", "receipts.jsonl", "cookies/undeclared"} {
		for _, tt := range []struct {
			name, query string
			header      http.Header
			status      int
		}{
			{"no token", "", nil, 401},
			{"wrong token", "", http.Header{"Authorization": {"Bearer " + testAdminToken + "x"}}, 401},
			{"from without to", "?from=2026-01-01", apiAuth, 400},
			{"to without from", "?to=2026-01-01", apiAuth, 400},
			{"bad date", "?from=2026-13-01&to=2026-01-02", apiAuth, 400},
			{"not a date", "?from=yesterday&to=today", apiAuth, 400},
			{"from after to", "?from=2026-02-01&to=2026-01-02", apiAuth, 400},
		} {
			t.Run(route+"/"+tt.name, func(t *testing.T) {
				res, got := serve(t, s, "GET", "/api/v1/portals/mtran/"+route+tt.query, tt.header)
				var e struct{ Error string }
				if res.StatusCode != tt.status || json.Unmarshal(got, &e) != nil || e.Error == "" {
					t.Fatalf("status %d %s, want %d with a JSON error", res.StatusCode, got, tt.status)
				}
			})
		}
		t.Run(route+"/bad portal id", func(t *testing.T) {
			if res, got := serve(t, s, "GET", "/api/v1/portals/NOPE/"+route, apiAuth); res.StatusCode != 400 {
				t.Fatalf("status %d %s, want 400", res.StatusCode, got)
			}
		})
	}
	if res, got := serve(t, s, "GET", "/api/v1/portals/mtran/stats?from=2000-01-01&to=2026-01-01", apiAuth); res.StatusCode != 400 {
		t.Errorf("a period of 26 years: %d %s, want 400", res.StatusCode, got)
	}
	st.Close()
	for _, route := range []string{"stats", "receipts.jsonl", "cookies/undeclared"} {
		if res, got := serve(t, s, "GET", "/api/v1/portals/mtran/"+route, apiAuth); res.StatusCode != 503 {
			t.Errorf("%s with the store closed: %d %s, want 503", route, res.StatusCode, got)
		}
	}
}
