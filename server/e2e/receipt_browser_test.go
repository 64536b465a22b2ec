package server

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
	"github.com/portalconsent/portalconsent/server/receipts"
)

// Browser tests of the receipt beacon: every choice stored in the browser
// sends the consent host one receipt (web/ui.js), whatever stored it.

// The receipts the browser sends are decoded as the route does, into a
// receiptBody (consents.go).

// waitReceipt waits until the consent host has received a receipt of the
// consent c, then returns the receipts of c it received.
func (tb *tab) waitReceipt(h *hosts, c policy.Consent) []receiptBody {
	tb.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var got []receiptBody
		for _, p := range h.receiptPosts() {
			var b receiptBody
			if err := json.Unmarshal(p.Body, &b); err != nil {
				tb.t.Fatalf("receipt body %q: %v", p.Body, err)
			}
			if d, err := policy.Decode(b.Value); err == nil && d.ID == c.ID {
				got = append(got, b)
			}
		}
		if len(got) > 0 {
			return got
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("no receipt of consent %s (received %d: %q)", c.ID, len(h.receiptPosts()), h.receiptPosts())
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
	st := openTestStore(t)
	h := startHostsWith(t, []Option{WithReceipts(st)})
	page := h.portal.URL + "/receipt.html"
	type choice struct {
		c      policy.Consent
		method string
		lang   string
	}
	var made []choice

	t.Run("server banner Accept all", func(t *testing.T) {
		release := h.holdWasm()
		defer release()
		tb := newTab(t)
		tb.run(chromedp.Navigate(page + "?utm_source=x#top"))
		tb.waitBanner()
		tb.click("pc-accept")
		c := tb.waitConsent()
		if tb.appRunning() {
			t.Fatal("the app ran: Accept was not the server banner's")
		}
		made = append(made, choice{c, "accept-all", "en"})
		tb.waitReceipt(h, c)
		tb.noErrors()
	})

	t.Run("app Reject all, in French", func(t *testing.T) {
		tb := newTab(t)
		tb.run(chromedp.Navigate(h.portalURL("receipt-fr.html", "q=1") + "#x"))
		tb.waitBanner()
		tb.waitApp()
		tb.click("pc-reject")
		c := tb.waitConsent()
		made = append(made, choice{c, "reject-all", "fr"})
		tb.waitReceipt(h, c)
		tb.noErrors()
	})

	t.Run("preferences Save, then a withdrawal from Manage cookies", func(t *testing.T) {
		tb := newTab(t)
		tb.run(chromedp.Navigate(page + "?a=1&b=2#section"))
		tb.waitBanner()
		tb.waitApp()
		tb.click("pc-customize")
		tb.waitDialog("pc-preferences")
		var line bool
		tb.eval(inFrame(`d.getElementById("pc-consent-id") !== null`), &line)
		if line {
			t.Error("the preferences show a consent id before any choice")
		}
		tb.click("pc-switch-statistical")
		tb.click("pc-save")
		saved := tb.waitConsent()
		if !saved.Accepted(policy.Statistical) {
			t.Fatalf("Save stored %q, want statistical accepted", saved.Encode())
		}
		made = append(made, choice{saved, "custom", "en"})
		tb.waitReceipt(h, saved)

		// A later page view: the visitor withdraws from a Manage cookies link,
		// and reads the consent id of their choice there.
		tb.run(chromedp.Navigate(page + "?again=1"))
		tb.waitReturning()
		tb.clickPage("#manage")
		tb.waitDialog("pc-preferences")
		var shown struct{ Text, Code string }
		tb.eval(inFrame(`({Text: d.getElementById("pc-consent-id").textContent, Code: d.querySelector("#pc-consent-id code").textContent})`), &shown)
		if shown.Code != saved.ID || shown.Text != "Your consent ID: "+saved.ID {
			t.Errorf("the preferences show %+v, want the consent id %s", shown, saved.ID)
		}
		tb.click("pc-switch-statistical")
		tb.click("pc-save")
		tb.waitFor("the withdrawal", `!document.cookie.includes(`+jsString(saved.Encode())+`)`)
		withdrawn := tb.waitConsent()
		if withdrawn.Accepted(policy.Statistical) || withdrawn.ID == saved.ID {
			t.Fatalf("the withdrawal stored %q (before: %q)", withdrawn.Encode(), saved.Encode())
		}
		made = append(made, choice{withdrawn, "custom", "en"})
		tb.waitReceipt(h, withdrawn)
		tb.noErrors()
	})
	if t.Failed() {
		return
	}

	// Exactly one receipt per choice, each as the browser stored it.
	posts := h.receiptPosts()
	if len(posts) != len(made) {
		t.Errorf("%d receipts received for %d choices: %q", len(posts), len(made), posts)
	}
	for _, m := range made {
		var got []receiptBody
		for _, p := range posts {
			var b receiptBody
			if json.Unmarshal(p.Body, &b) == nil && b.Value == m.c.Encode() {
				got = append(got, b)
			}
		}
		wantPage := page
		if m.lang == "fr" {
			wantPage = h.portal.URL + "/receipt-fr.html"
		}
		want := receiptBody{Value: m.c.Encode(), Method: m.method, Lang: m.lang, Page: wantPage, Undeclared: []string{"mystery_tracker"}}
		if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
			t.Errorf("receipts of %s: %+v, want one: %+v", m.method, got, want)
		}
	}
	for _, p := range posts {
		// A beacon with a string body: text/plain, no preflight; no credentials
		// for the consent host, and the portal's origin.
		if p.Path != "/portals/mtran/consents" || !strings.HasPrefix(p.ContentType, "text/plain") ||
			p.Origin != h.portal.URL || p.Cookie != "" {
			t.Errorf("receipt request %s, Content-Type %q, Origin %q, Cookie %q", p.Path, p.ContentType, p.Origin, p.Cookie)
		}
	}

	// The store holds one receipt per consent id, as the cookie says.
	ctx := context.Background()
	start := time.Now().UTC().Add(-time.Minute)
	for _, m := range made {
		rs := waitStored(t, st, m.c.ID)
		if len(rs) != 1 {
			t.Errorf("%s: %d receipts stored for consent %s, want 1", m.method, len(rs), m.c.ID)
			continue
		}
		r := rs[0]
		wantPage := page
		if m.lang == "fr" {
			wantPage = h.portal.URL + "/receipt-fr.html"
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
// throw still gets the choice, applied, with no error of ours; on the
// server's banner and in the app.
func TestBrowserReceiptNeverBreaksThePage(t *testing.T) {
	for _, app := range []bool{false, true} {
		t.Run(map[bool]string{false: "server banner", true: "app"}[app], func(t *testing.T) {
			h := startHosts(t)
			if !app {
				release := h.holdWasm()
				defer release()
			}
			tb := newTab(t)
			tb.run(chromedp.Navigate(h.portalURL("receipt.html", "")))
			tb.waitBanner()
			if app {
				tb.waitApp()
			}
			tb.eval(`navigator.sendBeacon = () => { throw new Error("no beacon"); };
				window.fetch = () => { throw new Error("no fetch"); };
				window.changes = 0; document.addEventListener("consentchange", () => { changes++; }); true`, nil)
			tb.click("pc-accept")
			c := tb.waitConsent()
			if !c.Accepted(policy.Statistical) {
				t.Errorf("Accept all stored %q", c.Encode())
			}
			tb.waitFor("the choice applied", `changes === 1 && PortalConsent.get().id === `+jsString(c.ID))
			tb.waitFor("the banner gone", `!document.querySelector("iframe[data-portal-consent]") ||
				getComputedStyle(document.querySelector("iframe[data-portal-consent]")).visibility === "hidden"`)
			if n := len(h.receiptPosts()); n != 0 {
				t.Errorf("%d receipts sent through a broken sendBeacon and fetch", n)
			}
			tb.noErrors()
		})
	}
}

// TestBrowserReceiptFetchFallback: when sendBeacon refuses (it returns
// false), the receipt goes by a keepalive fetch, still text/plain (no
// preflight) and without credentials, and is stored.
func TestBrowserReceiptFetchFallback(t *testing.T) {
	st := openTestStore(t)
	h := startHostsWith(t, []Option{WithReceipts(st)})
	tb := newTab(t)
	tb.run(chromedp.Navigate(h.portalURL("receipt.html", "")))
	tb.waitBanner()
	tb.waitApp()
	tb.eval(`navigator.sendBeacon = () => false; true`, nil)
	tb.click("pc-reject")
	c := tb.waitConsent()
	got := tb.waitReceipt(h, c)
	want := receiptBody{Value: c.Encode(), Method: "reject-all", Lang: "en", Page: h.portal.URL + "/receipt.html", Undeclared: []string{"mystery_tracker"}}
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Errorf("receipts %+v, want one: %+v", got, want)
	}
	if p := h.receiptPosts(); len(p) != 1 || !strings.HasPrefix(p[0].ContentType, "text/plain") || p[0].Cookie != "" {
		t.Errorf("receipt requests %q", p)
	}
	if rs := waitStored(t, st, c.ID); len(rs) != 1 || rs[0].Method != "reject-all" {
		t.Errorf("stored %+v, want one reject-all receipt", rs)
	}
	tb.noErrors()
}
