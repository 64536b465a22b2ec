package server

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/lang"
)

func TestLanguageMatch(t *testing.T) {
	s := newFakeServer(t)
	p := testPortal(t, s, "mtran")
	for _, tt := range []struct {
		list, want string
	}{
		{"", "en"},
		{"fr", "fr"},
		{"FR", "fr"},
		{"fr-CA", "fr"},
		{"fr-CA,fr;q=0.9", "fr"},
		{"fr-CA,fr,en", "fr"},
		{"en-GB,fr", "en"},
		{"ja", "en"},
		{"ja,fr;q=0.5", "fr"},
		{"ja-JP,ja;q=0.9,fr;q=0.8,en;q=0.7", "fr"},
		{"de-AT,de;q=0.9,fr;q=0.8", "de"},
		{"pt-BR", "pt"}, {"pt-PT", "pt"}, {"pt", "pt"},
		{"no", "nb"}, {"no-NO", "nb"}, {"nb-NO", "nb"}, {"nn-NO", "nn"},
		{"iw", "he"}, {"ar-EG,ar;q=0.9", "ar"}, {"gsw-CH", "de"},
		{"en;q=0.1,fr;q=0.9", "fr"},  // the weights decide, not the order
		{"fr;q=0,en", "en"},          // q=0: not acceptable
		{"garbage!!,fr", "fr"},       // bad entries are skipped
		{"x-klingon-nonsense", "en"}, // unknown: the default
		{"*", "en"},
		{"garbage", "en"},
		{",,,", "en"},
		{"fr;q=abc", "en"},
		{"zh-Hant-TW", "en"},
		{strings.Repeat("ja,", 200) + "fr", "en"},        // oversized: ignored as a whole
		{strings.Repeat("ja,", 20) + "fr", "en"},         // entries after the 16th are not read
		{strings.Repeat("x", lang.MaxList+1), "en"},      // oversized
		{"fr-" + strings.Repeat("a-", 1000) + "b", "en"}, // oversized
	} {
		if got := p.Match(tt.list).Policy.Texts.Lang; got != tt.want {
			t.Errorf("match(%.60q) = %s, want %s", tt.list, got, tt.want)
		}
	}
}

// TestLanguageMatchSubsets checks Norwegian and Portuguese visitors against
// portals that offer only some of those languages: "no" reaches Bokmål or
// Nynorsk, whichever is offered, and each other; a Brazilian gets "pt" when
// there is no "pt-BR", and "pt-BR" when there is, while a visitor from
// Portugal keeps "pt".
func TestLanguageMatchSubsets(t *testing.T) {
	s := newFakeServer(t)
	base := testPortal(t, s, "mtran").Policy
	byLang := map[string]policy.Translation{}
	for _, tr := range base.Translations {
		byLang[tr.Texts.Lang] = tr
	}
	brazil := byLang["pt"]
	brazil.Texts.Lang = "pt-BR"
	byLang["pt-BR"] = brazil
	for _, tt := range []struct {
		offered []string
		list    string
		want    string
	}{
		{[]string{"nn"}, "no", "nn"}, {[]string{"nn"}, "nb", "nn"}, {[]string{"nn"}, "no-NO,en;q=0.5", "nn"},
		{[]string{"nb"}, "no", "nb"}, {[]string{"nb"}, "nn", "nb"},
		{[]string{"nb", "nn"}, "no", "nb"}, {[]string{"nb", "nn"}, "nn", "nn"}, {[]string{"nb", "nn"}, "nb", "nb"},
		{[]string{"pt"}, "pt-BR", "pt"}, {[]string{"pt"}, "pt-PT", "pt"},
		{[]string{"pt", "pt-BR"}, "pt-BR", "pt-BR"}, {[]string{"pt", "pt-BR"}, "pt-PT", "pt"}, {[]string{"pt", "pt-BR"}, "pt-AO", "pt"},
		{[]string{"pt-BR"}, "pt-PT", "pt-BR"},
	} {
		p := *base
		p.Translations = nil
		for _, l := range tt.offered {
			p.Translations = append(p.Translations, byLang[l])
		}
		sub, err := New([]*policy.Policy{&p}, fakeAssetsFS())
		if err != nil {
			t.Fatal(err)
		}
		if got := testPortal(t, sub, "mtran").Match(tt.list).Policy.Texts.Lang; got != tt.want {
			t.Errorf("offering en and %q: match(%q) = %s, want %s", tt.offered, tt.list, got, tt.want)
		}
	}
}

// TestConfigDirection: config.json says "dir": "rtl" for a right-to-left
// language (the embed placeholders follow it) and nothing for the others.
func TestConfigDirection(t *testing.T) {
	s := newFakeServer(t)
	for l, want := range map[string]string{"ar": "rtl", "he": "rtl", "en": "", "fr": "", "de": ""} {
		res, body := serve(t, s, "GET", "/portals/mtran/config.json?lang="+l, nil)
		if res.StatusCode != 200 {
			t.Fatalf("%s: status %d", l, res.StatusCode)
		}
		if c := decodeConfig(t, body); c.Dir != want || c.Policy.Texts.Lang != l {
			t.Errorf("config.json in %s: dir %q, lang %q; want %q", l, c.Dir, c.Policy.Texts.Lang, want)
		}
		if want == "" && bytes.Contains(body, []byte(`"dir"`)) {
			t.Errorf("config.json in %s has a dir: %.80s…", l, body)
		}
	}
}

func TestConfigPerLanguage(t *testing.T) {
	s := newFakeServer(t)
	etags := map[string]string{}
	for _, tt := range []struct {
		query, lang string
	}{
		{"", "en"}, // sent with Accept-Language: fr, which config.json ignores
		{"?lang=en", "en"},
		{"?lang=fr", "fr"},
		{"?lang=" + url.QueryEscape("fr-CA,fr,en"), "fr"},
		{"?lang=" + url.QueryEscape("fr-CA,fr;q=0.9"), "fr"},
		{"?lang=fr-CA,fr;q=0.9", "en"}, // a raw ";" voids the parameter (net/url)
		{"?lang=ja", "en"},
		{"?lang=de", "de"},
		{"?lang=%ZZ", "en"},
		{"?lang=" + strings.Repeat("fr,", 300), "en"},
	} {
		t.Run(tt.query, func(t *testing.T) {
			h := http.Header{"Accept-Language": {"fr"}}
			res, body := serve(t, s, "GET", "/portals/twisto/config.json"+tt.query, h)
			if res.StatusCode != 200 {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			if got := res.Header.Get("Content-Language"); got != tt.lang {
				t.Errorf("Content-Language = %q, want %s", got, tt.lang)
			}
			if v := res.Header.Get("Vary"); strings.Contains(v, "Accept-Language") {
				t.Errorf("Vary = %q: the language is in the URL", v)
			}
			c := decodeConfig(t, body)
			want, _ := testPortal(t, s, "twisto").Policy.In(tt.lang)
			if c.Policy.Texts.Lang != tt.lang || c.Policy.Translations != nil || c.Policy.Categories[1].Name != want.Categories[1].Name ||
				c.Policy.Cookies[0].Purpose != want.Cookies[0].Purpose {
				t.Errorf("config policy in %q with %d translations, categories %+v", c.Policy.Texts.Lang, len(c.Policy.Translations), c.Policy.Categories)
			}
			if err := c.Policy.Validate(); err != nil {
				t.Errorf("config policy is invalid: %v", err)
			}
			checkBannerHTML(t, c.Banner, want.Texts)
			etag := res.Header.Get("ETag")
			if prev, ok := etags[tt.lang]; ok && prev != etag {
				t.Errorf("two ETags for %s: %s and %s", tt.lang, prev, etag)
			}
			etags[tt.lang] = etag
			// Revalidation works per language.
			if r, _ := serve(t, s, "GET", "/portals/twisto/config.json"+tt.query, http.Header{"If-None-Match": {etag}}); r.StatusCode != 304 {
				t.Errorf("revalidation: status %d, want 304", r.StatusCode)
			}
		})
	}
	if etags["en"] == etags["fr"] {
		t.Errorf("en and fr share the ETag %s", etags["en"])
	}
	// A French ETag does not revalidate the English config.
	if r, _ := serve(t, s, "GET", "/portals/twisto/config.json?lang=en", http.Header{"If-None-Match": {etags["fr"]}}); r.StatusCode != 200 {
		t.Errorf("English config with the French ETag: status %d, want 200", r.StatusCode)
	}
}

func TestPolicyPageLanguages(t *testing.T) {
	s := newFakeServer(t)
	for _, tt := range []struct {
		name, target, accept string
		status               int
		lang                 string
		vary                 bool
	}{
		{"default", "/portals/mtran/policy", "", 200, "en", true},
		{"Accept-Language fr", "/portals/mtran/policy", "fr-CA,fr;q=0.9,en;q=0.8", 200, "fr", true},
		{"Accept-Language ja", "/portals/mtran/policy", "ja", 200, "en", true},
		{"Accept-Language garbage", "/portals/mtran/policy", "%%%;;;", 200, "en", true},
		{"?lang wins over Accept-Language", "/portals/mtran/policy?lang=fr", "en", 200, "fr", true},
		{"?lang=en", "/portals/mtran/policy?lang=en", "fr", 200, "en", true},
		{"?lang unknown", "/portals/mtran/policy?lang=ja", "", 200, "en", true},
		{"/fr", "/portals/mtran/policy/fr", "en", 200, "fr", false},
		{"/en", "/portals/twisto/policy/en", "fr", 200, "en", false},
		{"/FR", "/portals/twisto/policy/FR", "", 200, "fr", false},
		{"/de", "/portals/mtran/policy/de", "", 200, "de", false},
		{"/ja", "/portals/mtran/policy/ja", "", 404, "", false},
		{"/fr-CA", "/portals/mtran/policy/fr-CA", "", 404, "", false},
		{"unknown portal", "/portals/nope/policy/fr", "", 404, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var h http.Header
			if tt.accept != "" {
				h = http.Header{"Accept-Language": {tt.accept}}
			}
			res, body := serve(t, s, "GET", tt.target, h)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, body)
			}
			if tt.status != 200 {
				if ct := res.Header.Get("Content-Type"); ct != "application/json" || !bytes.Contains(body, []byte(`"error"`)) {
					t.Errorf("error response %s: %s", ct, body)
				}
				if strings.HasSuffix(tt.target, "/ja") && !bytes.Contains(body, []byte(`has no policy in \"ja\" (it has en, ar, bg, ca,`)) {
					t.Errorf("the 404 does not name the languages offered: %s", body)
				}
				return
			}
			if got := res.Header.Get("Content-Language"); got != tt.lang {
				t.Errorf("Content-Language = %q, want %s", got, tt.lang)
			}
			if got := res.Header.Get("Vary") == "Accept-Language"; got != tt.vary {
				t.Errorf("Vary = %q, want Accept-Language: %v", res.Header.Get("Vary"), tt.vary)
			}
			id := strings.Split(tt.target, "/")[2]
			p, _ := testPortal(t, s, id).Policy.In(tt.lang)
			base := "http://example.com/portals/" + id + "/policy"
			want := []string{
				`<html lang="` + tt.lang + `" dir="ltr">`,
				`<link rel="canonical" href="` + base + `/` + tt.lang + `">`,
				`<link rel="alternate" hreflang="en" href="` + base + `/en">`,
				`<link rel="alternate" hreflang="fr" href="` + base + `/fr">`,
				`<link rel="alternate" hreflang="x-default" href="` + base + `">`,
				`<a href="` + p.URL + `">` + p.Name + `</a>`,
				`<h1 class="pc-title" id="pc-policy-title">` + p.Texts.PolicyTitle + `</h1>`,
				`<h4 id="pc-cookies-necessary">` + p.Categories[0].Name + `</h4>`,
				`<th scope="col">` + p.Texts.Columns.Duration + `</th>`,
				`<td>` + p.Cookies[3].Duration + `</td>`,
				`<p class="pc-updated">` + p.UpdatedText() + `</p>`,
				`<button type="button" class="pc-btn pc-primary" data-consent="preferences">` + p.Texts.ManageCookies + `</button>`,
				`<script src="/embed.js" data-portal="` + id + `" data-lang="` + tt.lang + `" async></script>`,
			}
			arabic := ` · <a href="` + base + `/ar" hreflang="ar" lang="ar">العربية</a>`
			switch tt.lang {
			case "fr":
				want = append(want, `<a href="`+base+`/en" hreflang="en" lang="en">English</a>`+arabic, `<strong lang="fr">Français</strong>`,
					"Dernière mise à jour le 22 novembre 2026", "Nom(s) du cookie", "Mémoriser la langue du visiteur")
			case "de":
				want = append(want, `<a href="`+base+`/en" hreflang="en" lang="en">English</a>`+arabic, `<strong lang="de">Deutsch</strong>`,
					"Zuletzt aktualisiert am 22. November 2026", "Name(n) des Cookies", "Die Sprache des Besuchers speichern")
			default:
				want = append(want, `<strong lang="en">English</strong>`+arabic, `<a href="`+base+`/fr" hreflang="fr" lang="fr">Français</a>`,
					"Last updated on November 22, 2026", "Cookie name(s)", "To remember the visitor's language")
			}
			for _, w := range want {
				if !strings.Contains(string(body), w) && !strings.Contains(string(body), strings.ReplaceAll(w, "'", "&#39;")) {
					t.Errorf("page lacks %s", w)
				}
			}
			csp := res.Header.Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'none'", "script-src 'self' 'wasm-unsafe-eval'", "connect-src 'self'", "worker-src blob:", "style-src 'self';"} {
				if !strings.Contains(csp, d) {
					t.Errorf("CSP %q lacks %s", csp, d)
				}
			}
		})
	}
}

func TestIndexLinksPolicyLanguages(t *testing.T) {
	s := newFakeServer(t)
	_, body := serve(t, s, "GET", "/", nil)
	for _, id := range []string{"mtran", "twisto"} {
		for _, w := range []string{
			`<a href="/portals/` + id + `/policy/en" hreflang="en" lang="en">English</a>`,
			`<a href="/portals/` + id + `/policy/fr" hreflang="fr" lang="fr">Français</a>`,
		} {
			if !bytes.Contains(body, []byte(w)) {
				t.Errorf("index lacks %s", w)
			}
		}
		for _, lang := range []string{"en", "fr"} {
			if r, _ := serve(t, s, "GET", "/portals/"+id+"/policy/"+lang, nil); r.StatusCode != 200 {
				t.Errorf("%s/%s: status %d", id, lang, r.StatusCode)
			}
		}
	}
}
