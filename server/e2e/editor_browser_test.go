package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/policyfiles"
	"github.com/portalconsent/portalconsent/server/receipts/postgres"
	"github.com/portalconsent/portalconsent/server/servertest"
	"github.com/portalconsent/portalconsent/web"
)

// fleetHost returns a consent server (real assets, the built-in portals,
// the test operators) on the PostgreSQL database dsn, following the
// publications of the other hosts of that database until ctx is done.
func fleetHost(t *testing.T, ctx context.Context, dsn string) *server.Server {
	t.Helper()
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := server.New(harness.Policies, web.Files(), server.WithReceipts(st), server.WithOperators(servertest.Operators(t)),
		server.WithAdminToken(servertest.AdminToken), server.WithSignInRate(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	go srv.FollowPolicies(ctx)
	return srv
}

// publishClock wraps a console host: it records when a publication from
// the editor was answered (its 303), in Unix nanoseconds.
func publishClock(next http.Handler, at *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if r.Method == "POST" && rec.status == http.StatusSeeOther {
			at.Store(time.Now().UnixNano())
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

// setPolicy replaces the text of the editor's policy with what edit
// (a JavaScript expression of the current text, v) returns.
func (tb *tab) setPolicy(edit string) {
	tb.T.Helper()
	var ok bool
	tb.Eval(`(() => { const ta = document.getElementById("policy-source"), v = ta.value; ta.value = `+edit+`; return ta.value !== v; })()`, &ok)
	if !ok {
		tb.T.Fatalf("the edit %s changed nothing", edit)
	}
}

// submitEditor presses the editor's button of action and waits for the
// page it answers.
func (tb *tab) submitEditor(action string) {
	tb.T.Helper()
	tb.Eval(`(document.body.dataset.old = "1", true)`, nil)
	tb.Run(chromedp.Click(`button[value="`+action+`"]`, chromedp.ByQuery))
	tb.WaitFor("the editor's answer to "+action, `document.readyState === "complete" && !document.body.dataset.old && document.querySelector("h1") !== null`)
}

// TestBrowserEditorPublishesToTheFleet: two hosts on one PostgreSQL
// database. A visitor chooses on a portal page served by host b; an
// operator signs in to the console of host a, edits a cookie row of the
// portal's policy, sees the problem of a broken edit beside its line,
// previews the fixed edit (the warning that visitors are asked again),
// publishes; within a second of the publication the portal page on host b
// asks the visitor again with the new revision. A portal created in the
// console of host a then serves its banner on host b.
func TestBrowserEditorPublishesToTheFleet(t *testing.T) {
	dsn := servertest.PostgresDSN(t)
	ctx, cancel := context.WithCancel(context.Background())
	a, b := fleetHost(t, ctx, dsn), fleetHost(t, ctx, dsn)
	t.Cleanup(cancel)
	var publishedAt atomic.Int64
	console := httptest.NewServer(publishClock(a, &publishedAt))
	t.Cleanup(console.Close)
	hb := harness.StartHostsServing(t, b)

	// The portal, published through host a's API.
	yaml := strings.Replace(string(policyfiles.Example()), "id: example", "id: fleet", 1)
	req, err := http.NewRequest("PUT", console.URL+"/api/v1/portals/fleet/policy", strings.NewReader(yaml))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+servertest.AdminToken)
	req.Header.Set("Content-Type", "application/yaml")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("publishing fleet: %d", res.StatusCode)
	}
	first := configRevision(t, hb.Consent.URL, "fleet", 0, time.Now().Add(time.Second))

	// A visitor of host b chooses.
	tb := newTab(t)
	tb.Run(chromedp.Navigate(hb.PortalURL("plain.html", "portal=fleet")))
	tb.WaitBanner()
	tb.Click("pc-accept")
	tb.WaitChoice()

	// The operator, on host a.
	tb.Run(chromedp.Navigate(console.URL + "/console/"))
	tb.consoleSignIn(servertest.DPOToken)
	tb.WaitFor("the portal list", `document.querySelector("main table a") !== null`)
	tb.Run(chromedp.Navigate(console.URL + "/console/portals/fleet/policy"))
	tb.WaitFor("the editor", `document.querySelector("textarea#policy-source") !== null && document.querySelector("label[for=policy-source]") !== null`)

	// A broken edit of the marketing row: its problem beside its line.
	tb.setPolicy(`v.replace("    category: marketing\n    duration: 90 days", "    category: adverts\n    duration: 90 days")`)
	var broken string
	tb.Eval(`document.getElementById("policy-source").value`, &broken)
	want := 0
	for i, l := range strings.Split(broken, "\n") {
		if strings.TrimSpace(l) == "category: adverts" {
			want = i + 1
		}
	}
	tb.submitEditor("check")
	var marked, listed []int
	tb.Eval(`[...document.querySelectorAll(".pc-gutter .pc-bad")].map(e => +e.dataset.line)`, &marked)
	tb.Eval(`[...document.querySelectorAll("#policy-problems .pc-problem")].map(e => +e.dataset.line)`, &listed)
	problem := tb.text("#policy-problems .pc-problem")
	if want == 0 || fmt.Sprint(marked) != fmt.Sprint([]int{want}) || fmt.Sprint(listed) != fmt.Sprint([]int{want}) ||
		!strings.Contains(problem, fmt.Sprintf("Line %d", want)) || !strings.Contains(problem, `"adverts" is not a declared category`) {
		t.Fatalf("the broken edit: lines marked %v, listed %v, want line %d; problem %q", marked, listed, want, problem)
	}
	// The gutter's number sits beside its line of the policy.
	var offset float64
	tb.Eval(`(() => { const ta = document.getElementById("policy-source"), n = document.querySelector(".pc-gutter .pc-bad");
		const lh = parseFloat(getComputedStyle(ta).lineHeight), top = ta.getBoundingClientRect().top + parseFloat(getComputedStyle(ta).paddingTop) + ta.clientTop;
		return n.getBoundingClientRect().top - (top + (`+fmt.Sprint(want-1)+`) * lh); })()`, &offset)
	if offset < -2 || offset > 2 {
		t.Errorf("the gutter's line %d is %.1f px from its line of the policy", want, offset)
	}

	// The fixed edit: a shorter duration, previewed, then published.
	tb.setPolicy(`v.replace("    category: adverts\n    duration: 90 days", "    category: marketing\n    duration: 30 days")`)
	tb.submitEditor("preview")
	if got := tb.text(".pc-asks-again"); !strings.Contains(got, "asks every visitor again") {
		t.Errorf("the preview's warning: %q", got)
	}
	var previews int
	tb.Eval(`document.querySelectorAll(".pc-preview .pc-banner, .pc-preview .pc-dialog, .pc-preview .pc-policy").length`, &previews)
	if previews < 6 {
		t.Errorf("%d previews of the banner, the preferences and the policy page, want light and dark of each", previews)
	}
	var rows []string
	tb.Eval(`[...document.querySelectorAll(".pc-change")].map(r => r.innerText)`, &rows)
	if len(rows) != 1 || !strings.Contains(rows[0], "_gcl_au") || !strings.Contains(rows[0], "30 days") {
		t.Errorf("the changes: %q", rows)
	}
	tb.submitEditor("publish")
	if got := tb.text("#editor-notice"); !strings.Contains(got, "Version 2 published") {
		t.Fatalf("after publishing: %q", got)
	}
	at := time.Unix(0, publishedAt.Load())
	next := configRevision(t, hb.Consent.URL, "fleet", first, at.Add(time.Second))
	t.Logf("host b serves the new revision %v after the publication on host a", time.Since(at))

	// The visitor's page on host b asks again, for the new revision. (A
	// browser may keep config.json for its max-age, 60 s: here it asks the
	// host, as one without it cached does.)
	tb.Run(network.SetCacheDisabled(true), chromedp.Navigate(hb.PortalURL("plain.html", "portal=fleet")))
	tb.WaitBanner()
	if d := time.Since(at); d > time.Second {
		t.Errorf("host b's page shows the banner again %v after the publication, want within 1 s", d)
	} else {
		t.Logf("host b's page shows the banner again %v after the publication", d)
	}
	tb.Click("pc-reject")
	tb.WaitFor("the new choice", fmt.Sprintf(`document.cookie.includes("|%d|")`, next))

	// A new portal, created in the console of host a: its banner on host b.
	tb.Run(chromedp.Navigate(console.URL + "/console/"))
	tb.Run(chromedp.Click(`a#new-portal`, chromedp.ByQuery))
	tb.WaitFor("the new-portal form", `location.pathname === "/console/new-portal" && document.querySelector("textarea#policy-source") !== null`)
	tb.setPolicy(`v.replace("id: new-portal", "id: consolemade")`)
	tb.submitEditor("publish")
	tb.WaitFor("the new portal's editor", `location.pathname === "/console/portals/consolemade/policy"`)
	configRevision(t, hb.Consent.URL, "consolemade", 0, time.Now().Add(time.Second))
	tb.Run(chromedp.Navigate(hb.PortalURL("plain.html", "portal=consolemade")))
	tb.WaitBanner()
	tb.NoErrors()
}

// configRevision waits until the consent host at base serves portal's
// config.json with a revision other than not, and returns it; it fails t
// past deadline.
func configRevision(t *testing.T, base, portal string, not int, deadline time.Time) int {
	t.Helper()
	for {
		res, err := http.Get(base + "/portals/" + portal + "/config.json")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var c struct {
			Policy struct{ Revision int }
		}
		if res.StatusCode == 200 && json.Unmarshal(body, &c) == nil && c.Policy.Revision != 0 && c.Policy.Revision != not {
			return c.Policy.Revision
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: config.json of %s is %d, revision %d, past the deadline", base, portal, res.StatusCode, c.Policy.Revision)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestA11yConsoleEditorAxe: axe-core, 0 violations on the editor (as
// loaded, with problems, with the preview and the changes, read-only), the
// history and the new-portal form, at 1200 px and on a 375 px phone, light
// and dark, in English and French (the preview in the console's
// language); on the phone nothing scrolls sideways.
func TestA11yConsoleEditorAxe(t *testing.T) {
	src := harness.AxeSource(t)
	st := servertest.OpenStore(t)
	srv, err := server.New(harness.Policies, web.Files(), server.WithReceipts(st), server.WithOperators(servertest.Operators(t)),
		server.WithAdminToken(servertest.AdminToken), server.WithSignInRate(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	// A portal managed by the database, in two languages: mtran's policy
	// (English and French) published as JSON under another id.
	p := servertest.CopyOf(t, harness.Policies[0])
	p.ID = "edited"
	body, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", ts.URL+"/api/v1/portals/edited/policy", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+servertest.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("publishing edited: %v %v", res, err)
	}
	res.Body.Close()

	editor := ts.URL + "/console/portals/edited/policy"
	// One tab a language, device and scheme (a tab's time is bounded).
	for _, lang := range []string{"en", "fr"} {
		for _, device := range []string{"desktop", "phone"} {
			for _, scheme := range []string{"light", "dark"} {
				t.Run(lang+"-"+device+"-"+scheme, func(t *testing.T) {
					tb := newTab(t)
					tb.Run(network.Enable(), network.SetExtraHTTPHeaders(network.Headers{"Accept-Language": lang}))
					tb.Run(chromedp.EmulateViewport(1200, 800), chromedp.Navigate(ts.URL+"/console/"))
					tb.consoleSignIn(servertest.DPOToken)
					tb.WaitFor("the portal list", `document.querySelector("main table a") !== null`)
					if device == "phone" {
						tb.Phone(375, 740)
					}
					tb.Run(harness.EmulateMedia(map[string]string{"prefers-color-scheme": scheme}))
					axeEditorStates(tb, src, ts.URL, editor, lang, device+" "+scheme)
					tb.NoErrors()
				})
			}
		}
	}
}

// axeEditorStates shows each state of the editor's pages in tb (signed in,
// its language lang) and checks it with axe-core (src); on a phone
// (where names the device) nothing may scroll sideways.
func axeEditorStates(tb *tab, src, base, editor, lang, where string) {
	t := tb.T
	states := []struct {
		name string
		show func()
	}{
		{"editor", func() { tb.Run(chromedp.Navigate(editor)) }},
		{"problems", func() {
			tb.Run(chromedp.Navigate(editor))
			tb.WaitFor("the editor", `document.getElementById("policy-source") !== null`)
			tb.setPolicy(`v.replace(/^name: .*$/m, 'name: ""').replace("category: necessary", "category: adverts")`)
			tb.submitEditor("check")
		}},
		{"preview", func() {
			tb.Run(chromedp.Navigate(editor))
			tb.WaitFor("the editor", `document.getElementById("policy-source") !== null`)
			tb.setPolicy(`v.replace(/duration: .*/, "duration: 1 day")`)
			// The preview in the console's language.
			tb.Eval(`(document.getElementById("preview-lang").value = `+harness.JSString(lang)+`, true)`, nil)
			tb.submitEditor("preview")
			var langs []string
			tb.Eval(`[...document.querySelectorAll(".pc-preview .pc-preview-banner")].map(e => e.lang)`, &langs)
			if fmt.Sprint(langs) != fmt.Sprint([]string{lang, lang}) {
				t.Fatalf("previews in %q, want %s light and dark", langs, lang)
			}
		}},
		{"history", func() { tb.Run(chromedp.Navigate(base + "/console/portals/edited/history")) }},
		{"new portal", func() { tb.Run(chromedp.Navigate(base + "/console/new-portal")) }},
		{"read-only", func() { tb.Run(chromedp.Navigate(base + "/console/portals/mtran/policy")) }},
	}
	for _, s := range states {
		s.show()
		tb.WaitFor(s.name, `document.readyState === "complete" && document.querySelector("h1") !== null`)
		var pageLang string
		tb.Eval(`document.documentElement.lang`, &pageLang)
		if pageLang != lang {
			t.Fatalf("%s: the page is in %q, want %q", s.name, pageLang, lang)
		}
		if strings.HasPrefix(where, "phone") {
			var wide bool
			tb.Eval(`document.documentElement.scrollWidth > innerWidth + 1`, &wide)
			if wide {
				t.Errorf("%s on a phone: the page is wider than the screen", s.name)
			}
		}
		for _, v := range tb.AxeTop(src) {
			t.Errorf("%s %s %s: axe violation: %v", s.name, lang, where, v)
		}
	}
}
