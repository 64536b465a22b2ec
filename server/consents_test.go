package server

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// testNow is the clock of the receipt tests.
var testNow = time.Date(2026, 3, 3, 10, 0, 0, 123456789, time.UTC)

// newReceiptServer returns a server for ps (the defaults when nil) keeping
// receipts in st, with the admin token and the test clock.
func newReceiptServer(t testing.TB, st receipts.Store, ps []*policy.Policy, opts ...Option) *Server {
	t.Helper()
	if ps == nil {
		ps = defaultPolicies(t)
	}
	opts = append([]Option{WithReceipts(st), WithClock(func() time.Time { return testNow }), WithAdminToken(testAdminToken)}, opts...)
	s, err := New(ps, fakeAssetsFS(), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// post sends body to POST target from the client at addr (RemoteAddr).
func post(t testing.TB, h http.Handler, target, body string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result(), rec.Body.Bytes()
}

func TestPostConsent(t *testing.T) {
	st := openTestStore(t)
	s := newReceiptServer(t, st, nil)
	mtran := testPortal(t, s, "mtran")
	c := consentValue(mtran.Policy, testNow.Add(-3*time.Second), "statistical")
	body := receiptJSONBody(c.Encode(), "custom", "fr", "https://mtran.my.opendatasoft.com/explore/", "mystery", "sessionid", "mystery", "_ga")
	res, got := post(t, s, "/portals/mtran/consents", body, nil)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("status %d %s, want 201", res.StatusCode, got)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var ack struct{ ReceiptID, ReceivedAt string }
	if err := json.Unmarshal(got, &ack); err != nil {
		t.Fatal(err)
	}
	if at, err := time.Parse(time.RFC3339Nano, ack.ReceivedAt); err != nil || !at.Equal(testNow.Truncate(time.Microsecond)) {
		t.Errorf("receivedAt %q, want %v", ack.ReceivedAt, testNow)
	}
	rs, err := st.Consent(context.Background(), "mtran", c.ID)
	if err != nil || len(rs) != 1 {
		t.Fatalf("Consent = %v, %v; want one receipt", rs, err)
	}
	r := rs[0]
	fr := mtran.Exact("fr")
	want := receipts.Receipt{
		ID: ack.ReceiptID, Portal: "mtran", Seq: 1, ConsentID: c.ID, Revision: int64(c.Revision),
		Choices: c.Choices, Method: "custom", Lang: "fr", Page: "https://mtran.my.opendatasoft.com/explore/",
		DecidedAt: c.Decided, ReceivedAt: testNow.Truncate(time.Microsecond), Notice: fr.Notice.SHA256,
		Prev: receipts.Genesis, Hash: r.Hash,
	}
	if r.ID != want.ID || r.Portal != want.Portal || r.Seq != 1 || r.ConsentID != want.ConsentID ||
		r.Revision != want.Revision || receipts.EncodeChoices(r.Choices) != receipts.EncodeChoices(want.Choices) ||
		r.Method != want.Method || r.Lang != want.Lang || r.Page != want.Page || !r.DecidedAt.Equal(want.DecidedAt) ||
		!r.ReceivedAt.Equal(want.ReceivedAt) || r.Notice != want.Notice || r.Prev != receipts.Genesis || r.ComputeHash() != r.Hash {
		t.Errorf("stored receipt\n%+v\nwant\n%+v", r, want)
	}
	// The undeclared names are tallied, without the declared ones.
	tallies, err := st.Undeclared(context.Background(), "mtran", testNow.AddDate(0, 0, -1), testNow.AddDate(0, 0, 1))
	if err != nil || len(tallies) != 2 {
		t.Fatalf("Undeclared = %+v, %v; want _ga and mystery", tallies, err)
	}
	for _, u := range tallies {
		if (u.Name != "_ga" && u.Name != "mystery") || u.Count != 1 || len(u.Pages) != 1 {
			t.Errorf("tally %+v", u)
		}
	}

	// The operator API shows it, its notice and the CSV row.
	auth := http.Header{"Authorization": {"Bearer " + testAdminToken}}
	res, got = serve(t, s, "GET", "/api/v1/portals/mtran/consents/"+c.ID, auth)
	if res.StatusCode != 200 {
		t.Fatalf("lookup: %d %s", res.StatusCode, got)
	}
	var look struct {
		ConsentID string
		Receipts  []map[string]any
	}
	if err := json.Unmarshal(got, &look); err != nil || look.ConsentID != c.ID || len(look.Receipts) != 1 {
		t.Fatalf("lookup body %s (%v)", got, err)
	}
	lr := look.Receipts[0]
	if lr["receiptId"] != ack.ReceiptID || lr["method"] != "custom" || lr["lang"] != "fr" || lr["policy"] != fr.Notice.SHA256 ||
		lr["decidedAt"] != c.Decided.Format(time.RFC3339) || lr["revision"] != float64(c.Revision) {
		t.Errorf("lookup receipt %v", lr)
	}
	if !strings.Contains(string(got), `"choices":{"necessary":true,"statistical":true}`) &&
		!strings.Contains(string(got), `"choices":{"necessary":true,"statistical":true,`) {
		t.Errorf("choices not in policy order with their decisions: %s", got)
	}
	res, got = serve(t, s, "GET", "/api/v1/portals/mtran/policies/"+fr.Notice.SHA256, auth)
	if res.StatusCode != 200 || string(got) != string(fr.Notice.Body) || res.Header.Get("Content-Language") != "fr" {
		t.Errorf("notice: %d, %d bytes (want %d), lang %q", res.StatusCode, len(got), len(fr.Notice.Body), res.Header.Get("Content-Language"))
	}
	var shown policy.Policy
	if err := json.Unmarshal(got, &shown); err != nil || shown.Texts.Lang != "fr" {
		t.Errorf("notice is not the French policy: %v", err)
	}
	day := testNow.Format(time.DateOnly)
	res, got = serve(t, s, "GET", "/api/v1/portals/mtran/receipts.csv?from="+day+"&to="+day, auth)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", res.StatusCode, got)
	}
	rows, err := csv.NewReader(strings.NewReader(string(got))).ReadAll()
	if err != nil || len(rows) != 2 || strings.Join(rows[0], ",") != "receipt_id,received_at,decided_at,consent_id,revision,choices,method,lang,page,policy,writer,seq,prev,hash" {
		t.Fatalf("csv rows %q (%v)", rows, err)
	}
	if rows[1][0] != ack.ReceiptID || rows[1][3] != c.ID || rows[1][5] != receipts.EncodeChoices(c.Choices) || rows[1][9] != fr.Notice.SHA256 {
		t.Errorf("csv row %q", rows[1])
	}
	// Another day: the header only.
	res, got = serve(t, s, "GET", "/api/v1/portals/mtran/receipts.csv?from=2020-01-01&to=2020-01-02", auth)
	if res.StatusCode != 200 || strings.Count(string(got), "\n") != 1 {
		t.Errorf("empty csv: %d %q", res.StatusCode, got)
	}
}

// TestPostConsentResent sends one choice again, as the loader does when it
// did not learn the first answer: 200 with the first receipt's id and
// receive time, one receipt stored, even a week later; a choice decided
// more than 8 days ago is refused.
func TestPostConsentResent(t *testing.T) {
	st := openTestStore(t)
	now := testNow
	s := newReceiptServer(t, st, nil, WithClock(func() time.Time { return now }))
	mtran := testPortal(t, s, "mtran")
	c := consentValue(mtran.Policy, testNow.Add(-3*time.Second), "statistical")
	page := "https://mtran.my.opendatasoft.com/explore/"
	// ack(post(…))(want) checks the status and returns the receipt's id
	// and receive time.
	ack := func(res *http.Response, body []byte) func(want int) (id, at string) {
		return func(want int) (string, string) {
			t.Helper()
			var a struct{ ReceiptID, ReceivedAt string }
			if res.StatusCode != want {
				t.Fatalf("status %d %s, want %d", res.StatusCode, body, want)
			}
			if err := json.Unmarshal(body, &a); err != nil || a.ReceiptID == "" {
				t.Fatalf("answer %s (%v)", body, err)
			}
			return a.ReceiptID, a.ReceivedAt
		}
	}
	id, at := ack(post(t, s, "/portals/mtran/consents", receiptJSONBody(c.Encode(), "custom", "fr", page, "_ga"), nil))(201)
	for _, later := range []time.Duration{time.Second, 7 * 24 * time.Hour} {
		now = testNow.Add(later)
		// Another page and language: the same cookie value is the same choice.
		gotID, gotAt := ack(post(t, s, "/portals/mtran/consents", receiptJSONBody(c.Encode(), "custom", "en", page+"other", "_ga"), nil))(200)
		if gotID != id || gotAt != at {
			t.Errorf("resent %v later: receipt %s at %s, want the first, %s at %s", later, gotID, gotAt, id, at)
		}
	}
	rs, err := st.Consent(context.Background(), "mtran", c.ID)
	if err != nil || len(rs) != 1 || rs[0].ID != id {
		t.Fatalf("Consent = %+v, %v; want the first receipt only", rs, err)
	}
	tallies, err := st.Undeclared(context.Background(), "mtran", testNow.AddDate(0, 0, -1), testNow.AddDate(0, 0, 9))
	if err != nil || len(tallies) != 1 || tallies[0].Count != 1 {
		t.Errorf("Undeclared = %+v, %v; want _ga once", tallies, err)
	}
	// A new choice of the same visitor is a new receipt.
	changed := c
	changed.Choices = consentValue(mtran.Policy, c.Decided).Choices
	if id2, _ := ack(post(t, s, "/portals/mtran/consents", receiptJSONBody(changed.Encode(), "reject-all", "fr", page), nil))(201); id2 == id {
		t.Errorf("a changed choice answered the first receipt %s", id)
	}
}

func TestPostConsentRefusals(t *testing.T) {
	st := openTestStore(t)
	ps := defaultPolicies(t)
	guarded := *ps[1] // twisto, with origins
	guarded.Origins = []string{"https://twisto.opendatasoft.com"}
	s := newReceiptServer(t, st, []*policy.Policy{ps[0], &guarded})
	mtran := ps[0]
	good := consentValue(mtran, testNow)
	page := "https://mtran.my.opendatasoft.com/"
	other := *mtran
	other.Revision = mtran.Revision + 1
	otherRev := consentValue(&other, testNow)
	refusedRequired := consentValue(mtran, testNow)
	refusedRequired.Choices[0].Accepted = false
	mismatch := consentValue(mtran, testNow)
	mismatch.Choices = append(mismatch.Choices, policy.Choice{Category: "marketing", Accepted: false})
	twistoPage := "https://twisto.opendatasoft.com/page"
	twistoValue := consentValue(&guarded, testNow).Encode()
	long := make([]string, 33)
	for i := range long {
		long[i] = "c" + strings.Repeat("x", i)
	}
	for _, tt := range []struct {
		name, target, body string
		header             http.Header
		status             int
		msg                string
	}{
		{"unknown portal", "/portals/nope/consents", receiptJSONBody(good.Encode(), "accept-all", "en", page), nil, 404, "unknown portal"},
		{"not JSON", "/portals/mtran/consents", "value=1", nil, 400, "not a JSON receipt"},
		{"JSON array", "/portals/mtran/consents", "[]", nil, 400, "not a JSON receipt"},
		{"unknown field", "/portals/mtran/consents", `{"value":"x","ip":"1.2.3.4"}`, nil, 400, "unknown field"},
		{"data after", "/portals/mtran/consents", receiptJSONBody(good.Encode(), "accept-all", "en", page) + "{}", nil, 400, "after its JSON"},
		{"over 4 KiB", "/portals/mtran/consents", `{"value":"` + strings.Repeat("a", 5000) + `"}`, nil, 413, "over 4096 bytes"},
		{"empty value", "/portals/mtran/consents", receiptJSONBody("", "accept-all", "en", page), nil, 400, "value: no choice stored"},
		{"malformed value", "/portals/mtran/consents", receiptJSONBody("1|2|x", "accept-all", "en", page), nil, 400, "value: malformed"},
		{"foreign value", "/portals/mtran/consents", receiptJSONBody("yes", "accept-all", "en", page), nil, 400, "value: not a cookies_preferences"},
		{"revision never served", "/portals/mtran/consents", receiptJSONBody(otherRev.Encode(), "accept-all", "en", page), nil, 422, "is not served"},
		{"other categories", "/portals/mtran/consents", receiptJSONBody(mismatch.Encode(), "custom", "en", page), nil, 422, "does not match the policy categories"},
		{"required refused", "/portals/mtran/consents", receiptJSONBody(refusedRequired.Encode(), "custom", "en", page), nil, 422, "required category"},
		{"decided nine days ago", "/portals/mtran/consents", receiptJSONBody(consentValue(mtran, testNow.Add(-8*24*time.Hour-time.Minute)).Encode(), "reject-all", "en", page), nil, 422, "more than 8 days before"},
		{"decided tomorrow", "/portals/mtran/consents", receiptJSONBody(consentValue(mtran, testNow.Add(25*time.Hour)).Encode(), "reject-all", "en", page), nil, 422, "more than a day ahead"},
		{"unknown method", "/portals/mtran/consents", receiptJSONBody(good.Encode(), "click", "en", page), nil, 400, "method"},
		{"unknown lang", "/portals/mtran/consents", receiptJSONBody(good.Encode(), "reject-all", "ja", page), nil, 400, "no policy in \"ja\""},
		{"page with query", "/portals/mtran/consents", receiptJSONBody(good.Encode(), "reject-all", "en", page+"?q=1"), nil, 400, "page"},
		{"page with fragment", "/portals/mtran/consents", receiptJSONBody(good.Encode(), "reject-all", "en", page+"#x"), nil, 400, "page"},
		{"relative page", "/portals/mtran/consents", receiptJSONBody(good.Encode(), "reject-all", "en", "/explore"), nil, 400, "page"},
		{"page with user", "/portals/mtran/consents", receiptJSONBody(good.Encode(), "reject-all", "en", "https://me@mtran.my.opendatasoft.com/"), nil, 400, "page"},
		{"bad cookie name", "/portals/mtran/consents", receiptJSONBody(good.Encode(), "reject-all", "en", page, "a b"), nil, 400, "not a cookie name"},
		{"long cookie name", "/portals/mtran/consents", receiptJSONBody(good.Encode(), "reject-all", "en", page, strings.Repeat("n", 65)), nil, 400, "not a cookie name"},
		{"wildcard name", "/portals/mtran/consents", receiptJSONBody(good.Encode(), "reject-all", "en", page, "*"), nil, 400, "pattern character"},
		{"name with a wildcard", "/portals/mtran/consents", receiptJSONBody(good.Encode(), "reject-all", "en", page, "ok", "_pk_id.*"), nil, 400, "pattern character"},
		{"33 names", "/portals/mtran/consents", receiptJSONBody(good.Encode(), "reject-all", "en", page, long...), nil, 400, "at most 32"},
		{"origin outside", "/portals/twisto/consents", receiptJSONBody(twistoValue, "reject-all", "en", twistoPage), http.Header{"Origin": {"https://evil.example"}}, 403, "may not send receipts"},
		{"page outside origins", "/portals/twisto/consents", receiptJSONBody(twistoValue, "reject-all", "en", "https://evil.example/"), http.Header{"Origin": {"https://twisto.opendatasoft.com"}}, 403, "outside the origins"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, got := post(t, s, tt.target, tt.body, tt.header)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d %s, want %d", res.StatusCode, got, tt.status)
			}
			var e struct{ Error string }
			if err := json.Unmarshal(got, &e); err != nil || !strings.Contains(e.Error, tt.msg) {
				t.Errorf("error %s, want JSON containing %q", got, tt.msg)
			}
		})
	}
	// Nothing was stored by any of them.
	for _, p := range []string{"mtran", "twisto"} {
		n := 0
		if err := st.Export(context.Background(), p, time.Time{}, testNow.AddDate(1, 0, 0), func(*receipts.Receipt) error { n++; return nil }); err != nil || n != 0 {
			t.Errorf("%s: %d receipts stored by refused requests (%v)", p, n, err)
		}
	}
	// The guarded portal takes its own origin's receipts, and a client
	// that sends no Origin (a portal's mobile app).
	for _, h := range []http.Header{{"Origin": {"https://twisto.opendatasoft.com"}}, nil} {
		value := consentValue(&guarded, testNow).Encode() // a choice each: not a resend
		if res, got := post(t, s, "/portals/twisto/consents", receiptJSONBody(value, "reject-all", "en", twistoPage), h); res.StatusCode != 201 {
			t.Errorf("origin %v: %d %s", h, res.StatusCode, got)
		}
	}
}

func TestPostConsentRateLimit(t *testing.T) {
	st := openTestStore(t)
	s := newReceiptServer(t, st, nil, WithRateLimit(1, 2))
	p := testPortal(t, s, "mtran").Policy
	send := func(addr string) *http.Response {
		req := httptest.NewRequest(http.MethodPost, "/portals/mtran/consents",
			strings.NewReader(receiptJSONBody(consentValue(p, testNow).Encode(), "reject-all", "en", "https://mtran.my.opendatasoft.com/")))
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Result()
	}
	for i := range 2 {
		if res := send("192.0.2.1:1000"); res.StatusCode != 201 {
			t.Fatalf("request %d: %d", i+1, res.StatusCode)
		}
	}
	res := send("192.0.2.1:2000") // another connection, same client
	if res.StatusCode != 429 || res.Header.Get("Retry-After") != "1" {
		t.Fatalf("3rd request: %d, Retry-After %q; want 429 with 1", res.StatusCode, res.Header.Get("Retry-After"))
	}
	// A loader sending with fetch (mode cors) reads the status and, to
	// back off, Retry-After.
	if got := res.Header.Get("Access-Control-Expose-Headers"); got != "Retry-After" || res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("429: Access-Control-Expose-Headers %q, Allow-Origin %q; want Retry-After and *", got, res.Header.Get("Access-Control-Allow-Origin"))
	}
	if res := send("192.0.2.2:1000"); res.StatusCode != 201 {
		t.Fatalf("another client: %d", res.StatusCode)
	}
}

// TestPostConsentEarlierRevision: a choice made for the revision served
// before a policy change is still taken while within its lifetime, with
// the notice of that revision, also after a restart; a revision retired
// longer ago than its lifetime is refused.
func TestPostConsentEarlierRevision(t *testing.T) {
	st := openTestStore(t)
	old := defaultPolicies(t)
	now := testNow
	clock := func() time.Time { return now }
	s := newReceiptServer(t, st, old, WithClock(clock))
	oldNotice := testPortal(t, s, "mtran").Variants[0].Notice.SHA256

	// Ten days later the policy changes.
	now = testNow.AddDate(0, 0, 10)
	changed := defaultPolicies(t)
	changed[0].Revision = old[0].Revision + 1
	if err := s.SetPolicies(changed); err != nil {
		t.Fatal(err)
	}
	// A page still showing the old banner sends its choice.
	late := consentValue(old[0], now)
	for name, srv := range map[string]*Server{"running": s, "restarted": newReceiptServer(t, st, changed, WithClock(clock))} {
		late.Decided = late.Decided.Add(time.Second) // a choice each: not a resend
		res, got := post(t, srv, "/portals/mtran/consents", receiptJSONBody(late.Encode(), "reject-all", "en", "https://mtran.my.opendatasoft.com/"), nil)
		if res.StatusCode != 201 {
			t.Fatalf("%s: earlier revision: %d %s", name, res.StatusCode, got)
		}
	}
	rs, err := st.Consent(context.Background(), "mtran", late.ID)
	if err != nil || len(rs) != 2 || rs[0].Notice != oldNotice || rs[0].Revision != int64(old[0].Revision) {
		t.Fatalf("receipts %+v (%v), want 2 with the old notice %s", rs, err, oldNotice)
	}
	// Beyond the old revision's lifetime after it was last served: refused.
	now = testNow.AddDate(0, 0, 10+old[0].Lifetime()+1)
	s2 := newReceiptServer(t, st, changed, WithClock(clock))
	stale := consentValue(old[0], now)
	res, got := post(t, s2, "/portals/mtran/consents", receiptJSONBody(stale.Encode(), "reject-all", "en", "https://mtran.my.opendatasoft.com/"), nil)
	if res.StatusCode != 422 || !strings.Contains(string(got), "no longer served") {
		t.Fatalf("retired revision: %d %s, want 422", res.StatusCode, got)
	}
}

func TestPostConsentStoreDown(t *testing.T) {
	st := openTestStore(t)
	s := newReceiptServer(t, st, nil)
	p := testPortal(t, s, "mtran").Policy // built while the store is up
	st.Close()
	res, got := post(t, s, "/portals/mtran/consents", receiptJSONBody(consentValue(p, testNow).Encode(), "reject-all", "en", "https://mtran.my.opendatasoft.com/"), nil)
	if res.StatusCode != 503 || !strings.Contains(string(got), "retry later") {
		t.Fatalf("closed store: %d %s, want 503", res.StatusCode, got)
	}
	// A portal never built cannot be while the store is down: 503, not an
	// unknown portal.
	for _, path := range []string{"/portals/twisto/config.json", "/portals/twisto/policy", "/demo/twisto"} {
		if res, got := serve(t, s, "GET", path, nil); res.StatusCode != 503 || !strings.Contains(string(got), "retry later") {
			t.Errorf("%s of a portal never built, store closed: %d %s, want 503", path, res.StatusCode, got)
		}
	}
	// A server without a store says so.
	s0, err := New(defaultPolicies(t), fakeAssetsFS())
	if err != nil {
		t.Fatal(err)
	}
	res, got = post(t, s0, "/portals/mtran/consents", receiptJSONBody(consentValue(p, time.Now()).Encode(), "reject-all", "en", "https://mtran.my.opendatasoft.com/"), nil)
	if res.StatusCode != 503 {
		t.Fatalf("no store: %d %s", res.StatusCode, got)
	}
}

func TestAPIRefusals(t *testing.T) {
	st := openTestStore(t)
	s := newReceiptServer(t, st, nil)
	id := policy.NewConsentID()
	ok := http.Header{"Authorization": {"Bearer " + testAdminToken}}
	for _, tt := range []struct {
		name, target string
		header       http.Header
		status       int
	}{
		{"no token", "/api/v1/portals/mtran/consents/" + id, nil, 401},
		{"wrong token", "/api/v1/portals/mtran/consents/" + id, http.Header{"Authorization": {"Bearer " + testAdminToken + "x"}}, 401},
		{"token prefix", "/api/v1/portals/mtran/consents/" + id, http.Header{"Authorization": {"Bearer " + testAdminToken[:10]}}, 401},
		{"basic scheme", "/api/v1/portals/mtran/consents/" + id, http.Header{"Authorization": {"Basic " + testAdminToken}}, 401},
		{"no token, unknown portal", "/api/v1/portals/nope/consents/" + id, nil, 401},
		{"no token, notice", "/api/v1/portals/mtran/policies/" + strings.Repeat("a", 64), nil, 401},
		{"no token, csv", "/api/v1/portals/mtran/receipts.csv?from=2026-01-01&to=2026-01-02", nil, 401},
		{"none found", "/api/v1/portals/mtran/consents/" + id, ok, 404},
		{"bad consent id", "/api/v1/portals/mtran/consents/short", ok, 400},
		{"bad portal id", "/api/v1/portals/NOPE/consents/" + id, ok, 400},
		{"bad sha", "/api/v1/portals/mtran/policies/abc", ok, 400},
		{"no such notice", "/api/v1/portals/mtran/policies/" + strings.Repeat("a", 64), ok, 404},
		{"csv without dates", "/api/v1/portals/mtran/receipts.csv", ok, 400},
		{"csv bad date", "/api/v1/portals/mtran/receipts.csv?from=2026-13-01&to=2026-01-02", ok, 400},
		{"csv from after to", "/api/v1/portals/mtran/receipts.csv?from=2026-02-01&to=2026-01-02", ok, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, got := serve(t, s, "GET", tt.target, tt.header)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d %s, want %d", res.StatusCode, got, tt.status)
			}
			var e struct{ Error string }
			if err := json.Unmarshal(got, &e); err != nil || e.Error == "" {
				t.Errorf("body %s is not a JSON error", got)
			}
			if tt.status == 401 && (e.Error != "unauthorized" || res.Header.Get("WWW-Authenticate") == "") {
				t.Errorf("401 says %q (WWW-Authenticate %q): it must reveal nothing", e.Error, res.Header.Get("WWW-Authenticate"))
			}
		})
	}
	// Without an admin token the API refuses every token.
	s0 := newReceiptServer(t, st, nil, WithAdminToken(""))
	if res, _ := serve(t, s0, "GET", "/api/v1/portals/mtran/consents/"+id, http.Header{"Authorization": {"Bearer "}}); res.StatusCode != 401 {
		t.Errorf("no admin token configured, empty bearer: %d", res.StatusCode)
	}
}
