package policy

import (
	"slices"
	"strings"
	"unicode"
)

// This file holds the rules that make a choice take effect on the page. The
// loader (web/embed.js) applies them on every page view and mirrors each one;
// both are tested against policy/testdata/rule-vectors.json.

// PatternChars are the characters a declared name pattern reads as a
// pattern rather than as themselves (MatchName's "*"). A name a browser
// reports as found on a page must hold none: pasted as a declared name it
// would match other cookies than itself ("*" would declare every cookie).
const PatternChars = "*"

// MatchName reports whether the cookie name matches the declared name pattern:
// "*" stands for any run of characters (none included), every other character
// for itself. The loader's matcher (web/embed.js) follows the same rule; both
// are tested against policy/testdata/cookie-vectors.json.
func MatchName(pattern, name string) bool {
	first, rest, wild := strings.Cut(pattern, "*")
	if !wild {
		return pattern == name
	}
	if !strings.HasPrefix(name, first) {
		return false
	}
	name = name[len(first):]
	parts := strings.Split(rest, "*")
	last := parts[len(parts)-1]
	for _, part := range parts[:len(parts)-1] {
		i := strings.Index(name, part)
		if i < 0 {
			return false
		}
		name = name[i+len(part):]
	}
	return len(name) >= len(last) && strings.HasSuffix(name, last)
}

// Accepts reports whether category id is accepted under the consent c: a
// required category always is, an optional one when c is not nil and accepts
// it. An unknown category is not.
func (p *Policy) Accepts(c *Consent, id string) bool {
	cat, ok := p.Category(id)
	if !ok {
		return false
	}
	return cat.Required || (c != nil && c.Accepted(id))
}

// ConsentMode returns the Google Consent Mode state under the consent c:
// every signal of ConsentSignals "denied", except the signals of accepted
// categories, "granted". A nil c (no choice yet) denies every signal.
func (p *Policy) ConsentMode(c *Consent) map[string]string {
	out := make(map[string]string, len(ConsentSignals))
	for _, s := range ConsentSignals {
		out[s] = "denied"
	}
	if c == nil {
		return out
	}
	for _, cat := range p.Categories {
		if p.Accepts(c, cat.ID) {
			for _, s := range cat.Signals {
				out[s] = "granted"
			}
		}
	}
	return out
}

// ToClear returns, in order, the names among present (the cookies the page
// has) that the consent c withdraws: each matches a declared name of a refused
// category and none of an accepted one. The cookies_preferences cookie is never
// withdrawn, and undeclared cookies are left alone.
func (p *Policy) ToClear(c Consent, present []string) []string {
	return p.ToClearIn(TypeCookie, c, present)
}

// ToClearIn is ToClear for the rows of storage type typ (see StorageTypes):
// the names among present (localStorage keys, IndexedDB database names…)
// that the consent c withdraws. web/clear.js applies it to web storage and
// IndexedDB.
func (p *Policy) ToClearIn(typ string, c Consent, present []string) []string {
	var out []string
	for _, n := range present {
		refused, kept := false, n == CookieName
		for _, row := range p.Cookies {
			if row.Kind() != typ {
				continue
			}
			for _, pat := range row.Names {
				if MatchName(pat, n) {
					if p.Accepts(&c, row.Category) {
						kept = true
					} else {
						refused = true
					}
				}
			}
		}
		if refused && !kept {
			out = append(out, n)
		}
	}
	return out
}

// CookieDomainFor returns the Domain attribute the choice is stored with on a
// page of host: the policy's cookie domain when host is that domain or one of
// its subdomains, else "" (host-only: a portal served elsewhere, e.g. a test
// host, still stores its choice).
func CookieDomainFor(domain, host string) string {
	host = strings.ToLower(host)
	if domain != "" && (host == domain || strings.HasSuffix(host, "."+domain)) {
		return domain
	}
	return ""
}

// Limits of the undeclared cookie names a receipt reports (see Undeclared).
const (
	// MaxUndeclared is how many undeclared names one receipt reports at most.
	MaxUndeclared = 32
	// MaxCookieNameBytes is the longest cookie name reported.
	MaxCookieNameBytes = 64
)

// ValidCookieName reports whether name is a cookie name of RFC 6265 (a
// token: printable ASCII without spaces or the separators ()<>@,;:\"/[]?={})
// of 1 to MaxCookieNameBytes bytes. It returns false for anything else.
func ValidCookieName(name string) bool {
	if name == "" || len(name) > MaxCookieNameBytes {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// storageNameSeparators are the characters a web storage key or IndexedDB
// name may not hold to be declared or reported (see ValidStorageName).
const storageNameSeparators = `"(),;\`

// ValidStorageName reports whether name can be a declared or reported
// localStorage, sessionStorage or IndexedDB name: 1 to MaxCookieNameBytes
// bytes of printable ASCII without spaces or any of storageNameSeparators
// (a key beyond is neither declared nor reported). It returns false for
// anything else.
func ValidStorageName(name string) bool {
	if name == "" || len(name) > MaxCookieNameBytes {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(storageNameSeparators, c) >= 0 {
			return false
		}
	}
	return true
}

// Declares reports whether a cookie row of the policy declares name (a name
// or a pattern of it matches, see MatchName).
func (p *Policy) Declares(name string) bool {
	return p.DeclaresIn(TypeCookie, name)
}

// DeclaresIn reports whether a row of storage type typ (see StorageTypes)
// declares name.
func (p *Policy) DeclaresIn(typ, name string) bool {
	for _, row := range p.Cookies {
		if row.Kind() != typ {
			continue
		}
		for _, pat := range row.Names {
			if MatchName(pat, name) {
				return true
			}
		}
	}
	return false
}

// Undeclared returns the names of the cookies of a document.cookie line that
// the policy does not declare (Declares), in order and once each: only valid
// names (ValidCookieName) holding none of PatternChars, never
// cookies_preferences, at most MaxUndeclared.
// A part of the line without "=" (a nameless cookie) is skipped. The browser
// reports them with each receipt; web/ui.js mirrors this rule, tested against
// policy/testdata/rule-vectors.json.
func (p *Policy) Undeclared(line string) []string {
	var out []string
	for _, part := range strings.Split(line, ";") {
		name, _, ok := strings.Cut(part, "=")
		// The space JavaScript's trim() removes: Unicode's, U+FEFF too, but
		// not U+0085.
		name = strings.TrimFunc(name, func(r rune) bool {
			return r == '\uFEFF' || r != '\u0085' && unicode.IsSpace(r)
		})
		if !ok || len(out) == MaxUndeclared || !ValidCookieName(name) || strings.ContainsAny(name, PatternChars) || name == CookieName ||
			slices.Contains(out, name) || p.Declares(name) {
			continue
		}
		out = append(out, name)
	}
	return out
}

// UndeclaredIn returns the names among keys (the keys of the page's
// localStorage or sessionStorage: typ) that no row of that type declares,
// in order and once each: only valid names (ValidStorageName) holding none
// of PatternChars, at most MaxUndeclared. Names only: the browser never
// reports a value. web/ui.js mirrors this rule, tested against
// policy/testdata/rule-vectors.json.
func (p *Policy) UndeclaredIn(typ string, keys []string) []string {
	var out []string
	for _, name := range keys {
		if len(out) == MaxUndeclared || !ValidStorageName(name) || strings.ContainsAny(name, PatternChars) ||
			slices.Contains(out, name) || p.DeclaresIn(typ, name) {
			continue
		}
		out = append(out, name)
	}
	return out
}
