package catalogue

import (
	"encoding/json"
	"html/template"

	"github.com/portalconsent/portalconsent/banner"
	"github.com/portalconsent/portalconsent/policy"
)

// BannerHTML returns the banner of p as the consent app first renders it
// (same component, same root element), for the loader to show before the app
// runs.
func BannerHTML(p *policy.Policy) string {
	return banner.HTML(banner.RootElement("banner", p.Texts.Lang, &banner.Banner{Texts: p.Texts}))
}

// PolicyHTML returns the cookie policy of p as HTML, rendered by the same
// component as the policy dialog of the banner.
func PolicyHTML(p *policy.Policy) template.HTML {
	return template.HTML(banner.HTML(&banner.PolicyContent{Policy: p, Page: true}))
}

// PreferencesHTML returns the preferences dialog of p (single-language) as
// the app first renders it for a visitor without a choice (every optional
// category off), by the same component: for the console's preview.
func PreferencesHTML(p *policy.Policy) string {
	return banner.HTML(banner.RootElement("modal", p.Texts.Lang, &banner.Preferences{Policy: p}))
}

// dialogs is the body of /portals/{id}/dialogs.json: the preferences (for
// a visitor without a choice: every optional category off; with the
// Global Privacy Control notice, which the loader removes where the
// browser does not send the signal) and the policy dialog, rendered by the
// app's own components as its first render shows them.
type dialogs struct {
	Preferences string `json:"preferences"`
	Policy      string `json:"policy"`
}

// DialogsHTML returns the preferences and the policy dialog of p
// (single-language) as the body of dialogs.json.
func DialogsHTML(p *policy.Policy) ([]byte, error) {
	return json.Marshal(dialogs{
		Preferences: banner.HTML(&banner.Preferences{Policy: p, GPC: true}),
		Policy:      banner.HTML(&banner.PolicyDialog{Policy: p}),
	})
}
