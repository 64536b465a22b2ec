package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzMethods are the methods FuzzServeHTTP picks from.
var fuzzMethods = []string{"GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE"}

// FuzzServeHTTP sends arbitrary request targets (paths and query strings) to
// the server, parsed as net/http parses a request line, with pad bytes "a"
// appended (long URIs without long corpus entries, which make the fuzzer's
// minimization crawl): it never panics, the
// status is one of those the server means to send, errors are the JSON shape
// (except the plain-text 404 of an unknown portal on the HTML pages), and
// every response has nosniff. Requests carry a body (the receipt route reads
// it): a receipt is stored (201) or refused with a 4xx, never anything else.
func FuzzServeHTTP(f *testing.F) {
	s := newReceiptServer(f, openTestStore(f), nil, WithRateLimit(0, 0), WithClock(time.Now))
	good := receiptJSONBody(consentValue(testPortal(f, s, "mtran").Policy, time.Now()).Encode(), "accept-all", "en", "https://mtran.my.opendatasoft.com/p")
	seeds := []string{
		"/", "/embed.js", "/embed.js.sri", "/healthz", s.assets.UI.Name, s.assets.Wasm.Name, s.assets.WasmExec.Name, s.assets.CSS.Name,
		"/portals/mtran/config.json", "/portals/twisto/policy", "/demo/mtran",
		"/portals/nope/config.json", "/portals/nope/policy", "/demo/nope",
		"/%00", "/portals/%00/config.json", "//", "//embed.js", "/../etc/passwd", "/a/../embed.js",
		"/./", "/%2e%2e/", "/portals/..%2f/config.json", "/portals/müll/policy", "/démo/€", "/\u202e",
		"/embed.js?v=1&x=%zz", "/?%", "/healthz?;", "*", "http://evil.example/embed.js",
		"/portals/mtran/config.json#frag", "/portals/%2F/config.json", "/portals/mtran/",
		"/portals/mtran/consents", "/portals/nope/consents", "/portals/mtran/consents?x=1",
		"/api/v1/portals/mtran/consents/AAAAAAAAAAAAAAAAAAAAAA", "/api/v1/portals/mtran/policies/00",
		"/api/v1/portals/mtran/receipts.csv?from=2026-01-01&to=2026-01-02",
		"/portals/mtran/impressions", "/portals/nope/impressions",
		"/api/v1/portals/mtran/stats", "/api/v1/portals/mtran/stats?from=2026-01-01&to=2026-01-02",
		"/api/v1/portals/mtran/receipts.jsonl?from=2026-01-01", "/api/v1/portals/mtran/cookies/undeclared",
		"/portals/mtran/cookies/reappeared", "/api/v1/portals/mtran/cookies/reappeared",
		"/console/portals/mtran/cookies?from=2026-01-01", "/console/portals/mtran/export", "/console/portals/mtran/export.csv?from=x",
		"/console/portals/mtran/export.jsonl", "/console/portals/mtran/lookup?consent=q8B3x0aPq1V2LmN7rT4sYw", "/console/portals/mtran/lookup?consent=%00",
		"/console/portals/mtran/notices/" + strings.Repeat("a", 64), "/console/portals/mtran/history?from=1&to=x",
		"/console", "/console/", "/console/sign-in", "/console/sign-out", "/console/portals/mtran", "/console/portals/nope",
	}
	for _, target := range seeds {
		for m := range fuzzMethods {
			f.Add(uint8(m), target, uint16(0), "")
		}
	}
	for _, body := range []string{good, "{}", "[]", `{"value":1}`, good + good, strings.Replace(good, "accept-all", "x", 1)} {
		f.Add(uint8(2), "/portals/mtran/consents", uint16(0), body)
	}
	rev := testPortal(f, s, "mtran").Policy.Revision
	for _, body := range []string{fmt.Sprintf(`{"revision":%d,"lang":"en"}`, rev), fmt.Sprintf(`{"revision":%d,"lang":"en"}`, rev+1),
		`{"revision":1}`, `{"revision":1e400,"lang":"en"}`, `{"revision":-1,"lang":"en"}`, "{}", "null"} {
		f.Add(uint8(2), "/portals/mtran/impressions", uint16(0), body)
	}
	for _, body := range []string{fmt.Sprintf(`{"revision":%d,"names":["sessionid"],"page":"https://mtran.my.opendatasoft.com/"}`, rev),
		`{"revision":1,"names":[],"page":""}`, `{"names":null}`} {
		f.Add(uint8(2), "/portals/mtran/cookies/reappeared", uint16(0), body)
	}
	f.Add(uint8(0), "/", uint16(9000), "")                 // 414
	f.Add(uint8(0), "/embed.js?v=", uint16(8192-12), "")   // the longest URI served
	f.Add(uint8(1), "/embed.js?v=", uint16(8192-12+1), "") // one byte over
	f.Add(uint8(0), "/portals/mtran/", uint16(40<<10), "") // beyond MaxHeaderBytes
	allowed := map[int]bool{200: true, 201: true, 204: true, 304: true, 400: true, 401: true, 403: true,
		404: true, 405: true, 413: true, 414: true, 422: true}
	f.Fuzz(func(t *testing.T, m uint8, target string, pad uint16, body string) {
		if len(target) > 2048 {
			return // long URIs come from pad
		}
		target += strings.Repeat("a", int(pad))
		if len(target) > 32<<10 {
			return // over the server's MaxHeaderBytes: net/http answers 431
		}
		method := fuzzMethods[int(m)%len(fuzzMethods)]
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(
			method + " " + target + " HTTP/1.1\r\nHost: consent.example\r\nContent-Length: " +
				strconv.Itoa(len(body)) + "\r\n\r\n" + body)))
		if err != nil {
			return // net/http answers 400 itself: the handler never sees it
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		res := rec.Result()
		respBody, _ := io.ReadAll(res.Body)
		// The console is for browsers: it redirects to its sign-in form,
		// limits sign-ins, and its error pages are HTML.
		console := res.Header.Get("Content-Security-Policy") == consoleCSP ||
			(strings.HasPrefix(req.URL.Path, "/console") && (res.StatusCode == 301 || res.StatusCode == 303))
		if console && (res.StatusCode < 400 || strings.HasPrefix(res.Header.Get("Content-Type"), "text/html")) {
			if res.StatusCode != 200 && res.StatusCode != 301 && res.StatusCode != 303 && res.StatusCode != 401 &&
				res.StatusCode != 403 && res.StatusCode != 404 && res.StatusCode != 429 && res.StatusCode != 400 {
				t.Fatalf("%s %q: console status %d", req.Method, req.RequestURI, res.StatusCode)
			}
			return
		}
		if !allowed[res.StatusCode] || (res.StatusCode == 201 && !strings.HasSuffix(req.URL.Path, "/consents")) {
			t.Fatalf("%s %q: status %d: %s", req.Method, req.RequestURI, res.StatusCode, respBody)
		}
		if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %q: X-Content-Type-Options = %q", req.Method, req.RequestURI, got)
		}
		if res.StatusCode < 400 {
			return
		}
		ct := res.Header.Get("Content-Type")
		if ct != "application/json" {
			t.Fatalf("%s %q: %d with Content-Type %q: %s", req.Method, req.RequestURI, res.StatusCode, ct, respBody)
		}
		if method == "HEAD" {
			return // no body
		}
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(respBody, &e); err != nil || e.Error == "" {
			t.Fatalf("%s %q: %d body %q is not {\"error\": \"...\"}", req.Method, req.RequestURI, res.StatusCode, respBody)
		}
	})
}
