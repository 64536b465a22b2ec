package e2e

// Browser tests of embedded content waiting for consent
// (<iframe data-category data-src>, web/embeds.js): the fixture
// testdata/embeds.html points its iframes at an embed host of the test's own
// on loopback, which records every request.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/harness"
)

// embedHost records the paths it is asked for.
type embedHost struct {
	mu    sync.Mutex
	paths []string
}

// startEmbedHost starts the embed host of h's fixture pages.
func startEmbedHost(t *testing.T, h *harness.Hosts) *embedHost {
	e := &embedHost{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.paths = append(e.paths, r.URL.Path)
		e.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><html lang="en"><title>embedded</title><p>embedded ` + r.URL.Path + `</p></html>`))
	}))
	t.Cleanup(srv.Close)
	h.EmbedURL = srv.URL
	return e
}

// requests returns the paths asked for so far.
func (e *embedHost) requests() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.paths...)
}

// waitRequests waits until the embed host has been asked for exactly want
// (in any order).
func (e *embedHost) waitRequests(t *testing.T, want ...string) {
	t.Helper()
	slices.Sort(want)
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := e.requests()
		slices.Sort(got)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the embed host was asked for %q, want %q", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// embedsPolicy is mtran with a "media" category, which the YouTube and
// OpenStreetMap presets are declared in.
func embedsPolicy(t *testing.T) *policy.Policy {
	b, err := json.Marshal(harness.Policies[0])
	if err != nil {
		t.Fatal(err)
	}
	var p policy.Policy
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	p.ID = "embeds"
	p.Categories = append(p.Categories, policy.Category{ID: "media", Name: "Media", Description: "Videos and maps from other sites."})
	for i := range p.Translations {
		p.Translations[i].Categories["media"] = policy.CategoryText{Name: "Médias", Description: "Vidéos et cartes d'autres sites."}
	}
	p.Trackers = []policy.Tracker{{Type: policy.EmbedYouTube, Category: "media"}, {Type: policy.EmbedOpenStreetMap, Category: "media"}}
	policy.ExpandTrackers(&p)
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return &p
}

// placeholders is the expression of the page's placeholders: for each
// iframe id, its placeholder's box, texts and buttons, or null when the
// iframe has none.
const placeholders = `Object.fromEntries([...document.querySelectorAll("iframe[data-category]")].map(f => {
	const h = f.previousElementSibling;
	if (!h || h.localName !== "portal-consent-embed") return [f.id, null];
	const r = h.getBoundingClientRect(), root = h.shadowRoot, b = root && root.querySelector("button");
	return [f.id, {W: r.width, H: r.height, Shadow: !!root, Text: root ? root.textContent : "",
		Buttons: root ? [...root.querySelectorAll("button")].map(b => b.textContent) : [],
		Colour: b ? getComputedStyle(b).color : "", FontSize: b ? getComputedStyle(b).fontSize : "",
		Src: f.hasAttribute("src"), FrameShown: getComputedStyle(f).display !== "none"}];
}))`

type placeholder struct {
	W, H             float64
	Shadow           bool
	Text             string
	Buttons          []string
	Colour, FontSize string
	Src, FrameShown  bool
}

func (tb *tab) placeholders() map[string]*placeholder {
	tb.T.Helper()
	var out map[string]*placeholder
	tb.Eval(placeholders, &out)
	return out
}

// clickEmbedButton clicks, with the mouse, button i of the placeholder of
// the iframe with the given id.
func (tb *tab) clickEmbedButton(id string, i int) {
	tb.T.Helper()
	var xy []float64
	tb.Eval(`(() => { const h = document.getElementById(`+harness.JSString(id)+`).previousElementSibling;
		h.scrollIntoView({block: "center"});
		const r = h.shadowRoot.querySelectorAll("button")[`+fmt.Sprint(i)+`].getBoundingClientRect();
		return [r.left + r.width / 2, r.top + r.height / 2]; })()`, &xy)
	tb.Run(chromedp.MouseClickXY(xy[0], xy[1]))
}

// waitPlaceholders waits until the iframes with the given ids have a
// placeholder and the others none.
func (tb *tab) waitPlaceholders(ids ...string) {
	tb.T.Helper()
	js, _ := json.Marshal(append([]string{}, ids...))
	tb.WaitFor("placeholders for "+string(js), `(() => { const want = `+string(js)+`;
		return [...document.querySelectorAll("iframe[data-category]")].every(f => {
			const h = f.previousElementSibling, held = !!h && h.localName === "portal-consent-embed";
			return held === want.includes(f.id) && held === !f.hasAttribute("src"); }); })()`)
}

// TestBrowserEmbedPlaceholders: before any choice nothing is asked of the
// embed host; each embed shows a placeholder at its size, in a shadow root
// that the portal's CSS does not reach, naming its provider and category,
// axe-clean and reached by Tab; Load loads that one only and stores nothing;
// the accept button stores the category and loads all of its embeds.
func TestBrowserEmbedPlaceholders(t *testing.T) {
	pol := embedsPolicy(t)
	h := harness.StartHosts(t, pol)
	e := startEmbedHost(t, h)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("embeds.html", "portal=embeds")))
	tb.WaitBanner()
	tb.waitPlaceholders("v1", "v2", "s1")
	if got := e.requests(); len(got) != 0 {
		t.Fatalf("the embed host was asked for %q before any consent", got)
	}
	ph := tb.placeholders()
	for id, want := range map[string]struct {
		w, h     float64
		provider string
		category string
	}{"v1": {560, 315, "YouTube", "Media"}, "v2": {400, 300, "OpenStreetMap", "Media"}, "s1": {320, 200, "Datawrapper", "Statistical"}} {
		p := ph[id]
		if p == nil || !p.Shadow {
			t.Fatalf("%s: no placeholder in a shadow root: %+v", id, p)
		}
		// The box the iframe takes: its width and height, and the 2px inset
		// border Chromium gives an iframe.
		if p.W != want.w+4 || p.H != want.h+4 {
			t.Errorf("%s: placeholder %vx%v, want the iframe's box %vx%v", id, p.W, p.H, want.w+4, want.h+4)
		}
		if !strings.Contains(p.Text, "Content from "+want.provider) || !strings.Contains(p.Text, "cookies of the category “"+want.category+"”") {
			t.Errorf("%s: placeholder says %q, want its provider %s and category %s", id, p.Text, want.provider, want.category)
		}
		if !slices.Equal(p.Buttons, []string{"Load", "Accept “" + want.category + "” cookies"}) {
			t.Errorf("%s: buttons %q", id, p.Buttons)
		}
		// The portal's `button { color: red !important; font-size: 40px !important }` stops at the shadow root.
		if p.Colour == "rgb(255, 0, 0)" || p.FontSize == "40px" {
			t.Errorf("%s: the portal's CSS reached the placeholder: colour %s, font size %s", id, p.Colour, p.FontSize)
		}
		if p.Src || p.FrameShown {
			t.Errorf("%s: the iframe has a src (%v) or shows (%v) before consent", id, p.Src, p.FrameShown)
		}
	}
	if vs := tb.AxeTop(harness.AxeSource(t)); len(vs) > 0 {
		for _, v := range vs {
			t.Errorf("axe: %s", v)
		}
	}

	// Tab from the top of the page reaches the first placeholder's buttons.
	tb.Run(chromedp.KeyEvent(kb.Tab))
	var focused string
	tb.Eval(`(() => { const a = document.activeElement; return a.localName + ":" + (a.shadowRoot && a.shadowRoot.activeElement ? a.shadowRoot.activeElement.textContent : "") + ":" + a.nextElementSibling.id; })()`, &focused)
	if focused != "portal-consent-embed:Load:v1" {
		t.Errorf("the first Tab focused %q, want the Load button of v1's placeholder", focused)
	}
	tb.Run(chromedp.KeyEvent(kb.Tab))
	tb.Eval(`document.activeElement.shadowRoot.activeElement.textContent`, &focused)
	if focused != "Accept “Media” cookies" {
		t.Errorf("the second Tab focused %q, want v1's accept button", focused)
	}

	// Load: this one only, nothing stored.
	tb.clickEmbedButton("v1", 0)
	tb.waitPlaceholders("v2", "s1")
	e.waitRequests(t, "/video/1")
	if c := tb.Cookie(); c != "" {
		t.Errorf("Load stored a choice: %q", c)
	}

	// Accept Media: stored, with statistical still refused, and every Media
	// embed loads.
	tb.clickEmbedButton("v2", 1)
	tb.waitPlaceholders("s1")
	e.waitRequests(t, "/video/1", "/map/2")
	var line string
	tb.Eval(`document.cookie`, &line)
	c, err := policy.Current(policy.CookieValue(line, policy.CookieName), pol, time.Now())
	if err != nil {
		t.Fatalf("stored %q: %v", line, err)
	}
	if !c.Accepted("media") || c.Accepted(policy.Statistical) {
		t.Errorf("the accept button stored %q, want media accepted and statistical refused", c.Encode())
	}
	// Its receipt goes to the consent host like any choice's.
	if got := tb.waitReceipt(h, c); len(got) != 1 || got[0].Method != "custom" || got[0].Lang != "en" {
		t.Errorf("receipts of the placeholder's accept: %+v, want one, custom, en", got)
	}
	var event struct{ Media bool }
	tb.Eval(`({Media: consentEvents.length === 1 && consentEvents[0].categories.media === true})`, &event)
	if !event.Media {
		t.Error("no consentchange event accepting media")
	}

	// A returning visitor: media embeds load at once, statistical's waits.
	tb.Run(chromedp.Reload())
	tb.waitPlaceholders("s1")
	tb.WaitAcknowledged()

	// Accepting statistical from its placeholder keeps the visitor's
	// consent id (issue 22: one id per visitor) and media.
	tb.Eval(`document.getElementById("s1").previousElementSibling.shadowRoot.querySelectorAll("button")[1].click(); true`, nil)
	tb.waitPlaceholders()
	tb.WaitFor("the new choice", `!document.cookie.includes(`+harness.JSString(c.Encode())+`)`)
	later, err := policy.Current(tb.Cookie(), pol, time.Now())
	if err != nil || later.ID != c.ID || !later.Accepted("media") || !later.Accepted(policy.Statistical) {
		t.Errorf("the placeholder's accept stored %q (%v) after %q: want media and statistical accepted, the same consent id", tb.Cookie(), err, c.Encode())
	}
	tb.NoErrors()
}

// TestBrowserEmbedBanner: accepting in the banner loads every embed at once,
// an embed added later included; rejecting leaves the placeholders and asks
// nothing of the embed host.
func TestBrowserEmbedBanner(t *testing.T) {
	for _, button := range []string{"pc-accept", "pc-reject"} {
		t.Run(button, func(t *testing.T) {
			h := harness.StartHosts(t, embedsPolicy(t))
			e := startEmbedHost(t, h)
			tb := newTab(t)
			tb.Run(chromedp.Navigate(h.PortalURL("embeds.html", "portal=embeds")))
			tb.WaitBanner()
			tb.waitPlaceholders("v1", "v2", "s1")
			// An SPA adds an embed: it gets a placeholder too.
			tb.Eval(`(() => { const f = document.createElement("iframe"); f.id = "v3"; f.title = "Added later";
				f.setAttribute("data-category", "media"); f.setAttribute("data-provider", "Vimeo");
				f.setAttribute("data-src", `+harness.JSString(h.EmbedURL+"/video/3")+`); f.width = 300; f.height = 170;
				document.getElementById("later").appendChild(f); return true; })()`, nil)
			tb.waitPlaceholders("v1", "v2", "s1", "v3")
			tb.Click(button)
			tb.WaitFor("the choice", `document.cookie.includes("cookies_preferences=")`)
			if button == "pc-accept" {
				tb.waitPlaceholders()
				e.waitRequests(t, "/video/1", "/map/2", "/chart/3", "/video/3")
			} else {
				tb.WaitFor("the refusal to take effect", `PortalConsent.get().decided`)
				tb.waitPlaceholders("v1", "v2", "s1", "v3")
				if got := e.requests(); len(got) != 0 {
					t.Errorf("after Reject all the embed host was asked for %q", got)
				}
			}
			tb.NoErrors()
		})
	}
}

// TestBrowserEmbedFrench: with data-lang="fr" the placeholders speak French.
func TestBrowserEmbedFrench(t *testing.T) {
	h := harness.StartHosts(t, embedsPolicy(t))
	startEmbedHost(t, h)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("embeds.html", "portal=embeds&lang=fr")))
	tb.waitPlaceholders("v1", "v2", "s1")
	p := tb.placeholders()["v1"]
	if !strings.Contains(p.Text, "Contenu de YouTube") || !strings.Contains(p.Text, "«\u00a0Médias\u00a0»") ||
		!slices.Equal(p.Buttons, []string{"Charger", "Accepter les cookies «\u00a0Médias\u00a0»"}) {
		t.Errorf("French placeholder: %q, buttons %q", p.Text, p.Buttons)
	}
	tb.NoErrors()
}

// TestBrowserEmbedSrcHttpOnly: an embed whose data-src is not http(s)
// (javascript:, data:) never loads, neither from its placeholder's Load nor
// once its category is accepted: no script of it runs in the portal's
// origin, the iframe stays empty, one console error says why, and the
// http(s) embeds beside it load as usual.
func TestBrowserEmbedSrcHttpOnly(t *testing.T) {
	h := harness.StartHosts(t, embedsPolicy(t))
	e := startEmbedHost(t, h)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("embeds.html", "portal=embeds")))
	tb.WaitBanner()
	tb.waitPlaceholders("v1", "v2", "s1")
	tb.Eval(`(() => { for (const [id, src] of [["js", "javascript:parent.ranEmbed = 'js'"], ["data", "data:text/html,<p>hi</p>"]]) {
		const f = document.createElement("iframe"); f.id = id; f.title = id;
		f.setAttribute("data-category", "media"); f.setAttribute("data-src", src);
		document.getElementById("later").appendChild(f); } return true; })()`, nil)
	tb.waitPlaceholders("v1", "v2", "s1", "js", "data")

	// held reports whether iframe id still has its placeholder.
	held := func(id string) string {
		return `((document.getElementById(` + harness.JSString(id) + `).previousElementSibling || {}).localName === "portal-consent-embed")`
	}
	// Load on the javascript: one: its placeholder goes, nothing runs,
	// nothing loads.
	// The banner covers the bottom of this short page, where the added
	// embeds are: their Load button is pressed by script, not by a click at
	// its place (which would land on the banner).
	tb.Eval(`(document.getElementById("js").previousElementSibling.shadowRoot.querySelector("button").click(), true)`, nil)
	tb.WaitFor("the javascript: embed's placeholder to go", "!"+held("js")+" && "+held("data"))
	var got struct {
		Ran    any
		JSSrc  string
		HasSrc bool
	}
	tb.Eval(`({Ran: window.ranEmbed === undefined ? null : window.ranEmbed, JSSrc: document.getElementById("js").getAttribute("src") || "",
		HasSrc: document.getElementById("js").hasAttribute("data-src")})`, &got)
	if got.Ran != nil || got.JSSrc != "" || got.HasSrc {
		t.Errorf("a javascript: data-src after Load: ran %v, src %q, data-src kept %v", got.Ran, got.JSSrc, got.HasSrc)
	}

	// Accept all: the http(s) embeds load, the data: one does not.
	tb.Click("pc-accept")
	tb.WaitFor("the choice", `document.cookie.includes("cookies_preferences=")`)
	tb.WaitFor("every placeholder to go", "!"+held("v1")+" && !"+held("v2")+" && !"+held("s1")+" && !"+held("data"))
	e.waitRequests(t, "/video/1", "/map/2", "/chart/3")
	var dataSrc string
	tb.Eval(`document.getElementById("data").getAttribute("src") || ""`, &dataSrc)
	if dataSrc != "" {
		t.Errorf("a data: data-src loaded once accepted: src %q", dataSrc)
	}
	errs := tb.ConsoleErrors()
	if len(errs) != 1 || !strings.Contains(errs[0], "data-src not http(s): javascript:") {
		t.Errorf("console errors %q, want one naming the refused data-src", errs)
	}
	if ex := tb.PageExceptions(); len(ex) > 0 {
		t.Errorf("page exceptions: %q", ex)
	}
}
