// Package beacons takes what the visitors' browsers send the consent host,
// fire-and-forget (navigator.sendBeacon, text/plain JSON, no preflight):
// the receipt of a choice (POST /portals/{id}/consents), a banner shown
// (POST /portals/{id}/impressions) and refused cookies seen again (POST
// /portals/{id}/cookies/reappeared). The three share one intake: the
// portal, the client's rate limit, a store that keeps receipts, a bounded
// body decoded strictly, and the page's origin.
package beacons

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/catalogue"
	"github.com/portalconsent/portalconsent/server/metrics"
	"github.com/portalconsent/portalconsent/server/ratelimit"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/respond"
)

const (
	// maxPage bounds the page URL of a beacon, in bytes.
	maxPage = 1024
	// appendTimeout bounds how long a beacon waits for the store.
	appendTimeout = 10 * time.Second
)

// Beacons serves the three beacon routes.
type Beacons struct {
	cat      *catalogue.Catalogue
	store    receipts.Store
	receipts *ratelimit.Limiter // receipts, per client
	counts   *ratelimit.Limiter // impressions and reappeared cookies, per client
	clients  *ratelimit.Clients // who a request comes from
	admit    *Admission         // the writes waiting for the store
	now      func() time.Time
	log      *slog.Logger
	metrics  *metrics.Metrics
	errs     respond.Mapper
}

// Config is what the beacons need.
type Config struct {
	Catalogue *catalogue.Catalogue
	Store     receipts.Store // receipts.None: every beacon is 503
	// ReceiptLimit limits receipts per client; CountLimit impressions and
	// reappeared cookies together.
	ReceiptLimit, CountLimit *ratelimit.Limiter
	// Clients tells the client address the limits key on (nil: the
	// connection's peer).
	Clients *ratelimit.Clients
	// Admission bounds the writes waiting for the store (nil: no bound).
	Admission *Admission
	Now       func() time.Time
	Log       *slog.Logger
	Metrics   *metrics.Metrics // nil: none recorded
}

// New returns the beacon routes of c.
func New(c Config) *Beacons {
	return &Beacons{cat: c.Catalogue, store: c.Store, receipts: c.ReceiptLimit, counts: c.CountLimit, clients: c.Clients, admit: c.Admission,
		now: c.Now, log: c.Log, metrics: c.Metrics, errs: respond.Mapper{Log: c.Log, Metrics: c.Metrics}}
}

// kind is what the intake needs to know of one beacon.
type kind struct {
	noun    string // "receipt", "impression", …: in the messages
	maxBody int64
	// shape describes the JSON expected, for a body that is not it.
	shape func(err error) string
}

// intake answers CORS (Retry-After exposed) and no-store, then returns the portal of r's {id}
// with r's JSON body decoded into v, or a refusal: 404 unknown portal, 429
// past the client's rate limit in l (the client by its address, see
// ratelimit.Clients), 503 a host that keeps no receipts, 503 with
// Retry-After a store known unreachable or a full queue (Admission.refuse:
// before the body is read), 403 an Origin
// header that may not send beacons for the portal (checkOrigin: its pages'
// origins by default), 413 a body over k.maxBody, 400 a body that is not
// one JSON object of v's fields.
func (b *Beacons) intake(w http.ResponseWriter, r *http.Request, k kind, l *ratelimit.Limiter, v any) (*catalogue.Portal, error) {
	respond.CORS(w)
	// A loader sending with fetch learns the status, and when to send a
	// receipt not acknowledged again (429, 503).
	w.Header().Set("Access-Control-Expose-Headers", "Retry-After")
	w.Header().Set("Cache-Control", "no-store")
	id := r.PathValue("id")
	p, err := b.cat.Portal(r.Context(), id)
	if errors.Is(err, catalogue.ErrUnknownPortal) {
		return nil, respond.Errorf(http.StatusNotFound, "unknown portal %q", id)
	}
	if err != nil {
		return nil, respond.Unavailable(err, "read", "the portal cannot be read at the moment: retry later")
	}
	if ok, wait := l.Allow(b.clients.Key(r), b.now()); !ok {
		return nil, respond.Refuse(http.StatusTooManyRequests, "rate-limit", "too many %ss from this client: retry later", k.noun).
			With("Retry-After", ratelimit.RetryAfter(wait))
	}
	if !receipts.Keeps(b.store) {
		return nil, receipts.ErrNoStore
	}
	if err := b.admit.refuse(k.noun); err != nil {
		// Refused before its body is read: the cheapest answer a host
		// beyond its queue can give. The server drains a body within
		// k.maxBody to keep the connection; a larger or unsized one
		// closes it rather than being read.
		if r.ContentLength < 0 || r.ContentLength > k.maxBody {
			w.Header().Set("Connection", "close")
		}
		return nil, err
	}
	if err := checkOrigin(r, p.Policy, k.noun); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, k.maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, respond.Refuse(http.StatusRequestEntityTooLarge, "too-large", "%s body over %d bytes", k.noun, k.maxBody)
		}
		return nil, respond.Refuse(http.StatusBadRequest, "bad-json", "cannot read the %s body", k.noun)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("data after its JSON object")
	}
	if err != nil {
		return nil, respond.Refuse(http.StatusBadRequest, "bad-json", "%s", k.shape(err))
	}
	return p, nil
}

// writeContext returns the context of a write to the store: r's values with
// its own deadline, so that a client that leaves does not cancel a write
// under way.
func writeContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), appendTimeout)
}

// checkPage returns page when it is an absolute http or https URL with a
// host and a path only (no user, query or fragment), at most maxPage
// bytes, whose origin may send beacons for pol to r's host (allowedOrigin:
// the portal's pages by default); else a refusal: 400 for a page that is
// not such a URL (javascript:, data:, … included), 403 for a page outside
// the portal's origins.
func checkPage(r *http.Request, page string, pol *policy.Policy) (string, error) {
	u, err := url.Parse(page)
	if err != nil || len(page) > maxPage || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(page, "#? \t\r\n") {
		return "", respond.Refuse(http.StatusBadRequest, "bad-page", "page: %q is not an http(s) origin and a path (no query, no fragment)", respond.Clip(page, 128))
	}
	if !allowedOrigin(pol, page, r.Host) {
		return "", respond.Refuse(http.StatusForbidden, "origin", "page %q is outside the origins of portal %q: %s", respond.Clip(page, 128), pol.ID, originsText(pol))
	}
	return page, nil
}

// checkRevision returns nil when revision is the portal's current one or an
// earlier revision, in one of langs, still within its lifetime
// (catalogue.Earlier): a banner of it may still show from a cached
// configuration. Otherwise it is 422, or 503 (saying what cannot be
// counted) when the store fails.
func (b *Beacons) checkRevision(r *http.Request, pol *policy.Policy, langs []string, revision int, what string) error {
	if revision == pol.Revision {
		return nil
	}
	for _, l := range langs {
		e, err := b.cat.Earlier(r.Context(), pol.ID, l, revision)
		if err != nil {
			return respond.Unavailable(err, "read", what+" cannot be counted at the moment: retry later")
		}
		if e != nil && e.Live(b.now()) {
			return nil
		}
	}
	return respond.Errorf(http.StatusUnprocessableEntity, "revision is not served for this portal")
}
