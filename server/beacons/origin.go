package beacons

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/respond"
)

// Origins by default (issue 22): every beacon's Origin header, and the
// page it carries, must be an origin the portal's pages are served from,
// so that no other website can make its visitors' browsers send receipts,
// impressions or cookies seen again for the portal. An origin
// ("scheme://host[:port]") is allowed for policy pol, reached at the
// consent host self (the request's Host), when it is:
//
//   - one of pol.Origins when the policy declares them; else the origin of
//     pol.URL, or, when pol.CookieDomain is set, https on that domain or
//     one of its subdomains (any port);
//   - on a loopback host (localhost, 127.0.0.1, [::1]) over http or https:
//     a page served from the visitor's own machine (the demo and the tests;
//     it can send nothing a client without a browser cannot);
//   - the consent host's own (same host as self): its demo pages.
//
// Anything else, "null" (a sandboxed frame, a file) included, is refused.

// allowedOrigin reports whether origin may send beacons for pol to the
// consent host self (see above). A malformed origin is not allowed.
func allowedOrigin(pol *policy.Policy, origin, self string) bool {
	o, ok := parseOrigin(origin)
	if !ok {
		return false
	}
	if loopback(o.host) || (self != "" && strings.EqualFold(o.hostPort(), self)) {
		return true
	}
	if len(pol.Origins) > 0 {
		return slices.ContainsFunc(pol.Origins, func(s string) bool {
			d, ok := parseOrigin(s)
			return ok && d == o
		})
	}
	if u, ok := parseOrigin(pol.URL); ok && u == o {
		return true
	}
	d := pol.CookieDomain
	return d != "" && o.scheme == "https" && (o.host == d || strings.HasSuffix(o.host, "."+d))
}

// origin is a parsed origin: lowercase scheme and host (an IPv6 address
// without brackets), the port with the scheme's default made empty.
type origin struct{ scheme, host, port string }

// hostPort returns the host and port as a Host header carries them.
func (o origin) hostPort() string {
	h := o.host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	if o.port != "" {
		h += ":" + o.port
	}
	return h
}

// parseOrigin returns the origin of s, an http(s) URL with a host (any
// path is ignored: s may be a policy's url); false for anything else.
func parseOrigin(s string) (origin, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return origin{}, false
	}
	o := origin{scheme: strings.ToLower(u.Scheme), host: strings.ToLower(u.Hostname()), port: u.Port()}
	switch {
	case o.scheme == "http" && o.port == "80", o.scheme == "https" && o.port == "443":
		o.port = ""
	case o.scheme != "http" && o.scheme != "https":
		return origin{}, false
	}
	return o, o.host != ""
}

// loopback reports whether host names the visitor's own machine.
func loopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// checkOrigin refuses (403, reason "origin") an Origin header o that may
// not send beacons for pol (allowedOrigin) to r's host; no header (a
// client that is not a browser) passes: the page, where the beacon carries
// one, is checked instead.
func checkOrigin(r *http.Request, pol *policy.Policy, noun string) error {
	o := r.Header.Get("Origin")
	if o == "" || allowedOrigin(pol, o, r.Host) {
		return nil
	}
	return respond.Refuse(http.StatusForbidden, "origin", "origin %q may not send %ss for portal %q: %s",
		respond.Clip(o, 128), noun, pol.ID, originsText(pol))
}

// originsText says which origins pol takes beacons from, for a refusal.
func originsText(pol *policy.Policy) string {
	if len(pol.Origins) > 0 {
		return "its origins are " + strings.Join(pol.Origins, ", ")
	}
	if pol.CookieDomain != "" {
		return "its pages are on " + pol.URL + " or https subdomains of " + pol.CookieDomain
	}
	return "its pages are on " + pol.URL
}
