package policy

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
)

//go:embed defaults/*.json
var defaultFiles embed.FS

// defaultTextsFile holds the texts every default portal starts from.
const defaultTextsFile = "defaults/texts.en.json"

// maxPolicySize bounds a policy file; larger files are refused.
const maxPolicySize = 1 << 20

// LoadError says which file, where in it and which field is wrong.
type LoadError struct {
	File  string
	Line  int    // 0 when unknown
	Field string // empty when the file cannot be read as a policy at all
	Msg   string
}

func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Parse decodes and validates the JSON policy in data. file names the source in
// errors. Fields absent from data keep their value in base (pass the zero Policy
// to start from nothing). Unknown fields, trailing data, files over 1 MiB and
// invalid policies are refused with a *LoadError naming the file, the line when
// known, and the field.
func Parse(file string, data []byte, base Policy) (*Policy, error) {
	return ParseLines(file, data, base, jsonLines(data))
}

// Locator tells where, in the source of a policy, something is. Parse reads
// JSON and locates in it; a loader of another format converts to JSON and
// passes a Locator into its own source to ParseLines.
type Locator interface {
	// Field returns the line of a field path such as "cookies[2].names[0]",
	// or 0 when the field is not in the source.
	Field(field string) int
	// Offset returns the field path (or "") and the line of the value at
	// byte offset off of the JSON data, or 0 when unknown.
	Offset(off int) (field string, line int)
}

// ParseLines is Parse with the lines of errors (and the field of type errors)
// found by loc rather than in data. A source that cannot be decoded is
// refused with its first problem; a policy that decodes but is not valid
// with every problem of Problems, each a *LoadError, several joined as by
// errors.Join (LoadErrors lists them).
func ParseLines(file string, data []byte, base Policy, loc Locator) (*Policy, error) {
	p := base
	if err := decodeStrict(file, data, &p, loc); err != nil {
		return nil, err
	}
	var errs []error
	for _, fe := range p.Problems() {
		errs = append(errs, &LoadError{File: file, Line: loc.Field(fe.Field), Field: fe.Field, Msg: fe.Msg})
	}
	switch len(errs) {
	case 0:
		return &p, nil
	case 1:
		return nil, errs[0]
	}
	return nil, errors.Join(errs...)
}

// LoadErrors returns the problems err holds, in order: err itself when it
// is a *LoadError, each *LoadError of errors joined (see ParseLines); nil
// when it holds none.
func LoadErrors(err error) []*LoadError {
	if le, ok := err.(*LoadError); ok {
		return []*LoadError{le}
	}
	var out []*LoadError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, LoadErrors(e)...)
		}
	} else if le, ok := errors.AsType[*LoadError](err); ok {
		out = append(out, le)
	}
	return out
}

// jsonLines locates fields and offsets in JSON data.
type jsonLines []byte

func (d jsonLines) Field(field string) int { return lineOfField(d, field) }

func (d jsonLines) Offset(off int) (string, int) { return "", lineAt(d, off) }

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data, and reports errors as *LoadError with a line number from loc
// (nil: in data).
func decodeStrict(file string, data []byte, v any, loc Locator) error {
	if loc == nil {
		loc = jsonLines(data)
	}
	if len(data) > maxPolicySize {
		return &LoadError{File: file, Msg: fmt.Sprintf("file is %d bytes, more than the %d allowed", len(data), maxPolicySize)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		_, line := loc.Offset(int(dec.InputOffset()))
		le := &LoadError{File: file, Line: line, Msg: err.Error()}
		// errors.AsType and strconv rather than errors.As and fmt.Sscanf: the
		// wasm links neither reflectlite's As nor fmt's scanner (−22 KB brotli).
		se, isSyntax := errors.AsType[*json.SyntaxError](err)
		te, isType := errors.AsType[*json.UnmarshalTypeError](err)
		switch {
		case errors.Is(err, io.EOF):
			le.Line, le.Msg = 0, "file is empty"
		case errors.Is(err, io.ErrUnexpectedEOF):
			_, le.Line = loc.Offset(len(bytes.TrimRight(data, " \t\r\n")))
		case isSyntax:
			_, le.Line = loc.Offset(int(se.Offset))
			le.Msg = "invalid JSON: " + se.Error()
		case isType:
			var field string
			field, le.Line = loc.Offset(int(te.Offset) - 1)
			le.Field = te.Field
			if field != "" {
				le.Field = field
			}
			le.Msg = fmt.Sprintf("expected %s, got JSON %s", te.Type, te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			le.Field = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			le.Line, le.Msg = loc.Field(le.Field), "unknown field"
			if _, json := loc.(jsonLines); json {
				le.Line = lineOfKey(data, le.Field)
			}
		}
		return le
	}
	if _, err := dec.Token(); err != io.EOF {
		_, line := loc.Offset(int(dec.InputOffset()))
		return &LoadError{File: file, Line: line, Msg: "unexpected data after the policy object"}
	}
	return nil
}

// lineAt returns the 1-based line of byte offset off in data.
func lineAt(data []byte, off int) int {
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		off = 0
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// lineOfKey returns the line of the first object key named key in data, or 0.
func lineOfKey(data []byte, key string) int {
	needle := []byte(`"` + key + `"`)
	for off := 0; ; {
		i := bytes.Index(data[off:], needle)
		if i < 0 {
			return 0
		}
		off += i + len(needle)
		if rest := bytes.TrimLeft(data[off:], " \t\r\n"); len(rest) > 0 && rest[0] == ':' {
			return lineAt(data, off-len(needle))
		}
	}
}

// lineOfField returns the line of the key (or array element) that a field
// path such as "cookies[2].category" or "translations[0].cookies._pk_id.*.purpose"
// names in the JSON data, or 0 when the file does not contain that field (for
// example a value inherited from the base policy). Object keys are matched
// against the path as written in the file, so keys may contain dots.
func lineOfField(data []byte, field string) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	line := 0
	// walk reads one value; rest is what remains of the path inside it, and
	// match whether the path is still followed (else the value is skipped).
	var walk func(rest string, match bool) bool
	walk = func(rest string, match bool) bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		d, ok := tok.(json.Delim)
		if !ok || (d != '{' && d != '[') {
			return true
		}
		for i := 0; dec.More(); i++ {
			next, follow := "", false
			if d == '{' {
				k, err := dec.Token()
				key, ok := k.(string)
				if err != nil || !ok {
					return false
				}
				if after, found := strings.CutPrefix(rest, key); match && found && (after == "" || after[0] == '.' || after[0] == '[') {
					next, follow = strings.TrimPrefix(after, "."), true
				}
			} else if after, found := strings.CutPrefix(rest, "["+strconv.Itoa(i)+"]"); match && found {
				next, follow = strings.TrimPrefix(after, "."), true
			}
			if follow && next == "" {
				line = lineAt(data, int(dec.InputOffset()))
			}
			if !walk(next, follow && next != "") {
				return false
			}
		}
		_, err = dec.Token() // the closing delimiter
		return err == nil
	}
	walk(field, true)
	return line
}

// DefaultTexts returns the English texts every built-in policy starts from
// (policy/defaults/texts.en.json). It fails only if that embedded file is
// invalid.
func DefaultTexts() (Texts, error) {
	f, err := readTextsFile(defaultTextsFile)
	return f.Texts, err
}

// textsFile is a defaults/texts.{lang}.json file: the texts of one language
// and the source of their regulator-facing terms. Source is not a field of
// Texts so that it never reaches a visitor (nor the wasm, which decodes
// Texts: a field there costs about a kilobyte of brotli).
type textsFile struct {
	Texts
	// Source names where the terms for "Accept all", "Reject all",
	// "Customize" and "Save my choices" come from: a data protection
	// authority's guidance, the usage of major sites, or that none was used.
	Source string `json:"source"`
}

// readTextsFile decodes the embedded texts file name strictly.
func readTextsFile(name string) (textsFile, error) {
	var f textsFile
	if err := decodeDefault(name, &f); err != nil {
		return textsFile{}, err
	}
	return f, nil
}

// Defaults returns the built-in policies (the portals the product was created
// from), sorted by id. In defaults/, texts.en.json holds the default texts every
// portal starts from and {id}.json each portal; each other texts.{lang}.json
// holds the texts of one more language, which every portal must complete with
// {id}.{lang}.json (a Translation: its categories and cookie rows, and any
// text it changes). It fails only if an embedded file is invalid or missing,
// with the error naming the file and the field.
func Defaults() ([]*Policy, error) {
	texts, err := DefaultTexts()
	if err != nil {
		return nil, err
	}
	entries, err := defaultFiles.ReadDir("defaults")
	if err != nil {
		return nil, err
	}
	var langs, portals, translated []string
	for _, e := range entries {
		name := e.Name()
		switch base := strings.TrimSuffix(name, ".json"); {
		case path.Join("defaults", name) == defaultTextsFile:
		case strings.HasPrefix(base, "texts."):
			langs = append(langs, strings.TrimPrefix(base, "texts."))
		case strings.Contains(base, "."):
			translated = append(translated, name)
		default:
			portals = append(portals, base)
		}
	}
	for _, name := range translated {
		id, lang, _ := strings.Cut(strings.TrimSuffix(name, ".json"), ".")
		if !slices.Contains(langs, lang) || !slices.Contains(portals, id) {
			return nil, &LoadError{File: "defaults/" + name, Msg: "names no default portal {id}.json and language texts.{lang}.json"}
		}
	}
	var out []*Policy
	for _, id := range portals {
		name := "defaults/" + id + ".json"
		data, err := defaultFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		p, err := Parse(name, data, Policy{Texts: texts})
		if err != nil {
			return nil, err
		}
		for _, lang := range langs {
			if err := addDefaultTranslation(p, lang); err != nil {
				return nil, err
			}
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// addDefaultTranslation adds to p its translation into lang: the texts of
// defaults/texts.{lang}.json, completed by defaults/{id}.{lang}.json.
func addDefaultTranslation(p *Policy, lang string) error {
	var tr Translation
	textsName := "defaults/texts." + lang + ".json"
	f, err := readTextsFile(textsName)
	if err != nil {
		return err
	}
	tr.Texts = f.Texts
	name := "defaults/" + p.ID + "." + lang + ".json"
	data, err := defaultFiles.ReadFile(name)
	if err != nil {
		return &LoadError{File: name, Msg: fmt.Sprintf("missing: every default portal is translated into each language of a texts.{lang}.json (%v)", err)}
	}
	if err := decodeStrict(name, data, &tr, nil); err != nil {
		return err
	}
	p.Translations = append(p.Translations, tr)
	if err := p.Validate(); err != nil {
		fe, ok := errors.AsType[*FieldError](err)
		if !ok {
			return &LoadError{File: name, Msg: err.Error()}
		}
		// The field as written in this file, without "translations[i]."; a
		// text this file does not set comes from the language's texts file.
		_, field, _ := strings.Cut(fe.Field, ".")
		line := lineOfField(data, field)
		if text, ok := strings.CutPrefix(field, "texts."); ok && line == 0 {
			textsData, _ := defaultFiles.ReadFile(textsName)
			name, line = textsName, lineOfField(textsData, text)
		}
		return &LoadError{File: name, Line: line, Field: fe.Field, Msg: fe.Msg}
	}
	return nil
}

// BuiltinLanguages returns the languages the product has texts in, one
// policy/defaults/texts.{lang}.json each, sorted.
func BuiltinLanguages() []string {
	entries, _ := defaultFiles.ReadDir("defaults")
	var out []string
	for _, e := range entries {
		base := strings.TrimSuffix(e.Name(), ".json")
		if lang, ok := strings.CutPrefix(base, "texts."); ok {
			out = append(out, lang)
		}
	}
	sort.Strings(out)
	return out
}

// BuiltinTexts returns the product's texts in the language of the BCP 47
// tag lang (compared without regard to case): those of the tag itself, else
// of its base language ("pt-BR" gets "pt", "fr-CA" gets "fr"), with the
// macrolanguage tag "no" (and "no-NO") read as Norwegian Bokmål "nb" and the
// former Hebrew tag "iw" as "he". It returns false when the product has no
// texts in that language or the embedded file does not decode (the tests of
// this package decode every one).
func BuiltinTexts(lang string) (Texts, bool) {
	f, ok := builtinTexts(lang)
	return f.Texts, ok
}

// BuiltinSource returns the source that the built-in texts of lang (matched
// as by BuiltinTexts) name for their regulator-facing terms, or "" when the
// product has no texts in that language.
func BuiltinSource(lang string) string {
	f, _ := builtinTexts(lang)
	return f.Source
}

// builtinTexts returns the texts file of lang, matched as by BuiltinTexts.
func builtinTexts(lang string) (textsFile, bool) {
	l := matchBuiltin(lang, BuiltinLanguages())
	if l == "" {
		return textsFile{}, false
	}
	f, err := readTextsFile("defaults/texts." + l + ".json")
	return f, err == nil
}

// matchBuiltin returns the one of langs (lowercase tags) that the BCP 47 tag
// lang is read in: itself (without regard to case), else its base language,
// with "no" read as "nb" and "iw" as "he"; or "" when none is.
func matchBuiltin(lang string, langs []string) string {
	lang = strings.ToLower(lang)
	base, _, _ := strings.Cut(lang, "-")
	switch base {
	case "no":
		base = "nb"
	case "iw":
		base = "he"
	}
	for _, l := range []string{lang, base} {
		if slices.Contains(langs, l) {
			return l
		}
	}
	return ""
}

// decodeDefault decodes the embedded file name strictly into v.
func decodeDefault(name string, v any) error {
	data, err := defaultFiles.ReadFile(name)
	if err != nil {
		return err
	}
	return decodeStrict(name, data, v, nil)
}
