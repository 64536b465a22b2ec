package e2e

// Browser tests of storage beyond cookies and of the browser's signals of
// choice (issue 21 items 4 and 5): a withdrawal clears the declared web
// storage and IndexedDB of the refused category, undeclared web storage
// keys are reported by name with their type; an ADPC refusal, or consent,
// makes the choice with method "signal".

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/servertest"
)

// storagePortal returns a copy of mtran as portal "store", declaring, in
// its statistical category, the localStorage keys matomo_* and the
// IndexedDB database stats_db.
func storagePortal(t testing.TB) *policy.Policy {
	p := servertest.CopyOf(t, harness.Policies[0])
	p.ID, p.Name = "store", "Storage portal"
	p.Cookies = append(p.Cookies,
		policy.Cookie{Provider: "Matomo", Function: "Audience", Names: []string{"matomo_*"}, Purpose: "Visits", Category: "statistical",
			Duration: "13 months", Type: policy.TypeLocalStorage},
		policy.Cookie{Provider: "Matomo", Function: "Audience", Names: []string{"stats_db"}, Purpose: "Visits kept offline", Category: "statistical",
			Duration: "13 months", Type: policy.TypeIndexedDB})
	for i := range p.Translations {
		p.Translations[i].Cookies["matomo_*"] = policy.CookieText{Function: "Mesure", Purpose: "Visites", Duration: "13 mois"}
		p.Translations[i].Cookies["stats_db"] = policy.CookieText{Function: "Mesure", Purpose: "Visites", Duration: "13 mois"}
	}
	return p
}

// TestBrowserStorageBeyondCookies: on a page whose scripts keep a declared
// localStorage item and IndexedDB database of statistics and undeclared
// localStorage and sessionStorage items, a visitor accepts all (nothing is
// cleared; the receipt reports the undeclared keys by name, with their
// type, never their values), then withdraws statistics from the
// preferences: the declared item and database go at once, the undeclared
// ones stay. The operator API lists the undeclared keys with their type,
// the policy table shows the storage types.
func TestBrowserStorageBeyondCookies(t *testing.T) {
	st := servertest.OpenStore(t)
	h := harness.StartHostsWith(t, []server.Option{server.WithReceipts(st), server.WithAdminToken(servertest.AdminToken)}, storagePortal(t))
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("storage.html", "portal=store")))
	tb.WaitBanner()
	tb.WaitFor("the page's database", `window.statsDB.then(ok => window.dbMade = ok) && window.dbMade === true`)
	tb.Click("pc-accept")
	c := tb.WaitConsent()
	if !c.Accepted(policy.Statistical) {
		t.Fatalf("accept all stored %+v", c)
	}
	body := tb.waitReceiptBody(h, c)
	var sent struct {
		Undeclared []string            `json:"undeclared"`
		Storage    map[string][]string `json:"storage"`
	}
	if err := json.Unmarshal(body, &sent); err != nil {
		t.Fatal(err)
	}
	if got := sent.Storage; len(got) != 2 || strings.Join(got["localStorage"], ",") != "app_state" || strings.Join(got["sessionStorage"], ",") != "tab_state" {
		t.Errorf("receipt storage %v, want localStorage [app_state] and sessionStorage [tab_state]", got)
	}
	if strings.Contains(string(body), "open") || strings.Contains(string(body), `\"tab\"`) {
		t.Errorf("the receipt holds a value of the page's storage: %s", body)
	}
	var kept bool
	tb.Eval(`localStorage.getItem("matomo_visits") === "3"`, &kept)
	if !kept {
		t.Error("accepted, the declared localStorage item is gone")
	}

	// The table shows the storage types.
	tb.Eval(`PortalConsent.showPolicy(), true`, nil)
	tb.WaitDialog("pc-policy-dialog")
	var types []string
	tb.Eval(harness.InFrame(`[...d.querySelectorAll(".pc-storage-type")].map(e => e.textContent.trim())`), &types)
	// cookies_preferences_pending (the built-in necessary row), then the
	// test's statistics rows.
	if strings.Join(types, ",") != "Local storage,Local storage,IndexedDB database" {
		t.Errorf("policy table storage types %q", types)
	}
	tb.Eval(harness.InFrame(`d.getElementById("pc-close").click(), true`), nil)

	// Withdrawal of statistics, from the preferences.
	tb.Eval(`PortalConsent.showPreferences(), true`, nil)
	tb.WaitDialog("pc-preferences")
	tb.Click(policySwitch)
	tb.Click("pc-save")
	tb.WaitFor("statistics withdrawn", `document.cookie.includes("statistical=0")`)
	tb.WaitFor("the declared localStorage item removed", `localStorage.getItem("matomo_visits") === null`)
	tb.WaitFor("the declared database deleted",
		`indexedDB.databases().then(l => window.dbs = l.map(d => d.name)) && Array.isArray(window.dbs) && !window.dbs.includes("stats_db")`)
	var left struct{ App, Tab string }
	tb.Eval(`({App: localStorage.getItem("app_state"), Tab: sessionStorage.getItem("tab_state")})`, &left)
	if left.App != `{"tab":2}` || left.Tab != "open" {
		t.Errorf("undeclared items after the withdrawal: %+v, want them kept", left)
	}

	// The operator API: each undeclared name with its type.
	var names []struct{ Type, Name string }
	harness.Until(t, "the undeclared keys tallied", func() bool {
		req, _ := http.NewRequest("GET", h.Consent.URL+"/api/v1/portals/store/cookies/undeclared", nil)
		req.Header.Set("Authorization", "Bearer "+servertest.AdminToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		names = nil
		return res.StatusCode == 200 && json.Unmarshal(b, &names) == nil && len(names) >= 2
	})
	got := map[string]string{}
	for _, n := range names {
		got[n.Name] = n.Type
	}
	if got["app_state"] != "localStorage" || got["tab_state"] != "sessionStorage" || got["matomo_visits"] != "" {
		t.Errorf("undeclared names %+v", names)
	}
	tb.NoErrors()
}

// waitReceiptBody waits until the consent host received the receipt of
// the consent c (its very value) and returns its body.
func (tb *tab) waitReceiptBody(h *harness.Hosts, c policy.Consent) []byte {
	tb.T.Helper()
	var body []byte
	harness.Until(tb.T, "the receipt of "+c.ID, func() bool {
		for _, p := range h.ReceiptPosts() {
			var b struct{ Value string }
			if json.Unmarshal(p.Body, &b) == nil && b.Value == c.Encode() {
				body = p.Body
				return true
			}
		}
		return false
	})
	return body
}

// TestBrowserADPC: in a browser offering the Advanced Data Protection
// Control (defined in the page before the loader runs), the loader asks
// with the optional categories as consent requests; a refusal (withdraw
// "*") leaves them off and a consent naming statistics accepts it, each
// stored without a banner and recorded with method "signal"; decisions
// that name no category leave the banner to the visitor.
func TestBrowserADPC(t *testing.T) {
	st := servertest.OpenStore(t)
	h := harness.StartHostsWith(t, []server.Option{server.WithReceipts(st)})
	for _, tt := range []struct {
		mode     string
		accepted bool
	}{{"refuse", false}, {"consent", true}} {
		t.Run(tt.mode, func(t *testing.T) {
			tb := newTab(t)
			tb.Run(chromedp.Navigate(h.PortalURL("adpc.html", "adpc="+tt.mode)))
			c := tb.WaitConsent()
			if c.Accepted(policy.Statistical) != tt.accepted {
				t.Errorf("ADPC %s stored %+v", tt.mode, c)
			}
			var asked [][]struct{ ID, Text string }
			tb.Eval(`window.adpcRequests`, &asked)
			p := harness.Policies[0]
			if len(asked) != 1 || len(asked[0]) != 1 || asked[0][0].ID != "statistical" || !strings.HasPrefix(asked[0][0].Text, p.Categories[1].Name+": ") {
				t.Errorf("consent requests %+v, want one: statistical with its name and description", asked)
			}
			var banner bool
			tb.Eval(`!!document.querySelector("[data-portal-consent]")`, &banner)
			if banner {
				t.Error("a banner shows after the signal made the choice")
			}
			var rs []receipts.Receipt
			harness.Until(t, "the signal's receipt", func() bool {
				var err error
				rs, err = st.Consent(context.Background(), "mtran", c.ID)
				return err == nil && len(rs) == 1
			})
			if rs[0].Method != receipts.MethodSignal {
				t.Errorf("receipt method %q, want signal", rs[0].Method)
			}
			var state struct {
				Decided    bool
				Categories map[string]bool
			}
			tb.Eval(`PortalConsent.get()`, &state)
			if !state.Decided || state.Categories["statistical"] != tt.accepted {
				t.Errorf("PortalConsent.get() = %+v", state)
			}
			tb.NoErrors()
		})
	}
	t.Run("none", func(t *testing.T) {
		tb := newTab(t)
		tb.Run(chromedp.Navigate(h.PortalURL("adpc.html", "adpc=none")))
		tb.WaitBanner()
		if v := tb.Cookie(); v != "" {
			t.Errorf("decisions naming nothing stored %q", v)
		}
		tb.NoErrors()
	})
}
