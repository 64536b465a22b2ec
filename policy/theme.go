package policy

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
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
	c, d := pal.colours(), def.colours()
	for i := range c {
		if c[i] == "" {
			c[i] = d[i]
		}
	}
	return Palette{c[0], c[1], c[2], c[3], c[4], c[5]}
}

// paletteFields are the JSON names of the colours of a Palette, in the order
// of Palette.colours.
var paletteFields = [6]string{"background", "text", "muted", "accent", "accentText", "border"}

// Indexes in Palette.colours.
const (
	background = iota
	text
	muted
	accent
	accentText
)

func (pal Palette) colours() [6]string {
	return [6]string{pal.Background, pal.Text, pal.Muted, pal.Accent, pal.AccentText, pal.Border}
}

// validate checks a theme: colours well formed, text contrast at least
// MinContrast in both schemes (defaults filling what the theme leaves out), a
// safe font list and a known position. It records each problem in ps, its
// field starting with "theme.".
func (t *Theme) validate(ps *problems) {
	switch t.Position {
	case "", PositionBar, PositionBottomLeft, PositionBottomRight:
	default:
		ps.add("theme.position", strconv.Quote(t.Position)+" is not a position ("+
			PositionBar+", "+PositionBottomLeft+" or "+PositionBottomRight+")")
	}
	if t.Font != "" {
		if err := checkFont(t.Font); err != "" {
			ps.add("theme.font", err)
		}
	}
	t.Light.validate("theme.light", DefaultLight, ps)
	t.Dark.validate("theme.dark", DefaultDark, ps)
}

// textPairs are the text colours web/banner.css draws on another colour, as
// indexes in Palette.colours; -1 stands for the header cells of the cookie
// table (Accent tinting Background).
var textPairs = [...][2]int{{text, background}, {muted, background}, {accent, background}, {accentText, accent}, {text, -1}}

// validate checks the colours of pal (fields named prefix+".background"…) and,
// when all can be read, the contrast of every text colour the stylesheet
// draws on another colour, def filling the colours pal leaves empty; it
// records each problem in ps.
func (pal Palette) validate(prefix string, def Palette, ps *problems) {
	given, merged := pal.colours(), pal.Merged(def).colours()
	var rgb [6][3]float64
	var desc [6]string // a colour in words: "#777" or "the default #ffffff"
	unreadable := false
	for i, v := range merged {
		var ok bool
		if rgb[i], ok = ParseColor(v); !ok {
			ps.add(prefix+"."+paletteFields[i], strconv.Quote(v)+" is not a colour: use #rgb or #rrggbb")
			unreadable = true
		}
		desc[i] = v
		if given[i] == "" {
			desc[i] = "the default " + v
		}
	}
	if unreadable {
		return // no contrast without the colours
	}
	var reported [6]bool // one problem per text colour: its first
	for _, pair := range textPairs {
		fg := pair[0]
		if reported[fg] {
			continue
		}
		var bg [3]float64
		var on, bgDesc string
		if pair[1] >= 0 {
			bg, on, bgDesc = rgb[pair[1]], prefix+"."+paletteFields[pair[1]], desc[pair[1]]
		} else {
			bg = mix(rgb[accent], rgb[background], TableHeaderTint)
			on = "the cookie table's header (" + strconv.Itoa(int(TableHeaderTint*100)) + "% " +
				prefix + ".accent in " + prefix + ".background)"
			bgDesc = hexColour(bg)
		}
		if r := Contrast(rgb[fg], bg); r < MinContrast {
			reported[fg] = true
			ps.add(prefix+"."+paletteFields[fg], "contrast "+formatRatio(r)+":1 with "+on+
				", WCAG AA needs "+formatRatio(MinContrast)+":1 ("+desc[fg]+" on "+bgDesc+")")
		}
	}
}

// hexColour writes an sRGB colour as #rrggbb.
func hexColour(c [3]float64) string {
	const digits = "0123456789abcdef"
	b := []byte("#")
	for _, v := range c {
		n := int(math.Round(v * 255))
		b = append(b, digits[n>>4], digits[n&15])
	}
	return string(b)
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
	var n [6]byte // the six hex digits' values
	for i := range n {
		j := 1 + i
		if len(s) == 4 {
			j = 1 + i/2 // #rgb is #rrggbb
		}
		switch d := s[j]; {
		case '0' <= d && d <= '9':
			n[i] = d - '0'
		case 'a' <= d && d <= 'f':
			n[i] = d - 'a' + 10
		case 'A' <= d && d <= 'F':
			n[i] = d - 'A' + 10
		default:
			return [3]float64{}, false
		}
	}
	for i := range c {
		c[i] = float64(n[2*i]<<4|n[2*i+1]) / 255
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
		return math.Exp(2.4 * math.Log((v+0.055)/1.055)) // (…)^2.4, without math.Pow (smaller wasm)
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
		return "is " + strconv.Itoa(len(s)) + " bytes, more than " + strconv.Itoa(maxFontLen)
	}
	for i, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			return strconv.Quote(s) + " has an empty name in position " + strconv.Itoa(i+1)
		}
		if q := name[0]; q == '"' || q == '\'' {
			if len(name) < 3 || name[len(name)-1] != q {
				return strconv.Quote(s) + ": the quoted name " + name + " is not closed"
			}
			name = name[1 : len(name)-1]
		}
		for _, r := range name {
			// Outside ASCII, CSS reads every character as part of a name;
			// C1 controls and invalid UTF-8 are refused all the same.
			if r >= 0xa0 && r != utf8.RuneError {
				continue
			}
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == ' ' || r == '-' || r == '_') {
				return strconv.Quote(s) + ": " + strconv.QuoteRune(r) + " is not allowed in a font name (letters, digits, spaces, - and _, names separated by commas, optionally quoted)"
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
