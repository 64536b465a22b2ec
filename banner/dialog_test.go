package banner

import (
	"regexp"
	"strings"
	"testing"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

func TestDialogStructure(t *testing.T) {
	d := dialog("my-dialog", "my-title", "Close it", nil,
		app.H2().ID("my-title").Text("Title"),
		app.P().Text("Body"),
	)
	// dialog returns plain HTML: app.Match walks it without an engine.
	match(t, app.Div().Class("pc-overlay"), d)
	match(t, app.Div().
		ID("my-dialog").Class("pc-dialog").
		Role("dialog").Aria("modal", "true").Aria("labelledby", "my-title").
		TabIndex(-1).OnKeyDown(noop),
		d, 0)
	// Close comes first, then the content, in order.
	match(t, app.Button().
		Type("button").ID(CloseID).Class("pc-close").
		Aria("label", "Close it").Title("Close it").OnClick(noop),
		d, 0, 0)
	match(t, app.Text("×"), d, 0, 0, 0)
	match(t, app.Div().Class("pc-dialog-body"), d, 0, 1)
	match(t, app.H2().ID("my-title"), d, 0, 1, 0)
	match(t, app.P(), d, 0, 1, 1)
	if err := app.Match(app.Div(), d, 0, 2); err == nil {
		t.Error("the dialog has more than a Close button and a body")
	}
}

func TestDialogCloseButtonCallsOnClose(t *testing.T) {
	closed := 0
	d := dialog("x", "t", "Close", func(app.Context) { closed++ })
	click(t, d, CloseID)
	if closed != 1 {
		t.Errorf("onClose called %d times, want 1", closed)
	}
	click(t, dialog("x", "t", "Close", nil), CloseID) // nil onClose: no panic
}

// app.HTMLString writes an attribute whose value is "true" as a bare name,
// and Checked(false) as checked="false": read by a browser, aria-modal would
// be empty (false) and the switch on. HTML writes them as go-app sets them in
// the DOM: aria-modal="true", no checked. Pinned here so that a go-app change
// is noticed.
func TestHTMLWritesAttributesAsTheBrowserSetsThem(t *testing.T) {
	if out := app.HTMLString(dialog("x", "t", "Close", nil)); !regexp.MustCompile(`\saria-modal[\s>]`).MatchString(out) {
		t.Errorf("go-app no longer writes aria-modal bare:\n%s", out)
	}
	out := HTML(dialog("x", "t", "Close", nil))
	if !strings.Contains(out, `<div aria-labelledby="t" aria-modal="true" class="pc-dialog" id="x" role="dialog" tabindex="-1">`) {
		t.Errorf("dialog HTML:\n%s", out)
	}
	for _, tc := range []struct {
		on   bool
		want string
	}{
		{false, `<input id="s" type="checkbox">`},
		{true, `<input checked id="s" type="checkbox">`},
	} {
		if out := HTML(app.Input().Type("checkbox").ID("s").Checked(tc.on)); !strings.Contains(out, tc.want) {
			t.Errorf("Checked(%v): %s, want %s", tc.on, out, tc.want)
		}
	}
}

func TestFocusableSelector(t *testing.T) {
	for _, want := range []string{"button:not([disabled])", "input:not([disabled])", "a[href]", `[tabindex]:not([tabindex="-1"])`} {
		if !strings.Contains(focusable, want) {
			t.Errorf("focusable selector %q lacks %s", focusable, want)
		}
	}
}
