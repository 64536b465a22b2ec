package beacons

import (
	"net/http"
	"slices"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/respond"
)

// Refused cookies seen again: POST /portals/{id}/cookies/reappeared. On a
// page view where the visitor's standing choice refuses a category (not
// right after a change on that page), the loader (embed.js apply) deletes
// the declared cookies of that category it finds in document.cookie (a
// script set them again) and reports their names once, with
// navigator.sendBeacon, as text/plain JSON:
//
//	{"revision": N, "names": ["_ga", …], "page": "https://portal.example/path"}
//
// It carries no consent id and nothing personal; the server keeps a tally
// per portal, UTC day, name and category, with a few pages and the first
// and last time seen (receipts.Store.CountReappeared).
//
// It answers 204 once counted, or a JSON error: 404 unknown portal; 413 a
// body over maxReappearedBody; 400 a body that is not one such object, no
// names or more than maxReappearedNames, a name that is not a cookie name
// (policy.ValidCookieName, at most policy.MaxCookieNameBytes bytes, no
// pattern character such as "*": checkCookieName) or the
// policy does not declare in an optional category, or a page that is not an
// http(s) origin and a path; 403 an Origin or a page outside the portal's
// origins (allowedOrigin, as for receipts); 422 a revision the portal does not serve; 429 too many from one
// client (Retry-After; the impressions' bucket); 503 when the store fails
// (logged) or the host keeps none.
const (
	maxReappearedBody  = 2048
	maxReappearedNames = 32
)

// reappearedBody is the JSON of the beacon as the browser sends it.
type reappearedBody struct {
	Revision *int     `json:"revision"`
	Names    []string `json:"names"`
	Page     string   `json:"page"`
}

var reappearedKind = kind{noun: "beacon", maxBody: maxReappearedBody,
	shape: func(error) string { return `body is not {"revision": N, "names": ["…"], "page": "…"}` }}

// refusableCategory returns the optional category of the first cookie row
// of p declaring name, or false when no row of an optional category does.
func refusableCategory(p *policy.Policy, name string) (string, bool) {
	for _, row := range p.Cookies {
		if c, ok := p.Category(row.Category); ok && !c.Required &&
			slices.ContainsFunc(row.Names, func(pat string) bool { return policy.MatchName(pat, name) }) {
			return row.Category, true
		}
	}
	return "", false
}

// PostReappeared serves POST /portals/{id}/cookies/reappeared.
func (b *Beacons) PostReappeared(w http.ResponseWriter, r *http.Request) error {
	var body reappearedBody
	p, err := b.intake(w, r, reappearedKind, b.counts, &body)
	if err != nil {
		return err
	}
	if body.Revision == nil {
		return respond.Errorf(http.StatusBadRequest, "%s", reappearedKind.shape(nil))
	}
	if len(body.Names) == 0 || len(body.Names) > maxReappearedNames {
		return respond.Errorf(http.StatusBadRequest, "names: from 1 to %d cookie names", maxReappearedNames)
	}
	pol := p.Policy
	var cookies []receipts.ReappearedCookie
	for _, n := range body.Names {
		if err := checkCookieName(n, "names", ""); err != nil {
			return err
		}
		cat, ok := refusableCategory(pol, n)
		if !ok {
			return respond.Errorf(http.StatusBadRequest, "names: %q is not a declared cookie of an optional category of portal %s", respond.Clip(n, 64), pol.ID)
		}
		if !slices.ContainsFunc(cookies, func(c receipts.ReappearedCookie) bool { return c.Name == n }) {
			cookies = append(cookies, receipts.ReappearedCookie{Name: n, Category: cat})
		}
	}
	page, err := checkPage(r, body.Page, pol)
	if err != nil {
		return err
	}
	if err := b.checkRevision(r, pol, pol.Languages(), *body.Revision, "cookies"); err != nil {
		return err
	}
	ctx, cancel := writeContext(r)
	defer cancel()
	if err := b.admit.write(w, "cookie report", func() error {
		return b.store.CountReappeared(ctx, pol.ID, page, cookies, b.now())
	}); err != nil {
		return respond.Unavailable(err, "append", "cookies cannot be counted at the moment: retry later")
	}
	b.metrics.Reappeared(pol.ID, len(cookies))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
