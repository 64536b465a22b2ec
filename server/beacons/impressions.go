package beacons

import (
	"net/http"

	"github.com/portalconsent/portalconsent/server/respond"
)

// Impressions: POST /portals/{id}/impressions counts one banner shown. The
// loader (ui.js) sends it with navigator.sendBeacon when it shows the
// banner, as text/plain JSON: {"revision": N, "lang": "fr"}. It carries no
// id and nothing personal; the server keeps a counter per portal, day,
// revision and language (receipts.Store.CountImpression).
//
// It answers 204 once counted, or a JSON error: 404 unknown portal; 413 a
// body over maxImpressionBody; 403 an Origin outside the portal's origins
// (allowedOrigin); 400 a body that is not one such JSON object
// or a language the policy does not offer; 422 a revision the portal does
// not serve (the current one, or an earlier one within its lifetime, as for
// receipts); 429 too many from one client (Retry-After); 503 when the store
// fails (logged) or the host keeps none.
const maxImpressionBody = 256

// impressionBody is the JSON of an impression as the browser sends it.
type impressionBody struct {
	Revision *int   `json:"revision"`
	Lang     string `json:"lang"`
}

var impressionKind = kind{noun: "impression", maxBody: maxImpressionBody,
	shape: func(error) string { return `impression body is not {"revision": N, "lang": "…"}` }}

// PostImpression serves POST /portals/{id}/impressions.
func (b *Beacons) PostImpression(w http.ResponseWriter, r *http.Request) error {
	var body impressionBody
	p, err := b.intake(w, r, impressionKind, b.counts, &body)
	if err != nil {
		return err
	}
	if body.Revision == nil {
		return respond.Errorf(http.StatusBadRequest, "%s", impressionKind.shape(nil))
	}
	v := p.Exact(body.Lang)
	if v == nil {
		return respond.Errorf(http.StatusBadRequest, "lang: portal %s has no policy in %s", p.Policy.ID, respond.Clip(body.Lang, 32))
	}
	lang := v.Policy.Texts.Lang
	if err := b.checkRevision(r, v.Policy, []string{lang}, *body.Revision, "impressions"); err != nil {
		return err
	}
	ctx, cancel := writeContext(r)
	defer cancel()
	if err := b.admit.write(w, "impression", func() error {
		return b.store.CountImpression(ctx, p.Policy.ID, int64(*body.Revision), lang, b.now())
	}); err != nil {
		return respond.Unavailable(err, "append", "impressions cannot be counted at the moment: retry later")
	}
	b.metrics.Impression(p.Policy.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
