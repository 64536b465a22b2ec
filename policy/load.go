package policy

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
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
	p := base
	if err := decodeStrict(file, data, &p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		if fe, ok := errors.AsType[*FieldError](err); ok {
			return nil, &LoadError{File: file, Line: lineOfField(data, fe.Field), Field: fe.Field, Msg: fe.Msg}
		}
		return nil, &LoadError{File: file, Msg: err.Error()}
	}
	return &p, nil
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data, and reports errors as *LoadError with a line number.
func decodeStrict(file string, data []byte, v any) error {
	if len(data) > maxPolicySize {
		return &LoadError{File: file, Msg: fmt.Sprintf("file is %d bytes, more than the %d allowed", len(data), maxPolicySize)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		le := &LoadError{File: file, Line: lineAt(data, int(dec.InputOffset())), Msg: err.Error()}
		// errors.AsType and strconv rather than errors.As and fmt.Sscanf: the
		// wasm links neither reflectlite's As nor fmt's scanner (−22 KB brotli).
		se, isSyntax := errors.AsType[*json.SyntaxError](err)
		te, isType := errors.AsType[*json.UnmarshalTypeError](err)
		switch {
		case errors.Is(err, io.EOF):
			le.Line, le.Msg = 0, "file is empty"
		case errors.Is(err, io.ErrUnexpectedEOF):
			le.Line = lineAt(data, len(bytes.TrimRight(data, " \t\r\n")))
		case isSyntax:
			le.Line, le.Msg = lineAt(data, int(se.Offset)), "invalid JSON: "+se.Error()
		case isType:
			le.Line, le.Field = lineAt(data, int(te.Offset)), te.Field
			le.Msg = fmt.Sprintf("expected %s, got JSON %s", te.Type, te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			le.Field = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			le.Line, le.Msg = lineOfKey(data, le.Field), "unknown field"
		}
		return le
	}
	if _, err := dec.Token(); err != io.EOF {
		return &LoadError{File: file, Line: lineAt(data, int(dec.InputOffset())), Msg: "unexpected data after the policy object"}
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

// lineOfField finds the line of a field path such as "cookies[2].category": the
// first list index picks which occurrence of the last key, counted after the
// top-level key (and after the objects in between, as "dark" in
// "theme.dark.text"), is meant. It returns 0 when the field is not in the file (for
// example a value inherited from the base policy).
func lineOfField(data []byte, field string) int {
	top, rest, _ := strings.Cut(field, ".")
	nth := 0
	if i := strings.IndexByte(top, '['); i >= 0 {
		if j := strings.IndexByte(top[i:], ']'); j > 0 {
			nth, _ = strconv.Atoi(top[i+1 : i+j])
		}
		top = top[:i]
	}
	key := top
	if rest != "" {
		key = rest[strings.LastIndexByte(rest, '.')+1:]
		if i := strings.IndexByte(key, '['); i >= 0 {
			key = key[:i]
		}
	} else {
		nth = 0
	}
	off := bytes.Index(data, []byte(`"`+top+`"`))
	if off < 0 {
		return 0
	}
	if key == top {
		return lineAt(data, off)
	}
	// Objects in between ("dark" in "theme.dark.text"): the key after them.
	if mids := strings.Split(rest, "."); len(mids) > 1 {
		for _, mid := range mids[:len(mids)-1] {
			if strings.IndexByte(mid, '[') >= 0 {
				break
			}
			i := bytes.Index(data[off:], []byte(`"`+mid+`"`))
			if i < 0 {
				return 0
			}
			off += i
		}
	}
	needle := []byte(`"` + key + `"`)
	for n := 0; ; n++ {
		i := bytes.Index(data[off:], needle)
		if i < 0 {
			return 0
		}
		if n == nth {
			return lineAt(data, off+i)
		}
		off += i + len(needle)
	}
}

// Defaults returns the built-in policies (the portals the product was created
// from), sorted by id. It fails only if an embedded file is invalid, with the
// error naming the file and the field.
func Defaults() ([]*Policy, error) {
	textsData, err := defaultFiles.ReadFile(defaultTextsFile)
	if err != nil {
		return nil, err
	}
	var texts Texts
	if err := decodeStrict(defaultTextsFile, textsData, &texts); err != nil {
		return nil, err
	}
	entries, err := defaultFiles.ReadDir("defaults")
	if err != nil {
		return nil, err
	}
	var out []*Policy
	for _, e := range entries {
		name := path.Join("defaults", e.Name())
		if name == defaultTextsFile {
			continue
		}
		data, err := defaultFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		p, err := Parse(name, data, Policy{Texts: texts})
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
