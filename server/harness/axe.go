package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// AxePath is axe-core's browser bundle (server/.tools/), relative to the
// directory of a test package directly under server/ (server/e2e,
// server/bench), where go test runs; the Makefile installs it (a
// prerequisite of `make test`).
var AxePath = filepath.Join("..", ".tools", "node_modules", "axe-core", "axe.min.js")

// AxeTags are the rule sets the banner must pass: WCAG 2.0, 2.1 and 2.2, A and AA.
const AxeTags = `["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]`

// AxeSource returns axe-core's source (AxePath); it fails t, saying how to
// install it, when the file is missing.
func AxeSource(t testing.TB) string {
	t.Helper()
	src, err := os.ReadFile(AxePath)
	if err != nil {
		t.Fatalf("axe-core is missing (%v): run `make test`, or install it with "+
			"`npm install --no-audit --no-fund --prefix server/.tools axe-core@4.14.1` at the module root (make test does)", err)
	}
	return string(src)
}

// AxeViolation is one violated axe-core rule and the elements that violate
// it.
type AxeViolation struct {
	ID, Impact, Help string
	Nodes            []struct{ Target, Summary string }
}

// String returns the rule, its impact and help, then each element's target
// and failure summary on lines of their own.
func (v AxeViolation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s", v.ID, v.Impact, v.Help)
	for _, n := range v.Nodes {
		fmt.Fprintf(&b, "\n\t\t%s\n\t\t\t%s", n.Target, strings.ReplaceAll(n.Summary, "\n", "\n\t\t\t"))
	}
	return b.String()
}

// axeResults maps axe's violations (of the window W and document D in scope)
// to what AxeViolation holds; the frame's promise is adopted by the page's.
const axeResults = `Promise.resolve(W.axe.run(D, {runOnly: {type: "tag", values: ` + AxeTags + `}, resultTypes: ["violations"]}))
	.then(r => r.violations.map(v => ({ID: v.id, Impact: v.impact || "", Help: v.help,
		Nodes: v.nodes.map(n => ({Target: n.target.map(String).join(" "), Summary: n.failureSummary || ""}))})))`

// AxeFrame runs axe-core (its source, from AxeSource) with AxeTags in the
// consent frame's document and returns the violations; it fails the test if
// axe does not load there.
func (tb *Tab) AxeFrame(src string) []AxeViolation {
	tb.T.Helper()
	var ok bool
	tb.Eval(InFrame(`(w.eval(`+JSString(src)+`), typeof w.axe === "object")`), &ok)
	if !ok {
		tb.T.Fatal("axe-core did not load in the consent frame")
	}
	var vs []AxeViolation
	tb.Run(chromedp.Evaluate(InFrame(`((W, D) => `+axeResults+`)(w, d)`), &vs, AwaitPromise))
	return vs
}

// AxeTop runs axe-core (its source, from AxeSource) with AxeTags in the top
// document and returns the violations; it fails the test if axe does not
// load there.
func (tb *Tab) AxeTop(src string) []AxeViolation {
	tb.T.Helper()
	var ok bool
	tb.Run(chromedp.Evaluate(src+"\n;typeof window.axe === \"object\"", &ok))
	if !ok {
		tb.T.Fatal("axe-core did not load in the page")
	}
	var vs []AxeViolation
	tb.Run(chromedp.Evaluate(`((W, D) => `+axeResults+`)(window, document)`, &vs, AwaitPromise))
	return vs
}
