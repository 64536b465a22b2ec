package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func TestAssetEncoding(t *testing.T) {
	s := newFakeServer(t)
	_, mtranConfig := serve(t, s, "GET", "/portals/mtran/config.json", nil)
	_, twistoConfig := serve(t, s, "GET", "/portals/twisto/config.json", nil)
	assets := []struct {
		path string
		raw  []byte
	}{
		{"/embed.js", s.embedJS.raw},
		{s.ui.name, fakeUIJSMin},
		{s.wasm.name, fakeWasm},
		{s.wasmExec.name, fakeWasmExec},
		{s.css.name, fakeCSSMin},
		{"/portals/mtran/config.json", mtranConfig},
		{"/portals/twisto/config.json", twistoConfig},
	}
	tests := []struct {
		acceptEncoding string
		wantEncoding   string // "" is identity
	}{
		{"br", "br"},
		{"gzip", "gzip"},
		{"gzip, deflate, br, zstd", "br"}, // Chrome
		{"gzip, deflate, br", "br"},
		{"deflate, gzip", "gzip"},
		{"gzip, br;q=0", "gzip"},
		{"br;q=0, gzip", "gzip"},
		{"br;q=0.5, gzip;q=1.0", "br"}, // the server prefers brotli when both are acceptable
		{"gzip;q=0, br;q=0", ""},
		{"BR", "br"},
		{" gzip ; q=0.8 ", "gzip"},
		{"", ""},
		{"identity", ""},
		{"deflate", ""},
		{"zstd", ""},
	}
	for _, a := range assets {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%q", strings.TrimPrefix(a.path, "/"), tt.acceptEncoding), func(t *testing.T) {
				var h http.Header
				if tt.acceptEncoding != "" {
					h = http.Header{"Accept-Encoding": {tt.acceptEncoding}}
				}
				res, body := serve(t, s, "GET", a.path, h)
				if res.StatusCode != 200 {
					t.Fatalf("status %d, want 200", res.StatusCode)
				}
				if got := res.Header.Get("Content-Encoding"); got != tt.wantEncoding {
					t.Errorf("Content-Encoding = %q, want %q", got, tt.wantEncoding)
				}
				if got := res.Header.Get("Vary"); got != "Accept-Encoding" {
					t.Errorf("Vary = %q, want Accept-Encoding", got)
				}
				if got, want := res.Header.Get("Content-Length"), fmt.Sprint(len(body)); got != want {
					t.Errorf("Content-Length = %s, body has %s bytes", got, want)
				}
				if tt.wantEncoding != "" && bytes.Equal(body, a.raw) {
					t.Errorf("body is not %s-encoded", tt.wantEncoding)
				}
				decoded, err := decode(tt.wantEncoding, body)
				if err != nil {
					t.Fatalf("decoding the %q body: %v", tt.wantEncoding, err)
				}
				if !bytes.Equal(decoded, a.raw) {
					t.Errorf("decoded body = %q, want %q", decoded, a.raw)
				}
			})
		}
	}
}

func TestAssetConditional(t *testing.T) {
	s := newFakeServer(t)
	cacheControl := map[string]string{
		"/embed.js":                  "public, max-age=300, must-revalidate",
		s.wasm.name:                  "public, max-age=31536000, immutable",
		"/portals/mtran/config.json": "public, max-age=60, must-revalidate",
	}
	for _, path := range []string{"/embed.js", s.wasm.name, "/portals/mtran/config.json"} {
		res, _ := serve(t, s, "GET", path, nil)
		etag := res.Header.Get("ETag")
		if !regexp.MustCompile(`^"[0-9a-f]{16}"$`).MatchString(etag) {
			t.Fatalf("%s: ETag = %q, want a quoted 16-digit hash", path, etag)
		}
		other := `"0123456789abcdef"`
		tests := []struct {
			name        string
			method      string
			ifNoneMatch string
			encoding    string
			wantStatus  int
		}{
			{"no validator", "GET", "", "", 200},
			{"same ETag", "GET", etag, "", 304},
			{"same ETag, br", "GET", etag, "br", 304},
			{"same ETag, gzip", "GET", etag, "gzip", 304},
			{"weak form", "GET", "W/" + etag, "", 304},
			{"in a list", "GET", other + ", " + etag, "", 304},
			{"in a list without spaces", "GET", other + ",W/" + etag, "", 304},
			{"star", "GET", "*", "", 304},
			{"other ETag", "GET", other, "", 200},
			{"unquoted", "GET", strings.Trim(etag, `"`), "", 200},
			{"HEAD same ETag", "HEAD", etag, "", 304},
		}
		for _, tt := range tests {
			t.Run(strings.TrimPrefix(path, "/")+"/"+tt.name, func(t *testing.T) {
				h := http.Header{}
				if tt.ifNoneMatch != "" {
					h.Set("If-None-Match", tt.ifNoneMatch)
				}
				if tt.encoding != "" {
					h.Set("Accept-Encoding", tt.encoding)
				}
				res, body := serve(t, s, tt.method, path, h)
				if res.StatusCode != tt.wantStatus {
					t.Fatalf("status %d, want %d", res.StatusCode, tt.wantStatus)
				}
				if got := res.Header.Get("ETag"); got != etag {
					t.Errorf("ETag = %q, want %q", got, etag)
				}
				if got := res.Header.Get("Vary"); got != "Accept-Encoding" {
					t.Errorf("Vary = %q, want Accept-Encoding", got)
				}
				if got, want := res.Header.Get("Cache-Control"), cacheControl[path]; got != want {
					t.Errorf("Cache-Control = %q, want %q", got, want)
				}
				if got := res.Header.Get("Access-Control-Allow-Origin"); got != "*" {
					t.Errorf("Access-Control-Allow-Origin = %q, want *", got)
				}
				if tt.wantStatus == 304 {
					if len(body) != 0 {
						t.Errorf("304 with a %d-byte body", len(body))
					}
					if got := res.Header.Get("Content-Encoding"); got != "" {
						t.Errorf("304 with Content-Encoding %q", got)
					}
				} else if len(body) == 0 {
					t.Errorf("200 with no body")
				}
			})
		}
	}
}

func TestAssetHEAD(t *testing.T) {
	s := newFakeServer(t)
	for _, path := range []string{"/embed.js", s.wasm.name, "/portals/mtran/config.json"} {
		for _, enc := range []string{"br", "gzip", ""} {
			t.Run(fmt.Sprintf("%s/%q", strings.TrimPrefix(path, "/"), enc), func(t *testing.T) {
				h := http.Header{"Accept-Encoding": {enc}}
				get, getBody := serve(t, s, "GET", path, h)
				head, headBody := serve(t, s, "HEAD", path, h)
				if head.StatusCode != 200 {
					t.Fatalf("HEAD status %d, want 200", head.StatusCode)
				}
				if len(headBody) != 0 {
					t.Errorf("HEAD has a %d-byte body", len(headBody))
				}
				if got, want := head.Header.Get("Content-Length"), fmt.Sprint(len(getBody)); got != want {
					t.Errorf("HEAD Content-Length = %s, want that of GET, %s", got, want)
				}
				for _, k := range []string{"Content-Type", "Content-Encoding", "ETag", "Cache-Control", "Vary", "Access-Control-Allow-Origin", "X-Content-Type-Options"} {
					if g, h := get.Header.Get(k), head.Header.Get(k); g != h {
						t.Errorf("%s: GET %q, HEAD %q", k, g, h)
					}
				}
			})
		}
	}
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
	wasm, err := loadAsset(fsys, "dist/app.wasm", "application/wasm", true)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^/assets/app\.[0-9a-f]{16}\.wasm$`).MatchString(wasm.name) || !wasm.immutable {
		t.Errorf("hashed asset: name %q, immutable %v", wasm.name, wasm.immutable)
	}
	if hash := strings.Split(wasm.name, ".")[1]; wasm.etag != `"`+hash+`"` {
		t.Errorf("ETag %s is not the hash in the name %s", wasm.etag, wasm.name)
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
		if _, err := loadAsset(bad, "dist/app.wasm", "application/wasm", true); err == nil || !strings.Contains(err.Error(), "make build") {
			t.Errorf("stale %s: err = %v, want a refusal naming make build", stale, err)
		}
	}

	js, err := loadAsset(fsys, "embed.js", "text/javascript; charset=utf-8", false)
	if err != nil {
		t.Fatal(err)
	}
	if js.name != "/embed.js" || js.immutable {
		t.Errorf("unhashed asset: name %q, immutable %v", js.name, js.immutable)
	}
	for enc, b := range map[string][]byte{"br": js.br, "gzip": js.gz} {
		if got, err := decode(enc, b); err != nil || !bytes.Equal(got, fakeEmbedJS) {
			t.Errorf("%s compressed at load: %q, %v", enc, got, err)
		}
	}

	other := append([]byte("\x00asm\x01\x00\x00\x00"), "other"...)
	fsys = fstest.MapFS{"dist/app.wasm": {Data: other}}
	wasm2, err := loadAsset(fsys, "dist/app.wasm", "application/wasm", true)
	if err != nil {
		t.Fatal(err)
	}
	if wasm2.name == wasm.name || wasm2.etag == wasm.etag {
		t.Errorf("a different content kept the name %s and ETag %s", wasm.name, wasm.etag)
	}

	if _, err := loadAsset(fsys, "dist/nope.wasm", "application/wasm", true); err == nil || !strings.Contains(err.Error(), "make build") {
		t.Errorf("missing file: error %v, want one mentioning `make build`", err)
	}
}

// TestNewAsset checks the naming, caching and compression of an asset made
// from bytes in memory.
func TestNewAsset(t *testing.T) {
	raw := []byte(`{"some":"json","more":"json json json json json"}`)
	a, err := newAsset("config.json", raw, "application/json", false, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.name != "/config.json" || a.immutable || a.maxAge != defaultMaxAge || a.contentType != "application/json" {
		t.Errorf("unhashed asset: name %q, immutable %v, maxAge %d, type %q", a.name, a.immutable, a.maxAge, a.contentType)
	}
	if !regexp.MustCompile(`^"[0-9a-f]{16}"$`).MatchString(a.etag) {
		t.Errorf("ETag = %q, want a quoted 16-digit hash", a.etag)
	}
	if !bytes.Equal(a.raw, raw) {
		t.Errorf("raw = %q, want %q", a.raw, raw)
	}
	for enc, b := range map[string][]byte{"br": a.br, "gzip": a.gz} {
		if got, err := decode(enc, b); err != nil || !bytes.Equal(got, raw) {
			t.Errorf("%s compressed by newAsset: %q, %v", enc, got, err)
		}
	}

	h, err := newAsset("dir/banner.css", fakeCSSMin, "text/css; charset=utf-8", true, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^/assets/banner\.([0-9a-f]{16})\.css$`).FindStringSubmatch(h.name)
	if m == nil || !h.immutable {
		t.Fatalf("hashed asset: name %q, immutable %v", h.name, h.immutable)
	}
	if h.etag != `"`+m[1]+`"` {
		t.Errorf("ETag %s is not the hash in the name %s", h.etag, h.name)
	}
	if same, _ := newAsset("banner.css", append([]byte(nil), fakeCSSMin...), "text/css; charset=utf-8", true, nil, nil); same.name != h.name {
		t.Errorf("the same content got another name: %s, then %s", h.name, same.name)
	}
	if other, _ := newAsset("banner.css", []byte(".x{}"), "text/css; charset=utf-8", true, nil, nil); other.name == h.name || other.etag == h.etag {
		t.Errorf("another content kept the name %s and ETag %s", h.name, h.etag)
	}

	// Given variants are served as they are, not recompressed.
	br, gz := []byte("given br"), []byte("given gz")
	g, err := newAsset("embed.js", raw, "text/javascript; charset=utf-8", false, br, gz)
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
	js, err := minified(fsys, "embed.js", "text/javascript; charset=utf-8", false)
	if err != nil {
		t.Fatal(err)
	}
	if js.name != "/embed.js" || js.immutable || js.maxAge != defaultMaxAge || js.contentType != "text/javascript; charset=utf-8" {
		t.Errorf("embed.js: name %q, immutable %v, maxAge %d, type %q", js.name, js.immutable, js.maxAge, js.contentType)
	}
	if !bytes.Equal(js.raw, fakeEmbedJSMin) {
		t.Errorf("embed.js raw = %q, want the minified %q", js.raw, fakeEmbedJSMin)
	}
	for enc, b := range map[string][]byte{"br": js.br, "gzip": js.gz} {
		if got, err := decode(enc, b); err != nil || !bytes.Equal(got, fakeEmbedJSMin) {
			t.Errorf("embed.js: the %s variant is %q, %v; want the minified loader", enc, got, err)
		}
	}

	css, err := minified(fsys, "banner.css", "text/css; charset=utf-8", true)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(css.raw, fakeCSSMin) {
		t.Errorf("banner.css raw = %q, want the minified %q", css.raw, fakeCSSMin)
	}
	sum := sha256.Sum256(fakeCSSMin)
	if hash := hex.EncodeToString(sum[:])[:16]; css.name != "/assets/banner."+hash+".css" || css.etag != `"`+hash+`"` || !css.immutable {
		t.Errorf("banner.css: name %q, ETag %s, immutable %v; want the hash %s of the minified content", css.name, css.etag, css.immutable, hash)
	}

	for _, tt := range []struct {
		file, contentType string
		want              []string
		notExist          bool
	}{
		{"bad.js", "text/javascript; charset=utf-8", []string{"asset bad.js", "minifying"}, false},
		{"nope.js", "text/javascript; charset=utf-8", []string{"asset nope.js: open nope.js: file does not exist"}, true},
	} {
		a, err := minified(fsys, tt.file, tt.contentType, false)
		if err == nil {
			t.Errorf("minified(%s) = %q, want an error", tt.file, a.raw)
			continue
		}
		for _, want := range tt.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("minified(%s): error %q lacks %q", tt.file, err, want)
			}
		}
		if tt.notExist != errors.Is(err, fs.ErrNotExist) {
			t.Errorf("minified(%s): error %v wraps fs.ErrNotExist: %v, want %v", tt.file, err, !tt.notExist, tt.notExist)
		}
		if strings.Contains(err.Error(), "make build") {
			t.Errorf("minified(%s): error %q sends to `make build` for a source file", tt.file, err)
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
		if got := acceptedEncoding(tt.header); got != tt.want {
			t.Errorf("acceptedEncoding(%q) = %q, want %q", tt.header, got, tt.want)
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
		if got := etagMatch(tt.header, etag); got != tt.want {
			t.Errorf("etagMatch(%q, %s) = %v, want %v", tt.header, etag, got, tt.want)
		}
	}
}

// TestLoaderPinsTheUIScript checks the loader as served names the UI script
// and the embeds script by their content-hashed paths and carries their
// integrity values, so that pinning embed.js (SRI) pins both; and that they
// are served immutable, with CORS.
func TestLoaderPinsTheUIScript(t *testing.T) {
	s := newFakeServer(t)
	_, body := serve(t, s, "GET", "/embed.js", nil)
	for _, want := range []string{s.ui.name[1:], scriptSRI(fakeUIJSMin), s.embeds.name[1:], scriptSRI(fakeEmbedsJSMin)} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/embed.js %q lacks %q", body, want)
		}
	}
	for _, p := range []string{"UI_PATH", "UI_SRI", "EMBEDS_PATH", "EMBEDS_SRI"} {
		if bytes.Contains(body, []byte(p)) {
			t.Errorf("/embed.js %q keeps the placeholder %s", body, p)
		}
	}
	for _, a := range []struct{ file, prefix string }{{s.ui.name, "/assets/ui."}, {s.embeds.name, "/assets/embeds."}} {
		if !strings.HasPrefix(a.file, a.prefix) || !strings.HasSuffix(a.file, ".js") {
			t.Errorf("served as %q, want %s<hash>.js", a.file, a.prefix)
		}
		res, _ := serve(t, s, "GET", a.file, nil)
		if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("%s: Cache-Control %q, want immutable", a.file, cc)
		}
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("%s: Access-Control-Allow-Origin %q: the loader fetches it with integrity, in CORS mode", a.file, got)
		}
	}
}
