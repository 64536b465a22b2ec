package app

import (
	"errors"
	"testing"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/portalconsent/portalconsent/banner/uitest"
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
	fn := uitest.Handler(t, uitest.ByID(t, h, id), "click")
	h.event(e, func(ctx goapp.Context) { fn(ctx, goapp.Event{}) })
}

// ids returns how many elements under root carry each id.
func ids(t testing.TB, root goapp.UI) map[string]int {
	t.Helper()
	out := map[string]int{}
	uitest.Walk(t, root, func(ui goapp.UI) {
		if id := uitest.Attrs(t, ui)["id"]; id != "" {
			out[id]++
		}
	})
	return out
}

// find returns the components of type T under root.
func find[T goapp.Composer](t testing.TB, root goapp.UI) []T {
	t.Helper()
	var out []T
	uitest.Walk(t, root, func(ui goapp.UI) {
		if c, ok := ui.(T); ok {
			out = append(out, c)
		}
	})
	return out
}
