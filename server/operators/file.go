package operators

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/portalconsent/portalconsent/policy"
	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"
)

// LoadError is a problem of an operators file at a line (0 when unknown).
type LoadError struct {
	File string
	Line int
	Msg  string
}

func (e *LoadError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// maxFileSize bounds an operators file.
const maxFileSize = 1 << 20

// ReadFile reads and checks the operators file at path (see Parse).
func ReadFile(path string) ([]Operator, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &LoadError{File: path, Msg: err.Error()}
	}
	return Parse(path, data)
}

// Parse reads an operators file (file names it in errors). It refuses, with
// every problem as a *LoadError at its line (joined): anything but one
// mapping with the key operators, a list of mappings of exactly name,
// tokenHash and portals; an unknown or repeated field; a name that is not
// 1 to 64 of [A-Za-z0-9._@-] (or is "admin"), or repeated; a tokenHash that
// is not a bcrypt hash; portals empty, with an invalid id, or "*" beside
// others.
func Parse(file string, data []byte) ([]Operator, error) {
	if len(data) > maxFileSize {
		return nil, &LoadError{File: file, Msg: fmt.Sprintf("over %d bytes", maxFileSize)}
	}
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, &LoadError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, &LoadError{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &LoadError{File: file, Line: extra.Line, Msg: "a second YAML document: the file holds one"}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, &LoadError{File: file, Line: root.Line, Msg: "the file is one mapping with the key operators"}
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "operators" || k.Kind != yaml.ScalarNode {
			bad(k.Line, "unknown field %q (the file has only operators)", k.Value)
			continue
		}
		if list != nil {
			bad(k.Line, "operators: repeated")
			continue
		}
		list = v
	}
	if list == nil {
		if len(errs) == 0 {
			bad(root.Line, "operators: missing")
		}
		return nil, errors.Join(errs...)
	}
	if list.Kind != yaml.SequenceNode {
		bad(list.Line, "operators: not a list")
		return nil, errors.Join(errs...)
	}
	var ops []Operator
	names := map[string]int{}
	for n, item := range list.Content {
		where := fmt.Sprintf("operators[%d]", n)
		if item.Kind != yaml.MappingNode {
			bad(item.Line, "%s: not a mapping of name, tokenHash and portals", where)
			continue
		}
		o := Operator{File: file}
		seen := map[string]bool{}
		ok := true
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			if seen[k.Value] {
				bad(k.Line, "%s: %s: repeated", where, k.Value)
				ok = false
				continue
			}
			seen[k.Value] = true
			switch k.Value {
			case "name":
				if v.Kind != yaml.ScalarNode || !namePattern.MatchString(v.Value) || v.Value == AdminName {
					bad(v.Line, "%s: name: %q is not 1 to 64 of A-Z a-z 0-9 . _ @ - (nor %q, the admin token's)", where, v.Value, AdminName)
					ok = false
				} else if first, dup := names[v.Value]; dup {
					bad(v.Line, "%s: name: %q is already the operator at line %d", where, v.Value, first)
					ok = false
				} else {
					names[v.Value] = v.Line
				}
				o.Name = v.Value
			case "tokenHash":
				if v.Kind != yaml.ScalarNode {
					bad(v.Line, "%s: tokenHash: not a string", where)
					ok = false
				} else if _, err := bcrypt.Cost([]byte(v.Value)); err != nil || !strings.HasPrefix(v.Value, "$2") {
					bad(v.Line, "%s: tokenHash: not a bcrypt hash (make one with server -hash-token)", where)
					ok = false
				}
				o.TokenHash = v.Value
			case "portals":
				if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
					bad(v.Line, "%s: portals: not a list of portal ids (or [\"*\"])", where)
					ok = false
					continue
				}
				for _, pn := range v.Content {
					id := pn.Value
					switch {
					case pn.Kind != yaml.ScalarNode || (id != "*" && !policy.ValidID(id)):
						bad(pn.Line, "%s: portals: %q is not a portal id", where, id)
						ok = false
					case slices.Contains(o.Portals, id):
						bad(pn.Line, "%s: portals: %q repeated", where, id)
						ok = false
					case id == "*" && len(v.Content) > 1:
						bad(pn.Line, "%s: portals: \"*\" (every portal) stands alone", where)
						ok = false
					}
					o.Portals = append(o.Portals, id)
				}
			default:
				bad(k.Line, "%s: unknown field %q (fields: name, tokenHash, portals)", where, k.Value)
				ok = false
			}
		}
		for _, f := range []string{"name", "tokenHash", "portals"} {
			if !seen[f] {
				bad(item.Line, "%s: %s: missing", where, f)
				ok = false
			}
		}
		if ok {
			ops = append(ops, o)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return ops, nil
}
