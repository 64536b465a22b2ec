package server

import (
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

// minified reads a JavaScript or CSS source from fsys and holds it minified
// (comments and spaces removed, names shortened) as an asset. A file that is
// missing or does not parse is an error naming it.
func minified(fsys fs.FS, file, contentType string, hashed bool) (*asset, error) {
	src, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, fmt.Errorf("asset %s: %w", file, err)
	}
	mediatype, _, _ := strings.Cut(contentType, ";")
	out, err := minifier.Bytes(mediatype, src)
	if err != nil {
		return nil, fmt.Errorf("asset %s: minifying: %w", file, err)
	}
	return newAsset(file, out, contentType, hashed, nil, nil)
}
