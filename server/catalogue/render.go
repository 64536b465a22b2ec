package catalogue

import (
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
