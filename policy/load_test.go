package policy_test

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/portalconsent/portalconsent/policy"
)

// demoPolicy is a valid policy file when parsed over the default texts. Its line
// numbers matter to the golden errors of TestParse.
const demoPolicy = `{
  "id": "demo",
  "name": "Demo portal",
  "url": "https://demo.example.com",
  "revision": 2,
  "categories": [
    {"id": "necessary", "name": "Necessary", "description": "Needed.", "required": true},
    {"id": "statistical", "name": "Statistical", "description": "Analytics."}
  ],
  "cookies": [
    {"provider": "P", "function": "F", "names": ["a"], "purpose": "X", "category": "necessary", "duration": "1 day"},
    {"provider": "P", "function": "F", "names": ["b"], "purpose": "X", "category": "statistical", "duration": "1 day"}
  ]
}
`

func TestParse(t *testing.T) {
	texts := defaultPolicy(t, "mtran").Texts
	withTexts := policy.Policy{Texts: texts}
	edit := func(old, new string) string {
		if !strings.Contains(demoPolicy, old) {
			t.Fatalf("demoPolicy has no %q", old)
		}
		return strings.Replace(demoPolicy, old, new, 1)
	}
	tests := []struct {
		name string
		data string
		base policy.Policy
		err  string // "" means valid
	}{
		{"valid", demoPolicy, withTexts, ""},
		{"empty text in the file", edit(`"revision": 2,`, "\"revision\": 2,\n  \"texts\": {\"lang\": \"\"},"), withTexts,
			`f.json:6: texts.lang: is empty`},
		{"unknown field", edit(`"revision": 2,`, "\"revision\": 2,\n  \"colour\": \"red\","), withTexts,
			`f.json:6: colour: unknown field`},
		{"unknown nested field", edit(`"description": "Analytics."`, `"description": "Analytics.", "default": true`), withTexts,
			`f.json:8: default: unknown field`},
		{"syntax error", edit(`"revision": 2,`, `"revision": 2,,`), withTexts,
			`f.json:5: invalid JSON: invalid character ',' looking for beginning of object key string`},
		{"truncated", demoPolicy[:strings.Index(demoPolicy, `"cookies"`)], withTexts,
			`f.json:9: unexpected EOF`},
		{"type error", edit(`"revision": 2,`, `"revision": "x",`), withTexts,
			`f.json:5: revision: expected int, got JSON string`},
		{"nested type error", edit(`"names": ["b"]`, `"names": "b"`), withTexts,
			`f.json:12: cookies.names: expected []string, got JSON string`},
		{"trailing object", demoPolicy + "{}\n", withTexts,
			`f.json:15: unexpected data after the policy object`},
		{"trailing garbage", demoPolicy + "\n\nx", withTexts,
			`f.json:17: unexpected data after the policy object`},
		{"trailing brace", demoPolicy + "}", withTexts,
			`f.json:15: unexpected data after the policy object`},
		{"trailing bracket", demoPolicy + "]", withTexts,
			`f.json:15: unexpected data after the policy object`},
		{"empty", "", withTexts, `f.json: file is empty`},
		{"blank", " \n\t\n", withTexts, `f.json: file is empty`},
		{"oversized", strings.Repeat(" ", 1<<20+1), withTexts,
			`f.json: file is 1048577 bytes, more than the 1048576 allowed`},
		{"undeclared cookie category", edit(`"category": "statistical"`, `"category": "ads"`), withTexts,
			`f.json:12: cookies[1].category: "ads" is not a declared category`},
		{"duplicate category", edit(`"id": "statistical"`, `"id": "necessary"`), withTexts,
			`f.json:8: categories[1].id: "necessary" is declared twice`},
		{"bad revision", edit(`"revision": 2,`, `"revision": 0,`), withTexts,
			`f.json:5: revision: must be between 1 and 9007199254740991, got 0`},
		{"field from the base", demoPolicy, policy.Policy{},
			`f.json: texts.lang: is empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := policy.Parse("f.json", []byte(tt.data), tt.base)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if p.ID != "demo" || p.Revision != 2 || p.Lifetime() != policy.DefaultLifetimeDays ||
					len(p.Cookies) != 2 || p.Texts.AcceptAll != texts.AcceptAll {
					t.Errorf("Parse = %+v", p)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse succeeded, want %s", tt.err)
			}
			if p != nil {
				t.Errorf("Parse returned a policy with error %v", err)
			}
			if le := (*policy.LoadError)(nil); !errors.As(err, &le) {
				t.Errorf("error %T is not a *LoadError", err)
			}
			// The first problem: the others (here what follows from it)
			// are TestParseEveryProblem's.
			if got := policy.LoadErrors(err)[0].Error(); got != tt.err {
				t.Errorf("error:\n got %s\nwant %s", got, tt.err)
			}
		})
	}
}

// TestParseEveryProblem checks that a policy that decodes is refused with
// every problem, each with its field and line, in the order of the file.
func TestParseEveryProblem(t *testing.T) {
	texts, err := policy.DefaultTexts()
	if err != nil {
		t.Fatal(err)
	}
	data := `{
  "id": "demo",
  "name": "",
  "url": "https://data.example.org",
  "revision": 2,
  "categories": [
    {"id": "necessary", "name": "Necessary", "description": "Needed.", "required": true},
    {"id": "statistical", "name": "Statistics", "description": ""}
  ],
  "cookies": [
    {"provider": "P", "function": "F", "names": ["a b"], "purpose": "P", "category": "necessary", "duration": "1 day"},
    {"provider": "P", "function": "F", "names": ["c"], "purpose": "P", "category": "ads", "duration": "1 day"}
  ],
  "updated": "2026-13-01"
}`
	_, err = policy.Parse("f.json", []byte(data), policy.Policy{Texts: texts})
	want := []string{
		`f.json:3: name: is empty`,
		`f.json:8: categories[1].description: is empty`,
		`f.json:11: cookies[0].names[0]: "a b" is not a valid cookie name`,
		`f.json:12: cookies[1].category: "ads" is not a declared category`,
		`f.json:14: updated: "2026-13-01" is not a date written YYYY-MM-DD`,
	}
	les := policy.LoadErrors(err)
	var got []string
	for _, le := range les {
		got = append(got, le.Error())
	}
	if !slices.Equal(got, want) {
		t.Errorf("Parse problems:\n got %q\nwant %q", got, want)
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("Parse error = %v, want each problem on its line", err)
	}
	// A source that cannot be decoded stops at its first problem.
	_, err = policy.Parse("f.json", []byte(`{"id": "demo", "name": 3, "url": 4}`), policy.Policy{Texts: texts})
	if les := policy.LoadErrors(err); len(les) != 1 || les[0].Field != "name" {
		t.Errorf("Parse of a type error = %v, want the one problem of name", err)
	}
	if policy.LoadErrors(nil) != nil || policy.LoadErrors(errors.New("other")) != nil {
		t.Error("LoadErrors of an error without problems is not nil")
	}
}

func FuzzParse(f *testing.F) {
	base := policy.Policy{Texts: defaultPolicy(f, "mtran").Texts}
	for _, name := range []string{"mtran.json", "twisto.json", "texts.en.json"} {
		data, err := os.ReadFile("defaults/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(demoPolicy))
	if full, err := json.Marshal(defaultPolicy(f, "mtran")); err == nil { // with translations
		f.Add(full)
	}
	f.Add([]byte(`{"id": 1}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"cookies": [{"names": ["a"]}]} }`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := policy.Parse("f.json", data, base)
		if err != nil {
			var le *policy.LoadError
			if p != nil || !errors.As(err, &le) || le.Line < 0 {
				t.Fatalf("Parse = %v, %#v", p, err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Parse returned an invalid policy: %v", err)
		}
		for _, lang := range p.Languages() {
			q, ok := p.In(lang)
			if !ok {
				t.Fatalf("In(%q) = false for one of Languages() %q", lang, p.Languages())
			}
			if err := q.Validate(); err != nil {
				t.Fatalf("In(%q) is invalid: %v", lang, err)
			}
		}
	})
}
