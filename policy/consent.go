package policy

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CookieName is the name of the first-party cookie that stores a visitor's choice.
const CookieName = "cookies_preferences"

// FormatVersion is the version of the cookie value this package writes.
const FormatVersion = 1

// MaxValueLen bounds the cookie value; longer values are refused unread.
const MaxValueLen = 1024

// consentIDLen is the length of a consent id: 16 random bytes, base64url.
const consentIDLen = 22

// Errors of Decode and Consent.Check. Each means "ask again"; none is consent.
var (
	ErrMissing   = errors.New("no choice stored")
	ErrMalformed = errors.New("malformed value")
	ErrOversized = errors.New("value too long")
	ErrForeign   = errors.New("not a cookies_preferences value")
	ErrVersion   = errors.New("unsupported format version")
	ErrRevision  = errors.New("choice made for another policy revision")
	ErrExpired   = errors.New("choice expired")
	ErrMismatch  = errors.New("choice does not match the policy categories")
)

// Choice is the decision for one category.
type Choice struct {
	Category string
	Accepted bool
}

// Consent is a visitor's recorded choice.
//
// Its cookie value (format version 1) is five fields separated by "|":
//
//	1|<revision>|<decided, Unix seconds>|<consent id>|<category>=<0 or 1>/…
//
// for example "1|3|1732300000|q8B3x0aPq1V2LmN7rT4sYw|necessary=1/statistical=0".
// The consent id is 16 random bytes in unpadded base64url. Every character is
// valid in a cookie value without quoting.
type Consent struct {
	Version  int
	Revision int
	Decided  time.Time
	ID       string
	Choices  []Choice
}

// NewConsent returns a choice for every category of p made at now, with a new
// random consent id: required categories are accepted, the others are accepted
// when accept returns true for their id (accept may be nil: reject all).
func NewConsent(p *Policy, now time.Time, accept func(category string) bool) Consent {
	c := Consent{
		Version:  FormatVersion,
		Revision: p.Revision,
		Decided:  now.Truncate(time.Second),
		ID:       NewConsentID(),
	}
	for _, cat := range p.Categories {
		c.Choices = append(c.Choices, Choice{
			Category: cat.ID,
			Accepted: cat.Required || (accept != nil && accept(cat.ID)),
		})
	}
	return c
}

// KeptID returns the consent id a new choice must carry when value is the
// cookie a visitor holds: the id of value when it decodes (any revision,
// expired or not: the same visitor's history goes on), else a new random one
// (no readable choice). A withdrawal thus keeps the id the visitor may quote.
func KeptID(value string) string {
	if c, err := Decode(value); err == nil {
		return c.ID
	}
	return NewConsentID()
}

// NewConsentID returns 16 bytes from crypto/rand in unpadded base64url.
func NewConsentID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("policy: no randomness for a consent id: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Accepted reports whether the category is accepted; an unknown category is not.
func (c Consent) Accepted(category string) bool {
	for _, ch := range c.Choices {
		if ch.Category == category {
			return ch.Accepted
		}
	}
	return false
}

// Encode returns the cookie value of c.
func (c Consent) Encode() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(c.Version))
	b.WriteByte('|')
	b.WriteString(strconv.Itoa(c.Revision))
	b.WriteByte('|')
	b.WriteString(strconv.FormatInt(c.Decided.Unix(), 10))
	b.WriteByte('|')
	b.WriteString(c.ID)
	b.WriteByte('|')
	for i, ch := range c.Choices {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(ch.Category)
		if ch.Accepted {
			b.WriteString("=1")
		} else {
			b.WriteString("=0")
		}
	}
	return b.String()
}

// Decode parses a cookie value. It never panics: an empty value returns
// ErrMissing, a value over MaxValueLen ErrOversized, a value that is not ours
// ErrForeign, a value of another format version ErrVersion, and any other
// defect ErrMalformed (wrapped with detail). Decode checks the format only;
// Check says whether the choice still holds for a policy.
func Decode(value string) (Consent, error) {
	if value == "" {
		return Consent{}, ErrMissing
	}
	if len(value) > MaxValueLen {
		return Consent{}, ErrOversized
	}
	fields := strings.Split(value, "|")
	if len(fields) < 2 {
		return Consent{}, ErrForeign
	}
	version, err := strconv.Atoi(fields[0])
	if err != nil || version < 1 || fields[0] != strconv.Itoa(version) {
		return Consent{}, ErrForeign
	}
	if version != FormatVersion {
		return Consent{}, fmt.Errorf("%w: %d", ErrVersion, version)
	}
	if len(fields) != 5 {
		return Consent{}, fmt.Errorf("%w: %d fields, want 5", ErrMalformed, len(fields))
	}
	c := Consent{Version: version}
	if c.Revision, err = parsePositive(fields[1]); err != nil {
		return Consent{}, fmt.Errorf("%w: revision: %v", ErrMalformed, err)
	}
	secs, err := parsePositive(fields[2])
	if err != nil {
		return Consent{}, fmt.Errorf("%w: time: %v", ErrMalformed, err)
	}
	c.Decided = time.Unix(int64(secs), 0).UTC()
	c.ID = fields[3]
	if len(c.ID) != consentIDLen {
		return Consent{}, fmt.Errorf("%w: consent id has %d characters, want %d", ErrMalformed, len(c.ID), consentIDLen)
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(c.ID); err != nil {
		return Consent{}, fmt.Errorf("%w: consent id is not base64url", ErrMalformed)
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(fields[4], "/") {
		cat, flag, ok := strings.Cut(part, "=")
		if !ok || !ValidID(cat) || (flag != "0" && flag != "1") {
			return Consent{}, fmt.Errorf("%w: choice %q", ErrMalformed, part)
		}
		if seen[cat] {
			return Consent{}, fmt.Errorf("%w: category %q appears twice", ErrMalformed, cat)
		}
		seen[cat] = true
		c.Choices = append(c.Choices, Choice{Category: cat, Accepted: flag == "1"})
	}
	return c, nil
}

// parsePositive parses a canonical decimal integer between 1 and 2^53-1 (so
// that JavaScript reads the same number).
func parsePositive(s string) (int, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > 1<<53-1 || s != strconv.FormatInt(n, 10) {
		return 0, fmt.Errorf("%q is not a positive integer", s)
	}
	return int(n), nil
}

// Check reports whether c is still a valid choice for p at now, and why not:
// ErrRevision when it was made for another revision, ErrExpired when it is older
// than its lifetime (the policy's, or its refusal lifetime for a refusal: see
// LifetimeOf) or dated more than a day in the future, ErrMismatch
// when it lacks a category of p, names one p does not declare, or refuses a
// required one.
func (c Consent) Check(p *Policy, now time.Time) error {
	if c.Revision != p.Revision {
		return fmt.Errorf("%w: %d, policy is at %d", ErrRevision, c.Revision, p.Revision)
	}
	if now.Sub(c.Decided) > time.Duration(p.LifetimeOf(c))*24*time.Hour {
		return ErrExpired
	}
	if c.Decided.Sub(now) > 24*time.Hour {
		return fmt.Errorf("%w: decided in the future", ErrExpired)
	}
	if len(c.Choices) != len(p.Categories) {
		return fmt.Errorf("%w: %d choices for %d categories", ErrMismatch, len(c.Choices), len(p.Categories))
	}
	seen := map[string]bool{}
	for _, ch := range c.Choices {
		cat, ok := p.Category(ch.Category)
		if !ok {
			return fmt.Errorf("%w: unknown category %q", ErrMismatch, ch.Category)
		}
		if seen[ch.Category] {
			return fmt.Errorf("%w: category %q appears twice", ErrMismatch, ch.Category)
		}
		seen[ch.Category] = true
		if cat.Required && !ch.Accepted {
			return fmt.Errorf("%w: required category %q refused", ErrMismatch, ch.Category)
		}
	}
	return nil
}

// Current returns the stored choice in value if it holds for p at now. Any
// problem (see Decode and Check) returns the error and means: ask again.
func Current(value string, p *Policy, now time.Time) (Consent, error) {
	c, err := Decode(value)
	if err != nil {
		return Consent{}, err
	}
	if err := c.Check(p, now); err != nil {
		return Consent{}, err
	}
	return c, nil
}

// CookieValue returns the value of the cookie named name in a Cookie header or
// document.cookie line, or "" when it is absent. It is lenient: pairs without
// "=", stray spaces and other cookies' junk are skipped; when the name appears
// more than once, the first occurrence wins (browsers list the cookie with the
// longest path first). Surrounding double quotes are removed.
func CookieValue(line, name string) string {
	for len(line) > 0 {
		var part string
		part, line, _ = strings.Cut(line, ";")
		k, v, ok := strings.Cut(part, "=")
		if !ok || strings.TrimSpace(k) != name {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		return v
	}
	return ""
}

// SetCookie returns the document.cookie assignment that stores value for
// lifetimeDays days: Path=/, SameSite=Lax, Max-Age and Expires, and Secure when
// secure is true. domain, when not empty, adds a Domain attribute.
func SetCookie(value string, lifetimeDays int, now time.Time, secure bool, domain string) string {
	maxAge := lifetimeDays * 24 * 60 * 60
	var b strings.Builder
	b.WriteString(CookieName + "=" + value)
	b.WriteString("; Path=/")
	if domain != "" {
		b.WriteString("; Domain=" + domain)
	}
	fmt.Fprintf(&b, "; Max-Age=%d", maxAge)
	b.WriteString("; Expires=" + now.Add(time.Duration(maxAge)*time.Second).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))
	b.WriteString("; SameSite=Lax")
	if secure {
		b.WriteString("; Secure")
	}
	return b.String()
}
