// Package banner holds the go-app components a visitor sees: the consent banner,
// the preferences dialog and the cookie policy (in a dialog or on a page).
//
// Components take their data as fields and report what the visitor does through
// callback fields; they read no cookie and keep no global state, so the same code
// renders natively on the server (app.HTMLString) and in the browser.
package banner

import (
	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/portalconsent/portalconsent/policy"
)

// Element ids the flow, the loader and the tests rely on.
const (
	AcceptID    = "pc-accept"
	RejectID    = "pc-reject"
	CustomizeID = "pc-customize"
	PolicyID    = "pc-policy"
	SaveID      = "pc-save"
	CloseID     = "pc-close"
	// GPCID is the banner's Global Privacy Control notice, PrefsGPCID the
	// preferences'.
	GPCID      = "pc-gpc"
	PrefsGPCID = "pc-prefs-gpc"
	// PrefsAcceptID and PrefsRejectID are the preferences' Accept all and
	// Reject all (the banner's may be in the document under the dialog).
	PrefsAcceptID = "pc-prefs-accept"
	PrefsRejectID = "pc-prefs-reject"
	// ManageID opens the preferences from the policy dialog.
	ManageID = "pc-manage"
	// ReloadID and NoticeCloseID are the reload notice's buttons.
	ReloadID      = "pc-reload"
	NoticeCloseID = "pc-notice-close"
)

// RootElement returns the element that holds everything the consent frame
// shows. mode ("hidden", "banner" or "modal") is carried in data-pc-mode, which
// the loader (web/embed.js) watches to size the frame; lang is the texts'
// language: a right-to-left one (policy.Dir) gets dir="rtl", any other tag
// (malformed or empty included) no dir, so left to right. The app's root
// component and the server's first-paint banner both render through it, so
// that the app's first render replaces the server's banner seamlessly.
func RootElement(mode, lang string, body ...app.UI) app.HTMLDiv {
	root := app.Div().Class("pc-root").DataSet("pc-mode", mode).Lang(lang)
	if dir := policy.Dir(lang); dir == "rtl" {
		root = root.Dir(dir)
	}
	return root.Body(body...)
}

// SwitchID returns the id of the switch of an optional category.
func SwitchID(category string) string { return "pc-switch-" + category }

// Banner is the first-visit banner: a short text, the Global Privacy Control
// notice, Accept all and Reject all as buttons of equal weight, Customize, and
// a button that opens the policy. A nil callback makes its button do nothing.
type Banner struct {
	app.Compo

	Texts policy.Texts
	// GPC shows the Global Privacy Control notice (#pc-gpc). Without it the
	// notice is still rendered, with the hidden attribute, so that the loader
	// can show the server's banner with it by removing that attribute.
	GPC         bool
	OnAcceptAll func(app.Context)
	OnRejectAll func(app.Context)
	OnCustomize func(app.Context)
	OnPolicy    func(app.Context)
}

// Render implements app.Composer.
func (b *Banner) Render() app.UI {
	t := b.Texts
	return app.Section().
		Class("pc-banner").
		Aria("labelledby", "pc-banner-title").
		Body(
			app.H2().ID("pc-banner-title").Class("pc-title").Text(t.BannerTitle),
			app.P().Class("pc-text").Text(t.BannerText),
			gpcNotice(GPCID, t.GPCNotice, b.GPC),
			app.Div().Class("pc-actions").Body(
				button(AcceptID, "pc-btn pc-primary", t.AcceptAll, b.OnAcceptAll),
				button(RejectID, "pc-btn pc-primary", t.RejectAll, b.OnRejectAll),
				button(CustomizeID, "pc-btn pc-secondary", t.Customize, b.OnCustomize),
				button(PolicyID, "pc-link", t.PolicyLink, b.OnPolicy),
			),
		)
}

// gpcNotice renders the GPC notice, hidden unless show. The hidden attribute
// is left out rather than set to false: app.HTMLString writes Hidden(false) as
// hidden="false", which hides the element all the same.
func gpcNotice(id, text string, show bool) app.UI {
	p := app.P().ID(id).Class("pc-gpc")
	if !show {
		p = p.Hidden(true)
	}
	return p.Text(text)
}

// button renders a <button type="button"> that calls fn (if not nil) on click.
func button(id, class, label string, fn func(app.Context)) app.HTMLButton {
	return app.Button().
		Type("button").
		ID(id).
		Class(class).
		Text(label).
		OnClick(func(ctx app.Context, e app.Event) {
			if fn != nil {
				fn(ctx)
			}
		})
}
