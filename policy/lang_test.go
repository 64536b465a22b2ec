package policy_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/portalconsent/portalconsent/policy"
)

func TestDefaultsLanguages(t *testing.T) {
	for _, id := range []string{"mtran", "twisto"} {
		p := defaultPolicy(t, id)
		want := append([]string{"en"}, slices.DeleteFunc(slices.Clone(builtinLanguages), func(l string) bool { return l == "en" })...)
		if got := p.Languages(); !slices.Equal(got, want) {
			t.Errorf("%s: Languages() = %q, want %q", id, got, want)
		}
		if p.Updated == "" {
			t.Errorf("%s: no updated date", id)
		}
		fr, ok := p.In("fr")
		if !ok {
			t.Fatalf("%s: In(fr) = false", id)
		}
		for _, tt := range []struct{ what, got, want string }{
			{"texts.lang", fr.Texts.Lang, "fr"},
			{"acceptAll", fr.Texts.AcceptAll, "Tout accepter"},
			{"rejectAll", fr.Texts.RejectAll, "Tout refuser"},
			{"manageCookies", fr.Texts.ManageCookies, "Gérer les cookies"},
			{"columns.duration", fr.Texts.Columns.Duration, "Durée"},
			{"section title", fr.Texts.Sections[0].Title, "Qu’est-ce qu’un cookie\u00a0?"},
			{"category name", fr.Categories[0].Name, "Nécessaires"},
			{"category description", fr.Categories[1].Description, "Mesure d’audience\u00a0: ils nous permettent de mesurer l’utilisation de la plateforme afin de l’améliorer."},
			{"cookie function", fr.Cookies[0].Function, "Authentification (front et back office)"},
			{"cookie purpose", fr.Cookies[2].Purpose, "Récupérer des données par des appels à l’API"},
			{"cookie duration", fr.Cookies[3].Duration, "6 mois"},
			{"cookie provider kept", fr.Cookies[1].Provider, "Opendatasoft"},
			{"cookies title", fr.CookiesTitle(), "Les cookies utilisés sur la plateforme " + p.URL},
		} {
			if tt.got != tt.want {
				t.Errorf("%s: In(fr) %s = %q, want %q", id, tt.what, tt.got, tt.want)
			}
		}
	}
}

func TestIn(t *testing.T) {
	p := defaultPolicy(t, "mtran")
	orig := clonePolicy(t, p)
	for _, tt := range []struct {
		lang     string
		ok       bool
		wantLang string
	}{
		{"en", true, "en"},
		{"fr", true, "fr"},
		{"FR", true, "fr"},
		{"fr-CA", false, ""}, // exact: matching is the server's job
		{"de", true, "de"},
		{"ja", false, ""},
		{"", false, ""},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			q, ok := p.In(tt.lang)
			if ok != tt.ok {
				t.Fatalf("In(%q) ok = %v, want %v", tt.lang, ok, tt.ok)
			}
			if !ok {
				if q != nil {
					t.Errorf("In(%q) = %+v with false", tt.lang, q)
				}
				return
			}
			if q.Texts.Lang != tt.wantLang || q.Translations != nil {
				t.Errorf("In(%q): lang %q, %d translations; want %q and none", tt.lang, q.Texts.Lang, len(q.Translations), tt.wantLang)
			}
			if err := q.Validate(); err != nil {
				t.Errorf("In(%q) is invalid: %v", tt.lang, err)
			}
			// Everything but the texts is the policy's own.
			if q.ID != p.ID || q.Revision != p.Revision || q.Updated != p.Updated || len(q.Cookies) != len(p.Cookies) {
				t.Errorf("In(%q) changed the structure: %+v", tt.lang, q)
			}
			for i := range q.Cookies {
				if !slices.Equal(q.Cookies[i].Names, p.Cookies[i].Names) || q.Cookies[i].Category != p.Cookies[i].Category {
					t.Errorf("In(%q): cookie %d = %+v", tt.lang, i, q.Cookies[i])
				}
			}
			// The single-language JSON has no translations key.
			data, _ := json.Marshal(q)
			if strings.Contains(string(data), `"translations"`) {
				t.Errorf("In(%q) marshals translations: %s", tt.lang, data)
			}
			// The copy shares nothing mutable with p.
			q.Categories[0].Name = "changed"
			q.Cookies[0].Names[0] = "changed"
			q.Texts.Sections[0].Paragraphs[0] = "changed"
			q.Texts.Months[0] = "changed"
			if !reflect.DeepEqual(p, orig) {
				t.Errorf("changing In(%q) changed the policy", tt.lang)
			}
		})
	}
}

func TestValidateTranslations(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *policy.Policy)
		field  string // "" means valid
		msg    string // a substring of the message
	}{
		{"default", func(p *policy.Policy) {}, "", ""},
		{"no translations", func(p *policy.Policy) { p.Translations = nil }, "", ""},
		{"other provider", func(p *policy.Policy) {
			c := p.Translations[0].Cookies["sessionid"]
			c.Provider = "Opendatasoft SAS"
			p.Translations[0].Cookies["sessionid"] = c
		}, "", ""},
		{"keyed by another name of the row", func(p *policy.Policy) {
			p.Cookies[0].Names = append(p.Cookies[0].Names, "sid")
			tr := p.Translations[0].Cookies
			tr["sid"] = tr["sessionid"]
			delete(tr, "sessionid")
		}, "", ""},
		{"a second translation", func(p *policy.Policy) {
			de := clonePolicy(t, p).Translations[0]
			de.Texts.Lang = "de-CH"
			p.Translations = append(p.Translations, de)
		}, "", ""},

		{"empty save", func(p *policy.Policy) { p.Translations[0].Texts.Save = "" }, "translations[0].texts.save", "is empty"},
		{"empty lang", func(p *policy.Policy) { p.Translations[0].Texts.Lang = "" }, "translations[0].texts.lang", "is empty"},
		{"bad lang", func(p *policy.Policy) { p.Translations[0].Texts.Lang = "fr_FR" }, "translations[0].texts.lang", "BCP 47"},
		{"blank column", func(p *policy.Policy) { p.Translations[0].Texts.Columns.Names = " " }, "translations[0].texts.columns.names", "is empty"},
		{"blank section title", func(p *policy.Policy) { p.Translations[0].Texts.Sections[0].Title = "" }, "translations[0].texts.sections[0].title", "is empty"},
		{"eleven months", func(p *policy.Policy) { p.Translations[0].Texts.Months = p.Translations[0].Texts.Months[1:] }, "translations[0].texts.months", "12 month names"},
		{"empty month", func(p *policy.Policy) { p.Translations[0].Texts.Months[4] = "" }, "translations[0].texts.months[4]", "is empty"},
		{"default language twice", func(p *policy.Policy) { p.Translations[0].Texts.Lang = "EN" }, "translations[0].texts.lang", "offered twice"},
		{"translation twice", func(p *policy.Policy) { p.Translations = append(p.Translations, p.Translations[0]) }, "translations[1].texts.lang", "offered twice"},
		{"unknown category", func(p *policy.Policy) {
			p.Translations[0].Categories["ads"] = policy.CategoryText{Name: "Pub", Description: "Publicité."}
		}, "translations[0].categories.ads", `"ads" is not a declared category`},
		{"category missing", func(p *policy.Policy) { delete(p.Translations[0].Categories, "statistical") }, "translations[0].categories", `"statistical" is not translated`},
		{"category name empty", func(p *policy.Policy) {
			p.Translations[0].Categories["necessary"] = policy.CategoryText{Description: "x"}
		}, "translations[0].categories.necessary.name", "is empty"},
		{"category description empty", func(p *policy.Policy) {
			p.Translations[0].Categories["statistical"] = policy.CategoryText{Name: "x"}
		}, "translations[0].categories.statistical.description", "is empty"},
		{"cookie row missing", func(p *policy.Policy) { delete(p.Translations[0].Cookies, "csrftoken") }, "translations[0].cookies", "cookies[2] (csrftoken) is not translated"},
		{"unknown cookie", func(p *policy.Policy) {
			p.Translations[0].Cookies["_ga"] = p.Translations[0].Cookies["csrftoken"]
		}, "translations[0].cookies._ga", `"_ga" names no cookie row`},
		{"cookie name in two rows", func(p *policy.Policy) {
			p.Cookies[1].Names = append(p.Cookies[1].Names, "sessionid")
		}, "translations[0].cookies.sessionid", "names 2 cookie rows"},
		{"row translated twice", func(p *policy.Policy) {
			p.Cookies[0].Names = append(p.Cookies[0].Names, "sid")
			p.Translations[0].Cookies["sid"] = p.Translations[0].Cookies["sessionid"]
		}, "translations[0].cookies.sid", `already translated under "sessionid"`},
		{"cookie purpose empty", func(p *policy.Policy) {
			c := p.Translations[0].Cookies["django_language"]
			c.Purpose = " "
			p.Translations[0].Cookies["django_language"] = c
		}, "translations[0].cookies.django_language.purpose", "is empty"},
		{"cookie duration empty", func(p *policy.Policy) {
			c := p.Translations[0].Cookies["cookies_preferences"]
			c.Duration = ""
			p.Translations[0].Cookies["cookies_preferences"] = c
		}, "translations[0].cookies.cookies_preferences.duration", "is empty"},
		{"second translation incomplete", func(p *policy.Policy) {
			de := clonePolicy(t, p).Translations[0]
			de.Texts.Lang = "de"
			de.Texts.Reload = ""
			p.Translations = append(p.Translations, de)
		}, "translations[1].texts.reload", "is empty"},
		{"bad date", func(p *policy.Policy) { p.Updated = "2026-02-30" }, "updated", "YYYY-MM-DD"},
		{"date in another format", func(p *policy.Policy) { p.Updated = "22/11/2026" }, "updated", "YYYY-MM-DD"},
		{"no date", func(p *policy.Policy) { p.Updated = "" }, "", ""},
		{"default months missing", func(p *policy.Policy) { p.Texts.Months = nil }, "texts.months", "got 0"},
		{"default lastUpdated empty", func(p *policy.Policy) { p.Texts.LastUpdated = "" }, "texts.lastUpdated", "is empty"},
	}
	orig := withLanguages(t, defaultPolicy(t, "mtran"), "fr")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := clonePolicy(t, orig)
			tt.mutate(p)
			err := p.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				for _, lang := range p.Languages() {
					if q, ok := p.In(lang); !ok || q.Validate() != nil {
						t.Errorf("In(%q) = %v, %v", lang, ok, q.Validate())
					}
				}
				return
			}
			fe, ok := errors.AsType[*policy.FieldError](err)
			if !ok {
				t.Fatalf("Validate() = %v, want a *FieldError for %s", err, tt.field)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Msg, tt.msg) {
				t.Errorf("Validate() = %q, want field %q and a message with %q", err, tt.field, tt.msg)
			}
		})
	}
}

func TestUpdatedText(t *testing.T) {
	p := defaultPolicy(t, "mtran")
	for _, tt := range []struct{ lang, date, want string }{
		{"en", "2026-11-22", "Last updated on November 22, 2026"},
		{"en", "2026-03-01", "Last updated on March 1, 2026"},
		{"fr", "2026-11-22", "Dernière mise à jour le 22 novembre 2026"},
		{"fr", "2026-03-01", "Dernière mise à jour le 1er mars 2026"},
		{"fr", "2026-08-05", "Dernière mise à jour le 5 août 2026"},
		{"en", "", ""},
		{"en", "2026-13-01", ""},
	} {
		q, _ := p.In(tt.lang)
		q.Updated = tt.date
		if got := q.UpdatedText(); got != tt.want {
			t.Errorf("%s %q: UpdatedText() = %q, want %q", tt.lang, tt.date, got, tt.want)
		}
	}
}

// TestParseTranslations checks a policy file with translations written inline,
// as an operator writes one, and where its errors point.
func TestParseTranslations(t *testing.T) {
	mtran := withLanguages(t, defaultPolicy(t, "mtran"), "fr")
	base := policy.Policy{Texts: mtran.Texts}
	frTexts, err := json.Marshal(mtran.Translations[0].Texts)
	if err != nil {
		t.Fatal(err)
	}
	file := strings.Replace(demoPolicy, `  "cookies": [`, `  "updated": "2026-01-31",
  "translations": [
    {
      "texts": `+string(frTexts)+`,
      "categories": {
        "necessary": {"name": "Nécessaires", "description": "Requis."},
        "statistical": {"name": "Statistiques", "description": "Mesure d’audience."}
      },
      "cookies": {
        "a": {"function": "F", "purpose": "X", "duration": "1 jour"},
        "b": {"provider": "Q", "function": "F", "purpose": "X", "duration": "1 jour"}
      }
    }
  ],
  "cookies": [`, 1)
	p, err := policy.Parse("f.json", []byte(file), base)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	fr, ok := p.In("fr")
	if !ok || fr.Categories[1].Name != "Statistiques" || fr.Cookies[1].Provider != "Q" || fr.Cookies[0].Provider != "P" ||
		fr.Cookies[1].Duration != "1 jour" || fr.UpdatedText() != "Dernière mise à jour le 31 janvier 2026" {
		t.Errorf("In(fr) = %+v", fr)
	}
	for _, tt := range []struct{ old, new, err string }{
		{`"description": "Mesure d’audience."`, `"description": ""`,
			`f.json:16: translations[0].categories.statistical.description: is empty`},
		{`"b": {"provider"`, `"c": {"provider"`,
			`f.json:20: translations[0].cookies.c: "c" names no cookie row`},
		{`"updated": "2026-01-31"`, `"updated": "2026-1-31"`,
			`f.json:10: updated: "2026-1-31" is not a date written YYYY-MM-DD`},
		{`"necessary": {"name"`, `"necessary": {"nom"`,
			`f.json:15: nom: unknown field`},
	} {
		if !strings.Contains(file, tt.old) {
			t.Fatalf("no %q in the file", tt.old)
		}
		_, err := policy.Parse("f.json", []byte(strings.Replace(file, tt.old, tt.new, 1)), base)
		if les := policy.LoadErrors(err); len(les) == 0 || les[0].Error() != tt.err {
			t.Errorf("Parse with %s:\n got %v\nwant first %s", tt.new, err, tt.err)
		}
	}
}
