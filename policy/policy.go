// Package policy is the consent domain of a portal: its cookie policy (categories,
// the cookie table, the texts shown to visitors), the validation of that policy, and
// the codec of the cookies_preferences value that records a visitor's choice.
//
// It depends on the standard library only, so that the browser (WebAssembly), the
// host server and the tests share one definition of every rule.
package policy

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Well-known category ids. A policy may declare others.
const (
	Necessary   = "necessary"
	Statistical = "statistical"
)

// MaxRevision is the largest revision, 2^53-1.
const MaxRevision = 1<<53 - 1

// DefaultLifetimeDays is how long a choice is kept when a policy does not say
// (six months, as the CNIL recommends).
const DefaultLifetimeDays = 182

// maxLifetimeDays bounds the lifetime of a choice (13 months, the CNIL maximum).
const maxLifetimeDays = 395

// MinRefusalLifetimeDays is the shortest refusal lifetime a policy may set
// (six months: the proposed GDPR Art. 88b of the Digital Omnibus, COM(2025)
// 837, would have a refusal not asked again for six months).
const MinRefusalLifetimeDays = 182

// Policy is the cookie policy of one portal: what the banner asks and what the
// policy page shows.
type Policy struct {
	// ID names the portal in the script tag (data-portal) and in URLs.
	ID string `json:"id"`
	// Name is the portal's display name.
	Name string `json:"name"`
	// URL is the portal's public address, shown in the policy.
	URL string `json:"url"`
	// Revision changes whenever what a visitor consents to changes; a choice
	// made for another revision is asked again. It is at most MaxRevision
	// (the cookie codec and the loader read it as a JavaScript number).
	Revision int `json:"revision"`
	// LifetimeDays is how long a choice is kept; 0 means DefaultLifetimeDays.
	LifetimeDays int `json:"lifetimeDays,omitempty"`
	// RefusalLifetimeDays, when set, is how long a refusal (a choice that
	// accepts no optional category) is kept, so that the visitor is not asked
	// again sooner: at least MinRefusalLifetimeDays. 0 keeps a refusal for
	// the policy's lifetime, like any choice. See LifetimeOf.
	RefusalLifetimeDays int `json:"refusalLifetimeDays,omitempty"`
	// CookieDomain, when set, stores the choice for that domain and its
	// subdomains (Domain=…), so that a visitor decides once for all of them;
	// empty keeps it to the page's host. See CookieDomainFor.
	CookieDomain string `json:"cookieDomain,omitempty"`
	// Origins, when set, are the only page origins ("https://host[:port]")
	// the consent host takes receipts and beacons of this portal from; empty
	// takes them from URL's origin and, with CookieDomain, its https
	// subdomains (the consent host's server/beacons decides, and also takes
	// loopback pages). See ValidOrigin.
	Origins []string `json:"origins,omitempty"`
	// Categories are shown in this order; the first is usually "necessary".
	Categories []Category `json:"categories"`
	// Cookies is the table of the cookies the portal sets.
	Cookies []Cookie `json:"cookies"`
	// Trackers are the analytics tools the portal runs; ExpandTrackers adds
	// their cookies to the table.
	Trackers []Tracker `json:"trackers,omitempty"`
	// Updated is the date the policy last changed, "YYYY-MM-DD"; empty when
	// unknown. The policy page shows it (see UpdatedText).
	Updated string `json:"updated,omitempty"`
	// Texts holds what the visitor reads, in the policy's default language.
	Texts Texts `json:"texts"`
	// Translations are the other languages the policy is offered in (see
	// Languages and In); each is complete.
	Translations []Translation `json:"translations,omitempty"`
	// Theme sets the banner's colours, font and position; nil keeps the
	// defaults of web/banner.css.
	Theme *Theme `json:"theme,omitempty"`
}

// Category is a purpose a visitor accepts or rejects as a whole.
type Category struct {
	// ID is a short lowercase name ([a-z0-9_-], at most 32 characters).
	ID string `json:"id"`
	// Name is the label shown to visitors.
	Name string `json:"name"`
	// Description says what the category is for.
	Description string `json:"description"`
	// Required categories are always on and cannot be refused.
	Required bool `json:"required,omitempty"`
	// Signals are the Google Consent Mode v2 signals (see ConsentSignals)
	// granted while the category is accepted; every other signal is denied.
	Signals []string `json:"signals,omitempty"`
}

// ConsentSignals are the Google Consent Mode v2 signals a category may grant:
// the four core ones, then the non-core ones.
var ConsentSignals = []string{
	"ad_storage", "analytics_storage", "ad_user_data", "ad_personalization",
	"functionality_storage", "personalization_storage", "security_storage",
}

// Cookie is one row of the cookie table.
type Cookie struct {
	Provider string `json:"provider"`
	Function string `json:"function"`
	// Names are cookie names; "*" in a name stands for any run of characters
	// ("_pk_id.*", "_ga_*"). See MatchName.
	Names    []string `json:"names"`
	Purpose  string   `json:"purpose"`
	Category string   `json:"category"`
	Duration string   `json:"duration"`
	// Paths are the paths the cookies are set on, besides "/"; a withdrawal
	// clears the cookies on each of them. Only for cookies.
	Paths []string `json:"paths,omitempty"`
	// Type is where the row's data is kept (see StorageTypes): "" or
	// "cookie" (the default) for cookies; "localStorage" or
	// "sessionStorage" for keys of the portal's web storage; "indexedDB" for
	// IndexedDB database names. A withdrawal or a refusal clears each.
	Type string `json:"type,omitempty"`
}

// Storage types a cookie row may declare (Cookie.Type).
const (
	TypeCookie         = "cookie"
	TypeLocalStorage   = "localStorage"
	TypeSessionStorage = "sessionStorage"
	TypeIndexedDB      = "indexedDB"
)

// StorageTypes are the values of Cookie.Type, the default first.
var StorageTypes = []string{TypeCookie, TypeLocalStorage, TypeSessionStorage, TypeIndexedDB}

// Kind returns the row's storage type: Type, or TypeCookie when empty.
func (c Cookie) Kind() string {
	if c.Type == "" {
		return TypeCookie
	}
	return c.Type
}

// Texts is everything the banner, the preferences and the policy say.
type Texts struct {
	// Lang is the BCP 47 tag of the texts, e.g. "en".
	Lang string `json:"lang"`

	BannerTitle      string `json:"bannerTitle"`
	BannerText       string `json:"bannerText"`
	AcceptAll        string `json:"acceptAll"`
	RejectAll        string `json:"rejectAll"`
	Customize        string `json:"customize"`
	PolicyLink       string `json:"policyLink"`
	PreferencesTitle string `json:"preferencesTitle"`
	PreferencesText  string `json:"preferencesText"`
	AlwaysOn         string `json:"alwaysOn"`
	// CategoryCookies labels the disclosure that lists a category's cookies
	// in the preferences (followed by their count).
	CategoryCookies string `json:"categoryCookies"`
	Save            string `json:"save"`
	Close           string `json:"close"`
	// GPCNotice is shown in the banner when the browser sends Global Privacy
	// Control: optional categories start rejected.
	GPCNotice string `json:"gpcNotice"`
	// ManageCookies labels the buttons that open the preferences from the
	// policy.
	ManageCookies string `json:"manageCookies"`
	// ReloadText asks for a reload after a withdrawal, as scripts already
	// running cannot be stopped; Reload labels the button.
	ReloadText string `json:"reloadText"`
	Reload     string `json:"reload"`
	// ConsentID introduces, in the preferences of a visitor who has chosen,
	// the id of their choice ("Your consent ID:"), which they may quote to
	// the portal: the consent host keeps a receipt under it.
	ConsentID string `json:"consentId"`
	// LastUpdated introduces the policy's date on the policy page, with
	// "{day}", "{month}" and "{year}" replaced (see UpdatedText); Months are
	// the twelve month names, January first; FirstOfMonth, when set, is
	// written for day 1 ("1er" in French).
	LastUpdated  string   `json:"lastUpdated"`
	Months       []string `json:"months"`
	FirstOfMonth string   `json:"firstOfMonth,omitempty"`

	PolicyTitle string `json:"policyTitle"`
	PolicyIntro string `json:"policyIntro"`
	// Sections are the explanatory parts of the policy ("What is a cookie?"…).
	Sections []Section `json:"sections"`
	// CookiesTitle introduces the table; "{url}" is replaced by the portal URL.
	CookiesTitle string      `json:"cookiesTitle"`
	Columns      TableLabels `json:"columns"`
	// Embed is what the placeholder of an embed waiting for consent says
	// (optional: see EmbedTextsFor).
	Embed EmbedTexts `json:"embed,omitzero"`
	// Storage names the storage types other than cookies in the cookie
	// table (optional: see StorageTextsFor).
	Storage StorageTexts `json:"storage,omitzero"`
}

// StorageTexts label, in the cookie table, the rows that are not cookies
// (Cookie.Type). Each one left empty takes the built-in text of the
// language (English for a language with no built-in texts), see
// StorageTextsFor.
type StorageTexts struct {
	LocalStorage   string `json:"localStorage,omitempty"`
	SessionStorage string `json:"sessionStorage,omitempty"`
	IndexedDB      string `json:"indexedDB,omitempty"`
}

// Label returns the label of storage type typ ("" for a cookie or an
// unknown type).
func (s StorageTexts) Label(typ string) string {
	switch typ {
	case TypeLocalStorage:
		return s.LocalStorage
	case TypeSessionStorage:
		return s.SessionStorage
	case TypeIndexedDB:
		return s.IndexedDB
	}
	return ""
}

// EmbedTexts are the texts of the placeholder the loader shows in place of
// an <iframe data-category> until its category is accepted. "{provider}" is
// replaced by the embed's provider (YouTube…), "{category}" by the name of
// its category. Each one left empty takes the built-in text of the language
// (English for a language with no built-in texts), see EmbedTextsFor.
type EmbedTexts struct {
	// Title names the content: "Content from {provider}".
	Title string `json:"title,omitempty"`
	// Text says what loading it does.
	Text string `json:"text,omitempty"`
	// Load labels the button that loads this one embed, this once.
	Load string `json:"load,omitempty"`
	// Accept labels the button that accepts the category (and so loads every
	// embed of it, now and on later visits).
	Accept string `json:"accept,omitempty"`
}

// Section is a titled part of the policy text: paragraphs, then an optional list
// of terms with their definitions.
type Section struct {
	Title      string       `json:"title"`
	Paragraphs []string     `json:"paragraphs"`
	Terms      []Definition `json:"terms,omitempty"`
}

// Definition is a term and what it means.
type Definition struct {
	Term    string `json:"term"`
	Meaning string `json:"meaning"`
}

// TableLabels are the column headers of the cookie table.
type TableLabels struct {
	Provider string `json:"provider"`
	Function string `json:"function"`
	Names    string `json:"names"`
	Purpose  string `json:"purpose"`
	Category string `json:"category"`
	Duration string `json:"duration"`
}

var (
	idPattern       = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	langPattern     = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$`)
	domainPattern   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)
	cookiePath      = regexp.MustCompile(`^/[!-:<-~]*$`)
	cookieNameChars = regexp.MustCompile(`^[!#$%&'*+\-.^_` + "`" + `|~0-9A-Za-z]+$`)
)

// ValidID reports whether s can name a portal or a category: 1 to 32 characters
// of [a-z0-9_-], starting with a letter or digit.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// FieldError says which field of a policy is wrong and why.
type FieldError struct {
	Field string // e.g. "categories[1].id"
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Lifetime returns the number of days a choice is kept: LifetimeDays, or
// DefaultLifetimeDays when it is zero.
func (p *Policy) Lifetime() int {
	if p.LifetimeDays == 0 {
		return DefaultLifetimeDays
	}
	return p.LifetimeDays
}

// LifetimeOf returns the number of days the choice c is kept: for a refusal
// (c accepts none of the optional categories of p; choices of categories p
// does not declare count as optional) RefusalLifetimeDays when it is set,
// else Lifetime. (The wasm keeps every exported method: one method, not
// three.)
func (p *Policy) LifetimeOf(c Consent) int {
	if p.RefusalLifetimeDays == 0 {
		return p.Lifetime()
	}
	for _, ch := range c.Choices {
		if cat, ok := p.Category(ch.Category); ch.Accepted && (!ok || !cat.Required) {
			return p.Lifetime()
		}
	}
	return p.RefusalLifetimeDays
}

// Category returns the category with the given id, and false when there is none.
func (p *Policy) Category(id string) (Category, bool) {
	for _, c := range p.Categories {
		if c.ID == id {
			return c, true
		}
	}
	return Category{}, false
}

// Optional returns the categories a visitor may refuse, in policy order.
func (p *Policy) Optional() []Category {
	var out []Category
	for _, c := range p.Categories {
		if !c.Required {
			out = append(out, c)
		}
	}
	return out
}

// CookiesTitle returns Texts.CookiesTitle with "{url}" replaced by the portal URL.
func (p *Policy) CookiesTitle() string {
	return strings.ReplaceAll(p.Texts.CookiesTitle, "{url}", p.URL)
}

// Validate checks the policy and returns its first problem (the first of
// Problems) as a *FieldError, or nil. A valid policy has an id, a name, an absolute http(s) URL, a positive
// revision of at most MaxRevision, a lifetime of at most 395 days, a refusal
// lifetime of 0 or between 182 and 395 days, a required
// "necessary" category, unique category ids, cookies whose category exists and
// whose names are valid cookie names, trackers of known types in optional
// categories, an empty or YYYY-MM-DD updated date, every text filled in,
// complete translations (see Translation), each in a language of its own, and
// a theme (when there is one) whose colours are #rgb or #rrggbb with text
// contrast of at least 4.5:1 (WCAG AA) in light and dark, whose font is a plain
// font-family list and whose position is known.
func (p *Policy) Validate() error {
	if ps := p.Problems(); len(ps) > 0 {
		return ps[0]
	}
	return nil
}

// problems collects the problems of a policy, in the order of its fields.
type problems []*FieldError

// add records the problem of field.
func (ps *problems) add(field, msg string) { *ps = append(*ps, &FieldError{Field: field, Msg: msg}) }

// bad records the problem of field, its message formatted.
func (ps *problems) bad(field, format string, args ...any) {
	ps.add(field, fmt.Sprintf(format, args...))
}

// Problems returns every problem Validate checks for, in the order of the
// policy's fields, or nil for a valid policy. A problem that makes the
// checks after it meaningless (colours that cannot be read, for their
// contrast) hides those checks only.
func (p *Policy) Problems() []*FieldError {
	var ps problems
	bad := ps.bad
	if !ValidID(p.ID) {
		bad("id", "%q is not a valid id (1 to 32 of a-z, 0-9, _ and -)", p.ID)
	}
	if strings.TrimSpace(p.Name) == "" {
		bad("name", "is empty")
	}
	u, err := url.Parse(p.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		bad("url", "%q is not an absolute http(s) URL", p.URL)
	}
	if p.Revision < 1 || p.Revision > MaxRevision {
		bad("revision", "must be between 1 and %d, got %d", MaxRevision, p.Revision)
	}
	if p.LifetimeDays < 0 || p.LifetimeDays > maxLifetimeDays {
		bad("lifetimeDays", "must be between 1 and %d days (0 for the default %d), got %d",
			maxLifetimeDays, DefaultLifetimeDays, p.LifetimeDays)
	}
	if p.RefusalLifetimeDays != 0 && (p.RefusalLifetimeDays < MinRefusalLifetimeDays || p.RefusalLifetimeDays > maxLifetimeDays) {
		bad("refusalLifetimeDays", "must be between %d and %d days (0 for the policy's lifetime), got %d",
			MinRefusalLifetimeDays, maxLifetimeDays, p.RefusalLifetimeDays)
	}
	if p.CookieDomain != "" && (len(p.CookieDomain) > 253 || !domainPattern.MatchString(p.CookieDomain)) {
		bad("cookieDomain", "%q is not a domain name such as \"example.org\" (lowercase, no leading dot, no port)", p.CookieDomain)
	}
	for i, o := range p.Origins {
		if !ValidOrigin(o) {
			bad(fmt.Sprintf("origins[%d]", i), "%q is not a page origin such as \"https://data.example.org\" (https, lowercase host, optional port, no path)", o)
		} else if slices.Contains(p.Origins[:i], o) {
			bad(fmt.Sprintf("origins[%d]", i), "%q is listed twice", o)
		}
	}
	if len(p.Categories) == 0 {
		bad("categories", "is empty")
	}
	seen := map[string]bool{}
	for i, c := range p.Categories {
		f := fmt.Sprintf("categories[%d]", i)
		if !ValidID(c.ID) {
			bad(f+".id", "%q is not a valid id (1 to 32 of a-z, 0-9, _ and -)", c.ID)
		} else if seen[c.ID] {
			bad(f+".id", "%q is declared twice", c.ID)
		}
		seen[c.ID] = true
		if strings.TrimSpace(c.Name) == "" {
			bad(f+".name", "is empty")
		}
		if strings.TrimSpace(c.Description) == "" {
			bad(f+".description", "is empty")
		}
		if c.ID == Necessary && !c.Required {
			bad(f+".required", "the %q category must be required", Necessary)
		}
		for j, sig := range c.Signals {
			if !slices.Contains(ConsentSignals, sig) {
				bad(fmt.Sprintf("%s.signals[%d]", f, j), "%q is not a Consent Mode signal (%s)", sig, strings.Join(ConsentSignals, ", "))
			}
		}
	}
	if len(p.Categories) > 0 && !seen[Necessary] {
		bad("categories", "must include the required %q category", Necessary)
	}
	for i, c := range p.Cookies {
		f := fmt.Sprintf("cookies[%d]", i)
		if len(c.Names) == 0 {
			bad(f+".names", "is empty")
		}
		if c.Type != "" && !slices.Contains(StorageTypes, c.Type) {
			bad(f+".type", "%q is not a storage type (%s)", c.Type, strings.Join(StorageTypes, ", "))
		}
		for j, n := range c.Names {
			if c.Kind() == TypeCookie && !cookieNameChars.MatchString(n) {
				bad(fmt.Sprintf("%s.names[%d]", f, j), "%q is not a valid cookie name", n)
			}
			if c.Kind() != TypeCookie && !ValidStorageName(strings.ReplaceAll(n, "*", "a")) {
				bad(fmt.Sprintf("%s.names[%d]", f, j), "%q is not a valid %s name (1 to %d characters of printable ASCII, no spaces or any of %s)", n, c.Type, MaxCookieNameBytes, storageNameSeparators)
			}
		}
		if len(c.Paths) > 0 && c.Kind() != TypeCookie {
			bad(f+".paths", "only cookies have paths, not %s", c.Type)
		}
		if !seen[c.Category] {
			bad(f+".category", "%q is not a declared category", c.Category)
		}
		for j, pa := range c.Paths {
			if !cookiePath.MatchString(pa) {
				bad(fmt.Sprintf("%s.paths[%d]", f, j), "%q is not a cookie path (it starts with / and has no ; or spaces)", pa)
			}
		}
		for _, s := range []struct{ field, v string }{
			{"provider", c.Provider}, {"function", c.Function},
			{"purpose", c.Purpose}, {"duration", c.Duration},
		} {
			if strings.TrimSpace(s.v) == "" {
				bad(f+"."+s.field, "is empty")
			}
		}
	}
	p.validateTrackers(&ps)
	if p.Updated != "" {
		if _, err := time.Parse(time.DateOnly, p.Updated); err != nil {
			bad("updated", "%q is not a date written YYYY-MM-DD", p.Updated)
		}
	}
	p.Texts.validate("texts.", &ps)
	p.validateTranslations(&ps)
	if p.Theme != nil {
		p.Theme.validate(&ps)
	}
	return ps
}

// ValidOrigin reports whether o is a page origin as a browser sends it in
// the Origin header: "https://" then a lowercase host and an optional port,
// nothing else. Plain "http://" is valid only for loopback hosts (localhost,
// 127.0.0.1, [::1]), for tests and local demos.
func ValidOrigin(o string) bool {
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.Scheme+"://"+u.Host != o || u.Host != strings.ToLower(u.Host) {
		return false
	}
	if u.Port() != "" {
		if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != u.Port() {
			return false
		}
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := u.Hostname()
		return h == "localhost" || h == "127.0.0.1" || h == "::1"
	}
	return false
}

// validate records in ps every text not filled in; field names start with
// prefix ("texts.").
func (t *Texts) validate(prefix string, ps *problems) {
	if t.Lang == "" {
		ps.add(prefix+"lang", "is empty")
	} else if !langPattern.MatchString(t.Lang) {
		ps.bad(prefix+"lang", "%q is not a BCP 47 language tag such as \"en\" or \"fr-CA\"", t.Lang)
	}
	for _, s := range []struct{ field, v string }{
		{"bannerTitle", t.BannerTitle}, {"bannerText", t.BannerText},
		{"acceptAll", t.AcceptAll}, {"rejectAll", t.RejectAll},
		{"customize", t.Customize}, {"policyLink", t.PolicyLink},
		{"preferencesTitle", t.PreferencesTitle}, {"preferencesText", t.PreferencesText},
		{"alwaysOn", t.AlwaysOn}, {"categoryCookies", t.CategoryCookies},
		{"save", t.Save}, {"close", t.Close},
		{"gpcNotice", t.GPCNotice}, {"manageCookies", t.ManageCookies},
		{"reloadText", t.ReloadText}, {"reload", t.Reload},
		{"consentId", t.ConsentID},
		{"lastUpdated", t.LastUpdated},
		{"policyTitle", t.PolicyTitle}, {"policyIntro", t.PolicyIntro},
		{"cookiesTitle", t.CookiesTitle},
		{"columns.provider", t.Columns.Provider}, {"columns.function", t.Columns.Function},
		{"columns.names", t.Columns.Names}, {"columns.purpose", t.Columns.Purpose},
		{"columns.category", t.Columns.Category}, {"columns.duration", t.Columns.Duration},
	} {
		if strings.TrimSpace(s.v) == "" {
			ps.add(prefix+s.field, "is empty")
		}
	}
	if len(t.Months) != 12 {
		ps.bad(prefix+"months", "must list the 12 month names, got %d", len(t.Months))
	}
	for i, m := range t.Months {
		if strings.TrimSpace(m) == "" {
			ps.add(fmt.Sprintf("%smonths[%d]", prefix, i), "is empty")
		}
	}
	for i, s := range t.Sections {
		if strings.TrimSpace(s.Title) == "" {
			ps.add(fmt.Sprintf("%ssections[%d].title", prefix, i), "is empty")
		}
	}
}
