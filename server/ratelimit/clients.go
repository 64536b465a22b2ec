package ratelimit

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds the X-Forwarded-For entries Clients reads, from
// the right: more proxies than this in front of a host is a mistake, and
// the rest of the header is the client's to write.
const maxForwardedHops = 32

// Clients tells the address a request comes from. Without trusted proxies
// it is the peer of the connection (RemoteAddr) and X-Forwarded-For is
// ignored: any visitor may write it. With trusted proxies, for a request
// whose peer is one of them, it is the right-most address of
// X-Forwarded-For (all its lines, in order) that is not a trusted proxy:
// each trusted proxy appends the address it received the request from, so
// that address is the first one no trusted party wrote. A nil *Clients
// trusts no proxy.
type Clients struct {
	trusted []netip.Prefix
}

// NewClients returns the Clients that believe X-Forwarded-For from the
// proxies of trusted (none: the header is ignored).
func NewClients(trusted []netip.Prefix) *Clients {
	c := &Clients{}
	for _, p := range trusted {
		c.trusted = append(c.trusted, p.Masked())
	}
	return c
}

// ParseTrusted parses a comma-separated list of CIDR prefixes
// ("10.0.0.0/8,2001:db8::/32"; a bare address is one host) as given to
// -trusted-proxies. Spaces around entries are ignored and an empty list is
// none; a malformed entry is an error naming it.
func ParseTrusted(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	for e := range strings.SplitSeq(list, ",") {
		e = strings.TrimSpace(e)
		var p netip.Prefix
		var err error
		if strings.Contains(e, "/") {
			p, err = netip.ParsePrefix(e)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(e); err == nil && a.Zone() == "" {
				p = netip.PrefixFrom(a, a.BitLen())
			} else if err == nil {
				err = fmt.Errorf("zone")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("trusted proxies: %q is not a CIDR prefix (such as 10.0.0.0/8 or 2001:db8::/32) nor an address", e)
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p.Addr()))
		out = append(out, p.Masked())
	}
	return out, nil
}

// unmapBits is how many bits of a prefix length Unmap takes away: 96 for
// an IPv4-mapped IPv6 address (::ffff:10.0.0.0/104 is 10.0.0.0/8).
func unmapBits(a netip.Addr) int {
	if a.Is4In6() {
		return 96
	}
	return 0
}

// trusts reports whether a is one of the trusted proxies.
func (c *Clients) trusts(a netip.Addr) bool {
	if c == nil {
		return false
	}
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Addr returns the address r comes from (see Clients), IPv4-mapped IPv6
// addresses as IPv4, and false when RemoteAddr is not an address (a test's
// or a Unix socket's).
func (c *Clients) Addr(r *http.Request) (netip.Addr, bool) {
	peer, ok := parseAddr(r.RemoteAddr)
	if !ok || !c.trusts(peer) {
		return peer, ok
	}
	// Walk the entries from the right. Each trusted one was written by the
	// trusted proxy in front of it; the first one that is not trusted is
	// the client. A malformed entry, or none beyond the trusted ones, means
	// the client is not known: the outermost trusted proxy stands for it.
	client := peer
	values := r.Header.Values("X-Forwarded-For")
	hops := 0
	for i := len(values) - 1; i >= 0; i-- {
		rest := values[i]
		for rest != "" {
			var e string
			if k := strings.LastIndexByte(rest, ','); k >= 0 {
				rest, e = rest[:k], rest[k+1:]
			} else {
				rest, e = "", rest
			}
			if e = strings.TrimSpace(e); e == "" {
				continue // "a,,b": nobody's address
			}
			hops++
			a, ok := parseAddr(e)
			if !ok || hops > maxForwardedHops {
				return client, true
			}
			if !c.trusts(a) {
				return a, true
			}
			client = a
		}
	}
	return client, true
}

// Key returns the key r is rate-limited by: its client's address (Addr),
// an IPv6 one by its /64 (a host is given a /64, and picks addresses in
// it at will), or the whole RemoteAddr when that is not an address.
func (c *Clients) Key(r *http.Request) string {
	a, ok := c.Addr(r)
	if !ok {
		return r.RemoteAddr
	}
	return AddrKey(a)
}

// AddrKey returns the rate-limit key of a: an IPv4 address itself, an IPv6
// address its /64 prefix.
func AddrKey(a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// parseAddr parses an address as found in RemoteAddr or X-Forwarded-For:
// "192.0.2.1", "192.0.2.1:5678", "2001:db8::1", "[2001:db8::1]:443",
// without a zone, IPv4-mapped IPv6 unmapped.
func parseAddr(s string) (netip.Addr, bool) {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}
