package server

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// dialogsBody is the body of /portals/{id}/dialogs.json.
type dialogsBody struct {
	Preferences string `json:"preferences"`
	Policy      string `json:"policy"`
}

// switchTag matches the start tag of a category's switch in rendered HTML.
var switchTag = regexp.MustCompile(`<input [^>]*id="pc-switch-([a-z0-9_-]+)"[^>]*>`)

// TestDialogs: dialogs.json holds the preferences and the policy dialog as
// the app renders them, in the language config.json would pick (the same
// negotiation: a list, a bad value or none falls back to the default),
// every optional switch off; cached, revalidated and compressed like
// config.json, readable by any portal; an unknown portal is a 404; and
// config.json does not carry them.
func TestDialogs(t *testing.T) {
	s := newFakeServer(t)
	etags := map[string]string{}
	for _, tt := range []struct {
		query, lang string
	}{
		{"", "en"},
		{"?lang=fr", "fr"},
		{"?lang=" + url.QueryEscape("fr-CA,fr,en"), "fr"},
		{"?lang=ja", "en"},
		{"?lang=%ZZ", "en"},
		{"?lang=" + strings.Repeat("fr,", 300), "en"},
	} {
		t.Run(tt.query, func(t *testing.T) {
			res, body := serve(t, s, "GET", "/portals/twisto/dialogs.json"+tt.query, http.Header{"Accept-Language": {"fr"}})
			if res.StatusCode != 200 {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			for k, want := range map[string]string{
				"Content-Type": "application/json", "Content-Language": tt.lang, "Access-Control-Allow-Origin": "*",
				"Cache-Control": "public, max-age=60, must-revalidate", "Vary": "Accept-Encoding",
			} {
				if got := res.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			var d dialogsBody
			if err := json.Unmarshal(body, &d); err != nil {
				t.Fatalf("decoding dialogs.json: %v\n%.300s", err, body)
			}
			p, _ := testPortal(t, s, "twisto").Policy.In(tt.lang)
			for _, want := range []string{`id="pc-preferences"`, `role="dialog"`, `aria-modal="true"`, `id="pc-save"`,
				`id="pc-prefs-accept"`, `id="pc-prefs-reject"`, `id="pc-prefs-gpc"`, ">" + p.Categories[1].Name + "<", ">" + p.Texts.Save + "<"} {
				if !strings.Contains(d.Preferences, want) {
					t.Errorf("the preferences lack %s", want)
				}
			}
			switches := switchTag.FindAllStringSubmatch(d.Preferences, -1)
			if len(switches) != len(p.Categories) {
				t.Errorf("%d switches, want one per category (%d)", len(switches), len(p.Categories))
			}
			for _, sw := range switches {
				cat, _ := p.Category(sw[1])
				if on := regexp.MustCompile(`\schecked[\s>]`).MatchString(sw[0]); on != cat.Required {
					t.Errorf("switch %s checked: %v, want %v (required: %v)", sw[1], on, cat.Required, cat.Required)
				}
			}
			for _, want := range []string{`id="pc-policy-dialog"`, `aria-modal="true"`, `id="pc-manage"`, ">" + p.Texts.PolicyTitle + "<", ">" + p.Texts.ManageCookies + "<"} {
				if !strings.Contains(d.Policy, want) {
					t.Errorf("the policy dialog lacks %s", want)
				}
			}
			etag := res.Header.Get("ETag")
			if prev, ok := etags[tt.lang]; ok && prev != etag {
				t.Errorf("two ETags for %s: %s and %s", tt.lang, prev, etag)
			}
			etags[tt.lang] = etag
			if r, _ := serve(t, s, "GET", "/portals/twisto/dialogs.json"+tt.query, http.Header{"If-None-Match": {etag}}); r.StatusCode != 304 {
				t.Errorf("revalidation: status %d, want 304", r.StatusCode)
			}
			r, br := serve(t, s, "GET", "/portals/twisto/dialogs.json"+tt.query, http.Header{"Accept-Encoding": {"br"}})
			if got, err := decode(r.Header.Get("Content-Encoding"), br); r.Header.Get("Content-Encoding") != "br" || err != nil || string(got) != string(body) {
				t.Errorf("brotli: Content-Encoding %q, %d bytes for %d, decoded equal: %v (%v)", r.Header.Get("Content-Encoding"), len(br), len(body), string(got) == string(body), err)
			}
		})
	}
	if etags["en"] == etags["fr"] {
		t.Errorf("en and fr share the ETag %s", etags["en"])
	}

	res, body := serve(t, s, "GET", "/portals/nope/dialogs.json", nil)
	if res.StatusCode != 404 || res.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(string(body), `unknown portal \"nope\"`) {
		t.Errorf("unknown portal: status %d, CORS %q, %s", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"), body)
	}
	if res, _ := serve(t, s, "OPTIONS", "/portals/mtran/dialogs.json", http.Header{"Origin": {"https://mtran.my.opendatasoft.com"},
		"Access-Control-Request-Method": {"GET"}}); res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight: status %d, CORS %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}

	// config.json, downloaded by every first visitor, does not carry them,
	// and names prefs.js, which the server serves.
	_, cfg := serve(t, s, "GET", "/portals/twisto/config.json", nil)
	c := decodeConfig(t, cfg)
	if strings.Contains(string(cfg), "pc-preferences") || strings.Contains(string(cfg), "pc-policy-dialog") {
		t.Error("config.json carries a dialog")
	}
	if r, b := serve(t, s, "GET", "/"+c.Assets.Prefs[0], nil); r.StatusCode != 200 || c.Assets.Prefs[2] != "__portalConsentPrefs" || !strings.Contains(string(b), "prefs") {
		t.Errorf("prefs.js as config.json names it (%q): status %d, %q", c.Assets.Prefs, r.StatusCode, b)
	}
}

// TestDialogsFlood: dialogs.json is built once per portal and language:
// 2,000 requests with random language lists get one of the portal's
// languages each, under its one ETag, whatever they ask for.
func TestDialogsFlood(t *testing.T) {
	s := newFakeServer(t)
	rnd := rand.New(rand.NewPCG(23, 2))
	langs := testPortal(t, s, "twisto").Policy.Languages()
	seen := map[string]string{}
	for i := range 2000 {
		var list []string
		for range rnd.IntN(20) {
			list = append(list, fmt.Sprintf("%c%c-%d", 'a'+rnd.IntN(26), 'a'+rnd.IntN(26), rnd.IntN(1000)))
		}
		if i%3 == 0 {
			list = append(list, langs[rnd.IntN(len(langs))])
		}
		res, body := serve(t, s, "GET", "/portals/twisto/dialogs.json?lang="+url.QueryEscape(strings.Join(list, ",")), nil)
		if res.StatusCode != 200 {
			t.Fatalf("status %d: %s", res.StatusCode, body)
		}
		l, etag := res.Header.Get("Content-Language"), res.Header.Get("ETag")
		if prev, ok := seen[l]; ok && prev != etag {
			t.Fatalf("language %s under two ETags: %s and %s", l, prev, etag)
		}
		seen[l] = etag
	}
	if len(seen) > len(langs) {
		t.Errorf("%d languages served, the portal has %d", len(seen), len(langs))
	}
}
