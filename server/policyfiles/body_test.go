package policyfiles

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/portalconsent/portalconsent/policy"
)

// TestParseBody: the example file read as a body, in YAML, in its JSON and
// in the YAML made back from that JSON, is the policy Parse reads; another
// portal's id, a broken field and an unknown format are refused with the
// line of the problem.
func TestParseBody(t *testing.T) {
	want, err := Parse(ExampleFile, Example())
	if err != nil {
		t.Fatal(err)
	}
	js, err := ToJSON(ExampleFile, Example())
	if err != nil {
		t.Fatal(err)
	}
	back, err := ToYAML(js)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		format string
		data   []byte
	}{{YAML, Example()}, {JSON, js}, {YAML, back}} {
		got, err := ParseBody("example", c.data, c.format)
		if err != nil {
			t.Fatalf("%s: %v", c.format, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ParseBody differs from Parse", c.format)
		}
	}
	_, err = ParseBody("other", Example(), YAML)
	le, ok := errors.AsType[*policy.LoadError](err)
	if !ok || le.Field != "id" || le.Line != 6 || !strings.Contains(le.Msg, `"example" is not the portal of this address, "other"`) {
		t.Errorf("another portal's id: %#v", err)
	}
	broken := strings.Replace(string(Example()), "lifetimeDays: 182", "lifetimeDays: long", 1)
	_, err = ParseBody("example", []byte(broken), YAML)
	if le, ok := errors.AsType[*policy.LoadError](err); !ok || le.Field != "lifetimeDays" || le.Line == 0 || !strings.Contains(le.Msg, "YAML string") {
		t.Errorf("a broken field: %#v", err)
	}
	if _, err := ParseBody("example", js, "toml"); err == nil {
		t.Error("an unknown format was read")
	}
	if _, err := ToYAML([]byte("{")); err == nil {
		t.Error("ToYAML read broken JSON")
	}
}
