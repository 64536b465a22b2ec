package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/portalconsent/portalconsent/server/catalogue"

	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/respond"
)

// The home page's search: GET /console/?consent=ID finds the receipts of
// one consent id in every portal the signed-in operator may see (the id is
// random: a visitor who quotes it seldom says which portal) and links to
// each portal's lookup. One id a request, validated
// (receipts.ValidConsentID: 400 with the page and a message otherwise); one
// indexed read of the id a portal the operator may see; a store that fails
// is answered with its status (503) and a message.

// consoleSearch is the search form and its result.
type consoleSearch struct {
	Query string
	Hits  []searchHit
}

// searchHit is a portal with receipts of the id: its lookup.
type searchHit struct{ Label, Href string }

// searchConsent fills d.Search from r's ?consent= for the portals allows
// lets the operator of s see among es, and returns the page's status.
func (c *Console) searchConsent(r *http.Request, s signedIn, es []catalogue.Entry, allows func(string) bool, d *consolePage) int {
	q := r.URL.Query().Get("consent")
	d.Search = &consoleSearch{Query: q}
	T, L := &s.tx.Console, &s.tx.Lookup
	switch {
	case q == "":
		return http.StatusOK
	case !receipts.ValidConsentID(q):
		d.Error = fmt.Sprintf(L.BadID, respond.Clip(q, 64))
		return http.StatusBadRequest
	}
	for _, pol := range es {
		if !allows(pol.ID) {
			continue
		}
		rs, err := c.store.Consent(r.Context(), pol.ID, q)
		if errors.Is(err, receipts.ErrNotFound) {
			continue
		}
		if err != nil {
			d.Search.Hits, d.Error = nil, L.Unavailable
			return c.failed(err)
		}
		d.Search.Hits = append(d.Search.Hits, searchHit{
			Label: fmt.Sprintf(T.SearchHit, pol.Name, len(rs)),
			Href:  "/console/portals/" + url.PathEscape(pol.ID) + "/lookup?" + url.Values{"consent": {q}}.Encode(),
		})
	}
	if len(d.Search.Hits) == 0 {
		d.Message = fmt.Sprintf(T.SearchNone, q)
	} else {
		d.Message = fmt.Sprintf(T.SearchFound, q)
	}
	return http.StatusOK
}
