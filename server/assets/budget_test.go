package assets

import (
	"bytes"
	"testing"

	"github.com/portalconsent/portalconsent/web"
)

// loaderBrotliBudget is the performance budget of the loader: /embed.js, as
// served brotli-compressed, is at most 3 KiB (issue 13). It is all a
// returning visitor downloads: the codec, the language choice, and the rules
// that make a choice take effect (gated scripts, Consent Mode, the JS API,
// Manage cookies links, and which cookies a withdrawal clears). What only a
// first visit or a change needs is ui.js's (uiBrotliBudget): the banner, the
// frame, making receipts; clearing what a choice withdraws (cookies, web
// storage, IndexedDB), posting receipts and sending again those not
// acknowledged, and ADPC are beyond.js's (issues 20 and 21). embed.js carries
// ui.js's path and integrity value (about 70 characters of hashes that do
// not compress, which move its brotli size by ±10 bytes from one build of
// ui.js to the next); config.json names embeds.js and beyond.js.
const loaderBrotliBudget = 3072

// uiBrotliBudget bounds ui.js, as served brotli-compressed: 4 KiB. It was
// 3 KiB until it drew the server's banner in a shadow root of the page and
// made the frame only for the app (about 400 bytes), fetched the app on
// intent (about 70; once also after the page's load, at low priority), and took
// over clearing cookies from embed.js (about 190, since moved to beyond.js,
// with posting receipts: room for the undeclared web storage keys of the
// receipts and for keeping receipts until they are acknowledged).
const uiBrotliBudget = 4096

// embedsBrotliBudget bounds embeds.js (the embeds waiting for consent: it
// loads the accepted ones and shows placeholders for the others), as served
// brotli-compressed; loaded only on a page with such embeds.
const embedsBrotliBudget = 2048

// beyondBrotliBudget bounds beyond.js (clearing cookies, web storage and
// IndexedDB; posting receipts and keeping those not acknowledged; ADPC), as
// served brotli-compressed; loaded only on a change, when something must be
// cleared or a receipt is pending, or the browser offers ADPC.
const beyondBrotliBudget = 2048

// prefsBrotliBudget bounds prefs.js (the preferences and the policy dialog
// shown from dialogs.json before the app runs), as served
// brotli-compressed; loaded only when the visitor opens one of them before
// the app runs.
const prefsBrotliBudget = 2048

// TestLoaderBrotliSizeWithinBudget checks the real loader (web/embed.js,
// minified as served, with ui.js's and embeds.js's paths written in) and
// the scripts it loads compress with brotli within their budgets. It needs
// no `make build`: they are source files.
func TestLoaderBrotliSizeWithinBudget(t *testing.T) {
	fsys := web.Files()
	const js = "text/javascript; charset=utf-8"
	ui, err := Minified(fsys, "ui.js", js, true)
	if err != nil {
		t.Fatal(err)
	}
	embeds, err := Minified(fsys, "embeds.js", js, true)
	if err != nil {
		t.Fatal(err)
	}
	beyond, err := Minified(fsys, "beyond.js", js, true)
	if err != nil {
		t.Fatal(err)
	}
	prefs, err := Minified(fsys, "prefs.js", js, true)
	if err != nil {
		t.Fatal(err)
	}
	loader, err := Loader(fsys, ui)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []struct {
		name   string
		a      *Asset
		budget int
	}{
		{"/embed.js", loader, loaderBrotliBudget},
		{"ui.js", ui, uiBrotliBudget},
		{"embeds.js", embeds, embedsBrotliBudget},
		{"beyond.js", beyond, beyondBrotliBudget},
		{"prefs.js", prefs, prefsBrotliBudget},
	} {
		got, err := decode("br", b.a.br)
		if err != nil || !bytes.Equal(got, b.a.Raw) {
			t.Fatalf("the brotli variant of %s does not decode to it: %v", b.name, err)
		}
		t.Logf("%s: %d bytes minified, %d brotli, %d gzip", b.name, len(b.a.Raw), len(b.a.br), len(b.a.gz))
		if len(b.a.br) > b.budget {
			t.Errorf("%s is %d bytes brotli-compressed, over the budget of %d bytes", b.name, len(b.a.br), b.budget)
		}
	}
}
