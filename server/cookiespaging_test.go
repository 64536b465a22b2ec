package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/reports"
)

// TestCookiesPaging: past receipts.MaxTallyNames names a day the rest are
// one "(other)" tally, and the API and the console read the tallies a page
// at a time: the API 100 names by default (limit, offset; X-Total-Count;
// a Link to the next page), the console 100 a list (upage, rpage; links to
// the pages before and after); a bad limit, offset or page number is 400.
func TestCookiesPaging(t *testing.T) {
	now := testNow
	s := newConsoleServer(t, &now)
	ctx := context.Background()
	over := receipts.MaxTallyNames + 10
	for i := 0; i < over; i += 32 {
		var ns []string
		for j := i; j < min(i+32, over); j++ {
			ns = append(ns, fmt.Sprintf("n%04d", j))
		}
		if err := s.store.Append(ctx, testReceipt("mtran", fmt.Sprint("c", i), now.Add(-time.Hour)), receipts.Cookies(ns...)); err != nil {
			t.Fatal(err)
		}
		var cs []receipts.ReappearedCookie
		for _, n := range ns[:min(len(ns), 5)] {
			cs = append(cs, receipts.ReappearedCookie{Name: n, Category: "statistical"})
		}
		if err := s.store.CountReappeared(ctx, "mtran", "https://mtran.my.opendatasoft.com/", cs, now.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	total := receipts.MaxTallyNames + 1
	auth := http.Header{"Authorization": {"Bearer " + testAdminToken}}
	for _, c := range []struct {
		query      string
		status     int
		n, first   int    // names, and the index of the first one in "n%04d" order (after the other tally)
		link       string // the next page's query, "" for none
		firstOther bool
	}{
		{"", 200, 100, 0, "limit=100&offset=100", true},
		{"?limit=50&offset=990", 200, 11, 989, "", false},
		{"?limit=1000&offset=1", 200, 1000, 0, "", false},
		{"?offset=1001", 200, 0, 0, "", false},
		{"?limit=0", 400, 0, 0, "", false},
		{"?limit=1001", 400, 0, 0, "", false},
		{"?limit=x", 400, 0, 0, "", false},
		{"?offset=-1", 400, 0, 0, "", false},
	} {
		res, body := serve(t, s, "GET", "/api/v1/portals/mtran/cookies/undeclared"+c.query, auth)
		if res.StatusCode != c.status {
			t.Errorf("undeclared%s: %d %s", c.query, res.StatusCode, body)
			continue
		}
		if c.status != 200 {
			continue
		}
		var got []reports.Cookie
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != c.n || res.Header.Get("X-Total-Count") != fmt.Sprint(total) {
			t.Errorf("undeclared%s: %d names of %s, want %d of %d", c.query, len(got), res.Header.Get("X-Total-Count"), c.n, total)
		}
		if link := res.Header.Get("Link"); (c.link == "") != (link == "") || !strings.Contains(link, c.link) || (link != "" && !strings.HasSuffix(link, `>; rel="next"`)) {
			t.Errorf("undeclared%s: Link %q, want the query %q", c.query, link, c.link)
		}
		if c.firstOther && (len(got) == 0 || got[0].Name != receipts.OtherName || got[0].Count != 10) {
			t.Errorf("undeclared%s: first %+v, want %s counted 10 times", c.query, got[:min(1, len(got))], receipts.OtherName)
		}
		if !c.firstOther && len(got) > 0 && got[0].Name != fmt.Sprintf("n%04d", c.first) {
			t.Errorf("undeclared%s: first %q, want n%04d", c.query, got[0].Name, c.first)
		}
	}
	res, body := serve(t, s, "GET", "/api/v1/portals/mtran/cookies/reappeared?limit=2", auth)
	var rs []reports.Reappeared
	if json.Unmarshal(body, &rs); res.StatusCode != 200 || len(rs) != 2 || res.Header.Get("X-Total-Count") != fmt.Sprint(32*5) {
		t.Errorf("reappeared: %d, %d names of %s", res.StatusCode, len(rs), res.Header.Get("X-Total-Count"))
	}

	cookie := signIn(t, s, aliceToken)
	res, page := consoleGet(t, s, cookie, "/console/portals/mtran/cookies", "en")
	if res.StatusCode != 200 || strings.Count(page, `<section class="pc-cookie"`) != 200 {
		t.Fatalf("cookies page: %d, %d cookies shown, want 100 a list", res.StatusCode, strings.Count(page, `<section class="pc-cookie"`))
	}
	for _, want := range []string{"Names 1 to 100 of 1,001, most seen first.", "Names 1 to 100 of 160, most seen first.",
		`href="/console/portals/mtran/cookies?upage=2">Next names`, `href="/console/portals/mtran/cookies?rpage=2">Next names`,
		"<code>(other)</code>", "counted together"} {
		if !strings.Contains(page, want) {
			t.Errorf("cookies page lacks %q", want)
		}
	}
	if strings.Contains(page, `names: [&#34;(other)&#34;]`) {
		t.Error("cookies page suggests a row declaring (other)")
	}
	_, page = consoleGet(t, s, cookie, "/console/portals/mtran/cookies?upage=11&rpage=2", "fr")
	for _, want := range []string{"Noms 1\u202f001 à 1\u202f001 sur 1\u202f001", "Noms 101 à 160 sur 160",
		`href="/console/portals/mtran/cookies?rpage=2&amp;upage=10">Noms précédents`} {
		if !strings.Contains(page, want) {
			t.Errorf("French cookies page, last pages, lacks %q\n%s", want, page)
		}
	}
	for _, q := range []string{"upage=12", "upage=0", "rpage=x", "rpage=3"} {
		res, page := consoleGet(t, s, cookie, "/console/portals/mtran/cookies?"+q, "en")
		if res.StatusCode != 400 || !strings.Contains(page, "There is no such page of this list.") {
			t.Errorf("cookies page ?%s: %d, want 400 with its message", q, res.StatusCode)
		}
	}
}
