package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/servertest"
)

// Browser tests of the receipt beacon: every choice stored in the browser
// sends the consent host one receipt (web/ui.js), whatever stored it.

// The receipts the browser sends are decoded as the route does, into a
// servertest.ReceiptBody (consents.go).

// waitReceipt waits until the consent host has received a receipt of the
// consent c (its very value: a later choice of the visitor keeps the
// consent id), then returns the receipts of c it received.
func (tb *tab) waitReceipt(h *harness.Hosts, c policy.Consent) []servertest.ReceiptBody {
	tb.T.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var got []servertest.ReceiptBody
		for _, p := range h.ReceiptPosts() {
			var b servertest.ReceiptBody
			if err := json.Unmarshal(p.Body, &b); err != nil {
				tb.T.Fatalf("receipt body %q: %v", p.Body, err)
			}
			if b.Value == c.Encode() {
				got = append(got, b)
			}
		}
		if len(got) > 0 {
			return got
		}
		if time.Now().After(deadline) {
			tb.T.Fatalf("no receipt of consent %s (received %d: %q)", c.ID, len(h.ReceiptPosts()), h.ReceiptPosts())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBrowserReceipts makes a choice in each way a visitor can, each on a
// page whose address has a query and a fragment and which set an undeclared
// cookie (mystery_tracker) and a declared one (csrftoken), and checks the
// consent host gets exactly one receipt of each with the right method,
// language and page, and stores it: read back from the SQLite store by the
// consent id of the cookie, with the choices of the cookie, and the
// undeclared cookie in the portal's tally.
func TestBrowserReceipts(t *testing.T) {
	st := servertest.OpenStore(t)
	h := harness.StartHostsWith(t, []server.Option{server.WithReceipts(st)})
	page := h.Portal.URL + "/receipt.html"
	type choice struct {
		c      policy.Consent
		method string
		lang   string
	}
	var made []choice

	t.Run("server banner Accept all", func(t *testing.T) {
		release := h.HoldWasm()
		defer release()
		tb := newTab(t)
		tb.Run(chromedp.Navigate(page + "?utm_source=x#top"))
		tb.WaitBanner()
		tb.Click("pc-accept")
		c := tb.WaitConsent()
		if tb.AppRunning() {
			t.Fatal("the app ran: Accept was not the server banner's")
		}
		made = append(made, choice{c, "accept-all", "en"})
		tb.waitReceipt(h, c)
		tb.NoErrors()
	})

	t.Run("app Reject all, in French", func(t *testing.T) {
		tb := newTab(t)
		tb.Run(chromedp.Navigate(h.PortalURL("receipt-fr.html", "q=1") + "#x"))
		tb.WaitBanner()
		tb.WaitApp()
		tb.Click("pc-reject")
		c := tb.WaitConsent()
		made = append(made, choice{c, "reject-all", "fr"})
		tb.waitReceipt(h, c)
		tb.NoErrors()
	})

	t.Run("preferences Save, then a withdrawal from Manage cookies", func(t *testing.T) {
		tb := newTab(t)
		tb.Run(chromedp.Navigate(page + "?a=1&b=2#section"))
		tb.WaitBanner()
		tb.WaitApp()
		tb.Click("pc-customize")
		tb.WaitDialog("pc-preferences")
		var line bool
		tb.Eval(harness.InFrame(`d.getElementById("pc-consent-id") !== null`), &line)
		if line {
			t.Error("the preferences show a consent id before any choice")
		}
		tb.Click("pc-switch-statistical")
		tb.Click("pc-save")
		saved := tb.WaitConsent()
		if !saved.Accepted(policy.Statistical) {
			t.Fatalf("Save stored %q, want statistical accepted", saved.Encode())
		}
		made = append(made, choice{saved, "custom", "en"})
		tb.waitReceipt(h, saved)

		// A later page view: the visitor withdraws from a Manage cookies link,
		// and reads the consent id of their choice there.
		tb.Run(chromedp.Navigate(page + "?again=1"))
		tb.WaitReturning()
		tb.ClickPage("#manage")
		tb.WaitDialog("pc-preferences")
		var shown struct{ Text, Code string }
		tb.Eval(harness.InFrame(`({Text: d.getElementById("pc-consent-id").textContent, Code: d.querySelector("#pc-consent-id code").textContent})`), &shown)
		if shown.Code != saved.ID || shown.Text != "Your consent ID: "+saved.ID {
			t.Errorf("the preferences show %+v, want the consent id %s", shown, saved.ID)
		}
		tb.Click("pc-switch-statistical")
		tb.Click("pc-save")
		tb.WaitFor("the withdrawal", `!document.cookie.includes(`+harness.JSString(saved.Encode())+`)`)
		withdrawn := tb.WaitConsent()
		// The withdrawal joins the visitor's history: the same consent id
		// (issue 22: one consent id per visitor).
		if withdrawn.Accepted(policy.Statistical) || withdrawn.ID != saved.ID {
			t.Fatalf("the withdrawal stored %q (before: %q), want the same consent id", withdrawn.Encode(), saved.Encode())
		}
		made = append(made, choice{withdrawn, "custom", "en"})
		tb.waitReceipt(h, withdrawn)
		tb.NoErrors()
	})
	if t.Failed() {
		return
	}

	// Exactly one receipt per choice, each as the browser stored it.
	posts := h.ReceiptPosts()
	if len(posts) != len(made) {
		t.Errorf("%d receipts received for %d choices: %q", len(posts), len(made), posts)
	}
	for _, m := range made {
		var got []servertest.ReceiptBody
		for _, p := range posts {
			var b servertest.ReceiptBody
			if json.Unmarshal(p.Body, &b) == nil && b.Value == m.c.Encode() {
				got = append(got, b)
			}
		}
		wantPage := page
		if m.lang == "fr" {
			wantPage = h.Portal.URL + "/receipt-fr.html"
		}
		want := servertest.ReceiptBody{Value: m.c.Encode(), Method: m.method, Lang: m.lang, Page: wantPage, Undeclared: []string{"mystery_tracker"}}
		if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
			t.Errorf("receipts of %s: %+v, want one: %+v", m.method, got, want)
		}
	}
	for _, p := range posts {
		// A beacon with a string body: text/plain, no preflight; no credentials
		// for the consent host, and the portal's origin.
		if p.Path != "/portals/mtran/consents" || !strings.HasPrefix(p.ContentType, "text/plain") ||
			p.Origin != h.Portal.URL || p.Cookie != "" {
			t.Errorf("receipt request %s, Content-Type %q, Origin %q, Cookie %q", p.Path, p.ContentType, p.Origin, p.Cookie)
		}
	}

	// The store holds one receipt per choice, as the cookie says; the
	// choices of one visitor share a consent id, its history.
	ctx := context.Background()
	start := time.Now().UTC().Add(-time.Minute)
	for _, m := range made {
		rs := waitStoredFor(t, st, "mtran", m.c)
		if len(rs) != 1 {
			t.Errorf("%s: %d receipts stored of the choice %q, want 1", m.method, len(rs), m.c.Encode())
			continue
		}
		r := rs[0]
		wantPage := page
		if m.lang == "fr" {
			wantPage = h.Portal.URL + "/receipt-fr.html"
		}
		if r.Portal != "mtran" || r.Method != m.method || r.Lang != m.lang || r.Page != wantPage ||
			r.Revision != int64(m.c.Revision) || !reflect.DeepEqual(r.Choices, m.c.Choices) || !r.DecidedAt.Equal(m.c.Decided) {
			t.Errorf("%s: stored %+v, want the choice %q made in %s on %s", m.method, r, m.c.Encode(), m.lang, wantPage)
		}
		if r.ReceivedAt.Before(start) {
			t.Errorf("%s: received at %v, before the test started", m.method, r.ReceivedAt)
		}
	}
	tally, err := st.Undeclared(ctx, "mtran", start.Truncate(24*time.Hour), time.Now().Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var counts []string
	total := int64(0)
	for _, u := range tally {
		counts = append(counts, fmt.Sprintf("%s=%d", u.Name, u.Count))
		if u.Name == "mystery_tracker" {
			total += u.Count
		}
	}
	// mystery_tracker once per receipt; never the declared csrftoken, nor the
	// consent cookie.
	if total != int64(len(made)) || len(tally) == 0 || len(counts) != len(tally) || slices.ContainsFunc(tally, func(u receipts.Undeclared) bool {
		return u.Name != "mystery_tracker"
	}) {
		t.Errorf("undeclared tally %q, want mystery_tracker=%d only", counts, len(made))
	}
}

// waitStoredFor waits until st holds a receipt of the choice c (its
// consent id, choices and decision time) for portal and returns those it
// holds.
func waitStoredFor(t testing.TB, st receipts.Store, portal string, c policy.Consent) []receipts.Receipt {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var out []receipts.Receipt
		rs, err := st.Consent(context.Background(), portal, c.ID)
		for _, r := range rs {
			if reflect.DeepEqual(r.Choices, c.Choices) && r.DecidedAt.Equal(c.Decided) {
				out = append(out, r)
			}
		}
		if len(out) > 0 {
			return out
		}
		if err != nil && !errors.Is(err, receipts.ErrNotFound) || time.Now().After(deadline) {
			t.Fatalf("receipts of the choice %q: %d of its consent id, %v", c.Encode(), len(rs), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitStored waits until the store holds a receipt of the consent id of
// portal mtran, then returns its receipts.
func waitStored(t testing.TB, st receipts.Store, id string) []receipts.Receipt {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rs, err := st.Consent(context.Background(), "mtran", id)
		if err == nil {
			return rs
		}
		if !errors.Is(err, receipts.ErrNotFound) || time.Now().After(deadline) {
			t.Fatalf("receipts of consent %s: %v", id, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBrowserReceiptNeverBreaksThePage: a page whose sendBeacon and fetch
// throw still gets the choice, applied, with no error of ours, and the
// receipt is kept pending for a later page view; on the server's banner
// and in the app.
func TestBrowserReceiptNeverBreaksThePage(t *testing.T) {
	for _, app := range []bool{false, true} {
		t.Run(map[bool]string{false: "server banner", true: "app"}[app], func(t *testing.T) {
			h := harness.StartHosts(t)
			if !app {
				release := h.HoldWasm()
				defer release()
			}
			tb := newTab(t)
			tb.Run(chromedp.Navigate(h.PortalURL("receipt.html", "")))
			tb.WaitBanner()
			if app {
				tb.WaitApp()
			}
			tb.Eval(`navigator.sendBeacon = () => { throw new Error("no beacon"); };
				window.fetch = () => { throw new Error("no fetch"); };
				window.changes = 0; document.addEventListener("consentchange", () => { changes++; }); true`, nil)
			tb.Click("pc-accept")
			tb.WaitChoice() // not WaitConsent: the receipt cannot be acknowledged
			c, err := policy.Current(tb.Cookie(), harness.Policies[0], time.Now())
			if err != nil || !c.Accepted(policy.Statistical) {
				t.Errorf("Accept all stored %q: %v", tb.Cookie(), err)
			}
			tb.WaitFor("the receipt kept", harness.PendingJS+`.length === 1 && `+harness.PendingJS+`[0].body.includes(`+harness.JSString(c.Encode())+`)`)
			tb.WaitFor("the choice applied", `changes === 1 && PortalConsent.get().id === `+harness.JSString(c.ID))
			tb.WaitFor("the banner gone", `!document.querySelector("iframe[data-portal-consent]") ||
				getComputedStyle(document.querySelector("iframe[data-portal-consent]")).visibility === "hidden"`)
			if n := len(h.ReceiptPosts()); n != 0 {
				t.Errorf("%d receipts sent through a broken sendBeacon and fetch", n)
			}
			tb.NoErrors()
		})
	}
}

// TestBrowserReceiptFetch: the receipt goes by a keepalive fetch (never
// sendBeacon, whose answer cannot be read), text/plain (no preflight) and
// without credentials; it is stored, and acknowledged: nothing is left
// pending.
func TestBrowserReceiptFetch(t *testing.T) {
	st := servertest.OpenStore(t)
	h := harness.StartHostsWith(t, []server.Option{server.WithReceipts(st)})
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("receipt.html", "")))
	tb.WaitBanner()
	tb.WaitApp()
	tb.Eval(`window.beacons = 0; navigator.sendBeacon = () => { beacons++; return true; }; true`, nil)
	tb.Click("pc-reject")
	c := tb.WaitConsent()
	got := tb.waitReceipt(h, c)
	want := servertest.ReceiptBody{Value: c.Encode(), Method: "reject-all", Lang: "en", Page: h.Portal.URL + "/receipt.html", Undeclared: []string{"mystery_tracker"}}
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Errorf("receipts %+v, want one: %+v", got, want)
	}
	if p := h.ReceiptPosts(); len(p) != 1 || !strings.HasPrefix(p[0].ContentType, "text/plain") || p[0].Cookie != "" {
		t.Errorf("receipt requests %q", p)
	}
	if rs := waitStored(t, st, c.ID); len(rs) != 1 || rs[0].Method != "reject-all" {
		t.Errorf("stored %+v, want one reject-all receipt", rs)
	}
	var beacons int
	tb.Eval(`beacons`, &beacons)
	if beacons != 0 {
		t.Errorf("%d sendBeacon calls, want the receipt by fetch only", beacons)
	}
	tb.WaitAcknowledged()
	tb.NoErrors()
}
