package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/portalconsent/portalconsent/policy"
	"golang.org/x/text/language"
)

// Language negotiation. A visitor's preferences arrive as a list in the
// syntax of Accept-Language ("fr-CA,fr;q=0.9,en"): in the lang query
// parameter of config.json and of the policy page (the loader sends
// data-lang, else the page's <html lang>, else navigator.languages), or in the
// Accept-Language header of the policy page. The list is matched against the
// languages the policy offers with golang.org/x/text/language; anything
// unmatched, unparsable or oversized gets the policy's default language, never
// an error: an odd browser setting must not cost a visitor the banner.
const (
	// maxLangList bounds the preference list read, in bytes; a longer one
	// is ignored as a whole.
	maxLangList = 512
	// maxLangEntries bounds how many of its entries are considered.
	maxLangEntries = 16
)

// variant is a portal's policy in one language, with its config.json.
type variant struct {
	policy *policy.Policy // single-language: no translations
	config *asset
	notice notice // the policy as config.json carries it: the notice shown
}

// newVariants returns p in each of its languages (default first) with its
// config.json (whose CSS is the stylesheet then theme, the portal's
// ThemeCSS), and the matcher over those languages.
func (s *Server) newVariants(p *policy.Policy, theme string) ([]*variant, language.Matcher, error) {
	var out []*variant
	var tags []language.Tag
	for _, lang := range p.Languages() {
		q, ok := p.In(lang)
		if !ok {
			return nil, nil, fmt.Errorf("server: portal %q: no policy in %q", p.ID, lang)
		}
		// The embeds' placeholder texts, complete (the built-in ones for what
		// the policy leaves out).
		q.Texts.Embed = policy.EmbedTextsFor(q.Texts)
		body, err := json.Marshal(config{
			Policy: q,
			Assets: configAssets{Wasm: s.wasm.name, WasmExec: s.wasmExec.name, CSS: s.css.name},
			Banner: BannerHTML(q),
			CSS:    string(s.css.raw) + theme,
			Dir:    strings.TrimPrefix(policy.Dir(lang), "ltr"),
		})
		if err != nil {
			return nil, nil, err
		}
		cfg, err := newAsset("config.json", body, "application/json", false, nil, nil)
		if err != nil {
			return nil, nil, err
		}
		cfg.maxAge = configMaxAge
		out = append(out, &variant{policy: q, config: cfg})
		tags = append(tags, offeredTag(lang))
	}
	return out, language.NewMatcher(tags), nil
}

// offeredTag returns the tag the matcher knows an offered language by: the
// language's own, except that "pt" stands for European Portuguese (the
// product's "pt" texts are; CLDR reads a bare "pt" as Brazilian), so that
// with "pt" and "pt-BR" both offered a visitor from Portugal gets "pt" and
// one from Brazil "pt-BR", and with "pt" alone both get it. A tag the policy
// accepts but x/text does not know becomes "und", which no visitor's
// preference matches: only exact URLs reach it.
func offeredTag(lang string) language.Tag {
	if strings.EqualFold(lang, "pt") {
		return language.MustParse("pt-PT")
	}
	tag, _ := language.Parse(lang)
	return tag
}

// siblings returns tag followed by the written standards a reader of it
// reads as well, which x/text ranks below an exact match of a later, less
// preferred language: Norwegian "no" (a macrolanguage) is read as Bokmål,
// then Nynorsk; Bokmål and Nynorsk readers get the other next; a Brazilian
// reader ("pt-BR") gets European Portuguese ("pt-PT") next, any other
// Portuguese reader Brazilian Portuguese. So "no-NO,en" gets Nynorsk on a portal without Bokmål, and
// "pt-BR,en" gets European Portuguese on a portal without "pt-BR", where
// x/text alone would pick English. The region is kept.
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

// preferences parses a list in the syntax of Accept-Language into tags, most
// preferred first (stable by q-value; q=0 entries dropped). Entries that do
// not parse are skipped; an empty or oversized list gives none. Norwegian
// and Portuguese entries are followed by their siblings (see siblings).
func preferences(list string) []language.Tag {
	if len(list) > maxLangList {
		return nil
	}
	type pref struct {
		tag language.Tag
		q   float32
	}
	var prefs []pref
	for i, entry := range strings.Split(list, ",") {
		if i == maxLangEntries {
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

// match returns the variant of the portal that best fits the preference
// list (see preferences), or the default language's.
func (p *portal) match(list string) *variant {
	prefs := preferences(list)
	if len(prefs) == 0 {
		return p.variants[0]
	}
	_, i, conf := p.matcher.Match(prefs...)
	if conf == language.No || i < 0 || i >= len(p.variants) {
		return p.variants[0]
	}
	return p.variants[i]
}

// exact returns the variant in the language lang (case aside), or nil.
func (p *portal) exact(lang string) *variant {
	for _, v := range p.variants {
		if strings.EqualFold(v.policy.Texts.Lang, lang) {
			return v
		}
	}
	return nil
}

// policyPageLang serves /portals/{id}/policy/{lang}: the policy page in
// exactly that language, or 404 naming the languages offered.
func (s *Server) policyPageLang(w http.ResponseWriter, r *http.Request) {
	p := s.lookup(w, r)
	if p == nil {
		return
	}
	lang := r.PathValue("lang")
	v := p.exact(lang)
	if v == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("portal %q has no policy in %q (it has %s)",
			p.policy.ID, truncate(lang, 64), strings.Join(p.policy.Languages(), ", ")))
		return
	}
	s.renderPolicy(w, r, p, v)
}
