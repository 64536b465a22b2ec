package harness

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/policy"
)

// AppFrame returns a JavaScript condition: cond evaluated with the consent
// frame (f) and its window (w) in scope, whether or not the server's banner
// still shows; false without a frame.
func AppFrame(cond string) string {
	return `(() => { const f = document.querySelector("iframe[data-portal-consent]"); if (!f || !f.contentWindow) return false;
		const w = f.contentWindow; return (` + cond + `); })()`
}

// Tab is the tab of a browser of its own, with what its pages logged. Its
// methods fail T (Fatal) when the browser does not answer or a wait times
// out; checks (NoErrors, FailedQuietly…) report with Error and go on.
type Tab struct {
	T   testing.TB      // the test or benchmark the tab reports to
	Ctx context.Context // the tab's chromedp context, for actions of the caller's own

	mu         sync.Mutex
	errors     []string // console.error calls
	exceptions []string // uncaught exceptions
}

// NewTab starts a browser of its own for t (see NewBrowser) and returns its
// tab, recording the console errors and uncaught exceptions of its pages. It
// fails t if Chromium does not start.
func NewTab(t testing.TB) *Tab {
	t.Helper()
	ctx := NewBrowser(t)
	tb := &Tab{T: t, Ctx: ctx}
	chromedp.ListenTarget(ctx, func(ev any) {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError {
				var parts []string
				for _, a := range ev.Args {
					var s string
					if json.Unmarshal(a.Value, &s) != nil {
						s = string(a.Value) + a.Description
					}
					parts = append(parts, s)
				}
				tb.errors = append(tb.errors, strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			tb.exceptions = append(tb.exceptions, msg)
		}
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return tb
}

// Run runs chromedp actions in the tab; an error fails the test at once.
func (tb *Tab) Run(actions ...chromedp.Action) {
	tb.T.Helper()
	if err := chromedp.Run(tb.Ctx, actions...); err != nil {
		tb.T.Fatal(err)
	}
}

// ConsoleErrors returns the console.error calls of the tab's pages so far,
// each as its arguments joined by spaces.
func (tb *Tab) ConsoleErrors() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.errors...)
}

// PageExceptions returns the uncaught exceptions of the tab's pages so far.
func (tb *Tab) PageExceptions() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.exceptions...)
}

// Eval evaluates the JavaScript expression expr in the portal page into out
// (nil to drop the result); an exception or a result out cannot hold fails
// the test.
func (tb *Tab) Eval(expr string, out any) {
	tb.T.Helper()
	tb.Run(chromedp.Evaluate(expr, out))
}

// InFrame wraps a JavaScript expression so that it runs with d (the
// document or shadow root the banner is in), w (its window) and f (what
// holds it) in scope; it yields null when there is none. Before the app
// runs, the server's banner is in a shadow root of the page: d is that
// shadow root, w the page's window, and f stands for its host, with the
// page's viewport as its box (coordinates in d are the page's) and
// getComputedStyle(f) the host's style. Once the app has taken over, d is
// the consent frame's document, w its window and f the frame.
func InFrame(expr string) string {
	return `(() => { const h = document.querySelector("div[data-portal-consent]");
		let f, d, w;
		if (h && h.shadowRoot) {
			d = h.shadowRoot; w = window;
			f = {tagName: "HOST", host: h, getBoundingClientRect: () => new DOMRect(0, 0, innerWidth, innerHeight)};
		} else {
			f = document.querySelector("iframe[data-portal-consent]");
			if (!f || !f.contentDocument) return null;
			d = f.contentDocument; w = f.contentWindow;
		}
		const getComputedStyle = (e, p) => window.getComputedStyle(e && e.tagName === "HOST" && e.host ? e.host : e, p);
		return (` + expr + `); })()`
}

// WaitFor polls the JavaScript condition cond in the portal page until it is
// true; after 20 s it fails the test, naming what and the frame's state
// (mode, dialogs, focus), console errors and exceptions. A condition that
// throws counts as false.
func (tb *Tab) WaitFor(what, cond string) {
	tb.T.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ok bool
		if err := chromedp.Run(tb.Ctx, chromedp.Evaluate(`!!(`+cond+`)`, &ok)); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			var state string
			chromedp.Run(tb.Ctx, chromedp.Evaluate(`JSON.stringify(`+InFrame(`({mode: (d.querySelector(".pc-root") || {getAttribute() { return null; }}).getAttribute("data-pc-mode"),
				running: w.portalConsentRunning === true, start: w.portalConsentConfig && w.portalConsentConfig.start,
				dialogs: [...d.querySelectorAll("[role=dialog]")].map(e => e.id), active: d.activeElement && (d.activeElement.id || d.activeElement.tagName),
				topActive: document.activeElement && document.activeElement.tagName, visibility: getComputedStyle(f).visibility})`)+`)`, &state))
			tb.T.Fatalf("timed out waiting for %s (console errors: %q, exceptions: %q, frame: %s)", what, tb.ConsoleErrors(), tb.PageExceptions(), state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Mode returns the consent frame's layout: "hidden", "banner", "modal", or
// "" while the app has not rendered.
func (tb *Tab) Mode() string {
	tb.T.Helper()
	var m string
	tb.Eval(InFrame(`(d.querySelector(".pc-root") || {getAttribute(){return ""}}).getAttribute("data-pc-mode") || ""`)+` || ""`, &m)
	return m
}

// WaitBanner waits until the banner is shown and visible: the server's, in
// the page, or the app's, in the frame.
func (tb *Tab) WaitBanner() {
	tb.T.Helper()
	tb.WaitFor("the banner", InFrame(`d.getElementById("pc-accept") !== null &&
		getComputedStyle(f).visibility === "visible" && f.getBoundingClientRect().height > 40 &&
		d.getElementById("pc-accept").getBoundingClientRect().height > 0`))
}

// WaitApp shows intent (hovers the banner) and waits until the Go consent
// app runs in the frame: app.Root.OnStart sets portalConsentRunning after the
// first render.
func (tb *Tab) WaitApp() {
	tb.T.Helper()
	if !tb.AppRunning() {
		tb.Hover()
	}
	tb.WaitFor("the consent app", InFrame(`w.portalConsentRunning === true && d.querySelector(".pc-root[data-pc-mode]") !== null`))
}

// WaitReturning waits until the loader has applied the portal's
// configuration (PortalConsent.get().ready: set in the same task that decides
// to show nothing, so no sleep is needed), then checks that it showed nothing
// and fetched no wasm.
func (tb *Tab) WaitReturning() {
	tb.T.Helper()
	tb.WaitFor("the portal configuration applied", `window.PortalConsent && PortalConsent.get().ready`)
	var state struct {
		Frame bool
		Wasm  []string
	}
	tb.Eval(`({Frame: document.querySelector("iframe") !== null,
		Wasm: performance.getEntriesByType("resource").map(e => e.name).filter(n => n.endsWith(".wasm"))})`, &state)
	if state.Frame || len(state.Wasm) > 0 {
		tb.T.Errorf("returning visitor: frame shown %v, wasm fetched %q", state.Frame, state.Wasm)
	}
}

// Hover moves the mouse over the banner: the visitor's intent, which starts
// the app. It fails the test when there is no banner to hover.
func (tb *Tab) Hover() {
	tb.T.Helper()
	var xy []float64
	tb.Eval(InFrame(`(() => { const r = f.getBoundingClientRect(), b = (d.querySelector(".pc-banner") || f).getBoundingClientRect();
		return [r.left + Math.max(b.left, 0) + b.width / 2, r.top + Math.max(b.top, 0) + 8]; })()`), &xy)
	if len(xy) != 2 {
		tb.T.Fatal("no consent frame to hover")
	}
	tb.Run(chromedp.MouseEvent(input.MouseMoved, xy[0], xy[1]))
}

// AppRunning reports whether the Go consent app has started in the frame.
func (tb *Tab) AppRunning() bool {
	tb.T.Helper()
	var ok bool
	tb.Eval(`!!(`+InFrame(`w.portalConsentRunning === true`)+`)`, &ok)
	return ok
}

// Click clicks, with the mouse, the centre of the element with the given id
// inside the consent frame (or the server's banner); it fails the test when
// there is no such element.
func (tb *Tab) Click(id string) {
	tb.T.Helper()
	var xy []float64
	tb.Eval(InFrame(`(() => { const r = f.getBoundingClientRect(), e = d.getElementById(`+JSString(id)+`);
		if (!e) return null; const b = e.getBoundingClientRect();
		return [r.left + b.left + b.width / 2, r.top + b.top + b.height / 2]; })()`), &xy)
	if len(xy) != 2 {
		tb.T.Fatalf("no element #%s in the consent frame", id)
	}
	tb.Run(chromedp.MouseClickXY(xy[0], xy[1]))
}

// ClickPage clicks, with the mouse, the first element of the portal page
// that the CSS selector sel matches, waiting for it to be visible.
func (tb *Tab) ClickPage(sel string) {
	tb.T.Helper()
	tb.Run(chromedp.Click(sel, chromedp.ByQuery))
}

// JSString returns s as a JavaScript string literal (JSON-quoted), to put
// into an expression.
func JSString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Cookie returns the cookies_preferences value the portal page sees, "" when
// there is none.
func (tb *Tab) Cookie() string {
	tb.T.Helper()
	var line string
	tb.Eval(`document.cookie`, &line)
	return policy.CookieValue(line, policy.CookieName)
}

// WaitConsent waits for the cookies_preferences cookie and for no receipt
// left pending (see WaitAcknowledged), and returns the choice it holds,
// checked against the mtran policy (Policies[0]); a value that is no current
// choice on it fails the test.
func (tb *Tab) WaitConsent() policy.Consent {
	tb.T.Helper()
	tb.WaitFor("the cookies_preferences cookie", `document.cookie.includes("cookies_preferences=")`)
	tb.WaitAcknowledged()
	c, err := policy.Current(tb.Cookie(), Policies[0], time.Now())
	if err != nil {
		tb.T.Fatalf("stored cookie %q: %v", tb.Cookie(), err)
	}
	return c
}

// PendingJS is a JavaScript expression: the receipts the page's loader
// keeps until the consent host acknowledges them
// (cookies_preferences_pending in localStorage), [] for none.
const PendingJS = `JSON.parse(localStorage.getItem("cookies_preferences_pending") || "[]")`

// WaitAcknowledged waits until the page keeps no receipt pending: the
// consent host acknowledged (or finally refused) every receipt sent. A test
// that navigates away before would leave the next page view to send it again.
func (tb *Tab) WaitAcknowledged() {
	tb.T.Helper()
	tb.WaitFor("the receipt acknowledged", `(() => { try { return `+PendingJS+`.length === 0; } catch { return true; } })()`)
}

// NoErrors reports (Error) every console error and uncaught exception of the
// tab's pages so far.
func (tb *Tab) NoErrors() {
	tb.T.Helper()
	if e := tb.ConsoleErrors(); len(e) > 0 {
		tb.T.Errorf("console errors: %q", e)
	}
	if e := tb.PageExceptions(); len(e) > 0 {
		tb.T.Errorf("page exceptions: %q", e)
	}
}

// FailedQuietly waits for the loader's console error and checks the outcome
// of every failure: exactly one error, starting "PortalConsent: " and
// containing want; no frame left; the page's own script ran; no choice
// stored; no uncaught exception.
func (tb *Tab) FailedQuietly(want string) {
	tb.T.Helper()
	for deadline := time.Now().Add(20 * time.Second); len(tb.ConsoleErrors()) == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // a second error would arrive by now
	errs := tb.ConsoleErrors()
	if len(errs) != 1 || !strings.HasPrefix(errs[0], "PortalConsent: ") || !strings.Contains(errs[0], want) {
		tb.T.Errorf("console errors = %q, want one containing %q", errs, want)
	}
	var state struct{ Frame, Ready bool }
	tb.Eval(`({Frame: document.querySelector("iframe") !== null, Ready: window.portalReady === true})`, &state)
	if state.Frame || !state.Ready {
		tb.T.Errorf("frame left: %v, page script ran: %v", state.Frame, state.Ready)
	}
	if tb.Cookie() != "" {
		tb.T.Errorf("a choice was stored: %q", tb.Cookie())
	}
	if e := tb.PageExceptions(); len(e) > 0 {
		tb.T.Errorf("page exceptions: %q", e)
	}
}
