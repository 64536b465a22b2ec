package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/servertest"
	"github.com/portalconsent/portalconsent/web"
)

// startStatsConsole serves the real handler (real assets) with the test
// operators and a SQLite receipts store on a loopback origin, on the
// real clock.
func startStatsConsole(t *testing.T) *httptest.Server {
	t.Helper()
	srv, err := server.New(harness.Policies, web.Files(), server.WithOperators(servertest.Operators(t)), server.WithSignInRate(0, 0), server.WithReceipts(servertest.OpenStore(t)))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

// postChoices makes receipts through the real route: for each method, n
// choices (accept-all accepts statistical, reject-all refuses it, custom
// accepts it every other time), in French, and impressions banners shown.
// It returns the decisions per method and how many accepted statistical.
func postChoices(t *testing.T, base string, n map[string]int, impressions int) (accepted int) {
	t.Helper()
	var mtran = harness.Policies[0]
	for _, p := range harness.Policies {
		if p.ID == "mtran" {
			mtran = p
		}
	}
	for i := range impressions {
		res, err := http.Post(base+"/portals/mtran/impressions", "text/plain;charset=UTF-8", strings.NewReader(fmt.Sprintf(`{"revision":%d,"lang":"fr"}`, mtran.Revision)))
		if err != nil || res.StatusCode != http.StatusNoContent {
			t.Fatalf("impression %d: %v %v", i, res, err)
		}
		res.Body.Close()
	}
	for _, m := range []string{"accept-all", "reject-all", "custom"} {
		for i := range n[m] {
			var accept []string
			if m == "accept-all" || m == "custom" && i%2 == 0 {
				accept = []string{"statistical"}
				accepted++
			}
			c := servertest.ConsentValue(mtran, time.Now().Add(-time.Second), accept...)
			res, err := http.Post(base+"/portals/mtran/consents", "text/plain;charset=UTF-8",
				strings.NewReader(servertest.ReceiptJSONBody(c.Encode(), m, "fr", "https://mtran.my.opendatasoft.com/explore/")))
			if err != nil || res.StatusCode != http.StatusCreated {
				t.Fatalf("receipt %s %d: %v %v", m, i, res, err)
			}
			res.Body.Close()
		}
	}
	return accepted
}

// TestBrowserConsoleStatsChart: receipts made through POST
// /portals/mtran/consents show in the portal page's table and its chart.
func TestBrowserConsoleStatsChart(t *testing.T) {
	ts := startStatsConsole(t)
	n := map[string]int{"accept-all": 4, "reject-all": 3, "custom": 5}
	accepted := postChoices(t, ts.URL, n, 8)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(ts.URL + "/console/"))
	tb.consoleSignIn(servertest.AliceToken)
	tb.WaitFor("the overview", `document.querySelector("table.pc-stats-overview a") !== null`)
	var overview []string
	tb.Eval(`[...document.querySelectorAll("tr[data-portal=mtran] td")].map(td => td.textContent.trim())`, &overview)
	if len(overview) != 4 || overview[1] != "12" || overview[2] != "12" || overview[3] != "Statistical: 58.3%" {
		t.Errorf("overview row %q, want today 12, 30 days 12, Statistical 58.3%% (7 of 12)", overview)
	}
	tb.Run(chromedp.Click(`a[href="/console/portals/mtran"]`, chromedp.ByQuery))
	tb.WaitFor("the portal page", `location.pathname === "/console/portals/mtran" && document.querySelector("#table-decisions") !== null`)
	today := time.Now().UTC().Format(time.DateOnly)
	var row []string
	tb.Eval(`[...document.querySelector("#table-decisions tbody tr:last-child").children].map(c => c.textContent.trim())`, &row)
	if want := []string{today, "4", "3", "5", "0", "12"}; strings.Join(row, "|") != strings.Join(want, "|") {
		t.Errorf("today's row %q, want %q", row, want)
	}
	// The chart's last bar: one segment per method, each its count.
	var bar struct {
		Label    string
		Segments []string
		Title    string
	}
	tb.Eval(`(() => { const g = [...document.querySelectorAll("#h-decisions ~ div svg .pc-chart-bar")].pop();
		return {Label: g.dataset.label, Title: g.querySelector("title").textContent,
			Segments: [...g.querySelectorAll("[data-series]")].map(s => s.dataset.series + "=" + s.dataset.value)}; })()`, &bar)
	if bar.Label != today || strings.Join(bar.Segments, " ") != "0=4 1=3 2=5" || bar.Title != today+" — Accept all: 4, Reject all: 3, Custom: 5, Browser signal: 0" {
		t.Errorf("today's bar %+v", bar)
	}
	// The segments' heights are in proportion (4:3:5 of the same scale).
	var h []float64
	tb.Eval(`[...[...document.querySelectorAll("#h-decisions ~ div svg .pc-chart-bar")].pop().querySelectorAll("[data-series] > rect:first-child")].map(r => r.getBBox().height)`, &h)
	if len(h) != 3 || h[0]/4 < h[1]/3-0.01 || h[0]/4 > h[1]/3+0.01 || h[2]/5 < h[0]/4-0.01 || h[2]/5 > h[0]/4+0.01 {
		t.Errorf("segment heights %v, not 4:3:5", h)
	}
	var share []string
	tb.Eval(`[document.querySelector("#table-categories tbody td:last-child").textContent, document.querySelector("#h-categories ~ div svg .pc-chart-share").dataset.value]`, &share)
	if want := fmt.Sprintf("%.1f%%", 100*float64(accepted)/12); len(share) != 2 || share[0] != want || share[1] != "58.33" {
		t.Errorf("statistical share %q, want %s (table) and 58.33 (chart)", share, want)
	}
	var imp []string
	tb.Eval(`[...document.querySelector("#table-impressions tbody tr:last-child").children].map(c => c.textContent.trim())`, &imp)
	if want := []string{today, "8", "12", "150.0%"}; strings.Join(imp, "|") != strings.Join(want, "|") {
		t.Errorf("impressions row %q, want %q", imp, want)
	}
	tb.NoErrors()
}

// TestA11yConsoleStatsAxe: axe-core, 0 violations on the overview and the
// portal page with data, at 1200 px and on an emulated 375 px phone, light
// and dark, in English and French.
func TestA11yConsoleStatsAxe(t *testing.T) {
	src := harness.AxeSource(t)
	ts := startStatsConsole(t)
	postChoices(t, ts.URL, map[string]int{"accept-all": 3, "reject-all": 2, "custom": 2}, 9)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(ts.URL + "/console/"))
	tb.consoleSignIn(servertest.DPOToken)
	tb.WaitFor("the overview", `document.querySelector("table.pc-stats-overview a") !== null`)
	tb.axeConsolePages(src, ts.URL+"/console/", ts.URL+"/console/portals/mtran", ts.URL+"/console/portals/mtran?from=2026-03-05&to=2026-03-01")
	tb.NoErrors()
}
