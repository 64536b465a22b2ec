package e2e

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/servertest"
	"github.com/portalconsent/portalconsent/web"
)

// Browser tests of one consent id per visitor (issue 22) and of receipts
// kept until acknowledged (issue 20): web/embed.js, web/ui.js, web/beyond.js.

// withdrawals returns the withdrawals of mtran in the console's summary
// of the last 30 days (the tab is signed in).
func (tb *tab) withdrawals(consent string) int {
	tb.T.Helper()
	tb.Run(chromedp.Navigate(consent + "/console/portals/mtran"))
	tb.WaitFor("the summary", `document.querySelector("#stats-summary tbody td:nth-child(6)") !== null`)
	n, err := strconv.Atoi(strings.TrimSpace(tb.text("#stats-summary tbody td:nth-child(6)")))
	if err != nil {
		tb.T.Fatalf("withdrawals cell: %v", err)
	}
	return n
}

// TestBrowserWithdrawalKeepsConsentID: a visitor accepts all on the
// server's banner, then withdraws from Manage cookies on a later page view;
// the withdrawal keeps the consent id. The operator finds the id from the
// console's home page (the search across their portals, axe-clean), follows
// the link to the portal's lookup, which shows the two receipts, and the
// console's withdrawal count went up by one.
func TestBrowserWithdrawalKeepsConsentID(t *testing.T) {
	src := harness.AxeSource(t)
	st := servertest.OpenStore(t)
	h := harness.StartHostsWith(t, []server.Option{server.WithReceipts(st), server.WithOperators(servertest.Operators(t)), server.WithSignInRate(0, 0)})
	con := newTab(t)
	con.Run(chromedp.Navigate(h.Consent.URL + "/console/"))
	con.consoleSignIn(servertest.AliceToken)
	con.WaitFor("the portal list", `document.querySelector("main table a") !== null`)
	before := con.withdrawals(h.Consent.URL)

	tb := newTab(t)
	page := h.PortalURL("receipt.html", "")
	tb.Run(chromedp.Navigate(page))
	tb.WaitBanner()
	tb.Click("pc-accept")
	accepted := tb.WaitConsent()
	tb.Run(chromedp.Navigate(page))
	tb.WaitReturning()
	tb.ClickPage("#manage")
	tb.WaitDialog("pc-preferences")
	tb.Click("pc-switch-statistical")
	tb.Click("pc-save")
	tb.WaitFor("the withdrawal", `!document.cookie.includes(`+harness.JSString(accepted.Encode())+`)`)
	withdrawn := tb.WaitConsent()
	if withdrawn.ID != accepted.ID || withdrawn.Accepted(policy.Statistical) {
		t.Fatalf("the withdrawal stored %q after %q: want statistical refused, the same consent id", withdrawn.Encode(), accepted.Encode())
	}
	waitStoredFor(t, st, "mtran", withdrawn)
	tb.NoErrors()

	// The console: the id from the home page's search, then its lookup.
	search := h.Consent.URL + "/console/?" + url.Values{"consent": {accepted.ID}}.Encode()
	con.Run(chromedp.Navigate(h.Consent.URL + "/console/"))
	con.WaitFor("the search box", `document.querySelector("form[role=search] #consent") !== null`)
	con.Run(chromedp.SendKeys("#consent", accepted.ID, chromedp.ByQuery),
		chromedp.Click(`form[role=search] button[type=submit]`, chromedp.ByQuery))
	con.WaitFor("the search's result", `document.querySelectorAll("#search-hits a").length === 1`)
	var href string
	con.Eval(`document.querySelector("#search-hits a").getAttribute("href")`, &href)
	if want := "/console/portals/mtran/lookup?consent=" + accepted.ID; href != want {
		t.Errorf("the search links to %q, want %q", href, want)
	}
	con.Run(chromedp.Click(`#search-hits a`, chromedp.ByQuery))
	con.WaitFor("the receipts", `location.pathname.endsWith("/lookup") && document.querySelectorAll("tr.pc-receipt").length > 0`)
	var rows []string
	con.Eval(`[...document.querySelectorAll("tr.pc-receipt")].map((r) => r.textContent)`, &rows)
	if len(rows) != 2 || !strings.Contains(rows[0], "Accept all") || !strings.Contains(rows[0], "statistical: accepted") ||
		!strings.Contains(rows[1], "statistical: refused") {
		t.Errorf("the lookup of %s shows %q, want the acceptance then the withdrawal", accepted.ID, rows)
	}
	if after := con.withdrawals(h.Consent.URL); after != before+1 {
		t.Errorf("the console counts %d withdrawals, %d before the withdrawal: want one more", after, before)
	}
	con.NoErrors()
	con.axeConsolePages(src, search, h.Consent.URL+"/console/?consent=not-an-id")
	con.NoErrors()
}

// TestBrowserEarlyAcceptKeepsConsentID: the visitor's cookie is of an older
// revision of the policy (still readable, no longer current): the server's
// banner shows again, and an Accept all clicked on it before the app runs
// stores the new revision's choice with the consent id of the old cookie.
func TestBrowserEarlyAcceptKeepsConsentID(t *testing.T) {
	revised := *harness.Policies[0]
	revised.ID, revised.Revision = "revised", harness.Policies[0].Revision+1
	h := harness.StartHosts(t, &revised)
	release := h.HoldWasm()
	defer release()
	old := policy.NewConsent(harness.Policies[0], time.Now().Add(-time.Hour), nil)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("vector.html", url.Values{"portal": {"revised"}, "cookie": {old.Encode()}}.Encode())))
	tb.WaitBanner()
	tb.Click("pc-accept")
	tb.WaitFor("the new choice", `!document.cookie.includes(`+harness.JSString(old.Encode())+`)`)
	if tb.AppRunning() {
		t.Fatal("the app ran: Accept was not the server banner's")
	}
	c, err := policy.Current(tb.Cookie(), &revised, time.Now())
	if err != nil || c.ID != old.ID || !c.Accepted(policy.Statistical) {
		t.Errorf("stored %q (%v) over %q: want the revision %d accepted with the consent id %s", tb.Cookie(), err, old.Encode(), revised.Revision, old.ID)
	}
	tb.WaitAcknowledged()
	tb.NoErrors()
}

// TestBrowserReceiptSentAgain: the consent host answers the first receipt
// 503 (Retry-After: 1, as an overloaded host does); the loader keeps it in
// cookies_preferences_pending, and the next page view sends it again once
// due. The store then holds exactly one receipt of the choice, and the
// pending list is gone; a page view after that loads nothing more than a
// returning visitor's.
func TestBrowserReceiptSentAgain(t *testing.T) {
	st := servertest.OpenStore(t)
	srv, err := server.New(harness.Policies, web.Files(), server.WithReceipts(st))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	refused := 0
	h := harness.StartHostsServing(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := refused == 0 && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/consents")
		if first {
			refused++
		}
		mu.Unlock()
		if first {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Header().Set("Access-Control-Expose-Headers", "Retry-After")
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":"the store is busy"}`, http.StatusServiceUnavailable)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	page := h.PortalURL("receipt.html", "")
	tb := newTab(t)
	tb.Run(chromedp.Navigate(page))
	tb.WaitBanner()
	tb.Click("pc-accept")
	tb.WaitFor("the cookies_preferences cookie", `document.cookie.includes("cookies_preferences=")`)
	c, err := policy.Current(tb.Cookie(), harness.Policies[0], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tb.WaitFor("the receipt kept after the 503", harness.PendingJS+`.length === 1 && `+harness.PendingJS+`[0].n === 1`)
	var entry struct {
		URL, Body string
		At, Next  float64
	}
	tb.Eval(harness.PendingJS+`[0]`, &entry)
	if entry.URL != h.ConsentURL+"/portals/mtran/consents" || !strings.Contains(entry.Body, c.Encode()) ||
		entry.Next-entry.At < 1000 || entry.Next-entry.At > 5000 {
		t.Errorf("pending entry %+v: want the receipt of %q to mtran, due after Retry-After (1 s)", entry, c.Encode())
	}
	if rs, _ := st.Consent(context.Background(), "mtran", c.ID); len(rs) != 0 {
		t.Fatalf("%d receipts stored after the 503", len(rs))
	}
	tb.WaitFor("the receipt due", harness.PendingJS+`[0].next <= Date.now()`)

	// The next page view: a returning visitor whose receipt is pending.
	tb.Run(chromedp.Navigate(page))
	tb.WaitReturning()
	tb.WaitAcknowledged()
	if rs := waitStoredFor(t, st, "mtran", c); len(rs) != 1 || rs[0].Method != "accept-all" {
		t.Errorf("stored %+v, want one accept-all receipt", rs)
	}
	if n := len(h.ReceiptPosts()); n != 2 {
		t.Errorf("%d receipt requests, want 2 (the one refused, the one sent again)", n)
	}
	// Nothing pending: the next page view sends nothing.
	tb.Run(chromedp.Navigate(page))
	tb.WaitReturning()
	time.Sleep(300 * time.Millisecond)
	var ui, beyond bool
	tb.Eval(`typeof window.__portalConsentUI !== "undefined"`, &ui)
	tb.Eval(`typeof window.__portalConsentBeyond !== "undefined"`, &beyond)
	if n := len(h.ReceiptPosts()); n != 2 || ui || beyond {
		t.Errorf("a page view with nothing pending: %d receipt requests in all (want 2), ui.js loaded: %v, beyond.js loaded: %v", n, ui, beyond)
	}
	tb.NoErrors()
}
