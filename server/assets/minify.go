package assets

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"io/fs"
	"strings"

	"github.com/tdewolff/minify/v2"
	"github.com/tdewolff/minify/v2/css"
	"github.com/tdewolff/minify/v2/js"
)

var minifier = func() *minify.M {
	m := minify.New()
	m.AddFunc("text/javascript", js.Minify)
	m.AddFunc("text/css", css.Minify)
	return m
}()

// Minify returns src, JavaScript ("text/javascript") or CSS ("text/css"),
// minified as the server serves it, or an error for a source that does not
// parse or another media type.
func Minify(mediatype string, src []byte) ([]byte, error) { return minifier.Bytes(mediatype, src) }

// Minified reads a JavaScript or CSS source from fsys and holds it minified
// (comments and spaces removed, names shortened) as an asset. A file that is
// missing or does not parse is an error naming it.
func Minified(fsys fs.FS, file, contentType string, hashed bool) (*Asset, error) {
	src, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, fmt.Errorf("asset %s: %w", file, err)
	}
	mediatype, _, _ := strings.Cut(contentType, ";")
	out, err := minifier.Bytes(mediatype, src)
	if err != nil {
		return nil, fmt.Errorf("asset %s: minifying: %w", file, err)
	}
	return New(file, out, contentType, hashed, nil, nil)
}

// Loader reads the loader (embed.js) from fsys, minified, with the path and
// the Subresource Integrity value of the UI script ui written in for its
// UI_PATH and UI_SRI placeholders (so a pinned embed.js pins ui.js, which it
// may load before the portal's configuration is there). The scripts loaded
// once the configuration is there (embeds.js, beyond.js) are named, with
// their integrity values, by config.json, as the wasm is. A placeholder
// missing, or present more than once, is an error.
func Loader(fsys fs.FS, ui *Asset) (*Asset, error) {
	src, err := fs.ReadFile(fsys, "embed.js")
	if err != nil {
		return nil, fmt.Errorf("asset embed.js: %w", err)
	}
	out, err := minifier.Bytes("text/javascript", src)
	if err != nil {
		return nil, fmt.Errorf("asset embed.js: minifying: %w", err)
	}
	for _, r := range []struct{ placeholder, value string }{
		{"UI_PATH", ui.Name[1:]},
		{"UI_SRI", ScriptSRI(ui.Raw)},
	} {
		if n := bytes.Count(out, []byte(r.placeholder)); n != 1 {
			return nil, fmt.Errorf("asset embed.js: %s appears %d times, want once", r.placeholder, n)
		}
		out = bytes.Replace(out, []byte(r.placeholder), []byte(r.value), 1)
	}
	return New("embed.js", out, "text/javascript; charset=utf-8", false, nil, nil)
}

// SRI returns the Subresource Integrity value of b: "sha384-<base64>".
func SRI(b []byte) string {
	sum := sha512.Sum384(b)
	return "sha384-" + base64.StdEncoding.EncodeToString(sum[:])
}

// ScriptSRI returns the Subresource Integrity value the loader pins ui.js
// with, and config.json embeds.js and beyond.js: "sha256-<base64>". SHA-256 is as good a pin as
// SHA-384 and its 44 characters, which brotli cannot shrink, keep the
// loader every returning visitor downloads 40 bytes smaller.
func ScriptSRI(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}
