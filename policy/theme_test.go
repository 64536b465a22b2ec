package policy_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/portalconsent/portalconsent/policy"
)

func mustColor(t *testing.T, s string) [3]float64 {
	t.Helper()
	c, ok := policy.ParseColor(s)
	if !ok {
		t.Fatalf("ParseColor(%q) failed", s)
	}
	return c
}

func TestParseColor(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want [3]float64
		ok   bool
	}{
		{"#000", [3]float64{0, 0, 0}, true},
		{"#fff", [3]float64{1, 1, 1}, true},
		{"#FFFFFF", [3]float64{1, 1, 1}, true},
		{"#f00", [3]float64{1, 0, 0}, true},
		{"#336699", [3]float64{0x33 / 255.0, 0x66 / 255.0, 0x99 / 255.0}, true},
		{"#3a9", [3]float64{0x33 / 255.0, 0xaa / 255.0, 0x99 / 255.0}, true},
		{"", [3]float64{}, false},
		{"fff", [3]float64{}, false},
		{"#ffff", [3]float64{}, false},
		{"#fffffff", [3]float64{}, false},
		{"#ggg", [3]float64{}, false},
		{"#+ff", [3]float64{}, false},
		{"#-1f", [3]float64{}, false},
		{"#f_f", [3]float64{}, false},
		{"#0x0fff", [3]float64{}, false},
		{"red", [3]float64{}, false},
		{"rgb(0,0,0)", [3]float64{}, false},
		{"#fff;}", [3]float64{}, false},
	} {
		got, ok := policy.ParseColor(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseColor(%q) = %v, %v, want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestContrast checks the WCAG 2.x formulas against published values (the
// WCAG 2.2 definition, WebAIM's contrast checker).
func TestContrast(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64
	}{
		{"#000000", 0},
		{"#ffffff", 1},
		{"#808080", 0.2158605},
		{"#ff0000", 0.2126},
		{"#00ff00", 0.7152},
		{"#0000ff", 0.0722},
	} {
		if got := policy.RelativeLuminance(mustColor(t, tt.in)); math.Abs(got-tt.want) > 1e-6 {
			t.Errorf("RelativeLuminance(%s) = %.7f, want %.7f", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct {
		a, b string
		want float64 // to two decimals
	}{
		{"#000", "#fff", 21},
		{"#fff", "#000", 21},
		{"#777", "#fff", 4.48},
		{"#767676", "#fff", 4.54},
		{"#595959", "#fff", 7.00},
		{"#0000ff", "#ffffff", 8.59},
		{"#ff0000", "#ffffff", 4.00},
		{"#008000", "#ffffff", 5.14},
		{"#1f4fbf", "#1f4fbf", 1},
	} {
		got := policy.Contrast(mustColor(t, tt.a), mustColor(t, tt.b))
		if math.Abs(got-tt.want) > 0.005 {
			t.Errorf("Contrast(%s, %s) = %.3f, want %.2f", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestLuminanceEveryByte checks every 8-bit component against the WCAG
// formula written with math.Pow.
func TestLuminanceEveryByte(t *testing.T) {
	for n := range 256 {
		v := float64(n) / 255
		want := v / 12.92
		if v > 0.04045 {
			want = math.Pow((v+0.055)/1.055, 2.4)
		}
		if got := policy.RelativeLuminance([3]float64{v, v, v}); math.Abs(got-want) > 1e-12 {
			t.Errorf("RelativeLuminance of grey %d = %v, want %v", n, got, want)
		}
	}
}

// TestDefaultPalettes checks that the defaults themselves pass the rule a
// theme must pass.
func TestDefaultPalettes(t *testing.T) {
	p := clonePolicy(t, defaultPolicy(t, "mtran"))
	p.Theme = &policy.Theme{Light: policy.DefaultLight, Dark: policy.DefaultDark}
	if err := p.Validate(); err != nil {
		t.Fatalf("the default palettes: %v", err)
	}
	p.Theme = &policy.Theme{}
	if err := p.Validate(); err != nil {
		t.Fatalf("an empty theme: %v", err)
	}
}

func TestValidateTheme(t *testing.T) {
	tests := []struct {
		name  string
		theme policy.Theme
		field string // "" means valid
		msg   string // the whole message, when not ""; else a part of it
	}{
		{"bar", policy.Theme{Position: "bar"}, "", ""},
		{"bottom-left", policy.Theme{Position: "bottom-left"}, "", ""},
		{"bottom-right", policy.Theme{Position: "bottom-right"}, "", ""},
		{"short colours", policy.Theme{Light: policy.Palette{Background: "#000", Text: "#FFF", Muted: "#ccc", Accent: "#fc0", AccentText: "#000"},
			Dark: policy.Palette{Background: "#fff", Text: "#000", Muted: "#444", Accent: "#036", AccentText: "#fff"}}, "", ""},
		{"fonts", policy.Theme{Font: `"Source Sans 3", 'Noto Sans Arabic', Segoe UI, system-ui, sans-serif`}, "", ""},
		{"unicode font", policy.Theme{Font: `"メイリオ", Meiryo, sans-serif`}, "", ""},
		{"only the border", policy.Theme{Light: policy.Palette{Border: "#000"}, Dark: policy.Palette{Border: "#fff"}}, "", ""},

		{"unknown position", policy.Theme{Position: "top"}, "theme.position",
			`"top" is not a position (bar, bottom-left or bottom-right)`},
		{"named colour", policy.Theme{Light: policy.Palette{Text: "black"}}, "theme.light.text",
			`"black" is not a colour: use #rgb or #rrggbb`},
		{"rgb()", policy.Theme{Dark: policy.Palette{Accent: "rgb(1,2,3)"}}, "theme.dark.accent", "is not a colour"},
		{"injected colour", policy.Theme{Light: policy.Palette{Border: "#fff;}body{x:y"}}, "theme.light.border", "is not a colour"},
		{"four digits", policy.Theme{Dark: policy.Palette{Background: "#1234"}}, "theme.dark.background", "is not a colour"},
		{"muted bad syntax", policy.Theme{Dark: policy.Palette{Muted: "#12345g"}}, "theme.dark.muted", "is not a colour"},
		{"accentText bad syntax", policy.Theme{Light: policy.Palette{AccentText: "fff"}}, "theme.light.accentText", "is not a colour"},

		{"light text", policy.Theme{Light: policy.Palette{Text: "#777"}}, "theme.light.text",
			"contrast 4.47:1 with theme.light.background, WCAG AA needs 4.5:1 (#777 on the default #ffffff)"},
		{"dark text", policy.Theme{Dark: policy.Palette{Background: "#555", Text: "#999"}}, "theme.dark.text",
			"contrast 2.61:1 with theme.dark.background, WCAG AA needs 4.5:1 (#999 on #555)"},
		{"dark background against default text", policy.Theme{Dark: policy.Palette{Background: "#aaaaaa"}}, "theme.dark.text",
			"with theme.dark.background, WCAG AA needs 4.5:1 (the default #f2f2f4 on #aaaaaa)"},
		{"light muted", policy.Theme{Light: policy.Palette{Muted: "#999999"}}, "theme.light.muted",
			"contrast 2.84:1 with theme.light.background, WCAG AA needs 4.5:1 (#999999 on the default #ffffff)"},
		{"dark muted", policy.Theme{Dark: policy.Palette{Muted: "#555"}}, "theme.dark.muted", "with theme.dark.background"},
		{"light accent as link", policy.Theme{Light: policy.Palette{Accent: "#ff0000", AccentText: "#000"}}, "theme.light.accent",
			"contrast 3.99:1 with theme.light.background, WCAG AA needs 4.5:1 (#ff0000 on the default #ffffff)"},
		{"dark accent as link", policy.Theme{Dark: policy.Palette{Accent: "#1f4fbf"}}, "theme.dark.accent", "with theme.dark.background"},
		{"light accent text", policy.Theme{Light: policy.Palette{AccentText: "#777"}}, "theme.light.accentText",
			"with theme.light.accent, WCAG AA needs 4.5:1 (#777 on the default #1f4fbf)"},
		{"dark accent text", policy.Theme{Dark: policy.Palette{Accent: "#8fb0ff", AccentText: "#ffffff"}}, "theme.dark.accentText",
			"contrast 2.13:1 with theme.dark.accent, WCAG AA needs 4.5:1 (#ffffff on #8fb0ff)"},
		// Text passes on the background (4.6:1) but not on the tinted
		// header of the cookie table.
		{"table header", policy.Theme{Light: policy.Palette{Background: "#ffffff", Text: "#737373", Accent: "#000000", Muted: "#000"}}, "theme.light.text",
			"with the cookie table's header (10% theme.light.accent in theme.light.background), WCAG AA needs 4.5:1 (#737373 on #e6e6e6)"},

		{"font with ;", policy.Theme{Font: "Arial; color: red"}, "theme.font", `';' is not allowed`},
		{"font with }", policy.Theme{Font: "Arial} body {x: y"}, "theme.font", `'}' is not allowed`},
		{"font with <", policy.Theme{Font: "</style>"}, "theme.font", `'<' is not allowed`},
		{"font with url()", policy.Theme{Font: "url(x)"}, "theme.font", `'(' is not allowed`},
		{"font with a backslash", policy.Theme{Font: `"a\" b"`}, "theme.font", `'\\' is not allowed`},
		{"font with an open quote", policy.Theme{Font: `"Arial, sans-serif`}, "theme.font", "is not closed"},
		{"font with mixed quotes", policy.Theme{Font: `"Arial'`}, "theme.font", "is not closed"},
		{"font with a quote inside", policy.Theme{Font: `"Ari"al"`}, "theme.font", `'"' is not allowed`},
		{"font with an empty name", policy.Theme{Font: "Arial,,serif"}, "theme.font", "empty name in position 2"},
		{"font too long", policy.Theme{Font: strings.Repeat("a", 201)}, "theme.font", "more than 200"},
		{"font with a newline", policy.Theme{Font: "Arial\nserif"}, "theme.font", `'\n' is not allowed`},
	}
	orig := defaultPolicy(t, "mtran")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := clonePolicy(t, orig)
			theme := tt.theme
			p.Theme = &theme
			err := p.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe *policy.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v, want a *FieldError for %s", err, tt.field)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Msg, tt.msg) {
				t.Errorf("Validate() = %q, want field %q with %q", err, tt.field, tt.msg)
			}
		})
	}
}

func TestParseThemeErrorLine(t *testing.T) {
	base := defaultPolicy(t, "mtran")
	data := []byte(`{
  "theme": {
    "light": {"text": "#111111"},
    "dark": {
      "background": "#333333",
      "text": "#555555"
    }
  }
}`)
	_, err := policy.Parse("mtran.json", data, *base)
	want := "mtran.json:6: theme.dark.text: contrast 1.69:1 with theme.dark.background, WCAG AA needs 4.5:1 (#555555 on #333333)"
	if err == nil || err.Error() != want {
		t.Fatalf("Parse() = %v, want %s", err, want)
	}
	_, err = policy.Parse("mtran.json", []byte(`{"theme": {"light": {"accent": "#fff"}, "colour": "#000"}}`), *base)
	if err == nil || !strings.Contains(err.Error(), `unknown field "colour"`) && !strings.Contains(err.Error(), "colour: unknown field") {
		t.Fatalf("Parse() with an unknown theme field = %v", err)
	}
}

func TestDir(t *testing.T) {
	for _, tt := range []struct{ lang, want string }{
		{"ar", "rtl"}, {"ar-EG", "rtl"}, {"AR", "rtl"}, {"he", "rtl"}, {"he-IL", "rtl"},
		{"fa", "rtl"}, {"ur", "rtl"}, {"ps", "rtl"}, {"yi", "rtl"}, {"ckb", "rtl"}, {"dv", "rtl"},
		{"az-Arab", "rtl"}, {"pa-Arab-PK", "rtl"}, {"ar-Latn", "ltr"},
		{"en", "ltr"}, {"fr-CA", "ltr"}, {"zh-Hant-TW", "ltr"}, {"az-Latn", "ltr"},
		{"", "ltr"}, {"arabic", "ltr"}, {"e", "ltr"},
	} {
		if got := policy.Dir(tt.lang); got != tt.want {
			t.Errorf("Dir(%q) = %q, want %q", tt.lang, got, tt.want)
		}
	}
}
