package banner

import (
	"regexp"
	"sort"
	"strings"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

var (
	// startTag matches an HTML start tag as app.HTMLString writes it:
	// attribute values are Go-quoted strings, bare names mean "true".
	startTag = regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s="'<>/]+(?:="(?:[^"\\]|\\.)*")?)*)\s*>`)
	attrPair = regexp.MustCompile(`([^\s="'<>/]+)(?:="(?:[^"\\]|\\.)*")?`)
)

// HTML returns app.HTMLString(ui) with the attributes of every start tag
// sorted by name, false boolean attributes left out and true ARIA ones
// written "true" (see sortAttributes). go-app keeps attributes in a map and writes them in a random
// order; sorted, the same component always renders to the same bytes (stable
// ETags, golden files). The components of this package put only ids, classes
// and language tags in attributes, never policy text: HTMLString does not
// HTML-escape attribute values.
func HTML(ui app.UI) string { return sortAttributes(app.HTMLString(ui)) }

// booleanAttrs are the HTML boolean attributes go-app writes as name="false"
// when false (Checked(false)): in HTML their presence means true, so they are
// left out.
var booleanAttrs = map[string]bool{"checked": true, "disabled": true, "hidden": true, "open": true, "selected": true, "required": true, "readonly": true}

// sortAttributes sorts the attributes of every start tag in s by name, and
// writes what the browser would otherwise misread as go-app sets it in the
// DOM: a false boolean attribute (checked="false") is left out, an ARIA
// attribute written bare (true) is aria-modal="true" (a bare ARIA attribute
// is an empty value, which means false).
func sortAttributes(s string) string {
	return startTag.ReplaceAllStringFunc(s, func(tag string) string {
		m := startTag.FindStringSubmatch(tag)
		pairs := attrPair.FindAllStringSubmatch(m[2], -1)
		sort.Slice(pairs, func(i, j int) bool { return pairs[i][1] < pairs[j][1] })
		var b strings.Builder
		b.WriteString("<" + m[1])
		for _, p := range pairs {
			switch {
			case booleanAttrs[p[1]] && p[0] == p[1]+`="false"`:
				continue
			case strings.HasPrefix(p[1], "aria-") && p[0] == p[1]:
				b.WriteString(" " + p[1] + `="true"`)
				continue
			}
			b.WriteString(" " + p[0])
		}
		b.WriteString(">")
		return b.String()
	})
}
