package banner

import (
	"strings"
	"testing"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

func TestReloadNoticeStructure(t *testing.T) {
	texts := mtran(t).Texts
	n := &ReloadNotice{Texts: texts}
	mount(t, n)

	// A region laid out like the banner, labelled by its text.
	match(t, app.Section().Class("pc-banner pc-notice").Aria("labelledby", NoticeTextID), n, 0)
	match(t, app.P().ID(NoticeTextID).Class("pc-text"), n, 0, 0)
	match(t, app.Text(texts.ReloadText), n, 0, 0, 0)
	match(t, app.Div().Class("pc-actions"), n, 0, 1)
	buttons := []struct{ id, class, label string }{
		{ReloadID, "pc-btn pc-primary", texts.Reload},
		{NoticeCloseID, "pc-btn pc-secondary", texts.Close},
	}
	for i, want := range buttons {
		if want.label == "" {
			t.Errorf("the default texts have no label for %s", want.id)
		}
		match(t, app.Button().Type("button").ID(want.id).Class(want.class).OnClick(noop), n, 0, 1, i)
		match(t, app.Text(want.label), n, 0, 1, i, 0)
	}
	if got := len(elements(t, n, "button", map[string]string{"type": "button"})); got != len(buttons) {
		t.Errorf("%d buttons of type button, want %d", got, len(buttons))
	}
	if hasID(t, n, GPCID) || hasID(t, n, "pc-banner-title") {
		t.Error("the reload notice carries ids of the banner")
	}
}

func TestReloadNoticeButtonsCallTheirCallback(t *testing.T) {
	for _, id := range []string{ReloadID, NoticeCloseID} {
		t.Run(id, func(t *testing.T) {
			calls := map[string]int{}
			cb := func(name string) func(app.Context) {
				return func(app.Context) { calls[name]++ }
			}
			n := &ReloadNotice{Texts: mtran(t).Texts, OnReload: cb(ReloadID), OnClose: cb(NoticeCloseID)}
			mount(t, n)
			click(t, n, id)
			if len(calls) != 1 || calls[id] != 1 {
				t.Errorf("clicking %s made the calls %v, want only its own callback, once", id, calls)
			}
		})
	}
	n := &ReloadNotice{Texts: mtran(t).Texts}
	mount(t, n)
	click(t, n, ReloadID) // nil callbacks: nothing happens
	click(t, n, NoticeCloseID)
}

func TestReloadNoticeHTMLString(t *testing.T) {
	texts := mtran(t).Texts
	html := render(&ReloadNotice{Texts: texts})
	for _, want := range []string{
		`<section aria-labelledby="pc-notice-text" class="pc-banner pc-notice">`,
		`<p class="pc-text" id="pc-notice-text">` + texts.ReloadText + `</p>`,
		`<button class="pc-btn pc-primary" id="pc-reload" type="button">` + texts.Reload + `</button>`,
		`<button class="pc-btn pc-secondary" id="pc-notice-close" type="button">` + texts.Close + `</button>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("notice HTML lacks %s\n%s", want, html)
		}
	}
}

func TestReloadNoticeGolden(t *testing.T) {
	golden(t, "reload_notice", &ReloadNotice{Texts: mtran(t).Texts})
}
