package console

import (
	"testing"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/policyfiles"
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
		for _, name := range []string{"_hjid", "_pk_ses.1.a2b3", "AMP_TOKEN-1"} {
			row := suggestedRow(p, name, x)
			file := "id: mtran\nname: Test\nurl: https://portal.example\ncategories:\n" +
				"  - id: necessary\n    name: Necessary\n    description: Needed.\n    required: true\n" +
				"  - id: statistical\n    name: Statistical\n    description: Audience.\n" +
				"cookies:\n" + row
			got, err := policyfiles.Parse("mtran.yaml", []byte(file))
			if err != nil {
				t.Fatalf("%s %q: the suggested row does not load: %v\n%s", lang, name, err, row)
			}
			if !got.Declares(name) {
				t.Errorf("%s %q: the loaded policy does not declare it\n%s", lang, name, row)
			}
			if c := got.Cookies[len(got.Cookies)-1]; c.Category != "statistical" || c.Provider != x.Placeholder {
				t.Errorf("%s %q: row %+v", lang, name, c)
			}
		}
	}
}
