package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/ratelimit"
	"github.com/portalconsent/portalconsent/server/receipts"
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
// (policy.ValidCookieName, at most maxCookieName bytes) or the policy does not
// declare in an optional category, or a page that is not an origin and a
// path of the policy's origins; 422 a revision the portal does not serve;
// 429 too many from one client (Retry-After; the impressions' bucket); 503
// when the store fails (logged).
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

// postReappeared serves POST /portals/{id}/cookies/reappeared.
func (s *Server) postReappeared(w http.ResponseWriter, r *http.Request) {
	cors(w)
	w.Header().Set("Cache-Control", "no-store")
	p := s.lookup(w, r)
	if p == nil {
		return
	}
	if ok, wait := s.impLimiter.Allow(ratelimit.ClientKey(r), s.now()); !ok {
		w.Header().Set("Retry-After", ratelimit.RetryAfter(wait))
		writeError(w, http.StatusTooManyRequests, "too many beacons from this client: retry later")
		return
	}
	if s.receipts == nil {
		writeError(w, http.StatusServiceUnavailable, "this consent host keeps no receipts")
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxReappearedBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", maxReappearedBody))
			return
		}
		writeError(w, http.StatusBadRequest, "cannot read the body")
		return
	}
	var b reappearedBody
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || dec.More() || b.Revision == nil {
		writeError(w, http.StatusBadRequest, `body is not {"revision": N, "names": ["…"], "page": "…"}`)
		return
	}
	if len(b.Names) == 0 || len(b.Names) > maxReappearedNames {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("names: from 1 to %d cookie names", maxReappearedNames))
		return
	}
	pol := p.policy
	var cookies []receipts.ReappearedCookie
	for _, n := range b.Names {
		if len(n) > maxCookieName || !policy.ValidCookieName(n) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("names: %q is not a cookie name of at most %d bytes", truncate(n, 80), maxCookieName))
			return
		}
		cat, ok := refusableCategory(pol, n)
		if !ok {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("names: %q is not a declared cookie of an optional category of portal %s", truncate(n, 64), pol.ID))
			return
		}
		if !slices.ContainsFunc(cookies, func(c receipts.ReappearedCookie) bool { return c.Name == n }) {
			cookies = append(cookies, receipts.ReappearedCookie{Name: n, Category: cat})
		}
	}
	page, err := checkPage(b.Page)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(pol.Origins) > 0 && !slices.Contains(pol.Origins, pageOrigin(page)) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("page %q is outside the origins of portal %q", truncate(page, 128), pol.ID))
		return
	}
	now := s.now()
	if *b.Revision != pol.Revision {
		served := false
		for _, v := range p.variants {
			ok, err := s.servedRevision(r.Context(), pol.ID, v.policy.Texts.Lang, *b.Revision, now)
			if err != nil {
				s.metrics.StoreError("read")
				s.log.Error("receipts store", "err", err.Error())
				writeError(w, http.StatusServiceUnavailable, "cookies cannot be counted at the moment: retry later")
				return
			}
			if served = ok; served {
				break
			}
		}
		if !served {
			writeError(w, http.StatusUnprocessableEntity, "revision is not served for this portal")
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), appendTimeout)
	defer cancel()
	if err := s.receipts.CountReappeared(ctx, pol.ID, page, cookies, now); err != nil {
		s.metrics.StoreError("append")
		s.log.Error("cannot count reappeared cookies", "portal", pol.ID, "err", err.Error())
		writeError(w, http.StatusServiceUnavailable, "cookies cannot be counted at the moment: retry later")
		return
	}
	s.metrics.Reappeared(pol.ID, len(cookies))
	w.WriteHeader(http.StatusNoContent)
}

// reappearedJSON is one cookie of the reappeared route, summed over the
// days of the period: the undeclared route's shape plus the category.
type reappearedJSON struct {
	undeclaredJSON
	Category string `json:"category"`
}

// sumReappeared sums daily tallies per name and category as sumUndeclared
// does, most frequent first, then by name and category.
func sumReappeared(rs []receipts.Reappeared) []reappearedJSON {
	byCat := map[string][]receipts.Undeclared{}
	for _, r := range rs {
		byCat[r.Category] = append(byCat[r.Category], receipts.Undeclared{Portal: r.Portal, Day: r.Day, Name: r.Name,
			Count: r.Count, FirstSeen: r.FirstSeen, LastSeen: r.LastSeen, Pages: r.Pages})
	}
	out := []reappearedJSON{}
	for cat, us := range byCat {
		for _, u := range sumUndeclared(us) {
			out = append(out, reappearedJSON{undeclaredJSON: u, Category: cat})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Category < out[j].Category
	})
	return out
}

// apiReappeared serves GET /api/v1/portals/{id}/cookies/reappeared: the
// refused cookies found again over a period (as the undeclared route's).
func (s *Server) apiReappeared(w http.ResponseWriter, r *http.Request) {
	portal := s.apiPortal(w, r)
	if portal == "" {
		return
	}
	from, to, err := parsePeriod(r, s.now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	rs, err := s.receipts.Reappeared(r.Context(), portal, from, to)
	if err != nil {
		s.storeError(w, err, "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(sumReappeared(rs))
}
