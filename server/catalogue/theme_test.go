package catalogue

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/web"
)

func TestThemeCSS(t *testing.T) {
	for _, tt := range []struct {
		name  string
		theme *policy.Theme
		want  string
	}{
		{"nil", nil, ""},
		{"empty", &policy.Theme{}, ""},
		{"bar", &policy.Theme{Position: policy.PositionBar}, ""},
		{"light colours", &policy.Theme{Light: policy.Palette{Background: "#FFF", Accent: "#123456"}},
			":root,.pc-root{--pc-bg:#fff;--pc-accent:#123456;}"},
		{"every colour, both schemes", &policy.Theme{
			Light: policy.Palette{Background: "#fff", Text: "#111", Muted: "#222", Accent: "#333", AccentText: "#444", Border: "#555"},
			Dark:  policy.Palette{Background: "#000", Text: "#eee", Muted: "#ddd", Accent: "#ccc", AccentText: "#bbb", Border: "#aaa"}},
			":root,.pc-root{--pc-bg:#fff;--pc-fg:#111;--pc-muted:#222;--pc-accent:#333;--pc-accent-fg:#444;--pc-border:#555;}" +
				"@media (prefers-color-scheme:dark){:root,.pc-root{--pc-bg:#000;--pc-fg:#eee;--pc-muted:#ddd;--pc-accent:#ccc;--pc-accent-fg:#bbb;--pc-border:#aaa;}}"},
		{"dark only", &policy.Theme{Dark: policy.Palette{Text: "#eee"}},
			"@media (prefers-color-scheme:dark){:root,.pc-root{--pc-fg:#eee;}}"},
		{"font", &policy.Theme{Font: `"Source Sans 3", sans-serif`},
			`:root,.pc-root{--pc-font:"Source Sans 3", sans-serif;}`},
		{"bottom-left", &policy.Theme{Position: policy.PositionBottomLeft},
			":root,.pc-root{--pc-banner-left:var(--pc-box-gap);--pc-banner-right:auto;--pc-banner-width:var(--pc-box-width);" +
				"--pc-banner-border:1px 1px 0;--pc-banner-radius:var(--pc-radius) var(--pc-radius) 0 0;}"},
		{"bottom-right", &policy.Theme{Position: policy.PositionBottomRight},
			":root,.pc-root{--pc-banner-left:auto;--pc-banner-right:var(--pc-box-gap);--pc-banner-width:var(--pc-box-width);" +
				"--pc-banner-border:1px 1px 0;--pc-banner-radius:var(--pc-radius) var(--pc-radius) 0 0;}"},
		{"an invalid colour is left out", &policy.Theme{Light: policy.Palette{Background: "#fff}body{x:y", Text: "#000"}},
			":root,.pc-root{--pc-fg:#000;}"},
	} {
		if got := ThemeCSS(tt.theme); got != tt.want {
			t.Errorf("%s: ThemeCSS = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestBannerCSSDefaults checks that web/banner.css and policy.DefaultLight and
// DefaultDark (what the contrast check assumes where a theme says nothing)
// agree, and that banner.css defines every property a theme sets.
func TestBannerCSSDefaults(t *testing.T) {
	src, err := fs.ReadFile(web.Files(), "banner.css")
	if err != nil {
		t.Fatal(err)
	}
	css := string(src)
	dark := strings.Index(css, "@media (prefers-color-scheme: dark)")
	if dark < 0 {
		t.Fatal("banner.css has no dark variant")
	}
	value := func(block, prop string) string {
		m := regexp.MustCompile(regexp.QuoteMeta(prop) + `:\s*([^;]+);`).FindStringSubmatch(block)
		if m == nil {
			return ""
		}
		return m[1]
	}
	for _, s := range []struct {
		name  string
		block string
		pal   policy.Palette
	}{{"light", css[:dark], policy.DefaultLight}, {"dark", css[dark:], policy.DefaultDark}} {
		for _, prop := range paletteProperties {
			if got, want := value(s.block, prop.name), prop.value(s.pal); got != want {
				t.Errorf("banner.css %s %s = %q, policy's default is %q", s.name, prop.name, got, want)
			}
		}
	}
	for _, prop := range []string{"--pc-font", "--pc-banner-left", "--pc-banner-right", "--pc-banner-width",
		"--pc-banner-border", "--pc-banner-radius", "--pc-box-gap", "--pc-box-width", "--pc-radius"} {
		if value(css[:dark], prop) == "" {
			t.Errorf("banner.css does not define %s", prop)
		}
	}
	for _, use := range []string{"var(--pc-banner-left)", "var(--pc-banner-right)", "var(--pc-banner-width)",
		"var(--pc-banner-border)", "var(--pc-banner-radius)", "var(--pc-font)"} {
		if !strings.Contains(css, use) {
			t.Errorf("banner.css does not use %s", use)
		}
	}
}

// FuzzThemeCSS: whatever font and colour a policy gives, once it validates,
// its theme's stylesheet is one :root rule of plain declarations: nothing can
// close the rule or the declaration early, open another, or end a <style>.
func FuzzThemeCSS(f *testing.F) {
	f.Add(`"Source Sans 3", sans-serif`, "#fff")
	f.Add("Arial; } body { color: red", "#fff;}")
	f.Add(`"a\"; x`, "#12345")
	f.Add("メイリオ, 'Noto Sans'", "#ABCDEF")
	ps, err := policy.Defaults()
	if err != nil {
		f.Fatal(err)
	}
	base := ps[0]
	f.Fuzz(func(t *testing.T, font, bg string) {
		p := *base
		p.Theme = &policy.Theme{Font: font, Light: policy.Palette{Background: bg, Text: "#000"}}
		if p.Validate() != nil {
			return
		}
		css := ThemeCSS(p.Theme)
		body, ok := strings.CutPrefix(css, ":root,.pc-root{")
		if !ok || !strings.HasSuffix(body, ";}") {
			t.Fatalf("ThemeCSS = %q: not one :root rule", css)
		}
		body = strings.TrimSuffix(body, "}")
		if strings.ContainsAny(body, "{}<>\\@") || strings.Count(body, ";") != strings.Count(body, ":") {
			t.Fatalf("ThemeCSS = %q: more than plain declarations", css)
		}
	})
}
