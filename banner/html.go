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
// sorted by name. go-app keeps attributes in a map and writes them in a random
// order; sorted, the same component always renders to the same bytes (stable
// ETags, golden files). The components of this package put only ids, classes
// and language tags in attributes, never policy text: HTMLString does not
// HTML-escape attribute values.
func HTML(ui app.UI) string { return sortAttributes(app.HTMLString(ui)) }

// sortAttributes sorts the attributes of every start tag in s by name.
func sortAttributes(s string) string {
	return startTag.ReplaceAllStringFunc(s, func(tag string) string {
		m := startTag.FindStringSubmatch(tag)
		pairs := attrPair.FindAllStringSubmatch(m[2], -1)
		sort.Slice(pairs, func(i, j int) bool { return pairs[i][1] < pairs[j][1] })
		var b strings.Builder
		b.WriteString("<" + m[1])
		for _, p := range pairs {
			b.WriteString(" " + p[0])
		}
		b.WriteString(">")
		return b.String()
	})
}
