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
// not parse are skipped; an empty or oversized list gives none. Norwegian
// and Portuguese entries are followed by their siblings (see siblings).
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
		for _, tag := range siblings(tags[0]) {
			prefs = append(prefs, pref{tag, qs[0]})
		}
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

// Tag returns the tag a matcher should know an offered language by: the
// language's own, except that "pt" stands for European Portuguese (the
// product's "pt" texts are; CLDR reads a bare "pt" as Brazilian), so that
// with "pt" and "pt-BR" both offered a visitor from Portugal gets "pt" and
// one from Brazil "pt-BR", and with "pt" alone both get it. A tag the policy
// accepts but x/text does not know becomes "und", which no visitor's
// preference matches: only exact URLs reach it.
func Tag(offered string) language.Tag {
	if strings.EqualFold(offered, "pt") {
		return language.MustParse("pt-PT")
	}
	tag, _ := language.Parse(offered)
	return tag
}

// siblings returns tag followed by the written standards a reader of it
// reads as well, which x/text ranks below an exact match of a later, less
// preferred language: Norwegian "no" (a macrolanguage) is read as Bokmål,
// then Nynorsk; Bokmål and Nynorsk readers get the other next; a Brazilian
// reader ("pt-BR") gets European Portuguese ("pt-PT") next, any other
// Portuguese reader Brazilian Portuguese. So "no-NO,en" gets Nynorsk on a
// portal without Bokmål, and "pt-BR,en" gets European Portuguese on a portal
// without "pt-BR", where x/text alone would pick English. The region is kept.
func siblings(tag language.Tag) []language.Tag {
	base, _ := tag.Base()
	var also []string
	switch base.String() {
	case "no", "nb":
		also = []string{"nb", "nn"}
	case "nn":
		also = []string{"nn", "nb"}
	case "pt":
		if r, _ := tag.Region(); r.String() == "BR" {
			return []language.Tag{tag, language.MustParse("pt-PT")}
		}
		return []language.Tag{tag, language.MustParse("pt-BR")}
	default:
		return []language.Tag{tag}
	}
	out := []language.Tag{}
	for _, b := range also {
		t, err := language.Compose(tag, language.MustParseBase(b))
		if err == nil {
			out = append(out, t)
		}
	}
	return out
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
