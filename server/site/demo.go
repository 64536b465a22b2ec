package site

import (
	"net/http"
	"strings"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/policyfiles"
	"github.com/portalconsent/portalconsent/server/respond"
)

// demoTracker is a tracker of a demo page: the consent-gated stand-in the
// page runs, and the real snippet a portal would put in its place.
type demoTracker struct {
	policy.Tracker
	Name    string
	StandIn string // URL of the stand-in script
	Snippet string // the real snippet, gated the same way
}

// standIns are scripts that behave, for the visitor's cookies, like the
// trackers they stand for: they set the same first-party cookies (names and
// value shapes) and log what they did, and never contact another host. The
// demo pages run them behind the consent gate.
var standIns = map[string]struct{ name, js string }{
	policy.TrackerMatomo: {"Matomo", `(function () {
  var site = 1, hash = "a1b2", now = Math.floor(Date.now() / 1000);
  var id = Array.from(crypto.getRandomValues(new Uint8Array(8)), function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  document.cookie = "_pk_id." + site + "." + hash + "=" + id + "." + now + "; path=/; max-age=" + 395 * 86400 + "; SameSite=Lax";
  document.cookie = "_pk_ses." + site + "." + hash + "=1; path=/; max-age=1800; SameSite=Lax";
  window.portalConsentDemo = (window.portalConsentDemo || []).concat("matomo");
  var line = "Matomo stand-in ran (statistical accepted): set _pk_id." + site + "." + hash + " and _pk_ses." + site + "." + hash + ", sent nothing";
  console.info(line);
  var log = document.getElementById("tracker-log");
  if (log) log.appendChild(document.createElement("li")).textContent = line;
})();
`},
	policy.TrackerGoogleAnalytics: {"Google Analytics", `(function () {
  var now = Math.floor(Date.now() / 1000), rand = crypto.getRandomValues(new Uint32Array(1))[0];
  document.cookie = "_ga=GA1.1." + rand + "." + now + "; path=/; max-age=" + 395 * 86400 + "; SameSite=Lax";
  document.cookie = "_ga_DEMO123=GS1.1." + now + ".1.0." + now + ".0.0.0; path=/; max-age=" + 395 * 86400 + "; SameSite=Lax";
  window.dataLayer = window.dataLayer || [];
  window.dataLayer.push(["js", new Date()], ["config", "G-DEMO123"]);
  window.portalConsentDemo = (window.portalConsentDemo || []).concat("google-analytics");
  var line = "Google Analytics stand-in ran (statistical accepted): set _ga and _ga_DEMO123, sent nothing";
  console.info(line);
  var log = document.getElementById("tracker-log");
  if (log) log.appendChild(document.createElement("li")).textContent = line;
})();
`},
}

// snippets are the trackers' usual tags, consent-gated: the type becomes
// text/plain and data-category names the category (see the README).
var snippets = map[string]string{
	policy.TrackerMatomo: `<script type="text/plain" data-category="CATEGORY">
  var _paq = window._paq = window._paq || [];
  _paq.push(['trackPageView']);
  _paq.push(['enableLinkTracking']);
  (function() {
    var u = "https://MATOMO_HOST/";
    _paq.push(['setTrackerUrl', u + 'matomo.php']);
    _paq.push(['setSiteId', 'SITE_ID']);
    var d = document, g = d.createElement('script'), s = d.getElementsByTagName('script')[0];
    g.async = true; g.src = u + 'matomo.js'; s.parentNode.insertBefore(g, s);
  })();
</script>`,
	policy.TrackerGoogleAnalytics: `<script type="text/plain" data-category="CATEGORY" async
    src="https://www.googletagmanager.com/gtag/js?id=G-XXXXXXXXXX"></script>
<script type="text/plain" data-category="CATEGORY">
  window.dataLayer = window.dataLayer || [];
  function gtag(){dataLayer.push(arguments);}
  gtag('js', new Date());
  gtag('config', 'G-XXXXXXXXXX');
</script>`,
}

// demoTrackers returns the trackers of p that have a stand-in.
func demoTrackers(p *policy.Policy) []demoTracker {
	var out []demoTracker
	for _, tr := range p.Trackers {
		s, ok := standIns[tr.Type]
		if !ok {
			continue
		}
		out = append(out, demoTracker{Tracker: tr, Name: s.name, StandIn: "/demo/stand-in/" + tr.Type + ".js",
			Snippet: strings.ReplaceAll(snippets[tr.Type], "CATEGORY", tr.Category)})
	}
	return out
}

// StandIn serves the stand-in script of a tracker type; an unknown one is
// 404.
func (s *Site) StandIn(w http.ResponseWriter, r *http.Request) error {
	typ, ok := strings.CutSuffix(r.PathValue("file"), ".js")
	si, known := standIns[typ]
	if !ok || !known {
		return respond.Errorf(http.StatusNotFound, "no stand-in script %s", r.PathValue("file"))
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write([]byte(si.js))
	return nil
}

// PolicyExample serves the example policy file, for operators to copy.
func (s *Site) PolicyExample(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(policyfiles.Example())
}

// pageLink is a link of a portal's row on the index.
type pageLink struct {
	Label string
	Href  string
}

// indexRow is a portal as the index lists it.
type indexRow struct {
	*policy.Policy
	Links []pageLink
}

// indexRows returns the index's rows: each portal with the links to its
// pages (append to Links to list another page).
func indexRows(ps []*policy.Policy) []indexRow {
	var out []indexRow
	for _, p := range ps {
		out = append(out, indexRow{Policy: p, Links: []pageLink{
			{"Demo page", "/demo/" + p.ID},
			{"Cookie policy", "/portals/" + p.ID + "/policy"},
			{"config.json", "/portals/" + p.ID + "/config.json"},
		}})
	}
	return out
}
