package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Tracker presets: a policy lists the analytics tools a portal runs, and each
// preset adds the cookies that tool sets to the cookie table (see
// ExpandTrackers).
const (
	TrackerGoogleAnalytics = "google-analytics" // Google Analytics 4 (gtag.js)
	TrackerMatomo          = "matomo"           // Matomo JavaScript tracker
	TrackerXiTi            = "xiti"             // AT Internet's older xtcore.js tag
	TrackerATInternet      = "at-internet"      // AT Internet SmartTag (smarttag.js)
)

// TrackerTypes are the tracker presets a policy may declare.
var TrackerTypes = []string{TrackerGoogleAnalytics, TrackerMatomo, TrackerXiTi, TrackerATInternet}

// Tracker is an analytics tool the portal runs, in the category a visitor
// accepts for it.
type Tracker struct {
	// Type is one of TrackerTypes.
	Type string `json:"type"`
	// Category is the id of a declared category that is not required.
	Category string `json:"category"`
}

// TrackerCookies returns the cookie rows of a tracker preset, with an empty
// Category, or nil for an unknown type. Names follow the vendors' published
// cookie lists (Google's "[GA4] Cookie usage on websites", Matomo's FAQ
// "What cookies are created by the Matomo JavaScript tracking client?", AT
// Internet's "AT Internet cookies" for smarttag.js and xtcore.js) with their
// default durations.
func TrackerCookies(typ string) []Cookie {
	row := func(provider, function, purpose, duration string, names ...string) Cookie {
		return Cookie{Provider: provider, Function: function, Names: names, Purpose: purpose, Duration: duration}
	}
	switch typ {
	case TrackerGoogleAnalytics:
		const p, f = "Google (Google Analytics)", "Audience measurement (Google Analytics 4)"
		return []Cookie{
			row(p, f, "To distinguish visitors", "2 years", "_ga"),
			row(p, f, "To keep the state of the visit", "2 years", "_ga_*"),
		}
	case TrackerMatomo:
		const p, f = "Matomo", "Audience measurement (Matomo)"
		return []Cookie{
			row(p, f, "To store a unique visitor id", "13 months", "_pk_id.*"),
			row(p, f, "To store how the visitor first reached the site", "6 months", "_pk_ref.*"),
			row(p, f, "To group the pages seen in one visit", "30 minutes", "_pk_ses.*", "_pk_cvar.*", "_pk_hsr.*"),
			row(p, f, "To check that the browser accepts cookies (deleted at once)", "Session", "_pk_testcookie.*"),
		}
	case TrackerXiTi:
		const p, f = "AT Internet (XiTi)", "Audience measurement (XiTi, xtcore.js)"
		return []Cookie{
			row(p, f, "To store a unique visitor id", "13 months", "xtidc"),
			row(p, f, "To list the sites of the account the visitor has seen", "6 months", "xtvrn"),
			row(p, f, "To remember identified visitors", "6 months", "xtan*", "xtant*"),
			row(p, f, "To remember the campaign that brought the visitor", "30 days", "xtor*"),
		}
	case TrackerATInternet:
		const p, f = "AT Internet", "Audience measurement (AT Internet SmartTag)"
		return []Cookie{
			row(p, f, "To store a unique visitor id", "13 months", "atuserid"),
			row(p, f, "To list the sites of the account the visitor has seen", "6 months", "atidvisitor"),
			row(p, f, "To remember the visitor's privacy mode", "13 months", "atauthority"),
			row(p, f, "To remember the campaigns of the visit", "30 minutes", "atsession"),
			row(p, f, "To remember the attribution campaign", "30 days", "atreman"),
			row(p, f, "To carry the measurement across a redirection", "30 seconds", "atredir"),
		}
	}
	return nil
}

// ExpandTrackers appends to the cookie table of p the rows of each declared
// tracker preset, in the tracker's category. A row is not added when the table
// already has a row with the same names (the operator's own wording wins), so
// expanding twice adds nothing. Unknown tracker types add nothing (Validate
// reports them). It is a function, not a method of Policy, so that the wasm,
// which never calls it, does not link the presets (a binary that may call
// methods by name through reflection keeps every exported method).
func ExpandTrackers(p *Policy) {
	for _, tr := range p.Trackers {
		for _, c := range TrackerCookies(tr.Type) {
			if slices.ContainsFunc(p.Cookies, func(have Cookie) bool { return slices.Equal(have.Names, c.Names) }) {
				continue
			}
			c.Category = tr.Category
			p.Cookies = append(p.Cookies, c)
		}
	}
}

// validateTrackers checks that each tracker has a known type, at most once,
// in a declared category that is not required.
func (p *Policy) validateTrackers() error {
	seen := map[string]bool{}
	for i, tr := range p.Trackers {
		f := fmt.Sprintf("trackers[%d]", i)
		if !slices.Contains(TrackerTypes, tr.Type) {
			return &FieldError{Field: f + ".type", Msg: fmt.Sprintf("%q is not a tracker preset (%s)", tr.Type, strings.Join(TrackerTypes, ", "))}
		}
		if seen[tr.Type] {
			return &FieldError{Field: f + ".type", Msg: fmt.Sprintf("%q is declared twice", tr.Type)}
		}
		seen[tr.Type] = true
		c, ok := p.Category(tr.Category)
		if !ok {
			return &FieldError{Field: f + ".category", Msg: fmt.Sprintf("%q is not a declared category", tr.Category)}
		}
		if c.Required {
			return &FieldError{Field: f + ".category", Msg: fmt.Sprintf("%q is required: a tracker needs a category the visitor can refuse", tr.Category)}
		}
	}
	return nil
}
