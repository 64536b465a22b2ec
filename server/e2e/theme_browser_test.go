package e2e

import (
	"fmt"
	"math"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/servertest"
)

// cssRGB returns how a browser serializes the computed value of a #rgb or
// #rrggbb colour: "rgb(r, g, b)".
func cssRGB(t testing.TB, hex string) string {
	t.Helper()
	c, ok := policy.ParseColor(hex)
	if !ok {
		t.Fatalf("%q is not a colour", hex)
	}
	return fmt.Sprintf("rgb(%d, %d, %d)", int(math.Round(c[0]*255)), int(math.Round(c[1]*255)), int(math.Round(c[2]*255)))
}

// themedPolicy returns a copy of the mtran policy under another id, with
// the given theme, offered in the one language lang (its built-in texts).
func themedPolicy(t testing.TB, id, lang string, theme *policy.Theme) *policy.Policy {
	t.Helper()
	p, ok := servertest.CopyOf(t, harness.Policies[0]).In(lang)
	if !ok {
		t.Fatalf("mtran has no policy in %q", lang)
	}
	p.ID, p.Theme = id, theme
	return p
}

// frameStyles are computed styles of the banner in the consent frame.
type frameStyles struct {
	BannerBg, BannerFg, TextFg   string
	AcceptBg, AcceptFg           string
	CustomizeBg, CustomizeFg     string
	CustomizeBorder, PolicyColor string
	Font                         string
}

const frameStylesJS = `(() => { const s = (sel) => w.getComputedStyle(d.querySelector(sel));
	return {BannerBg: s(".pc-banner").backgroundColor, BannerFg: s(".pc-banner").color,
		TextFg: s(".pc-text").color,
		AcceptBg: s("#pc-accept").backgroundColor, AcceptFg: s("#pc-accept").color,
		CustomizeBg: s("#pc-customize").backgroundColor, CustomizeFg: s("#pc-customize").color,
		CustomizeBorder: s("#pc-customize").borderTopColor, PolicyColor: s("#pc-policy").color,
		Font: s(".pc-root").fontFamily}; })()`

// TestBrowserThemeColours: the banner's computed colours are the theme's
// (twisto) or the defaults (mtran), in light and in dark, before the app and
// after it took over; the theme's font applies.
func TestBrowserThemeColours(t *testing.T) {
	twisto := harness.Policies[1]
	if twisto.ID != "twisto" || twisto.Theme == nil {
		t.Fatal("the twisto default policy has no theme")
	}
	for _, tt := range []struct {
		portal string
		theme  *policy.Theme
		font   string
	}{
		{"twisto", twisto.Theme, twisto.Theme.Font},
		{"mtran", &policy.Theme{}, `system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif`},
	} {
		for _, scheme := range []string{"light", "dark"} {
			t.Run(tt.portal+"/"+scheme, func(t *testing.T) {
				pal := tt.theme.Light.Merged(policy.DefaultLight)
				if scheme == "dark" {
					pal = tt.theme.Dark.Merged(policy.DefaultDark)
				}
				want := frameStyles{
					BannerBg: cssRGB(t, pal.Background), BannerFg: cssRGB(t, pal.Text), TextFg: cssRGB(t, pal.Muted),
					AcceptBg: cssRGB(t, pal.Accent), AcceptFg: cssRGB(t, pal.AccentText),
					CustomizeBg: cssRGB(t, pal.Background), CustomizeFg: cssRGB(t, pal.Accent),
					CustomizeBorder: cssRGB(t, pal.Accent), PolicyColor: cssRGB(t, pal.Accent),
					Font: tt.font,
				}
				h := harness.StartHosts(t)
				tb := newTab(t)
				tb.Run(harness.EmulateMedia(map[string]string{"prefers-color-scheme": scheme}),
					chromedp.Navigate(h.PortalURL("plain.html", "portal="+tt.portal)))
				tb.WaitBanner()
				for _, when := range []string{"server banner", "app"} {
					if when == "app" {
						tb.WaitApp()
					}
					var got frameStyles
					tb.Eval(harness.InFrame(frameStylesJS), &got)
					if got != want {
						t.Errorf("%s: computed styles\n got %+v\nwant %+v", when, got, want)
					}
				}
				tb.NoErrors()
			})
		}
	}
}

// bannerBox is where the banner and the frame are, in the portal's viewport.
type bannerBox struct {
	Left, Right, Bottom, Width, Height float64
	FrameTop, FrameHeight, FrameWidth  float64
	ViewWidth, ViewHeight              float64
	BorderLeft, BorderBottom, Radius   string
}

const bannerBoxJS = `(() => { const r = f.getBoundingClientRect(), b = d.querySelector(".pc-banner").getBoundingClientRect(),
	s = w.getComputedStyle(d.querySelector(".pc-banner"));
	return {Left: r.left + b.left, Right: r.left + b.right, Bottom: r.top + b.bottom, Width: b.width, Height: b.height,
		FrameTop: r.top, FrameHeight: r.height, FrameWidth: r.width,
		ViewWidth: document.documentElement.clientWidth, ViewHeight: innerHeight,
		BorderLeft: s.borderLeftWidth, BorderBottom: s.borderBottomWidth, Radius: s.borderTopLeftRadius}; })()`

// TestBrowserThemeBox: a box position shows the banner as a box in that
// bottom corner (16px from the side, narrower than the viewport), and the
// frame is no higher than the box; the bar spans the viewport.
func TestBrowserThemeBox(t *testing.T) {
	left := themedPolicy(t, "boxleft", "en", &policy.Theme{Position: policy.PositionBottomLeft})
	for _, tt := range []struct {
		portal, position string
		width            int64
	}{
		{"twisto", policy.PositionBottomRight, 1200},
		{"boxleft", policy.PositionBottomLeft, 1200},
		{"twisto", policy.PositionBottomRight, 375},
		{"mtran", policy.PositionBar, 1200},
	} {
		t.Run(fmt.Sprintf("%s/%d", tt.portal, tt.width), func(t *testing.T) {
			h := harness.StartHosts(t, left)
			tb := newTab(t)
			tb.Run(chromedp.EmulateViewport(tt.width, 800), chromedp.Navigate(h.PortalURL("plain.html", "portal="+tt.portal)))
			tb.WaitBanner()
			tb.WaitApp()
			var b bannerBox
			tb.Eval(harness.InFrame(bannerBoxJS), &b)
			near := func(a, b float64) bool { return math.Abs(a-b) <= 1 }
			if !near(b.Bottom, b.ViewHeight) || !near(b.FrameTop+b.FrameHeight, b.ViewHeight) {
				t.Errorf("banner or frame not at the bottom: %+v", b)
			}
			// The frame covers the banner only: a bar spans the viewport, a box
			// leaves the page beside it usable (the frame is clipped to it).
			if tt.position != policy.PositionBar {
				var beside string
				x := map[string]string{policy.PositionBottomRight: "8", policy.PositionBottomLeft: "innerWidth - 8"}[tt.position]
				tb.Eval(`(document.elementFromPoint(`+x+`, innerHeight - 8) || {tagName: "none"}).tagName`, &beside)
				if beside == "IFRAME" {
					t.Errorf("beside the box, the consent frame covers the page: %+v", b)
				}
			}
			if !near(b.FrameHeight, b.Height) {
				t.Errorf("the frame is %vpx high for a banner of %vpx", b.FrameHeight, b.Height)
			}
			switch tt.position {
			case policy.PositionBar:
				if b.Left != 0 || !near(b.Right, b.ViewWidth) || b.BorderLeft != "0px" || b.Radius != "0px" {
					t.Errorf("the bar does not span the viewport: %+v", b)
				}
				return
			case policy.PositionBottomRight:
				if !near(b.Right, b.ViewWidth-16) {
					t.Errorf("box right edge at %v, want %v: %+v", b.Right, b.ViewWidth-16, b)
				}
			case policy.PositionBottomLeft:
				if !near(b.Left, 16) {
					t.Errorf("box left edge at %v, want 16: %+v", b.Left, b)
				}
			}
			wantWidth := math.Min(26*16, b.ViewWidth-32)
			if !near(b.Width, wantWidth) || b.Width >= b.ViewWidth {
				t.Errorf("box width %v, want %v (viewport %v)", b.Width, wantWidth, b.ViewWidth)
			}
			if b.BorderLeft != "1px" || b.BorderBottom != "0px" || b.Radius != "8px" {
				t.Errorf("box border %s, bottom %s, radius %s: want 1px, 0px, 8px", b.BorderLeft, b.BorderBottom, b.Radius)
			}
			// Buttons stay whole in the box.
			var clipped []string
			tb.Eval(harness.InFrame(`[...d.querySelectorAll(".pc-banner button")].filter(b => b.scrollWidth > b.clientWidth || b.scrollHeight > b.clientHeight + 1).map(b => b.id)`), &clipped)
			if len(clipped) > 0 {
				t.Errorf("buttons clip their text in the box: %q", clipped)
			}
			tb.NoErrors()
		})
	}
}

// TestBrowserRightToLeft: an Arabic policy renders dir="rtl", from the
// server's first paint to the app: text starts at the right, the buttons run
// from right to left, the preferences' close button sits top left; an
// English one runs left to right.
func TestBrowserRightToLeft(t *testing.T) {
	ar := themedPolicy(t, "arabic", "ar", nil)
	for _, tt := range []struct {
		portal, dir string
	}{{"arabic", "rtl"}, {"mtran", "ltr"}} {
		t.Run(tt.portal, func(t *testing.T) {
			h := harness.StartHosts(t, ar)
			tb := newTab(t)
			tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "portal="+tt.portal)))
			tb.WaitBanner()
			type layout struct {
				Dir, Align                               string
				Banner, Title, Accept, Reject, Customize [2]float64 // left, right
			}
			const layoutJS = `(() => { const x = (sel) => { const r = d.querySelector(sel).getBoundingClientRect(); return [r.left, r.right]; };
				return {Dir: w.getComputedStyle(d.querySelector(".pc-banner")).direction, Align: w.getComputedStyle(d.querySelector(".pc-text")).textAlign,
					Banner: x(".pc-banner"), Title: x(".pc-title"), Accept: x("#pc-accept"), Reject: x("#pc-reject"), Customize: x("#pc-customize")}; })()`
			for _, when := range []string{"server banner", "app"} {
				if when == "app" {
					tb.WaitApp()
				}
				var l layout
				tb.Eval(harness.InFrame(layoutJS), &l)
				if l.Dir != tt.dir || l.Align != "start" {
					t.Errorf("%s: direction %q, text-align %q; want %q, start", when, l.Dir, l.Align, tt.dir)
				}
				// The first button sits on the start side, 20px (the banner's
				// padding) from the banner's edge; the next ones follow.
				if tt.dir == "rtl" {
					if math.Abs(l.Banner[1]-20-l.Accept[1]) > 1 || !(l.Accept[0] > l.Reject[1]) || !(l.Reject[0] > l.Customize[1]) {
						t.Errorf("%s: buttons not mirrored: %+v", when, l)
					}
				} else if math.Abs(l.Banner[0]+20-l.Accept[0]) > 1 || !(l.Accept[1] < l.Reject[0]) || !(l.Reject[1] < l.Customize[0]) {
					t.Errorf("%s: buttons not left to right: %+v", when, l)
				}
			}
			var root struct{ Dir, Lang string }
			tb.Eval(harness.InFrame(`({Dir: d.querySelector(".pc-root").getAttribute("dir") || "", Lang: d.querySelector(".pc-root").lang})`), &root)
			if want := map[string]string{"rtl": "rtl", "ltr": ""}[tt.dir]; root.Dir != want {
				t.Errorf("root dir=%q, want %q", root.Dir, want)
			}
			// The preferences dialog: the close button on the end side.
			tb.OpenPreferences()
			var c struct{ Close, Dialog [2]float64 }
			tb.Eval(harness.InFrame(`(() => { const x = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.right]; };
				return {Close: x(d.getElementById("pc-close")), Dialog: x(d.querySelector("#pc-preferences"))}; })()`), &c)
			if tt.dir == "rtl" && math.Abs(c.Close[0]-c.Dialog[0]-12) > 1 || tt.dir == "ltr" && math.Abs(c.Dialog[1]-c.Close[1]-12) > 1 {
				t.Errorf("close button at %v in the dialog at %v (%s)", c.Close, c.Dialog, tt.dir)
			}
			tb.NoErrors()
		})
	}
}

// TestA11yAxeThemed runs axe-core (see TestA11yAxe) on the themed banner
// (twisto: its colours, the box) and on the right-to-left one, in light and
// dark, and on the preferences open over the twisto banner: no violation.
func TestA11yAxeThemed(t *testing.T) {
	src := harness.AxeSource(t)
	ar := themedPolicy(t, "arabic", "ar", nil)
	for _, portal := range []string{"twisto", "arabic"} {
		for _, scheme := range []string{"light", "dark"} {
			for _, state := range []string{"banner", "preferences"} {
				if portal == "arabic" && state == "preferences" {
					continue
				}
				t.Run(portal+"/"+scheme+"/"+state, func(t *testing.T) {
					h := harness.StartHosts(t, ar)
					tb := newTab(t)
					tb.Run(harness.EmulateMedia(map[string]string{"prefers-color-scheme": scheme}),
						chromedp.Navigate(h.PortalURL("plain.html", "portal="+portal)))
					tb.WaitBanner()
					tb.WaitApp()
					if state == "preferences" {
						tb.OpenPreferences()
					}
					for _, v := range tb.AxeFrame(src) {
						t.Errorf("axe violation: %v", v)
					}
					tb.NoErrors()
				})
			}
		}
	}
	t.Run("twisto/policy-page", func(t *testing.T) {
		h := harness.StartHosts(t)
		for _, scheme := range []string{"light", "dark"} {
			tb := newTab(t)
			tb.Run(harness.EmulateMedia(map[string]string{"prefers-color-scheme": scheme}), chromedp.Navigate(h.Consent.URL+"/portals/twisto/policy"))
			tb.WaitFor("the policy page", `document.querySelector(".pc-policy") !== null`)
			var bg string
			tb.Eval(`getComputedStyle(document.body).backgroundColor`, &bg)
			pal := map[string]policy.Palette{"light": harness.Policies[1].Theme.Light, "dark": harness.Policies[1].Theme.Dark}[scheme]
			if want := cssRGB(t, pal.Background); bg != want {
				t.Errorf("%s: the policy page's background is %s, want the theme's %s", scheme, bg, want)
			}
			for _, v := range tb.AxeTop(src) {
				t.Errorf("%s: axe violation: %v", scheme, v)
			}
			tb.NoErrors()
		}
	})
}
