package e2e

// Browser tests: Debian's Chromium, driven by chromedp, loads portal pages
// served from one loopback origin (http://127.0.0.1:PORT) that embed the
// banner from the real consent host on another (http://localhost:PORT), and
// checks what the visitor and the portal see.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/harness"
)

func TestBrowserRejectIsStoredOnThePortalAndRemembered(t *testing.T) {
	for _, page := range []string{"plain.html", "hostile.html"} {
		t.Run(page, func(t *testing.T) {
			h := harness.StartHosts(t)
			tb := newTab(t)
			tb.Run(chromedp.Navigate(h.PortalURL(page, "")))
			tb.WaitBanner()
			tb.WaitApp()

			var kinds []string
			tb.Eval(harness.InFrame(`["pc-accept", "pc-reject"].map(id => d.getElementById(id).tagName + ":" + d.getElementById(id).type + ":" + d.getElementById(id).className)`), &kinds)
			if len(kinds) != 2 || !strings.HasPrefix(kinds[0], "BUTTON:button:") || strings.TrimPrefix(kinds[0], "BUTTON:button:") != strings.TrimPrefix(kinds[1], "BUTTON:button:") {
				t.Errorf("Accept and Reject are not buttons of equal weight: %q", kinds)
			}

			tb.Click("pc-reject")
			c := tb.WaitConsent()
			if c.Accepted(policy.Statistical) || !c.Accepted(policy.Necessary) {
				t.Errorf("Reject all stored %q", c.Encode())
			}
			tb.WaitFor("the banner to hide", harness.InFrame(`getComputedStyle(f).visibility === "hidden"`))

			// The cookie belongs to the portal's origin, not to the consent host.
			var consentCookies []*network.Cookie
			tb.Run(chromedp.ActionFunc(func(ctx context.Context) error {
				var err error
				consentCookies, err = network.GetCookies().WithURLs([]string{h.ConsentURL}).Do(ctx)
				return err
			}))
			for _, ck := range consentCookies {
				if ck.Name == policy.CookieName && ck.Domain == "localhost" {
					t.Errorf("cookie stored on the consent host: %+v", ck)
				}
			}

			// A returning visitor: the loader reads the choice and stops; no frame,
			// no wasm.
			wasm := h.WasmRequests()
			tb.Run(chromedp.Reload())
			tb.WaitReturning()
			if n := h.WasmRequests() - wasm; n != 0 {
				t.Errorf("a returning visitor fetched the wasm %d times", n)
			}
			tb.NoErrors()
		})
	}
}

func TestBrowserAcceptGrantsStatistical(t *testing.T) {
	h := harness.StartHosts(t)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "")))
	tb.WaitBanner()
	tb.WaitApp()
	tb.Click("pc-accept")
	c := tb.WaitConsent()
	if !c.Accepted(policy.Statistical) {
		t.Errorf("Accept all stored %q, which does not grant statistical", c.Encode())
	}
	tb.NoErrors()
}

func TestBrowserCustomizeStoresExactlyTheChoice(t *testing.T) {
	for _, toggle := range []bool{true, false} {
		t.Run(fmt.Sprintf("statistical=%v", toggle), func(t *testing.T) {
			h := harness.StartHosts(t)
			tb := newTab(t)
			tb.Run(chromedp.Navigate(h.PortalURL("hostile.html", "")))
			tb.WaitBanner()
			tb.WaitApp()
			tb.Click("pc-customize")
			tb.WaitFor("the preferences dialog", harness.InFrame(`d.getElementById("pc-preferences") !== null && getComputedStyle(f).height === innerHeight + "px"`))

			var state []bool
			tb.Eval(harness.InFrame(`[d.getElementById("pc-switch-necessary").checked, d.getElementById("pc-switch-necessary").disabled, d.getElementById("pc-switch-statistical").checked]`), &state)
			if fmt.Sprint(state) != "[true true false]" {
				t.Errorf("switches necessary checked, disabled, statistical checked = %v, want [true true false]", state)
			}
			if toggle {
				tb.Click("pc-switch-statistical")
				tb.WaitFor("the switch to turn on", harness.InFrame(`d.getElementById("pc-switch-statistical").checked`))
			}
			tb.Click("pc-save")
			c := tb.WaitConsent()
			if c.Accepted(policy.Statistical) != toggle {
				t.Errorf("Save stored %q, want statistical=%v", c.Encode(), toggle)
			}
			tb.WaitFor("the frame to hide", harness.InFrame(`getComputedStyle(f).visibility === "hidden"`))
			tb.NoErrors()
		})
	}
}

func TestBrowserPolicyDialog(t *testing.T) {
	h := harness.StartHosts(t)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("hostile.html", "")))
	tb.WaitBanner()
	tb.WaitApp()
	tb.Click("pc-policy")
	tb.WaitFor("the policy dialog", harness.InFrame(`d.getElementById("pc-policy-dialog") !== null`))

	var dlg struct {
		Role, Modal, LabelledBy, Title, Text string
		FocusInside                          bool
		FrameHeight, ViewHeight              float64
	}
	tb.Eval(harness.InFrame(`(() => { const g = d.getElementById("pc-policy-dialog");
		return { Role: g.getAttribute("role"), Modal: g.getAttribute("aria-modal"),
			LabelledBy: g.getAttribute("aria-labelledby"),
			Title: d.getElementById(g.getAttribute("aria-labelledby")).textContent,
			Text: g.innerText, FocusInside: document.activeElement === f && g.contains(d.activeElement),
			FrameHeight: f.getBoundingClientRect().height, ViewHeight: innerHeight }; })()`), &dlg)
	if dlg.Role != "dialog" || dlg.Modal != "true" || dlg.Title != "Cookies policy" {
		t.Errorf("dialog role=%q aria-modal=%q title=%q", dlg.Role, dlg.Modal, dlg.Title)
	}
	for _, want := range []string{"What is a cookie?", "sessionid", "django_language", "csrftoken", "cookies_preferences", "https://mtran.my.opendatasoft.com"} {
		if !strings.Contains(dlg.Text, want) {
			t.Errorf("policy dialog does not show %q", want)
		}
	}
	if !dlg.FocusInside {
		t.Error("focus did not move into the dialog")
	}
	if dlg.FrameHeight != dlg.ViewHeight {
		t.Errorf("frame is %vpx high while the dialog is open, want the viewport's %vpx", dlg.FrameHeight, dlg.ViewHeight)
	}

	tb.Run(chromedp.KeyEvent(kb.Escape))
	tb.WaitFor("the dialog to close", harness.InFrame(`d.getElementById("pc-policy-dialog") === null`))

	tb.WaitFor("focus to return to the Cookie policy button", harness.InFrame(`d.activeElement === d.getElementById("pc-policy")`))
	if m := tb.Mode(); m != "banner" {
		t.Errorf("after Escape the app shows %q, want the banner again", m)
	}

	// The Close button closes it too.
	tb.Click("pc-policy")
	tb.WaitFor("the policy dialog", harness.InFrame(`d.getElementById("pc-policy-dialog") !== null`))
	tb.Click("pc-close")
	tb.WaitFor("the dialog to close", harness.InFrame(`d.getElementById("pc-policy-dialog") === null`))
	if tb.Cookie() != "" {
		t.Errorf("closing the policy stored a choice: %q", tb.Cookie())
	}
	tb.NoErrors()
}

// TestBrowserHostilePortalIsUntouched checks that every behaviour of a portal
// page that go-app would otherwise take over still works with the banner.
func TestBrowserHostilePortalIsUntouched(t *testing.T) {
	h := harness.StartHosts(t)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("hostile.html", "")))
	tb.WaitBanner()
	// The server's banner, in the page before the app runs: the portal's
	// rules (all: unset, colours, font, display: inline, !important, on
	// every div, p and button) reach neither its host nor what it holds.
	var server map[string]string
	tb.Eval(harness.InFrame(`(() => { const s = getComputedStyle(d.getElementById("pc-accept")), hs = getComputedStyle(f),
		b = d.querySelector(".pc-banner").getBoundingClientRect();
		return { color: s.color, background: s.backgroundColor, display: s.display, font: s.fontFamily,
			host: f.tagName + " " + hs.position + " " + hs.display, bottom: String(Math.abs(b.bottom - innerHeight) < 1 && b.width === innerWidth) }; })()`), &server)
	if st := server; st["host"] != "HOST fixed block" || st["bottom"] != "true" || st["color"] == "rgb(255, 0, 0)" ||
		st["background"] == "rgb(0, 255, 0)" || st["display"] == "inline" || strings.Contains(st["font"], "monospace") {
		t.Errorf("the portal's CSS reached the server's banner: %v", st)
	}
	tb.WaitApp()

	var state struct {
		Handlers, FirstKept, StorageKept bool
		FrameStyle                       map[string]string
	}
	tb.Eval(`({
		Handlers: window.onclick === portalHandlers.click && window.onpopstate === portalHandlers.popstate && window.onresize === portalHandlers.resize,
		FirstKept: document.body.firstElementChild === portalFirst && portalFirst.id === "first",
		StorageKept: localStorage.getItem("portal-state") !== null,
		FrameStyle: (() => { const s = getComputedStyle(document.querySelector("iframe[data-portal-consent]").contentDocument.getElementById("pc-accept"));
			return { color: s.color, background: s.backgroundColor, display: s.display, font: s.fontFamily }; })()
	})`, &state)
	if !state.Handlers {
		t.Error("the portal's window.onclick/onpopstate/onresize were replaced")
	}
	if !state.FirstKept {
		t.Error("the portal's first body element was replaced")
	}
	if !state.StorageKept {
		t.Error("the portal's localStorage item was deleted")
	}
	if st := state.FrameStyle; st["color"] == "rgb(255, 0, 0)" || st["background"] == "rgb(0, 255, 0)" || st["display"] == "inline" || strings.Contains(st["font"], "monospace") {
		t.Errorf("the portal's CSS reached the banner: %v", st)
	}

	// A click on the page reaches the portal's handler exactly once.
	tb.ClickPage("#portal-button")
	var clicks int
	tb.Eval(`portalLog.click`, &clicks)
	if clicks != 1 {
		t.Errorf("portal window.onclick ran %d times for one click, want 1", clicks)
	}

	// Resizing the window runs the portal's onresize.
	tb.Run(chromedp.EmulateViewport(900, 700))
	tb.WaitFor("the portal's onresize", `portalLog.resize > 0`)

	// The SPA link adds exactly one history entry; Back runs the portal's onpopstate.
	var before, after int
	tb.Eval(`history.length`, &before)
	tb.ClickPage("#spa")
	tb.WaitFor("the SPA route", `location.pathname === "/spa/route"`)
	tb.Eval(`history.length`, &after)
	if after != before+1 {
		t.Errorf("SPA navigation grew history from %d to %d, want exactly one entry", before, after)
	}
	tb.Run(chromedp.NavigateBack())
	tb.WaitFor("the portal's onpopstate after Back", `portalLog.popstate === 1 && location.pathname === "/hostile.html"`)

	// The banner still works after all this, and the link navigates.
	tb.Click("pc-reject")
	tb.WaitConsent()
	tb.ClickPage("#nav")
	tb.WaitFor("the link to navigate", `location.pathname === "/page2.html"`)
	tb.NoErrors()
}

func TestBrowserMalformedCookieAsksAgain(t *testing.T) {
	for _, value := range []string{"garbage", "1|1|x|y|z", "2|1|1732300000|q8B3x0aPq1V2LmN7rT4sYw|necessary=1", "%7B%22a%22%3A1%7D"} {
		t.Run(value, func(t *testing.T) {
			h := harness.StartHosts(t)
			tb := newTab(t)
			tb.Run(chromedp.Navigate(h.PortalURL("page2.html", "")))
			tb.Eval(`document.cookie = "cookies_preferences=`+value+`; path=/"`, nil)
			tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "")))
			tb.WaitBanner()
			tb.WaitApp()
			tb.NoErrors()
		})
	}
}

func TestBrowserUnknownPortalLeavesThePageAlone(t *testing.T) {
	h := harness.StartHosts(t)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "portal=nope")))
	tb.FailedQuietly(`unknown portal "nope"`)
}

func TestBrowserContentSecurityPolicy(t *testing.T) {
	t.Run("wasm-unsafe-eval allowed", func(t *testing.T) {
		h := harness.StartHosts(t)
		tb := newTab(t)
		tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "csp=wasm")))
		tb.WaitBanner()
		tb.WaitApp()
		tb.Click("pc-accept")
		if c := tb.WaitConsent(); !c.Accepted(policy.Statistical) {
			t.Errorf("stored %q", c.Encode())
		}
		tb.NoErrors()
	})
	t.Run("wasm-unsafe-eval missing", func(t *testing.T) {
		h := harness.StartHosts(t)
		tb := newTab(t)
		tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "csp=nowasm")))
		tb.WaitBanner()
		tb.Hover() // the app is fetched and compiled on intent
		tb.FailedQuietly("wasm-unsafe-eval")
	})
}

// TestBrowserBrokenConsentHost checks that each way the consent app can fail
// ends in exactly one clear console error, no frame and no choice, while the
// portal page goes on.
func TestBrowserBrokenConsentHost(t *testing.T) {
	for _, tc := range []struct{ kase, want string }{
		{"wasm404", "HTTP status code is not ok"},
		{"corrupt", "could not start"},
		{"badpolicy", "the consent app stopped: policy:1: name: is empty"},
		{"unreachable", "Failed to fetch"},
	} {
		t.Run(tc.kase, func(t *testing.T) {
			h := harness.StartHosts(t)
			tb := newTab(t)
			consent := h.Portal.URL + "/broken/" + tc.kase
			tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "consent="+consent)))
			if tc.kase != "unreachable" {
				// The app is fetched, and starts, when the visitor shows
				// intent.
				tb.WaitBanner()
				tb.Hover()
			}
			tb.FailedQuietly(tc.want)
		})
	}
}

// TestBrowserFirstVisitBeforeTheApp holds the wasm back: the server's banner
// shows at once, and Accept or Reject clicked before the app runs is stored
// (by the loader) and never lost.
func TestBrowserFirstVisitBeforeTheApp(t *testing.T) {
	for _, button := range []string{"pc-reject", "pc-accept"} {
		t.Run(button, func(t *testing.T) {
			h := harness.StartHosts(t)
			release := h.HoldWasm()
			defer release()
			tb := newTab(t)
			tb.Run(chromedp.Navigate(h.PortalURL("hostile.html", "")))
			tb.WaitBanner()
			if tb.AppRunning() {
				t.Fatal("the app runs although its wasm is held back")
			}
			tb.Click(button)
			c := tb.WaitConsent()
			if c.Accepted(policy.Statistical) != (button == "pc-accept") {
				t.Errorf("%s before the app stored %q", button, c.Encode())
			}
			tb.WaitFor("the frame to go", `document.querySelector("iframe[data-portal-consent]") === null`)
			release()
			time.Sleep(300 * time.Millisecond)
			tb.NoErrors()

			tb.Run(chromedp.Reload())
			tb.WaitReturning()
		})
	}
}

// TestBrowserCustomizeBeforeTheApp: Customize clicked on the server's banner
// opens the preferences as soon as the app runs, and closing them returns
// focus to the Customize button.
func TestBrowserCustomizeBeforeTheApp(t *testing.T) {
	h := harness.StartHosts(t)
	release := h.HoldWasm()
	defer release()
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "")))
	tb.WaitBanner()
	tb.Click("pc-customize")
	tb.WaitFor("the busy state", harness.InFrame(`d.getElementById("pc-customize").getAttribute("aria-busy") === "true"`))
	release()
	tb.WaitFor("the preferences dialog", harness.InFrame(`d.getElementById("pc-preferences") !== null && d.activeElement.id === "pc-preferences"`))
	tb.Run(chromedp.KeyEvent(kb.Escape))
	tb.WaitFor("focus back on Customize", harness.InFrame(`d.getElementById("pc-preferences") === null && d.activeElement === d.getElementById("pc-customize")`))
	tb.NoErrors()
}

// TestBrowserTakeoverIsSeamless compares the pixels of the server's banner
// with the app's first render.
func TestBrowserTakeoverIsSeamless(t *testing.T) {
	h := harness.StartHosts(t)
	release := h.HoldWasm()
	defer release()
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "")))
	tb.WaitBanner()
	tb.TakeoverChangesNothingVisible(release, "the server's banner and the app's")
	tb.NoErrors()
}

// TestBrowserStrictCSP: a portal that allows no inline styles still gets a
// styled banner (a constructed stylesheet) and a working app.
func TestBrowserStrictCSP(t *testing.T) {
	h := harness.StartHosts(t)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "csp=strict")))
	tb.WaitBanner()
	tb.WaitApp()
	var bg string
	tb.Eval(harness.InFrame(`getComputedStyle(d.getElementById("pc-accept")).backgroundColor`), &bg)
	if bg == "" || bg == "rgba(0, 0, 0, 0)" || bg == "rgb(239, 239, 239)" {
		t.Errorf("the Accept button is unstyled (background %q)", bg)
	}
	tb.Click("pc-reject")
	tb.WaitConsent()
	tb.NoErrors()
}

// TestBrowserLoaderAgreesWithGo runs every value of the Go codec's vectors
// (policy/testdata/cookie-vectors.json) through the real loader: a valid
// choice shows nothing and fetches no wasm; anything else shows the banner.
func TestBrowserLoaderAgreesWithGo(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "policy", "testdata", "cookie-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vf struct {
		Now    int64 `json:"now"`
		Policy struct {
			Revision            int `json:"revision"`
			LifetimeDays        int `json:"lifetimeDays"`
			RefusalLifetimeDays int `json:"refusalLifetimeDays"`
			Categories          []struct {
				ID       string `json:"id"`
				Required bool   `json:"required"`
			} `json:"categories"`
		} `json:"policy"`
		Values []struct {
			Name, Value, Error string
		} `json:"values"`
	}
	if err := json.Unmarshal(raw, &vf); err != nil {
		t.Fatal(err)
	}
	// A portal whose policy is the vectors' policy.
	p := *harness.Policies[0]
	p.ID, p.Revision, p.LifetimeDays, p.Categories = "vectors", vf.Policy.Revision, vf.Policy.LifetimeDays, nil
	p.RefusalLifetimeDays = vf.Policy.RefusalLifetimeDays
	p.Translations = nil // its categories are the vectors', in English only
	for _, c := range vf.Policy.Categories {
		p.Categories = append(p.Categories, policy.Category{ID: c.ID, Name: c.ID, Description: c.ID, Required: c.Required})
	}
	h := harness.StartHosts(t, &p)
	release := h.HoldWasm() // the verdict needs no app
	defer release()
	tb := newTab(t)
	for _, v := range vf.Values {
		q := url.Values{"portal": {"vectors"}, "cookie": {v.Value}, "now": {strconv.FormatInt(vf.Now, 10)}}
		tb.Run(chromedp.Navigate(h.PortalURL("vector.html", q.Encode())))
		var stored string
		tb.Eval(`window.cookieStored`, &stored)
		if got := policy.CookieValue(stored, policy.CookieName); got != v.Value {
			t.Logf("%s: the browser stores %q as %q; judged as stored", v.Name, v.Value, got)
		}
		if v.Error == "" && policy.CookieValue(stored, policy.CookieName) == v.Value {
			tb.WaitReturning()
		} else {
			tb.WaitFor(v.Name+": the banner", harness.InFrame(`d.getElementById("pc-accept") !== null`))
		}
		tb.Run(chromedp.ActionFunc(func(ctx context.Context) error {
			return network.ClearBrowserCookies().Do(ctx)
		}))
	}
	tb.NoErrors()
}

// TestBrowserAppStartsOnIntent: the app is neither fetched nor started while
// the server's banner shows and the visitor shows no intent; a keyboard
// visitor tabbing onto Accept all and Reject all does not fetch it (those
// never need it), focus moving on to Customize does, and the app takes over
// without losing focus; Enter on the app's Customize opens the preferences.
func TestBrowserAppStartsOnIntent(t *testing.T) {
	h := harness.StartHosts(t)
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("plain.html", "")))
	tb.WaitBanner()
	time.Sleep(2500 * time.Millisecond) // past the load event and an idle callback
	focused := func() string {
		var id string
		tb.Eval(`(document.activeElement && document.activeElement.shadowRoot && document.activeElement.shadowRoot.activeElement || {}).id || ""`, &id)
		return id
	}
	for i := 0; i < 10 && focused() != "pc-accept"; i++ {
		tb.Run(chromedp.KeyEvent(kb.Tab))
	}
	if focused() != "pc-accept" {
		t.Fatal("ten Tabs did not reach Accept all on the server's banner")
	}
	tb.Run(chromedp.KeyEvent(kb.Tab))
	if id := focused(); id != "pc-reject" {
		t.Fatalf("Tab after Accept all focused %q, want pc-reject", id)
	}
	time.Sleep(500 * time.Millisecond)
	if n := h.WasmRequests(); n != 0 || tb.AppRunning() {
		t.Fatalf("focus on Accept all and Reject all fetched the wasm %d times (app running: %v)", n, tb.AppRunning())
	}
	tb.Run(chromedp.KeyEvent(kb.Tab))
	tb.WaitFor("the app, started by focus on Customize", harness.InFrame(`w.portalConsentRunning === true && d.querySelector(".pc-root[data-pc-mode]") !== null`))
	tb.WaitFor("focus on Customize in the app's banner", harness.InFrame(`document.activeElement === f && d.activeElement && d.activeElement.id === "pc-customize"`))
	tb.Run(chromedp.KeyEvent(kb.Enter))
	tb.WaitDialog("pc-preferences")
	tb.NoErrors()
}
