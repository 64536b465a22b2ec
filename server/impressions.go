package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/portalconsent/portalconsent/server/ratelimit"
)

// Impressions: POST /portals/{id}/impressions counts one banner shown. The
// loader (ui.js) sends it with navigator.sendBeacon when it shows the
// banner, as text/plain JSON: {"revision": N, "lang": "fr"}. It carries no
// id and nothing personal; the server keeps a counter per portal, day,
// revision and language (receipts.Store.CountImpression).
//
// It answers 204 once counted, or a JSON error: 404 unknown portal; 413 a
// body over maxImpressionBody; 400 a body that is not one such JSON object
// or a language the policy does not offer; 422 a revision the portal does
// not serve (the current one, or an earlier one within its lifetime, as for
// receipts); 429 too many from one client (Retry-After); 503 when the store
// fails (logged).
const maxImpressionBody = 256

// impressionBody is the JSON of an impression as the browser sends it.
type impressionBody struct {
	Revision *int   `json:"revision"`
	Lang     string `json:"lang"`
}

// postImpression serves POST /portals/{id}/impressions.
func (s *Server) postImpression(w http.ResponseWriter, r *http.Request) {
	cors(w)
	w.Header().Set("Cache-Control", "no-store")
	p := s.lookup(w, r)
	if p == nil {
		return
	}
	if ok, wait := s.impLimiter.Allow(ratelimit.ClientKey(r), s.now()); !ok {
		w.Header().Set("Retry-After", ratelimit.RetryAfter(wait))
		writeError(w, http.StatusTooManyRequests, "too many impressions from this client: retry later")
		return
	}
	if s.receipts == nil {
		writeError(w, http.StatusServiceUnavailable, "this consent host keeps no receipts")
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxImpressionBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, "impression body over 256 bytes")
			return
		}
		writeError(w, http.StatusBadRequest, "cannot read the impression body")
		return
	}
	var b impressionBody
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || dec.More() || b.Revision == nil {
		writeError(w, http.StatusBadRequest, `impression body is not {"revision": N, "lang": "…"}`)
		return
	}
	v := p.exact(b.Lang)
	if v == nil {
		writeError(w, http.StatusBadRequest, "lang: portal "+p.policy.ID+" has no policy in "+truncate(b.Lang, 32))
		return
	}
	now := s.now()
	lang := v.policy.Texts.Lang
	if *b.Revision != v.policy.Revision {
		served, err := s.servedRevision(r.Context(), p.policy.ID, lang, *b.Revision, now)
		if err != nil {
			s.metrics.StoreError("read")
			s.log.Error("receipts store", "err", err.Error())
			writeError(w, http.StatusServiceUnavailable, "impressions cannot be counted at the moment: retry later")
			return
		}
		if !served {
			writeError(w, http.StatusUnprocessableEntity, "revision is not served for this portal")
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), appendTimeout)
	defer cancel()
	if err := s.receipts.CountImpression(ctx, p.policy.ID, int64(*b.Revision), lang, now); err != nil {
		s.metrics.StoreError("append")
		s.log.Error("cannot count an impression", "portal", p.policy.ID, "err", err.Error())
		writeError(w, http.StatusServiceUnavailable, "impressions cannot be counted at the moment: retry later")
		return
	}
	s.metrics.Impression(p.policy.ID)
	w.WriteHeader(http.StatusNoContent)
}

// servedRevision reports whether revision of portal, in lang, is an earlier
// revision still within its lifetime (last served less than its
// lifetimeDays ago, as the store remembers): a banner of it may still show
// from a cached configuration. It fails only when the store does.
func (s *Server) servedRevision(ctx context.Context, portal, lang string, revision int, now time.Time) (bool, error) {
	ns, err := s.earlier.get(ctx, s.receipts, portal)
	if err != nil {
		return false, err
	}
	for _, n := range ns {
		if n.policy != nil && n.notice.Revision == int64(revision) && n.notice.Lang == lang &&
			now.Sub(n.notice.LastServed) <= time.Duration(n.policy.Lifetime())*24*time.Hour {
			return true, nil
		}
	}
	return false, nil
}
