package policy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/portalconsent/portalconsent/policy"
)

// builtinLanguages are the languages the product speaks: the 24 official
// languages of the EU, the co-official and neighbouring languages of the
// platform's countries, and Ukrainian, Turkish, Arabic and Hebrew.
var builtinLanguages = []string{
	"ar", "bg", "ca", "cs", "cy", "da", "de", "el", "en", "es", "et", "eu", "fi", "fr", "ga", "gl", "he", "hr", "hu",
	"is", "it", "lb", "lt", "lv", "mt", "nb", "nl", "nn", "pl", "pt", "rm", "ro", "sk", "sl", "sv", "tr", "uk",
}

// sameAsEnglish lists, by language, the strings a translation may leave
// identical to the English one because they are the same word in that
// language (month names, a loanword) or a name or code. Anything else
// identical to English is a string left untranslated.
var sameAsEnglish = map[string][]string{
	"da": {"Session"},
	"de": {"April", "August", "September", "November"},
	"fr": {"Session", "30 minutes"},
	"lb": {"August", "September", "November"},
	"mt": {"April"},
}

// placeholder finds the {name} placeholders of a text.
var placeholder = regexp.MustCompile(`\{[a-z]+\}`)

// TestBuiltinLanguages checks the product speaks the 37 languages, one
// defaults/texts.{lang}.json each, and that each file's lang is its name.
func TestBuiltinLanguages(t *testing.T) {
	if got := policy.BuiltinLanguages(); !slices.Equal(got, builtinLanguages) {
		t.Fatalf("BuiltinLanguages() = %q\nwant %q", got, builtinLanguages)
	}
	for _, lang := range builtinLanguages {
		texts, ok := policy.BuiltinTexts(lang)
		if !ok || texts.Lang != lang {
			t.Errorf("BuiltinTexts(%q) = lang %q, %v", lang, texts.Lang, ok)
		}
	}
}

// TestBuiltinTextsMatching checks which built-in texts a tag gets: its own,
// its base language's, "no" as Bokmål, "iw" as Hebrew; none for a language
// the product does not speak.
func TestBuiltinTextsMatching(t *testing.T) {
	for _, tt := range []struct{ tag, want string }{
		{"fr", "fr"}, {"FR-ca", "fr"}, {"pt-BR", "pt"}, {"pt-PT", "pt"}, {"no", "nb"}, {"no-NO", "nb"},
		{"nb-NO", "nb"}, {"nn", "nn"}, {"iw", "he"}, {"ar-EG", "ar"}, {"de-CH", "de"},
		{"ja", ""}, {"", ""}, {"x-klingon", ""},
	} {
		texts, ok := policy.BuiltinTexts(tt.tag)
		if got := texts.Lang; ok != (tt.want != "") || got != tt.want {
			t.Errorf("BuiltinTexts(%q) = %q, %v; want %q", tt.tag, got, ok, tt.want)
		}
	}
}

// TestTextsEveryLanguage checks each language file against the English one:
// the same keys, every text non-empty, none left identical to English (but
// the listed names and words), the same placeholders in each text, a source
// named for the button terms, twelve distinct months, and the direction of
// the script.
func TestTextsEveryLanguage(t *testing.T) {
	en := readTextsFile(t, "en")
	for _, lang := range builtinLanguages {
		t.Run(lang, func(t *testing.T) {
			tr := readTextsFile(t, lang)
			texts, _ := policy.BuiltinTexts(lang)
			if strings.TrimSpace(policy.BuiltinSource(lang)) == "" {
				t.Errorf("texts.%s.json names no source for its button terms", lang)
			}
			if lang == "en" {
				return
			}
			allowed := sameAsEnglish[lang]
			compareTexts(t, "texts", en, tr, allowed)
			for key := range tr {
				if _, ok := en[key]; !ok && key != "firstOfMonth" {
					t.Errorf("texts.%s.json: key %q is not in texts.en.json", lang, key)
				}
			}
			months := slices.Clone(texts.Months)
			sort.Strings(months)
			if len(slices.Compact(months)) != 12 {
				t.Errorf("months %q are not twelve distinct names", texts.Months)
			}
			if want := map[string]string{"ar": "rtl", "he": "rtl"}[lang]; policy.Dir(lang) != want && !(want == "" && policy.Dir(lang) == "ltr") {
				t.Errorf("Dir(%q) = %q", lang, policy.Dir(lang))
			}
		})
	}
}

// TestPortalsEveryLanguage checks each default portal in each language:
// offered, valid, its categories and cookie rows translated (none left in
// English but the listed words), placeholders kept, and a date written.
func TestPortalsEveryLanguage(t *testing.T) {
	ps, err := policy.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if got := slices.Sorted(slices.Values(p.Languages())); !slices.Equal(got, builtinLanguages) {
			t.Errorf("%s: Languages() = %q", p.ID, got)
		}
		en, _ := p.In("en")
		for _, lang := range builtinLanguages {
			if lang == "en" {
				continue
			}
			q, ok := p.In(lang)
			if !ok {
				t.Errorf("%s: In(%q) = false", p.ID, lang)
				continue
			}
			if err := q.Validate(); err != nil {
				t.Errorf("%s in %s: %v", p.ID, lang, err)
			}
			allowed := sameAsEnglish[lang]
			var pairs [][3]string
			for i, c := range q.Categories {
				pairs = append(pairs, [3]string{fmt.Sprintf("categories[%d].name", i), en.Categories[i].Name, c.Name},
					[3]string{fmt.Sprintf("categories[%d].description", i), en.Categories[i].Description, c.Description})
			}
			for i, c := range q.Cookies {
				e := en.Cookies[i]
				pairs = append(pairs, [3]string{fmt.Sprintf("cookies[%d].function", i), e.Function, c.Function},
					[3]string{fmt.Sprintf("cookies[%d].purpose", i), e.Purpose, c.Purpose},
					[3]string{fmt.Sprintf("cookies[%d].duration", i), e.Duration, c.Duration})
			}
			for _, pr := range pairs {
				if pr[1] == pr[2] && !slices.Contains(allowed, pr[2]) {
					t.Errorf("%s in %s: %s is still English: %q", p.ID, lang, pr[0], pr[2])
				}
			}
			if d := q.UpdatedText(); d == "" || strings.Contains(d, "{") || !strings.Contains(d, "2026") {
				t.Errorf("%s in %s: UpdatedText() = %q", p.ID, lang, d)
			}
			if title := q.CookiesTitle(); !strings.Contains(title, p.URL) {
				t.Errorf("%s in %s: CookiesTitle() = %q lacks the URL", p.ID, lang, title)
			}
		}
	}
}

// TestEmbedTextsEveryLanguage checks the placeholder texts of each language
// are its own, with their placeholders.
func TestEmbedTextsEveryLanguage(t *testing.T) {
	en := policy.EmbedTextsFor(policy.Texts{Lang: "en"})
	for _, lang := range builtinLanguages {
		got := policy.EmbedTextsFor(policy.Texts{Lang: lang})
		for _, f := range []struct{ name, en, got string }{
			{"title", en.Title, got.Title}, {"text", en.Text, got.Text}, {"load", en.Load, got.Load}, {"accept", en.Accept, got.Accept},
		} {
			if strings.TrimSpace(f.got) == "" || (lang != "en" && f.got == f.en) {
				t.Errorf("%s: embed %s = %q", lang, f.name, f.got)
			}
			if a, b := placeholders(f.en), placeholders(f.got); !slices.Equal(a, b) {
				t.Errorf("%s: embed %s has placeholders %q, want %q", lang, f.name, b, a)
			}
		}
	}
}

// TestTrackersEveryLanguage checks each preset row of each tracker type has
// its own text cells in each language but English, none left in English
// (but the listed words), the tool's name kept in the function.
func TestTrackersEveryLanguage(t *testing.T) {
	for _, lang := range builtinLanguages {
		if lang == "en" {
			continue
		}
		allowed := sameAsEnglish[lang]
		for _, typ := range policy.TrackerTypes {
			for _, c := range policy.TrackerCookies(typ) {
				ct, ok := policy.TrackerTranslation(c, lang)
				if !ok {
					t.Errorf("%s: the %s row %s is not translated", lang, typ, c.Names[0])
					continue
				}
				for _, f := range [][3]string{{"function", c.Function, ct.Function}, {"purpose", c.Purpose, ct.Purpose}, {"duration", c.Duration, ct.Duration}} {
					if strings.TrimSpace(f[2]) == "" || f[1] == f[2] && !slices.Contains(allowed, f[2]) {
						t.Errorf("%s: the %s row %s: %s %q", lang, typ, c.Names[0], f[0], f[2])
					}
				}
				if _, tool, _ := strings.Cut(c.Function, " ("); !strings.HasSuffix(ct.Function, " ("+tool) {
					t.Errorf("%s: function %q lost the tool of %q", lang, ct.Function, c.Function)
				}
			}
		}
	}
	if _, ok := policy.TrackerTranslation(policy.TrackerCookies(policy.TrackerMatomo)[0], "ja"); ok {
		t.Error("a Japanese translation of a preset row")
	}
}

// readTextsFile reads defaults/texts.{lang}.json as generic JSON.
func readTextsFile(t *testing.T, lang string) map[string]any {
	t.Helper()
	data, err := os.ReadFile("defaults/texts." + lang + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("texts.%s.json: %v", lang, err)
	}
	return v
}

// compareTexts walks the English value en and the translation tr side by
// side, reporting at path what is missing, empty, still English (unless
// allowed) or has other placeholders. The lang and source fields are
// compared by no rule.
func compareTexts(t *testing.T, path string, en, tr any, allowed []string) {
	t.Helper()
	switch e := en.(type) {
	case map[string]any:
		m, ok := tr.(map[string]any)
		if !ok {
			t.Errorf("%s: is %T, want an object", path, tr)
			return
		}
		for k, v := range e {
			if k == "lang" || k == "source" {
				continue
			}
			tv, ok := m[k]
			if !ok {
				t.Errorf("%s.%s: missing", path, k)
				continue
			}
			compareTexts(t, path+"."+k, v, tv, allowed)
		}
	case []any:
		a, ok := tr.([]any)
		if !ok || len(a) != len(e) {
			t.Errorf("%s: has %d elements, want %d", path, len(a), len(e))
			return
		}
		for i := range e {
			compareTexts(t, fmt.Sprintf("%s[%d]", path, i), e[i], a[i], allowed)
		}
	case string:
		s, ok := tr.(string)
		switch {
		case !ok || strings.TrimSpace(s) == "":
			t.Errorf("%s: is empty", path)
		case s == e && !slices.Contains(allowed, s):
			t.Errorf("%s: is still English: %q", path, s)
		case !slices.Equal(placeholders(e), placeholders(s)):
			t.Errorf("%s: has placeholders %q, want %q", path, placeholders(s), placeholders(e))
		}
	}
}

// placeholders returns the sorted placeholders of s.
func placeholders(s string) []string {
	p := placeholder.FindAllString(s, -1)
	sort.Strings(p)
	return p
}

// TestStorageTextsEveryLanguage checks the labels of the storage types
// (localStorage, sessionStorage, indexedDB) of each language are its own.
func TestStorageTextsEveryLanguage(t *testing.T) {
	en := policy.StorageTextsFor(policy.Texts{Lang: "en"})
	for _, lang := range builtinLanguages {
		got := policy.StorageTextsFor(policy.Texts{Lang: lang})
		for _, typ := range policy.StorageTypes[1:] {
			if l := got.Label(typ); strings.TrimSpace(l) == "" || (lang != "en" && l == en.Label(typ)) {
				t.Errorf("%s: storage label of %s = %q", lang, typ, l)
			}
		}
	}
	if got := policy.StorageTextsFor(policy.Texts{Lang: "ja"}); got != en {
		t.Errorf("a language without built-in texts gets %+v, want English %+v", got, en)
	}
}
