package e2e

// Browser tests of the 37 languages (issue 21): visitors who get their
// language from navigator.languages alone, and right-to-left banners,
// preferences and embed placeholders on a portal page that stays left to
// right.

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/servertest"
)

// TestBrowserLanguagesVisitors: a French, a German, an Arabic and a Hebrew
// visitor each get their language from navigator.languages alone (the page
// states none), the Arabic and Hebrew banner and preferences right to left
// while the portal's page stays left to right; each accepts all, then
// withdraws statistics from the preferences.
func TestBrowserLanguagesVisitors(t *testing.T) {
	h := harness.StartHosts(t)
	for _, tt := range []struct{ list, lang, dir string }{
		{"fr-FR,fr", "fr", "ltr"}, {"de-DE,de", "de", "ltr"}, {"ar-EG,ar", "ar", "rtl"}, {"he-IL,he", "he", "rtl"},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			p, _ := harness.Policies[0].In(tt.lang)
			tb := newTab(t)
			tb.browserLanguages(tt.list)
			tb.Run(chromedp.Navigate(h.PortalURL("lang.html", "")))
			tb.checkBannerIn(tt.lang)
			if got := tb.configLang(); got != tt.list {
				t.Errorf("the loader sent lang=%q, want %q", got, tt.list)
			}
			tb.checkDirections(tt.dir, ".pc-banner")

			tb.Click("pc-accept")
			if c := tb.WaitConsent(); !c.Accepted(policy.Statistical) {
				t.Fatalf("accept all stored %+v", c)
			}
			// Withdrawal: the preferences, from the JS API, in the language.
			tb.Eval(`PortalConsent.showPreferences(), true`, nil)
			tb.WaitDialog("pc-preferences")
			var title string
			tb.Eval(harness.InFrame(`d.querySelector("#pc-preferences h2").textContent.trim()`), &title)
			if title != p.Texts.PreferencesTitle {
				t.Errorf("preferences title %q, want %q", title, p.Texts.PreferencesTitle)
			}
			tb.checkDirections(tt.dir, "#pc-preferences")
			tb.Click(policySwitch)
			tb.Click("pc-save")
			tb.WaitFor("statistics withdrawn", `document.cookie.includes("statistical=0")`)
			if c := tb.WaitConsent(); c.Accepted(policy.Statistical) {
				t.Errorf("after the withdrawal the choice is %+v", c)
			}
			tb.NoErrors()
		})
	}
}

// policySwitch is the id of the statistics switch of the preferences.
const policySwitch = "pc-switch-" + policy.Statistical

// checkDirections checks the consent frame's element sel is laid out in dir,
// its root carrying dir="rtl" for right to left (no dir otherwise), and that
// the portal's own page is untouched: no dir on its root element, its text
// left to right.
func (tb *tab) checkDirections(dir, sel string) {
	tb.T.Helper()
	var frame struct{ Root, Computed string }
	tb.Eval(harness.InFrame(`({Root: d.querySelector(".pc-root").getAttribute("dir") || "", Computed: w.getComputedStyle(d.querySelector(`+harness.JSString(sel)+`)).direction})`), &frame)
	if want := strings.TrimPrefix(dir, "ltr"); frame.Root != want || frame.Computed != dir {
		tb.T.Errorf("%s: root dir=%q, direction %q; want dir=%q, %s", sel, frame.Root, frame.Computed, want, dir)
	}
	var page struct{ Attr, Computed string }
	tb.Eval(`({Attr: document.documentElement.getAttribute("dir") || "", Computed: getComputedStyle(document.getElementById("first")).direction})`, &page)
	if page.Attr != "" || page.Computed != "ltr" {
		tb.T.Errorf("the portal's page: dir=%q, direction %q; want none, ltr", page.Attr, page.Computed)
	}
}

// TestBrowserLanguagesPlaceholders: the placeholders of embeds waiting for
// consent speak the policy's language and follow its direction (Arabic and
// Hebrew right to left: the Load button on the right, then the accept one)
// on a left-to-right portal page, whose own layout stays left to right.
func TestBrowserLanguagesPlaceholders(t *testing.T) {
	pol := embedsPolicy(t)
	media := map[string]string{"ar": "وسائط", "he": "מדיה"}
	for i, tr := range pol.Translations {
		if name, ok := media[tr.Texts.Lang]; ok {
			pol.Translations[i].Categories["media"] = policy.CategoryText{Name: name, Description: name}
		}
	}
	h := harness.StartHosts(t, pol)
	startEmbedHost(t, h)
	for _, tt := range []struct{ lang, dir string }{{"ar", "rtl"}, {"he", "rtl"}, {"en", "ltr"}} {
		t.Run(tt.lang, func(t *testing.T) {
			p, _ := pol.In(tt.lang)
			texts := policy.EmbedTextsFor(p.Texts)
			tb := newTab(t)
			tb.Run(chromedp.Navigate(h.PortalURL("embeds.html", "portal=embeds&lang="+tt.lang)))
			tb.waitPlaceholders("v1", "v2", "s1")
			var got struct {
				Lang, Dir, Page, PageAttr string
				Load, Accept              [2]float64 // left, right
				Buttons                   []string
			}
			tb.Eval(`(() => { const e = document.getElementById("v1").previousElementSibling.shadowRoot.querySelector(".pc-embed");
				const b = [...e.querySelectorAll("button")], x = (el) => { const r = el.getBoundingClientRect(); return [r.left, r.right]; };
				return {Lang: e.lang, Dir: getComputedStyle(e).direction, Load: x(b[0]), Accept: x(b[1]), Buttons: b.map(b => b.textContent),
					Page: getComputedStyle(document.body).direction, PageAttr: document.documentElement.getAttribute("dir") || ""}; })()`, &got)
			if got.Lang != tt.lang || got.Dir != tt.dir {
				t.Errorf("placeholder lang %q, direction %q; want %s, %s", got.Lang, got.Dir, tt.lang, tt.dir)
			}
			wantAccept := strings.ReplaceAll(texts.Accept, "{category}", p.Categories[2].Name)
			if len(got.Buttons) != 2 || got.Buttons[0] != texts.Load || got.Buttons[1] != wantAccept {
				t.Errorf("placeholder buttons %q, want %q, %q", got.Buttons, texts.Load, wantAccept)
			}
			if tt.dir == "rtl" && !(got.Load[0] > got.Accept[1]) || tt.dir == "ltr" && !(got.Load[1] < got.Accept[0]) {
				t.Errorf("buttons Load at %v, Accept at %v in a %s placeholder", got.Load, got.Accept, tt.dir)
			}
			if got.Page != "ltr" || got.PageAttr != "" {
				t.Errorf("the portal's page: direction %q, dir=%q", got.Page, got.PageAttr)
			}
			tb.NoErrors()
		})
	}
}

// screenshotsDir, when set (make screenshots sets it), is where
// TestBrowserLanguagesEveryLanguage writes a screenshot of each language's
// banner and preferences at 320 px, for a person to look at.
var screenshotsDir = os.Getenv("PORTALCONSENT_SCREENSHOTS")

// TestBrowserLanguagesEveryLanguage: in each of the 37 languages, on a
// 320 px wide phone, the banner and the preferences do not scroll sideways,
// every button's label is whole, the frame's lang and direction are the
// language's, and axe finds no violation, in light and in dark.
func TestBrowserLanguagesEveryLanguage(t *testing.T) {
	src := harness.AxeSource(t)
	h := harness.StartHosts(t)
	for _, lang := range policy.BuiltinLanguages() {
		t.Run(lang, func(t *testing.T) {
			tb := newTab(t)
			tb.browserLanguages(lang)
			tb.Run(chromedp.EmulateViewport(320, 640))
			tb.Run(chromedp.Navigate(h.PortalURL("lang.html", "")))
			tb.checkBannerIn(lang) // waits for the banner
			tb.WaitApp()
			tb.checkBannerIn(lang) // the app's own
			dir := policy.Dir(lang)
			tb.checkDirections(dir, ".pc-banner")
			tb.checkFits(lang + " banner")
			for _, scheme := range []string{"light", "dark"} {
				tb.Run(harness.EmulateMedia(map[string]string{"prefers-color-scheme": scheme}))
				for _, v := range tb.AxeFrame(src) {
					t.Errorf("%s banner, %s: axe violation: %v", lang, scheme, v)
				}
			}
			tb.Run(harness.EmulateMedia(map[string]string{"prefers-color-scheme": "light"}))
			tb.screenshot(lang + "-banner")
			tb.OpenPreferences()
			tb.checkDirections(dir, "#pc-preferences")
			tb.checkFits(lang + " preferences")
			for _, scheme := range []string{"light", "dark"} {
				tb.Run(harness.EmulateMedia(map[string]string{"prefers-color-scheme": scheme}))
				for _, v := range tb.AxeFrame(src) {
					t.Errorf("%s preferences, %s: axe violation: %v", lang, scheme, v)
				}
			}
			tb.Run(harness.EmulateMedia(map[string]string{"prefers-color-scheme": "light"}))
			tb.screenshot(lang + "-preferences")
			tb.NoErrors()
		})
	}
}

// checkFits checks the consent frame's document does not scroll sideways,
// nor does a dialog, and that no button clips its label.
func (tb *tab) checkFits(what string) {
	tb.T.Helper()
	var m struct {
		ScrollWidth, ClientWidth float64
		Clipped, Dialogs         []string
	}
	tb.Eval(harness.InFrame(`({ScrollWidth: d.documentElement.scrollWidth, ClientWidth: d.documentElement.clientWidth,
		Clipped: [...d.querySelectorAll("button")].filter(b => b.getClientRects().length && (b.scrollWidth > b.clientWidth || b.scrollHeight > b.clientHeight + 1))
			.map(b => (b.id || b.textContent) + ": " + b.scrollWidth + "x" + b.scrollHeight + " in " + b.clientWidth + "x" + b.clientHeight),
		Dialogs: [...d.querySelectorAll(".pc-dialog")].filter(g => g.scrollWidth > g.clientWidth)
			.map(g => g.id + ": " + g.scrollWidth + " > " + g.clientWidth)})`), &m)
	if m.ScrollWidth > m.ClientWidth {
		tb.T.Errorf("%s: the frame scrolls sideways: scrollWidth %v > clientWidth %v", what, m.ScrollWidth, m.ClientWidth)
	}
	for _, c := range m.Clipped {
		tb.T.Errorf("%s: a button clips its label: %s", what, c)
	}
	for _, g := range m.Dialogs {
		tb.T.Errorf("%s: a dialog scrolls sideways: %s", what, g)
	}
}

// screenshot writes the viewport as name.png into screenshotsDir, when set.
func (tb *tab) screenshot(name string) {
	tb.T.Helper()
	if screenshotsDir == "" {
		return
	}
	var buf []byte
	tb.Run(chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		buf, err = page.CaptureScreenshot().WithFormat(page.CaptureScreenshotFormatPng).Do(ctx)
		return err
	}))
	if err := os.MkdirAll(screenshotsDir, 0o755); err != nil {
		tb.T.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(screenshotsDir, name+".png"), buf, 0o644); err != nil {
		tb.T.Fatal(err)
	}
}

// TestBrowserRefusalLifetime: with refusalLifetimeDays 365 (lifetime 182), a
// Reject all on the server's first-paint banner or in the app stores the
// cookie for 365 days, an Accept all for 182; a returning visitor's refusal
// of 300 days ago still holds (no banner, no wasm), an acceptance of 300
// days ago is asked again.
func TestBrowserRefusalLifetime(t *testing.T) {
	p := servertest.CopyOf(t, harness.Policies[0])
	p.ID, p.LifetimeDays, p.RefusalLifetimeDays = "refusal", 182, 365
	h := harness.StartHosts(t, p)
	url := h.PortalURL("plain.html", "portal=refusal")
	for _, tt := range []struct {
		name   string
		button string
		app    bool
		days   float64
	}{
		{"reject on the server banner", "pc-reject", false, 365},
		{"reject in the app", "pc-reject", true, 365},
		{"accept in the app", "pc-accept", true, 182},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tb := newTab(t)
			tb.Run(chromedp.Navigate(url))
			tb.WaitBanner()
			if tt.app {
				tb.WaitApp()
			}
			tb.Click(tt.button)
			tb.WaitFor("the choice", `document.cookie.includes("cookies_preferences=")`)
			var expires float64
			tb.Run(chromedp.ActionFunc(func(ctx context.Context) error {
				cs, err := network.GetCookies().WithURLs([]string{url}).Do(ctx)
				for _, c := range cs {
					if c.Name == policy.CookieName {
						expires = c.Expires
					}
				}
				return err
			}))
			if days := (expires - float64(time.Now().Unix())) / 86400; math.Abs(days-tt.days) > 0.1 {
				t.Errorf("the cookie expires in %.2f days, want %v", days, tt.days)
			}
			tb.NoErrors()
		})
	}
	for _, tt := range []struct {
		name   string
		accept func(string) bool
		banner bool
	}{
		{"a refusal of 300 days ago holds", nil, false},
		{"an acceptance of 300 days ago is asked again", func(string) bool { return true }, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := policy.NewConsent(p, time.Now().Add(-300*24*time.Hour), tt.accept)
			tb := newTab(t)
			tb.Run(chromedp.Navigate(h.Portal.URL + "/page2.html"))
			tb.Eval(`document.cookie = `+harness.JSString(policy.SetCookie(c.Encode(), 400, time.Now(), false, ""))+`, true`, nil)
			tb.Run(chromedp.Navigate(url))
			if tt.banner {
				tb.WaitBanner()
			} else {
				tb.WaitReturning()
			}
			tb.NoErrors()
		})
	}
}
