package ratelimit

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestParseTrusted(t *testing.T) {
	got, err := ParseTrusted(" 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,::ffff:172.16.0.0/108,10.1.2.3/8")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "172.16.0.0/12", "10.0.0.0/8"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("entry %d: %v, want %s", i, got[i], want[i])
		}
	}
	if got, err := ParseTrusted("  "); err != nil || got != nil {
		t.Errorf("empty list: %v, %v; want none", got, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "10.0.0.0/8,", "proxy.internal", "10.0.0/8", "fe80::1%eth0", "10.0.0.0/8;192.0.2.0/24", "*"} {
		_, err := ParseTrusted(bad)
		if err == nil {
			t.Errorf("ParseTrusted(%q) accepted", bad)
			continue
		}
		if !strings.Contains(err.Error(), "not a CIDR") {
			t.Errorf("ParseTrusted(%q): %v, want it to say why", bad, err)
		}
	}
	_, err = ParseTrusted("10.0.0.0/8,nope/3")
	if err == nil || !strings.Contains(err.Error(), `"nope/3"`) {
		t.Errorf("the error %v does not name the bad entry", err)
	}
}

// TestClientsAddr tries the ways in: a visitor forging X-Forwarded-For
// directly, through the trusted balancer, with several lines, with
// trusted-looking or malformed entries, and an untrusted peer relaying a
// forged header. Only the address a trusted proxy wrote is believed.
func TestClientsAddr(t *testing.T) {
	trusted, err := ParseTrusted("10.0.0.0/8,2001:db8:1::/48")
	if err != nil {
		t.Fatal(err)
	}
	lb := NewClients(trusted)
	none := NewClients(nil)
	for _, tc := range []struct {
		name    string
		c       *Clients
		remote  string
		xff     []string // lines
		want    string
		wantKey string
	}{
		{"no proxy trusted: the header is ignored", none, "198.51.100.7:5000", []string{"203.0.113.9"}, "198.51.100.7", "198.51.100.7"},
		{"nil Clients: the header is ignored", nil, "198.51.100.7:5000", []string{"203.0.113.9"}, "198.51.100.7", "198.51.100.7"},
		{"a visitor connecting directly forges the header", lb, "198.51.100.7:5000", []string{"203.0.113.9"}, "198.51.100.7", "198.51.100.7"},
		{"a visitor forges a trusted address directly", lb, "198.51.100.7:5000", []string{"10.0.0.2"}, "198.51.100.7", "198.51.100.7"},
		{"through the balancer", lb, "10.0.0.1:5000", []string{"203.0.113.9"}, "203.0.113.9", "203.0.113.9"},
		{"through the balancer, the visitor's forged entry on the left", lb, "10.0.0.1:5000", []string{"192.0.2.66, 203.0.113.9"}, "203.0.113.9", "203.0.113.9"},
		{"the forged line first, the balancer's line last", lb, "10.0.0.1:5000", []string{"192.0.2.66", "203.0.113.9"}, "203.0.113.9", "203.0.113.9"},
		{"a forged trusted address left of the real client", lb, "10.0.0.1:5000", []string{"10.9.9.9, 203.0.113.9"}, "203.0.113.9", "203.0.113.9"},
		{"two trusted proxies in a row", lb, "10.0.0.1:5000", []string{"192.0.2.66, 203.0.113.9, 10.0.0.2"}, "203.0.113.9", "203.0.113.9"},
		{"garbage written by the visitor, left of the client", lb, "10.0.0.1:5000", []string{"<script>, 203.0.113.9"}, "203.0.113.9", "203.0.113.9"},
		{"garbage right after the trusted proxies: the outermost proxy stands for the client", lb, "10.0.0.1:5000", []string{"203.0.113.9, garbage, 10.0.0.2"}, "10.0.0.2", "10.0.0.2"},
		{"no header from a trusted peer", lb, "10.0.0.1:5000", nil, "10.0.0.1", "10.0.0.1"},
		{"every entry trusted", lb, "10.0.0.1:5000", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3", "10.0.0.3"},
		{"empty entries are skipped", lb, "10.0.0.1:5000", []string{"203.0.113.9,, "}, "203.0.113.9", "203.0.113.9"},
		{"an entry with a port", lb, "10.0.0.1:5000", []string{"203.0.113.9:443"}, "203.0.113.9", "203.0.113.9"},
		{"an IPv4-mapped client", lb, "10.0.0.1:5000", []string{"::ffff:203.0.113.9"}, "203.0.113.9", "203.0.113.9"},
		{"an IPv4-mapped trusted peer", lb, "[::ffff:10.0.0.1]:5000", []string{"203.0.113.9"}, "203.0.113.9", "203.0.113.9"},
		{"an IPv6 client keyed by its /64", lb, "[2001:db8:1::5]:5000", []string{"2001:db8:aaaa:bbbb:1:2:3:4"}, "2001:db8:aaaa:bbbb:1:2:3:4", "2001:db8:aaaa:bbbb::/64"},
		{"an IPv6 client in brackets with a port", lb, "10.0.0.1:5000", []string{"[2001:db8:aaaa:bbbb::9]:443"}, "2001:db8:aaaa:bbbb::9", "2001:db8:aaaa:bbbb::/64"},
		{"an IPv6 peer, no proxy trusted", none, "[2001:db8:aaaa:bbbb:ffff::1]:5000", []string{"203.0.113.9"}, "2001:db8:aaaa:bbbb:ffff::1", "2001:db8:aaaa:bbbb::/64"},
		{"a zone is dropped", none, "[fe80::1%eth0]:5000", nil, "fe80::1", "fe80::/64"},
		{"an untrusted IPv6 peer relays a forged header", lb, "[2001:db8:2::1]:5000", []string{"203.0.113.9"}, "2001:db8:2::1", "2001:db8:2::/64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
			for _, l := range tc.xff {
				r.Header.Add("X-Forwarded-For", l)
			}
			a, ok := tc.c.Addr(r)
			if !ok || a != netip.MustParseAddr(tc.want) {
				t.Errorf("Addr = %v, %v; want %s", a, ok, tc.want)
			}
			if got := tc.c.Key(r); got != tc.wantKey {
				t.Errorf("Key = %q, want %q", got, tc.wantKey)
			}
		})
	}
}

func TestClientsHopsBounded(t *testing.T) {
	lb := NewClients([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	// 40 trusted hops after the client: past maxForwardedHops, the walk
	// stops at a trusted address rather than read on into the header.
	hops := []string{"203.0.113.9"}
	for range 40 {
		hops = append(hops, "10.0.0.2")
	}
	r := &http.Request{RemoteAddr: "10.0.0.1:1", Header: http.Header{"X-Forwarded-For": {strings.Join(hops, ",")}}}
	if got, _ := lb.Addr(r); got != netip.MustParseAddr("10.0.0.2") {
		t.Errorf("Addr = %v, want the outermost trusted proxy read (10.0.0.2)", got)
	}
}

func TestClientsNotAnAddress(t *testing.T) {
	for _, c := range []*Clients{nil, NewClients([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")})} {
		r := &http.Request{RemoteAddr: "@", Header: http.Header{"X-Forwarded-For": {"203.0.113.9"}}}
		if _, ok := c.Addr(r); ok {
			t.Error("Addr of RemoteAddr \"@\" reported an address")
		}
		if got := c.Key(r); got != "@" {
			t.Errorf("Key = %q, want the RemoteAddr itself", got)
		}
	}
}
