package policyfiles

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/portalconsent/portalconsent/policy"
)

var update = flag.Bool("update", false, "rewrite the golden errors of testdata/bad")

// TestParseErrors reads each file of testdata/bad and compares its error with
// the golden one (testdata/bad/NAME.golden; -update rewrites them).
func TestParseErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Every kind of problem the loader must locate has its file.
	for _, want := range []string{"syntax", "unknown-field", "wrong-type", "nested-type", "invalid-value",
		"id-mismatch", "duplicate-key", "alias", "merge", "nonstring-key", "two-documents", "empty"} {
		if !slices.Contains(files, "testdata/bad/"+want+".yaml") {
			t.Errorf("testdata/bad/%s.yaml is missing", want)
		}
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(filepath.Base(file), data)
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", p)
			}
			if p != nil {
				t.Errorf("Parse returned a policy with its error")
			}
			if _, ok := errors.AsType[*policy.LoadError](err); !ok {
				t.Errorf("error %T is not a *policy.LoadError", err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./server/store -update)", err)
			}
			if got != string(want) {
				t.Errorf("error:\n got %s want %s", got, want)
			}
		})
	}
}

// demo is a valid policy file; tests edit it.
const demo = `# A portal.
id: demo
name: Demo portal
url: https://demo.example.org
categories:
  - id: necessary
    name: Necessary
    description: Needed.
    required: true
  - id: statistical
    name: Statistical
    description: Analytics.
    signals: [analytics_storage]
trackers:
  - type: matomo
    category: statistical
cookies:
  - provider: Demo
    function: Login
    names: [sessionid]
    purpose: To remember the user
    category: necessary
    duration: 2 weeks
`

func mustParse(t *testing.T, data string) *policy.Policy {
	t.Helper()
	p, err := Parse("demo.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func edit(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(demo, old) {
		t.Fatalf("demo has no %q", old)
	}
	return strings.Replace(demo, old, new, 1)
}

func TestParse(t *testing.T) {
	p := mustParse(t, demo)
	texts, err := policy.DefaultTexts()
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "demo" || p.Texts.AcceptAll != texts.AcceptAll || p.Lifetime() != policy.DefaultLifetimeDays {
		t.Errorf("Parse = %+v", p)
	}
	var names []string
	for _, c := range p.Cookies {
		names = append(names, c.Names...)
	}
	for _, n := range []string{"sessionid", "_pk_id.*", "_pk_ses.*"} {
		if !slices.Contains(names, n) {
			t.Errorf("cookie table %q lacks %s", names, n)
		}
	}
	if p.Revision < 1 || p.Revision > policy.MaxRevision {
		t.Errorf("revision %d out of range", p.Revision)
	}
	// Scalars YAML reads as numbers or booleans are the operator's text in
	// a string field.
	q := mustParse(t, edit(t, "duration: 2 weeks", "duration: 14")+"texts:\n  acceptAll: yes\n")
	if d := q.Cookies[0].Duration; d != "14" || q.Texts.AcceptAll != "yes" {
		t.Errorf("duration %q, acceptAll %q", d, q.Texts.AcceptAll)
	}
	// .yml files too.
	if _, err := Parse("demo.yml", []byte(demo)); err != nil {
		t.Error(err)
	}
}

// TestRevision checks the revision follows what a visitor consents to and
// nothing else.
func TestRevision(t *testing.T) {
	base := mustParse(t, demo).Revision
	same := map[string]string{
		"reformatted": `{id: demo, name: "Demo portal", url: 'https://demo.example.org',
  categories: [{id: necessary, name: Necessary, description: Needed., required: true},
    {id: statistical, name: Statistical, description: Analytics., signals: [analytics_storage]}],
  trackers: [{type: matomo, category: statistical}],
  cookies: [{provider: Demo, function: Login, names: [sessionid], purpose: To remember the user,
    category: necessary, duration: 2 weeks}]}
`,
		"keys reordered": strings.Replace(demo, "id: demo\nname: Demo portal\n", "name: Demo portal\nid: demo\n", 1),
		"wording":        edit(t, "description: Analytics.", "description: Audience measurement."),
		"texts":          demo + "texts:\n  bannerTitle: Cookies here\n",
		"explicit 1":     demo + "revision: 1\n",
		"purpose":        edit(t, "purpose: To remember the user", "purpose: To keep the user signed in"),
	}
	for name, data := range same {
		if got := mustParse(t, data).Revision; got != base {
			t.Errorf("%s: revision %d, want %d", name, got, base)
		}
	}
	changed := map[string]string{
		"category added": edit(t, "trackers:", "  - id: marketing\n    name: Marketing\n    description: Ads.\ntrackers:"),
		"signal added":   edit(t, "signals: [analytics_storage]", "signals: [analytics_storage, ad_storage]"),
		"cookie added":   demo + "  - provider: Demo\n    function: F\n    names: [lang]\n    purpose: P\n    category: necessary\n    duration: 1 year\n",
		"cookie renamed": edit(t, "names: [sessionid]", "names: [session]"),
		"duration":       edit(t, "duration: 2 weeks", "duration: 1 month"),
		"tracker added":  edit(t, "cookies:", "  - type: google-analytics\n    category: statistical\ncookies:"),
		"lifetime":       demo + "lifetimeDays: 30\n",
		"epoch raised":   demo + "revision: 2\n",
	}
	seen := map[int]string{base: "demo"}
	for name, data := range changed {
		got := mustParse(t, data).Revision
		if other, dup := seen[got]; dup {
			t.Errorf("%s: revision %d, the same as %s", name, got, other)
		}
		seen[got] = name
	}
}

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"demo.yaml":      {Data: []byte(demo)},
		"other.yml":      {Data: []byte(strings.Replace(demo, "id: demo", "id: other", 1))},
		"README.md":      {Data: []byte("not a policy")},
		".demo.yaml.swp": {Data: []byte("editor swap file")},
		"sub/x.yaml":     {Data: []byte("ignored")},
	}
	ps, errs := Load(fsys)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(ps) != 2 || ps[0].Policy.ID != "demo" || ps[0].File != "demo.yaml" || ps[1].Policy.ID != "other" {
		t.Fatalf("Load = %+v", ps)
	}

	fsys["demo.yml"] = &fstest.MapFile{Data: []byte(demo)}
	fsys["broken.yaml"] = &fstest.MapFile{Data: []byte("id: [")}
	ps, errs = Load(fsys)
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	want := []string{
		`broken.yaml:1: invalid YAML: did not find expected node content`,
		`demo.yaml: id: portal "demo" is declared by several files (demo.yaml, demo.yml)`,
		`demo.yml: id: portal "demo" is declared by several files (demo.yaml, demo.yml)`,
	}
	if !slices.Equal(msgs, want) {
		t.Errorf("errors:\n got %q\nwant %q", msgs, want)
	}
	if len(ps) != 1 || ps[0].Policy.ID != "other" {
		t.Errorf("valid portals: %+v", ps)
	}

	if _, errs := Load(fstest.MapFS{"README.md": {Data: []byte("x")}}); len(errs) != 1 || errs[0].Error() != ".: no policy file (*.yaml, *.yml)" {
		t.Errorf("empty directory: %v", errs)
	}
}

func TestDefaults(t *testing.T) {
	ps, err := Defaults()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.Policy.ID)
	}
	if !slices.Equal(ids, []string{"example", "mtran", "twisto"}) {
		t.Fatalf("ids %q", ids)
	}
	ex := ps[0].Policy
	var names []string
	for _, c := range ex.Cookies {
		names = append(names, c.Names...)
	}
	for _, n := range []string{"_pk_id.*", "_pk_ses.*", "_ga", "_ga_*", "_gcl_au"} {
		if !slices.Contains(names, n) {
			t.Errorf("example cookie table %q lacks %s", names, n)
		}
	}
	if c, _ := ex.Category("statistical"); !slices.Equal(c.Signals, []string{"analytics_storage"}) {
		t.Errorf("statistical signals %q", c.Signals)
	}
	if ex.Revision == 1 {
		t.Errorf("the example's revision is not derived")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(demo))
	f.Add(Example())
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("id: demo\nname: &a [*a]\n"))
	f.Add([]byte("{id: demo, texts: {sections: [{title: t, paragraphs: [1, 2.5, true, null, 0x1f]}]}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("demo.yaml", data)
		if err != nil {
			les := policy.LoadErrors(err)
			if p != nil || len(les) == 0 || strings.Count(err.Error(), "\n") != len(les)-1 {
				t.Fatalf("Parse = %v, %#v", p, err)
			}
			for _, le := range les {
				if le.Line < 0 || le.File != "demo.yaml" || strings.Contains(le.Error(), "\n") {
					t.Fatalf("Parse = %v, problem %#v", p, le)
				}
			}
			return
		}
		if p.ID != "demo" {
			t.Fatalf("id %q from demo.yaml", p.ID)
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Parse returned an invalid policy: %v", err)
		}
		if again, err := Parse("demo.yaml", data); err != nil || again.Revision != p.Revision {
			t.Fatalf("parsing twice: revision %d then %v, %v", p.Revision, again, err)
		}
	})
}
