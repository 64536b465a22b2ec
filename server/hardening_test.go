package server

import (
	"bufio"
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestHealthz checks GET /healthz: 200, the portal count, not cached.
func TestHealthz(t *testing.T) {
	s := newFakeServer(t)
	res, body := serve(t, s, "GET", "/healthz", nil)
	if res.StatusCode != 200 {
		t.Fatalf("status %d, want 200: %s", res.StatusCode, body)
	}
	for k, want := range map[string]string{
		"Content-Type":           "application/json",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if len(got) != 2 || got["status"] != "ok" || got["portals"] != float64(2) {
		t.Errorf("body = %s, want {\"status\":\"ok\",\"portals\":2}", body)
	}
	if res, _ := serve(t, s, "HEAD", "/healthz", nil); res.StatusCode != 200 {
		t.Errorf("HEAD: status %d, want 200", res.StatusCode)
	}
	if res, _ := serve(t, s, "POST", "/healthz", nil); res.StatusCode != 405 || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d, Allow %q; want 405 with GET, HEAD", res.StatusCode, res.Header.Get("Allow"))
	}
}

// logEntry is one line of the JSON request log.
type logEntry struct {
	Level    string
	Msg      string
	Method   string
	Path     string
	Status   int
	Bytes    int
	Duration int64 // nanoseconds
	Panic    string
	Stack    string
}

func parseLogs(t *testing.T, b []byte) []logEntry {
	t.Helper()
	var out []logEntry
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e logEntry
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

func newLoggedServer(t *testing.T) (*Server, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	s, err := New(defaultPolicies(t), fakeAssetsFS(), WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
	if err != nil {
		t.Fatal(err)
	}
	return s, &buf
}

// TestLogRequests checks one Info line per request with method, path (no
// query), status, bytes and duration.
func TestLogRequests(t *testing.T) {
	s, buf := newLoggedServer(t)
	_, jsBody := serve(t, s, "GET", "/embed.js?v=secret", nil)
	serve(t, s, "GET", "/portals/nope/config.json", nil)
	serve(t, s, "HEAD", "/healthz", nil)
	etag := s.assets.EmbedJS.ETag
	serve(t, s, "GET", "/embed.js", http.Header{"If-None-Match": {etag}})

	logs := parseLogs(t, buf.Bytes())
	want := []logEntry{
		{Level: "INFO", Msg: "request", Method: "GET", Path: "/embed.js", Status: 200, Bytes: len(jsBody)},
		{Level: "INFO", Msg: "request", Method: "GET", Path: "/portals/nope/config.json", Status: 404},
		{Level: "INFO", Msg: "request", Method: "HEAD", Path: "/healthz", Status: 200},
		{Level: "INFO", Msg: "request", Method: "GET", Path: "/embed.js", Status: 304, Bytes: 0},
	}
	if len(logs) != len(want) {
		t.Fatalf("%d log lines, want %d:\n%s", len(logs), len(want), buf)
	}
	for i, w := range want {
		g := logs[i]
		if g.Level != w.Level || g.Msg != w.Msg || g.Method != w.Method || g.Path != w.Path || g.Status != w.Status {
			t.Errorf("line %d = %+v, want %+v", i, g, w)
		}
		if w.Bytes != 0 && g.Bytes != w.Bytes {
			t.Errorf("line %d: bytes = %d, want %d", i, g.Bytes, w.Bytes)
		}
		if g.Duration <= 0 {
			t.Errorf("line %d: duration = %d, want > 0", i, g.Duration)
		}
	}
	if logs[1].Bytes == 0 {
		t.Error("the 404's JSON body is not counted in bytes")
	}
	if strings.Contains(buf.String(), "secret") {
		t.Error("the query string is logged")
	}

	// Without WithLogger the logs are discarded.
	serve(t, newFakeServer(t), "GET", "/healthz", nil)
}

// TestPanicRecovered checks a panicking handler is answered 500 with the
// JSON error shape, without the headers it had set, and logged at Error.
func TestPanicRecovered(t *testing.T) {
	s, buf := newLoggedServer(t)
	s.mux.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("ETag", `"x"`)
		panic("kaboom")
	})
	s.mux.HandleFunc("GET /late", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		panic("late kaboom")
	})
	res, body := serve(t, s, "GET", "/boom", nil)
	if res.StatusCode != 500 {
		t.Errorf("status %d, want 500", res.StatusCode)
	}
	checkJSONError(t, res, body)
	if res.Header.Get("ETag") != "" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers after a panic: %v", res.Header)
	}
	var e struct{ Error string }
	json.Unmarshal(body, &e)
	if e.Error != "internal server error" {
		t.Errorf("error = %q, want the generic message (no panic detail)", e.Error)
	}

	// A panic after the response began: the status stays, the panic is logged.
	res, body = serve(t, s, "GET", "/late", nil)
	if res.StatusCode != 200 || string(body) != "partial" {
		t.Errorf("late panic: %d %q, want the 200 already sent", res.StatusCode, body)
	}

	logs := parseLogs(t, buf.Bytes())
	if len(logs) != 4 {
		t.Fatalf("%d log lines, want 4 (panic, request, panic, request):\n%s", len(logs), buf)
	}
	if l := logs[0]; l.Level != "ERROR" || l.Panic != "kaboom" || l.Path != "/boom" || !strings.Contains(l.Stack, "hardening_test.go") {
		t.Errorf("panic log = %+v", l)
	}
	if l := logs[1]; l.Level != "INFO" || l.Status != 500 {
		t.Errorf("request log after the panic = %+v, want status 500", l)
	}
	if l := logs[2]; l.Level != "ERROR" || l.Panic != "late kaboom" {
		t.Errorf("late panic log = %+v", l)
	}

	// http.ErrAbortHandler still aborts the response.
	s.mux.HandleFunc("GET /abort", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) })
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler re-raised", v)
			}
		}()
		s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/abort", nil))
	}()
}

// checkJSONError checks an error response is {"error": "<non-empty>"} as
// application/json.
func checkJSONError(t testing.TB, res *http.Response, body []byte) {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type = %q, want application/json", ct)
	}
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil {
		t.Errorf("error body %q is not JSON: %v", body, err)
		return
	}
	if msg, _ := e["error"].(string); msg == "" || len(e) != 1 {
		t.Errorf("error body = %s, want {\"error\": \"...\"}", body)
	}
}

// TestSRI checks /embed.js.sri is the sha384 of the /embed.js body as served,
// and the index shows the pinned tag.
func TestSRI(t *testing.T) {
	s := newFakeServer(t)
	_, js := serve(t, s, "GET", "/embed.js", nil)
	sum := sha512.Sum384(js)
	want := "sha384-" + base64.StdEncoding.EncodeToString(sum[:])
	res, body := serve(t, s, "GET", "/embed.js.sri", http.Header{"Accept-Encoding": {"br, gzip"}})
	if res.StatusCode != 200 || string(body) != want {
		t.Fatalf("/embed.js.sri: %d %q, want 200 %q", res.StatusCode, body, want)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if s.SRI() != want {
		t.Errorf("SRI() = %q, want %q", s.SRI(), want)
	}
	if res, _ := serve(t, s, "GET", "/embed.js.sri", http.Header{"If-None-Match": {res.Header.Get("ETag")}}); res.StatusCode != 304 {
		t.Errorf("conditional GET: status %d, want 304", res.StatusCode)
	}

	_, page := serve(t, s, "GET", "http://consent.example/", nil)
	tag := `<script src="http://consent.example/embed.js" integrity="` + want + `" crossorigin="anonymous" data-portal="ID" async></script>`
	if !strings.Contains(html.UnescapeString(string(page)), tag) {
		t.Errorf("index lacks the pinned tag %s:\n%s", tag, page)
	}
}

// TestURITooLong checks request URIs over 8 KiB get 414 with a JSON error,
// in the handler and through a real http.Server.
func TestURITooLong(t *testing.T) {
	s := newFakeServer(t)
	at := "/embed.js?" + strings.Repeat("a", maxURIBytes-len("/embed.js?"))
	if res, _ := serve(t, s, "GET", at, nil); res.StatusCode != 200 {
		t.Errorf("URI of exactly %d bytes: status %d, want 200", len(at), res.StatusCode)
	}
	for _, target := range []string{at + "a", "/" + strings.Repeat("x", maxURIBytes)} {
		res, body := serve(t, s, "GET", target, nil)
		if res.StatusCode != http.StatusRequestURITooLong {
			t.Errorf("URI of %d bytes: status %d, want 414", len(target), res.StatusCode)
		}
		checkJSONError(t, res, body)
	}

	ts := httptest.NewUnstartedServer(s)
	ts.Config.MaxHeaderBytes = 32 << 10
	ts.Start()
	defer ts.Close()
	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /"+strings.Repeat("y", 9000)+" HTTP/1.1\r\nHost: x\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 414 {
		t.Errorf("real server: status %d, want 414", res.StatusCode)
	}
	checkJSONError(t, res, body)
}

// TestURINonCanonical checks paths the ServeMux would redirect (not clean)
// or not absolute are refused with 400 and a JSON error.
func TestURINonCanonical(t *testing.T) {
	s := newFakeServer(t)
	for _, target := range []string{"//embed.js", "/a/../embed.js", "/./healthz", "/portals//config.json"} {
		res, body := serve(t, s, "GET", target, nil)
		if res.StatusCode != 400 {
			t.Errorf("%s: status %d, want 400", target, res.StatusCode)
		}
		checkJSONError(t, res, body)
	}
	// Escaped dots are a segment named "..", not a parent: no match.
	if res, body := serve(t, s, "GET", "/%2e%2e/healthz", nil); res.StatusCode != 404 {
		t.Errorf("/%%2e%%2e/healthz: status %d, want 404", res.StatusCode)
	} else {
		checkJSONError(t, res, body)
	}
	req := httptest.NewRequest("OPTIONS", "/", nil)
	req.URL.Path, req.RequestURI = "*", "*"
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != 400 {
		t.Errorf("OPTIONS *: status %d, want 400", rec.Code)
	}
}

// TestSecurityHeaders checks the security headers of every route: nosniff
// and Referrer-Policy everywhere, a CSP on the pages, and
// Cross-Origin-Resource-Policy: cross-origin on what portals embed.
func TestSecurityHeaders(t *testing.T) {
	s := newFakeServer(t)
	tests := []struct {
		name, method, target string
		header               http.Header
		status               int
		csp                  string // substring of the CSP; "" means none
		corp                 bool
	}{
		{"index", "GET", "/", nil, 200, "default-src 'none'", false},
		{"policy page", "GET", "/portals/mtran/policy", nil, 200, "default-src 'none'", false},
		{"demo page", "GET", "/demo/twisto", nil, 200, "'wasm-unsafe-eval'", false},
		{"embed.js", "GET", "/embed.js", nil, 200, "", true},
		{"embed.js 304", "GET", "/embed.js", http.Header{"If-None-Match": {s.assets.EmbedJS.ETag}}, 304, "", true},
		{"embed.js.sri", "GET", "/embed.js.sri", nil, 200, "", true},
		{"wasm", "GET", s.assets.Wasm.Name, nil, 200, "", true},
		{"wasm_exec.js", "GET", s.assets.WasmExec.Name, nil, 200, "", true},
		{"banner.css", "GET", s.assets.CSS.Name, nil, 200, "", true},
		{"console.css", "GET", s.assets.ConsoleCSS.Name, nil, 200, "", true},
		{"config.json", "GET", "/portals/mtran/config.json", nil, 200, "", true},
		{"config.json unknown", "GET", "/portals/nope/config.json", nil, 404, "", true},
		{"preflight", "OPTIONS", "/portals/mtran/config.json", nil, 204, "", true},
		{"healthz", "GET", "/healthz", nil, 200, "", false},
		{"not found", "GET", "/nope", nil, 404, "", true},
		{"method not allowed", "DELETE", "/embed.js", nil, 405, "", true},
		{"policy page unknown", "GET", "/portals/nope/policy", nil, 404, "", false},
		{"bad path", "GET", "//x", nil, 400, "", false},
		{"too long", "GET", "/" + strings.Repeat("z", maxURIBytes+1), nil, 414, "", false},
		{"receipt, no store", "POST", "/portals/mtran/consents", nil, 503, "", true},
		{"receipt preflight", "OPTIONS", "/portals/mtran/consents", nil, 204, "", true},
		{"receipt, unknown portal", "POST", "/portals/nope/consents", nil, 404, "", true},
		{"API without a token", "GET", "/api/v1/portals/mtran/consents/AAAAAAAAAAAAAAAAAAAAAA", nil, 401, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := serve(t, s, tc.method, tc.target, tc.header)
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
			h := res.Header
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if got := h.Get("Referrer-Policy"); got != "strict-origin-when-cross-origin" {
				t.Errorf("Referrer-Policy = %q", got)
			}
			csp := h.Get("Content-Security-Policy")
			switch {
			case tc.csp == "" && csp != "":
				t.Errorf("unexpected Content-Security-Policy %q", csp)
			case tc.csp != "" && !strings.Contains(csp, tc.csp):
				t.Errorf("Content-Security-Policy = %q, want it to contain %q", csp, tc.csp)
			case tc.csp != "" && !strings.Contains(csp, "base-uri 'none'"):
				t.Errorf("Content-Security-Policy = %q lacks base-uri 'none'", csp)
			}
			if got := h.Get("Cross-Origin-Resource-Policy"); tc.corp && got != "cross-origin" {
				t.Errorf("Cross-Origin-Resource-Policy = %q, want cross-origin", got)
			}
		})
	}
}
