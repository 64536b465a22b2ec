package e2e

// Browser tests of the language choice: the loader sends data-lang, else the
// page's <html lang>, else navigator.languages; the server answers with the
// banner in the best language the policy offers, else its default. Fixture
// pages: testdata/lang.html.

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/banner"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/harness"
)

// browserLanguages makes the tab's browser prefer the given languages
// (navigator.languages and Accept-Language), keeping its user agent. Measured
// in headless Chromium: --lang and Emulation.setLocaleOverride leave
// navigator.languages at [en-US en]; --accept-lang and this override change it.
func (tb *tab) browserLanguages(list string) {
	tb.T.Helper()
	var ua string
	tb.Eval(`navigator.userAgent`, &ua)
	tb.Run(emulation.SetUserAgentOverride(ua).WithAcceptLanguage(list))
	var got string
	tb.Eval(`navigator.languages.join()`, &got)
	if got != list {
		tb.T.Fatalf("navigator.languages = %q, want %q", got, list)
	}
}

// bannerLang waits for the banner and returns the language of the frame's
// document and of the banner's root, and the labels of its buttons.
func (tb *tab) bannerLang() (docLang, rootLang string, labels []string) {
	tb.T.Helper()
	tb.WaitBanner()
	var got struct {
		Doc, Root string
		Labels    []string
	}
	tb.Eval(harness.InFrame(`({Doc: (d.documentElement || d.querySelector(".pc-root")).lang, Root: d.querySelector(".pc-root").lang,
		Labels: [...d.querySelectorAll(".pc-banner button")].map(b => b.textContent.trim())})`), &got)
	return got.Doc, got.Root, got.Labels
}

// checkBannerIn checks the banner shown is the policy's in lang.
func (tb *tab) checkBannerIn(lang string) {
	tb.T.Helper()
	p, ok := harness.Policies[0].In(lang)
	if !ok {
		tb.T.Fatalf("mtran has no policy in %s", lang)
	}
	doc, root, labels := tb.bannerLang()
	want := []string{p.Texts.AcceptAll, p.Texts.RejectAll, p.Texts.Customize, p.Texts.PolicyLink}
	if doc != lang || root != lang || strings.Join(labels, "|") != strings.Join(want, "|") {
		tb.T.Errorf("banner: frame lang %q, root lang %q, buttons %q; want %s and %q", doc, root, labels, lang, want)
	}
}

// configLang returns the lang parameter of the loader's config request.
func (tb *tab) configLang() string {
	tb.T.Helper()
	var name string
	tb.Eval(`(performance.getEntriesByType("resource").map(e => e.name).find(n => n.includes("/config.json")) || "")`, &name)
	u, err := url.Parse(name)
	if err != nil || name == "" {
		tb.T.Fatalf("no config request (%q)", name)
	}
	return u.Query().Get("lang")
}

func TestBrowserLanguageChoice(t *testing.T) {
	for _, tt := range []struct {
		name, page, browser string
		sent, want          string
	}{
		{"data-lang", "lang-data-fr.html", "", "fr", "fr"},
		{"html lang", "lang-html-fr.html", "", "fr-FR", "fr"},
		{"navigator.languages", "lang.html", "fr-CA,fr,en", "fr-CA,fr,en", "fr"},
		{"data-lang German", "lang-data-de.html", "", "de", "de"},
		{"navigator.languages unsupported", "lang.html", "ja-JP,ko", "ja-JP,ko", "en"},
		{"html lang before navigator.languages", "lang-html-fr.html", "en-US,en", "fr-FR", "fr"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := harness.StartHosts(t)
			tb := newTab(t)
			if tt.browser != "" {
				tb.browserLanguages(tt.browser)
			}
			tb.Run(chromedp.Navigate(h.PortalURL(tt.page, "")))
			tb.checkBannerIn(tt.want)
			if got := tb.configLang(); got != tt.sent {
				t.Errorf("the loader sent lang=%q, want %q", got, tt.sent)
			}
			tb.NoErrors()
		})
	}
}

// TestBrowserFrenchTakeover: the app takes the French server banner over with
// no pixel changed, and the preferences and the stored choice follow.
func TestBrowserFrenchTakeover(t *testing.T) {
	h := harness.StartHosts(t)
	release := h.HoldWasm()
	defer release()
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("lang-data-fr.html", "")))
	tb.checkBannerIn("fr")
	tb.TakeoverChangesNothingVisible(release, "the server's French banner and the app's")
	tb.checkBannerIn("fr") // the app's own banner

	fr, _ := harness.Policies[0].In("fr")
	tb.Click(banner.CustomizeID)
	tb.WaitFor("the preferences", harness.InFrame(`d.getElementById("pc-preferences") !== null && w.portalConsentRunning === true`))
	var prefs struct{ Title, Text string }
	tb.Eval(harness.InFrame(`({Title: d.querySelector("#pc-preferences h2").textContent.trim(), Text: d.getElementById("pc-preferences").textContent})`), &prefs)
	if prefs.Title != fr.Texts.PreferencesTitle {
		t.Errorf("preferences title %q, want %q", prefs.Title, fr.Texts.PreferencesTitle)
	}
	for _, w := range []string{fr.Categories[0].Name, fr.Categories[1].Name, fr.Categories[1].Description, fr.Texts.AlwaysOn, fr.Texts.Save} {
		if !strings.Contains(prefs.Text, w) {
			t.Errorf("the preferences lack %q: %s", w, prefs.Text)
		}
	}
	tb.Click(banner.SwitchID(policy.Statistical))
	tb.Click(banner.SaveID)
	c := tb.WaitConsent()
	if !c.Accepted(policy.Statistical) {
		t.Errorf("stored choice %+v: statistical not accepted", c)
	}
	tb.NoErrors()
}

// TestBrowserPolicyPageLanguage: the policy page in French under its strict
// CSP runs the loader in French (data-lang), and the negotiated page follows
// the browser's languages.
func TestBrowserPolicyPageLanguage(t *testing.T) {
	h := harness.StartHosts(t)
	tb := newTab(t)
	tb.browserLanguages("fr-CA,fr")
	tb.Run(chromedp.Navigate(h.Consent.URL + "/portals/mtran/policy"))
	tb.WaitFor("the policy page", `document.querySelector(".pc-policy") !== null`)
	var page struct {
		Lang, Title, Button string
	}
	tb.Eval(`({Lang: document.documentElement.lang, Title: document.querySelector("h1").textContent.trim(),
		Button: document.querySelector("button[data-consent=preferences]").textContent.trim()})`, &page)
	fr, _ := harness.Policies[0].In("fr")
	if page.Lang != "fr" || page.Title != fr.Texts.PolicyTitle || page.Button != fr.Texts.ManageCookies {
		t.Errorf("negotiated policy page: %+v", page)
	}
	tb.checkBannerIn("fr")
	tb.WaitApp() // the wasm compiles and runs under the page's CSP
	tb.NoErrors()

	// The English page, by its own URL, whatever the browser prefers.
	tb.Run(chromedp.Navigate(h.Consent.URL + "/portals/mtran/policy/en"))
	tb.WaitFor("the English policy page", `document.documentElement.lang === "en" && document.querySelector(".pc-policy") !== null`)
	tb.checkBannerIn("en")
	tb.NoErrors()
}
