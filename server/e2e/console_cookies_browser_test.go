package e2e

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/servertest"
)

// statsPortal returns a copy of mtran as portal "stats", declaring _ga in
// its statistical category.
func statsPortal(t testing.TB) *policy.Policy {
	ps, err := policy.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	p := ps[0]
	p.ID, p.Name = "stats", "Stats portal"
	p.Cookies = append(p.Cookies, policy.Cookie{Provider: "Google", Function: "Analytics", Names: []string{"_ga"},
		Purpose: "Audience", Category: "statistical", Duration: "13 months"})
	for i := range p.Translations {
		p.Translations[i].Cookies["_ga"] = policy.CookieText{Function: "Mesure", Purpose: "Audience", Duration: "13 mois"}
	}
	return p
}

// sessionGet GETs url with the tab's console session cookie (the console's
// CSP lets no script fetch: the browser's session, read over CDP, is sent
// by the test's client) and returns the body of a 200.
func (tb *tab) sessionGet(base, path string) string {
	tb.T.Helper()
	var cookies []*network.Cookie
	tb.Run(chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().WithURLs([]string{base}).Do(ctx)
		return err
	}))
	req, _ := http.NewRequest("GET", base+path, nil)
	for _, c := range cookies {
		if c.Name == "pc_session" {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.T.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment; ") {
		tb.T.Fatalf("GET %s: %d %v %v %s", path, res.StatusCode, err, res.Header, body)
	}
	return string(body)
}

// TestBrowserConsoleCookiesAndExport: (a) a real page sets a cookie its
// policy does not declare and the visitor decides in the banner: the
// console's cookies page shows the name with its YAML row; (b) a visitor
// refuses statistics, the page's script sets _ga again, the next page view
// reports it and the cookies page lists it; (c) the console's CSV and JSON
// Lines exports hold exactly the receipts those decisions made. axe-core
// finds nothing on the cookies and export pages at 1200 px and on a phone
// (375 px), light and dark.
func TestBrowserConsoleCookiesAndExport(t *testing.T) {
	src := harness.AxeSource(t)
	st := servertest.OpenStore(t)
	h := harness.StartHostsWith(t, []server.Option{server.WithReceipts(st), server.WithOperators(servertest.Operators(t)), server.WithSignInRate(0, 0)}, statsPortal(t))
	ctx := context.Background()
	day := time.Now().UTC().Truncate(24 * time.Hour)
	exported := func(portal string) []*receipts.Receipt {
		var out []*receipts.Receipt
		if err := st.Export(ctx, portal, day, day.AddDate(0, 0, 1), func(r *receipts.Receipt) error {
			c := *r
			out = append(out, &c)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	tb := newTab(t)

	// (a) receipt.html sets mystery_tracker, undeclared by mtran.
	tb.Run(chromedp.Navigate(h.PortalURL("receipt.html", "")))
	tb.WaitBanner()
	tb.Click("pc-reject")
	tb.WaitConsent()
	harness.Until(t, "mtran's receipt", func() bool { return len(exported("mtran")) == 1 })

	// (b) reappear.html sets _ga on every view: refused, deleted on the
	// change, set again, found and reported on the next view only. A new
	// visitor (the portals share the host, so mtran's choice would stand).
	tb.Run(network.ClearBrowserCookies())
	tb.Run(chromedp.Navigate(h.PortalURL("reappear.html", "portal=stats")))
	tb.WaitBanner()
	tb.Click("pc-reject")
	tb.WaitFor("the stats choice", `document.cookie.includes("cookies_preferences=")`)
	harness.Until(t, "stats's receipt", func() bool { return len(exported("stats")) == 1 })
	if rs, err := st.Reappeared(ctx, "stats", day, day.AddDate(0, 0, 1)); err != nil || len(rs) != 0 {
		t.Fatalf("reported on the change itself: %+v, %v", rs, err)
	}
	tb.Run(chromedp.Navigate(h.PortalURL("reappear.html", "portal=stats")))
	tb.WaitReturning()
	tb.WaitFor("_ga deleted again", `!document.cookie.includes("_ga=")`)
	var seen []receipts.Reappeared
	harness.Until(t, "the reappeared beacon", func() bool {
		var err error
		seen, err = st.Reappeared(ctx, "stats", day, day.AddDate(0, 0, 1))
		return err == nil && len(seen) > 0
	})
	page := h.Portal.URL + "/reappear.html"
	if len(seen) != 1 || seen[0].Name != "_ga" || seen[0].Category != "statistical" || seen[0].Count != 1 ||
		len(seen[0].Pages) != 1 || seen[0].Pages[0] != page {
		t.Errorf("reappeared tallies %+v, want _ga statistical once on %s", seen, page)
	}
	tb.NoErrors()

	// The console, signed in as dpo (every portal).
	tb.Run(chromedp.Navigate(h.Consent.URL + "/console/"))
	tb.consoleSignIn(servertest.DPOToken)
	tb.WaitFor("the portal list", `document.querySelector("main table a") !== null`)
	tb.Run(chromedp.Navigate(h.Consent.URL + "/console/portals/mtran/cookies"))
	tb.WaitFor("mtran's cookies page", `document.querySelector("h1") !== null`)
	if got := tb.text("section.pc-cookie h3"); got != "mystery_tracker" {
		t.Errorf("undeclared cookie %q, want mystery_tracker", got)
	}
	if got := tb.text("pre.pc-yaml"); !strings.Contains(got, `names: ["mystery_tracker"]`) || !strings.Contains(got, "category: statistical") {
		t.Errorf("YAML row %q", got)
	}
	if got := tb.text("main"); !strings.Contains(got, h.Portal.URL+"/receipt.html") {
		t.Errorf("the page is not listed: %s", got)
	}
	tb.Run(chromedp.Navigate(h.Consent.URL + "/console/portals/stats/cookies"))
	tb.WaitFor("stats's cookies page", `document.querySelector("h1") !== null`)
	if got := tb.text("main"); !strings.Contains(got, "Refused cookies seen again") || !strings.Contains(got, "_ga") ||
		!strings.Contains(got, "Category: statistical") || !strings.Contains(got, page) ||
		!strings.Contains(got, "No undeclared cookie was reported over this period.") {
		t.Errorf("stats's cookies page:\n%s", got)
	}

	// (c) the exports, through the session.
	today := day.Format(time.DateOnly)
	for _, portal := range []string{"mtran", "stats"} {
		want := exported(portal)
		body := tb.sessionGet(h.Consent.URL, "/console/portals/"+portal+"/export.csv?from="+today+"&to="+today)
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil || len(rows) != 1+len(want) || rows[0][0] != "receipt_id" {
			t.Fatalf("%s export.csv: %v %q", portal, err, body)
		}
		for i, r := range want {
			if row := rows[1+i]; row[0] != r.ID || row[3] != r.ConsentID || row[6] != "reject-all" || row[13] != r.Hash {
				t.Errorf("%s export.csv row %d %q, want receipt %s", portal, i, row, r.ID)
			}
		}
		body = tb.sessionGet(h.Consent.URL, "/console/portals/"+portal+"/export.jsonl?from="+today+"&to="+today)
		// A line of the JSON Lines export: the fields this test checks.
		type exportLine struct {
			ReceiptID string `json:"receiptId"`
			ConsentID string `json:"consentId"`
			Method    string `json:"method"`
			Hash      string `json:"hash"`
		}
		var lines []exportLine
		sc := bufio.NewScanner(strings.NewReader(body))
		for sc.Scan() {
			var l exportLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("%s export.jsonl: %v %q", portal, err, body)
			}
			lines = append(lines, l)
		}
		if len(lines) != len(want) {
			t.Fatalf("%s export.jsonl: %d lines, want %d", portal, len(lines), len(want))
		}
		for i, r := range want {
			if l := lines[i]; l.ReceiptID != r.ID || l.ConsentID != r.ConsentID || l.Method != "reject-all" || l.Hash != r.Hash {
				t.Errorf("%s export.jsonl line %d %+v, want receipt %s", portal, i, l, r.ID)
			}
		}
	}

	// axe on the cookies (with rows, and empty) and export pages.
	base := h.Consent.URL + "/console/portals/"
	tb.axeConsolePages(src, base+"mtran/cookies", base+"stats/cookies", base+"mtran/export")
	tb.NoErrors()
}
