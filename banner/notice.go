package banner

import (
	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/portalconsent/portalconsent/policy"
)

// NoticeTextID is the id of the reload notice's text, which labels it.
const NoticeTextID = "pc-notice-text"

// ReloadNotice asks the visitor to reload the page after a withdrawal: scripts
// of a refused category that already ran on the page cannot be stopped. It is
// laid out like the banner: a labelled region with a text, Reload (#pc-reload,
// calls OnReload) and Close (#pc-notice-close, calls OnClose). A nil callback
// makes its button do nothing.
type ReloadNotice struct {
	app.Compo

	Texts    policy.Texts
	OnReload func(app.Context)
	OnClose  func(app.Context)
}

// Render implements app.Composer.
func (n *ReloadNotice) Render() app.UI {
	t := n.Texts
	return app.Section().
		Class("pc-banner pc-notice").
		Aria("labelledby", NoticeTextID).
		Body(
			app.P().ID(NoticeTextID).Class("pc-text").Text(t.ReloadText),
			app.Div().Class("pc-actions").Body(
				button(ReloadID, "pc-btn pc-primary", t.Reload, n.OnReload),
				button(NoticeCloseID, "pc-btn pc-secondary", t.Close, n.OnClose),
			),
		)
}
