package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/server/metrics"
)

// scrape returns the metrics' text exposition as series → value.
func scrape(t testing.TB, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	out := map[string]float64{}
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func TestMetricsMove(t *testing.T) {
	m := metrics.New()
	st := openTestStore(t)
	s := newReceiptServer(t, st, nil, WithMetrics(m), WithRateLimit(1, 2))
	before := scrape(t, m)
	for _, r := range metrics.Reasons {
		if _, ok := before[`portalconsent_receipts_refused_total{reason="`+r+`"}`]; !ok {
			t.Errorf("reason %q not exposed at 0", r)
		}
	}
	p := defaultPolicies(t)[0]
	good := receiptJSONBody(consentValue(p, testNow).Encode(), "reject-all", "en", "https://mtran.my.opendatasoft.com/")
	if res, body := post(t, s, "/portals/mtran/consents", good, nil); res.StatusCode != 201 {
		t.Fatalf("receipt: %d %s", res.StatusCode, body)
	}
	post(t, s, "/portals/mtran/consents", "{", nil)                                                                                         // bad-json
	post(t, s, "/portals/mtran/consents", receiptJSONBody("nope", "reject-all", "en", "https://mtran.my.opendatasoft.com/"), nil)           // rate-limit (burst 2)
	post(t, s, "/portals/mtran/consents", receiptJSONBody("nope", "reject-all", "en", "https://mtran.my.opendatasoft.com/"), http.Header{}) // rate-limit
	serve(t, s, "GET", "/portals/mtran/config.json", nil)
	serve(t, s, "GET", "/portals/twisto/config.json", nil)
	serve(t, s, "GET", "/no/such/path", nil)
	serve(t, s, "GET", "/a/../b", nil) // refused before routing
	s.Metrics().Impression("mtran")
	s.Metrics().PolicyReload(nil)
	st.Close() // the store fails from now on
	later := receiptJSONBody(consentValue(p, testNow).Encode(), "accept-all", "en", "https://mtran.my.opendatasoft.com/")
	req := httptest.NewRequest("POST", "/portals/mtran/consents", strings.NewReader(later))
	req.RemoteAddr = "198.51.100.9:1"
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != 503 {
		t.Fatalf("closed store: %d %s", rec.Code, rec.Body)
	}
	after := scrape(t, m)
	for series, delta := range map[string]float64{
		`portalconsent_receipts_accepted_total`:                                                    1,
		`portalconsent_receipts_refused_total{reason="bad-json"}`:                                  1,
		`portalconsent_receipts_refused_total{reason="rate-limit"}`:                                2,
		`portalconsent_receipts_refused_total{reason="store"}`:                                     1,
		`portalconsent_store_errors_total{op="append"}`:                                            1,
		`portalconsent_http_requests_total{code="201",route="POST /portals/{id}/consents"}`:        1,
		`portalconsent_http_requests_total{code="429",route="POST /portals/{id}/consents"}`:        2,
		`portalconsent_http_requests_total{code="200",route="GET /portals/{id}/config.json"}`:      2,
		`portalconsent_http_requests_total{code="404",route="/"}`:                                  1,
		`portalconsent_http_requests_total{code="400",route="none"}`:                               1,
		`portalconsent_http_request_duration_seconds_count{route="GET /portals/{id}/config.json"}`: 2,
		`portalconsent_banner_impressions_total{portal="mtran"}`:                                   1,
		`portalconsent_policy_reloads_total{result="applied"}`:                                     1,
	} {
		if got := after[series] - before[series]; got != delta {
			t.Errorf("%s moved by %v, want %v", series, got, delta)
		}
	}
	// The route label takes only the mux's patterns: no raw path.
	patterns := map[string]bool{"none": true}
	for _, p := range s.Patterns() {
		patterns[p] = true
	}
	route := regexp.MustCompile(`route="([^"]*)"`)
	for series := range after {
		if m := route.FindStringSubmatch(series); m != nil && !patterns[m[1]] {
			t.Errorf("route label %q is not a pattern", m[1])
		}
	}
}

// TestMetricsNotOnThePublicMux: /metrics is served only by its own handler.
func TestMetricsNotOnThePublicMux(t *testing.T) {
	s := newReceiptServer(t, openTestStore(t), nil, WithMetrics(metrics.New()))
	if res, _ := serve(t, s, "GET", "/metrics", nil); res.StatusCode != 404 {
		t.Errorf("/metrics on the public handler: %d", res.StatusCode)
	}
}

// TestMetricsReasons: each refusal reason is counted under its label.
func TestMetricsReasons(t *testing.T) {
	m := metrics.New()
	s := newReceiptServer(t, openTestStore(t), nil, WithMetrics(m), WithRateLimit(0, 0))
	p := defaultPolicies(t)[0]
	v := consentValue(p, testNow).Encode()
	for reason, body := range map[string]string{
		"too-large":      strings.Repeat(" ", 5000),
		"bad-value":      receiptJSONBody("x", "reject-all", "en", "https://mtran.my.opendatasoft.com/"),
		"bad-method":     receiptJSONBody(v, "maybe", "en", "https://mtran.my.opendatasoft.com/"),
		"bad-lang":       receiptJSONBody(v, "reject-all", "xx", "https://mtran.my.opendatasoft.com/"),
		"bad-page":       receiptJSONBody(v, "reject-all", "en", "https://mtran.my.opendatasoft.com/?q=1"),
		"bad-undeclared": receiptJSONBody(v, "reject-all", "en", "https://mtran.my.opendatasoft.com/", "bad name"),
		"clock":          receiptJSONBody(consentValue(p, testNow.Add(-72*time.Hour)).Encode(), "reject-all", "en", "https://mtran.my.opendatasoft.com/"),
	} {
		before := scrape(t, m)[`portalconsent_receipts_refused_total{reason="`+reason+`"}`]
		res, got := post(t, s, "/portals/mtran/consents", body, nil)
		if res.StatusCode < 400 {
			t.Fatalf("%s: %d", reason, res.StatusCode)
		}
		io.Discard.Write(got)
		if after := scrape(t, m)[`portalconsent_receipts_refused_total{reason="`+reason+`"}`]; after != before+1 {
			t.Errorf("%s: %v → %v (%d %s)", reason, before, after, res.StatusCode, got)
		}
	}
}
