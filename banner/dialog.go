package banner

import (
	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// focusable selects the elements Tab can reach inside a dialog.
const focusable = `button:not([disabled]), input:not([disabled]), a[href], summary, [tabindex]:not([tabindex="-1"])`

// dialog renders a modal dialog: an overlay holding an element with
// role="dialog", aria-modal and aria-labelledby titleID, a Close button, and
// content. Escape and the Close button call onClose; Tab and Shift+Tab cycle
// inside the dialog.
func dialog(id, titleID, closeLabel string, onClose func(app.Context), content ...app.UI) app.UI {
	close := func(ctx app.Context) {
		if onClose != nil {
			onClose(ctx)
		}
	}
	return app.Div().Class("pc-overlay").Body(
		app.Div().
			ID(id).
			Class("pc-dialog").
			Role("dialog").
			Aria("modal", "true").
			Aria("labelledby", titleID).
			TabIndex(-1).
			OnKeyDown(func(ctx app.Context, e app.Event) {
				switch e.Get("key").String() {
				case "Escape", "Esc":
					e.PreventDefault()
					close(ctx)
				case "Tab":
					trapTab(ctx.JSSrc(), e)
				}
			}).
			Body(
				app.Button().
					Type("button").
					ID(CloseID).
					Class("pc-close").
					Aria("label", closeLabel).
					Title(closeLabel).
					Text("×").
					OnClick(func(ctx app.Context, e app.Event) { close(ctx) }),
				app.Div().Class("pc-dialog-body").Body(content...),
			),
	)
}

// trapTab keeps keyboard focus inside the dialog element d: Tab on its last
// focusable element goes to the first, Shift+Tab on the first to the last.
func trapTab(d app.Value, e app.Event) {
	items := d.Call("querySelectorAll", focusable)
	n := items.Length()
	if n == 0 {
		e.PreventDefault()
		return
	}
	first, last := items.Index(0), items.Index(n-1)
	active := app.Window().Get("document").Get("activeElement")
	shift := e.Get("shiftKey").Bool()
	switch {
	case shift && (active.Equal(first) || active.Equal(d)):
		e.PreventDefault()
		last.Call("focus")
	case !shift && active.Equal(last):
		e.PreventDefault()
		first.Call("focus")
	}
}

// focusDialog moves keyboard focus to the dialog with the given id, unless
// focus is already inside it (moved there to the element of the server's
// dialog it had when the app took that dialog over: web/ui.js).
func focusDialog(ctx app.Context, id string) {
	ctx.Defer(func(app.Context) {
		d := app.Window().GetElementByID(id)
		if d.Truthy() && !d.Call("contains", app.Window().Get("document").Get("activeElement")).Bool() {
			d.Call("focus")
		}
	})
}
