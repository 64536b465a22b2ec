package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/ratelimit"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// Receipts: POST /portals/{id}/consents takes the receipt of a choice a
// visitor just stored. The body is JSON, sent as text/plain by the browser
// (navigator.sendBeacon: no CORS preflight):
//
//	{"value": "<the cookies_preferences value>", "method": "accept-all" | "reject-all" | "custom",
//	 "lang": "<the banner's language>", "page": "<origin and path of the page>",
//	 "undeclared": ["<cookie names the policy does not declare>"]}
//
// It answers 201 {"receiptId", "receivedAt"} only once the receipt is
// durable, and refuses with a JSON error, storing nothing: 404 unknown
// portal; 413 a body over maxReceiptBody; 400 a body that is not one such
// JSON object, a value that is not a cookie value, an unknown method, a
// language the policy does not offer, a page that is not an origin and a
// path, a bad undeclared list; 422 a value for a revision the portal does not
// serve (or no longer, see earlierNotice), whose categories are not the
// policy's, that refuses a required one, or decided more than a day from the
// server's clock; 403 an Origin (or page) outside the policy's origins when
// it declares them; 429 too many requests from one client (Retry-After); 503
// when the store fails (logged).
const (
	maxReceiptBody = 4 << 10
	// maxUndeclared bounds the undeclared cookie names of one receipt, and
	// maxCookieName the bytes of each: the browser's rule.
	maxUndeclared = policy.MaxUndeclared
	maxCookieName = policy.MaxCookieNameBytes
	maxPage       = 1024
	// maxClockSkew is how far a decision time may be from the server's clock.
	maxClockSkew = 24 * time.Hour
	// appendTimeout bounds how long a receipt waits for the store.
	appendTimeout = 10 * time.Second
)

// receiptBody is the JSON of a receipt as the browser sends it.
type receiptBody struct {
	Value      string   `json:"value"`
	Method     string   `json:"method"`
	Lang       string   `json:"lang"`
	Page       string   `json:"page"`
	Undeclared []string `json:"undeclared"`
}

// WithReceipts makes the server keep the receipt of every choice in st (the
// POST route) and answer the operator API from it. Without it both answer
// 503.
func WithReceipts(st receipts.Store) Option {
	return func(s *Server) { s.receipts = st }
}

// WithRateLimit limits each client address to perSecond receipts per second
// with bursts of burst (a token bucket per address, in memory only), and
// as many impressions (a bucket of their own); a perSecond of 0 lifts the
// limit. The default is DefaultReceiptRate and DefaultReceiptBurst.
func WithRateLimit(perSecond float64, burst int) Option {
	return func(s *Server) {
		s.limiter, s.impLimiter = ratelimit.New(perSecond, burst), ratelimit.New(perSecond, burst)
	}
}

// Default rate limit of receipts per client address: a visitor makes a
// choice or two per page; a school or an office behind one address makes
// many.
const (
	DefaultReceiptRate  = 5
	DefaultReceiptBurst = 50
)

// WithClock sets the server's clock (for tests); the default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Server) {
		if now != nil {
			s.now = now
		}
	}
}

// notice is one policy document a portal serves: its policy in one language,
// as config.json carries it.
type notice struct {
	sha  string
	body []byte
}

// newNotice returns the notice of q, a single-language policy.
func newNotice(q *policy.Policy) (notice, error) {
	body, err := json.Marshal(q)
	if err != nil {
		return notice{}, err
	}
	return notice{sha: receipts.NoticeHash(body), body: body}, nil
}

// serveNotices records in the store that the notices of every portal are
// served now. A store that fails is logged; the next call (hourly, at each
// reload) tries again.
func (s *Server) serveNotices(ctx context.Context) { s.serveSet(ctx, s.portals.Load()) }

// serveSet records that the notices of set are served now.
func (s *Server) serveSet(ctx context.Context, set *portalSet) {
	if s.receipts == nil || set == nil {
		return
	}
	now := s.now().UTC()
	for _, id := range set.order {
		p := set.byID[id]
		for _, v := range p.variants {
			n := receipts.Notice{Portal: id, SHA256: v.notice.sha, Revision: int64(v.policy.Revision), Lang: v.policy.Texts.Lang, Body: v.notice.body}
			if err := s.receipts.ServeNotice(ctx, n, now); err != nil {
				s.log.Error("cannot record the notices served", "portal", id, "err", err.Error())
				return
			}
		}
	}
}

// KeepNoticesServed records the served notices every interval until ctx is
// done (New and SetPolicies record them too), so that earlier revisions'
// last-served times are known across restarts (see earlierNotice).
func (s *Server) KeepNoticesServed(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.serveNotices(ctx)
		}
	}
}

// refusal is a receipt the server refuses: the status and why.
type refusal struct {
	status int
	reason string // the metrics' label: one of metrics.Reasons
	msg    string
}

func (e *refusal) Error() string { return e.msg }

func refuse(status int, reason, format string, args ...any) *refusal {
	return &refusal{status, reason, fmt.Sprintf(format, args...)}
}

func (s *Server) consentsPreflight(w http.ResponseWriter, r *http.Request) {
	cors(w)
	w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
	w.Header().Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// postConsent serves POST /portals/{id}/consents.
func (s *Server) postConsent(w http.ResponseWriter, r *http.Request) {
	cors(w)
	w.Header().Set("Cache-Control", "no-store")
	p := s.lookup(w, r)
	if p == nil {
		return
	}
	if ok, wait := s.limiter.Allow(ratelimit.ClientKey(r), s.now()); !ok {
		w.Header().Set("Retry-After", ratelimit.RetryAfter(wait))
		s.metrics.ReceiptRefused("rate-limit")
		writeError(w, http.StatusTooManyRequests, "too many receipts from this client: retry later")
		return
	}
	if s.receipts == nil {
		s.metrics.ReceiptRefused("store")
		writeError(w, http.StatusServiceUnavailable, "this consent host keeps no receipts")
		return
	}
	rc, undeclared, err := s.receipt(r, p)
	if err != nil {
		var ref *refusal
		if !errors.As(err, &ref) {
			ref = refuse(http.StatusBadRequest, "other", "%v", err)
		}
		if ref.reason == "store" {
			s.metrics.StoreError("read")
		}
		s.metrics.ReceiptRefused(ref.reason)
		s.log.Info("receipt refused", "portal", p.policy.ID, "status", ref.status, "reason", ref.msg)
		writeError(w, ref.status, ref.msg)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), appendTimeout)
	defer cancel()
	if err := s.receipts.Append(ctx, rc, undeclared); err != nil {
		s.log.Error("cannot store a receipt", "portal", p.policy.ID, "err", err.Error())
		s.metrics.StoreError("append")
		s.metrics.ReceiptRefused("store")
		writeError(w, http.StatusServiceUnavailable, "receipts cannot be stored at the moment: retry later")
		return
	}
	s.metrics.ReceiptAccepted()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(struct {
		ReceiptID  string `json:"receiptId"`
		ReceivedAt string `json:"receivedAt"`
	}{rc.ID, rc.ReceivedAt.Format(time.RFC3339Nano)})
}

// receipt reads and checks the receipt in r for portal p: it returns the
// receipt to store and the undeclared names to tally, or a *refusal.
func (s *Server) receipt(r *http.Request, p *portal) (*receipts.Receipt, []string, error) {
	pol := p.policy
	origin := r.Header.Get("Origin")
	if len(pol.Origins) > 0 && origin != "" && !slices.Contains(pol.Origins, origin) {
		return nil, nil, refuse(http.StatusForbidden, "origin", "origin %q may not send receipts for portal %q", truncate(origin, 128), pol.ID)
	}
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxReceiptBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, nil, refuse(http.StatusRequestEntityTooLarge, "too-large", "receipt body over %d bytes", maxReceiptBody)
		}
		return nil, nil, refuse(http.StatusBadRequest, "bad-json", "cannot read the receipt body")
	}
	var b receiptBody
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, nil, refuse(http.StatusBadRequest, "bad-json", "receipt body is not a JSON receipt: %v", err)
	}
	if dec.More() {
		return nil, nil, refuse(http.StatusBadRequest, "bad-json", "receipt body has data after its JSON object")
	}
	c, err := policy.Decode(b.Value)
	if err != nil {
		return nil, nil, refuse(http.StatusBadRequest, "bad-value", "value: %v", err)
	}
	if !receipts.ValidMethod(b.Method) {
		return nil, nil, refuse(http.StatusBadRequest, "bad-method", "method: %q is not accept-all, reject-all or custom", truncate(b.Method, 32))
	}
	v := p.exact(b.Lang)
	if v == nil {
		return nil, nil, refuse(http.StatusBadRequest, "bad-lang", "lang: portal %q has no policy in %q (it has %s)",
			pol.ID, truncate(b.Lang, 32), strings.Join(pol.Languages(), ", "))
	}
	page, err := checkPage(b.Page)
	if err != nil {
		return nil, nil, err
	}
	if len(pol.Origins) > 0 && !slices.Contains(pol.Origins, pageOrigin(page)) {
		return nil, nil, refuse(http.StatusForbidden, "origin", "page %q is outside the origins of portal %q", truncate(b.Page, 128), pol.ID)
	}
	names, err := undeclaredNames(pol, b.Undeclared)
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	if d := c.Decided.Sub(now); d > maxClockSkew || d < -maxClockSkew {
		return nil, nil, refuse(http.StatusUnprocessableEntity, "clock", "value: decided at %s, more than a day from the server's clock", c.Decided.Format(time.RFC3339))
	}
	sha := v.notice.sha
	if c.Revision == v.policy.Revision {
		if err := c.Check(v.policy, now); err != nil {
			return nil, nil, refuse(http.StatusUnprocessableEntity, "mismatch", "value: %v", err)
		}
	} else if sha, err = s.earlierNotice(r.Context(), pol.ID, v.policy.Texts.Lang, c, now); err != nil {
		return nil, nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, nil, fmt.Errorf("no receipt id: %w", err)
	}
	return &receipts.Receipt{
		ID: id.String(), Portal: pol.ID, ConsentID: c.ID, Revision: int64(c.Revision),
		Choices: c.Choices, Method: b.Method, Lang: v.policy.Texts.Lang, Page: page,
		DecidedAt: c.Decided.UTC(), ReceivedAt: now.UTC().Truncate(time.Microsecond), Notice: sha,
	}, names, nil
}

// earlierNotice returns the SHA-256 of the notice of an earlier revision of
// the portal in lang that consent c was made for, when that revision is
// still within its lifetime (served less than its lifetimeDays ago, as the
// store remembers across restarts) and c holds for it; else a *refusal.
func (s *Server) earlierNotice(ctx context.Context, portal, lang string, c policy.Consent, now time.Time) (string, error) {
	ns, err := s.earlier.get(ctx, s.receipts, portal)
	if err != nil {
		return "", &refusal{http.StatusServiceUnavailable, "store", "receipts cannot be checked at the moment: retry later"}
	}
	var best *earlierRevision
	for i := range ns {
		if n := &ns[i]; n.notice.Revision == int64(c.Revision) && n.notice.Lang == lang &&
			(best == nil || n.notice.LastServed.After(best.notice.LastServed)) {
			best = n
		}
	}
	if best == nil || best.policy == nil {
		return "", refuse(http.StatusUnprocessableEntity, "revision", "value: revision %d is not served for portal %q in %q", c.Revision, portal, lang)
	}
	if now.Sub(best.notice.LastServed) > time.Duration(best.policy.Lifetime())*24*time.Hour {
		return "", refuse(http.StatusUnprocessableEntity, "revision", "value: revision %d of portal %q is no longer served", c.Revision, portal)
	}
	if err := c.Check(best.policy, now); err != nil {
		return "", refuse(http.StatusUnprocessableEntity, "mismatch", "value: %v", err)
	}
	return best.notice.SHA256, nil
}

// earlierRevision is a stored notice with its policy parsed (nil when it
// does not parse: never a valid revision).
type earlierRevision struct {
	notice receipts.Notice
	policy *policy.Policy
}

// earlierNotices caches each portal's stored notices for a minute.
type earlierNotices struct {
	mu     sync.Mutex
	byID   map[string][]earlierRevision
	loaded map[string]time.Time
}

func (e *earlierNotices) get(ctx context.Context, st receipts.Store, portal string) ([]earlierRevision, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t, ok := e.loaded[portal]; ok && time.Since(t) < time.Minute {
		return e.byID[portal], nil
	}
	ns, err := st.Notices(ctx, portal)
	if err != nil {
		return nil, err
	}
	out := make([]earlierRevision, len(ns))
	for i, n := range ns {
		out[i].notice = n
		if q, err := policy.Parse("notice", n.Body, policy.Policy{}); err == nil {
			out[i].policy = q
		}
	}
	if e.byID == nil {
		e.byID, e.loaded = map[string][]earlierRevision{}, map[string]time.Time{}
	}
	e.byID[portal], e.loaded[portal] = out, time.Now()
	return out, nil
}

// forget drops the cache (the policies changed).
func (e *earlierNotices) forget() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.byID, e.loaded = nil, nil
}

// checkPage returns page when it is an absolute URL with a host and a path
// only (no user, query or fragment), at most maxPage bytes; else a refusal.
func checkPage(page string) (string, error) {
	u, err := url.Parse(page)
	if err != nil || len(page) > maxPage || u.Scheme == "" || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(page, "#? \t\r\n") {
		return "", refuse(http.StatusBadRequest, "bad-page", "page: %q is not an origin and a path (no query, no fragment)", truncate(page, 128))
	}
	return page, nil
}

// pageOrigin returns the origin of a checked page URL.
func pageOrigin(page string) string {
	u, _ := url.Parse(page)
	return u.Scheme + "://" + u.Host
}

// undeclaredNames returns the names of list the policy does not declare
// (declared ones are dropped), without duplicates; a name that is not a
// cookie name or is over maxCookieName bytes, or more than maxUndeclared
// names, is a refusal.
func undeclaredNames(p *policy.Policy, list []string) ([]string, error) {
	if len(list) > maxUndeclared {
		return nil, refuse(http.StatusBadRequest, "bad-undeclared", "undeclared: %d names, at most %d", len(list), maxUndeclared)
	}
	var out []string
	for _, n := range list {
		if len(n) > maxCookieName || !policy.ValidCookieName(n) {
			return nil, refuse(http.StatusBadRequest, "bad-undeclared", "undeclared: %q is not a cookie name of at most %d bytes", truncate(n, 80), maxCookieName)
		}
		if n == policy.CookieName || p.Declares(n) || slices.Contains(out, n) {
			continue
		}
		out = append(out, n)
	}
	return out, nil
}
