package catalogue

import (
	"strings"

	"github.com/portalconsent/portalconsent/policy"
)

// paletteProperties maps the colours of a policy.Palette to the custom
// properties of web/banner.css.
var paletteProperties = []struct {
	name  string
	value func(policy.Palette) string
}{
	{"--pc-bg", func(p policy.Palette) string { return p.Background }},
	{"--pc-fg", func(p policy.Palette) string { return p.Text }},
	{"--pc-muted", func(p policy.Palette) string { return p.Muted }},
	{"--pc-accent", func(p policy.Palette) string { return p.Accent }},
	{"--pc-accent-fg", func(p policy.Palette) string { return p.AccentText }},
	{"--pc-border", func(p policy.Palette) string { return p.Border }},
}

// boxProperties place the banner in a bottom corner (see web/banner.css):
// the side of that corner gets --pc-box-gap, the other auto.
const boxProperties = "--pc-banner-width:var(--pc-box-width);--pc-banner-border:1px 1px 0;" +
	"--pc-banner-radius:var(--pc-radius) var(--pc-radius) 0 0;"

// ThemeCSS returns the stylesheet of a portal's theme, to follow web/banner.css:
// the custom properties it sets (colours for light, then under
// prefers-color-scheme: dark, the font, the position's geometry), or "" for a
// nil theme or one that sets nothing. t must have passed Policy.Validate: the
// font is written as it is (validation allows only a plain font-family list);
// a colour that is not #rgb or #rrggbb is left out.
func ThemeCSS(t *policy.Theme) string {
	if t == nil {
		return ""
	}
	root := palette(t.Light)
	if t.Font != "" {
		root += "--pc-font:" + t.Font + ";"
	}
	switch t.Position {
	case policy.PositionBottomLeft:
		root += "--pc-banner-left:var(--pc-box-gap);--pc-banner-right:auto;" + boxProperties
	case policy.PositionBottomRight:
		root += "--pc-banner-left:auto;--pc-banner-right:var(--pc-box-gap);" + boxProperties
	}
	var b strings.Builder
	if root != "" {
		b.WriteString(":root,.pc-root{" + root + "}")
	}
	if dark := palette(t.Dark); dark != "" {
		b.WriteString("@media (prefers-color-scheme:dark){:root,.pc-root{" + dark + "}}")
	}
	return b.String()
}

// palette returns the declarations of the colours p sets.
func palette(p policy.Palette) string {
	var b strings.Builder
	for _, prop := range paletteProperties {
		v := prop.value(p)
		if _, ok := policy.ParseColor(v); ok {
			b.WriteString(prop.name + ":" + strings.ToLower(v) + ";")
		}
	}
	return b.String()
}

// SchemeCSS returns a rule giving the elements matching selector the colours
// of theme t (nil: the defaults) in its dark scheme, or its light one,
// complete (the defaults of web/banner.css filling what t leaves out), and
// its font, whatever the reader's own scheme: the console's preview shows
// both schemes at once. t must have passed Policy.Validate, as for ThemeCSS.
func SchemeCSS(t *policy.Theme, selector string, dark bool) string {
	def, pal, font := policy.DefaultLight, policy.Palette{}, ""
	if dark {
		def = policy.DefaultDark
	}
	if t != nil {
		pal, font = t.Light, t.Font
		if dark {
			pal = t.Dark
		}
	}
	decl := palette(pal.Merged(def))
	if font != "" {
		decl += "--pc-font:" + font + ";"
	}
	return selector + "{" + decl + "}"
}
