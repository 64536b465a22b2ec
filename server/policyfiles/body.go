package policyfiles

import (
	"bytes"
	"fmt"
	"reflect"

	"go.yaml.in/yaml/v3"

	"github.com/portalconsent/portalconsent/policy"
)

// Formats of a policy given whole (ParseBody): a policy file's YAML, or
// its JSON.
const (
	YAML = "yaml"
	JSON = "json"
)

// ParseBody reads the policy of portal id from data, in format (YAML: as a
// policy file; JSON: the same fields as JSON), as Parse reads a file: over
// the default texts and revision 1, trackers expanded, revision derived.
// Each problem is a *policy.LoadError (file "ID.yaml" or "ID.json") with
// the line when known, several joined (policy.LoadErrors lists them): a
// source that cannot be decoded stops at its first, a policy that decodes
// has every problem reported; a policy declaring another id is refused, as
// is an unknown format.
func ParseBody(id string, data []byte, format string) (*policy.Policy, error) {
	file := id + "." + format
	texts, err := policy.DefaultTexts()
	if err != nil {
		return nil, err
	}
	base := policy.Policy{Revision: 1, Texts: texts}
	var p *policy.Policy
	var idErr *policy.LoadError
	// idProblem is the problem of a policy declaring another id than the
	// address's, found at line.
	idProblem := func(data []byte, line func(string) int) {
		if got := declaredID(data); got != id && policy.ValidID(got) {
			idErr = &policy.LoadError{File: file, Line: line("id"), Field: "id", Msg: fmt.Sprintf("%q is not the portal of this address, %q", got, id)}
		}
	}
	switch format {
	case YAML:
		loc, err := convert(file, data, reflect.TypeFor[policy.Policy]())
		if err != nil {
			return nil, err
		}
		idProblem(loc.json, loc.Field)
		p, err = policy.ParseLines(file, loc.json, base, loc)
		if err != nil || idErr != nil {
			return nil, withID(idErr, yamlProblems(err))
		}
	case JSON:
		idProblem(data, func(string) int { return 0 })
		p, err = policy.Parse(file, data, base)
		if err != nil || idErr != nil {
			return nil, withID(idErr, err)
		}
	default:
		return nil, fmt.Errorf("policyfiles: unknown format %q (yaml or json)", format)
	}
	if err := finish(p); err != nil {
		return nil, &policy.LoadError{File: file, Msg: err.Error()}
	}
	return p, nil
}

// ToJSON returns the JSON of the policy file data (YAML) named file: the
// same fields, as ParseBody reads them. Its errors are those of Parse.
func ToJSON(file string, data []byte) ([]byte, error) {
	loc, err := convert(file, data, reflect.TypeFor[policy.Policy]())
	if err != nil {
		return nil, err
	}
	return loc.json, nil
}

// ToYAML returns JSON data as YAML in block style, fields in their order.
// It fails on data that is not JSON.
func ToYAML(data []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	var block func(n *yaml.Node)
	block = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
			n.Style = 0
		}
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
			n.Style = 0 // quoted by the encoder when plain would read otherwise
		}
		for _, c := range n.Content {
			block(c)
		}
	}
	block(&doc)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	enc.Close()
	return b.Bytes(), nil
}

// DeclaredID returns the id a policy declares in data, in format (YAML or
// JSON), or "" when it declares none or cannot be read: what names a new
// portal written whole, before ParseBody checks it.
func DeclaredID(data []byte, format string) string {
	if format == YAML {
		j, err := ToJSON("policy.yaml", data)
		if err != nil {
			return ""
		}
		data = j
	}
	return declaredID(data)
}
