package console

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/policyfiles"
	"go.yaml.in/yaml/v3"
)

func TestConsoleStatsFormat(t *testing.T) {
	for _, c := range []struct {
		lang string
		n    int64
		want string
	}{
		{"en", 0, "0"}, {"en", 999, "999"}, {"en", 1000, "1,000"}, {"en", -1234567, "-1,234,567"},
		{"fr", 1234567, "1\u202f234\u202f567"}, {"fr", 12, "12"}, {"en", 9223372036854775807, "9,223,372,036,854,775,807"},
	} {
		if got := fmtInt(c.lang, c.n); got != c.want {
			t.Errorf("fmtInt(%s, %d) = %q, want %q", c.lang, c.n, got, c.want)
		}
	}
	for _, c := range []struct {
		lang  string
		n, of int64
		want  string
	}{
		{"en", 1, 8, "12.5%"}, {"fr", 1, 8, "12,5\u00a0%"}, {"en", 0, 0, "—"}, {"fr", 3, 0, "—"}, {"en", 2, 3, "66.7%"},
		{"en", 5, 4, "125.0%"}, {"fr", 7, 7, "100,0\u00a0%"}, {"en", 0, 5, "0.0%"},
	} {
		if got := fmtShare(c.lang, c.n, c.of); got != c.want {
			t.Errorf("fmtShare(%s, %d, %d) = %q, want %q", c.lang, c.n, c.of, got, c.want)
		}
	}
}

// TestSuggestedRowParses: the YAML row the cookies page suggests, pasted
// under cookies: of a policy file, loads with the real loader and declares
// the name, in English and French.
func TestSuggestedRowParses(t *testing.T) {
	ps, err := policy.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	p := ps[0]
	for _, tx := range byLang {
		lang, x := tx.Console.Lang, tx.Cookies
		for _, u := range []struct{ typ, name string }{
			{"cookie", "_hjid"}, {"cookie", "_pk_ses.1.a2b3"}, {"cookie", "AMP_TOKEN-1"},
			{"localStorage", "ajs_user:id"}, {"sessionStorage", "tab/state"},
		} {
			typ, name := u.typ, u.name
			row := suggestedRow(p, typ, name, x)
			file := "id: mtran\nname: Test\nurl: https://portal.example\ncategories:\n" +
				"  - id: necessary\n    name: Necessary\n    description: Needed.\n    required: true\n" +
				"  - id: statistical\n    name: Statistical\n    description: Audience.\n" +
				"cookies:\n" + row
			got, err := policyfiles.Parse("mtran.yaml", []byte(file))
			if err != nil {
				t.Fatalf("%s %q: the suggested row does not load: %v\n%s", lang, name, err, row)
			}
			if !got.DeclaresIn(typ, name) {
				t.Errorf("%s %s %q: the loaded policy does not declare it\n%s", lang, typ, name, row)
			}
			if typ != "cookie" && got.Declares(name) {
				t.Errorf("%s %s %q: declared as a cookie too\n%s", lang, typ, name, row)
			}
			if c := got.Cookies[len(got.Cookies)-1]; c.Category != "statistical" || c.Provider != x.Placeholder {
				t.Errorf("%s %q: row %+v", lang, name, c)
			}
		}
	}
}

// TestSuggestedRowTranslatedPortal: for a translated portal (the built-in
// mtran, English and French, written as a YAML policy file), the row the
// cookies page suggests and its entry for each translation, pasted under
// cookies: and under the translation's cookies:, load with the real loader,
// which refuses a cookie row a translation lacks; the row alone does not.
func TestSuggestedRowTranslatedPortal(t *testing.T) {
	ps, err := policy.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	p := ps[0]
	if len(p.Translations) == 0 {
		t.Fatalf("%s: no translation to test with", p.ID)
	}
	// The policy as a YAML file, as an operator keeps it.
	j, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(j, &doc); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	file := buf.String()
	if _, err := policyfiles.Parse(p.ID+".yaml", []byte(file)); err != nil {
		t.Fatalf("the policy file itself does not load: %v", err)
	}
	for _, tx := range byLang {
		lang, x := tx.Console.Lang, tx.Cookies
		name := "mystery_tracker"
		row, trs := suggestedRow(p, "cookie", name, x), suggestedTranslations(p, name, x)
		if len(trs) != len(p.Translations) {
			t.Fatalf("%s: %d translated entries, want %d", lang, len(trs), len(p.Translations))
		}
		// Paste the row first under the top-level cookies:, each entry
		// first under its translation's cookies: (the only ones indented by
		// four spaces, one per translation, in order).
		pasted := strings.Replace(file, "\ncookies:\n", "\ncookies:\n"+row, 1)
		if _, err := policyfiles.Parse(p.ID+".yaml", []byte(pasted)); err == nil || !strings.Contains(err.Error(), "is not translated") {
			t.Fatalf("%s: the row without its translations: err %v, want a row not translated", lang, err)
		}
		parts := strings.Split(pasted, "\n    cookies:\n")
		if len(parts) != len(trs)+1 {
			t.Fatalf("%s: %d translations' cookies: in the file, want %d\n%s", lang, len(parts)-1, len(trs), pasted)
		}
		var b strings.Builder
		b.WriteString(parts[0])
		for i, tr := range trs {
			b.WriteString("\n    cookies:\n" + tr.YAML + parts[i+1])
		}
		got, err := policyfiles.Parse(p.ID+".yaml", []byte(b.String()))
		if err != nil {
			t.Fatalf("%s: the suggested row and its translations do not load: %v\n%s%v", lang, err, row, trs)
		}
		if !got.Declares(name) {
			t.Errorf("%s: the loaded policy does not declare %q", lang, name)
		}
		for _, tr := range got.Translations {
			if ct, ok := tr.Cookies[name]; !ok || ct.Function != x.Placeholder {
				t.Errorf("%s: translation %s: %q is %+v", lang, tr.Texts.Lang, name, ct)
			}
		}
	}
}
