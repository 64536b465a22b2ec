// Package web holds the static assets the host server embeds: the loader
// embed.js, the UI script ui.js and the embeds' placeholder script embeds.js
// it loads on demand (and beyond.js; prefs.js, which ui.js loads), and the stylesheet
// (sources here), and the build outputs in dist/
// (the WebAssembly app, Go's wasm_exec.js and brotli/gzip variants), which
// `make build` writes and which are not committed.
package web

import (
	"embed"
	"io/fs"
)

//go:embed embed.js ui.js embeds.js beyond.js prefs.js banner.css console.css all:dist
var files embed.FS

// Files returns the assets: embed.js, ui.js, embeds.js, beyond.js, prefs.js, banner.css, console.css (the
// operator console's own rules), and dist/ (app.wasm,
// wasm_exec.js and their .br and .gz variants once built).
func Files() fs.FS { return files }
