package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// TestTrustedProxiesRateLimit: behind a trusted balancer, each visitor has
// a bucket of its own (the address the balancer put in X-Forwarded-For),
// one visitor past its rate is refused, a forged header changes nothing
// (neither from a visitor connecting directly nor to the left of the
// balancer's entry), and an IPv6 visitor is limited by its /64.
func TestTrustedProxiesRateLimit(t *testing.T) {
	st := openTestStore(t)
	s := newReceiptServer(t, st, nil, WithRateLimit(1, 2),
		WithTrustedProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}))
	p := testPortal(t, s, "mtran").Policy
	send := func(remote string, xff ...string) int {
		req := httptest.NewRequest(http.MethodPost, "/portals/mtran/consents",
			strings.NewReader(receiptJSONBody(consentValue(p, testNow).Encode(), "reject-all", "en", "https://mtran.my.opendatasoft.com/")))
		req.RemoteAddr = remote
		for _, v := range xff {
			req.Header.Add("X-Forwarded-For", v)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Code
	}
	// Fifty visitors through the balancer, two receipts each: none refused,
	// although they all come from the balancer's one address.
	for i := range 50 {
		for range 2 {
			if code := send("10.0.0.1:4000", "198.51.100."+strconv.Itoa(i)); code != 201 {
				t.Fatalf("visitor %d through the balancer: %d, want 201", i, code)
			}
		}
	}
	// One visitor beyond its rate is refused, whatever it writes to the
	// left of the balancer's entry, through either of two balancers.
	for _, xff := range [][]string{{"198.51.100.0"}, {"203.0.113.1, 198.51.100.0"}, {"203.0.113.2", "198.51.100.0"}} {
		if code := send("10.0.0.2:4000", xff...); code != 429 {
			t.Errorf("visitor past its rate with X-Forwarded-For %q: %d, want 429", xff, code)
		}
	}
	// A visitor connecting directly cannot buy buckets with a forged header.
	for i := range 3 {
		code := send("192.0.2.9:5000", "203.0.113."+strconv.Itoa(i))
		if want := map[bool]int{true: 201, false: 429}[i < 2]; code != want {
			t.Errorf("direct visitor's request %d with a forged header: %d, want %d", i+1, code, want)
		}
	}
	// An IPv6 visitor changing addresses within its /64 shares one bucket.
	for i := range 3 {
		code := send("10.0.0.1:4000", "2001:db8:aa:bb::"+strconv.Itoa(i+1))
		if want := map[bool]int{true: 201, false: 429}[i < 2]; code != want {
			t.Errorf("IPv6 request %d within one /64: %d, want %d", i+1, code, want)
		}
	}
	if code := send("10.0.0.1:4000", "2001:db8:aa:cc::1"); code != 201 {
		t.Errorf("another /64: %d, want 201", code)
	}
}

// TestUntrustedForwardedForIgnored: without WithTrustedProxies the header
// is ignored, so the balancer's address is the one client.
func TestUntrustedForwardedForIgnored(t *testing.T) {
	st := openTestStore(t)
	s := newReceiptServer(t, st, nil, WithRateLimit(1, 2))
	p := testPortal(t, s, "mtran").Policy
	codes := []int{}
	for i := range 3 {
		req := httptest.NewRequest(http.MethodPost, "/portals/mtran/consents",
			strings.NewReader(receiptJSONBody(consentValue(p, testNow).Encode(), "reject-all", "en", "https://mtran.my.opendatasoft.com/")))
		req.RemoteAddr = "10.0.0.1:4000"
		req.Header.Set("X-Forwarded-For", "198.51.100."+strconv.Itoa(i))
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		codes = append(codes, rec.Code)
	}
	if codes[0] != 201 || codes[1] != 201 || codes[2] != 429 {
		t.Errorf("codes %v, want 201 201 429: the header must be ignored", codes)
	}
}

// TestTrustedProxiesSignInLimit: the sign-in limit keys on the client
// behind the balancer, not on the balancer.
func TestTrustedProxiesSignInLimit(t *testing.T) {
	now := testNow
	s := newConsoleServer(t, &now, WithSignInRate(0.2, 2),
		WithTrustedProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}))
	csrf, c := getSignInForm(t, s, "http")
	try := func(client, token string) int {
		r := signInRequest("http", csrf, c, token)
		r.RemoteAddr = "10.0.0.1:1234"
		r.Header.Set("X-Forwarded-For", client)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, r)
		return rec.Code
	}
	for i, want := range []int{401, 401, 429} {
		if code := try("203.0.113.5", "wrong-token-0123456789abcdef"); code != want {
			t.Fatalf("attempt %d: %d, want %d", i+1, code, want)
		}
	}
	// Another operator behind the same balancer signs in.
	if code := try("198.51.100.7", aliceToken); code != 303 {
		t.Errorf("another client behind the balancer: %d, want 303", code)
	}
}
