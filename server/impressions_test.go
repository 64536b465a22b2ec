package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// impressionCount returns the impressions the store counted for portal on
// testNow's day, by revision and language.
func impressionCount(t *testing.T, s *Server, portal string) map[string]int64 {
	t.Helper()
	day := testNow.Truncate(24 * time.Hour)
	st, err := s.store.Stats(context.Background(), portal, day, day.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, d := range st.Days {
		for _, g := range d.Groups {
			if g.Impressions > 0 {
				out[fmt.Sprintf("%d/%s", g.Revision, g.Lang)] = g.Impressions
			}
		}
	}
	return out
}

func TestPostImpression(t *testing.T) {
	s := newReceiptServer(t, openTestStore(t), nil)
	rev := testPortal(t, s, "mtran").Policy.Revision
	body := func(rev int, lang string) string { return fmt.Sprintf(`{"revision":%d,"lang":%q}`, rev, lang) }
	for _, tt := range []struct {
		name, target, body string
		status             int
	}{
		{"counted", "/portals/mtran/impressions", body(rev, "fr"), 204},
		{"language case", "/portals/mtran/impressions", body(rev, "FR"), 204},
		{"english", "/portals/mtran/impressions", body(rev, "en"), 204},
		{"unknown portal", "/portals/nope/impressions", body(rev, "fr"), 404},
		{"empty body", "/portals/mtran/impressions", "", 400},
		{"not json", "/portals/mtran/impressions", "revision=1", 400},
		{"no revision", "/portals/mtran/impressions", `{"lang":"fr"}`, 400},
		{"revision not a number", "/portals/mtran/impressions", `{"revision":"1","lang":"fr"}`, 400},
		{"unknown field", "/portals/mtran/impressions", `{"revision":1,"lang":"fr","id":"x"}`, 400},
		{"data after it", "/portals/mtran/impressions", body(rev, "fr") + "{}", 400},
		{"language not offered", "/portals/mtran/impressions", body(rev, "ja"), 400},
		{"too big", "/portals/mtran/impressions", `{"revision":1,"lang":"` + strings.Repeat("x", 300) + `"}`, 413},
		{"revision not served", "/portals/mtran/impressions", body(rev+1, "fr"), 422},
		{"revision never served", "/portals/mtran/impressions", body(rev-1, "fr"), 422},
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
	want := map[string]int64{fmt.Sprintf("%d/fr", rev): 2, fmt.Sprintf("%d/en", rev): 1}
	if got := impressionCount(t, s, "mtran"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("impressions counted %v, want %v", got, want)
	}
}

// TestPostImpressionEarlierRevision: a banner of the revision served before
// a policy change (a cached configuration) is counted under that revision.
func TestPostImpressionEarlierRevision(t *testing.T) {
	st := openTestStore(t)
	old := defaultPolicies(t)
	s := newReceiptServer(t, st, old)
	changed := defaultPolicies(t)
	changed[0].Revision = old[0].Revision + 1
	if err := s.SetPolicies(changed); err != nil {
		t.Fatal(err)
	}
	res, got := post(t, s, "/portals/mtran/impressions", fmt.Sprintf(`{"revision":%d,"lang":"en"}`, old[0].Revision), nil)
	if res.StatusCode != 204 {
		t.Fatalf("earlier revision: %d %s", res.StatusCode, got)
	}
	if got, want := impressionCount(t, s, "mtran"), fmt.Sprintf("map[%d/en:1]", old[0].Revision); fmt.Sprint(got) != want {
		t.Errorf("impressions %v, want %s", got, want)
	}
}

func TestPostImpressionRateLimit(t *testing.T) {
	s := newReceiptServer(t, openTestStore(t), nil, WithRateLimit(1, 2))
	body := fmt.Sprintf(`{"revision":%d,"lang":"en"}`, testPortal(t, s, "mtran").Policy.Revision)
	send := func(target, addr string) *http.Response {
		req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Result()
	}
	for i := range 2 {
		if res := send("/portals/mtran/impressions", "192.0.2.1:1000"); res.StatusCode != 204 {
			t.Fatalf("request %d: %d", i+1, res.StatusCode)
		}
	}
	if res := send("/portals/mtran/impressions", "192.0.2.1:2000"); res.StatusCode != 429 || res.Header.Get("Retry-After") != "1" {
		t.Fatalf("3rd request: %d, Retry-After %q; want 429 with 1", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if res := send("/portals/mtran/impressions", "192.0.2.2:1000"); res.StatusCode != 204 {
		t.Fatalf("another client: %d", res.StatusCode)
	}
	// Impressions have a bucket of their own: the client may still send
	// its receipts.
	p := testPortal(t, s, "mtran").Policy
	res, got := post(t, s, "/portals/mtran/consents", receiptJSONBody(consentValue(p, testNow).Encode(), "reject-all", "en", "https://mtran.my.opendatasoft.com/"), http.Header{})
	if res.StatusCode != 201 {
		t.Errorf("receipt after impressions were limited: %d %s", res.StatusCode, got)
	}
}

func TestPostImpressionStoreDown(t *testing.T) {
	st := openTestStore(t)
	s := newReceiptServer(t, st, nil)
	body := fmt.Sprintf(`{"revision":%d,"lang":"en"}`, testPortal(t, s, "mtran").Policy.Revision) // built while the store is up
	st.Close()
	if res, got := post(t, s, "/portals/mtran/impressions", body, nil); res.StatusCode != 503 || !strings.Contains(string(got), "retry later") {
		t.Fatalf("closed store: %d %s, want 503", res.StatusCode, got)
	}
	s0, err := New(defaultPolicies(t), fakeAssetsFS())
	if err != nil {
		t.Fatal(err)
	}
	if res, got := post(t, s0, "/portals/mtran/impressions", body, nil); res.StatusCode != 503 {
		t.Fatalf("no store: %d %s", res.StatusCode, got)
	}
}
