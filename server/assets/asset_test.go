package assets

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/andybalholm/brotli"
)

// Fake assets: small, so that the tests stay fast. The wasm starts with the
// real magic number and is long enough to compress.
var (
	fakeEmbedJS = []byte("/* fake loader */\nconsole.log('embed', \"UI_PATH\", \"UI_SRI\");\n")
	fakeCSS     = []byte("/* fake stylesheet */\n.pc-page {\n  margin: 0px;\n}\n")
	fakeWasm    = append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Repeat([]byte("fake wasm module "), 64)...)
)

// The fake loader and stylesheet minified (TestMinified checks they shrink).
var (
	fakeEmbedJSMin = mustMinify("text/javascript", fakeEmbedJS)
	fakeCSSMin     = mustMinify("text/css", fakeCSS)
)

func mustMinify(mediatype string, src []byte) []byte {
	out, err := Minify(mediatype, src)
	if err != nil {
		panic(fmt.Sprintf("minifying %s %q: %v", mediatype, src, err))
	}
	return out
}

// decode returns body decoded from the content encoding enc.
func decode(enc string, body []byte) ([]byte, error) {
	switch enc {
	case "br":
		return io.ReadAll(brotli.NewReader(bytes.NewReader(body)))
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	}
	return nil, fmt.Errorf("unknown encoding %q", enc)
}

func TestLoadAsset(t *testing.T) {
	prebuiltBr, _ := compressBrotli(fakeWasm)
	prebuiltGz, _ := compressGzip(fakeWasm)
	prebuiltBr = append([]byte(nil), prebuiltBr...)
	fsys := fstest.MapFS{
		"dist/app.wasm":    {Data: fakeWasm},
		"dist/app.wasm.br": {Data: prebuiltBr},
		"dist/app.wasm.gz": {Data: prebuiltGz},
		"embed.js":         {Data: fakeEmbedJS},
	}
	wasm, err := Load(fsys, "dist/app.wasm", "application/wasm", true)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^/assets/app\.[0-9a-f]{16}\.wasm$`).MatchString(wasm.Name) || !wasm.immutable {
		t.Errorf("hashed asset: name %q, immutable %v", wasm.Name, wasm.immutable)
	}
	if hash := strings.Split(wasm.Name, ".")[1]; wasm.ETag != `"`+hash+`"` {
		t.Errorf("ETag %s is not the hash in the name %s", wasm.ETag, wasm.Name)
	}
	if !bytes.Equal(wasm.br, prebuiltBr) || !bytes.Equal(wasm.gz, prebuiltGz) {
		t.Errorf("the precompressed variants in the FS were not used: br %q, gz %q", wasm.br, wasm.gz)
	}

	for _, stale := range []string{"dist/app.wasm.br", "dist/app.wasm.gz"} {
		bad := fstest.MapFS{}
		for k, v := range fsys {
			bad[k] = v
		}
		bad[stale] = &fstest.MapFile{Data: []byte("stale bytes")}
		if _, err := Load(bad, "dist/app.wasm", "application/wasm", true); err == nil || !strings.Contains(err.Error(), "make build") {
			t.Errorf("stale %s: err = %v, want a refusal naming make build", stale, err)
		}
	}

	js, err := Load(fsys, "embed.js", "text/javascript; charset=utf-8", false)
	if err != nil {
		t.Fatal(err)
	}
	if js.Name != "/embed.js" || js.immutable {
		t.Errorf("unhashed asset: name %q, immutable %v", js.Name, js.immutable)
	}
	for enc, b := range map[string][]byte{"br": js.br, "gzip": js.gz} {
		if got, err := decode(enc, b); err != nil || !bytes.Equal(got, fakeEmbedJS) {
			t.Errorf("%s compressed at load: %q, %v", enc, got, err)
		}
	}

	other := append([]byte("\x00asm\x01\x00\x00\x00"), "other"...)
	fsys = fstest.MapFS{"dist/app.wasm": {Data: other}}
	wasm2, err := Load(fsys, "dist/app.wasm", "application/wasm", true)
	if err != nil {
		t.Fatal(err)
	}
	if wasm2.Name == wasm.Name || wasm2.ETag == wasm.ETag {
		t.Errorf("a different content kept the name %s and ETag %s", wasm.Name, wasm.ETag)
	}

	if _, err := Load(fsys, "dist/nope.wasm", "application/wasm", true); err == nil || !strings.Contains(err.Error(), "make build") {
		t.Errorf("missing file: error %v, want one mentioning `make build`", err)
	}
}

// TestNewAsset checks the naming, caching and compression of an asset made
// from bytes in memory.
func TestNewAsset(t *testing.T) {
	raw := []byte(`{"some":"json","more":"json json json json json"}`)
	a, err := New("config.json", raw, "application/json", false, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "/config.json" || a.immutable || a.MaxAge != DefaultMaxAge || a.contentType != "application/json" {
		t.Errorf("unhashed asset: name %q, immutable %v, maxAge %d, type %q", a.Name, a.immutable, a.MaxAge, a.contentType)
	}
	if !regexp.MustCompile(`^"[0-9a-f]{16}"$`).MatchString(a.ETag) {
		t.Errorf("ETag = %q, want a quoted 16-digit hash", a.ETag)
	}
	if !bytes.Equal(a.Raw, raw) {
		t.Errorf("raw = %q, want %q", a.Raw, raw)
	}
	for enc, b := range map[string][]byte{"br": a.br, "gzip": a.gz} {
		if got, err := decode(enc, b); err != nil || !bytes.Equal(got, raw) {
			t.Errorf("%s compressed by newAsset: %q, %v", enc, got, err)
		}
	}

	h, err := New("dir/banner.css", fakeCSSMin, "text/css; charset=utf-8", true, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^/assets/banner\.([0-9a-f]{16})\.css$`).FindStringSubmatch(h.Name)
	if m == nil || !h.immutable {
		t.Fatalf("hashed asset: name %q, immutable %v", h.Name, h.immutable)
	}
	if h.ETag != `"`+m[1]+`"` {
		t.Errorf("ETag %s is not the hash in the name %s", h.ETag, h.Name)
	}
	if same, _ := New("banner.css", append([]byte(nil), fakeCSSMin...), "text/css; charset=utf-8", true, nil, nil); same.Name != h.Name {
		t.Errorf("the same content got another name: %s, then %s", h.Name, same.Name)
	}
	if other, _ := New("banner.css", []byte(".x{}"), "text/css; charset=utf-8", true, nil, nil); other.Name == h.Name || other.ETag == h.ETag {
		t.Errorf("another content kept the name %s and ETag %s", h.Name, h.ETag)
	}

	// Given variants are served as they are, not recompressed.
	br, gz := []byte("given br"), []byte("given gz")
	g, err := New("embed.js", raw, "text/javascript; charset=utf-8", false, br, gz)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g.br, br) || !bytes.Equal(g.gz, gz) {
		t.Errorf("given variants not kept: br %q, gz %q", g.br, g.gz)
	}
}

// TestMinified checks the loader and the stylesheet are held minified, named
// after the minified content, and that a source that is missing or does not
// parse is refused with an error naming it.
func TestMinified(t *testing.T) {
	fsys := fstest.MapFS{
		"embed.js":   {Data: fakeEmbedJS},
		"banner.css": {Data: fakeCSS},
		"bad.js":     {Data: []byte("function (")},
	}
	js, err := Minified(fsys, "embed.js", "text/javascript; charset=utf-8", false)
	if err != nil {
		t.Fatal(err)
	}
	if js.Name != "/embed.js" || js.immutable || js.MaxAge != DefaultMaxAge || js.contentType != "text/javascript; charset=utf-8" {
		t.Errorf("embed.js: name %q, immutable %v, maxAge %d, type %q", js.Name, js.immutable, js.MaxAge, js.contentType)
	}
	if !bytes.Equal(js.Raw, fakeEmbedJSMin) {
		t.Errorf("embed.js raw = %q, want the minified %q", js.Raw, fakeEmbedJSMin)
	}
	for enc, b := range map[string][]byte{"br": js.br, "gzip": js.gz} {
		if got, err := decode(enc, b); err != nil || !bytes.Equal(got, fakeEmbedJSMin) {
			t.Errorf("embed.js: the %s variant is %q, %v; want the minified loader", enc, got, err)
		}
	}

	css, err := Minified(fsys, "banner.css", "text/css; charset=utf-8", true)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(css.Raw, fakeCSSMin) {
		t.Errorf("banner.css raw = %q, want the minified %q", css.Raw, fakeCSSMin)
	}
	sum := sha256.Sum256(fakeCSSMin)
	if hash := hex.EncodeToString(sum[:])[:16]; css.Name != "/assets/banner."+hash+".css" || css.ETag != `"`+hash+`"` || !css.immutable {
		t.Errorf("banner.css: name %q, ETag %s, immutable %v; want the hash %s of the minified content", css.Name, css.ETag, css.immutable, hash)
	}

	for _, tt := range []struct {
		file, contentType string
		want              []string
		notExist          bool
	}{
		{"bad.js", "text/javascript; charset=utf-8", []string{"asset bad.js", "minifying"}, false},
		{"nope.js", "text/javascript; charset=utf-8", []string{"asset nope.js: open nope.js: file does not exist"}, true},
	} {
		a, err := Minified(fsys, tt.file, tt.contentType, false)
		if err == nil {
			t.Errorf("Minified(%s) = %q, want an error", tt.file, a.Raw)
			continue
		}
		for _, want := range tt.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Minified(%s): error %q lacks %q", tt.file, err, want)
			}
		}
		if tt.notExist != errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Minified(%s): error %v wraps fs.ErrNotExist: %v, want %v", tt.file, err, !tt.notExist, tt.notExist)
		}
		if strings.Contains(err.Error(), "make build") {
			t.Errorf("Minified(%s): error %q sends to `make build` for a source file", tt.file, err)
		}
	}
}

func TestAcceptedEncoding(t *testing.T) {
	tests := []struct {
		header string
		want   string
	}{
		{"", ""},
		{"identity", ""},
		{"br", "br"},
		{"gzip", "gzip"},
		{"br, gzip", "br"},
		{"gzip, br", "br"},
		{"gzip, deflate, br, zstd", "br"},
		{"Gzip", "gzip"},
		{"BR", "br"},
		{"gzip, br;q=0", "gzip"},
		{"br;q=0, gzip", "gzip"},
		{"br; q=0, gzip", "gzip"},
		{"br;q=0.0, gzip", "gzip"},
		{"br;q=0.000, gzip", "gzip"},
		{"br;q=0., gzip", "gzip"},  // qvalue = "0" [ "." 0*3DIGIT ]
		{"br;Q=0, gzip", "gzip"},   // "q" is case-insensitive (ABNF literal)
		{"br;q=0.001, gzip", "br"}, // small but not refused
		{"br;q=0.5, gzip", "br"},   // preference among acceptable ones is the server's
		{"gzip;q=0, br;q=0", ""},   // both refused
		{"gzip;q=0", ""},           // refused
		{"br;q=1", "br"},           // accepted
		{"br;q=1.000", "br"},       // accepted
		{"br;q=0.5", "br"},         // accepted
		{"brotli", ""},             // not a coding name
		{"xbr, gzipx", ""},         // no prefix match
		{"deflate", ""},            // not served
		{" br ,gzip ", "br"},       // whitespace
		{",,br,", "br"},            // empty list elements
		{"x-gzip", ""},             // not served
	}
	for _, tt := range tests {
		if got := AcceptedEncoding(tt.header); got != tt.want {
			t.Errorf("AcceptedEncoding(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

func TestEtagMatch(t *testing.T) {
	const etag = `"0123456789abcdef"`
	tests := []struct {
		header string
		want   bool
	}{
		{"", false},
		{etag, true},
		{"W/" + etag, true},
		{" " + etag + " ", true},
		{`"other", ` + etag, true},
		{`"other",` + etag, true},
		{`W/"other", W/` + etag, true},
		{etag + `, "other"`, true},
		{"*", true},
		{`"other"`, false},
		{`W/"other"`, false},
		{`"other", "more"`, false},
		{`0123456789abcdef`, false},    // unquoted
		{`"0123456789abcde"`, false},   // a prefix
		{`"0123456789abcdef0"`, false}, // longer
		{`"0123456789ABCDEF"`, false},  // ETags are case-sensitive
		{`w/` + etag, false},           // "W/" is case-sensitive
		{`,`, false},
	}
	for _, tt := range tests {
		if got := ETagMatch(tt.header, etag); got != tt.want {
			t.Errorf("ETagMatch(%q, %s) = %v, want %v", tt.header, etag, got, tt.want)
		}
	}
}

// TestNewLazy: a lazy asset is named and tagged like an eager one of the
// same bytes, holds no variant until asked, and then serves the same
// brotli and gzip bytes to every request, concurrent ones included.
func TestNewLazy(t *testing.T) {
	raw := bytes.Repeat([]byte(`{"texts":"a configuration, long enough to compress"}`), 40)
	eager, err := New("config.json", raw, "application/json", false, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := NewLazy("config.json", raw, "application/json", false)
	if a.Name != eager.Name || a.ETag != eager.ETag || a.br != nil || a.gz != nil {
		t.Fatalf("lazy: %s %s, variants made at once: %v", a.Name, a.ETag, a.br != nil || a.gz != nil)
	}
	var wg sync.WaitGroup
	bodies := make([][]byte, 8)
	for i := range bodies {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/config.json", nil)
			req.Header.Set("Accept-Encoding", []string{"br", "gzip"}[i%2])
			a.ServeHTTP(rec, req)
			got, err := decode(rec.Header().Get("Content-Encoding"), rec.Body.Bytes())
			if err != nil || !bytes.Equal(got, raw) {
				t.Errorf("request %d: %q encoding does not decode to the content: %v", i, rec.Header().Get("Content-Encoding"), err)
			}
			bodies[i] = rec.Body.Bytes()
		})
	}
	wg.Wait()
	for i := 2; i < len(bodies); i++ {
		if !bytes.Equal(bodies[i], bodies[i%2]) {
			t.Errorf("request %d got other bytes than request %d", i, i%2)
		}
	}
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest("GET", "/config.json", nil))
	if rec.Header().Get("Content-Encoding") != "" || !bytes.Equal(rec.Body.Bytes(), raw) {
		t.Error("identity: not the raw content")
	}
}
