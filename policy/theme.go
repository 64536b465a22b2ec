package policy

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Theme is a portal's look: colours for light and dark colour schemes, a font
// and where the banner sits. Every field is optional; what a theme leaves out
// keeps the default of web/banner.css (DefaultLight, DefaultDark).
type Theme struct {
	// Light is used by default, Dark when the visitor's system prefers a dark
	// colour scheme (prefers-color-scheme: dark).
	Light Palette `json:"light"`
	Dark  Palette `json:"dark"`
	// Font is a CSS font-family list, e.g. `"Source Sans 3", Arial, sans-serif`:
	// names separated by commas, each bare (letters, digits, spaces, - and _)
	// or in double or single quotes.
	Font string `json:"font,omitempty"`
	// Position is where the banner sits: PositionBar (the default, a bar along
	// the bottom), PositionBottomLeft or PositionBottomRight (a box in that
	// bottom corner, whatever the direction of the text).
	Position string `json:"position,omitempty"`
}

// Banner positions (Theme.Position).
const (
	PositionBar         = "bar"
	PositionBottomLeft  = "bottom-left"
	PositionBottomRight = "bottom-right"
)

// Palette is the colours of one colour scheme, each "#rgb" or "#rrggbb";
// an empty one keeps the default.
type Palette struct {
	// Background is the banner's and the dialogs' background.
	Background string `json:"background,omitempty"`
	// Text is the colour of titles and body text, on Background.
	Text string `json:"text,omitempty"`
	// Muted is the colour of secondary text (the banner's text, category
	// descriptions) on Background, and of the switches when off.
	Muted string `json:"muted,omitempty"`
	// Accent fills the primary buttons and colours links, the secondary
	// button and the switches when on.
	Accent string `json:"accent,omitempty"`
	// AccentText is the text of the primary buttons, on Accent.
	AccentText string `json:"accentText,omitempty"`
	// Border colours the separators (decoration: no contrast required).
	Border string `json:"border,omitempty"`
}

// DefaultLight and DefaultDark are the colours of web/banner.css, used where a
// theme gives none (a server test checks that both agree).
var (
	DefaultLight = Palette{Background: "#ffffff", Text: "#1d1d1f", Muted: "#4a4a55", Accent: "#1f4fbf", AccentText: "#ffffff", Border: "#c9ccd3"}
	DefaultDark  = Palette{Background: "#1e1f24", Text: "#f2f2f4", Muted: "#c4c6cf", Accent: "#8fb0ff", AccentText: "#0b1020", Border: "#4a4d57"}
)

// MinContrast is the contrast WCAG 2.x level AA requires of normal-size text
// (success criterion 1.4.3).
const MinContrast = 4.5

// TableHeaderTint is the share of Accent mixed into Background (in sRGB) for
// the header cells of the cookie table, as web/banner.css does with color-mix().
const TableHeaderTint = 0.10

// Merged returns pal with its empty colours taken from def.
func (pal Palette) Merged(def Palette) Palette {
	pick := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	return Palette{
		Background: pick(pal.Background, def.Background),
		Text:       pick(pal.Text, def.Text),
		Muted:      pick(pal.Muted, def.Muted),
		Accent:     pick(pal.Accent, def.Accent),
		AccentText: pick(pal.AccentText, def.AccentText),
		Border:     pick(pal.Border, def.Border),
	}
}

// validate checks a theme: colours well formed, text contrast at least
// MinContrast in both schemes (defaults filling what the theme leaves out), a
// safe font list and a known position. It returns the first problem as a
// *FieldError whose field starts with "theme.".
func (t *Theme) validate() error {
	switch t.Position {
	case "", PositionBar, PositionBottomLeft, PositionBottomRight:
	default:
		return &FieldError{Field: "theme.position", Msg: fmt.Sprintf("%q is not a position (%s, %s or %s)",
			t.Position, PositionBar, PositionBottomLeft, PositionBottomRight)}
	}
	if t.Font != "" {
		if err := checkFont(t.Font); err != "" {
			return &FieldError{Field: "theme.font", Msg: err}
		}
	}
	for _, s := range []struct {
		name     string
		pal, def Palette
	}{{"light", t.Light, DefaultLight}, {"dark", t.Dark, DefaultDark}} {
		if err := s.pal.validate("theme."+s.name, s.def); err != nil {
			return err
		}
	}
	return nil
}

// validate checks the colours of pal (fields named prefix+".background"…) and
// the contrast of every text colour the stylesheet draws on another colour.
func (pal Palette) validate(prefix string, def Palette) error {
	fields := []struct{ name, v string }{
		{"background", pal.Background}, {"text", pal.Text}, {"muted", pal.Muted},
		{"accent", pal.Accent}, {"accentText", pal.AccentText}, {"border", pal.Border},
	}
	for _, f := range fields {
		if _, ok := ParseColor(f.v); f.v != "" && !ok {
			return &FieldError{Field: prefix + "." + f.name, Msg: fmt.Sprintf("%q is not a colour: use #rgb or #rrggbb", f.v)}
		}
	}
	m := pal.Merged(def)
	color := func(v string) [3]float64 { c, _ := ParseColor(v); return c }
	// value says what a colour is: the theme's, or the default.
	value := func(themed, v string) string {
		if themed == "" {
			return "the default " + v
		}
		return v
	}
	bg, accent := color(m.Background), color(m.Accent)
	header := mix(accent, bg, TableHeaderTint)
	bgField, bgValue := prefix+".background", value(pal.Background, m.Background)
	for _, c := range []struct {
		field    string     // the text colour's field
		fg, bg   [3]float64 // the text and what it is on
		on       string     // what the text is on, in words
		fgV, bgV string     // their values, in words
	}{
		{"text", color(m.Text), bg, bgField, value(pal.Text, m.Text), bgValue},
		{"muted", color(m.Muted), bg, bgField, value(pal.Muted, m.Muted), bgValue},
		{"accent", accent, bg, bgField, value(pal.Accent, m.Accent), bgValue},
		{"accentText", color(m.AccentText), accent, prefix + ".accent", value(pal.AccentText, m.AccentText), value(pal.Accent, m.Accent)},
		{"text", color(m.Text), header, fmt.Sprintf("the cookie table's header (%d%% %s.accent in %s.background)",
			int(TableHeaderTint*100), prefix, prefix), value(pal.Text, m.Text), hex(header)},
	} {
		if r := Contrast(c.fg, c.bg); r < MinContrast {
			return &FieldError{Field: prefix + "." + c.field, Msg: fmt.Sprintf("contrast %s:1 with %s, WCAG AA needs %s:1 (%s on %s)",
				formatRatio(r), c.on, formatRatio(MinContrast), c.fgV, c.bgV)}
		}
	}
	return nil
}

// hex writes an sRGB colour as #rrggbb.
func hex(c [3]float64) string {
	return fmt.Sprintf("#%02x%02x%02x", int(math.Round(c[0]*255)), int(math.Round(c[1]*255)), int(math.Round(c[2]*255)))
}

// formatRatio writes a contrast ratio with at most two decimals, rounded
// down, so that a failing ratio never prints as the one required.
func formatRatio(r float64) string {
	return strconv.FormatFloat(math.Floor(r*100)/100, 'f', -1, 64)
}

// ParseColor parses "#rgb" or "#rrggbb" (hex digits in either case) into sRGB
// components in [0, 1]. It returns false for anything else, named colours and
// rgb() included.
func ParseColor(s string) ([3]float64, bool) {
	var c [3]float64
	if len(s) != 4 && len(s) != 7 || s[0] != '#' {
		return c, false
	}
	for i := range 3 {
		var part string
		if len(s) == 4 {
			part = strings.Repeat(s[1+i:2+i], 2)
		} else {
			part = s[1+2*i : 3+2*i]
		}
		v, err := strconv.ParseUint(part, 16, 8)
		if err != nil {
			return [3]float64{}, false
		}
		c[i] = float64(v) / 255
	}
	return c, true
}

// RelativeLuminance is the WCAG 2.x relative luminance of an sRGB colour
// (components in [0, 1]): 0 for black, 1 for white.
func RelativeLuminance(c [3]float64) float64 {
	lin := func(v float64) float64 {
		if v <= 0.04045 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c[0]) + 0.7152*lin(c[1]) + 0.0722*lin(c[2])
}

// Contrast is the WCAG 2.x contrast ratio of two sRGB colours, from 1 (same
// luminance) to 21 (black and white); the order does not matter.
func Contrast(a, b [3]float64) float64 {
	la, lb := RelativeLuminance(a), RelativeLuminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// mix returns share of a with the rest of b, per sRGB component, as CSS
// color-mix(in srgb, a share, b) does (rounded to 8 bits, as browsers store it).
func mix(a, b [3]float64, share float64) [3]float64 {
	var c [3]float64
	for i := range c {
		c[i] = math.Round((a[i]*share+b[i]*(1-share))*255) / 255
	}
	return c
}

// maxFontLen bounds Theme.Font.
const maxFontLen = 200

// checkFont returns why s is not a safe CSS font-family list, or "". Only
// names are allowed, bare or quoted: nothing that could end the declaration or
// the rule (; { } < > \ and the like) or call a function.
func checkFont(s string) string {
	if len(s) > maxFontLen {
		return fmt.Sprintf("is %d bytes, more than %d", len(s), maxFontLen)
	}
	for i, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			return fmt.Sprintf("%q has an empty name in position %d", s, i+1)
		}
		if q := name[0]; q == '"' || q == '\'' {
			if len(name) < 3 || name[len(name)-1] != q {
				return fmt.Sprintf("%q: the quoted name %s is not closed", s, name)
			}
			name = name[1 : len(name)-1]
		}
		for _, r := range name {
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != ' ' && r != '-' && r != '_' {
				return fmt.Sprintf("%q: %q is not allowed in a font name (letters, digits, spaces, - and _, names separated by commas, optionally quoted)", s, r)
			}
		}
	}
	return ""
}

// rtlLanguages are the base languages written right to left.
var rtlLanguages = []string{"ar", "arc", "ckb", "dv", "fa", "he", "iw", "ji", "khw", "ks", "nqo", "ps", "sd", "syr", "ug", "ur", "yi"}

// rtlScripts are the ISO 15924 scripts written right to left.
var rtlScripts = []string{"adlm", "arab", "hebr", "mand", "nkoo", "rohg", "samr", "syrc", "thaa"}

// Dir returns the direction of text in the language of the BCP 47 tag lang:
// "rtl" for Arabic, Hebrew, Persian, Urdu and the other right-to-left languages
// or scripts (a script subtag decides: "az-Arab" is "rtl", "ar-Latn" "ltr"),
// "ltr" for every other tag, malformed or empty ones included.
func Dir(lang string) string {
	parts := strings.Split(strings.ToLower(lang), "-")
	if len(parts) > 1 && len(parts[1]) == 4 {
		if slices.Contains(rtlScripts, parts[1]) {
			return "rtl"
		}
		return "ltr"
	}
	if slices.Contains(rtlLanguages, parts[0]) {
		return "rtl"
	}
	return "ltr"
}
