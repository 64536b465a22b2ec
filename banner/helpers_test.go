package banner

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/portalconsent/portalconsent/banner/uitest"
	"github.com/portalconsent/portalconsent/policy"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden.html files")

// mtran returns a fresh copy of the built-in MTRAN policy (each call parses
// the embedded files again, so a test may modify it).
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

// mount loads c in a go-app test engine and runs every pending dispatch, so
// that c and its nested components have a rendered tree app.Match can walk.
func mount(t testing.TB, c app.Composer) app.TestEngine {
	t.Helper()
	e := app.NewTestEngine()
	if err := e.Load(c); err != nil {
		t.Fatalf("loading %T: %v", c, err)
	}
	e.ConsumeAll()
	return e
}

// match is app.Match that fails the test with the path on a mismatch.
func match(t testing.TB, want, root app.UI, path ...int) {
	t.Helper()
	if err := app.Match(want, root, path...); err != nil {
		t.Errorf("at %v: %v", path, err)
	}
}

// hasID reports whether an element under root has the given id.
func hasID(t testing.TB, root app.UI, id string) bool {
	t.Helper()
	found := false
	uitest.Walk(t, root, func(ui app.UI) {
		if _, ok := ui.(app.HTML); ok && uitest.Attrs(t, ui)["id"] == id {
			found = true
		}
	})
	return found
}

// elements returns the HTML elements under root with the given tag whose
// attributes include every name=value pair of want.
func elements(t testing.TB, root app.UI, tag string, want map[string]string) []app.HTML {
	t.Helper()
	var out []app.HTML
	uitest.Walk(t, root, func(ui app.UI) {
		h, ok := ui.(app.HTML)
		if !ok || h.Tag() != tag {
			return
		}
		a := uitest.Attrs(t, h)
		for k, v := range want {
			if a[k] != v {
				return
			}
		}
		out = append(out, h)
	})
	return out
}

// click runs the click handler of the element with the given id under root,
// as the browser would on a click, with a zero context and event (the
// components under test pass the context through and ignore the event).
func click(t testing.TB, root app.UI, id string) {
	t.Helper()
	uitest.Handler(t, uitest.ByID(t, root, id), "click")(app.Context{}, app.Event{})
}

// render returns the normalized app.HTMLString of ui.
func render(ui app.UI) string { return HTML(ui) }

// golden compares the normalized HTML of ui with testdata/<name>.golden.html,
// or rewrites the file when the test runs with -update.
func golden(t *testing.T, name string, ui app.UI) {
	t.Helper()
	got := render(ui) + "\n"
	path := filepath.Join("testdata", name+".golden.html")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./banner -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("rendered HTML differs from %s (if the change is intended, run go test ./banner -update):\n%s",
			path, firstDiff(string(want), got))
	}
}

// firstDiff describes the first line where want and got differ.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\nwant: %s\n got: %s", i+1, wl, gl)
		}
	}
	return "(no difference)"
}

func TestNormalizeHTMLSortsAttributes(t *testing.T) {
	a := sortAttributes(`<div id="x" class="a b" hidden data-q="say \"hi\" >"><b>t &lt;i x=1&gt;</b></div>`)
	b := sortAttributes(`<div data-q="say \"hi\" >" hidden class="a b" id="x"><b>t &lt;i x=1&gt;</b></div>`)
	want := `<div class="a b" data-q="say \"hi\" >" hidden id="x"><b>t &lt;i x=1&gt;</b></div>`
	if a != want || b != want {
		t.Errorf("sortAttributes:\n got %s\n and %s\nwant %s", a, b, want)
	}
}

// TestRenderIsDeterministic renders each component many times: without the
// normalization the attribute order would differ from one run to the next.
func TestRenderIsDeterministic(t *testing.T) {
	p := mtran(t)
	for _, ui := range []app.UI{
		&Banner{Texts: p.Texts},
		&Banner{Texts: p.Texts, GPC: true},
		&ReloadNotice{Texts: p.Texts},
		&Preferences{Policy: p},
		&PolicyContent{Policy: p},
	} {
		first := render(ui)
		for i := 0; i < 20; i++ {
			if got := render(ui); got != first {
				t.Fatalf("%T renders differently on run %d:\n%s", ui, i, firstDiff(first, got))
			}
		}
	}
}
