package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/metrics"
	"github.com/portalconsent/portalconsent/server/operators"
	"github.com/portalconsent/portalconsent/server/ratelimit"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// The operator API, read-only, behind a bearer token (Authorization: Bearer
// TOKEN; see WithAdminToken):
//
//	GET /api/v1/portals/{id}/consents/{consentId}  the receipts of one consent, oldest first
//	GET /api/v1/portals/{id}/policies/{sha256}     a notice as the visitor was shown it
//	GET /api/v1/portals/{id}/receipts.csv?from=YYYY-MM-DD&to=YYYY-MM-DD
//	                                               receipts received on those UTC days, streamed
//
// A missing or wrong token gets 401 and an error that says nothing more;
// with a good one, a malformed id or date gets 400, nothing found 404, a
// failing store 503.

// MinAdminTokenLen is the shortest admin token accepted.
const MinAdminTokenLen = operators.MinTokenLen

// WithAdminToken sets the admin token, which grants every portal on the
// operator API and the console. The token is kept only as its SHA-256 and
// compared in constant time. Without it (or with "") only operators (see
// WithOperators) are let in. It is ignored when WithOperators is given: that
// Set carries its own admin token.
func WithAdminToken(token string) Option {
	return func(s *Server) { s.adminToken = token }
}

// WithOperators sets who may see which portal: the admin token and the
// operators of set, which the caller may update (operators.Reloader) while
// the server runs.
func WithOperators(set *operators.Set) Option {
	return func(s *Server) { s.auth = set }
}

// WithMetrics makes the server record its metrics in m (see package
// metrics); m is served elsewhere, never by the server's own routes.
func WithMetrics(m *metrics.Metrics) Option {
	return func(s *Server) { s.metrics = m }
}

// Metrics returns the metrics the server records into (nil: none), so that
// other routes (the banner impressions) can count.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// bearer returns the token of an Authorization: Bearer header, or "".
func bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return token
}

// authorized reports whether r carries a credential that may see portal: a
// bearer token (the admin's or an operator's) or a console session cookie.
// When not, it has answered: 401 for no credential or a wrong one, 403 for
// a portal outside the credential's scope.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request, portal string) bool {
	w.Header().Set("Cache-Control", "no-store")
	if tok := bearer(r); tok != "" && !s.auth.Quick(tok) {
		// A token neither the admin's nor verified before costs bcrypt's
		// time per operator: limited like console sign-ins.
		if ok, wait := s.signIn.Allow(ratelimit.ClientKey(r), s.now()); !ok {
			w.Header().Set("Retry-After", ratelimit.RetryAfter(wait))
			writeError(w, http.StatusTooManyRequests, "too many token checks from this client: retry later")
			return false
		}
	}
	p, ok := s.principal(w, r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="portalconsent"`)
		writeError(w, http.StatusUnauthorized, "unauthorized")
		return false
	}
	if !p.Allows(portal) {
		writeError(w, http.StatusForbidden, fmt.Sprintf("forbidden: portal %q is outside what %q may see", truncate(portal, 64), p.Name))
		return false
	}
	return true
}

// principal returns who r is: the bearer token's principal when r has an
// Authorization header (a wrong one is not rescued by a cookie), else the
// console session's (renewed: see session).
func (s *Server) principal(w http.ResponseWriter, r *http.Request) (operators.Principal, bool) {
	if r.Header.Get("Authorization") != "" {
		return s.auth.Authenticate(bearer(r))
	}
	p, _, ok := s.session(w, r)
	return p, ok
}

// apiPortal checks the token and the {id} of r and returns the portal id,
// or "" having answered. The portal need not be served any more: its
// receipts outlive its policy file.
func (s *Server) apiPortal(w http.ResponseWriter, r *http.Request) string {
	id := r.PathValue("id")
	if !s.authorized(w, r, id) {
		return ""
	}
	if !policy.ValidID(id) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%q is not a portal id", truncate(id, 64)))
		return ""
	}
	if s.receipts == nil {
		writeError(w, http.StatusServiceUnavailable, "this consent host keeps no receipts")
		return ""
	}
	return id
}

// storeError answers a store error: 404 for receipts.ErrNotFound (with
// notFound), else 503, logged.
func (s *Server) storeError(w http.ResponseWriter, err error, notFound string) {
	if errors.Is(err, receipts.ErrNotFound) {
		writeError(w, http.StatusNotFound, notFound)
		return
	}
	s.log.Error("receipts store", "err", err.Error())
	s.metrics.StoreError("read")
	writeError(w, http.StatusServiceUnavailable, "receipts cannot be read at the moment: retry later")
}

var consentIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

// receiptJSON is a receipt as the API shows it.
type receiptJSON struct {
	ReceiptID  string          `json:"receiptId"`
	ReceivedAt string          `json:"receivedAt"`
	DecidedAt  string          `json:"decidedAt"`
	Revision   int64           `json:"revision"`
	Choices    json.RawMessage `json:"choices"` // in the value's order
	Method     string          `json:"method"`
	Lang       string          `json:"lang"`
	Page       string          `json:"page"`
	Policy     string          `json:"policy"`
}

func newReceiptJSON(r *receipts.Receipt) receiptJSON {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, c := range r.Choices {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%t", c.Category, c.Accepted) // category ids are [a-z0-9_-]
	}
	b.WriteByte('}')
	return receiptJSON{
		ReceiptID: r.ID, ReceivedAt: r.ReceivedAt.UTC().Format(time.RFC3339Nano),
		DecidedAt: r.DecidedAt.UTC().Format(time.RFC3339), Revision: r.Revision,
		Choices: b.Bytes(), Method: r.Method, Lang: r.Lang, Page: r.Page, Policy: r.Notice,
	}
}

// apiConsent serves the receipts of one consent id.
func (s *Server) apiConsent(w http.ResponseWriter, r *http.Request) {
	portal := s.apiPortal(w, r)
	if portal == "" {
		return
	}
	cid := r.PathValue("consentId")
	if !consentIDPattern.MatchString(cid) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%q is not a consent id (22 characters of base64url)", truncate(cid, 64)))
		return
	}
	rs, err := s.receipts.Consent(r.Context(), portal, cid)
	if err != nil {
		s.storeError(w, err, fmt.Sprintf("no receipt of consent %q for portal %q", cid, portal))
		return
	}
	out := struct {
		ConsentID string        `json:"consentId"`
		Receipts  []receiptJSON `json:"receipts"`
	}{ConsentID: cid}
	for i := range rs {
		out.Receipts = append(out.Receipts, newReceiptJSON(&rs[i]))
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

var sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// apiNotice serves a stored notice: the policy JSON as it was served.
func (s *Server) apiNotice(w http.ResponseWriter, r *http.Request) {
	portal := s.apiPortal(w, r)
	if portal == "" {
		return
	}
	sha := r.PathValue("sha256")
	if !sha256Pattern.MatchString(sha) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%q is not a lowercase hex SHA-256", truncate(sha, 80)))
		return
	}
	n, err := s.receipts.Notice(r.Context(), portal, sha)
	if err != nil {
		s.storeError(w, err, fmt.Sprintf("no notice %s for portal %q", sha, portal))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Language", n.Lang)
	w.Header().Set("Content-Length", strconv.Itoa(len(n.Body)))
	w.Write(n.Body)
}

// apiReceiptsCSV streams the receipts of a period as CSV, in chain order.
func (s *Server) apiReceiptsCSV(w http.ResponseWriter, r *http.Request) {
	portal := s.apiPortal(w, r)
	if portal == "" {
		return
	}
	from, to, err := parseDays(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.exportReceipts(w, r, portal, from, to, exportCSV)
}
