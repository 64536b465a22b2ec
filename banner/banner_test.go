package banner

import (
	"strings"
	"testing"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/portalconsent/portalconsent/banner/uitest"
)

func noop(app.Context, app.Event) {}

func TestBannerStructure(t *testing.T) {
	texts := mtran(t).Texts
	b := &Banner{Texts: texts}
	mount(t, b)

	// A section labelled by the banner title, holding the title, the text, the
	// (hidden) GPC notice and the actions.
	match(t, app.Section().Class("pc-banner").Aria("labelledby", "pc-banner-title"), b, 0)
	match(t, app.H2().ID("pc-banner-title").Class("pc-title"), b, 0, 0)
	match(t, app.Text(texts.BannerTitle), b, 0, 0, 0)
	match(t, app.P().Class("pc-text"), b, 0, 1)
	match(t, app.Text(texts.BannerText), b, 0, 1, 0)
	match(t, app.P().ID(GPCID).Class("pc-gpc").Hidden(true), b, 0, 2)
	match(t, app.Text(texts.GPCNotice), b, 0, 2, 0)
	match(t, app.Div().Class("pc-actions"), b, 0, 3)

	// Four <button type="button">, in this order, each with a click handler.
	buttons := []struct{ id, class, label string }{
		{AcceptID, "pc-btn pc-primary", texts.AcceptAll},
		{RejectID, "pc-btn pc-primary", texts.RejectAll},
		{CustomizeID, "pc-btn pc-secondary", texts.Customize},
		{PolicyID, "pc-link", texts.PolicyLink},
	}
	for i, want := range buttons {
		if want.label == "" {
			t.Errorf("the default texts have no label for %s", want.id)
		}
		match(t, app.Button().Type("button").ID(want.id).Class(want.class).OnClick(noop), b, 0, 3, i)
		match(t, app.Text(want.label), b, 0, 3, i, 0)
	}
	if err := app.Match(app.Button(), b, 0, 3, len(buttons)); err == nil {
		t.Errorf("the banner has more than %d buttons", len(buttons))
	}
	if n := len(elements(t, b, "button", nil)); n != len(buttons) {
		t.Errorf("%d buttons in the banner, want %d", n, len(buttons))
	}
	if n := len(elements(t, b, "button", map[string]string{"type": "button"})); n != len(buttons) {
		t.Errorf("%d buttons of type button, want %d (a submit button would post the portal's forms)", n, len(buttons))
	}
}

// Accept all and Reject all must carry equal weight: same element, same class.
func TestBannerAcceptAndRejectHaveEqualWeight(t *testing.T) {
	b := &Banner{Texts: mtran(t).Texts}
	mount(t, b)
	accept, reject := uitest.Attrs(t, uitest.ByID(t, b, AcceptID)), uitest.Attrs(t, uitest.ByID(t, b, RejectID))
	if accept["class"] == "" || accept["class"] != reject["class"] {
		t.Errorf("Accept all has class %q, Reject all %q: want the same", accept["class"], reject["class"])
	}
	delete(accept, "id")
	delete(reject, "id")
	if len(accept) != len(reject) {
		t.Errorf("Accept all has attributes %v, Reject all %v", accept, reject)
	}
}

func TestBannerButtonsCallTheirCallback(t *testing.T) {
	ids := []string{AcceptID, RejectID, CustomizeID, PolicyID}
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			calls := map[string]int{}
			cb := func(name string) func(app.Context) {
				return func(app.Context) { calls[name]++ }
			}
			b := &Banner{
				Texts:       mtran(t).Texts,
				OnAcceptAll: cb(AcceptID),
				OnRejectAll: cb(RejectID),
				OnCustomize: cb(CustomizeID),
				OnPolicy:    cb(PolicyID),
			}
			mount(t, b)
			click(t, b, id)
			if len(calls) != 1 || calls[id] != 1 {
				t.Errorf("clicking %s made the calls %v, want only its own callback, once", id, calls)
			}
		})
	}
}

func TestBannerNilCallbacksDoNothing(t *testing.T) {
	b := &Banner{Texts: mtran(t).Texts}
	mount(t, b)
	for _, id := range []string{AcceptID, RejectID, CustomizeID, PolicyID} {
		click(t, b, id) // must not panic
	}
}

func TestBannerHTMLString(t *testing.T) {
	texts := mtran(t).Texts
	html := render(&Banner{Texts: texts})
	for _, want := range []string{
		`<section aria-labelledby="pc-banner-title" class="pc-banner">`,
		`<button class="pc-btn pc-primary" id="pc-accept" type="button">` + texts.AcceptAll + `</button>`,
		`<button class="pc-btn pc-primary" id="pc-reject" type="button">` + texts.RejectAll + `</button>`,
		`<button class="pc-btn pc-secondary" id="pc-customize" type="button">` + texts.Customize + `</button>`,
		`<button class="pc-link" id="pc-policy" type="button">` + texts.PolicyLink + `</button>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("banner HTML lacks %s\n%s", want, html)
		}
	}
}

func TestBannerGolden(t *testing.T) {
	golden(t, "banner", &Banner{Texts: mtran(t).Texts})
}

// With GPC the notice shows: no hidden attribute at all (app.HTMLString would
// write Hidden(false) as hidden="false", which hides it too).
func TestBannerGPCNoticeShows(t *testing.T) {
	texts := mtran(t).Texts
	b := &Banner{Texts: texts, GPC: true}
	mount(t, b)
	match(t, app.P().ID(GPCID).Class("pc-gpc"), b, 0, 2)
	match(t, app.Text(texts.GPCNotice), b, 0, 2, 0)
	if a := uitest.Attrs(t, uitest.ByID(t, b, GPCID)); len(a) != 2 {
		t.Errorf("GPC notice attributes %v, want only id and class", a)
	}
	html := render(b)
	if want := `<p class="pc-gpc" id="pc-gpc">` + strings.ReplaceAll(texts.GPCNotice, "'", "&#39;") + `</p>`; !strings.Contains(html, want) {
		t.Errorf("banner HTML lacks %s\n%s", want, html)
	}
	if strings.Contains(html, "hidden") {
		t.Errorf("banner HTML with GPC has a hidden attribute:\n%s", html)
	}
}

// The server renders the banner without GPC; the loader then removes the
// notice's hidden attribute when the browser sends GPC. The result must be
// exactly what the app renders with GPC, or the takeover would show.
func TestBannerGPCIsTheServerBannerUnhidden(t *testing.T) {
	texts := mtran(t).Texts
	hidden, shown := render(&Banner{Texts: texts}), render(&Banner{Texts: texts, GPC: true})
	const tag = `<p class="pc-gpc" hidden id="pc-gpc">`
	if strings.Count(hidden, tag) != 1 || strings.Count(hidden, " hidden") != 1 {
		t.Fatalf("server banner lacks %s once, or hides something else:\n%s", tag, hidden)
	}
	if got := strings.Replace(hidden, tag, `<p class="pc-gpc" id="pc-gpc">`, 1); got != shown {
		t.Errorf("unhidden server banner differs from the GPC banner:\n%s", firstDiff(shown, got))
	}
}
