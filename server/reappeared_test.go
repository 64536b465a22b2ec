package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/server/metrics"
	"github.com/portalconsent/portalconsent/server/receipts"
)

func TestPostReappeared(t *testing.T) {
	st := openTestStore(t)
	m := metrics.New()
	s := newReceiptServer(t, st, withStatsCookies(t), WithMetrics(m))
	rev := testPortal(t, s, "mtran").Policy.Revision
	body := func(rev int, names, page string) string {
		return fmt.Sprintf(`{"revision":%d,"names":%s,"page":%q}`, rev, names, page)
	}
	const page = "https://mtran.my.opendatasoft.com/data"
	for _, tt := range []struct {
		name, target, body string
		status             int
	}{
		{"counted", "/portals/mtran/cookies/reappeared", body(rev, `["_ga","_pk_id.1.ab"]`, page), 204},
		{"a name twice", "/portals/mtran/cookies/reappeared", body(rev, `["_ga","_ga"]`, page+"/2"), 204},
		{"unknown portal", "/portals/nope/cookies/reappeared", body(rev, `["_ga"]`, page), 404},
		{"empty body", "/portals/mtran/cookies/reappeared", "", 400},
		{"not json", "/portals/mtran/cookies/reappeared", "names=_ga", 400},
		{"no revision", "/portals/mtran/cookies/reappeared", `{"names":["_ga"],"page":"` + page + `"}`, 400},
		{"unknown field", "/portals/mtran/cookies/reappeared", `{"revision":1,"names":["_ga"],"page":"` + page + `","consentId":"x"}`, 400},
		{"data after it", "/portals/mtran/cookies/reappeared", body(rev, `["_ga"]`, page) + "{}", 400},
		{"no names", "/portals/mtran/cookies/reappeared", body(rev, `[]`, page), 400},
		{"too many names", "/portals/mtran/cookies/reappeared", body(rev, `[`+strings.Repeat(`"_ga",`, 32)+`"_ga"]`, page), 400},
		{"undeclared name", "/portals/mtran/cookies/reappeared", body(rev, `["_hjid"]`, page), 400},
		{"not a cookie name", "/portals/mtran/cookies/reappeared", body(rev, `["_pk_id.<b>x"]`, page), 400},
		{"a declared pattern as a name", "/portals/mtran/cookies/reappeared", body(rev, `["_pk_id.*"]`, page), 400},
		{"a wildcard name", "/portals/mtran/cookies/reappeared", body(rev, `["*"]`, page), 400},
		{"a necessary cookie", "/portals/mtran/cookies/reappeared", body(rev, `["sessionid"]`, page), 400},
		{"page with a query", "/portals/mtran/cookies/reappeared", body(rev, `["_ga"]`, page+"?q=1"), 400},
		{"no page", "/portals/mtran/cookies/reappeared", body(rev, `["_ga"]`, ""), 400},
		{"too big", "/portals/mtran/cookies/reappeared", body(rev, `["_ga"]`, page+"/"+strings.Repeat("x", 2100)), 413},
		{"revision not served", "/portals/mtran/cookies/reappeared", body(rev+1, `["_ga"]`, page), 422},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, got := post(t, s, tt.target, tt.body, nil)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d %s, want %d", res.StatusCode, got, tt.status)
			}
			if res.Header.Get("Access-Control-Allow-Origin") != "*" || res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("headers %v", res.Header)
			}
			if tt.status == 204 && len(got) != 0 {
				t.Errorf("204 with a body %q", got)
			}
			if tt.status != 204 && !strings.Contains(string(got), `"error"`) {
				t.Errorf("body %s is not a JSON error", got)
			}
		})
	}
	day := testNow.Truncate(24 * time.Hour)
	rs, err := st.Reappeared(context.Background(), "mtran", day, day.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rs {
		got[r.Name] = fmt.Sprintf("%s %d %v", r.Category, r.Count, r.Pages)
	}
	want := map[string]string{"_ga": "statistical 2 [" + page + " " + page + "/2]", "_pk_id.1.ab": "statistical 1 [" + page + "]"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tallies %v, want %v", got, want)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `portalconsent_cookies_reappeared_total{portal="mtran"} 3`) {
		t.Errorf("metrics lack the 3 cookies counted:\n%s", rec.Body)
	}
}

func TestPostReappearedRateLimitAndStoreDown(t *testing.T) {
	st := openTestStore(t)
	s := newReceiptServer(t, st, withStatsCookies(t), WithRateLimit(1, 2))
	body := fmt.Sprintf(`{"revision":%d,"names":["_ga"],"page":"https://mtran.my.opendatasoft.com/"}`, testPortal(t, s, "mtran").Policy.Revision)
	send := func(addr string) *http.Response {
		req := httptest.NewRequest(http.MethodPost, "/portals/mtran/cookies/reappeared", strings.NewReader(body))
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Result()
	}
	for i := range 2 {
		if res := send("192.0.2.1:1000"); res.StatusCode != 204 {
			t.Fatalf("request %d: %d", i+1, res.StatusCode)
		}
	}
	if res := send("192.0.2.1:2000"); res.StatusCode != 429 || res.Header.Get("Retry-After") != "1" {
		t.Fatalf("3rd request: %d, Retry-After %q; want 429 with 1", res.StatusCode, res.Header.Get("Retry-After"))
	}
	st.Close()
	if res := send("192.0.2.9:1000"); res.StatusCode != 503 {
		t.Fatalf("closed store: %d, want 503", res.StatusCode)
	}
}

func TestAPIReappeared(t *testing.T) {
	st := openTestStore(t)
	s := newReceiptServer(t, st, withStatsCookies(t))
	ctx := context.Background()
	for _, at := range []int{-2, -1} {
		if err := st.CountReappeared(ctx, "mtran", "https://portal.example/a", []receipts.ReappearedCookie{{Name: "_ga", Category: "statistical"}}, testNow.AddDate(0, 0, at)); err != nil {
			t.Fatal(err)
		}
	}
	_, body := serve(t, s, "GET", "/api/v1/portals/mtran/cookies/reappeared?from=2026-02-01&to=2026-03-03", http.Header{"Authorization": {"Bearer " + testAdminToken}})
	var got []map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if len(got) != 1 || got[0]["name"] != "_ga" || got[0]["category"] != "statistical" || got[0]["count"] != 2.0 ||
		got[0]["firstSeen"] != testNow.AddDate(0, 0, -2).Truncate(time.Microsecond).Format(time.RFC3339Nano) {
		t.Errorf("reappeared: %s", body)
	}
	res, body := serve(t, s, "GET", "/api/v1/portals/mtran/cookies/reappeared?from=2026-03-05&to=2026-03-01", http.Header{"Authorization": {"Bearer " + testAdminToken}})
	if res.StatusCode != 400 {
		t.Errorf("from after to: %d %s", res.StatusCode, body)
	}
	_, body = serve(t, s, "GET", "/api/v1/portals/twisto/cookies/reappeared", http.Header{"Authorization": {"Bearer " + testAdminToken}})
	if strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("none: %s", body)
	}
}

// TestBeaconsPageOutsideOrigins: a page outside the origins a policy
// declares is one refusal, 403, on both beacons that carry a page (the
// receipt contract's status; the reappeared beacon answered 400 before the
// beacons shared their intake), and a page inside them is taken.
func TestBeaconsPageOutsideOrigins(t *testing.T) {
	ps := withStatsCookies(t)
	ps[0].Origins = []string{"https://portal.example"}
	s := newReceiptServer(t, openTestStore(t), ps)
	p := testPortal(t, s, "mtran").Policy
	reappeared := func(page string) string {
		return fmt.Sprintf(`{"revision":%d,"names":["_ga"],"page":%q}`, p.Revision, page)
	}
	receipt := func(page string) string {
		return receiptJSONBody(consentValue(p, testNow).Encode(), "reject-all", "en", page)
	}
	for _, tt := range []struct {
		name, target, body string
		status             int
	}{
		{"reappeared, outside", "/portals/mtran/cookies/reappeared", reappeared("https://evil.example/data"), 403},
		{"reappeared, another scheme", "/portals/mtran/cookies/reappeared", reappeared("http://portal.example/data"), 403},
		{"reappeared, inside", "/portals/mtran/cookies/reappeared", reappeared("https://portal.example/data"), 204},
		{"receipt, outside", "/portals/mtran/consents", receipt("https://evil.example/data"), 403},
		{"receipt, inside", "/portals/mtran/consents", receipt("https://portal.example/data"), 201},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if res, got := post(t, s, tt.target, tt.body, nil); res.StatusCode != tt.status {
				t.Errorf("status %d %s, want %d", res.StatusCode, got, tt.status)
			}
		})
	}
}
