package charts

import (
	"encoding/xml"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata")

// golden compares got with testdata/name.svg (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".svg")
	if *update {
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got+"\n" != string(want) {
		t.Errorf("%s differs from %s:\n%s", name, path, got)
	}
}

// wellFormed parses s as XML and checks what every chart must have.
func wellFormed(t *testing.T, s string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, s)
		}
	}
	if !strings.HasPrefix(s, `<svg `) || !strings.Contains(s, ` role="img"`) || !regexp.MustCompile(`aria-labelledby="([\w-]+)-title ([\w-]+)-desc"`).MatchString(s) ||
		!strings.Contains(s, `<title id="`) || strings.Contains(s, "style=") {
		t.Errorf("missing role, title or aria-labelledby, or a style attribute:\n%s", s)
	}
}

var series = []Series{{"Accept all"}, {"Reject all"}, {"Custom"}}

func TestStackedGolden(t *testing.T) {
	c := Stacked{ID: "decisions", Title: "Decisions per day", Desc: "Stacked: accept all, reject all, custom.", Series: series,
		Bars:   []string{"2026-03-01", "2026-03-02", "2026-03-03"},
		Values: [][]int64{{3, 1, 2}, {0, 4, 0}, {10, 2, 5}}}
	s := c.SVG()
	wellFormed(t, s)
	golden(t, "stacked", s)
	if c.SVG() != s {
		t.Error("two renderings differ")
	}
	// Each bar carries its numbers; a zero is drawn as nothing.
	if n := strings.Count(s, `data-series="`); n != 7 {
		t.Errorf("%d segments, want 7 (the two zeros of day 2 drawn as none)", n)
	}
	for _, want := range []string{`data-series="2" data-value="5"`, `<title>2026-03-02 — Accept all: 0, Reject all: 4, Custom: 0</title>`, `>Custom</text>`} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %s", want)
		}
	}
}

func TestStackedEmpty(t *testing.T) {
	s := Stacked{ID: "e", Title: "Nothing", Series: series, Empty: "No decision in this period"}.SVG()
	wellFormed(t, s)
	golden(t, "stacked-empty", s)
	if !strings.Contains(s, "No decision in this period") || strings.Contains(s, "data-series") {
		t.Errorf("empty chart:\n%s", s)
	}
	// Days without a value are empty too.
	s = Stacked{ID: "e", Title: "Zeros", Series: series, Bars: []string{"a", "b"}, Values: [][]int64{{0, 0, 0}}, Empty: "none"}.SVG()
	wellFormed(t, s)
	if !strings.Contains(s, ">none<") || strings.Contains(s, "data-series") {
		t.Errorf("all-zero chart:\n%s", s)
	}
}

func TestStackedOneDay(t *testing.T) {
	s := Stacked{ID: "one", Title: "One day", Series: series, Bars: []string{"2026-03-03"}, Values: [][]int64{{1, 0, 0}}}.SVG()
	wellFormed(t, s)
	golden(t, "stacked-one-day", s)
	// The axis steps by whole numbers (0 to 4): the one decision is a quarter.
	if !strings.Contains(s, `height="50"`) || !strings.Contains(s, `text-anchor="end">4</text>`) || strings.Count(s, `text-anchor="end">1</text>`) != 1 {
		t.Errorf("a one-decision bar is not full height:\n%s", s)
	}
}

func TestStackedZeroSeries(t *testing.T) {
	// A series without any value is still in the legend, and draws nothing.
	s := Stacked{ID: "z", Title: "Z", Series: series, Bars: []string{"a", "b"}, Values: [][]int64{{2, 0, 1}, {1, 0, -5}}}.SVG()
	wellFormed(t, s)
	if strings.Contains(s, `data-series="1"`) || !strings.Contains(s, ">Reject all</text>") || strings.Contains(s, `height="0"`) || strings.Contains(s, `height="-`) {
		t.Errorf("zero series:\n%s", s)
	}
}

func TestStackedHugeValue(t *testing.T) {
	s := Stacked{ID: "h", Title: "Huge", Series: series, Bars: []string{"a", "b"},
		Values: [][]int64{{math.MaxInt64, math.MaxInt64, 1}, {1, 0, 0}}}.SVG()
	wellFormed(t, s)
	golden(t, "stacked-huge", s)
	if strings.Contains(s, "NaN") || strings.Contains(s, "Inf") || strings.Contains(s, "-9") {
		t.Errorf("huge values:\n%s", s)
	}
	if !strings.Contains(s, `data-value="9223372036854775807"`) {
		t.Error("the huge value is not carried exactly")
	}
}

func TestEscaping(t *testing.T) {
	evil := `<script>alert("x")</script>&'`
	for name, s := range map[string]string{
		"stacked": Stacked{ID: `a"b<c`, Title: evil, Desc: evil, Series: []Series{{evil}}, Bars: []string{evil}, Values: [][]int64{{1}},
			Format: func(n int64) string { return evil }, Empty: evil}.SVG(),
		"shares": Shares{ID: evil, Title: evil, Desc: evil, Rows: []Share{{Label: evil, Value: 0.5, Text: evil}}}.SVG(),
	} {
		wellFormed(t, s)
		if strings.Contains(s, "<script") || strings.Contains(s, `"x"`) || strings.Contains(s, `a"b`) {
			t.Errorf("%s: a hostile label is not escaped:\n%s", name, s)
		}
	}
}

func TestSharesGolden(t *testing.T) {
	c := Shares{ID: "cats", Title: "Share accepting each category", Desc: "Over the period.", Rows: []Share{
		{Label: "Statistical", Value: 0.125, Text: "12,5 %"}, {Label: "Marketing", Value: 0, Text: "0 %"},
		{Label: "Over", Value: 7, Text: "700 %"}, {Label: "NaN", Value: math.NaN(), Text: "—"},
	}}
	s := c.SVG()
	wellFormed(t, s)
	golden(t, "shares", s)
	for _, want := range []string{`data-label="Statistical" data-value="12.5"`, `data-label="Over" data-value="100"`, `data-label="NaN" data-value="0"`, ">12,5 %<"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %s", want)
		}
	}
	// A zero share draws no bar, only its track.
	if strings.Count(s, `class="pc-chart-s0"`) != 2 {
		t.Errorf("want two bars (12.5 %% and the clamped 100 %%):\n%s", s)
	}
	e := Shares{ID: "e", Title: "None", Empty: "No category"}.SVG()
	wellFormed(t, e)
	if !strings.Contains(e, "No category") {
		t.Error("empty shares chart without its text")
	}
}
