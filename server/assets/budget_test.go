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
// frame, and sending receipts; clearing the cookies of refused categories
// and loading embeds is embeds.js's. embed.js carries
// two scripts' paths and integrity values (ui.js and embeds.js: about 140
// characters of hashes that do not compress, which move its brotli size by
// ±15 bytes from one build of ui.js to the next).
const loaderBrotliBudget = 3072

// uiBrotliBudget bounds ui.js, as served brotli-compressed. It was 3 KiB
// until it drew the server's banner in a shadow root of the page and made
// the frame only for the app (about 400 bytes), fetched the app once the
// page has loaded, at low priority, or on intent (about 150), and took over
// clearing cookies from embed.js (about 190): 4,096. It is 4,152 (56 bytes
// more) since it sends receipts with fetch, keeps those not acknowledged in
// cookies_preferences_pending and sends them again (about 240 bytes), and
// keeps the visitor's consent id, although clearing cookies moved out to
// embeds.js (181 bytes): the rest would fit only by moving the frame and
// the app's start-up into a script of their own. ui.js embeds no hash: its
// size changes only with its source.
const uiBrotliBudget = 4152

// embedsBrotliBudget bounds embeds.js (the embeds waiting for consent: it
// loads the accepted ones and shows placeholders for the others; and
// clearing the cookies of refused categories), as served
// brotli-compressed; loaded only on a page with such embeds or cookies to
// clear.
const embedsBrotliBudget = 2048

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
	loader, err := Loader(fsys, ui, embeds)
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
