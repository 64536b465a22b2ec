// Package api is the operator API, behind a bearer token
// (Authorization: Bearer TOKEN: the admin's or an operator's, see package
// auth) or a console session:
//
//	GET    /api/v1/portals                       the portals the credential may see
//	GET    /api/v1/portals/{id}/policy           the current policy, YAML or JSON, its ETag
//	PUT    /api/v1/portals/{id}/policy           publish a policy (YAML or JSON): a new version
//	DELETE /api/v1/portals/{id}                  stop serving a portal managed by the database
//	GET    /api/v1/portals/{id}/versions         every version of its policy, newest first
//
//	GET /api/v1/portals/{id}/consents/{consentId}  the receipts of one consent, oldest first
//	GET /api/v1/portals/{id}/policies/{sha256}     a notice as the visitor was shown it
//	GET /api/v1/portals/{id}/receipts.csv?from=YYYY-MM-DD&to=YYYY-MM-DD
//	                                               receipts received on those UTC days, streamed
//	GET /api/v1/portals/{id}/receipts.jsonl?from=&to=
//	                                               the same, one JSON object a line
//	GET /api/v1/portals/{id}/checkpoints.jsonl     the chain's signed checkpoints, one JSON object a line
//	GET /api/v1/portals/{id}/stats?from=&to=       the daily aggregates, then the period's sums
//	GET /api/v1/portals/{id}/cookies/undeclared?from=&to=&limit=&offset=
//	                                               undeclared cookie names, summed over the days, a page
//	GET /api/v1/portals/{id}/cookies/reappeared?from=&to=&limit=&offset=
//	                                               refused cookies found again, likewise
//
// A missing or wrong token gets 401 and an error that says nothing more, a
// portal outside the token's scope 403; with a good one, a malformed id,
// hash, date, limit or offset gets 400, nothing found 404, a failing
// store 503. from and
// to are UTC days, inclusive (export.ParsePeriod): receipts.csv needs both;
// the other routes take the last 30 days without either.
package api

import (
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/auth"
	"github.com/portalconsent/portalconsent/server/catalogue"
	"github.com/portalconsent/portalconsent/server/export"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/reports"
	"github.com/portalconsent/portalconsent/server/respond"
)

// maxStatsDays bounds the period of the stats route, which lists every day.
const maxStatsDays = 3660

// API serves the operator API.
type API struct {
	auth  *auth.Auth
	dir   *auth.Directory
	cat   *catalogue.Catalogue
	store receipts.Store
	now   func() time.Time
	log   *slog.Logger
}

// New returns the API over the portals of cat, the receipts of st and the
// operators of dir, letting in whom a lets in.
func New(a *auth.Auth, dir *auth.Directory, cat *catalogue.Catalogue, st receipts.Store, now func() time.Time, log *slog.Logger) *API {
	return &API{auth: a, dir: dir, cat: cat, store: st, now: now, log: log}
}

// portal checks the credential and the {id} of r and returns the portal
// id. The portal need not be served any more: its receipts outlive its
// policy.
func (a *API) portal(w http.ResponseWriter, r *http.Request) (string, error) {
	id := r.PathValue("id")
	if err := a.auth.Authorize(w, r, id); err != nil {
		return "", err
	}
	if !policy.ValidID(id) {
		return "", respond.Errorf(http.StatusBadRequest, "%q is not a portal id", respond.Clip(id, 64))
	}
	return id, nil
}

// portalPeriod checks r as portal does and returns its portal id and the
// period of its ?from=&to= (at most maxDays days, 0: no maximum; a bad
// period is 400).
func (a *API) portalPeriod(w http.ResponseWriter, r *http.Request, maxDays int) (string, export.Period, error) {
	portal, err := a.portal(w, r)
	if err != nil {
		return "", export.Period{}, err
	}
	p, err := export.ParsePeriod(r.URL.Query(), a.now(), maxDays)
	if err != nil {
		return "", export.Period{}, respond.Errorf(http.StatusBadRequest, "%s", err.Error())
	}
	return portal, p, nil
}

// writeJSON writes v as the JSON answer. A client gone before the end is
// not an error to answer.
func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
	return nil
}

// Consent serves the receipts of one consent id.
func (a *API) Consent(w http.ResponseWriter, r *http.Request) error {
	portal, err := a.portal(w, r)
	if err != nil {
		return err
	}
	cid := r.PathValue("consentId")
	if !receipts.ValidConsentID(cid) {
		return respond.Errorf(http.StatusBadRequest, "%q is not a consent id (22 characters of base64url)", respond.Clip(cid, 64))
	}
	rs, err := a.store.Consent(r.Context(), portal, cid)
	if err != nil {
		return respond.NotFound(err, "no receipt of consent %q for portal %q", cid, portal)
	}
	out := struct {
		ConsentID string               `json:"consentId"`
		Receipts  []export.ReceiptJSON `json:"receipts"`
	}{ConsentID: cid}
	for i := range rs {
		out.Receipts = append(out.Receipts, export.NewReceiptJSON(&rs[i]))
	}
	return writeJSON(w, out)
}

// Notice serves a stored notice: the policy JSON as it was served.
func (a *API) Notice(w http.ResponseWriter, r *http.Request) error {
	portal, err := a.portal(w, r)
	if err != nil {
		return err
	}
	sha := r.PathValue("sha256")
	if !receipts.ValidNoticeHash(sha) {
		return respond.Errorf(http.StatusBadRequest, "%q is not a lowercase hex SHA-256", respond.Clip(sha, 80))
	}
	n, err := a.store.Notice(r.Context(), portal, sha)
	if err != nil {
		return respond.NotFound(err, "no notice %s for portal %q", sha, portal)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Language", n.Lang)
	w.Header().Set("Content-Length", strconv.Itoa(len(n.Body)))
	w.Write(n.Body)
	return nil
}

// ReceiptsCSV streams the receipts of a period as CSV, in chain order.
// Unlike the other routes it needs both from and to.
func (a *API) ReceiptsCSV(w http.ResponseWriter, r *http.Request) error {
	return a.export(w, r, export.CSV, true)
}

// ReceiptsJSONL streams the receipts of a period as JSON Lines, in chain
// order, in constant memory; like receipts.csv, a failure once the first
// line is sent cuts the response short.
func (a *API) ReceiptsJSONL(w http.ResponseWriter, r *http.Request) error {
	return a.export(w, r, export.JSONL, false)
}

// CheckpointLine is one line of checkpoints.jsonl: a signed chain head
// (receipts.Checkpoint), the key and signature in base64.
type CheckpointLine struct {
	Portal    string `json:"portal"`
	Writer    int    `json:"writer"`
	Seq       int64  `json:"seq"`
	Hash      string `json:"hash"`
	SignedAt  string `json:"signedAt"`
	PublicKey string `json:"publicKey"`
	Signature string `json:"signature"`
}

// Checkpoints serves every checkpoint of the portal as JSON Lines, by seq,
// as an attachment (checkpoints-{id}.jsonl): with the receipts' export,
// what a chain can be checked against away from the host. A portal without
// any is an empty body.
func (a *API) Checkpoints(w http.ResponseWriter, r *http.Request) error {
	portal, err := a.portal(w, r)
	if err != nil {
		return err
	}
	cs, err := a.store.Checkpoints(r.Context(), portal)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="checkpoints-`+portal+`.jsonl"`)
	enc := json.NewEncoder(w)
	for _, c := range cs {
		enc.Encode(CheckpointLine{Portal: c.Portal, Writer: c.Writer, Seq: c.Seq, Hash: c.Hash, SignedAt: c.SignedAt.UTC().Format(time.RFC3339Nano),
			PublicKey: base64.StdEncoding.EncodeToString(c.PublicKey), Signature: base64.StdEncoding.EncodeToString(c.Signature)})
	}
	return nil
}

func (a *API) export(w http.ResponseWriter, r *http.Request, f export.Format, needDates bool) error {
	if q := r.URL.Query(); needDates && !q.Has("from") && !q.Has("to") {
		q.Set("from", "") // no default period: "from" is not a date
		r.URL.RawQuery = q.Encode()
	}
	portal, p, err := a.portalPeriod(w, r, 0)
	if err != nil {
		return err
	}
	return export.Stream(w, r, a.store, a.log, portal, p, f)
}

// Stats serves the daily aggregates of a period (see reports.NewStats).
func (a *API) Stats(w http.ResponseWriter, r *http.Request) error {
	portal, p, err := a.portalPeriod(w, r, maxStatsDays)
	if err != nil {
		return err
	}
	st, err := a.store.Stats(r.Context(), portal, p.From, p.To)
	if err != nil {
		return err
	}
	return writeJSON(w, newStatsJSON(st, p.From, p.To))
}

// Paging of the cookie tallies: ?limit= names a page (DefaultLimit when
// absent, at most MaxLimit), ?offset= skips the first ones (0 when absent).
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// parsePage returns the limit and offset of r's query, or a 400 refusal
// for a limit that is not a whole number from 1 to MaxLimit or an offset
// that is not a whole number from 0.
func parsePage(r *http.Request) (limit, offset int, err error) {
	q := r.URL.Query()
	limit, offset = DefaultLimit, 0
	if v := q.Get("limit"); q.Has("limit") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return 0, 0, respond.Errorf(http.StatusBadRequest, "limit: %q is not a whole number from 1 to %d", respond.Clip(v, 32), MaxLimit)
		}
		limit = n
	}
	if v := q.Get("offset"); q.Has("offset") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, respond.Errorf(http.StatusBadRequest, "offset: %q is not a whole number from 0", respond.Clip(v, 32))
		}
		offset = n
	}
	return limit, offset, nil
}

// pageHeaders sets X-Total-Count to total and, when names follow this
// page, a Link header to the next one (r's query with the next offset).
func pageHeaders(w http.ResponseWriter, r *http.Request, limit, offset, total int) {
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	if offset+limit < total {
		q := r.URL.Query()
		q.Set("limit", strconv.Itoa(limit))
		q.Set("offset", strconv.Itoa(offset+limit))
		w.Header().Set("Link", "<"+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
}

// cookiePage answers one page of a period's cookie tallies: read reads the
// page of portal over p (limit names from offset) and returns its rows
// summed and the total number of names.
func (a *API) cookiePage(w http.ResponseWriter, r *http.Request,
	read func(portal string, p export.Period, limit, offset int) (any, int, error)) error {
	portal, p, err := a.portalPeriod(w, r, 0)
	if err != nil {
		return err
	}
	limit, offset, err := parsePage(r)
	if err != nil {
		return err
	}
	rows, total, err := read(portal, p, limit, offset)
	if err != nil {
		return err
	}
	pageHeaders(w, r, limit, offset, total)
	return writeJSON(w, rows)
}

// Undeclared serves one page of the undeclared cookie names of a period,
// summed per name, most frequent first (see parsePage and pageHeaders).
func (a *API) Undeclared(w http.ResponseWriter, r *http.Request) error {
	return a.cookiePage(w, r, func(portal string, p export.Period, limit, offset int) (any, int, error) {
		us, total, err := a.store.UndeclaredPage(r.Context(), portal, p.From, p.To, limit, offset)
		return reports.SumUndeclared(us), total, err
	})
}

// Reappeared serves one page of the refused cookies found again over a
// period, summed as the undeclared route's, with their category.
func (a *API) Reappeared(w http.ResponseWriter, r *http.Request) error {
	return a.cookiePage(w, r, func(portal string, p export.Period, limit, offset int) (any, int, error) {
		rs, total, err := a.store.ReappearedPage(r.Context(), portal, p.From, p.To, limit, offset)
		return reports.SumReappeared(rs), total, err
	})
}
