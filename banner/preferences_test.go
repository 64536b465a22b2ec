package banner

import (
	"maps"
	"strings"
	"testing"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/portalconsent/portalconsent/banner/uitest"
	"github.com/portalconsent/portalconsent/policy"
)

// Paths in a mounted Preferences: its root is the dialog's overlay.
var (
	prefDialog  = []int{0, 0}
	prefClose   = []int{0, 0, 0}
	prefTitle   = []int{0, 0, 1, 0}
	prefText    = []int{0, 0, 1, 1}
	prefList    = []int{0, 0, 1, 2}
	prefActions = []int{0, 0, 1, 3}
)

func at(base []int, rest ...int) []int {
	return append(append([]int(nil), base...), rest...)
}

func TestPreferencesOneSwitchPerCategory(t *testing.T) {
	p := mtran(t)
	prefs := &Preferences{Policy: p}
	mount(t, prefs)

	switches := elements(t, prefs, "input", map[string]string{"type": "checkbox", "role": "switch"})
	if len(switches) != len(p.Categories) {
		t.Fatalf("%d switches for %d categories", len(switches), len(p.Categories))
	}
	for i, c := range p.Categories {
		id := SwitchID(c.ID)
		if got := uitest.Attrs(t, switches[i])["id"]; got != id {
			t.Errorf("switch %d has id %q, want %q", i, got, id)
		}
		li := at(prefList, i)
		match(t, app.Li().Class("pc-category"), prefs, li...)
		match(t, app.Label().For(id).Class("pc-category-name"), prefs, at(li, 0, 1)...)
		match(t, app.Text(c.Name), prefs, at(li, 0, 1, 0)...)
		// The switch is described by the category's description.
		match(t, app.P().ID(id+"-desc").Class("pc-category-desc"), prefs, at(li, 1)...)
		match(t, app.Text(c.Description), prefs, at(li, 1, 0)...)
	}
}

func TestPreferencesNecessaryIsLockedOn(t *testing.T) {
	p := mtran(t)
	prefs := &Preferences{Policy: p}
	mount(t, prefs)

	if p.Categories[0].ID != policy.Necessary || !p.Categories[0].Required {
		t.Fatalf("the first category of the MTRAN policy is %+v, want the required necessary one", p.Categories[0])
	}
	id := SwitchID(policy.Necessary)
	head := at(prefList, 0, 0)
	// Checked and disabled, with no change handler.
	match(t, app.Input().
		Type("checkbox").ID(id).Class("pc-switch").Role("switch").
		Aria("describedby", id+"-desc").
		Checked(true).Disabled(true),
		prefs, at(head, 0)...)
	if p.Texts.AlwaysOn != "Always on" {
		t.Errorf("alwaysOn text is %q, want %q", p.Texts.AlwaysOn, "Always on")
	}
	match(t, app.Span().Class("pc-always"), prefs, at(head, 2)...)
	match(t, app.Text("Always on"), prefs, at(head, 2, 0)...)
}

func TestPreferencesOptionalSwitchFollowsAccepted(t *testing.T) {
	for _, tc := range []struct {
		name     string
		accepted map[string]bool
		on       bool
	}{
		{"nil", nil, false},
		{"missing", map[string]bool{"other": true}, false},
		{"refused", map[string]bool{policy.Statistical: false}, false},
		{"accepted", map[string]bool{policy.Statistical: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mtran(t)
			prefs := &Preferences{Policy: p, Accepted: tc.accepted}
			mount(t, prefs)

			id := SwitchID(policy.Statistical)
			head := at(prefList, 1, 0)
			// go-app stores Checked(false) as checked="false"; it is not disabled,
			// and it has a change handler.
			match(t, app.Input().
				Type("checkbox").ID(id).Class("pc-switch").Role("switch").
				Aria("describedby", id+"-desc").
				Checked(tc.on).OnChange(noop),
				prefs, at(head, 0)...)
			if err := app.Match(app.Span(), prefs, at(head, 2)...); err == nil {
				t.Error(`the optional category is marked "Always on"`)
			}
			if got := prefs.isOn(policy.Statistical); got != tc.on {
				t.Errorf("isOn(statistical) = %v, want %v", got, tc.on)
			}
		})
	}
}

func TestPreferencesIsAModalDialog(t *testing.T) {
	p := mtran(t)
	prefs := &Preferences{Policy: p}
	mount(t, prefs)

	match(t, app.Div().Class("pc-overlay"), prefs, 0)
	match(t, app.Div().
		ID(PreferencesDialogID).Class("pc-dialog").
		Role("dialog").Aria("modal", "true").Aria("labelledby", "pc-preferences-title").
		TabIndex(-1).OnKeyDown(noop),
		prefs, prefDialog...)
	// aria-labelledby points to the title.
	title := uitest.ByID(t, prefs, uitest.Attrs(t, uitest.ByID(t, prefs, PreferencesDialogID))["aria-labelledby"])
	if title.Tag() != "h2" {
		t.Errorf("the dialog is labelled by a <%s>, want the <h2> title", title.Tag())
	}
	match(t, app.H2().ID("pc-preferences-title").Class("pc-title"), prefs, prefTitle...)
	match(t, app.Text(p.Texts.PreferencesTitle), prefs, at(prefTitle, 0)...)
	match(t, app.P().Class("pc-text"), prefs, prefText...)
	match(t, app.Text(p.Texts.PreferencesText), prefs, at(prefText, 0)...)

	match(t, app.Button().
		Type("button").ID(CloseID).Class("pc-close").
		Aria("label", p.Texts.Close).Title(p.Texts.Close).OnClick(noop),
		prefs, prefClose...)
	match(t, app.Button().Type("button").ID(SaveID).Class("pc-btn pc-primary").OnClick(noop),
		prefs, at(prefActions, 0)...)
	match(t, app.Text(p.Texts.Save), prefs, at(prefActions, 0, 0)...)
}

func TestPreferencesSaveReportsTheDraftOfOptionalCategories(t *testing.T) {
	for _, tc := range []struct {
		name     string
		accepted map[string]bool
		draft    map[string]bool
		want     map[string]bool
	}{
		{"draft on", nil, map[string]bool{policy.Statistical: true}, map[string]bool{policy.Statistical: true}},
		{"draft off", map[string]bool{policy.Statistical: true}, map[string]bool{policy.Statistical: false}, map[string]bool{policy.Statistical: false}},
		{"empty draft", map[string]bool{policy.Statistical: true}, map[string]bool{}, map[string]bool{policy.Statistical: false}},
		// Only optional categories are reported: not necessary, not unknown ids.
		{"extra keys", nil, map[string]bool{policy.Necessary: false, "ads": true, policy.Statistical: true}, map[string]bool{policy.Statistical: true}},
		// Before OnMount (as on the server) there is no draft: Accepted counts.
		{"no draft", map[string]bool{policy.Statistical: true}, nil, map[string]bool{policy.Statistical: true}},
		{"no draft, nothing accepted", nil, nil, map[string]bool{policy.Statistical: false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []map[string]bool
			prefs := &Preferences{
				Policy:   mtran(t),
				Accepted: tc.accepted,
				OnSave:   func(_ app.Context, m map[string]bool) { got = append(got, m) },
				OnClose:  func(app.Context) { t.Error("Save called OnClose") },
			}
			mount(t, prefs)
			prefs.draft = tc.draft
			click(t, prefs, SaveID)
			if len(got) != 1 {
				t.Fatalf("OnSave called %d times, want 1", len(got))
			}
			if !maps.Equal(got[0], tc.want) {
				t.Errorf("OnSave got %v, want %v", got[0], tc.want)
			}
		})
	}
}

func TestPreferencesSaveReportsEveryOptionalCategory(t *testing.T) {
	p := mtran(t)
	p.Categories = append(p.Categories,
		policy.Category{ID: "marketing", Name: "Marketing", Description: "Ads."},
		policy.Category{ID: "support", Name: "Support", Description: "Chat.", Required: true},
	)
	var got map[string]bool
	prefs := &Preferences{Policy: p, OnSave: func(_ app.Context, m map[string]bool) { got = m }}
	mount(t, prefs)
	prefs.draft = map[string]bool{"marketing": true}
	click(t, prefs, SaveID)
	want := map[string]bool{policy.Statistical: false, "marketing": true}
	if !maps.Equal(got, want) {
		t.Errorf("OnSave got %v, want %v", got, want)
	}
	if n := len(elements(t, prefs, "input", map[string]string{"disabled": "true"})); n != 2 {
		t.Errorf("%d locked switches, want 2 (necessary and support)", n)
	}
}

func TestPreferencesCloseCallsOnClose(t *testing.T) {
	closed := 0
	prefs := &Preferences{
		Policy:  mtran(t),
		OnSave:  func(app.Context, map[string]bool) { t.Error("Close called OnSave") },
		OnClose: func(app.Context) { closed++ },
	}
	mount(t, prefs)
	click(t, prefs, CloseID)
	if closed != 1 {
		t.Errorf("OnClose called %d times, want 1", closed)
	}
}

func TestPreferencesNilCallbacksDoNothing(t *testing.T) {
	prefs := &Preferences{Policy: mtran(t)}
	mount(t, prefs)
	click(t, prefs, SaveID)
	click(t, prefs, CloseID)
}

func TestPreferencesDraftIsACopy(t *testing.T) {
	accepted := map[string]bool{policy.Statistical: true}
	prefs := &Preferences{Policy: mtran(t), Accepted: accepted}
	prefs.reset()
	prefs.draft[policy.Statistical] = false
	if !accepted[policy.Statistical] {
		t.Error("changing the draft changed the caller's Accepted map")
	}
	if prefs.isOn(policy.Statistical) {
		t.Error("isOn reads Accepted instead of the draft")
	}
}

// The parent re-renders on every event in the dialog, and go-app then calls
// OnUpdate (callback fields never compare equal): a toggled switch must
// survive that, while a new Accepted must replace the draft.
func TestPreferencesOnUpdateKeepsTheDraftUnlessAcceptedChanges(t *testing.T) {
	prefs := &Preferences{Policy: mtran(t), Accepted: map[string]bool{policy.Statistical: true}}
	prefs.reset() // OnMount, in the browser
	prefs.draft[policy.Statistical] = false

	prefs.Accepted = map[string]bool{policy.Statistical: true} // same choice, new map
	prefs.OnUpdate(app.Context{})
	if prefs.isOn(policy.Statistical) {
		t.Error("a re-render with the same Accepted discarded the visitor's toggle")
	}

	prefs.Accepted = map[string]bool{policy.Statistical: false}
	prefs.draft[policy.Statistical] = true
	prefs.OnUpdate(app.Context{})
	if prefs.isOn(policy.Statistical) {
		t.Error("a new Accepted did not replace the draft")
	}

	// Without a draft (OnMount never ran), OnUpdate starts one from Accepted.
	fresh := &Preferences{Policy: mtran(t), Accepted: map[string]bool{policy.Statistical: true}}
	fresh.OnUpdate(app.Context{})
	if fresh.draft == nil || !fresh.isOn(policy.Statistical) {
		t.Errorf("draft after OnUpdate = %v, want statistical on", fresh.draft)
	}
}

func TestPreferencesNilPolicyRendersAnEmptyDiv(t *testing.T) {
	prefs := &Preferences{}
	mount(t, prefs)
	match(t, app.Div(), prefs, 0)
	if n := len(uitest.Children(t, uitest.Children(t, prefs)[0])); n != 0 {
		t.Errorf("the empty div has %d children", n)
	}
}

func TestPreferencesHTMLString(t *testing.T) {
	p := mtran(t)
	html := render(&Preferences{Policy: p})
	for _, want := range []string{
		`aria-labelledby="pc-preferences-title"`,
		`<h2 class="pc-title" id="pc-preferences-title">`,
		`<button aria-label="Close" class="pc-close" id="pc-close" title="Close" type="button">`,
		`<span class="pc-always">Always on</span>`,
		`<button class="pc-btn pc-primary" id="pc-save" type="button">`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("preferences HTML lacks %s\n%s", want, html)
		}
	}
}

func TestPreferencesGolden(t *testing.T) {
	golden(t, "preferences", &Preferences{Policy: mtran(t)})
}

// testConsentID is a consent id as policy.NewConsent makes them.
const testConsentID = "q8B3x0aPq1V2LmN7rT4sYw"

// A visitor who has chosen reads their consent id in the preferences, after
// the Save button, in a <code> of its own; before a choice there is none.
func TestPreferencesConsentID(t *testing.T) {
	p := mtran(t)
	fr, ok := mtran(t).In("fr")
	if !ok {
		t.Fatal("the MTRAN policy has no French")
	}
	for _, tc := range []struct {
		name string
		p    *policy.Policy
		want string
	}{
		{"en", p, "Your consent ID: "},
		{"fr", fr, "Votre identifiant de consentement\u00a0: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefs := &Preferences{Policy: tc.p, ConsentID: testConsentID}
			mount(t, prefs)
			line := at(prefDialog, 1, 4)
			match(t, app.P().ID(ConsentIDID).Class("pc-consent-id"), prefs, line...)
			match(t, app.Text(tc.p.Texts.ConsentID+" "), prefs, at(line, 0)...)
			match(t, app.Code(), prefs, at(line, 1)...)
			match(t, app.Text(testConsentID), prefs, at(line, 1, 0)...)
			html := render(prefs)
			for _, want := range []string{
				`<p class="pc-consent-id" id="pc-consent-id">`,
				" " + tc.want + "\n",
				`<code>` + testConsentID + `</code>`,
			} {
				if !strings.Contains(html, want) {
					t.Errorf("preferences HTML lacks %q:\n%s", want, html)
				}
			}

			none := &Preferences{Policy: tc.p}
			mount(t, none)
			if hasID(t, none, ConsentIDID) || strings.Contains(render(none), "pc-consent-id") {
				t.Error("the consent id line shows without a choice")
			}
		})
	}
	if got := fr.Texts.ConsentID; got != "Votre identifiant de consentement\u00a0:" {
		t.Errorf("French consentId %q", got)
	}
}

func TestPreferencesWithConsentIDGolden(t *testing.T) {
	golden(t, "preferences_consent_id", &Preferences{Policy: mtran(t), ConsentID: testConsentID})
}
