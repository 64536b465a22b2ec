package banner

import (
	"maps"
	"strconv"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/portalconsent/portalconsent/policy"
)

// PreferencesDialogID is the id of the preferences dialog element.
const PreferencesDialogID = "pc-preferences"

// ConsentIDID is the id of the preferences' line that shows the consent id.
const ConsentIDID = "pc-consent-id"

// Preferences is the dialog where a visitor chooses category by category: one
// switch per optional category, on only when Accepted says so; required
// categories are shown locked on. Each category lists its cookies (the
// policy's rows of that category, trackers' included) in a disclosure folded
// by default. Accept all (#pc-prefs-accept) and Reject all
// (#pc-prefs-reject), of equal weight as on the banner, call OnAcceptAll and
// OnRejectAll; Save my choices reports the choice of every optional category;
// Close (and Escape) discard the changes. A nil callback makes its button do
// nothing.
type Preferences struct {
	app.Compo

	Policy *policy.Policy
	// Accepted holds the current choice; a missing category is off.
	Accepted map[string]bool
	// Draft, when set, holds switches already turned before the dialog
	// mounts (the server's dialog the visitor used before the app ran):
	// they start as Draft says, the others as Accepted.
	Draft map[string]bool
	// ConsentID is the id of the stored choice, "" before a choice: the
	// dialog shows it for the visitor to quote (Texts.ConsentID).
	ConsentID string
	// GPC shows the Global Privacy Control notice, as on the banner.
	GPC         bool
	OnAcceptAll func(app.Context)
	OnRejectAll func(app.Context)
	OnSave      func(ctx app.Context, accepted map[string]bool)
	OnClose     func(app.Context)

	draft map[string]bool
	// base is the Accepted the draft was copied from.
	base map[string]bool
}

// OnMount implements app.Mounter: it copies the current choice (and, the
// first time, Draft) into the draft and moves focus into the dialog (unless
// it is there).
func (p *Preferences) OnMount(ctx app.Context) {
	if p.draft == nil || !maps.Equal(p.Accepted, p.base) {
		p.reset()
	}
	focusDialog(ctx, PreferencesDialogID)
}

// OnUpdate implements app.Updater: a new current choice replaces the draft.
// go-app calls it whenever the parent re-renders, which every event in the
// dialog causes (callback fields never compare equal), so the draft is kept
// unless Accepted itself changed.
func (p *Preferences) OnUpdate(ctx app.Context) {
	if !maps.Equal(p.Accepted, p.base) {
		p.reset()
	}
}

func (p *Preferences) reset() {
	first := p.draft == nil
	p.draft = map[string]bool{}
	p.base = map[string]bool{}
	for k, v := range p.Accepted {
		p.draft[k] = v
		p.base[k] = v
	}
	// Draft holds at the start only (go-app may call OnUpdate before
	// OnMount, which then keeps the draft): a new current choice later
	// replaces it.
	for k, v := range p.Draft {
		if first {
			p.draft[k] = v
		}
	}
}

func (p *Preferences) isOn(category string) bool {
	if p.draft == nil {
		if v, ok := p.Draft[category]; ok {
			return v
		}
		return p.Accepted[category]
	}
	return p.draft[category]
}

// Render implements app.Composer.
func (p *Preferences) Render() app.UI {
	if p.Policy == nil {
		return app.Div()
	}
	t := p.Policy.Texts
	// The consent id in a <code> of its own: selected whole by a double
	// click (and a single one, through the stylesheet), read as one word.
	// (Built without app.If: 1 KB less wasm.)
	var consentID app.UI
	if p.ConsentID != "" {
		consentID = app.P().ID(ConsentIDID).Class("pc-consent-id").Body(
			app.Text(t.ConsentID+" "),
			app.Code().Text(p.ConsentID),
		)
	}
	rows := make([]app.UI, 0, len(p.Policy.Categories))
	for _, c := range p.Policy.Categories {
		rows = append(rows, p.category(c, t))
	}
	return dialog(PreferencesDialogID, "pc-preferences-title", t.Close, p.OnClose,
		app.H2().ID("pc-preferences-title").Class("pc-title").Text(t.PreferencesTitle),
		app.P().Class("pc-text").Text(t.PreferencesText),
		app.If(p.GPC, func() app.UI { return gpcNotice(PrefsGPCID, t.GPCNotice, true) }),
		app.Ul().Class("pc-categories").Body(rows...),
		app.Div().Class("pc-actions").Body(
			button(PrefsAcceptID, "pc-btn pc-primary", t.AcceptAll, p.OnAcceptAll),
			button(PrefsRejectID, "pc-btn pc-primary", t.RejectAll, p.OnRejectAll),
			button(SaveID, "pc-btn pc-secondary", t.Save, func(ctx app.Context) {
				if p.OnSave == nil {
					return
				}
				out := map[string]bool{}
				for _, c := range p.Policy.Optional() {
					out[c.ID] = p.isOn(c.ID)
				}
				p.OnSave(ctx, out)
			}),
		),
		consentID,
	)
}

func (p *Preferences) category(c policy.Category, t policy.Texts) app.UI {
	id := SwitchID(c.ID)
	input := app.Input().
		Type("checkbox").
		ID(id).
		Class("pc-switch").
		Role("switch").
		Aria("describedby", id+"-desc")
	if c.Required {
		input = input.Checked(true).Disabled(true)
	} else {
		cat := c.ID
		input = input.Checked(p.isOn(cat)).OnChange(func(ctx app.Context, e app.Event) {
			if p.draft == nil {
				p.reset()
			}
			p.draft[cat] = ctx.JSSrc().Get("checked").Bool()
		})
	}
	return app.Li().Class("pc-category").Body(
		app.Div().Class("pc-category-head").Body(
			input,
			app.Label().For(id).Class("pc-category-name").Text(c.Name),
			app.If(c.Required, func() app.UI {
				return app.Span().Class("pc-always").Text(t.AlwaysOn)
			}),
		),
		app.P().ID(id+"-desc").Class("pc-category-desc").Text(c.Description),
		cookieList(p.Policy, c),
	)
}

// CookiesID returns the id of the disclosure that lists a category's cookies.
func CookiesID(category string) string { return "pc-cookies-of-" + category }

// cookieList renders the cookies of category c (the policy's rows of that
// category, in table order) in a disclosure folded by default: a <details>
// whose <summary> says how many rows it holds, each row a description list of
// its names, provider, purpose and duration. A category with no row renders
// nothing.
func cookieList(p *policy.Policy, c policy.Category) app.UI {
	t := p.Texts
	var items []app.UI
	for _, ck := range p.Cookies {
		if ck.Category != c.ID {
			continue
		}
		items = append(items, app.Li().Class("pc-cookie").Body(
			app.Dl().Body(
				app.Dt().Text(t.Columns.Names),
				app.Dd().Class("pc-cookie-names").Body(cookieNames(t, ck)...),
				app.Dt().Text(t.Columns.Provider),
				app.Dd().Text(ck.Provider),
				app.Dt().Text(t.Columns.Purpose),
				app.Dd().Text(ck.Purpose),
				app.Dt().Text(t.Columns.Duration),
				app.Dd().Text(ck.Duration),
			),
		))
	}
	if len(items) == 0 {
		return nil
	}
	return app.Details().ID(CookiesID(c.ID)).Class("pc-details").Body(
		app.Summary().Class("pc-summary").Text(t.CategoryCookies+" ("+strconv.Itoa(len(items))+")"),
		app.Ul().Class("pc-cookie-list").Body(items...),
	)
}
