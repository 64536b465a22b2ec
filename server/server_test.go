package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/andybalholm/brotli"
	"github.com/portalconsent/portalconsent/banner"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/assets"
	"github.com/portalconsent/portalconsent/server/catalogue"
	"github.com/portalconsent/portalconsent/web"
)

// Fake assets: small, so that tests not about the real build stay fast. The
// wasm starts with the real magic number and is long enough to compress. The
// loader and the stylesheet carry comments and spaces, so that their
// minification shows.
var (
	fakeEmbedJS  = []byte("/* fake loader */\nconsole.log('embed', \"UI_PATH\", \"UI_SRI\");\n")
	fakeUIJS     = []byte("/* fake UI */\nconsole.log('ui');\n")
	fakeEmbedsJS = []byte("/* fake embeds */\nconsole.log('embeds');\n")
	fakeBeyondJS = []byte("/* fake beyond */\nconsole.log('beyond');\n")
	fakePrefsJS  = []byte("/* fake prefs */\nconsole.log('prefs');\n")
	fakeCSS      = []byte("/* fake stylesheet */\n.pc-page {\n  margin: 0px;\n}\n")
	fakeWasm     = append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Repeat([]byte("fake wasm module "), 64)...)
	fakeWasmExec = []byte("/* fake wasm_exec */\nglobalThis.Go = class {};\n")
)

// The fake loader and stylesheet as the server serves them: minified by the
// package's own minifier (TestMinifiedFakes checks they did shrink).
var (
	fakeEmbedJSMin  = mustMinify("text/javascript", fakeEmbedJS)
	fakeUIJSMin     = mustMinify("text/javascript", fakeUIJS)
	fakeEmbedsJSMin = mustMinify("text/javascript", fakeEmbedsJS)
	// fakeEmbedJSServed is the fake loader with the fake UI script's
	// hashed path and integrity value written in.
	fakeEmbedJSServed = func() []byte {
		sum := sha256.Sum256(fakeUIJSMin)
		out := bytes.Replace(fakeEmbedJSMin, []byte("UI_PATH"), []byte("assets/ui."+hex.EncodeToString(sum[:])[:16]+".js"), 1)
		return bytes.Replace(out, []byte("UI_SRI"), []byte(assets.ScriptSRI(fakeUIJSMin)), 1)
	}()
	fakeCSSMin = mustMinify("text/css", fakeCSS)
)

func mustMinify(mediatype string, src []byte) []byte {
	out, err := assets.Minify(mediatype, src)
	if err != nil {
		panic(fmt.Sprintf("minifying %s %q: %v", mediatype, src, err))
	}
	return out
}

// TestMinifiedFakes checks the expectations the other tests derive from the
// minifier are really minified, not the sources passed through.
func TestMinifiedFakes(t *testing.T) {
	for _, f := range []struct {
		name     string
		src, min []byte
		token    string // survives minification
	}{
		{"embed.js", fakeEmbedJS, fakeEmbedJSMin, "console.log("},
		{"banner.css", fakeCSS, fakeCSSMin, ".pc-page{margin:0"},
	} {
		if len(f.min) >= len(f.src) {
			t.Errorf("%s: minified %q is not shorter than %q", f.name, f.min, f.src)
		}
		if !bytes.Contains(f.min, []byte(f.token)) {
			t.Errorf("%s: minified %q lacks %q", f.name, f.min, f.token)
		}
		if bytes.Contains(f.min, []byte("/*")) || bytes.Contains(f.min, []byte("\n")) {
			t.Errorf("%s: minified %q keeps a comment or a newline", f.name, f.min)
		}
	}
}

// fakeAssetsFS returns the six assets New needs, without precompressed
// variants (New compresses them).
func fakeAssetsFS() fstest.MapFS {
	return fstest.MapFS{
		"embed.js":          {Data: fakeEmbedJS},
		"ui.js":             {Data: fakeUIJS},
		"embeds.js":         {Data: fakeEmbedsJS},
		"beyond.js":         {Data: fakeBeyondJS},
		"prefs.js":          {Data: fakePrefsJS},
		"banner.css":        {Data: fakeCSS},
		"console.css":       {Data: []byte(".pc-console table{border-collapse:collapse}")},
		"dist/app.wasm":     {Data: fakeWasm},
		"dist/wasm_exec.js": {Data: fakeWasmExec},
	}
}

// defaultPolicies returns the built-in policies (mtran and twisto).
func defaultPolicies(t testing.TB) []*policy.Policy {
	t.Helper()
	ps, err := policy.Defaults()
	if err != nil {
		t.Fatalf("policy.Defaults: %v", err)
	}
	if len(ps) != 2 || ps[0].ID != "mtran" || ps[1].ID != "twisto" {
		t.Fatalf("policy.Defaults: want mtran and twisto, got %d policies", len(ps))
	}
	return ps
}

// newFakeServer returns a server for the default policies over the fake assets.
func newFakeServer(t testing.TB) *Server {
	t.Helper()
	s, err := New(defaultPolicies(t), fakeAssetsFS())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// serve runs one request through h and returns the response with its body read.
func serve(t testing.TB, h http.Handler, method, target string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, target, err)
	}
	return res, body
}

func TestNew(t *testing.T) {
	defaults := defaultPolicies(t)
	mtran, twisto := defaults[0], defaults[1]
	invalid := *mtran
	invalid.Revision = 0
	without := func(name string) fstest.MapFS {
		fsys := fakeAssetsFS()
		if _, ok := fsys[name]; !ok {
			t.Fatalf("fake assets have no %s", name)
		}
		delete(fsys, name)
		return fsys
	}
	with := func(name, data string) fstest.MapFS {
		fsys := fakeAssetsFS()
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
		return fsys
	}
	notExistWithoutBuildHint := func(t *testing.T, err error) {
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %v does not wrap fs.ErrNotExist", err)
		}
		if strings.Contains(err.Error(), "make build") {
			t.Errorf("error %q sends to `make build` for a source file", err)
		}
	}

	tests := []struct {
		name     string
		policies []*policy.Policy
		assets   fs.FS
		wantErr  []string // substrings of the error; nil means success
		check    func(t *testing.T, err error)
	}{
		{
			name:     "ok",
			policies: defaults,
			assets:   fakeAssetsFS(),
		},
		{
			name:     "one portal",
			policies: []*policy.Policy{twisto},
			assets:   fakeAssetsFS(),
		},
		{
			name:     "no policies",
			policies: nil,
			assets:   fakeAssetsFS(),
			wantErr:  []string{"no portal policy"},
		},
		{
			name:     "empty policies",
			policies: []*policy.Policy{},
			assets:   fakeAssetsFS(),
			wantErr:  []string{"no portal policy"},
		},
		{
			name:     "duplicate id",
			policies: []*policy.Policy{mtran, twisto, mtran},
			assets:   fakeAssetsFS(),
			wantErr:  []string{`portal "mtran"`, "declared twice"},
		},
		{
			name:     "invalid policy",
			policies: []*policy.Policy{twisto, &invalid},
			assets:   fakeAssetsFS(),
			wantErr:  []string{`portal "mtran"`, "revision"},
			check: func(t *testing.T, err error) {
				var fe *policy.FieldError
				if !errors.As(err, &fe) || fe.Field != "revision" {
					t.Errorf("error %v does not wrap the *policy.FieldError of revision", err)
				}
			},
		},
		{
			name:     "missing wasm",
			policies: defaults,
			assets:   without("dist/app.wasm"),
			wantErr:  []string{"dist/app.wasm", "make build"},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("error %v does not wrap fs.ErrNotExist", err)
				}
			},
		},
		{
			name:     "missing wasm_exec.js",
			policies: defaults,
			assets:   without("dist/wasm_exec.js"),
			wantErr:  []string{"dist/wasm_exec.js", "make build"},
		},
		{
			// embed.js is a source file, not a build output: no `make build` hint.
			name:     "missing embed.js",
			policies: defaults,
			assets:   without("embed.js"),
			wantErr:  []string{"asset embed.js: open embed.js: file does not exist"},
			check:    notExistWithoutBuildHint,
		},
		{
			name:     "missing ui.js",
			policies: defaults,
			assets:   without("ui.js"),
			wantErr:  []string{"asset ui.js: open ui.js: file does not exist"},
			check:    notExistWithoutBuildHint,
		},
		{
			// A loader that cannot load the UI script is refused, not served.
			name:     "embed.js without the UI placeholders",
			policies: defaults,
			assets: func() fstest.MapFS {
				fs := fakeAssetsFS()
				fs["embed.js"] = &fstest.MapFile{Data: []byte("console.log('UI_PATH')")}
				return fs
			}(),
			wantErr: []string{"asset embed.js: UI_SRI appears 0 times, want once"},
		},
		{
			name:     "missing embeds.js",
			policies: defaults,
			assets:   without("embeds.js"),
			wantErr:  []string{"asset embeds.js: open embeds.js: file does not exist"},
			check:    notExistWithoutBuildHint,
		},
		{
			name:     "missing banner.css",
			policies: defaults,
			assets:   without("banner.css"),
			wantErr:  []string{"asset banner.css: open banner.css: file does not exist"},
			check:    notExistWithoutBuildHint,
		},
		{
			name:     "missing console.css",
			policies: defaults,
			assets:   without("console.css"),
			wantErr:  []string{"asset console.css: open console.css: file does not exist"},
			check:    notExistWithoutBuildHint,
		},
		{
			name:     "embed.js does not parse",
			policies: defaults,
			assets:   with("embed.js", "function ("),
			wantErr:  []string{"asset embed.js", "minifying"},
		},
		{
			name:     "stale app.wasm.br",
			policies: defaults,
			assets:   with("dist/app.wasm.br", "stale bytes"),
			wantErr:  []string{"dist/app.wasm.br", "stale build", "make build"},
		},
		{
			name:     "stale wasm_exec.js.gz",
			policies: defaults,
			assets:   with("dist/wasm_exec.js.gz", "stale bytes"),
			wantErr:  []string{"dist/wasm_exec.js.gz", "stale build", "make build"},
		},
		{
			// The first asset read is the loader.
			name:     "empty assets",
			policies: defaults,
			assets:   fstest.MapFS{},
			wantErr:  []string{"asset ui.js"},
			check:    notExistWithoutBuildHint,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.policies, tt.assets)
			if tt.wantErr == nil {
				if err != nil || s == nil {
					t.Fatalf("New = %v, %v; want a server", s, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New succeeded; want an error containing %q", tt.wantErr)
			}
			if s != nil {
				t.Errorf("New returned a server with error %v", err)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("New error %q does not contain %q", err, want)
				}
			}
			if tt.check != nil {
				tt.check(t, err)
			}
		})
	}
}

// configBody is the body of /portals/{id}/config.json as the loader reads it.
type configBody struct {
	Policy policy.Policy `json:"policy"`
	Assets struct {
		Wasm     string `json:"wasm"`
		WasmExec string `json:"wasmExec"`
		CSS      string `json:"css"`
		// Embeds, Beyond and Prefs: path, integrity value, global.
		Embeds [3]string `json:"embeds"`
		Beyond [3]string `json:"beyond"`
		Prefs  [3]string `json:"prefs"`
	} `json:"assets"`
	Banner string `json:"banner"` // the server-rendered banner (first paint)
	CSS    string `json:"css"`    // the minified stylesheet, inline
	Dir    string `json:"dir"`    // "rtl" for a right-to-left language, else absent
}

// decodeConfig decodes a config.json body strictly: a field the loader does
// not know of is an error.
func decodeConfig(t testing.TB, body []byte) configBody {
	t.Helper()
	var c configBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("decoding config.json %s: %v", body, err)
	}
	if dec.More() {
		t.Fatalf("config.json has data after the object: %s", body)
	}
	return c
}

// checkBannerHTML checks html is the banner of texts: the root element in
// banner mode, the title, and the four buttons, each once with its label.
func checkBannerHTML(t testing.TB, got string, texts policy.Texts) {
	t.Helper()
	root := regexp.MustCompile(`^<div( [^>]*)>`).FindStringSubmatch(got)
	if root == nil {
		t.Fatalf("banner does not start with a div:\n%s", got)
	}
	for _, attr := range []string{` class="pc-root"`, ` data-pc-mode="banner"`, ` lang="` + texts.Lang + `"`} {
		if !strings.Contains(root[1], attr) {
			t.Errorf("banner root %q lacks%s", root[0], attr)
		}
	}
	if !strings.HasSuffix(strings.TrimSpace(got), "</div>") {
		t.Errorf("banner does not end with </div>:\n%s", got)
	}
	if !regexp.MustCompile(`<section [^>]*class="pc-banner"`).MatchString(got) {
		t.Errorf("banner has no section.pc-banner:\n%s", got)
	}
	if want := ">" + html.EscapeString(texts.BannerTitle) + "</h2>"; !strings.Contains(got, want) {
		t.Errorf("banner lacks the title %q:\n%s", want, got)
	}
	for _, b := range []struct{ id, label string }{
		{banner.AcceptID, texts.AcceptAll},
		{banner.RejectID, texts.RejectAll},
		{banner.CustomizeID, texts.Customize},
		{banner.PolicyID, texts.PolicyLink},
	} {
		if n := strings.Count(got, ` id="`+b.id+`"`); n != 1 {
			t.Errorf("banner has %d elements with id %s, want 1", n, b.id)
		}
		re := regexp.MustCompile(`<button [^>]*\bid="` + regexp.QuoteMeta(b.id) + `"[^>]*>` + regexp.QuoteMeta(html.EscapeString(b.label)) + `</button>`)
		if !re.MatchString(got) {
			t.Errorf("banner has no button #%s labelled %q:\n%s", b.id, b.label, got)
		}
	}
}

func TestRoutes(t *testing.T) {
	s := newFakeServer(t)

	// mtranCookies are the cookie names of the seed policy of mtran.
	mtranCookies := []string{"sessionid", "django_language", "csrftoken", "cookies_preferences"}

	tests := []struct {
		name        string
		method      string
		target      string
		header      http.Header
		wantStatus  int
		wantHeader  map[string]string // exact values; "" means absent
		wantPrefix  map[string]string // header value prefixes
		wantContain map[string]string // header value substrings
		wantBody    []string          // substrings of the body, in this order
		notBody     []string          // not in the body
		wantJSON    map[string]any    // the exact JSON body
		emptyBody   bool
		check       func(t *testing.T, res *http.Response, body []byte)
	}{
		{
			name:       "index",
			method:     "GET",
			target:     "http://consent.example/",
			wantStatus: 200,
			wantHeader: map[string]string{
				"Content-Type":  "text/html; charset=utf-8",
				"Cache-Control": "no-cache",
			},
			wantContain: map[string]string{"Content-Security-Policy": "default-src 'none'"},
			wantBody: []string{
				`<html lang="en">`,
				`&lt;script src="http://consent.example/embed.js" data-portal="ID" async&gt;&lt;/script&gt;`,
				`<a href="https://mtran.my.opendatasoft.com">MTRAN open data portal</a>`,
				`<a href="/demo/mtran">`, `<a href="/portals/mtran/policy">`,
				`<a href="https://twisto.opendatasoft.com">Twisto open data portal</a>`,
				`<a href="/demo/twisto">`, `<a href="/portals/twisto/policy">`,
			},
			check: func(t *testing.T, res *http.Response, body []byte) {
				css := regexp.MustCompile(`<link rel="stylesheet" href="(/assets/banner\.[0-9a-f]{16}\.css)">`).FindSubmatch(body)
				if css == nil {
					t.Fatalf("no stylesheet link to a hashed banner.css in\n%s", body)
				}
				if r, _ := serve(t, s, "GET", string(css[1]), nil); r.StatusCode != 200 {
					t.Errorf("stylesheet %s: status %d, want 200", css[1], r.StatusCode)
				}
			},
		},
		{
			name:       "index HEAD",
			method:     "HEAD",
			target:     "/",
			wantStatus: 200,
			wantHeader: map[string]string{"Content-Type": "text/html; charset=utf-8"},
		},
		{
			name:       "embed.js",
			method:     "GET",
			target:     "/embed.js",
			wantStatus: 200,
			wantHeader: map[string]string{
				"Content-Type":                 "text/javascript; charset=utf-8",
				"Cache-Control":                "public, max-age=300, must-revalidate",
				"Access-Control-Allow-Origin":  "*",
				"Cross-Origin-Resource-Policy": "cross-origin",
				"Vary":                         "Accept-Encoding",
				"Content-Encoding":             "",
				"Content-Length":               fmt.Sprint(len(fakeEmbedJSServed)),
			},
			check: func(t *testing.T, res *http.Response, body []byte) {
				if !bytes.Equal(body, fakeEmbedJSServed) {
					t.Errorf("body = %q, want the minified loader %q", body, fakeEmbedJSServed)
				}
				if etag := res.Header.Get("ETag"); !regexp.MustCompile(`^"[0-9a-f]{16}"$`).MatchString(etag) {
					t.Errorf("ETag = %q, want a quoted 16-digit hash", etag)
				}
			},
		},
		{
			name:       "config.json",
			method:     "GET",
			target:     "/portals/mtran/config.json",
			header:     http.Header{"Origin": {"https://mtran.my.opendatasoft.com"}},
			wantStatus: 200,
			wantHeader: map[string]string{
				"Content-Type":                 "application/json",
				"Access-Control-Allow-Origin":  "*",
				"Cross-Origin-Resource-Policy": "cross-origin",
				"Cache-Control":                "public, max-age=60, must-revalidate",
				"Vary":                         "Accept-Encoding",
				"Content-Encoding":             "",
			},
			check: func(t *testing.T, res *http.Response, body []byte) {
				if etag := res.Header.Get("ETag"); !regexp.MustCompile(`^"[0-9a-f]{16}"$`).MatchString(etag) {
					t.Errorf("ETag = %q, want a quoted 16-digit hash", etag)
				}
				if got, want := res.Header.Get("Content-Length"), fmt.Sprint(len(body)); got != want {
					t.Errorf("Content-Length = %s, body has %s bytes", got, want)
				}
				c := decodeConfig(t, body)
				checkBannerHTML(t, c.Banner, c.Policy.Texts)
				if c.CSS != string(fakeCSSMin) {
					t.Errorf("css = %q, want the minified stylesheet %q", c.CSS, fakeCSSMin)
				}
				if r, b := serve(t, s, "GET", c.Assets.CSS, nil); r.StatusCode != 200 || string(b) != c.CSS {
					t.Errorf("css = %q is not the body of %s (status %d): %q", c.CSS, c.Assets.CSS, r.StatusCode, b)
				}
				if c.Policy.ID != "mtran" {
					t.Errorf("policy id = %q, want mtran", c.Policy.ID)
				}
				if err := c.Policy.Validate(); err != nil {
					t.Errorf("the served policy is invalid: %v", err)
				}
				if len(c.Policy.Cookies) != 5 { // with cookies_preferences_pending's row
					t.Errorf("policy has %d cookies, want 5", len(c.Policy.Cookies))
				}
				for _, a := range []struct {
					url, pattern, contentType string
					raw                       []byte
				}{
					{c.Assets.Wasm, `^/assets/app\.[0-9a-f]{16}\.wasm$`, "application/wasm", fakeWasm},
					{c.Assets.WasmExec, `^/assets/wasm_exec\.[0-9a-f]{16}\.js$`, "text/javascript; charset=utf-8", fakeWasmExec},
					{c.Assets.CSS, `^/assets/banner\.[0-9a-f]{16}\.css$`, "text/css; charset=utf-8", fakeCSSMin},
				} {
					if !regexp.MustCompile(a.pattern).MatchString(a.url) {
						t.Errorf("asset URL %q does not match %s", a.url, a.pattern)
						continue
					}
					r, b := serve(t, s, "GET", a.url, nil)
					if r.StatusCode != 200 {
						t.Errorf("GET %s: status %d, want 200", a.url, r.StatusCode)
						continue
					}
					if got := r.Header.Get("Content-Type"); got != a.contentType {
						t.Errorf("GET %s: Content-Type %q, want %q", a.url, got, a.contentType)
					}
					if got, want := r.Header.Get("Cache-Control"), "public, max-age=31536000, immutable"; got != want {
						t.Errorf("GET %s: Cache-Control %q, want %q", a.url, got, want)
					}
					if got := r.Header.Get("Access-Control-Allow-Origin"); got != "*" {
						t.Errorf("GET %s: Access-Control-Allow-Origin %q, want *", a.url, got)
					}
					if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
						t.Errorf("GET %s: X-Content-Type-Options %q, want nosniff", a.url, got)
					}
					if !bytes.Equal(b, a.raw) {
						t.Errorf("GET %s: body is not the asset (%d bytes, want %d)", a.url, len(b), len(a.raw))
					}
				}
			},
		},
		{
			name:       "config.json of twisto",
			method:     "GET",
			target:     "/portals/twisto/config.json",
			wantStatus: 200,
			wantBody:   []string{`"policy":{"id":"twisto"`, `"url":"https://twisto.opendatasoft.com"`},
			check: func(t *testing.T, res *http.Response, body []byte) {
				c := decodeConfig(t, body)
				checkBannerHTML(t, c.Banner, c.Policy.Texts)
				// twisto has a theme: its custom properties follow the stylesheet.
				if want := string(fakeCSSMin) + catalogue.ThemeCSS(c.Policy.Theme); c.Policy.Theme == nil || c.CSS != want {
					t.Errorf("css = %q, want the minified stylesheet and the theme %q", c.CSS, want)
				}
			},
		},
		{
			name:       "config.json revalidated",
			method:     "GET",
			target:     "/portals/mtran/config.json",
			header:     http.Header{"If-None-Match": {configETag(t, s, "mtran")}},
			wantStatus: http.StatusNotModified,
			wantHeader: map[string]string{
				"Access-Control-Allow-Origin": "*",
				"ETag":                        configETag(t, s, "mtran"),
				"Cache-Control":               "public, max-age=60, must-revalidate",
				"Vary":                        "Accept-Encoding",
				"Content-Encoding":            "",
			},
			emptyBody: true,
		},
		{
			name:       "config.json revalidated, brotli accepted",
			method:     "GET",
			target:     "/portals/mtran/config.json",
			header:     http.Header{"If-None-Match": {"W/" + configETag(t, s, "mtran")}, "Accept-Encoding": {"gzip, deflate, br"}},
			wantStatus: http.StatusNotModified,
			wantHeader: map[string]string{"Content-Encoding": ""},
			emptyBody:  true,
		},
		{
			name:       "config.json brotli",
			method:     "GET",
			target:     "/portals/mtran/config.json",
			header:     http.Header{"Accept-Encoding": {"gzip, deflate, br, zstd"}},
			wantStatus: 200,
			wantHeader: map[string]string{
				"Content-Encoding":            "br",
				"Content-Type":                "application/json",
				"Vary":                        "Accept-Encoding",
				"Access-Control-Allow-Origin": "*",
				"Cache-Control":               "public, max-age=60, must-revalidate",
			},
			check: func(t *testing.T, res *http.Response, body []byte) {
				checkConfigEncoded(t, s, "mtran", "br", body)
			},
		},
		{
			name:       "config.json gzip",
			method:     "GET",
			target:     "/portals/twisto/config.json",
			header:     http.Header{"Accept-Encoding": {"gzip, br;q=0"}},
			wantStatus: 200,
			wantHeader: map[string]string{
				"Content-Encoding": "gzip",
				"Content-Type":     "application/json",
				"Vary":             "Accept-Encoding",
				"Cache-Control":    "public, max-age=60, must-revalidate",
			},
			check: func(t *testing.T, res *http.Response, body []byte) {
				checkConfigEncoded(t, s, "twisto", "gzip", body)
			},
		},
		{
			name:       "config.json with the ETag of another portal",
			method:     "GET",
			target:     "/portals/mtran/config.json",
			header:     http.Header{"If-None-Match": {configETag(t, s, "twisto")}},
			wantStatus: 200,
			wantBody:   []string{`"id":"mtran"`},
		},
		{
			name:       "config.json of an unknown portal",
			method:     "GET",
			target:     "/portals/nope/config.json",
			wantStatus: 404,
			wantHeader: map[string]string{
				"Content-Type":                "application/json",
				"Access-Control-Allow-Origin": "*", // the loader reads the error
			},
			wantJSON: map[string]any{"error": `unknown portal "nope"`},
		},
		{
			name:   "config.json preflight",
			method: "OPTIONS",
			target: "/portals/mtran/config.json",
			header: http.Header{
				"Origin":                        {"https://mtran.my.opendatasoft.com"},
				"Access-Control-Request-Method": {"GET"},
			},
			wantStatus: http.StatusNoContent,
			wantHeader: map[string]string{
				"Access-Control-Allow-Origin":  "*",
				"Access-Control-Allow-Methods": "GET, OPTIONS",
				"Access-Control-Max-Age":       "86400",
			},
			emptyBody: true,
		},
		{
			name:       "policy page",
			method:     "GET",
			target:     "/portals/mtran/policy",
			wantStatus: 200,
			wantHeader: map[string]string{
				"Content-Type":  "text/html; charset=utf-8",
				"Cache-Control": "no-cache",
			},
			wantContain: map[string]string{"Content-Security-Policy": "default-src 'none'"},
			wantBody: append([]string{
				`<html lang="en" dir="ltr">`,
				`<title>Cookies policy – MTRAN open data portal</title>`,
				`<a href="https://mtran.my.opendatasoft.com">MTRAN open data portal</a>`,
				"What is a cookie?",
				"What cookies are used on the https://mtran.my.opendatasoft.com platform",
			}, mtranCookies...),
			notBody: []string{"twisto", "{url}", "/assets/theme-"}, // mtran has no theme
		},
		{
			name:       "policy page of an unknown portal",
			method:     "GET",
			target:     "/portals/nope/policy",
			wantStatus: 404,
			wantHeader: map[string]string{"Content-Type": "application/json"},
			check: func(t *testing.T, res *http.Response, body []byte) {
				if got, want := string(body), "{\"error\":\"unknown portal \\\"nope\\\"\"}\n"; got != want {
					t.Errorf("body = %q, want %q", got, want)
				}
			},
		},
		{
			name:       "demo page",
			method:     "GET",
			target:     "http://consent.example:8080/demo/mtran",
			wantStatus: 200,
			wantHeader: map[string]string{"Content-Type": "text/html; charset=utf-8"},
			wantContain: map[string]string{
				"Content-Security-Policy": "'wasm-unsafe-eval'",
			},
			wantBody: []string{
				`<html lang="en">`,
				`<title>MTRAN open data portal (demo)</title>`,
				`<a href="/portals/mtran/policy">`,
				`<script src="http://consent.example:8080/embed.js" data-portal="mtran" async></script>`,
			},
			check: func(t *testing.T, res *http.Response, body []byte) {
				csp := res.Header.Get("Content-Security-Policy")
				for _, want := range []string{"script-src 'self' 'wasm-unsafe-eval'", "default-src 'self'"} {
					if !strings.Contains(csp, want) {
						t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
					}
				}
				if n := bytes.Count(body, []byte("<script ")); n != 1 {
					t.Errorf("demo page has %d script elements, want 1", n)
				}
			},
		},
		{
			name:       "demo page of another host",
			method:     "GET",
			target:     "http://127.0.0.1:4321/demo/twisto",
			wantStatus: 200,
			wantBody:   []string{`<script src="http://127.0.0.1:4321/embed.js" data-portal="twisto" async></script>`},
		},
		{
			name:       "demo page of an unknown portal",
			method:     "GET",
			target:     "/demo/nope",
			wantStatus: 404,
			wantHeader: map[string]string{"Content-Type": "application/json"},
			wantBody:   []string{`{"error":"unknown portal \"nope\""}`},
		},
		{
			name:       "unknown path",
			method:     "GET",
			target:     "/nope",
			wantStatus: 404,
			wantHeader: map[string]string{"Content-Type": "application/json"},
			wantJSON:   map[string]any{"error": "no such resource: GET /nope"},
		},
		{
			name:       "unknown asset",
			method:     "GET",
			target:     "/assets/app.0000000000000000.wasm",
			wantStatus: 404,
			wantHeader: map[string]string{"Content-Type": "application/json"},
		},
		{
			name:       "unknown portal subpath",
			method:     "GET",
			target:     "/portals/mtran",
			wantStatus: 404,
			wantHeader: map[string]string{"Content-Type": "application/json"},
		},
		{
			name:       "POST embed.js",
			method:     "POST",
			target:     "/embed.js",
			wantStatus: http.StatusMethodNotAllowed,
			wantContain: map[string]string{
				"Allow": "GET",
			},
		},
		{
			name:       "DELETE config.json",
			method:     "DELETE",
			target:     "/portals/mtran/config.json",
			wantStatus: http.StatusMethodNotAllowed,
			wantContain: map[string]string{
				"Allow": "GET",
			},
		},
		{
			name:       "POST index",
			method:     "POST",
			target:     "/",
			wantStatus: http.StatusMethodNotAllowed,
		},
		{
			name:       "POST unknown path",
			method:     "POST",
			target:     "/nope",
			wantStatus: 404,
			wantJSON:   map[string]any{"error": "no such resource: POST /nope"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := serve(t, s, tt.method, tt.target, tt.header)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("%s %s: status %d, want %d; body:\n%s", tt.method, tt.target, res.StatusCode, tt.wantStatus, body)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			for k, want := range tt.wantHeader {
				if got := res.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			for k, want := range tt.wantPrefix {
				if got := res.Header.Get(k); !strings.HasPrefix(got, want) {
					t.Errorf("%s = %q, want a prefix %q", k, got, want)
				}
			}
			for k, want := range tt.wantContain {
				if got := res.Header.Get(k); !strings.Contains(got, want) {
					t.Errorf("%s = %q, want it to contain %q", k, got, want)
				}
			}
			rest := body
			for _, want := range tt.wantBody {
				i := bytes.Index(rest, []byte(want))
				if i < 0 {
					if bytes.Contains(body, []byte(want)) {
						t.Errorf("body has %q out of order", want)
					} else {
						t.Errorf("body lacks %q", want)
					}
					continue
				}
				rest = rest[i+len(want):]
			}
			for _, bad := range tt.notBody {
				if bytes.Contains(body, []byte(bad)) {
					t.Errorf("body contains %q", bad)
				}
			}
			if tt.wantJSON != nil {
				var got map[string]any
				if err := json.Unmarshal(body, &got); err != nil {
					t.Errorf("body %q is not JSON: %v", body, err)
				} else if fmt.Sprint(got) != fmt.Sprint(tt.wantJSON) {
					t.Errorf("body = %s, want %v", body, tt.wantJSON)
				}
			}
			if tt.emptyBody && len(body) != 0 {
				t.Errorf("body = %q, want none", body)
			}
			if tt.check != nil {
				tt.check(t, res, body)
			}
			if t.Failed() && len(body) > 0 && len(body) < 4000 {
				t.Logf("headers: %v\nbody:\n%s", res.Header, body)
			}
		})
	}
}

// TestIndexOrder checks the index lists the portals by id, whatever the order
// they were given in.
func TestIndexOrder(t *testing.T) {
	ps := defaultPolicies(t)
	s, err := New([]*policy.Policy{ps[1], ps[0]}, fakeAssetsFS())
	if err != nil {
		t.Fatal(err)
	}
	_, body := serve(t, s, "GET", "/", nil)
	m, tw := bytes.Index(body, []byte(`href="/demo/mtran"`)), bytes.Index(body, []byte(`href="/demo/twisto"`))
	if m < 0 || tw < 0 || m > tw {
		t.Errorf("index does not list mtran then twisto:\n%s", body)
	}
}

// checkConfigEncoded checks body, served with Content-Encoding enc, decodes to
// the identity body of the portal's config.json.
func checkConfigEncoded(t testing.TB, s *Server, id, enc string, body []byte) {
	t.Helper()
	_, identity := serve(t, s, "GET", "/portals/"+id+"/config.json", nil)
	if bytes.Equal(body, identity) {
		t.Fatalf("the %s body is the identity body", enc)
	}
	got, err := decode(enc, body)
	if err != nil {
		t.Fatalf("decoding the %s body: %v", enc, err)
	}
	if !bytes.Equal(got, identity) {
		t.Errorf("the %s body decodes to %q, want the identity body %q", enc, got, identity)
	}
	if c := decodeConfig(t, got); c.Policy.ID != id {
		t.Errorf("the %s body is the config of %q, want %q", enc, c.Policy.ID, id)
	}
}

// configETag returns the ETag of a portal's config.json.
func configETag(t testing.TB, s *Server, id string) string {
	t.Helper()
	res, _ := serve(t, s, "GET", "/portals/"+id+"/config.json", nil)
	etag := res.Header.Get("ETag")
	if res.StatusCode != 200 || etag == "" {
		t.Fatalf("config.json of %s: status %d, ETag %q", id, res.StatusCode, etag)
	}
	return etag
}

// TestConfigETags checks each portal's config has its own ETag, and that it
// changes with the assets the config points to.
func TestConfigETags(t *testing.T) {
	s := newFakeServer(t)
	if a, b := configETag(t, s, "mtran"), configETag(t, s, "twisto"); a == b {
		t.Errorf("mtran and twisto share the config ETag %s", a)
	}
	fsys := fakeAssetsFS()
	fsys["dist/app.wasm"] = &fstest.MapFile{Data: append(append([]byte{}, fakeWasm...), "v2"...)}
	s2, err := New(defaultPolicies(t), fsys)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := configETag(t, s, "mtran"), configETag(t, s2, "mtran"); a == b {
		t.Errorf("the config ETag %s did not change with the wasm", a)
	}
	// The stylesheet is inlined in the config: a change of it is a new config.
	fsys = fakeAssetsFS()
	fsys["banner.css"] = &fstest.MapFile{Data: []byte(".pc-page{margin:1px}")}
	s3, err := New(defaultPolicies(t), fsys)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := configETag(t, s, "mtran"), configETag(t, s3, "mtran"); a == b {
		t.Errorf("the config ETag %s did not change with the stylesheet", a)
	}
	// A change of comments only minifies to the same stylesheet: same config.
	fsys = fakeAssetsFS()
	fsys["banner.css"] = &fstest.MapFile{Data: append([]byte("/* another comment */\n"), fakeCSS...)}
	s4, err := New(defaultPolicies(t), fsys)
	if err != nil {
		t.Fatal(err)
	}
	if s4.assets.CSS.Name != s.assets.CSS.Name {
		t.Errorf("a comment changed the stylesheet name: %s, then %s", s.assets.CSS.Name, s4.assets.CSS.Name)
	}
}

// TestConfigStableAcrossInstances checks two servers over the same policies
// and assets serve the same config.json, byte for byte, under the same ETag:
// after a restart, or behind a load balancer, a cached config revalidates with
// a 304 rather than downloading again.
func TestConfigStableAcrossInstances(t *testing.T) {
	first := newFakeServer(t)
	for i := 0; i < 3; i++ {
		other := newFakeServer(t)
		for _, id := range []string{"mtran", "twisto"} {
			a, b := testPortal(t, first, id).Variants[0].Config, testPortal(t, other, id).Variants[0].Config
			if a.ETag != b.ETag || !bytes.Equal(a.Raw, b.Raw) {
				ca, cb := decodeConfig(t, a.Raw), decodeConfig(t, b.Raw)
				t.Fatalf("portal %s: config.json differs between two servers (ETag %s, then %s); banners:\n%s\n%s", id, a.ETag, b.ETag, ca.Banner, cb.Banner)
			}
		}
	}
}

// TestPagesEscape checks that policy texts and the request host cannot inject
// markup into the pages.
func TestPagesEscape(t *testing.T) {
	p := *defaultPolicies(t)[0]
	p.Name = `Evil <script>alert("name")</script>`
	p.Texts.PolicyTitle = `<img src=x onerror=alert(1)>`
	p.Texts.PolicyIntro = `<script>alert("intro")</script>`
	s, err := New([]*policy.Policy{&p}, fakeAssetsFS())
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/", "/portals/mtran/policy", "/demo/mtran"} {
		t.Run(target, func(t *testing.T) {
			res, body := serve(t, s, "GET", target, nil)
			if res.StatusCode != 200 {
				t.Fatalf("status %d", res.StatusCode)
			}
			for _, bad := range []string{"<script>alert", "<img src=x"} {
				if bytes.Contains(body, []byte(bad)) {
					t.Errorf("body contains unescaped %q:\n%s", bad, body)
				}
			}
			if !bytes.Contains(body, []byte("Evil &lt;script&gt;")) {
				t.Errorf("body lacks the escaped name:\n%s", body)
			}
		})
	}

	t.Run("hostile Host", func(t *testing.T) {
		req := httptest.NewRequest("GET", "/demo/mtran", nil)
		req.Host = `x"><script>alert(1)</script>`
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
		if body := rec.Body.String(); strings.Contains(body, "<script>alert(1)") || strings.Contains(body, `x">`) {
			t.Errorf("the Host header was injected into the page:\n%s", body)
		}
	})
}

// TestRealAssets builds the server over the real build outputs (package web)
// and fetches every asset the way the loader does, checking that the loader and
// the stylesheet are served minified and that the precompressed variants are
// those of the current build.
func TestRealAssets(t *testing.T) {
	files := web.Files()
	for _, name := range []string{"embed.js", "ui.js", "embeds.js", "beyond.js", "banner.css", "dist/app.wasm", "dist/wasm_exec.js"} {
		if _, err := fs.Stat(files, name); err != nil {
			t.Fatalf("web.Files() has no %s (run `make build` first): %v", name, err)
		}
	}
	s, err := New(defaultPolicies(t), files)
	if err != nil {
		t.Fatalf("New over web.Files(): %v", err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	client := ts.Client()
	client.Transport.(*http.Transport).DisableCompression = true

	get := func(t *testing.T, path, acceptEncoding string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest("GET", ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if acceptEncoding != "" {
			req.Header.Set("Accept-Encoding", acceptEncoding)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: status %d: %s", path, res.StatusCode, body)
		}
		return res, body
	}

	_, demo := get(t, "/demo/mtran", "")
	if want := `<script src="` + ts.URL + `/embed.js" data-portal="mtran" async></script>`; !bytes.Contains(demo, []byte(want)) {
		t.Errorf("demo page lacks %s", want)
	}
	// minifiedFile returns a source of web.Files() as the server must serve
	// it, checking that minifying made it shorter and kept a token.
	minifiedFile := func(t *testing.T, file, mediatype, token string) []byte {
		t.Helper()
		src, err := fs.ReadFile(files, file)
		if err != nil {
			t.Fatal(err)
		}
		min, err := assets.Minify(mediatype, src)
		if err != nil {
			t.Fatalf("minifying web/%s: %v", file, err)
		}
		if len(min) >= len(src) {
			t.Errorf("minified web/%s has %d bytes, the source %d", file, len(min), len(src))
		}
		if !bytes.Contains(min, []byte(token)) {
			t.Errorf("minified web/%s lacks %q", file, token)
		}
		return min
	}
	embedMin := minifiedFile(t, "embed.js", "text/javascript", "config.json")
	// The server writes the UI script's path and integrity into the loader.
	embedMin = bytes.Replace(embedMin, []byte("UI_PATH"), []byte(s.assets.UI.Name[1:]), 1)
	embedMin = bytes.Replace(embedMin, []byte("UI_SRI"), []byte(assets.ScriptSRI(s.assets.UI.Raw)), 1)
	cssMin := minifiedFile(t, "banner.css", "text/css", ".pc-banner")

	for _, enc := range []string{"br", "gzip", ""} {
		res, body := get(t, "/embed.js", enc)
		if got := res.Header.Get("Content-Encoding"); got != enc {
			t.Errorf("/embed.js, Accept-Encoding %q: Content-Encoding %q", enc, got)
		}
		embed, err := decode(enc, body)
		if err != nil {
			t.Fatalf("/embed.js: decoding %q: %v", enc, err)
		}
		if !bytes.Equal(embed, embedMin) {
			t.Errorf("/embed.js (%q) is not the minified web/embed.js: %d bytes, want %d", enc, len(embed), len(embedMin))
		}
	}

	_, body := get(t, "/portals/mtran/config.json", "")
	c := decodeConfig(t, body)
	checkBannerHTML(t, c.Banner, c.Policy.Texts)
	if c.CSS != string(cssMin) {
		t.Errorf("config.json css is not the minified web/banner.css: %d bytes, want %d", len(c.CSS), len(cssMin))
	}
	for _, a := range []struct {
		url, file, contentType, magic string
		want                          []byte // nil: the file as it is
	}{
		{c.Assets.Wasm, "dist/app.wasm", "application/wasm", "\x00asm", nil},
		{c.Assets.WasmExec, "dist/wasm_exec.js", "text/javascript; charset=utf-8", "", nil},
		{c.Assets.CSS, "banner.css", "text/css; charset=utf-8", "", cssMin},
	} {
		t.Run(a.file, func(t *testing.T) {
			raw, err := fs.ReadFile(files, a.file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(raw, []byte(a.magic)) {
				t.Errorf("%s does not start with %q", a.file, a.magic)
			}
			if a.want != nil {
				raw = a.want
			}
			for _, enc := range []string{"br", "gzip", ""} {
				res, body := get(t, a.url, enc)
				if got := res.Header.Get("Content-Type"); got != a.contentType {
					t.Errorf("%s: Content-Type %q, want %q", enc, got, a.contentType)
				}
				if got := res.Header.Get("Cache-Control"); !strings.Contains(got, "immutable") {
					t.Errorf("%s: Cache-Control %q, want immutable", enc, got)
				}
				if got := res.Header.Get("Content-Encoding"); got != enc {
					t.Errorf("Accept-Encoding %q: Content-Encoding %q", enc, got)
				}
				decoded, err := decode(enc, body)
				if err != nil {
					t.Fatalf("%s: decoding: %v", enc, err)
				}
				if !bytes.Equal(decoded, raw) {
					t.Errorf("%s variant of %s is not the current %s (stale build output? run `make build`)", enc, a.url, a.file)
				}
			}
		})
	}
}

// TestBannerHTML checks the server-rendered banner: the root element in banner
// mode, the policy's own texts (escaped), and the four buttons.
func TestBannerHTML(t *testing.T) {
	for _, p := range defaultPolicies(t) {
		t.Run(p.ID, func(t *testing.T) {
			got := catalogue.BannerHTML(p)
			checkBannerHTML(t, got, p.Texts)
			if want := "Cookies on this portal"; !strings.Contains(got, want) {
				t.Errorf("banner lacks the seed title %q:\n%s", want, got)
			}
			if !strings.Contains(got, html.EscapeString(p.Texts.BannerText)) {
				t.Errorf("banner lacks the text %q:\n%s", p.Texts.BannerText, got)
			}
			if strings.Contains(got, "<script") {
				t.Errorf("banner has a script:\n%s", got)
			}
		})
	}

	t.Run("own texts, escaped", func(t *testing.T) {
		p := *defaultPolicies(t)[1]
		p.Texts.Lang = "fr"
		p.Texts.BannerTitle = `Cookies & <b>vous</b>`
		p.Texts.BannerText = `<script>alert("text")</script>`
		p.Texts.AcceptAll = "Tout accepter"
		p.Texts.RejectAll = "Tout refuser"
		p.Texts.Customize = "Personnaliser"
		p.Texts.PolicyLink = `Politique "cookies"`
		got := catalogue.BannerHTML(&p)
		checkBannerHTML(t, got, p.Texts)
		for _, bad := range []string{"<b>", "<script>", "Accept all", `"cookies"`} {
			if strings.Contains(got, bad) {
				t.Errorf("banner contains %q:\n%s", bad, got)
			}
		}
		if want := "Cookies &amp; &lt;b&gt;vous&lt;/b&gt;"; !strings.Contains(got, want) {
			t.Errorf("banner lacks the escaped title %q:\n%s", want, got)
		}
	})
}

// decode undoes a Content-Encoding.
func decode(enc string, body []byte) ([]byte, error) {
	switch enc {
	case "br":
		return io.ReadAll(brotli.NewReader(bytes.NewReader(body)))
	case "gzip":
		r, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	case "", "identity":
		return body, nil
	}
	return nil, fmt.Errorf("unknown encoding %q", enc)
}
