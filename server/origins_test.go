package server

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/portalconsent/portalconsent/policy"
)

// TestBeaconsOriginsByDefault: a policy without origins (mtran, the
// built-in one, url https://mtran.my.opendatasoft.com) takes beacons only
// from its url's origin, from https subdomains of its cookieDomain when it
// has one, from a loopback page (the demo, the tests) and from the consent
// host's own pages; every other Origin (another site, http on a public
// host, "null") is 403 on each of the three visitor POSTs, and so is a
// page elsewhere on the beacons that carry one, with or without an Origin.
// A page that is not http(s) (javascript:) is 400.
func TestBeaconsOriginsByDefault(t *testing.T) {
	ps := withStatsCookies(t)
	withDomain := copyOf(t, ps[0])
	withDomain.ID = "shared"
	withDomain.CookieDomain = "my.opendatasoft.com"
	ps = append(ps, withDomain)
	s := newReceiptServer(t, openTestStore(t), ps)

	const home = "https://mtran.my.opendatasoft.com"
	beacons := func(portal string, p *policy.Policy, page string) map[string]string {
		return map[string]string{
			"receipt":    receiptJSONBody(consentValue(p, testNow).Encode(), "reject-all", "en", page),
			"impression": fmt.Sprintf(`{"revision":%d,"lang":"en"}`, p.Revision),
			"reappeared": fmt.Sprintf(`{"revision":%d,"names":["_ga"],"page":%q}`, p.Revision, page),
		}
	}
	targets := map[string]string{"receipt": "consents", "impression": "impressions", "reappeared": "cookies/reappeared"}
	ok := map[string]int{"receipt": 201, "impression": 204, "reappeared": 204}

	for _, tt := range []struct {
		name, portal, origin, page string
		want                       int // 0: accepted
		impression                 int // the impression's answer, when it differs (it carries no page)
	}{
		{"the url's origin", "mtran", home, home + "/explore/", 0, 0},
		{"the url's origin, default port", "mtran", home + ":443", home + ":443/explore/", 0, 0},
		{"no Origin, the url's page", "mtran", "", home + "/explore/", 0, 0},
		{"another site", "mtran", "https://evil.example", home + "/explore/", 403, 0},
		{"another site's page, no Origin", "mtran", "", "https://evil.example/", 403, 204},
		{"another site's page, good Origin", "mtran", home, "https://evil.example/", 403, 204},
		{"http on the portal's host", "mtran", "http://mtran.my.opendatasoft.com", home + "/", 403, 0},
		{"the url's host, another port", "mtran", home + ":8443", home + "/", 403, 0},
		{"a subdomain without cookieDomain", "mtran", "https://other.my.opendatasoft.com", home + "/", 403, 0},
		{"Origin null", "mtran", "null", home + "/", 403, 0},
		{"a javascript: page", "mtran", "", "javascript://mtran.my.opendatasoft.com/%0aalert(1)", 400, 204},
		{"a data: page", "mtran", "", "data://mtran.my.opendatasoft.com/x", 400, 204},
		{"loopback over http", "mtran", "http://127.0.0.1:5555", "http://127.0.0.1:5555/demo", 0, 0},
		{"localhost over http", "mtran", "http://localhost:8080", "http://localhost:8080/demo/mtran", 0, 0},
		{"IPv6 loopback", "mtran", "http://[::1]:8080", "http://[::1]:8080/", 0, 0},
		{"a host named like loopback", "mtran", "http://localhost.evil.example", home + "/", 403, 0},
		{"the consent host's own page", "mtran", "https://example.com", "https://example.com/demo/mtran", 0, 0},
		{"cookieDomain: a subdomain over https", "shared", "https://other.my.opendatasoft.com", "https://other.my.opendatasoft.com/x", 0, 0},
		{"cookieDomain: the domain itself", "shared", "https://my.opendatasoft.com", "https://my.opendatasoft.com/", 0, 0},
		{"cookieDomain: a subdomain over http", "shared", "http://other.my.opendatasoft.com", "https://other.my.opendatasoft.com/x", 403, 0},
		{"cookieDomain: a suffix that is no subdomain", "shared", "https://evilmy.opendatasoft.com", home + "/", 403, 0},
		{"cookieDomain: a page of a subdomain over http", "shared", "", "http://other.my.opendatasoft.com/x", 403, 204},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := testPortal(t, s, tt.portal).Policy
			for kind, body := range beacons(tt.portal, p, tt.page) {
				want := tt.want
				if kind == "impression" && tt.impression != 0 {
					want = tt.impression
				}
				if want == 0 {
					want = ok[kind]
				}
				h := http.Header{}
				if tt.origin != "" {
					h.Set("Origin", tt.origin)
				}
				res, got := post(t, s, "/portals/"+tt.portal+"/"+targets[kind], body, h)
				if res.StatusCode != want {
					t.Errorf("%s: status %d %s, want %d", kind, res.StatusCode, got, want)
				}
			}
		})
	}
}
