package harness

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Settle waits until the banner's fonts are loaded and two frames have been
// painted since: what a screenshot then shows is laid out.
func (tb *Tab) Settle() {
	tb.T.Helper()
	tb.Run(chromedp.Evaluate(InFrame(`(d.fonts || document.fonts).ready.then(() => new Promise(r => w.requestAnimationFrame(() => w.requestAnimationFrame(() => r(true)))))`), nil, AwaitPromise))
}

// TakeoverChangesNothingVisible captures the server's banner, lets the wasm through
// (release), waits for the app and checks its banner has the same size and
// no visible change: no pixel's colour moves by more than 64 levels in a
// channel, and at most 1 pixel in 2,000 moves at all. The server's banner is
// drawn in the page and the app's in the frame: the anti-aliasing of a
// rounded corner at a fractional x (a button after a text of fractional
// width) comes out a few levels apart (27 pixels, by at most 53 levels, in
// the French banner); a moved text, border or colour changes far more. what
// names the two in the error. SHOT_DIR=DIR keeps both captures there when
// they differ.
func (tb *Tab) TakeoverChangesNothingVisible(release func(), what string) {
	tb.T.Helper()
	tb.Settle()
	before := tb.BannerShot()
	release()
	tb.WaitApp()
	tb.Settle()
	after := tb.BannerShot()
	if before.Bounds() != after.Bounds() {
		tb.T.Fatalf("the banner changed size: %v, then %v", before.Bounds(), after.Bounds())
	}
	differ, visible := 0, 0
	for y := before.Bounds().Min.Y; y < before.Bounds().Max.Y; y++ {
		for x := before.Bounds().Min.X; x < before.Bounds().Max.X; x++ {
			if d := colourDistance(before.At(x, y), after.At(x, y)); d > 64 {
				visible++
			} else if d > 0 {
				differ++
			}
		}
	}
	area := before.Bounds().Dx() * before.Bounds().Dy()
	if visible > 0 || (differ+visible)*2000 > area {
		tb.T.Errorf("between %s, %d pixels change visibly and %d more by anti-aliasing (of %d)", what, visible, differ, area)
		if dir := os.Getenv("SHOT_DIR"); dir != "" {
			for name, img := range map[string]image.Image{"before": before, "after": after} {
				var buf bytes.Buffer
				png.Encode(&buf, img)
				os.WriteFile(filepath.Join(dir, name+".png"), buf.Bytes(), 0o644)
			}
		}
	}
}

// colourDistance returns the largest difference of two colours' channels,
// in 8-bit levels.
func colourDistance(a, b color.Color) int {
	r1, g1, b1, a1 := a.RGBA()
	r2, g2, b2, a2 := b.RGBA()
	d := 0
	for _, p := range [][2]uint32{{r1, r2}, {g1, g2}, {b1, b2}, {a1, a2}} {
		v := int(p[0]>>8) - int(p[1]>>8)
		if v < 0 {
			v = -v
		}
		d = max(d, v)
	}
	return d
}

// BannerShot captures the viewport's area of the banner (with 30 pixels of
// the page above it: a shadow the banner cast there would show), as the
// server shows it in the page or as the app shows it in the frame.
func (tb *Tab) BannerShot() image.Image {
	tb.T.Helper()
	var r []float64
	tb.Eval(InFrame(`(() => { const o = f.getBoundingClientRect(), b = d.querySelector(".pc-banner").getBoundingClientRect();
		return [o.left + b.left, o.top + b.top - 30, b.width, b.height + 30]; })()`), &r)
	if len(r) != 4 {
		tb.T.Fatal("no banner to capture")
	}
	var buf []byte
	tb.Run(chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		buf, err = page.CaptureScreenshot().WithFormat(page.CaptureScreenshotFormatPng).
			WithClip(&page.Viewport{X: r[0], Y: r[1], Width: r[2], Height: r[3], Scale: 1}).Do(ctx)
		return err
	}))
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		tb.T.Fatal(err)
	}
	return img
}
