package e2e

import (
	"context"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/policyfiles"
)

// Browser tests of consent that takes effect (gated scripts, withdrawal,
// asking again, Manage cookies, Consent Mode, GPC and the JS API), on the
// gated fixture page (testdata/gated.html) and on the hostile page.

// gatedPolicy is a portal whose statistics and marketing categories map to
// Consent Mode signals and declare tracker cookies by pattern.
var gatedPolicy = func() *policy.Policy {
	p := *harness.Policies[0]
	p.ID = "gated"
	p.Translations = nil // English only: its categories and cookies are its own
	p.Categories = []policy.Category{
		{ID: "necessary", Name: "Necessary", Description: "Needed for the portal to work.", Required: true, Signals: []string{"security_storage"}},
		{ID: "statistical", Name: "Statistics", Description: "Audience measurement.", Signals: []string{"analytics_storage"}},
		{ID: "marketing", Name: "Marketing", Description: "Advertising.", Signals: []string{"ad_storage", "ad_user_data", "ad_personalization"}},
	}
	row := func(cat string, paths []string, names ...string) policy.Cookie {
		return policy.Cookie{Provider: "Tracker", Function: "Tracking", Purpose: "Measure", Duration: "13 months", Category: cat, Names: names, Paths: paths}
	}
	p.Cookies = []policy.Cookie{
		row("necessary", nil, "sessionid"),
		row("statistical", []string{"/sub"}, "_pk_id.*", "_pk_ses.*", "_ga", "_ga_*"),
		row("marketing", nil, "_gcl_au"),
	}
	if err := p.Validate(); err != nil {
		panic(err)
	}
	return &p
}()

// gatedState is what the gated fixture page observed.
type gatedState struct {
	Log     []string
	Cookies []string
}

func (tb *tab) gated() gatedState {
	tb.T.Helper()
	var s gatedState
	tb.Eval(`({Log: window.gatedLog || [], Cookies: document.cookie.split("; ").filter(Boolean).map(c => c.split("=")[0]).sort()})`, &s)
	return s
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// statsRun is the log of the statistics scripts of the gated page: document
// order, the module last (modules are deferred, as the parser would run them),
// and the nonce kept.
var statsRun = []string{"inline1", "a", "b", "inline2", "last:nonce", "module"}

func TestBrowserGatedScripts(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	for _, page := range []string{"gated.html", "hostile.html"} {
		t.Run(page, func(t *testing.T) {
			tb := newTab(t)
			tb.Run(chromedp.Navigate(h.PortalURL(page, "portal=gated&gated")))
			tb.WaitBanner()
			time.Sleep(300 * time.Millisecond)
			// Before a choice nothing gated runs and no optional cookie appears.
			if s := tb.gated(); len(s.Log) != 0 || has(s.Cookies, "_ga") || has(s.Cookies, "_pk_id.1.abc") {
				t.Fatalf("before a choice: %+v", s)
			}
			// Accept, on the server's banner: the scripts run at once, in
			// document order, once.
			tb.Click("pc-accept")
			tb.WaitFor("the gated scripts", `(window.gatedLog || []).length >= 7`)
			time.Sleep(200 * time.Millisecond)
			s := tb.gated()
			want := []string{"inline1", "a", "b", "inline2", "marketing", "last:nonce", "module"}
			if strings.Join(s.Log, ",") != strings.Join(want, ",") {
				t.Errorf("after Accept all, ran %q, want %q", s.Log, want)
			}
			for _, c := range []string{"_pk_id.1.abc", "_ga", "_gcl_au"} {
				if !has(s.Cookies, c) {
					t.Errorf("cookie %s not set by its script: %q", c, s.Cookies)
				}
			}
			// Every later page view runs them again, with no banner.
			tb.Run(chromedp.Reload())
			tb.WaitFor("the gated scripts on the next page view", `(window.gatedLog || []).length >= 7`)
			tb.WaitReturning()
			tb.NoErrors()
		})
	}
}

func TestBrowserRejectRunsNothing(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("gated.html", "portal=gated")))
	tb.WaitBanner()
	tb.Click("pc-reject")
	tb.WaitChoice()
	// A tracker's cookies left over (from before, or set by an ungated tag):
	// each page view of a visitor who refused clears them.
	tb.Eval(`document.cookie = "_ga=GA1.1.1; Path=/"; document.cookie = "_gcl_au=1; Path=/"; true`, nil)
	tb.Run(chromedp.Reload())
	tb.WaitReturning()
	time.Sleep(300 * time.Millisecond)
	if s := tb.gated(); len(s.Log) != 0 || has(s.Cookies, "_ga") || has(s.Cookies, "_gcl_au") || !has(s.Cookies, "cookies_preferences") {
		t.Errorf("after Reject all: %+v", s)
	}
	tb.NoErrors()
}

// browserCookies returns the names of the cookies the browser holds for url
// (every path and domain that applies to it).
func (tb *tab) browserCookies(urls ...string) []string {
	tb.T.Helper()
	var names []string
	tb.Run(chromedp.ActionFunc(func(ctx context.Context) error {
		cs, err := network.GetCookies().WithURLs(urls).Do(ctx)
		for _, c := range cs {
			names = append(names, c.Name+"@"+c.Domain+c.Path)
		}
		return err
	}))
	sort.Strings(names)
	return names
}

func TestBrowserWithdrawal(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	// A host name with a parent domain (*.localhost is loopback in Chromium),
	// so that cookies set on the parent domain can be seen cleared.
	base := strings.Replace(h.Portal.URL, "127.0.0.1", "www.gated.localhost", 1)
	for _, page := range []string{"gated.html", "hostile.html"} {
		t.Run(page, func(t *testing.T) {
			tb := newTab(t)
			tb.AcceptAll(base + "/" + page + "?portal=gated&gated&gtag")
			// A later page view: the scripts run from the stored choice.
			tb.Run(chromedp.Reload())
			tb.WaitFor("the gated scripts on the next page view", `(window.gatedLog || []).length >= 7`)
			tb.WaitReturning()
			// Cookies a tracker may leave: on the parent domain, and on a path
			// the policy declares (/sub) that this page cannot see.
			tb.Eval(`document.cookie = "_ga_X1=1; Domain=gated.localhost; Path=/";
				document.cookie = "_ga=2; Path=/sub";
				document.cookie = "sessionid=s; Path=/"; true`, nil)
			urls := []string{base + "/" + page, base + "/sub/page"}
			before := tb.browserCookies(urls...)
			for _, want := range []string{"_ga@www.gated.localhost/", "_ga@www.gated.localhost/sub", "_ga_X1@.gated.localhost/", "_pk_id.1.abc@www.gated.localhost/"} {
				if !has(before, want) {
					t.Fatalf("set-up: cookie %s missing from %q", want, before)
				}
			}

			// The visitor withdraws statistics from a Manage cookies link.
			tb.ClickPage("#manage")
			tb.WaitDialog("pc-preferences")
			var on bool
			tb.Eval(harness.InFrame(`d.getElementById("pc-switch-statistical").checked`), &on)
			if !on {
				t.Fatal("the preferences do not show the stored choice (statistics on)")
			}
			tb.Click("pc-switch-statistical")
			tb.Click("pc-save")

			// The statistics cookies are gone everywhere; the others stay.
			tb.WaitFor("the statistics cookies cleared", `!document.cookie.includes("_pk_id")`)
			after := tb.browserCookies(urls...)
			for _, c := range after {
				if strings.HasPrefix(c, "_ga") || strings.HasPrefix(c, "_pk_") {
					t.Errorf("statistics cookie %s survived the withdrawal (all: %q)", c, after)
				}
			}
			for _, want := range []string{"sessionid@www.gated.localhost/", "_gcl_au@www.gated.localhost/", "cookies_preferences@www.gated.localhost/"} {
				if !has(after, want) {
					t.Errorf("cookie %s was cleared, but its category is still accepted (all: %q)", want, after)
				}
			}
			// The page is told, and Consent Mode updated.
			var got struct {
				Events []struct {
					Decided    bool
					Categories map[string]bool
				}
				Last []any
			}
			tb.Eval(`({Events: consentEvents, Last: Array.from(dataLayer[dataLayer.length - 1])})`, &got)
			if n := len(got.Events); n != 1 || got.Events[0].Categories["statistical"] || !got.Events[0].Categories["marketing"] {
				t.Errorf("consentchange events: %+v", got.Events)
			}
			if len(got.Last) != 3 || got.Last[1] != "update" || got.Last[2].(map[string]any)["analytics_storage"] != "denied" ||
				got.Last[2].(map[string]any)["ad_storage"] != "granted" {
				t.Errorf("last dataLayer entry %v, want a consent update denying analytics_storage", got.Last)
			}
			// Scripts already running cannot be stopped: a reload is offered.
			tb.WaitFor("the reload notice", harness.InFrame(`d.getElementById("pc-reload") !== null && d.activeElement === d.getElementById("pc-reload") &&
				getComputedStyle(f).visibility === "visible"`))
			tb.Click("pc-reload")
			tb.WaitFor("the reloaded page", `window.gatedLog && performance.getEntriesByType("navigation")[0].type === "reload"`)
			tb.WaitFor("the marketing script", `gatedLog.includes("marketing")`)
			time.Sleep(300 * time.Millisecond)
			if s := tb.gated(); strings.Join(s.Log, ",") != "marketing" {
				t.Errorf("after the reload, ran %q, want only the marketing script", s.Log)
			}
			tb.NoErrors()
		})
	}
}

// TestBrowserNoReloadOffered checks a change that withdraws nothing that ran
// offers no reload.
func TestBrowserNoReloadOffered(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("gated.html", "portal=gated")))
	tb.WaitBanner()
	tb.Click("pc-reject")
	tb.WaitChoice()
	tb.Run(chromedp.Evaluate(`PortalConsent.showPreferences()`, nil))
	tb.WaitDialog("pc-preferences")
	tb.Click("pc-switch-statistical")
	tb.Click("pc-save")
	tb.WaitFor("the statistics scripts", `gatedLog.includes("last:nonce")`)
	tb.WaitFor("the frame hidden", harness.InFrame(`getComputedStyle(f).visibility === "hidden"`))
	var notice bool
	tb.Eval(`!!`+harness.InFrame(`d.getElementById("pc-reload")`), &notice)
	if notice {
		t.Error("a reload is offered although nothing ran before")
	}
	tb.NoErrors()
}

func TestBrowserAsksAgain(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	now := time.Now()
	accept := func(string) bool { return true }
	old := *gatedPolicy
	old.Revision = gatedPolicy.Revision + 1
	fewer := *gatedPolicy
	fewer.Categories = gatedPolicy.Categories[:2]
	for _, tc := range []struct {
		name  string
		value string
	}{
		{"another revision", policy.NewConsent(&old, now, accept).Encode()},
		{"a category the choice does not cover", policy.NewConsent(&fewer, now, accept).Encode()},
		{"older than the lifetime", policy.NewConsent(gatedPolicy, now.AddDate(0, 0, -gatedPolicy.Lifetime()-1), accept).Encode()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTab(t)
			tb.Run(chromedp.ActionFunc(func(ctx context.Context) error {
				return network.SetCookie(policy.CookieName, tc.value).WithURL(h.Portal.URL).WithPath("/").Do(ctx)
			}))
			tb.Run(chromedp.Navigate(h.PortalURL("gated.html", "portal=gated")))
			tb.WaitBanner()
			time.Sleep(200 * time.Millisecond)
			if s := tb.gated(); len(s.Log) != 0 {
				t.Errorf("with a choice that no longer holds, ran %q", s.Log)
			}
			var decided bool
			tb.Eval(`PortalConsent.get().decided`, &decided)
			if decided {
				t.Error("PortalConsent.get().decided is true")
			}
			tb.NoErrors()
		})
	}
}

func TestBrowserManageCookies(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	for _, page := range []string{"gated.html", "hostile.html"} {
		t.Run(page, func(t *testing.T) {
			tb := newTab(t)
			tb.AcceptAll(h.PortalURL(page, "portal=gated&gated"))
			tb.WaitFor("the frame gone", `!document.querySelector("iframe[data-portal-consent]")`)
			tb.Run(chromedp.Reload()) // a returning visitor: no UI loaded until asked
			tb.WaitReturning()

			// A link to #manage-cookies: the preferences; Escape gives focus back.
			tb.ClickPage("#manage")
			tb.WaitDialog("pc-preferences")
			tb.Run(chromedp.KeyEvent(kb.Escape))
			tb.WaitFor("focus back on the link", `document.activeElement === document.getElementById("manage") &&
				getComputedStyle(document.querySelector("iframe[data-portal-consent]")).visibility === "hidden"`)
			var url string
			tb.Eval(`location.hash`, &url)
			if url != "" {
				t.Errorf("the link navigated to %q", url)
			}

			// data-consent="policy": the policy, whose Manage cookies button
			// opens the preferences.
			tb.ClickPage("#pol")
			tb.WaitDialog("pc-policy-dialog")
			tb.Eval(harness.InFrame(`d.getElementById("pc-manage").scrollIntoView({block: "center"})`), nil) // it ends the policy
			tb.Click("pc-manage")
			tb.WaitDialog("pc-preferences")
			tb.Run(chromedp.KeyEvent(kb.Escape))
			tb.WaitFor("the dialog closed", harness.InFrame(`getComputedStyle(f).visibility === "hidden"`))

			// An element added after load, and the JS API.
			tb.Eval(`document.body.insertAdjacentHTML("beforeend", '<span id="late" data-consent="preferences">Cookies</span>'); true`, nil)
			tb.ClickPage("#late")
			tb.WaitDialog("pc-preferences")
			tb.Run(chromedp.KeyEvent(kb.Escape))
			tb.WaitFor("the dialog closed", harness.InFrame(`getComputedStyle(f).visibility === "hidden"`))
			tb.Run(chromedp.Evaluate(`PortalConsent.showPolicy()`, nil))
			tb.WaitFor("the policy dialog", harness.InFrame(`d.getElementById("pc-policy-dialog") !== null`))
			tb.NoErrors()
		})
	}
}

// TestBrowserManageCookiesURL checks a page opened at #manage-cookies opens
// the preferences, for a returning visitor and a first one.
func TestBrowserManageCookiesURL(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("gated.html", "portal=gated") + "#manage-cookies"))
	tb.WaitFor("the preferences", harness.InFrame(`d.getElementById("pc-preferences") !== null && d.getElementById("pc-accept") !== null`))
	tb.Click("pc-save") // a first visitor saving without a change: everything optional refused
	tb.WaitChoice()
	c, err := policy.Current(tb.Cookie(), gatedPolicy, time.Now())
	if err != nil || c.Accepted("statistical") {
		t.Errorf("saved %q (%v)", tb.Cookie(), err)
	}
	tb.Run(chromedp.Reload())
	tb.WaitFor("the preferences", harness.InFrame(`d.getElementById("pc-preferences") !== null && d.getElementById("pc-accept") === null`))
	tb.NoErrors()
}

// noSignalsPolicy is the mtran policy with no Consent Mode signal (the seed
// portals' statistical category grants analytics_storage).
var noSignalsPolicy = func() *policy.Policy {
	p := *harness.Policies[0]
	p.ID = "nosignals"
	p.Translations = nil
	p.Categories = slices.Clone(p.Categories)
	for i := range p.Categories {
		p.Categories[i].Signals = nil
	}
	if err := p.Validate(); err != nil {
		panic(err)
	}
	return &p
}()

func TestBrowserConsentMode(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy, noSignalsPolicy)
	for _, pg := range []string{"gated.html", "hostile.html"} {
		t.Run(pg, func(t *testing.T) {
			tb := newTab(t)
			tb.Run(chromedp.Navigate(h.PortalURL(pg, "portal=gated&gated&gtag")))
			tb.WaitBanner()
			var layer [][]any
			tb.Eval(`dataLayer.map(a => Array.from(a))`, &layer)
			denied := map[string]any{"wait_for_update": 500.0}
			for _, s := range policy.ConsentSignals {
				denied[s] = "denied"
			}
			if len(layer) != 1 || !reflect.DeepEqual(layer[0], []any{"consent", "default", denied}) {
				t.Fatalf("before a choice the dataLayer holds %v, want only the default, every signal denied", layer)
			}
			tb.Click("pc-accept")
			tb.WaitFor("the gated scripts", `(window.gatedLog || []).length >= 7`)
			tb.Eval(`dataLayer.map(a => Array.from(a))`, &layer)
			granted := map[string]any{}
			for _, s := range policy.ConsentSignals {
				granted[s] = "denied"
			}
			for _, s := range []string{"security_storage", "analytics_storage", "ad_storage", "ad_user_data", "ad_personalization"} {
				granted[s] = "granted"
			}
			if len(layer) != 2 || !reflect.DeepEqual(layer[1], []any{"consent", "update", granted}) {
				t.Errorf("after Accept all the dataLayer holds %v, want the update %v", layer, granted)
			}
			// Each page view: the default, then the update from the stored choice,
			// before any gated script runs.
			tb.Run(chromedp.Reload())
			tb.WaitFor("the gated scripts", `(window.gatedLog || []).length >= 7`)
			var first []any
			tb.Eval(`window.layerAtFirstScript`, &first)
			if len(first) != 2 {
				t.Errorf("when the first gated script ran the dataLayer held %v, want the default and the update", first)
			}
			// No dataLayer and no signals in the policy: Consent Mode stays off.
			tb.Run(chromedp.Navigate(h.PortalURL("gated.html", "portal=nosignals")))
			tb.WaitBanner()
			var typ string
			tb.Eval(`typeof window.dataLayer`, &typ)
			if typ != "undefined" {
				t.Errorf("a portal without signals nor dataLayer got a dataLayer (%s)", typ)
			}
			tb.NoErrors()
		})
	}
}

// gpcScript makes the browser send Global Privacy Control.
const gpcScript = `Object.defineProperty(Navigator.prototype, "globalPrivacyControl", {get: () => true, configurable: true});`

func TestBrowserGlobalPrivacyControl(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	for _, pg := range []string{"gated.html", "hostile.html"} {
		t.Run(pg, func(t *testing.T) {
			tb := newTab(t)
			tb.Run(chromedp.ActionFunc(func(ctx context.Context) error {
				_, err := page.AddScriptToEvaluateOnNewDocument(gpcScript).Do(ctx)
				return err
			}))
			tb.Run(chromedp.Navigate(h.PortalURL(pg, "portal=gated&gated&gtag")))
			tb.WaitBanner()
			noticeShown := harness.InFrame(`(() => { const n = d.getElementById("pc-gpc"); return n && !n.hidden && n.getBoundingClientRect().height > 0 && n.textContent.includes("Global Privacy Control"); })()`)
			tb.WaitFor("the GPC notice on the server's banner", noticeShown)
			var st struct {
				GPC        bool
				Decided    bool
				Categories map[string]bool
			}
			tb.Eval(`PortalConsent.get()`, &st)
			if !st.GPC || st.Decided || st.Categories["statistical"] || st.Categories["marketing"] {
				t.Errorf("PortalConsent.get() = %+v", st)
			}
			// The app takes over and keeps the notice; optional switches start off.
			tb.WaitApp()
			tb.WaitFor("the GPC notice in the app", noticeShown)
			tb.Click("pc-customize")
			tb.WaitDialog("pc-preferences")
			var on bool
			tb.Eval(harness.InFrame(`d.getElementById("pc-switch-statistical").checked || d.getElementById("pc-switch-marketing").checked`), &on)
			if on {
				t.Error("with GPC an optional switch starts on")
			}
			if s := tb.gated(); len(s.Log) != 0 {
				t.Errorf("with GPC and no choice, ran %q", s.Log)
			}
			// The visitor may still opt in explicitly.
			tb.Click("pc-switch-statistical")
			tb.Click("pc-save")
			tb.WaitFor("the statistics scripts", `gatedLog.includes("last:nonce")`)
			if s := tb.gated(); has(s.Log, "marketing") {
				t.Errorf("marketing ran: %q", s.Log)
			}
			tb.NoErrors()
		})
	}
}

func TestBrowserJSAPI(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	for _, pg := range []string{"gated.html", "hostile.html"} {
		t.Run(pg, func(t *testing.T) {
			tb := newTab(t)
			tb.Run(chromedp.Navigate(h.PortalURL(pg, "portal=gated&gated")))
			tb.WaitBanner()
			tb.Eval(`window.apiLog = [];
				PortalConsent.on("ready", s => apiLog.push("ready:" + s.ready + ":" + s.decided));
				window.off = PortalConsent.on("consentchange", s => apiLog.push("change:" + s.categories.statistical));
				true`, nil)
			var st struct {
				Ready, Decided bool
				Categories     map[string]bool
				Revision       int
				ID             *string
			}
			tb.Eval(`PortalConsent.get()`, &st)
			if !st.Ready || st.Decided || !st.Categories["necessary"] || st.Categories["statistical"] || st.Revision != gatedPolicy.Revision || st.ID != nil {
				t.Errorf("before a choice, get() = %+v", st)
			}
			var acc []bool
			tb.Eval(`[PortalConsent.accepted("necessary"), PortalConsent.accepted("statistical"), PortalConsent.accepted("nope")]`, &acc)
			if !reflect.DeepEqual(acc, []bool{true, false, false}) {
				t.Errorf("accepted() before a choice = %v", acc)
			}
			var threw bool
			tb.Eval(`(() => { try { PortalConsent.on("nope", () => {}); return false; } catch (e) { return true; } })()`, &threw)
			if !threw {
				t.Error(`PortalConsent.on("nope") did not throw`)
			}
			tb.Click("pc-accept")
			tb.WaitFor("the change event", `apiLog.length === 2`)
			var log []string
			tb.Eval(`apiLog`, &log)
			if !reflect.DeepEqual(log, []string{"ready:true:false", "change:true"}) {
				t.Errorf("API callbacks: %q", log)
			}
			tb.Eval(`PortalConsent.get()`, &st)
			c := tb.Cookie()
			if !st.Decided || !st.Categories["statistical"] || st.ID == nil || !strings.Contains(c, *st.ID) {
				t.Errorf("after Accept all, get() = %+v (cookie %q)", st, c)
			}
			var frozen bool
			tb.Eval(`(() => { try { PortalConsent.get = null; } catch (e) {} return typeof PortalConsent.get === "function" && Object.isFrozen(PortalConsent); })()`, &frozen)
			if !frozen {
				t.Error("window.PortalConsent can be changed by the page")
			}
			tb.NoErrors()
		})
	}
}

// TestBrowserCookieDomain checks a policy's cookieDomain shares the choice
// across its subdomains, whether the loader (early click) or the app stores it.
func TestBrowserCookieDomain(t *testing.T) {
	shared := *gatedPolicy
	shared.ID = "shared"
	shared.CookieDomain = "gated.localhost"
	h := harness.StartHosts(t, &shared)
	on := func(sub string) string {
		return strings.Replace(h.Portal.URL, "127.0.0.1", sub+".gated.localhost", 1) + "/gated.html?portal=shared"
	}
	for _, early := range []bool{true, false} {
		name := map[bool]string{true: "stored by the loader", false: "stored by the app"}[early]
		t.Run(name, func(t *testing.T) {
			tb := newTab(t)
			tb.Run(chromedp.Navigate(on("www")))
			tb.WaitBanner()
			if early {
				tb.Click("pc-accept")
			} else {
				tb.WaitApp()
				tb.Click("pc-customize")
				tb.WaitDialog("pc-preferences")
				tb.Click("pc-save")
			}
			tb.WaitChoice()
			if got := tb.browserCookies(on("www")); !has(got, "cookies_preferences@.gated.localhost/") {
				t.Errorf("cookies: %q, want cookies_preferences on .gated.localhost", got)
			}
			// Another subdomain: the visitor has decided already.
			tb.Run(chromedp.Navigate(on("data")))
			tb.WaitReturning()
			tb.NoErrors()
		})
	}
	// A portal page outside the domain keeps the choice to its host.
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("gated.html", "portal=shared")))
	tb.WaitBanner()
	tb.Click("pc-reject")
	tb.WaitChoice()
	if got := tb.browserCookies(h.Portal.URL); !has(got, "cookies_preferences@127.0.0.1/") {
		t.Errorf("cookies: %q, want a host-only cookies_preferences", got)
	}
	tb.NoErrors()
}

// TestBrowserPolicyPageManageCookies checks the Manage cookies button of the
// server's policy page opens the preferences, in the page's language, and
// that a change made there is stored.
func TestBrowserPolicyPageManageCookies(t *testing.T) {
	h := harness.StartHosts(t)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.Consent.URL + "/portals/mtran/policy/fr"))
	tb.WaitBanner()
	tb.Click("pc-reject")
	tb.WaitChoice()
	tb.ClickPage("button[data-consent=preferences]")
	tb.WaitDialog("pc-preferences")
	fr, _ := harness.Policies[0].In("fr")
	var title string
	tb.Eval(harness.InFrame(`d.querySelector("#pc-preferences h2").textContent.trim()`), &title)
	if title != fr.Texts.PreferencesTitle {
		t.Errorf("preferences titled %q, want %q", title, fr.Texts.PreferencesTitle)
	}
	tb.Click("pc-switch-statistical")
	tb.Click("pc-save")
	tb.WaitFor("the new choice", `document.cookie.includes("statistical=1")`)
	tb.WaitFor("focus back on the button", `document.activeElement === document.querySelector("button[data-consent=preferences]")`)
	tb.NoErrors()
}

// TestBrowserGatedScriptsUnderNonceCSP checks gated scripts, the UI script
// and the app run under a nonce-based strict-dynamic CSP: the loader copies
// each gated script's nonce.
func TestBrowserGatedScriptsUnderNonceCSP(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	tb := newTab(t)
	tb.AcceptAll(h.PortalURL("gated.html", "portal=gated&csp=nonce"))
	time.Sleep(200 * time.Millisecond)
	want := []string{"inline1", "a", "b", "inline2", "marketing", "last:nonce", "module"}
	if s := tb.gated(); strings.Join(s.Log, ",") != strings.Join(want, ",") {
		t.Errorf("under the nonce CSP, ran %q, want %q", s.Log, want)
	}
	tb.ClickPage("#prefs")
	tb.WaitDialog("pc-preferences") // the app runs under the CSP too
	tb.NoErrors()
}

// TestBrowserDemoExample checks the example portal's demo page: nothing runs
// before a choice; accepting runs the local stand-ins of Matomo and Google
// Analytics, which set their cookies; withdrawing clears them.
func TestBrowserDemoExample(t *testing.T) {
	ps, err := policyfiles.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	var example *policy.Policy
	for _, p := range policyfiles.Policies(ps) {
		if p.ID == "example" {
			example = p
		}
	}
	if example == nil {
		t.Fatal("no example portal among the built-in ones")
	}
	h := harness.StartHosts(t, example)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.Consent.URL + "/demo/example"))
	tb.WaitBanner()
	var ran []string
	tb.Eval(`window.portalConsentDemo || []`, &ran)
	if len(ran) != 0 || strings.Contains(tb.cookieLine(), "_pk_id") {
		t.Fatalf("before a choice: ran %q, cookies %q", ran, tb.cookieLine())
	}
	tb.Click("pc-accept")
	tb.WaitFor("the stand-ins", `(window.portalConsentDemo || []).length === 2`)
	for _, c := range []string{"_pk_id.1.a1b2=", "_ga=", "_ga_DEMO123="} {
		if !strings.Contains(tb.cookieLine(), c) {
			t.Errorf("cookie %s missing: %q", c, tb.cookieLine())
		}
	}
	tb.Run(chromedp.Evaluate(`PortalConsent.showPreferences()`, nil))
	tb.WaitDialog("pc-preferences")
	tb.Click("pc-switch-statistical")
	tb.Click("pc-save")
	tb.WaitFor("the trackers' cookies cleared", `!/(^|; )(_pk_|_ga)/.test(document.cookie)`)
	tb.WaitFor("the reload offered", harness.InFrame(`d.getElementById("pc-reload") !== null`))
	tb.NoErrors()
}

// cookieLine returns the portal page's document.cookie.
func (tb *tab) cookieLine() string {
	tb.T.Helper()
	var line string
	tb.Eval(`document.cookie`, &line)
	return line
}

// TestBrowserClickDuringTakeover: a click whose press lands on the server's
// banner and whose release comes after the app is ready is not lost: the app
// takes over only once the pointer is released.
func TestBrowserClickDuringTakeover(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	release := h.HoldWasm()
	defer release()
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("gated.html", "portal=gated")))
	tb.WaitBanner()
	var xy []float64
	tb.Eval(harness.InFrame(`(() => { const r = f.getBoundingClientRect(), b = d.getElementById("pc-accept").getBoundingClientRect();
		return [r.left + b.left + b.width / 2, r.top + b.top + b.height / 2]; })()`), &xy)
	tb.Hover() // intent: the app is wanted
	tb.Run(chromedp.MouseEvent(input.MouseMoved, xy[0], xy[1]))
	tb.Run(chromedp.MouseEvent(input.MousePressed, xy[0], xy[1], chromedp.ButtonLeft, chromedp.ClickCount(1)))
	release()
	// Long enough for the module to compile and the app to be ready.
	tb.WaitFor("the runtime in the frame", harness.AppFrame(`typeof w.Go === "function"`))
	time.Sleep(1500 * time.Millisecond)
	if tb.AppRunning() {
		t.Error("the app took the banner over while the button was pressed")
	}
	tb.Run(chromedp.MouseEvent(input.MouseReleased, xy[0], xy[1], chromedp.ButtonLeft, chromedp.ClickCount(1)))
	tb.WaitChoice()
	if c, err := policy.Current(tb.Cookie(), gatedPolicy, time.Now()); err != nil || !c.Accepted("statistical") {
		t.Errorf("stored %q (%v)", tb.Cookie(), err)
	}
	tb.WaitFor("the gated scripts", `(window.gatedLog || []).length >= 7`)
	tb.NoErrors()
}

// TestBrowserManageIntentPrepares checks a returning visitor pointing at a
// Manage cookies link gets the app downloaded and compiled before the click,
// and nothing shows until the click.
func TestBrowserManageIntentPrepares(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	tb := newTab(t)
	tb.AcceptAll(h.PortalURL("gated.html", "portal=gated&gated"))
	tb.Run(chromedp.Reload())
	tb.WaitReturning()
	var xy []float64
	tb.Eval(`(() => { const r = document.getElementById("manage").getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()`, &xy)
	before := h.WasmServed()
	tb.Run(chromedp.MouseEvent(input.MouseMoved, xy[0], xy[1]))
	h.WaitWasmServed(t, before+1)
	time.Sleep(300 * time.Millisecond)
	var shown bool
	tb.Eval(`!!document.querySelector("[data-portal-consent]")`, &shown)
	if shown {
		t.Error("pointing at the link showed something")
	}
	tb.ClickPage("#manage")
	tb.WaitDialog("pc-preferences")
	tb.NoErrors()
}

// TestBrowserReadyCallbackThrows checks a portal's on("ready") callback that
// throws stays the portal's error: the banner shows and the other callbacks
// run.
func TestBrowserReadyCallbackThrows(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	release := h.HoldConfig()
	defer release()
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("gated.html", "portal=gated")))
	tb.WaitFor("the API", `!!window.PortalConsent`)
	tb.Eval(`PortalConsent.on("ready", () => { throw new Error("portal bug"); });
		PortalConsent.on("ready", (s) => { window.readyAfter = s.ready; }); true`, nil)
	release()
	tb.WaitBanner()
	tb.WaitFor("the next callback", `window.readyAfter === true`)
	if e := tb.ConsoleErrors(); len(e) > 0 {
		t.Errorf("console errors: %q", e)
	}
	if ex := tb.PageExceptions(); len(ex) != 1 || !strings.Contains(ex[0], "portal bug") {
		t.Errorf("page exceptions %q, want only the portal's", ex)
	}
}

// TestBrowserClickAsTheAppStarts: a click on Accept while the app is starting
// (the pointer entering the banner is the intent that fetches and starts
// it; the click comes as the wasm has arrived, while it compiles) is stored
// every time: the app's first render waits for the release. Without that wait about
// one click in five was lost, so ten tries catch it nearly always.
func TestBrowserClickAsTheAppStarts(t *testing.T) {
	h := harness.StartHosts(t, gatedPolicy)
	for i := 0; i < 10; i++ {
		tb := newTab(t)
		tb.Run(chromedp.Navigate(h.PortalURL("gated.html", "portal=gated")))
		tb.WaitBanner()
		tb.Hover()
		h.WaitWasmServed(t, i+1)
		tb.Click("pc-accept")
		tb.WaitChoice()
		tb.NoErrors()
	}
}

// TestBrowserConsentModeSeedPortals checks that a GA4 page on a seed portal
// gets analytics_storage: granted once the visitor accepts (their statistical
// category is web analytics), and denied before.
func TestBrowserConsentModeSeedPortals(t *testing.T) {
	h := harness.StartHosts(t)
	for _, portal := range []string{"twisto", "mtran"} {
		t.Run(portal, func(t *testing.T) {
			tb := newTab(t)
			tb.Run(chromedp.Navigate(h.PortalURL("ga4.html", "portal="+portal)))
			tb.WaitBanner()
			// signal returns the last consent state Consent Mode was given for s.
			signal := func(s string) string {
				var v string
				tb.Eval(`(() => { let v = ""; for (const a of dataLayer) if (a[0] === "consent" && a[2] && `+harness.JSString(s)+` in a[2]) v = a[2][`+harness.JSString(s)+`]; return v; })()`, &v)
				return v
			}
			if v := signal("analytics_storage"); v != "denied" {
				t.Errorf("before a choice analytics_storage is %q, want denied", v)
			}
			tb.Click("pc-accept")
			tb.WaitFor("the gated GA4 configuration", `window.ga4Configured === true`)
			if v := signal("analytics_storage"); v != "granted" {
				t.Errorf("after Accept all analytics_storage is %q, want granted", v)
			}
			if v := signal("ad_storage"); v != "denied" {
				t.Errorf("after Accept all ad_storage is %q, want denied (no category grants it)", v)
			}
			tb.NoErrors()
		})
	}
}
