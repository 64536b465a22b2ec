package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Tracker presets: a policy lists the analytics tools a portal runs, and each
// preset adds the cookies that tool sets to the cookie table (see
// ExpandTrackers).
const (
	TrackerGoogleAnalytics = "google-analytics" // Google Analytics 4 (gtag.js)
	TrackerMatomo          = "matomo"           // Matomo JavaScript tracker
	TrackerXiTi            = "xiti"             // AT Internet's older xtcore.js tag
	TrackerATInternet      = "at-internet"      // AT Internet SmartTag (smarttag.js)
)

// Embed presets: the hosts of content a portal embeds in an
// <iframe data-category="…" data-src="…"> that loads only once its category
// is accepted (see the README). They are tracker types: declared the same
// way, their cookies join the table.
const (
	EmbedYouTube       = "youtube"       // YouTube in privacy-enhanced mode (www.youtube-nocookie.com)
	EmbedVimeo         = "vimeo"         // Vimeo player (player.vimeo.com)
	EmbedDailymotion   = "dailymotion"   // Dailymotion player (www.dailymotion.com/embed)
	EmbedOpenStreetMap = "openstreetmap" // OpenStreetMap's embeddable map (www.openstreetmap.org/export/embed.html)
	EmbedUMap          = "umap"          // uMap maps (umap.openstreetmap.fr)
	EmbedMapbox        = "mapbox"        // Mapbox maps (api.mapbox.com)
	EmbedDatawrapper   = "datawrapper"   // Datawrapper charts and maps (datawrapper.dwcdn.net)
)

// TrackerTypes are the tracker presets a policy may declare: analytics tools,
// then embedded content.
var TrackerTypes = []string{TrackerGoogleAnalytics, TrackerMatomo, TrackerXiTi, TrackerATInternet,
	EmbedYouTube, EmbedVimeo, EmbedDailymotion, EmbedOpenStreetMap, EmbedUMap, EmbedMapbox, EmbedDatawrapper}

// Tracker is an analytics tool the portal runs, in the category a visitor
// accepts for it.
type Tracker struct {
	// Type is one of TrackerTypes.
	Type string `json:"type"`
	// Category is the id of a declared category that is not required.
	Category string `json:"category"`
}

// TrackerCookies returns the cookie rows of a tracker preset, with an empty
// Category, or nil for an unknown type or a preset that declares no cookie
// (uMap, Datawrapper). Names follow the vendors' published cookie lists
// (Google's "[GA4] Cookie usage on websites" and "How Google uses cookies"
// for YouTube, Matomo's FAQ "What cookies are created by the Matomo
// JavaScript tracking client?", AT Internet's "AT Internet cookies" for
// smarttag.js and xtcore.js, Vimeo's and Dailymotion's cookie policies,
// OpenStreetMap's) with their default durations; the README says which
// could not be confirmed.
func TrackerCookies(typ string) []Cookie {
	row := func(provider, function, purpose, duration string, names ...string) Cookie {
		return Cookie{Provider: provider, Function: function, Names: names, Purpose: purpose, Duration: duration}
	}
	switch typ {
	case TrackerGoogleAnalytics:
		const p, f = "Google (Google Analytics)", "Audience measurement (Google Analytics 4)"
		return []Cookie{
			row(p, f, "To distinguish visitors", "2 years", "_ga"),
			row(p, f, "To keep the state of the visit", "2 years", "_ga_*"),
		}
	case TrackerMatomo:
		const p, f = "Matomo", "Audience measurement (Matomo)"
		return []Cookie{
			row(p, f, "To store a unique visitor id", "13 months", "_pk_id.*"),
			row(p, f, "To store how the visitor first reached the site", "6 months", "_pk_ref.*"),
			row(p, f, "To group the pages seen in one visit", "30 minutes", "_pk_ses.*", "_pk_cvar.*", "_pk_hsr.*"),
			row(p, f, "To check that the browser accepts cookies (deleted at once)", "Session", "_pk_testcookie.*"),
		}
	case TrackerXiTi:
		const p, f = "AT Internet (XiTi)", "Audience measurement (XiTi, xtcore.js)"
		return []Cookie{
			row(p, f, "To store a unique visitor id", "13 months", "xtidc"),
			row(p, f, "To list the sites of the account the visitor has seen", "6 months", "xtvrn"),
			row(p, f, "To remember identified visitors", "6 months", "xtan*", "xtant*"),
			row(p, f, "To remember the campaign that brought the visitor", "30 days", "xtor*"),
		}
	case TrackerATInternet:
		const p, f = "AT Internet", "Audience measurement (AT Internet SmartTag)"
		return []Cookie{
			row(p, f, "To store a unique visitor id", "13 months", "atuserid"),
			row(p, f, "To list the sites of the account the visitor has seen", "6 months", "atidvisitor"),
			row(p, f, "To remember the visitor's privacy mode", "13 months", "atauthority"),
			row(p, f, "To remember the campaigns of the visit", "30 minutes", "atsession"),
			row(p, f, "To remember the attribution campaign", "30 days", "atreman"),
			row(p, f, "To carry the measurement across a redirection", "30 seconds", "atredir"),
		}
	case EmbedYouTube:
		const p, f = "Google (YouTube)", "Embedded videos (YouTube, youtube-nocookie.com)"
		return []Cookie{
			row(p, f, "To protect the player's requests from abuse", "Session", "YSC"),
			row(p, f, "To remember the visitor's player settings and the consent state", "6 months", "VISITOR_INFO1_LIVE", "VISITOR_PRIVACY_METADATA"),
			row(p, f, "To remember the visitor's preferences (language, playback)", "8 months", "PREF"),
			row(p, f, "To test and roll out the player's features", "6 months", "__Secure-ROLLOUT_TOKEN"),
		}
	case EmbedVimeo:
		const p, f = "Vimeo", "Embedded videos (Vimeo)"
		return []Cookie{
			row(p, f, "To count the visitor's views of videos", "2 years", "vuid"),
			row(p, f, "To remember the player's settings", "1 year", "player"),
			row(p, f, "To protect the player from bots (Cloudflare)", "30 minutes", "__cf_bm"),
			row(p, f, "To balance the load of the player's requests (Cloudflare)", "Session", "_cfuvid"),
		}
	case EmbedDailymotion:
		const p, f = "Dailymotion", "Embedded videos (Dailymotion)"
		return []Cookie{
			row(p, f, "To store a unique visitor id", "13 months", "v1st"),
			row(p, f, "To measure the videos' audience", "13 months", "ts"),
			row(p, f, "To keep the state of the player's session", "Session", "dmvk"),
		}
	case EmbedOpenStreetMap:
		const p, f = "OpenStreetMap Foundation", "Embedded maps (OpenStreetMap)"
		return []Cookie{
			row(p, f, "To keep the session of the map page", "Session", "_osm_session"),
			row(p, f, "To remember the last map position shown", "10 years", "_osm_location"),
		}
	case EmbedMapbox:
		const p, f = "Mapbox", "Embedded maps (Mapbox)"
		return []Cookie{
			row(p, f, "To send anonymous usage telemetry (browser storage)", "Until deleted", "mapbox.eventData*"),
		}
	}
	return nil
}

// ExpandTrackers appends to the cookie table of p the rows of each declared
// tracker preset, in the tracker's category. A row is not added when the table
// already has a row with the same names (the operator's own wording wins), so
// expanding twice adds nothing. Unknown tracker types add nothing (Validate
// reports them). It is a function, not a method of Policy, so that the wasm,
// which never calls it, does not link the presets (a binary that may call
// methods by name through reflection keeps every exported method).
//
// The preset rows carry their own French; a translation into French gets them
// unless it already translates the row. In other languages the operator
// translates them like any row (keyed by one of their names).
func ExpandTrackers(p *Policy) {
	for _, tr := range p.Trackers {
		for _, c := range TrackerCookies(tr.Type) {
			if slices.ContainsFunc(p.Cookies, func(have Cookie) bool { return slices.Equal(have.Names, c.Names) }) {
				continue
			}
			c.Category = tr.Category
			p.Cookies = append(p.Cookies, c)
			fr, ok := trackerFrench()[c.Names[0]]
			if !ok {
				continue
			}
			for i := range p.Translations {
				t := &p.Translations[i]
				base, _, _ := strings.Cut(strings.ToLower(t.Texts.Lang), "-")
				if base != "fr" || slices.ContainsFunc(c.Names, func(n string) bool { _, has := t.Cookies[n]; return has }) {
					continue
				}
				if t.Cookies == nil {
					t.Cookies = map[string]CookieText{}
				}
				t.Cookies[c.Names[0]] = fr
			}
		}
	}
}

// trackerFrench returns the French of each preset row, by its first name. A
// function, not a variable, so that the wasm does not link the texts.
func trackerFrench() map[string]CookieText {
	const ga, mat, xiti, at = "Mesure d'audience (Google Analytics 4)", "Mesure d'audience (Matomo)",
		"Mesure d'audience (XiTi, xtcore.js)", "Mesure d'audience (AT Internet SmartTag)"
	const yt, vimeo, dm, osm, mapbox = "Vidéos intégrées (YouTube, youtube-nocookie.com)", "Vidéos intégrées (Vimeo)",
		"Vidéos intégrées (Dailymotion)", "Cartes intégrées (OpenStreetMap)", "Cartes intégrées (Mapbox)"
	row := func(function, purpose, duration string) CookieText {
		return CookieText{Function: function, Purpose: purpose, Duration: duration}
	}
	return map[string]CookieText{
		"_ga":                    row(ga, "Distinguer les visiteurs", "2 ans"),
		"_ga_*":                  row(ga, "Conserver l'état de la visite", "2 ans"),
		"_pk_id.*":               row(mat, "Conserver un identifiant unique du visiteur", "13 mois"),
		"_pk_ref.*":              row(mat, "Conserver la provenance du visiteur", "6 mois"),
		"_pk_ses.*":              row(mat, "Regrouper les pages vues pendant une visite", "30 minutes"),
		"_pk_testcookie.*":       row(mat, "Vérifier que le navigateur accepte les cookies (supprimé aussitôt)", "Session"),
		"xtidc":                  row(xiti, "Conserver un identifiant unique du visiteur", "13 mois"),
		"xtvrn":                  row(xiti, "Lister les sites du compte vus par le visiteur", "6 mois"),
		"xtan*":                  row(xiti, "Reconnaître les visiteurs identifiés", "6 mois"),
		"xtor*":                  row(xiti, "Conserver la campagne qui a amené le visiteur", "30 jours"),
		"atuserid":               row(at, "Conserver un identifiant unique du visiteur", "13 mois"),
		"atidvisitor":            row(at, "Lister les sites du compte vus par le visiteur", "6 mois"),
		"atauthority":            row(at, "Conserver le mode de confidentialité du visiteur", "13 mois"),
		"atsession":              row(at, "Conserver les campagnes de la visite", "30 minutes"),
		"atreman":                row(at, "Conserver la campagne d'attribution", "30 jours"),
		"atredir":                row(at, "Transmettre la mesure lors d'une redirection", "30 secondes"),
		"YSC":                    row(yt, "Protéger les requêtes du lecteur contre les abus", "Session"),
		"VISITOR_INFO1_LIVE":     row(yt, "Mémoriser les réglages du lecteur et l'état du consentement", "6 mois"),
		"PREF":                   row(yt, "Mémoriser les préférences du visiteur (langue, lecture)", "8 mois"),
		"__Secure-ROLLOUT_TOKEN": row(yt, "Tester et déployer les fonctions du lecteur", "6 mois"),
		"vuid":                   row(vimeo, "Compter les vidéos vues par le visiteur", "2 ans"),
		"player":                 row(vimeo, "Mémoriser les réglages du lecteur", "1 an"),
		"__cf_bm":                row(vimeo, "Protéger le lecteur contre les robots (Cloudflare)", "30 minutes"),
		"_cfuvid":                row(vimeo, "Répartir la charge des requêtes du lecteur (Cloudflare)", "Session"),
		"v1st":                   row(dm, "Conserver un identifiant unique du visiteur", "13 mois"),
		"ts":                     row(dm, "Mesurer l'audience des vidéos", "13 mois"),
		"dmvk":                   row(dm, "Conserver l'état de la session du lecteur", "Session"),
		"_osm_session":           row(osm, "Conserver la session de la page de carte", "Session"),
		"_osm_location":          row(osm, "Mémoriser la dernière position de carte affichée", "10 ans"),
		"mapbox.eventData*":      row(mapbox, "Envoyer une télémétrie d'usage anonyme (stockage du navigateur)", "Jusqu'à suppression"),
	}
}

// validateTrackers checks that each tracker has a known type, at most once,
// in a declared category that is not required.
func (p *Policy) validateTrackers() error {
	seen := map[string]bool{}
	for i, tr := range p.Trackers {
		f := fmt.Sprintf("trackers[%d]", i)
		if !slices.Contains(TrackerTypes, tr.Type) {
			return &FieldError{Field: f + ".type", Msg: fmt.Sprintf("%q is not a tracker preset (%s)", tr.Type, strings.Join(TrackerTypes, ", "))}
		}
		if seen[tr.Type] {
			return &FieldError{Field: f + ".type", Msg: fmt.Sprintf("%q is declared twice", tr.Type)}
		}
		seen[tr.Type] = true
		c, ok := p.Category(tr.Category)
		if !ok {
			return &FieldError{Field: f + ".category", Msg: fmt.Sprintf("%q is not a declared category", tr.Category)}
		}
		if c.Required {
			return &FieldError{Field: f + ".category", Msg: fmt.Sprintf("%q is required: a tracker needs a category the visitor can refuse", tr.Category)}
		}
	}
	return nil
}
