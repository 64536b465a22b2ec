package beacons

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/catalogue"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/respond"
)

// Receipts: POST /portals/{id}/consents takes the receipt of a choice a
// visitor just stored. The body is JSON, sent as text/plain by the browser
// (navigator.sendBeacon: no CORS preflight):
//
//	{"value": "<the cookies_preferences value>", "method": "accept-all" | "reject-all" | "custom" | "signal",
//	 "lang": "<the banner's language>", "page": "<origin and path of the page>",
//	 "undeclared": ["<cookie names the policy does not declare>"],
//	 "storage": {"localStorage": ["<keys>"], "sessionStorage": ["<keys>"]}}
//
// storage (optional) holds the keys of the page's web storage that no row
// of that type declares: names only, never values; each list as undeclared
// (at most policy.MaxUndeclared names, valid policy.ValidStorageName names
// without "*"); a name the policy declares is dropped.
//
// It answers 201 {"receiptId", "receivedAt"} only once the receipt is
// durable; a receipt the portal holds already (the same cookie value:
// receipts.Receipt.Resends), sent again by a browser that did not learn the
// first answer, is answered 200 with the first receipt's id and receive
// time and stored no second time. It refuses with a JSON error, storing nothing: 404 unknown
// portal; 413 a body over maxReceiptBody; 400 a body that is not one such
// JSON object, a value that is not a cookie value, an unknown method, a
// language the policy does not offer, a page that is not an http(s) origin
// and a path, a bad undeclared list or storage lists (another type, a bad
// key, too many); 422 a value for a revision the portal does not
// serve (or no longer, see catalogue.Earlier), whose categories are not the
// policy's, that refuses a required one, or decided more than a day ahead
// of the server's clock or more than maxResendAge and a day behind it;
// 403 an Origin (or page) outside the portal's origins
// (allowedOrigin: by default its url's origin); 429 too many requests from one client (Retry-After); 503
// when the store fails (logged) or the host keeps none.
const (
	maxReceiptBody = 4 << 10
	// maxClockSkew is how far a decision time may be from the server's clock.
	maxClockSkew = 24 * time.Hour
	// maxResendAge is how long a browser sends a receipt not acknowledged
	// again: a decision time may be that much further in the past.
	maxResendAge = 7 * 24 * time.Hour
)

// receiptBody is the JSON of a receipt as the browser sends it.
type receiptBody struct {
	Value      string   `json:"value"`
	Method     string   `json:"method"`
	Lang       string   `json:"lang"`
	Page       string   `json:"page"`
	Undeclared []string `json:"undeclared"`
	// Storage maps a web storage type (localStorage, sessionStorage) to its
	// undeclared keys.
	Storage map[string][]string `json:"storage"`
}

var receiptKind = kind{noun: "receipt", maxBody: maxReceiptBody, shape: func(err error) string { return fmt.Sprintf("receipt body is not a JSON receipt: %v", err) }}

// PreflightConsents answers a CORS preflight of the receipts route (a
// browser that sends the receipt with fetch rather than sendBeacon).
func (b *Beacons) PreflightConsents(w http.ResponseWriter, r *http.Request) {
	respond.CORS(w)
	w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
	w.Header().Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// PostConsent serves POST /portals/{id}/consents. Every refusal but an
// unknown portal is counted by reason in the metrics; those of the body
// are logged at Info.
func (b *Beacons) PostConsent(w http.ResponseWriter, r *http.Request) {
	rc, err := b.postConsent(w, r)
	status := http.StatusCreated
	if errors.Is(err, receipts.ErrResent) {
		status, err = http.StatusOK, nil
	}
	if err != nil {
		a := b.errs.Answer(err)
		if a.Reason != "" {
			b.metrics.ReceiptRefused(a.Reason)
		}
		if a.Status < 500 && a.Status != http.StatusNotFound && a.Status != http.StatusTooManyRequests {
			b.log.Info("receipt refused", "portal", r.PathValue("id"), "status", a.Status, "reason", a.Msg)
		}
		respond.WriteAnswer(w, a)
		return
	}
	if status == http.StatusCreated {
		b.metrics.ReceiptAccepted()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		ReceiptID  string `json:"receiptId"`
		ReceivedAt string `json:"receivedAt"`
	}{rc.ID, rc.ReceivedAt.Format(time.RFC3339Nano)})
}

// postConsent takes the receipt of r and returns it once stored; a resend
// returns the receipt stored first and receipts.ErrResent.
func (b *Beacons) postConsent(w http.ResponseWriter, r *http.Request) (*receipts.Receipt, error) {
	var body receiptBody
	p, err := b.intake(w, r, receiptKind, b.receipts, &body)
	if err != nil {
		return nil, err
	}
	rc, undeclared, err := b.receipt(r, p, body)
	if err != nil {
		return nil, err
	}
	ctx, cancel := writeContext(r)
	defer cancel()
	err = b.admit.write(w, "receipt", func() error { return b.store.Append(ctx, rc, undeclared) })
	if errors.Is(err, receipts.ErrResent) {
		return rc, err
	}
	if err != nil {
		return nil, respond.Unavailable(err, "append", "receipts cannot be stored at the moment: retry later")
	}
	return rc, nil
}

// receipt checks body, the receipt of a choice for portal p: it returns the
// receipt to store and the undeclared names to tally, or a refusal.
func (b *Beacons) receipt(r *http.Request, p *catalogue.Portal, body receiptBody) (*receipts.Receipt, []receipts.Name, error) {
	pol := p.Policy
	c, err := policy.Decode(body.Value)
	if err != nil {
		return nil, nil, respond.Refuse(http.StatusBadRequest, "bad-value", "value: %v", err)
	}
	if !receipts.ValidMethod(body.Method) {
		return nil, nil, respond.Refuse(http.StatusBadRequest, "bad-method", "method: %q is not %s", respond.Clip(body.Method, 32), strings.Join(receipts.Methods, ", "))
	}
	v := p.Exact(body.Lang)
	if v == nil {
		return nil, nil, respond.Refuse(http.StatusBadRequest, "bad-lang", "lang: portal %q has no policy in %q (it has %s)",
			pol.ID, respond.Clip(body.Lang, 32), strings.Join(pol.Languages(), ", "))
	}
	page, err := checkPage(r, body.Page, pol)
	if err != nil {
		return nil, nil, err
	}
	names, err := undeclaredNames(pol, body.Undeclared)
	if err != nil {
		return nil, nil, err
	}
	keys, err := undeclaredKeys(pol, body.Storage)
	if err != nil {
		return nil, nil, err
	}
	undeclared := append(receipts.Cookies(names...), keys...)
	now := b.now()
	if d := c.Decided.Sub(now); d > maxClockSkew {
		return nil, nil, respond.Refuse(http.StatusUnprocessableEntity, "clock", "value: decided at %s, more than a day ahead of the server's clock", c.Decided.Format(time.RFC3339))
	} else if d < -maxClockSkew-maxResendAge {
		return nil, nil, respond.Refuse(http.StatusUnprocessableEntity, "clock", "value: decided at %s, more than 8 days before the server's clock", c.Decided.Format(time.RFC3339))
	}
	sha := v.Notice.SHA256
	if c.Revision == v.Policy.Revision {
		if err := c.Check(v.Policy, now); err != nil {
			return nil, nil, respond.Refuse(http.StatusUnprocessableEntity, "mismatch", "value: %v", err)
		}
	} else if sha, err = b.earlierNotice(r, pol.ID, v.Policy.Texts.Lang, c, now); err != nil {
		return nil, nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, nil, fmt.Errorf("no receipt id: %w", err)
	}
	return &receipts.Receipt{
		ID: id.String(), Portal: pol.ID, ConsentID: c.ID, Revision: int64(c.Revision),
		Choices: c.Choices, Method: body.Method, Lang: v.Policy.Texts.Lang, Page: page,
		DecidedAt: c.Decided.UTC(), ReceivedAt: now.UTC().Truncate(time.Microsecond), Notice: sha,
	}, undeclared, nil
}

// undeclaredKeys returns the keys of storage (web storage type → keys) the
// policy does not declare for that type, without duplicates, types in
// order (localStorage, then sessionStorage); a type other than those two,
// a key that is not a policy.ValidStorageName or holds a pattern character,
// or a list of more than policy.MaxUndeclared keys, is a refusal.
func undeclaredKeys(p *policy.Policy, storage map[string][]string) ([]receipts.Name, error) {
	types := []string{policy.TypeLocalStorage, policy.TypeSessionStorage}
	for typ := range storage {
		if !slices.Contains(types, typ) {
			return nil, respond.Refuse(http.StatusBadRequest, "bad-storage", "storage: %q is not %s", respond.Clip(typ, 32), strings.Join(types, " or "))
		}
	}
	var out []receipts.Name
	for _, typ := range types {
		list := storage[typ]
		if len(list) > policy.MaxUndeclared {
			return nil, respond.Refuse(http.StatusBadRequest, "bad-storage", "storage.%s: %d keys, at most %d", typ, len(list), policy.MaxUndeclared)
		}
		for _, k := range list {
			if !policy.ValidStorageName(k) || strings.ContainsAny(k, policy.PatternChars) {
				return nil, respond.Refuse(http.StatusBadRequest, "bad-storage", "storage.%s: %q is not a key of at most %d bytes of printable ASCII without spaces, \"(),;\\ or %q",
					typ, respond.Clip(k, 80), policy.MaxCookieNameBytes, policy.PatternChars)
			}
			n := receipts.Name{Type: typ, Name: k}
			if p.DeclaresIn(typ, k) || slices.Contains(out, n) {
				continue
			}
			out = append(out, n)
		}
	}
	return out, nil
}

// earlierNotice returns the SHA-256 of the notice of an earlier revision of
// the portal in lang that consent c was made for, when that revision is
// still within its lifetime (catalogue.Earlier) and c holds for it; else a
// refusal.
func (b *Beacons) earlierNotice(r *http.Request, portal, lang string, c policy.Consent, now time.Time) (string, error) {
	e, err := b.cat.Earlier(r.Context(), portal, lang, c.Revision)
	if err != nil {
		return "", respond.Unavailable(err, "read", "receipts cannot be checked at the moment: retry later")
	}
	if e == nil {
		return "", respond.Refuse(http.StatusUnprocessableEntity, "revision", "value: revision %d is not served for portal %q in %q", c.Revision, portal, lang)
	}
	if !e.Live(now) {
		return "", respond.Refuse(http.StatusUnprocessableEntity, "revision", "value: revision %d of portal %q is no longer served", c.Revision, portal)
	}
	if err := c.Check(e.Policy, now); err != nil {
		return "", respond.Refuse(http.StatusUnprocessableEntity, "mismatch", "value: %v", err)
	}
	return e.Notice.SHA256, nil
}

// undeclaredNames returns the names of list the policy does not declare
// (declared ones are dropped), without duplicates; a name that is not a
// cookie name, is over policy.MaxCookieNameBytes bytes or holds a pattern
// character ("*"), or more than policy.MaxUndeclared names, is a refusal.
func undeclaredNames(p *policy.Policy, list []string) ([]string, error) {
	if len(list) > policy.MaxUndeclared {
		return nil, respond.Refuse(http.StatusBadRequest, "bad-undeclared", "undeclared: %d names, at most %d", len(list), policy.MaxUndeclared)
	}
	var out []string
	for _, n := range list {
		if err := checkCookieName(n, "undeclared", "bad-undeclared"); err != nil {
			return nil, err
		}
		if n == policy.CookieName || p.Declares(n) || slices.Contains(out, n) {
			continue
		}
		out = append(out, n)
	}
	return out, nil
}

// checkCookieName refuses n (400, under reason) when it is not a cookie
// name of at most policy.MaxCookieNameBytes bytes, or when it holds a
// pattern character (policy.PatternChars: a reported "*" would become a
// row declaring every cookie).
func checkCookieName(n, field, reason string) error {
	if len(n) > policy.MaxCookieNameBytes || !policy.ValidCookieName(n) {
		return respond.Refuse(http.StatusBadRequest, reason, "%s: %q is not a cookie name of at most %d bytes", field, respond.Clip(n, 80), policy.MaxCookieNameBytes)
	}
	if strings.ContainsAny(n, policy.PatternChars) {
		return respond.Refuse(http.StatusBadRequest, reason, "%s: %q holds %q, a pattern character, never in a cookie name reported", field, respond.Clip(n, 80), policy.PatternChars)
	}
	return nil
}
