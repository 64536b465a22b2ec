package app

import (
	"errors"
	"reflect"
	"testing"
	"time"
	"unsafe"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/portalconsent/portalconsent/policy"
)

// memJar is an in-memory Jar. Set fails with fail when it is not nil.
type memJar struct {
	values map[string]string
	days   map[string]int
	sets   int // calls to Set, failed ones included
	fail   error
}

var _ Jar = (*memJar)(nil)

func newJar() *memJar {
	return &memJar{values: map[string]string{}, days: map[string]int{}}
}

func (j *memJar) Get(name string) string { return j.values[name] }

func (j *memJar) Set(name, value string, lifetimeDays int) error {
	j.sets++
	if j.fail != nil {
		return j.fail
	}
	j.values[name] = value
	j.days[name] = lifetimeDays
	return nil
}

var errBlocked = errors.New("cookies blocked")

// now is the fixed clock of the tests.
var now = time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)

// mtran returns a fresh copy of the built-in MTRAN policy.
func mtran(t testing.TB) *policy.Policy {
	t.Helper()
	ps, err := policy.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.ID == "mtran" {
			return p
		}
	}
	t.Fatal("no built-in policy with id mtran")
	return nil
}

// stored returns the cookie value of a choice made at decided for p.
func stored(p *policy.Policy, decided time.Time, statistical bool) string {
	return policy.NewConsent(p, decided, func(string) bool { return statistical }).Encode()
}

// host is the test's top component: it renders the root and keeps the
// context go-app gives it (natively, through OnPreRender), so the test can
// dispatch work on the UI goroutine as a browser event would. Dispatching
// through it marks the host, hence the root, for a re-render, just as an
// event inside the root does in the browser.
type host struct {
	goapp.Compo
	root *Root
	ctx  goapp.Context
}

func (h *host) OnPreRender(ctx goapp.Context) { h.ctx = ctx }
func (h *host) Render() goapp.UI              { return h.root }

// load mounts r in a test engine and returns its host.
func load(t testing.TB, r *Root) (*host, goapp.TestEngine) {
	t.Helper()
	h := &host{root: r}
	e := goapp.NewTestEngine()
	if err := e.Load(h); err != nil {
		t.Fatalf("loading the root: %v", err)
	}
	e.ConsumeAll()
	if h.ctx.Context == nil {
		t.Fatal("go-app did not call OnPreRender: no context to dispatch with")
	}
	return h, e
}

// event runs fn on the UI goroutine, as a browser event handler would, then
// lets the engine update the tree.
func (h *host) event(e goapp.TestEngine, fn func(goapp.Context)) {
	h.ctx.Dispatch(fn)
	e.ConsumeAll()
}

// clickID clicks the element with the given id in the rendered tree.
func (h *host) clickID(t testing.TB, e goapp.TestEngine, id string) {
	t.Helper()
	fn := handler(t, byID(t, h, id), "click")
	h.event(e, func(ctx goapp.Context) { fn(ctx, goapp.Event{}) })
}

// The helpers below read the unexported fields of go-app's tree (as of
// v10.1.11: rootElement, children, attributes, eventHandlers, goHandler)
// through reflect and unsafe: go-app offers no public way to walk a rendered
// tree or to run an element's event handler outside a browser. They fail the
// test with a clear message if a go-app upgrade renames those fields.

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

func children(t testing.TB, ui goapp.UI) []goapp.UI {
	t.Helper()
	switch ui := ui.(type) {
	case goapp.Composer:
		root, _ := field(t, reflect.ValueOf(ui), "rootElement").Interface().(goapp.UI)
		if root == nil {
			t.Fatalf("%T is not mounted", ui)
		}
		return []goapp.UI{root}
	case goapp.HTML:
		kids, ok := field(t, reflect.ValueOf(ui), "children").Interface().([]goapp.UI)
		if !ok {
			t.Fatalf("go-app internals changed: children of %T are not []app.UI", ui)
		}
		return kids
	}
	return nil
}

func walk(t testing.TB, ui goapp.UI, fn func(goapp.UI)) {
	t.Helper()
	fn(ui)
	for _, c := range children(t, ui) {
		walk(t, c, fn)
	}
}

func attrs(t testing.TB, ui goapp.UI) map[string]string {
	t.Helper()
	out := map[string]string{}
	if _, ok := ui.(goapp.HTML); !ok {
		return out
	}
	it := field(t, reflect.ValueOf(ui), "attributes").MapRange()
	for it.Next() {
		out[it.Key().String()] = it.Value().String()
	}
	return out
}

// ids returns how many elements under root carry each id.
func ids(t testing.TB, root goapp.UI) map[string]int {
	t.Helper()
	out := map[string]int{}
	walk(t, root, func(ui goapp.UI) {
		if id := attrs(t, ui)["id"]; id != "" {
			out[id]++
		}
	})
	return out
}

func byID(t testing.TB, root goapp.UI, id string) goapp.HTML {
	t.Helper()
	var found []goapp.HTML
	walk(t, root, func(ui goapp.UI) {
		if h, ok := ui.(goapp.HTML); ok && attrs(t, h)["id"] == id {
			found = append(found, h)
		}
	})
	if len(found) != 1 {
		t.Fatalf("%d elements with id %q, want 1", len(found), id)
	}
	return found[0]
}

// find returns the components of type T under root.
func find[T goapp.Composer](t testing.TB, root goapp.UI) []T {
	t.Helper()
	var out []T
	walk(t, root, func(ui goapp.UI) {
		if c, ok := ui.(T); ok {
			out = append(out, c)
		}
	})
	return out
}

func handler(t testing.TB, ui goapp.UI, event string) goapp.EventHandler {
	t.Helper()
	ev := field(t, reflect.ValueOf(ui), "eventHandlers").MapIndex(reflect.ValueOf(event))
	if !ev.IsValid() {
		t.Fatalf("%T %v has no %s handler", ui, attrs(t, ui)["id"], event)
	}
	copied := reflect.New(ev.Type()).Elem() // map values are not addressable
	copied.Set(ev)
	h, ok := field(t, copied, "goHandler").Interface().(goapp.EventHandler)
	if !ok || h == nil {
		t.Fatalf("go-app internals changed: no Go handler for %s", event)
	}
	return h
}
