package assets

import (
	"io/fs"
)

// Set is the consent host's own assets, read once at start.
type Set struct {
	EmbedJS *Asset // the loader, /embed.js (short cache)
	UI      *Asset // ui.js, loaded by embed.js when the banner or a dialog shows
	Embeds  *Asset // embeds.js, loaded by embed.js on a page with embeds waiting for consent
	// Beyond is beyond.js, loaded by embed.js when a choice clears cookies,
	// web storage or IndexedDB, or the browser offers ADPC.
	Beyond *Asset
	// Prefs is prefs.js, loaded by ui.js when the visitor opens the
	// preferences or the policy before the app runs.
	Prefs *Asset
	Wasm  *Asset
	// WasmExec is Go's JavaScript support for the wasm.
	WasmExec   *Asset
	CSS        *Asset // the banner's and the server's pages' stylesheet
	ConsoleCSS *Asset // the console pages' stylesheet, after CSS
	// SRI is the Subresource Integrity value of embed.js as served.
	SRI string
}

// LoadSet reads the assets from fsys (see package web): the scripts and
// stylesheets minified, the wasm and its runtime with their build-time
// brotli and gzip variants. A missing or stale file is an error that says
// to run `make build`.
func LoadSet(fsys fs.FS) (*Set, error) {
	s := &Set{}
	var err error
	const js, css = "text/javascript; charset=utf-8", "text/css; charset=utf-8"
	if s.UI, err = Minified(fsys, "ui.js", js, true); err != nil {
		return nil, err
	}
	if s.Embeds, err = Minified(fsys, "embeds.js", js, true); err != nil {
		return nil, err
	}
	if s.Beyond, err = Minified(fsys, "beyond.js", js, true); err != nil {
		return nil, err
	}
	if s.Prefs, err = Minified(fsys, "prefs.js", js, true); err != nil {
		return nil, err
	}
	if s.EmbedJS, err = Loader(fsys, s.UI); err != nil {
		return nil, err
	}
	s.SRI = SRI(s.EmbedJS.Raw)
	if s.CSS, err = Minified(fsys, "banner.css", css, true); err != nil {
		return nil, err
	}
	if s.ConsoleCSS, err = Minified(fsys, "console.css", css, true); err != nil {
		return nil, err
	}
	if s.Wasm, err = Load(fsys, "dist/app.wasm", "application/wasm", true); err != nil {
		return nil, err
	}
	if s.WasmExec, err = Load(fsys, "dist/wasm_exec.js", js, true); err != nil {
		return nil, err
	}
	return s, nil
}

// Static returns the assets served at fixed, content-hashed paths (all but
// the loader).
func (s *Set) Static() []*Asset {
	return []*Asset{s.UI, s.Embeds, s.Beyond, s.Prefs, s.Wasm, s.WasmExec, s.CSS, s.ConsoleCSS}
}
