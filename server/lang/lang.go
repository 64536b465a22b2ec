// Package lang negotiates languages. A visitor's preferences arrive as a
// list in the syntax of Accept-Language ("fr-CA,fr;q=0.9,en"): in the lang
// query parameter of config.json and of the policy page (the loader sends
// data-lang, else the page's <html lang>, else navigator.languages), or in
// the Accept-Language header of the policy page and the console. The list
// is matched against the languages offered with golang.org/x/text/language;
// anything unmatched, unparsable or oversized gets the default language,
// never an error: an odd browser setting must not cost a visitor the banner.
package lang

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

const (
	// MaxList bounds the preference list read, in bytes; a longer one is
	// ignored as a whole.
	MaxList = 512
	// MaxEntries bounds how many of its entries are considered.
	MaxEntries = 16
)

// Preferences parses a list in the syntax of Accept-Language into tags, most
// preferred first (stable by q-value; q=0 entries dropped). Entries that do
// not parse are skipped; an empty or oversized list gives none.
func Preferences(list string) []language.Tag {
	if len(list) > MaxList {
		return nil
	}
	type pref struct {
		tag language.Tag
		q   float32
	}
	var prefs []pref
	for i, entry := range strings.Split(list, ",") {
		if i == MaxEntries {
			break
		}
		entry = strings.TrimSpace(entry)
		if entry == "" || entry == "*" {
			continue
		}
		tags, qs, err := language.ParseAcceptLanguage(entry)
		if err != nil || len(tags) != 1 || qs[0] <= 0 {
			continue
		}
		prefs = append(prefs, pref{tags[0], qs[0]})
	}
	slices.SortStableFunc(prefs, func(a, b pref) int {
		switch {
		case a.q > b.q:
			return -1
		case a.q < b.q:
			return 1
		}
		return 0
	})
	tags := make([]language.Tag, len(prefs))
	for i, p := range prefs {
		tags[i] = p.tag
	}
	return tags
}

// Match returns the index, among the n languages m was made of, that best
// fits the preference list (see Preferences), or 0 (the default) when none
// fits.
func Match(m language.Matcher, n int, list string) int {
	prefs := Preferences(list)
	if len(prefs) == 0 {
		return 0
	}
	_, i, conf := m.Match(prefs...)
	if conf == language.No || i < 0 || i >= n {
		return 0
	}
	return i
}

// Name returns the name of the language tag in that language ("Français"
// for "fr"), or the tag itself when x/text has no name for it.
func Name(tag string) string {
	t, err := language.Parse(tag)
	if err != nil {
		return tag
	}
	name := display.Self.Name(t)
	if name == "" {
		return tag
	}
	// Languages whose names are lowercase mid-sentence are capitalized as
	// a label.
	first, size := utf8.DecodeRuneInString(name)
	return string(unicode.ToTitle(first)) + name[size:]
}
