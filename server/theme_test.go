package server

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/catalogue"
)

// copyOf returns a deep copy of p, through JSON.
func copyOf(t testing.TB, p *policy.Policy) *policy.Policy {
	t.Helper()
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q policy.Policy
	if err := json.Unmarshal(data, &q); err != nil {
		t.Fatal(err)
	}
	return &q
}

// TestThemeOnThePolicyPage: a themed portal's policy page links its theme, an
// immutable stylesheet the page's CSP (style-src 'self') allows; a portal
// without a theme links none; a right-to-left policy's page is dir="rtl".
func TestThemeOnThePolicyPage(t *testing.T) {
	ps := defaultPolicies(t)
	ar := copyOf(t, ps[0])
	ar.ID, ar.Texts.Lang, ar.Translations = "arabic", "ar", nil
	s, err := New(append(ps, ar), fakeAssetsFS())
	if err != nil {
		t.Fatal(err)
	}
	res, body := serve(t, s, "GET", "/portals/twisto/policy", nil)
	if res.StatusCode != 200 {
		t.Fatalf("twisto policy page: %d", res.StatusCode)
	}
	link := regexp.MustCompile(`<link rel="stylesheet" href="(/assets/theme-twisto\.[0-9a-f]{16}\.css)">`).FindSubmatch(body)
	if link == nil {
		t.Fatalf("twisto's policy page links no theme:\n%s", body)
	}
	if !strings.Contains(string(body), `<html lang="en" dir="ltr">`) {
		t.Errorf("twisto's policy page is not lang=en dir=ltr")
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "style-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("policy page CSP %q", csp)
	}
	res, css := serve(t, s, "GET", string(link[1]), nil)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/css; charset=utf-8" ||
		!strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("GET %s: %d, %q, %q", link[1], res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"))
	}
	if want := catalogue.ThemeCSS(ps[1].Theme); string(css) != want || !strings.Contains(want, "--pc-bg:#fff8f3;") {
		t.Errorf("GET %s = %q, want %q", link[1], css, want)
	}
	for _, id := range []string{"mtran", "arabic"} {
		res, body = serve(t, s, "GET", "/portals/"+id+"/policy", nil)
		if res.StatusCode != 200 || strings.Contains(string(body), "/assets/theme-") {
			t.Errorf("%s (no theme): status %d, links a theme: %v", id, res.StatusCode, strings.Contains(string(body), "/assets/theme-"))
		}
	}
	if !strings.Contains(string(body), `<html lang="ar" dir="rtl">`) {
		t.Errorf("the Arabic policy page is not dir=rtl")
	}
	if res, _ := serve(t, s, "GET", "/assets/theme-mtran.0123456789abcdef.css", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("a theme mtran does not have: %d, want 404", res.StatusCode)
	}
}
