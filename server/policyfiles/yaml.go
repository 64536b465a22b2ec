package policyfiles

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/portalconsent/portalconsent/policy"
	"go.yaml.in/yaml/v3"
)

// maxFileSize bounds a policy file, as policy.Parse bounds a JSON one.
const maxFileSize = 1 << 20

// located is the JSON a YAML policy converts to, with where each part of it
// came from: it implements policy.Locator.
type located struct {
	json   []byte
	fields map[string]int // JSON field path → YAML line
	spans  []span         // JSON values in output order
}

// span is a JSON value written at offset off for the field path at a YAML
// line.
type span struct {
	off   int
	field string
	line  int
}

// Field returns the YAML line of a field path; for a path the file does not
// have, the line of its closest parent below the top level, else 0.
func (l *located) Field(field string) int {
	for field != "" {
		if line, ok := l.fields[field]; ok {
			return line
		}
		i := strings.LastIndexAny(field, ".[")
		if i <= 0 {
			return 0
		}
		field = field[:i]
	}
	return 0
}

// Offset returns the field path and YAML line of the JSON value that holds
// byte offset off.
func (l *located) Offset(off int) (string, int) {
	i := sort.Search(len(l.spans), func(i int) bool { return l.spans[i].off > off }) - 1
	if i < 0 {
		return "", 0
	}
	return l.spans[i].field, l.spans[i].line
}

// lineError is a problem at a YAML line, for a field path (may be empty).
func lineError(file string, line int, field, format string, args ...any) *policy.LoadError {
	return &policy.LoadError{File: file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

var (
	yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

// convert reads one YAML document and writes it as JSON for a value of type
// t (the type of policy.Policy: it tells field names and which scalars are
// strings). It refuses, with a *policy.LoadError at the YAML line, what JSON
// cannot express or a JSON decoder would silently take: several documents,
// anchors and aliases, merge keys, keys that are not strings, duplicate keys,
// tags other than YAML's core ones, infinities and NaN; and it refuses
// unknown fields (case-sensitive, unlike encoding/json). Type mismatches are
// left to the JSON decoder, located through the result.
func convert(file string, data []byte, t reflect.Type) (*located, error) {
	if len(data) > maxFileSize {
		return nil, lineError(file, 0, "", "file is %d bytes, more than the %d allowed", len(data), maxFileSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, lineError(file, 0, "", "file is empty")
		}
		return nil, yamlError(file, err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		return nil, lineError(file, next.Line, "", "a second YAML document: a policy file holds one")
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(file, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, lineError(file, 0, "", "file is empty")
		}
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, lineError(file, root.Line, "", "the policy must be a mapping of fields (id: …, name: …), not a %s", kindName(root))
	}
	c := &converter{file: file, out: &located{fields: map[string]int{}}}
	if err := c.value(root, "", t); err != nil {
		return nil, err
	}
	c.out.json = c.buf.Bytes()
	return c.out, nil
}

// yamlError turns a YAML syntax error into a *policy.LoadError.
func yamlError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return lineError(file, line, "", "invalid YAML: %s", m[2])
	}
	return lineError(file, 0, "", "invalid YAML: %s", msg)
}

type converter struct {
	file string
	buf  bytes.Buffer
	out  *located
}

var (
	unmarshalerJSON = reflect.TypeFor[json.Unmarshaler]()
	unmarshalerText = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// value writes n as JSON for a Go value of type t (nil: unknown, any).
func (c *converter) value(n *yaml.Node, field string, t reflect.Type) error {
	if n.Anchor != "" {
		return lineError(c.file, n.Line, field, "anchor &%s: anchors and aliases are not allowed (write the value out)", n.Anchor)
	}
	if n.Kind == yaml.AliasNode {
		return lineError(c.file, n.Line, field, "alias *%s: anchors and aliases are not allowed (write the value out)", n.Value)
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (t.Implements(unmarshalerJSON) || reflect.PointerTo(t).Implements(unmarshalerJSON) ||
		reflect.PointerTo(t).Implements(unmarshalerText)) {
		t = nil // its own JSON form: convert by the YAML tags alone
	}
	if field != "" {
		if _, seen := c.out.fields[field]; !seen {
			c.out.fields[field] = n.Line
		}
	}
	c.out.spans = append(c.out.spans, span{off: c.buf.Len(), field: field, line: n.Line})
	switch n.Kind {
	case yaml.MappingNode:
		return c.mapping(n, field, t)
	case yaml.SequenceNode:
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		c.buf.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				c.buf.WriteByte(',')
			}
			if err := c.value(item, fmt.Sprintf("%s[%d]", field, i), elem); err != nil {
				return err
			}
		}
		c.buf.WriteByte(']')
		return nil
	case yaml.ScalarNode:
		return c.scalar(n, field, t)
	}
	return lineError(c.file, n.Line, field, "unexpected YAML node")
}

// mapping writes a YAML mapping as a JSON object. For a struct type every key
// must be the JSON name of one of its fields.
func (c *converter) mapping(n *yaml.Node, field string, t reflect.Type) error {
	var fields map[string]reflect.Type
	var names []string
	var elem reflect.Type
	if t != nil {
		switch t.Kind() {
		case reflect.Struct:
			fields = jsonFields(t)
			for k := range fields {
				names = append(names, k)
			}
			sort.Strings(names)
		case reflect.Map:
			elem = t.Elem()
		}
	}
	seen := map[string]int{}
	c.buf.WriteByte('{')
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode || k.Anchor != "" {
			return lineError(c.file, k.Line, field, "anchors and aliases are not allowed (write the value out)")
		}
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			return lineError(c.file, k.Line, field, "merge key <<: not allowed (write the fields out)")
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			return lineError(c.file, k.Line, field, "key %s is a %s: keys must be strings", strconv.Quote(k.Value), kindName(k))
		}
		name := k.Value
		if !plainKey.MatchString(name) {
			name = strconv.Quote(name) // keeps the error on one line
		}
		path := name
		if field != "" {
			path = field + "." + name
		}
		if first, dup := seen[k.Value]; dup {
			return lineError(c.file, k.Line, path, "duplicate key (first at line %d)", first)
		}
		seen[k.Value] = k.Line
		ft := elem
		if fields != nil {
			var ok bool
			if ft, ok = fields[k.Value]; !ok {
				msg := "unknown field"
				for _, name := range names {
					if strings.EqualFold(name, k.Value) {
						msg += fmt.Sprintf(" (did you mean %q?)", name)
					}
				}
				if len(msg) == len("unknown field") && len(names) > 0 {
					msg += " (known: " + strings.Join(names, ", ") + ")"
				}
				return lineError(c.file, k.Line, path, "%s", msg)
			}
		}
		if i > 0 {
			c.buf.WriteByte(',')
		}
		writeString(&c.buf, k.Value)
		c.buf.WriteByte(':')
		if err := c.value(v, path, ft); err != nil {
			return err
		}
	}
	c.buf.WriteByte('}')
	return nil
}

// scalar writes a YAML scalar as a JSON string, number, boolean or null. A
// scalar for a string field is its text whatever YAML resolves it to (so that
// `duration: 30` or `name: 2026` read as the operator wrote them).
func (c *converter) scalar(n *yaml.Node, field string, t reflect.Type) error {
	tag := n.ShortTag()
	switch tag {
	case "!!str", "!!int", "!!float", "!!bool", "!!null", "!!timestamp":
	default:
		return lineError(c.file, n.Line, field, "tag %s is not allowed (strings, numbers, booleans and null only)", tag)
	}
	if t != nil && t.Kind() == reflect.String && tag != "!!null" {
		writeString(&c.buf, n.Value)
		return nil
	}
	switch tag {
	case "!!str", "!!timestamp":
		writeString(&c.buf, n.Value)
	case "!!null":
		c.buf.WriteString("null")
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return lineError(c.file, n.Line, field, "%v", err)
		}
		c.buf.WriteString(strconv.FormatBool(b))
	case "!!int":
		var i int64
		var u uint64
		var f float64
		switch {
		case n.Decode(&i) == nil:
			c.buf.WriteString(strconv.FormatInt(i, 10))
		case n.Decode(&u) == nil:
			c.buf.WriteString(strconv.FormatUint(u, 10))
		case n.Decode(&f) == nil:
			c.buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
		default:
			return lineError(c.file, n.Line, field, "%s is not a number JSON can hold", n.Value)
		}
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return lineError(c.file, n.Line, field, "%s is not a number JSON can hold", n.Value)
		}
		c.buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	}
	return nil
}

func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)           // a string always encodes (invalid UTF-8 becomes U+FFFD)
	b.Truncate(b.Len() - 1) // the newline Encode adds
}

// jsonFields returns the fields of struct type t by JSON name, as
// encoding/json sees them (embedded structs flattened, "-" skipped).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		out[name] = ft
	}
	return out
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	case yaml.AliasNode:
		return "alias"
	}
	switch n.ShortTag() {
	case "!!str":
		return "string"
	case "!!int", "!!float":
		return "number"
	case "!!bool":
		return "boolean"
	case "!!null":
		return "null"
	}
	return "value " + n.ShortTag()
}
