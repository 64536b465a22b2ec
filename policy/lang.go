package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Translation is the policy in one more language: its texts, and the
// language-specific cells of the categories and of the cookie table. The
// structure (ids, cookie names, categories of rows, signals) is the policy's
// own and is not repeated.
type Translation struct {
	// Texts are complete, with their own Lang.
	Texts Texts `json:"texts"`
	// Categories translates every category, by category id.
	Categories map[string]CategoryText `json:"categories"`
	// Cookies translates every row of the cookie table, keyed by one of the
	// row's cookie names (as written in the policy, patterns included).
	Cookies map[string]CookieText `json:"cookies"`
}

// CategoryText is a category's name and description in one language.
type CategoryText struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// CookieText is the text cells of a cookie row in one language. Provider is
// optional (a company's name rarely changes): empty keeps the policy's.
type CookieText struct {
	Provider string `json:"provider,omitempty"`
	Function string `json:"function"`
	Purpose  string `json:"purpose"`
	Duration string `json:"duration"`
}

// Languages returns the language tags the policy is offered in: the default
// (Texts.Lang) first, then each translation's, in order.
func (p *Policy) Languages() []string {
	out := []string{p.Texts.Lang}
	for _, tr := range p.Translations {
		out = append(out, tr.Texts.Lang)
	}
	return out
}

// In returns a copy of the policy in the language lang (compared without
// regard to case, with no fallback: "fr" does not match "fr-CA"), with no
// Translations: the single-language policy the banner and the app consume.
// It returns nil and false when the policy is not offered in lang. The
// policy must be valid (see Validate); the copy shares nothing mutable with p.
func (p *Policy) In(lang string) (*Policy, bool) {
	q := *p
	q.Translations = nil
	q.Categories = slices.Clone(p.Categories)
	q.Cookies = slices.Clone(p.Cookies)
	for i := range q.Categories {
		q.Categories[i].Signals = slices.Clone(q.Categories[i].Signals)
	}
	for i := range q.Cookies {
		q.Cookies[i].Names = slices.Clone(q.Cookies[i].Names)
		q.Cookies[i].Paths = slices.Clone(q.Cookies[i].Paths)
	}
	if strings.EqualFold(lang, p.Texts.Lang) {
		q.Texts = p.Texts.clone()
		return &q, true
	}
	for _, tr := range p.Translations {
		if !strings.EqualFold(lang, tr.Texts.Lang) {
			continue
		}
		q.Texts = tr.Texts.clone()
		for i, c := range q.Categories {
			if ct, ok := tr.Categories[c.ID]; ok {
				q.Categories[i].Name, q.Categories[i].Description = ct.Name, ct.Description
			}
		}
		for i, c := range q.Cookies {
			if ct, ok := tr.cookie(c); ok {
				if ct.Provider != "" {
					q.Cookies[i].Provider = ct.Provider
				}
				q.Cookies[i].Function, q.Cookies[i].Purpose, q.Cookies[i].Duration = ct.Function, ct.Purpose, ct.Duration
			}
		}
		return &q, true
	}
	return nil, false
}

// cookie returns the translation of the row c: the entry keyed by the first
// of its names that has one.
func (tr *Translation) cookie(c Cookie) (CookieText, bool) {
	for _, n := range c.Names {
		if ct, ok := tr.Cookies[n]; ok {
			return ct, true
		}
	}
	return CookieText{}, false
}

// clone returns a copy of t sharing no slices with it.
func (t Texts) clone() Texts {
	t.Months = slices.Clone(t.Months)
	t.Sections = slices.Clone(t.Sections)
	for i := range t.Sections {
		t.Sections[i].Paragraphs = slices.Clone(t.Sections[i].Paragraphs)
		t.Sections[i].Terms = slices.Clone(t.Sections[i].Terms)
	}
	return t
}

// validateTranslations records in ps what each translation lacks: any of
// its texts, a name and a description for every category, the function,
// purpose and duration of every cookie row; a language offered twice; an
// entry naming a category or cookie the policy does not declare.
func (p *Policy) validateTranslations(ps *problems) {
	langs := []string{strings.ToLower(p.Texts.Lang)}
	for i, tr := range p.Translations {
		f := fmt.Sprintf("translations[%d]", i)
		tr.Texts.validate(f+".texts.", ps)
		l := strings.ToLower(tr.Texts.Lang)
		if slices.Contains(langs, l) {
			ps.bad(f+".texts.lang", "%q is offered twice", tr.Texts.Lang)
		}
		langs = append(langs, l)
		var unknown []string
		for id := range tr.Categories {
			if _, ok := p.Category(id); !ok {
				unknown = append(unknown, id)
			}
		}
		slices.Sort(unknown) // the same errors every time
		for _, id := range unknown {
			ps.bad(f+".categories."+id, "%q is not a declared category", id)
		}
		for _, c := range p.Categories {
			ct, ok := tr.Categories[c.ID]
			if !ok {
				ps.bad(f+".categories", "the category %q is not translated", c.ID)
				continue
			}
			if strings.TrimSpace(ct.Name) == "" {
				ps.add(f+".categories."+c.ID+".name", "is empty")
			}
			if strings.TrimSpace(ct.Description) == "" {
				ps.add(f+".categories."+c.ID+".description", "is empty")
			}
		}
		var names []string
		for name := range tr.Cookies {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			rows := 0
			for _, c := range p.Cookies {
				if slices.Contains(c.Names, name) {
					rows++
				}
			}
			switch {
			case rows == 0:
				ps.bad(f+".cookies."+name, "%q names no cookie row", name)
			case rows > 1:
				ps.bad(f+".cookies."+name, "%q names %d cookie rows: key it by a name of one row only", name, rows)
			}
		}
		for j, c := range p.Cookies {
			var keys []string
			for _, n := range c.Names {
				if _, ok := tr.Cookies[n]; ok {
					keys = append(keys, n)
				}
			}
			switch {
			case len(keys) == 0:
				ps.bad(f+".cookies", "the cookie row cookies[%d] (%s) is not translated", j, strings.Join(c.Names, ", "))
				continue
			case len(keys) > 1:
				ps.bad(f+".cookies."+keys[1], "the cookie row cookies[%d] is already translated under %q", j, keys[0])
			}
			ct := tr.Cookies[keys[0]]
			for _, s := range []struct{ field, v string }{
				{"function", ct.Function}, {"purpose", ct.Purpose}, {"duration", ct.Duration},
			} {
				if strings.TrimSpace(s.v) == "" {
					ps.add(f+".cookies."+keys[0]+"."+s.field, "is empty")
				}
			}
		}
	}
}

// UpdatedText returns Texts.LastUpdated with the policy's Updated date
// written in the texts' language ("Last updated on March 1, 2026",
// "Dernière mise à jour le 1er mars 2026"), or "" when Updated is empty or
// not a valid date.
func (p *Policy) UpdatedText() string {
	d, err := time.Parse(time.DateOnly, p.Updated)
	if err != nil || len(p.Texts.Months) != 12 {
		return ""
	}
	day := strconv.Itoa(d.Day())
	if d.Day() == 1 && p.Texts.FirstOfMonth != "" {
		day = p.Texts.FirstOfMonth
	}
	s := strings.ReplaceAll(p.Texts.LastUpdated, "{day}", day)
	s = strings.ReplaceAll(s, "{month}", p.Texts.Months[d.Month()-1])
	return strings.ReplaceAll(s, "{year}", strconv.Itoa(d.Year()))
}
