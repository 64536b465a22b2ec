package policy

import (
	"embed"
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
// The preset rows carry their own translations into each language the
// product speaks (policy/defaults/trackers/{lang}.json, matched as
// BuiltinTexts matches: "pt-BR" gets Portuguese): a translation gets them
// unless it already translates the row. In another language the operator
// translates them like any row (keyed by one of their names).
func ExpandTrackers(p *Policy) {
	texts := make([]*trackerTexts, len(p.Translations))
	for i, t := range p.Translations {
		if tt, ok := trackerTextsFor(t.Texts.Lang); ok {
			texts[i] = &tt
		}
	}
	for _, tr := range p.Trackers {
		for _, c := range TrackerCookies(tr.Type) {
			if slices.ContainsFunc(p.Cookies, func(have Cookie) bool { return slices.Equal(have.Names, c.Names) }) {
				continue
			}
			c.Category = tr.Category
			p.Cookies = append(p.Cookies, c)
			for i := range p.Translations {
				t := &p.Translations[i]
				if texts[i] == nil || slices.ContainsFunc(c.Names, func(n string) bool { _, has := t.Cookies[n]; return has }) {
					continue
				}
				ct, ok := texts[i].translate(c)
				if !ok {
					continue // Validate names the row left untranslated
				}
				if t.Cookies == nil {
					t.Cookies = map[string]CookieText{}
				}
				t.Cookies[c.Names[0]] = ct
			}
		}
	}
}

//go:embed defaults/trackers/*.json
var trackerFiles embed.FS

// trackerTexts is a defaults/trackers/{lang}.json file: the texts of the
// preset rows in one language, keyed by their English. Functions are keyed
// by the words before the parenthesis that names the tool ("Audience
// measurement" of "Audience measurement (Matomo)"), which is kept as is.
type trackerTexts struct {
	Lang      string            `json:"lang"`
	Functions map[string]string `json:"functions"`
	Purposes  map[string]string `json:"purposes"`
	Durations map[string]string `json:"durations"`
}

// trackerTextsFor returns the preset rows' texts in the language of the tag
// lang (matched as by BuiltinTexts), and false when the product has none in
// that language or the file does not decode (the tests decode each one).
func trackerTextsFor(lang string) (trackerTexts, bool) {
	entries, _ := trackerFiles.ReadDir("defaults/trackers")
	var langs []string
	for _, e := range entries {
		langs = append(langs, strings.TrimSuffix(e.Name(), ".json"))
	}
	l := matchBuiltin(lang, langs)
	if l == "" {
		return trackerTexts{}, false
	}
	data, err := trackerFiles.ReadFile("defaults/trackers/" + l + ".json")
	if err != nil {
		return trackerTexts{}, false
	}
	var tt trackerTexts
	if err := decodeStrict("defaults/trackers/"+l+".json", data, &tt, nil); err != nil {
		return trackerTexts{}, false
	}
	return tt, true
}

// translate returns the text cells of the preset row c in these texts, and
// false when one of them is missing.
func (tt *trackerTexts) translate(c Cookie) (CookieText, bool) {
	head, tool, paren := strings.Cut(c.Function, " (")
	f, okF := tt.Functions[head]
	p, okP := tt.Purposes[c.Purpose]
	d, okD := tt.Durations[c.Duration]
	if paren {
		f += " (" + tool
	}
	return CookieText{Function: f, Purpose: p, Duration: d}, okF && okP && okD
}

// TrackerTranslation returns the text cells of the preset row c (one of
// TrackerCookies) in the language of the tag lang, as ExpandTrackers adds
// them, and false when the product has no translation of that row into
// that language.
func TrackerTranslation(c Cookie, lang string) (CookieText, bool) {
	tt, ok := trackerTextsFor(lang)
	if !ok {
		return CookieText{}, false
	}
	return tt.translate(c)
}

// validateTrackers records in ps each tracker without a known type, listed
// twice, or outside a declared category that is not required.
func (p *Policy) validateTrackers(ps *problems) {
	seen := map[string]bool{}
	for i, tr := range p.Trackers {
		f := fmt.Sprintf("trackers[%d]", i)
		if !slices.Contains(TrackerTypes, tr.Type) {
			ps.bad(f+".type", "%q is not a tracker preset (%s)", tr.Type, strings.Join(TrackerTypes, ", "))
		} else if seen[tr.Type] {
			ps.bad(f+".type", "%q is declared twice", tr.Type)
		}
		seen[tr.Type] = true
		c, ok := p.Category(tr.Category)
		if !ok {
			ps.bad(f+".category", "%q is not a declared category", tr.Category)
		} else if c.Required {
			ps.bad(f+".category", "%q is required: a tracker needs a category the visitor can refuse", tr.Category)
		}
	}
}
