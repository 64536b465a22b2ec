// Package uitest holds test helpers that read go-app v10.1.11's unexported
// tree fields — rootElement, children, attributes, eventHandlers, goHandler —
// through reflect and unsafe, because go-app offers no public way to walk a
// rendered tree or to run an element's event handler outside a browser
// (app.Match only compares one element at a known path). They fail the test
// with a clear message if a go-app upgrade renames those fields.
//
// It imports nothing from this module, so the tests of any package, banner
// included, can use it.
package uitest

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// field returns the named field of the struct v points to (or is, when v is
// addressable), readable and callable even when unexported.
func field(t testing.TB, v reflect.Value, name string) reflect.Value {
	t.Helper()
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct || !v.CanAddr() {
		t.Fatalf("go-app internals changed: %s is not an addressable struct", v.Type())
	}
	f := v.FieldByName(name)
	if !f.IsValid() {
		t.Fatalf("go-app internals changed: %s has no field %s", v.Type(), name)
	}
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
}

// Children returns the rendered children of ui: the root of a mounted
// component, the body of an HTML element, nothing for text.
func Children(t testing.TB, ui app.UI) []app.UI {
	t.Helper()
	switch ui := ui.(type) {
	case app.Composer:
		root, _ := field(t, reflect.ValueOf(ui), "rootElement").Interface().(app.UI)
		if root == nil {
			t.Fatalf("%T is not mounted: load it in app.NewTestEngine first", ui)
		}
		return []app.UI{root}
	case app.HTML:
		kids, ok := field(t, reflect.ValueOf(ui), "children").Interface().([]app.UI)
		if !ok {
			t.Fatalf("go-app internals changed: children of %T are not []app.UI", ui)
		}
		return kids
	}
	return nil
}

// Walk calls fn on ui and every element under it, depth first, in order.
func Walk(t testing.TB, ui app.UI, fn func(app.UI)) {
	t.Helper()
	fn(ui)
	for _, c := range Children(t, ui) {
		Walk(t, c, fn)
	}
}

// Attrs returns the attributes of an HTML element as go-app stores them
// (booleans as "true"/"false"), and an empty map for anything else.
func Attrs(t testing.TB, ui app.UI) map[string]string {
	t.Helper()
	out := map[string]string{}
	if _, ok := ui.(app.HTML); !ok {
		return out
	}
	it := field(t, reflect.ValueOf(ui), "attributes").MapRange()
	for it.Next() {
		out[it.Key().String()] = it.Value().String()
	}
	return out
}

// ByID returns the element with the given id under root, failing the test
// when there is none or more than one.
func ByID(t testing.TB, root app.UI, id string) app.HTML {
	t.Helper()
	var found []app.HTML
	Walk(t, root, func(ui app.UI) {
		if h, ok := ui.(app.HTML); ok && Attrs(t, h)["id"] == id {
			found = append(found, h)
		}
	})
	if len(found) != 1 {
		t.Fatalf("%d elements with id %q, want 1", len(found), id)
	}
	return found[0]
}

// Handler returns the Go handler of event (e.g. "click") set on an element.
func Handler(t testing.TB, ui app.UI, event string) app.EventHandler {
	t.Helper()
	ev := field(t, reflect.ValueOf(ui), "eventHandlers").MapIndex(reflect.ValueOf(event))
	if !ev.IsValid() {
		t.Fatalf("%T %v has no %s handler", ui, Attrs(t, ui)["id"], event)
	}
	copied := reflect.New(ev.Type()).Elem() // map values are not addressable
	copied.Set(ev)
	h, ok := field(t, copied, "goHandler").Interface().(app.EventHandler)
	if !ok || h == nil {
		t.Fatalf("go-app internals changed: no Go handler for %s", event)
	}
	return h
}
