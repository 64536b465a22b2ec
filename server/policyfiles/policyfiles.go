// Package policyfiles reads the portals' cookie policies from YAML files, one file
// per portal, and keeps the last good policy of each portal serving while
// the files change (see Reloader).
//
// A policy file has the shape and field names of the JSON policy
// (policy.Policy's json tags) written as YAML: it is converted to JSON, its
// lines remembered, and decoded strictly by package policy, so every error
// reads `file:line: field: what is wrong` with the line in the YAML file.
// Fields a file leaves out keep the built-in English texts
// (policy.DefaultTexts) and revision 1.
//
// The revision a server serves is derived from what the visitor consents to
// (see Revision): operators never count it by hand.
package policyfiles

import (
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/portalconsent/portalconsent/policy"
)

// Exts are the extensions of policy files; other files are ignored.
var Exts = []string{".yaml", ".yml"}

//go:embed defaults/*.yaml
var defaultFiles embed.FS

// ExampleFile is the embedded example portal's policy file, for operators to
// copy (served at /policy-example.yaml).
const ExampleFile = "defaults/example.yaml"

// Example returns the bytes of the example policy file.
func Example() []byte {
	b, err := defaultFiles.ReadFile(ExampleFile)
	if err != nil {
		panic(err) // embedded at build time
	}
	return b
}

// Portal is a loaded policy and the file it came from.
type Portal struct {
	Policy *policy.Policy
	File   string // "" for the built-in JSON defaults
	Source []byte // the file's YAML; nil for the built-in JSON defaults
}

// Parse reads the YAML policy file named file (its base name must be the
// portal id and a YAML extension) from data: it converts it, decodes it over
// the default texts and revision 1, adds the trackers' cookie rows, checks
// the result and derives the served revision (see Revision). Every problem is
// a *policy.LoadError `file:line: field: message`.
func Parse(file string, data []byte) (*policy.Policy, error) {
	loc, err := convert(file, data, reflect.TypeFor[policy.Policy]())
	if err != nil {
		return nil, err
	}
	texts, err := policy.DefaultTexts()
	if err != nil {
		return nil, err
	}
	var idErr *policy.LoadError
	base := path.Base(file)
	if id, want := declaredID(loc.json), strings.TrimSuffix(base, path.Ext(base)); id != want && policy.ValidID(id) {
		idErr = &policy.LoadError{File: file, Line: loc.Field("id"), Field: "id",
			Msg: fmt.Sprintf("%q does not match the file name: %s must declare id: %s (or be renamed %s%s)", id, base, want, id, path.Ext(base))}
	}
	p, err := policy.ParseLines(file, loc.json, policy.Policy{Revision: 1, Texts: texts}, loc)
	if err != nil || idErr != nil {
		return nil, withID(idErr, yamlProblems(err))
	}
	if err := finish(p); err != nil {
		return nil, &policy.LoadError{File: file, Msg: err.Error()}
	}
	return p, nil
}

// declaredID returns the id the JSON of a policy declares, or "" when it
// declares none or cannot be read.
func declaredID(data []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(data, &v) != nil {
		return ""
	}
	return v.ID
}

// withID returns the problems of err (nil: none) after idErr, the problem
// of the policy's declared id (nil: none).
func withID(idErr *policy.LoadError, err error) error {
	if idErr == nil {
		return err
	}
	if err == nil {
		return idErr
	}
	errs := []error{idErr}
	if les := policy.LoadErrors(err); len(les) > 0 {
		for _, le := range les {
			errs = append(errs, le)
		}
	} else {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// yamlProblems returns err, the words of the JSON decoder in its problems
// replaced by what the YAML file holds.
func yamlProblems(err error) error {
	for _, le := range policy.LoadErrors(err) {
		le.Msg = yamlWords.Replace(le.Msg)
	}
	return err
}

// yamlWords names, in the JSON decoder's messages, what the YAML file holds.
var yamlWords = strings.NewReplacer("got JSON object", "got a YAML mapping", "got JSON array", "got a YAML list",
	"got JSON string", "got a YAML string", "got JSON number", "got a YAML number", "got JSON bool", "got a YAML boolean")

// finish adds the trackers' rows, derives the revision and checks the result.
func finish(p *policy.Policy) error {
	policy.ExpandTrackers(p)
	p.Revision = Revision(p)
	return p.Validate()
}

// Revision returns the revision served for p: a number in [1, 2^53-1] taken
// from the SHA-256 of what a visitor consents to, with p.Revision mixed in
// (an operator raises `revision` to ask everyone again without changing
// anything else). The content is: the lifetime of a choice; each category's
// id, whether it is required and its Consent Mode signals; each cookie row's
// provider, names, category, duration and paths (tracker rows included).
// Order does not count (categories, rows, names, signals and paths are
// sorted), nor does any wording: texts, names and descriptions of
// categories, functions and purposes of cookies, the portal's name and URL.
func Revision(p *policy.Policy) int {
	type category struct {
		ID       string   `json:"id"`
		Required bool     `json:"required"`
		Signals  []string `json:"signals"`
	}
	type cookie struct {
		Provider string   `json:"provider"`
		Names    []string `json:"names"`
		Category string   `json:"category"`
		Duration string   `json:"duration"`
		Paths    []string `json:"paths"`
	}
	sorted := func(s []string) []string {
		s = slices.Clone(s)
		sort.Strings(s)
		return s
	}
	c := struct {
		Epoch      int        `json:"epoch"`
		Lifetime   int        `json:"lifetime"`
		Domain     string     `json:"domain,omitempty"`
		Categories []category `json:"categories"`
		Cookies    []cookie   `json:"cookies"`
	}{Epoch: p.Revision, Lifetime: p.Lifetime(), Domain: p.CookieDomain}
	for _, cat := range p.Categories {
		c.Categories = append(c.Categories, category{cat.ID, cat.Required, sorted(cat.Signals)})
	}
	for _, r := range p.Cookies {
		c.Cookies = append(c.Cookies, cookie{r.Provider, sorted(r.Names), r.Category, r.Duration, sorted(r.Paths)})
	}
	sort.Slice(c.Categories, func(i, j int) bool { return c.Categories[i].ID < c.Categories[j].ID })
	key := func(r cookie) string { b, _ := json.Marshal(r); return string(b) }
	sort.Slice(c.Cookies, func(i, j int) bool { return key(c.Cookies[i]) < key(c.Cookies[j]) })
	b, _ := json.Marshal(c) // plain strings, ints and bools: cannot fail
	sum := sha256.Sum256(b)
	return int(binary.BigEndian.Uint64(sum[:8])%policy.MaxRevision) + 1
}

// Defaults returns the built-in portals, sorted by id: mtran and twisto (the
// JSON seeds of policy.Defaults) and the example portal (defaults/example.yaml),
// each with its trackers expanded and its revision derived as for files.
func Defaults() ([]Portal, error) {
	ps, err := policy.Defaults()
	if err != nil {
		return nil, err
	}
	var out []Portal
	for _, p := range ps {
		if err := finish(p); err != nil {
			return nil, fmt.Errorf("built-in portal %s: %w", p.ID, err)
		}
		out = append(out, Portal{Policy: p})
	}
	ex, err := Parse(ExampleFile, Example())
	if err != nil {
		return nil, err
	}
	out = append(out, Portal{Policy: ex, File: ExampleFile, Source: Example()})
	sort.Slice(out, func(i, j int) bool { return out[i].Policy.ID < out[j].Policy.ID })
	return out, nil
}

// Load reads every policy file (*.yaml, *.yml) of the directory fsys. It
// returns the valid portals sorted by id and, for each problem, a
// *policy.LoadError: an invalid file, two files declaring the same id (both
// refused), a directory without policy files. Subdirectories and other files
// are ignored.
func Load(fsys fs.FS) ([]Portal, []error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, []error{err}
	}
	var errs []error
	byID := map[string][]Portal{}
	files := 0
	for _, e := range entries {
		if e.IsDir() || !slices.Contains(Exts, path.Ext(e.Name())) || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		files++
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			errs = append(errs, &policy.LoadError{File: e.Name(), Msg: err.Error()})
			continue
		}
		p, err := Parse(e.Name(), data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		byID[p.ID] = append(byID[p.ID], Portal{Policy: p, File: e.Name(), Source: data})
	}
	if files == 0 {
		errs = append(errs, &policy.LoadError{File: ".", Msg: "no policy file (*.yaml, *.yml)"})
	}
	var out []Portal
	for id, ps := range byID {
		if len(ps) > 1 {
			var names []string
			for _, p := range ps {
				names = append(names, p.File)
			}
			sort.Strings(names)
			for _, n := range names {
				errs = append(errs, &policy.LoadError{File: n, Field: "id", Msg: fmt.Sprintf("portal %q is declared by several files (%s)", id, strings.Join(names, ", "))})
			}
			continue
		}
		out = append(out, ps[0])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Policy.ID < out[j].Policy.ID })
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return out, errs
}

// Policies returns the policies of ps.
func Policies(ps []Portal) []*policy.Policy {
	out := make([]*policy.Policy, len(ps))
	for i, p := range ps {
		out[i] = p.Policy
	}
	return out
}
