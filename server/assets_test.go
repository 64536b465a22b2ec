package server

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func TestAssetEncoding(t *testing.T) {
	s := newFakeServer(t)
	assets := []struct {
		path string
		raw  []byte
	}{
		{"/embed.js", fakeEmbedJS},
		{s.wasm.name, fakeWasm},
		{s.wasmExec.name, fakeWasmExec},
		{s.css.name, fakeCSS},
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
	for _, path := range []string{"/embed.js", s.wasm.name} {
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
				if got := res.Header.Get("Cache-Control"); got == "" {
					t.Errorf("no Cache-Control")
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
	for _, path := range []string{"/embed.js", s.wasm.name} {
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
