package policyfiles

import (
	"bytes"
	"errors"
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
// Every problem is a *policy.LoadError (file "ID.yaml" or "ID.json") with
// the line when known; a policy declaring another id is refused, as is an
// unknown format.
func ParseBody(id string, data []byte, format string) (*policy.Policy, error) {
	file := id + "." + format
	texts, err := policy.DefaultTexts()
	if err != nil {
		return nil, err
	}
	base := policy.Policy{Revision: 1, Texts: texts}
	var p *policy.Policy
	line := func(string) int { return 0 }
	switch format {
	case YAML:
		loc, err := convert(file, data, reflect.TypeFor[policy.Policy]())
		if err != nil {
			return nil, err
		}
		line = loc.Field
		if p, err = policy.ParseLines(file, loc.json, base, loc); err != nil {
			if le, ok := errors.AsType[*policy.LoadError](err); ok {
				le.Msg = yamlWords.Replace(le.Msg)
			}
			return nil, err
		}
	case JSON:
		if p, err = policy.Parse(file, data, base); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("policyfiles: unknown format %q (yaml or json)", format)
	}
	if p.ID != id {
		return nil, &policy.LoadError{File: file, Line: line("id"), Field: "id", Msg: fmt.Sprintf("%q is not the portal of this address, %q", p.ID, id)}
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
