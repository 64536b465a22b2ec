package server

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/portalconsent/portalconsent/server/assets"
)

func TestAssetEncoding(t *testing.T) {
	s := newFakeServer(t)
	_, mtranConfig := serve(t, s, "GET", "/portals/mtran/config.json", nil)
	_, twistoConfig := serve(t, s, "GET", "/portals/twisto/config.json", nil)
	assets := []struct {
		path string
		raw  []byte
	}{
		{"/embed.js", s.assets.EmbedJS.Raw},
		{s.assets.UI.Name, fakeUIJSMin},
		{s.assets.Wasm.Name, fakeWasm},
		{s.assets.WasmExec.Name, fakeWasmExec},
		{s.assets.CSS.Name, fakeCSSMin},
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
		s.assets.Wasm.Name:           "public, max-age=31536000, immutable",
		"/portals/mtran/config.json": "public, max-age=60, must-revalidate",
	}
	for _, path := range []string{"/embed.js", s.assets.Wasm.Name, "/portals/mtran/config.json"} {
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
	for _, path := range []string{"/embed.js", s.assets.Wasm.Name, "/portals/mtran/config.json"} {
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

// TestLoaderPinsTheUIScript checks the loader as served names the UI script
// by its content-hashed path and carries its integrity value, so that
// pinning embed.js (SRI) pins it; that config.json names the embeds and
// beyond scripts (loaded once it is there) likewise; and that they are
// served immutable, with CORS.
func TestLoaderPinsTheUIScript(t *testing.T) {
	s := newFakeServer(t)
	_, body := serve(t, s, "GET", "/embed.js", nil)
	for _, want := range []string{s.assets.UI.Name[1:], assets.ScriptSRI(fakeUIJSMin)} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/embed.js %q lacks %q", body, want)
		}
	}
	for _, p := range []string{"UI_PATH", "UI_SRI"} {
		if bytes.Contains(body, []byte(p)) {
			t.Errorf("/embed.js %q keeps the placeholder %s", body, p)
		}
	}
	_, cfg := serve(t, s, "GET", "/portals/mtran/config.json", nil)
	for _, want := range []string{s.assets.Embeds.Name[1:], assets.ScriptSRI(fakeEmbedsJSMin), s.assets.Beyond.Name[1:], assets.ScriptSRI(s.assets.Beyond.Raw)} {
		if !bytes.Contains(cfg, []byte(want)) {
			t.Errorf("config.json lacks %q", want)
		}
	}
	for _, a := range []struct{ file, prefix string }{{s.assets.UI.Name, "/assets/ui."}, {s.assets.Embeds.Name, "/assets/embeds."}, {s.assets.Beyond.Name, "/assets/beyond."}} {
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
