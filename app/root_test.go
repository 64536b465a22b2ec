package app

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/portalconsent/portalconsent/banner"
	"github.com/portalconsent/portalconsent/banner/uitest"
	"github.com/portalconsent/portalconsent/policy"
)

// recorder collects the root's OnChange, OnError and OnReload calls;
// OnChange returns reload.
type recorder struct {
	changes []policy.Consent
	methods []string // the method of each change
	errs    []error
	reload  bool
	reloads int
}

// newRoot returns an initialized root on the MTRAN policy, the fixed clock
// and jar.
func newRoot(t testing.TB, jar *memJar, start View) (*Root, *recorder) {
	t.Helper()
	rec := &recorder{}
	r := &Root{
		Policy: mtran(t),
		Jar:    jar,
		Start:  start,
		Now:    func() time.Time { return now },
		OnChange: func(c policy.Consent, method string) bool {
			rec.changes = append(rec.changes, c)
			rec.methods = append(rec.methods, method)
			return rec.reload
		},
		OnError:  func(err error) { rec.errs = append(rec.errs, err) },
		OnReload: func() { rec.reloads++ },
	}
	r.OnInit()
	return r, rec
}

// The methods under test take a context only to pass it on: decide and open
// ignore it, and Close queues work on the root's own (mounted) context, so a
// zero context is enough outside the engine.
var noCtx goapp.Context

func wantView(t testing.TB, r *Root, view View, mode string) {
	t.Helper()
	if r.View() != view || r.Mode() != mode {
		t.Errorf("view %q, mode %q; want %q, %q", r.View(), r.Mode(), view, mode)
	}
}

// storedConsent decodes what the jar holds and checks it holds for the policy.
func storedConsent(t testing.TB, r *Root, jar *memJar) policy.Consent {
	t.Helper()
	v := jar.values[policy.CookieName]
	c, err := policy.Current(v, r.Policy, now)
	if err != nil {
		t.Fatalf("the jar holds %q, which policy.Current refuses: %v", v, err)
	}
	if got := jar.days[policy.CookieName]; got != r.Policy.LifetimeOf(c) {
		t.Errorf("cookie stored for %d days, want the policy's %d", got, r.Policy.LifetimeOf(c))
	}
	if !c.Decided.Equal(now) {
		t.Errorf("choice dated %v, want %v", c.Decided, now)
	}
	if !c.Accepted(policy.Necessary) {
		t.Error("the stored choice refuses the necessary cookies")
	}
	return c
}

// wantChosen checks what follows a stored choice: nothing shows, OnChange got
// the stored consent once, and Consent returns it.
func wantChosen(t testing.TB, r *Root, jar *memJar, rec *recorder, statistical bool) {
	t.Helper()
	c := storedConsent(t, r, jar)
	if c.Accepted(policy.Statistical) != statistical {
		t.Errorf("stored %q: statistical accepted = %v, want %v", jar.values[policy.CookieName], !statistical, statistical)
	}
	wantView(t, r, ViewNone, "hidden")
	if len(rec.changes) != 1 {
		t.Fatalf("OnChange called %d times, want 1", len(rec.changes))
	}
	if got := rec.changes[0].Encode(); got != jar.values[policy.CookieName] {
		t.Errorf("OnChange got %q, the jar holds %q", got, jar.values[policy.CookieName])
	}
	if r.Consent() == nil || r.Consent().Encode() != jar.values[policy.CookieName] {
		t.Errorf("Consent() = %v, want the stored choice", r.Consent())
	}
	if len(rec.errs) != 0 {
		t.Errorf("OnError called with %v", rec.errs)
	}
}

func TestNoCookieShowsTheBanner(t *testing.T) {
	jar := newJar()
	r, rec := newRoot(t, jar, "")
	wantView(t, r, ViewBanner, "banner")
	if r.Consent() != nil {
		t.Errorf("Consent() = %v before any choice", r.Consent())
	}
	if jar.sets != 0 || len(rec.changes) != 0 {
		t.Errorf("starting wrote the jar %d times and called OnChange %d times", jar.sets, len(rec.changes))
	}
}

func TestAcceptAll(t *testing.T) {
	jar := newJar()
	r, rec := newRoot(t, jar, "")
	r.AcceptAll(noCtx)
	wantChosen(t, r, jar, rec, true)
}

func TestRejectAll(t *testing.T) {
	jar := newJar()
	r, rec := newRoot(t, jar, "")
	r.RejectAll(noCtx)
	wantChosen(t, r, jar, rec, false)
}

// TestRefusalLifetime: with refusalLifetimeDays set, a refusal (Reject all,
// or a save that accepts nothing optional) is stored for that long, and an
// acceptance for the policy's lifetime.
func TestRefusalLifetime(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(r *Root)
		days int
	}{
		{"reject all", func(r *Root) { r.RejectAll(noCtx) }, 365},
		{"save nothing", func(r *Root) { r.ShowPreferences(noCtx); r.Save(noCtx, nil) }, 365},
		{"accept all", func(r *Root) { r.AcceptAll(noCtx) }, 182},
		{"save statistics", func(r *Root) { r.ShowPreferences(noCtx); r.Save(noCtx, map[string]bool{policy.Statistical: true}) }, 182},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jar := newJar()
			r, _ := newRoot(t, jar, "")
			r.Policy.LifetimeDays, r.Policy.RefusalLifetimeDays = 182, 365
			tc.do(r)
			if got := jar.days[policy.CookieName]; got != tc.days {
				t.Errorf("stored for %d days, want %d", got, tc.days)
			}
			storedConsent(t, r, jar)
		})
	}
}

func TestSaveStoresExactlyTheChoice(t *testing.T) {
	for _, tc := range []struct {
		name     string
		accepted map[string]bool
		want     bool
	}{
		{"statistical on", map[string]bool{policy.Statistical: true}, true},
		{"statistical off", map[string]bool{policy.Statistical: false}, false},
		{"empty", map[string]bool{}, false},
		{"nil", nil, false},
		// Necessary cannot be refused; unknown categories are ignored.
		{"necessary off, unknown on", map[string]bool{policy.Necessary: false, "ads": true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jar := newJar()
			r, rec := newRoot(t, jar, "")
			r.ShowPreferences(noCtx)
			r.Save(noCtx, tc.accepted)
			wantChosen(t, r, jar, rec, tc.want)
			if c := storedConsent(t, r, jar); len(c.Choices) != len(r.Policy.Categories) {
				t.Errorf("stored %d choices for %d categories", len(c.Choices), len(r.Policy.Categories))
			}
		})
	}
}

func TestStoredChoice(t *testing.T) {
	p := mtran(t)
	day := 24 * time.Hour
	lifetime := time.Duration(p.Lifetime()) * day
	newer := mtran(t)
	newer.Revision++
	consentID := policy.NewConsentID()

	for _, tc := range []struct {
		name   string
		value  string
		policy *policy.Policy // default p
		valid  bool
		stat   bool
	}{
		{"accepted", stored(p, now.Add(-10*day), true), nil, true, true},
		{"refused", stored(p, now.Add(-10*day), false), nil, true, false},
		{"last day", stored(p, now.Add(-lifetime), true), nil, true, true},
		{"missing", "", nil, false, false},
		{"malformed", "not a consent", nil, false, false},
		{"truncated", stored(p, now, true)[:20], nil, false, false},
		{"bad time", "1|1|yesterday|" + consentID + "|necessary=1/statistical=1", nil, false, false},
		{"expired", stored(p, now.Add(-lifetime-time.Second), true), nil, false, false},
		{"future", stored(p, now.Add(2*day), true), nil, false, false},
		{"old revision", stored(p, now.Add(-day), true), newer, false, false},
		{"missing category", "1|1|" + itoa(now.Unix()) + "|" + consentID + "|necessary=1", nil, false, false},
		{"necessary refused", "1|1|" + itoa(now.Unix()) + "|" + consentID + "|necessary=0/statistical=1", nil, false, false},
		{"unknown version", "2|1|" + itoa(now.Unix()) + "|" + consentID + "|necessary=1/statistical=1", nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jar := newJar()
			if tc.value != "" {
				jar.values[policy.CookieName] = tc.value
			}
			r, rec := newRoot(t, jar, "")
			if tc.policy != nil {
				r.Policy = tc.policy
				r.OnInit()
			}
			if !tc.valid {
				wantView(t, r, ViewBanner, "banner")
				if r.Consent() != nil {
					t.Errorf("Consent() = %v for %q", r.Consent(), tc.value)
				}
				return
			}
			wantView(t, r, ViewNone, "hidden")
			if r.Consent() == nil || r.Consent().Accepted(policy.Statistical) != tc.stat {
				t.Errorf("Consent() = %v, want statistical=%v", r.Consent(), tc.stat)
			}
			if jar.sets != 0 || len(rec.changes) != 0 {
				t.Error("reading a valid choice wrote it again")
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestDialogsFromTheBanner(t *testing.T) {
	for _, tc := range []struct {
		name   string
		open   func(r *Root)
		view   View
		opener string
	}{
		{"ShowPreferences", func(r *Root) { r.ShowPreferences(noCtx) }, ViewPreferences, ""},
		{"ShowPolicy", func(r *Root) { r.ShowPolicy(noCtx) }, ViewPolicy, ""},
		{"Customize", func(r *Root) { r.open(noCtx, ViewPreferences, banner.CustomizeID) }, ViewPreferences, banner.CustomizeID},
		{"Cookie policy", func(r *Root) { r.open(noCtx, ViewPolicy, banner.PolicyID) }, ViewPolicy, banner.PolicyID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jar := newJar()
			r, rec := newRoot(t, jar, "")
			tc.open(r)
			wantView(t, r, tc.view, "modal")
			if r.opener != tc.opener {
				t.Errorf("opener %q, want %q", r.opener, tc.opener)
			}

			// Closing without a choice brings the banner back (a zero context:
			// the focus is only restored through the mounted root's context).
			r.Close(noCtx)
			wantView(t, r, ViewBanner, "banner")
			if r.opener != "" {
				t.Errorf("opener %q left after Close", r.opener)
			}
			if jar.sets != 0 || len(rec.changes) != 0 || r.Consent() != nil {
				t.Error("closing a dialog stored a choice")
			}

			// A choice made in the dialog hides everything.
			tc.open(r)
			r.RejectAll(noCtx)
			wantChosen(t, r, jar, rec, false)
			if r.opener != "" {
				t.Errorf("opener %q left after a choice", r.opener)
			}
		})
	}
}

func TestCloseWithAChoiceHidesEverything(t *testing.T) {
	for _, tc := range []struct {
		open func(r *Root)
		view View
	}{
		{func(r *Root) { r.ShowPreferences(noCtx) }, ViewPreferences},
		{func(r *Root) { r.ShowPolicy(noCtx) }, ViewPolicy},
	} {
		jar := newJar()
		jar.values[policy.CookieName] = stored(mtran(t), now.Add(-time.Hour), true)
		r, _ := newRoot(t, jar, "")
		wantView(t, r, ViewNone, "hidden")
		tc.open(r)
		wantView(t, r, tc.view, "modal")
		r.Close(noCtx)
		wantView(t, r, ViewNone, "hidden")
		if r.Consent() == nil || !r.Consent().Accepted(policy.Statistical) {
			t.Errorf("closing changed the choice: %v", r.Consent())
		}
	}
}

func TestJarFailure(t *testing.T) {
	for _, tc := range []struct {
		name   string
		open   func(r *Root)
		choose func(r *Root)
		view   View
	}{
		{"AcceptAll", nil, func(r *Root) { r.AcceptAll(noCtx) }, ViewBanner},
		{"RejectAll", nil, func(r *Root) { r.RejectAll(noCtx) }, ViewBanner},
		{"Save", func(r *Root) { r.ShowPreferences(noCtx) }, func(r *Root) { r.Save(noCtx, map[string]bool{policy.Statistical: true}) }, ViewPreferences},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jar := newJar()
			jar.fail = errBlocked
			r, rec := newRoot(t, jar, "")
			if tc.open != nil {
				tc.open(r)
			}
			tc.choose(r)
			if jar.sets != 1 {
				t.Errorf("Set called %d times, want 1", jar.sets)
			}
			if len(rec.errs) != 1 || !errors.Is(rec.errs[0], errBlocked) {
				t.Errorf("OnError got %v, want the jar's error once", rec.errs)
			}
			if len(rec.changes) != 0 || r.Consent() != nil {
				t.Errorf("a refused cookie counts as a choice: OnChange %d calls, Consent %v", len(rec.changes), r.Consent())
			}
			// What was shown stays: the banner is still there, under the dialog.
			if r.View() != tc.view {
				t.Errorf("view %q, want %q", r.View(), tc.view)
			}
			r.Close(noCtx)
			wantView(t, r, ViewBanner, "banner")

			// Once the jar works again, the choice goes through.
			jar.fail = nil
			tc.choose(r)
			if r.Consent() == nil || r.View() != ViewNone {
				t.Errorf("after the jar recovered: view %q, consent %v", r.View(), r.Consent())
			}
		})
	}
}

func TestJarFailureWithoutOnError(t *testing.T) {
	jar := newJar()
	jar.fail = errBlocked
	r := &Root{Policy: mtran(t), Jar: jar, Now: func() time.Time { return now }}
	r.OnInit()
	r.AcceptAll(noCtx) // must not panic
	wantView(t, r, ViewBanner, "banner")
}

func TestStart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		start  View
		cookie bool
		view   View
		mode   string
		closed View
	}{
		{"policy", ViewPolicy, false, ViewPolicy, "modal", ViewBanner},
		{"preferences", ViewPreferences, false, ViewPreferences, "modal", ViewBanner},
		{"policy after a choice", ViewPolicy, true, ViewPolicy, "modal", ViewNone},
		{"preferences after a choice", ViewPreferences, true, ViewPreferences, "modal", ViewNone},
		{"default", ViewNone, false, ViewBanner, "banner", ViewBanner},
		{"banner", ViewBanner, true, ViewNone, "hidden", ViewNone},
		{"unknown", View("bogus"), false, ViewBanner, "banner", ViewBanner},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jar := newJar()
			if tc.cookie {
				jar.values[policy.CookieName] = stored(mtran(t), now, false)
			}
			r, _ := newRoot(t, jar, tc.start)
			wantView(t, r, tc.view, tc.mode)
			if r.Mode() == "modal" {
				r.Close(noCtx)
				if r.View() != tc.closed {
					t.Errorf("after Close: view %q, want %q", r.View(), tc.closed)
				}
			}
		})
	}
}

func TestNowDefaultsToTheClock(t *testing.T) {
	r := &Root{Policy: mtran(t), Jar: newJar()}
	r.OnInit()
	if r.Now == nil {
		t.Fatal("Now is nil after OnInit")
	}
	if d := time.Since(r.Now()); d < 0 || d > time.Minute {
		t.Errorf("Now() is %v away from the clock", d)
	}
}

func TestAcceptedMirrorsTheStoredChoice(t *testing.T) {
	jar := newJar()
	r, _ := newRoot(t, jar, "")
	if got := r.accepted(); len(got) != 1 || got[policy.Statistical] {
		t.Errorf("accepted() before a choice = %v, want statistical off only", got)
	}
	r.AcceptAll(noCtx)
	if got := r.accepted(); len(got) != 1 || !got[policy.Statistical] {
		t.Errorf("accepted() after Accept all = %v, want statistical on only", got)
	}
}

// rootDiv is the root element the frame reads data-pc-mode from.
func rootDiv(mode string) goapp.UI {
	return goapp.Div().Class("pc-root").DataSet("pc-mode", mode).Lang("en")
}

func TestRenderInTheEngine(t *testing.T) {
	jar := newJar()
	r, _ := newRoot(t, jar, "")
	h, _ := load(t, r)
	texts := r.Policy.Texts

	if err := goapp.Match(rootDiv("banner"), r, 0); err != nil {
		t.Error(err)
	}
	// The banner component is the root's only child; its section is the one
	// the banner renders. (app.Match cannot compare the component itself: it
	// compares callback fields too, and func values are never equal.)
	if err := goapp.Match(goapp.Section().Class("pc-banner").Aria("labelledby", "pc-banner-title"), r, 0, 0, 0); err != nil {
		t.Error(err)
	}
	if n := len(uitest.Children(t, uitest.Children(t, r)[0])); n != 1 {
		t.Errorf("the root element has %d children, want the banner only", n)
	}
	banners := find[*banner.Banner](t, h)
	if len(banners) != 1 || banners[0].Texts.BannerTitle != texts.BannerTitle {
		t.Fatalf("found %d banners, want 1 with the policy's texts", len(banners))
	}

	html := goapp.HTMLString(h)
	for _, want := range []string{`data-pc-mode="banner"`, `lang="en"`,
		`id="` + banner.AcceptID + `"`, `id="` + banner.RejectID + `"`,
		`id="` + banner.CustomizeID + `"`, `id="` + banner.PolicyID + `"`} {
		if !strings.Contains(html, want) {
			t.Errorf("root HTML lacks %s:\n%s", want, html)
		}
	}
}

func TestRenderAfterAChoiceIsEmpty(t *testing.T) {
	jar := newJar()
	jar.values[policy.CookieName] = stored(mtran(t), now, true)
	r, _ := newRoot(t, jar, "")
	load(t, r)
	if err := goapp.Match(rootDiv("hidden"), r, 0); err != nil {
		t.Error(err)
	}
	if n := len(uitest.Children(t, uitest.Children(t, r)[0])); n != 0 {
		t.Errorf("the hidden root element has %d children", n)
	}
}

func TestRenderWithoutPolicy(t *testing.T) {
	r := &Root{Jar: newJar()}
	r.OnInit()
	load(t, r)
	if err := goapp.Match(goapp.Div().Class("pc-root").DataSet("pc-mode", "hidden"), r, 0); err != nil {
		t.Error(err)
	}
}

// The banner's callbacks drive the root.
func TestBannerCallbacks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		call   func(b *banner.Banner)
		view   View
		opener string
		stat   bool
	}{
		{"accept", func(b *banner.Banner) { b.OnAcceptAll(noCtx) }, ViewNone, "", true},
		{"reject", func(b *banner.Banner) { b.OnRejectAll(noCtx) }, ViewNone, "", false},
		{"customize", func(b *banner.Banner) { b.OnCustomize(noCtx) }, ViewPreferences, banner.CustomizeID, false},
		{"policy", func(b *banner.Banner) { b.OnPolicy(noCtx) }, ViewPolicy, banner.PolicyID, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jar := newJar()
			r, _ := newRoot(t, jar, "")
			h, _ := load(t, r)
			b := find[*banner.Banner](t, h)
			if len(b) != 1 {
				t.Fatalf("%d banners", len(b))
			}
			tc.call(b[0])
			if r.View() != tc.view || r.opener != tc.opener {
				t.Errorf("view %q opener %q, want %q %q", r.View(), r.opener, tc.view, tc.opener)
			}
			if tc.view == ViewNone {
				if c := storedConsent(t, r, jar); c.Accepted(policy.Statistical) != tc.stat {
					t.Errorf("statistical accepted = %v, want %v", !tc.stat, tc.stat)
				}
			}
		})
	}
}

// The whole flow in the engine, through the rendered buttons: each click runs
// on the UI goroutine and the engine re-renders, as in the browser.
func TestFlowInTheEngine(t *testing.T) {
	jar := newJar()
	r, rec := newRoot(t, jar, "")
	h, e := load(t, r)
	texts := r.Policy.Texts

	mode := func(want string) {
		t.Helper()
		if err := goapp.Match(rootDiv(want), r, 0); err != nil {
			t.Errorf("root element: %v", err)
		}
	}

	// Customize opens the preferences over the banner.
	h.clickID(t, e, banner.CustomizeID)
	mode("modal")
	got := ids(t, h)
	for _, id := range []string{banner.AcceptID, banner.PreferencesDialogID, banner.SaveID, banner.CloseID,
		banner.SwitchID(policy.Necessary), banner.SwitchID(policy.Statistical)} {
		if got[id] != 1 {
			t.Errorf("%d elements #%s with the preferences open", got[id], id)
		}
	}
	prefs := find[*banner.Preferences](t, h)
	if len(prefs) != 1 || prefs[0].Policy != r.Policy || prefs[0].Accepted[policy.Statistical] {
		t.Fatalf("preferences %+v, want the root's policy with statistical off", prefs)
	}

	// Close brings the banner back alone.
	h.clickID(t, e, banner.CloseID)
	mode("banner")
	if got := ids(t, h); got[banner.PreferencesDialogID] != 0 || got[banner.AcceptID] != 1 {
		t.Errorf("after Close: ids %v", got)
	}

	// The policy dialog, labelled by the policy title, over the banner.
	h.clickID(t, e, banner.PolicyID)
	mode("modal")
	dlg := uitest.ByID(t, h, banner.PolicyDialogID)
	if uitest.Attrs(t, dlg)["aria-labelledby"] != banner.PolicyTitleID || uitest.Attrs(t, dlg)["role"] != "dialog" {
		t.Errorf("policy dialog attributes %v", uitest.Attrs(t, dlg))
	}
	if err := goapp.Match(goapp.Text(texts.PolicyTitle), uitest.ByID(t, h, banner.PolicyTitleID), 0); err != nil {
		t.Error(err)
	}
	h.clickID(t, e, banner.CloseID)
	mode("banner")

	// Customize, then Save without touching anything: statistical refused.
	h.clickID(t, e, banner.CustomizeID)
	h.clickID(t, e, banner.SaveID)
	mode("hidden")
	wantChosen(t, r, jar, rec, false)
	if got := ids(t, h); len(got) != 0 {
		t.Errorf("elements left after the choice: %v", got)
	}

	// Reopening the preferences shows the stored choice, without the banner.
	h.event(e, r.ShowPreferences)
	mode("modal")
	if got := ids(t, h); got[banner.AcceptID] != 0 || got[banner.PreferencesDialogID] != 1 {
		t.Errorf("preferences after a choice: ids %v", got)
	}
	h.clickID(t, e, banner.CloseID)
	mode("hidden")
}

func TestAcceptInTheEngine(t *testing.T) {
	jar := newJar()
	r, rec := newRoot(t, jar, "")
	h, e := load(t, r)
	h.clickID(t, e, banner.AcceptID)
	wantChosen(t, r, jar, rec, true)
	if err := goapp.Match(rootDiv("hidden"), r, 0); err != nil {
		t.Error(err)
	}
}

func TestJarFailureInTheEngineKeepsTheBanner(t *testing.T) {
	jar := newJar()
	jar.fail = errBlocked
	r, rec := newRoot(t, jar, "")
	h, e := load(t, r)
	h.clickID(t, e, banner.RejectID)
	if len(rec.errs) != 1 {
		t.Errorf("OnError called %d times, want 1", len(rec.errs))
	}
	if err := goapp.Match(rootDiv("banner"), r, 0); err != nil {
		t.Error(err)
	}
	if got := ids(t, h); got[banner.RejectID] != 1 {
		t.Errorf("the banner is gone after a failed choice: %v", got)
	}
}

// Regression test: every event in the preferences re-renders the root, and
// go-app then calls Preferences.OnUpdate (callback fields never compare
// equal). OnUpdate used to reset the draft from Accepted, so a switch the
// visitor had toggled was silently undone one frame later, and Save stored
// the old choice while the switch showed the new one. Natively the switch
// can only be turned off (the change handler reads the DOM's checked
// property, which is false outside a browser), so start from "accepted".
func TestToggledSwitchSurvivesARerender(t *testing.T) {
	jar := newJar()
	jar.values[policy.CookieName] = stored(mtran(t), now.Add(-time.Hour), true)
	r, rec := newRoot(t, jar, ViewPreferences)
	h, e := load(t, r)

	sw := uitest.ByID(t, h, banner.SwitchID(policy.Statistical))
	if uitest.Attrs(t, sw)["checked"] != "true" {
		t.Fatalf("the statistical switch starts %v, want checked", uitest.Attrs(t, sw))
	}
	change := uitest.Handler(t, sw, "change")
	h.event(e, func(ctx goapp.Context) { change(ctx, goapp.Event{}) })

	// The root re-rendered: the switch now shows the visitor's choice.
	if got := uitest.Attrs(t, uitest.ByID(t, h, banner.SwitchID(policy.Statistical)))["checked"]; got != "false" {
		t.Errorf("after turning the switch off and a re-render, checked=%q", got)
	}
	h.clickID(t, e, banner.SaveID)
	if len(rec.changes) != 1 {
		t.Fatalf("OnChange called %d times", len(rec.changes))
	}
	if storedConsent(t, r, jar).Accepted(policy.Statistical) {
		t.Errorf("the visitor turned statistical off, Save stored %q", jar.values[policy.CookieName])
	}
}

// Close restores the focus through the mounted root's context. Natively
// go-app never calls OnMount (IsClient is false), so give the root the host's
// context and check the deferred focus runs without error.
func TestCloseQueuesTheFocusOnTheRootContext(t *testing.T) {
	jar := newJar()
	r, _ := newRoot(t, jar, "")
	h, e := load(t, r)
	r.OnMount(h.ctx)
	h.clickID(t, e, banner.CustomizeID)
	h.clickID(t, e, banner.CloseID) // runs the deferred focus in ConsumeAll
	wantView(t, r, ViewBanner, "banner")
	if r.opener != "" {
		t.Errorf("opener %q left after Close", r.opener)
	}
}

// The root passes GPC to the banner: the notice shows, with no hidden
// attribute, only then.
func TestGPCNoticeInTheBanner(t *testing.T) {
	for _, gpc := range []bool{false, true} {
		r, _ := newRoot(t, newJar(), "")
		r.GPC = gpc
		h, _ := load(t, r)
		b := find[*banner.Banner](t, h)
		if len(b) != 1 || b[0].GPC != gpc {
			t.Fatalf("GPC %v: banners %d, want 1 with GPC %v", gpc, len(b), gpc)
		}
		attrs := uitest.Attrs(t, uitest.ByID(t, h, banner.GPCID))
		if _, hidden := attrs["hidden"]; hidden == gpc {
			t.Errorf("GPC %v: notice attributes %v", gpc, attrs)
		}
		html := banner.HTML(h)
		if strings.Contains(html, `hidden="false"`) {
			t.Errorf("GPC %v: HTML has hidden=\"false\", which hides the notice:\n%s", gpc, html)
		}
	}
}

// Manage cookies in the policy dialog replaces it with the preferences, which
// keep the policy's opener: Close returns focus to the banner's Cookie policy.
func TestManageOpensThePreferences(t *testing.T) {
	jar := newJar()
	r, rec := newRoot(t, jar, "")
	h, e := load(t, r)

	h.clickID(t, e, banner.PolicyID)
	wantView(t, r, ViewPolicy, "modal")
	if got := ids(t, h); got[banner.ManageID] != 1 || got[banner.PolicyDialogID] != 1 {
		t.Fatalf("policy dialog ids %v", got)
	}
	h.clickID(t, e, banner.ManageID)
	wantView(t, r, ViewPreferences, "modal")
	got := ids(t, h)
	if got[banner.PreferencesDialogID] != 1 || got[banner.PolicyDialogID] != 0 || got[banner.AcceptID] != 1 {
		t.Errorf("after Manage cookies: ids %v, want the preferences over the banner", got)
	}
	if r.opener != banner.PolicyID {
		t.Errorf("opener %q, want %q", r.opener, banner.PolicyID)
	}
	h.clickID(t, e, banner.CloseID)
	wantView(t, r, ViewBanner, "banner")

	// After a choice: policy, Manage cookies, Save.
	h.clickID(t, e, banner.AcceptID)
	h.event(e, r.ShowPolicy)
	h.clickID(t, e, banner.ManageID)
	wantView(t, r, ViewPreferences, "modal")
	if prefs := find[*banner.Preferences](t, h); len(prefs) != 1 || !prefs[0].Accepted[policy.Statistical] {
		t.Fatalf("preferences %+v, want the stored choice (statistical on)", prefs)
	}
	h.clickID(t, e, banner.SaveID)
	wantView(t, r, ViewNone, "hidden")
	if len(rec.changes) != 2 {
		t.Errorf("OnChange called %d times, want 2", len(rec.changes))
	}
}

// When OnChange reports that scripts of a refused category already ran, the
// reload notice shows (laid out like the banner); Reload calls OnReload and
// Close hides it.
func TestReloadNoticeAfterAWithdrawal(t *testing.T) {
	jar := newJar()
	jar.values[policy.CookieName] = stored(mtran(t), now.Add(-time.Hour), true)
	r, rec := newRoot(t, jar, "")
	h, e := load(t, r)
	r.OnMount(h.ctx) // the focus on Reload is queued on the root's context
	rec.reload = true

	h.event(e, r.ShowPreferences)
	sw := uitest.Handler(t, uitest.ByID(t, h, banner.SwitchID(policy.Statistical)), "change")
	h.event(e, func(ctx goapp.Context) { sw(ctx, goapp.Event{}) }) // natively: turns it off
	h.clickID(t, e, banner.SaveID)

	if len(rec.changes) != 1 || rec.changes[0].Accepted(policy.Statistical) {
		t.Fatalf("OnChange got %v, want one withdrawal of statistical", rec.changes)
	}
	if storedConsent(t, r, jar).Accepted(policy.Statistical) {
		t.Errorf("stored %q, want statistical refused", jar.values[policy.CookieName])
	}
	wantView(t, r, ViewNotice, "banner")
	if err := goapp.Match(rootDiv("banner"), r, 0); err != nil {
		t.Error(err)
	}
	got := ids(t, h)
	for _, id := range []string{banner.ReloadID, banner.NoticeCloseID, banner.NoticeTextID} {
		if got[id] != 1 {
			t.Errorf("%d elements #%s with the notice showing (ids %v)", got[id], id, got)
		}
	}
	if got[banner.AcceptID] != 0 || got[banner.PreferencesDialogID] != 0 {
		t.Errorf("the notice shows with the banner or the preferences: ids %v", got)
	}
	notices := find[*banner.ReloadNotice](t, h)
	if len(notices) != 1 || notices[0].Texts.ReloadText != r.Policy.Texts.ReloadText {
		t.Fatalf("%d reload notices, want 1 with the policy's texts", len(notices))
	}

	h.clickID(t, e, banner.ReloadID)
	if rec.reloads != 1 {
		t.Errorf("Reload called OnReload %d times, want 1", rec.reloads)
	}
	wantView(t, r, ViewNotice, "banner")

	h.clickID(t, e, banner.NoticeCloseID)
	wantView(t, r, ViewNone, "hidden")
	if got := ids(t, h); len(got) != 0 {
		t.Errorf("elements left after closing the notice: %v", got)
	}
	if len(rec.changes) != 1 || jar.sets != 1 {
		t.Errorf("closing the notice stored a choice: OnChange %d calls, %d sets", len(rec.changes), jar.sets)
	}
}

// OnChange returning false, a nil OnChange, or a refused cookie: no notice.
func TestNoReloadNotice(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(r *Root, jar *memJar)
		choose func(r *Root)
		view   View
	}{
		{"OnChange false", func(*Root, *memJar) {}, func(r *Root) { r.RejectAll(noCtx) }, ViewNone},
		{"no OnChange", func(r *Root, _ *memJar) { r.OnChange = nil }, func(r *Root) { r.RejectAll(noCtx) }, ViewNone},
		{"jar failure", func(_ *Root, jar *memJar) { jar.fail = errBlocked }, func(r *Root) { r.RejectAll(noCtx) }, ViewBanner},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jar := newJar()
			r, rec := newRoot(t, jar, "")
			tc.setup(r, jar)
			rec.reload = tc.name != "OnChange false"
			tc.choose(r)
			if r.View() != tc.view {
				t.Errorf("view %q, want %q", r.View(), tc.view)
			}
		})
	}

	// Accept all and Reject all show it too when OnChange says so (natively,
	// without a mounted root, no focus is queued).
	for _, choose := range []func(r *Root){
		func(r *Root) { r.AcceptAll(noCtx) },
		func(r *Root) { r.RejectAll(noCtx) },
	} {
		r, rec := newRoot(t, newJar(), "")
		rec.reload = true
		choose(r)
		wantView(t, r, ViewNotice, "banner")
		r.Close(noCtx)
		wantView(t, r, ViewNone, "hidden")
	}
}

// Show comes from outside the UI goroutine (the loader's portalConsentShow):
// it only dispatches, and does nothing before the root is mounted.
func TestShowFromOutside(t *testing.T) {
	jar := newJar()
	jar.values[policy.CookieName] = stored(mtran(t), now.Add(-time.Hour), false)
	r, _ := newRoot(t, jar, "")
	h, e := load(t, r)
	wantView(t, r, ViewNone, "hidden")

	show := func(v View) bool {
		done := make(chan bool)
		go func() { done <- r.Show(v) }()
		return <-done
	}
	if show(ViewPreferences) {
		t.Error("Show returned true before the root was mounted")
	}
	e.ConsumeAll()
	wantView(t, r, ViewNone, "hidden")

	r.OnMount(h.ctx) // natively go-app never mounts; give the root a context
	for _, v := range []View{ViewNone, ViewBanner, ViewNotice, "bogus"} {
		if show(v) {
			t.Errorf("Show(%q) returned true", v)
		}
	}
	e.ConsumeAll()
	wantView(t, r, ViewNone, "hidden")

	for _, tc := range []struct {
		view View
		id   string
	}{
		{ViewPreferences, banner.PreferencesDialogID},
		{ViewPolicy, banner.PolicyDialogID},
	} {
		if !show(tc.view) {
			t.Fatalf("Show(%q) returned false", tc.view)
		}
		e.ConsumeAll()
		wantView(t, r, tc.view, "modal")
		if got := ids(t, h); got[tc.id] != 1 || got[banner.AcceptID] != 0 {
			t.Errorf("after Show(%q): ids %v", tc.view, got)
		}
		if r.opener != "" {
			t.Errorf("opener %q after Show: focus has nowhere to return in the frame", r.opener)
		}
		h.clickID(t, e, banner.CloseID)
		wantView(t, r, ViewNone, "hidden")
	}

	// Before a choice the banner stays under the dialog, and comes back.
	r2, _ := newRoot(t, newJar(), "")
	h2, e2 := load(t, r2)
	r2.OnMount(h2.ctx)
	h2.clickID(t, e2, banner.PolicyID) // an opener from the banner...
	h2.clickID(t, e2, banner.CloseID)
	done := make(chan bool)
	go func() { done <- r2.Show(ViewPreferences) }()
	if !<-done {
		t.Fatal("Show returned false")
	}
	e2.ConsumeAll()
	wantView(t, r2, ViewPreferences, "modal")
	if r2.opener != "" {
		t.Errorf("opener %q after Show, want none", r2.opener)
	}
	if got := ids(t, h2); got[banner.AcceptID] != 1 || got[banner.PreferencesDialogID] != 1 {
		t.Errorf("ids %v, want the preferences over the banner", got)
	}
	h2.clickID(t, e2, banner.CloseID)
	wantView(t, r2, ViewBanner, "banner")
}

// Each way of choosing reports its method to OnChange, once: Accept all and
// Reject all wherever they are called (the banner's buttons, or Root.AcceptAll
// and Root.RejectAll from a dialog), Save always "custom", even when it
// accepts every optional category, and a withdrawal of a returning visitor
// from the preferences "custom" too.
func TestOnChangeMethod(t *testing.T) {
	toggle := func(t *testing.T, h *host, e goapp.TestEngine) {
		sw := uitest.Handler(t, uitest.ByID(t, h, banner.SwitchID(policy.Statistical)), "change")
		h.event(e, func(ctx goapp.Context) { sw(ctx, goapp.Event{}) }) // natively: turns it off
	}
	for _, tc := range []struct {
		name        string
		stored      bool // a returning visitor who accepted statistical
		do          func(t *testing.T, h *host, e goapp.TestEngine, r *Root)
		method      string
		statistical bool
	}{
		{"banner Accept all", false, func(t *testing.T, h *host, e goapp.TestEngine, r *Root) {
			h.clickID(t, e, banner.AcceptID)
		}, MethodAcceptAll, true},
		{"banner Reject all", false, func(t *testing.T, h *host, e goapp.TestEngine, r *Root) {
			h.clickID(t, e, banner.RejectID)
		}, MethodRejectAll, false},
		{"Save with nothing on", false, func(t *testing.T, h *host, e goapp.TestEngine, r *Root) {
			h.clickID(t, e, banner.CustomizeID)
			h.clickID(t, e, banner.SaveID)
		}, MethodCustom, false},
		{"Save with everything on", false, func(t *testing.T, h *host, e goapp.TestEngine, r *Root) {
			h.clickID(t, e, banner.CustomizeID)
			// Natively a switch only turns off: the preferences' OnSave with
			// every switch on.
			prefs := find[*banner.Preferences](t, h)
			if len(prefs) != 1 {
				t.Fatalf("%d preferences", len(prefs))
			}
			h.event(e, func(ctx goapp.Context) { prefs[0].OnSave(ctx, map[string]bool{policy.Statistical: true}) })
		}, MethodCustom, true},
		{"withdrawal from Manage cookies", true, func(t *testing.T, h *host, e goapp.TestEngine, r *Root) {
			h.event(e, r.ShowPreferences)
			toggle(t, h, e)
			h.clickID(t, e, banner.SaveID)
		}, MethodCustom, false},
		{"AcceptAll from the preferences", true, func(t *testing.T, h *host, e goapp.TestEngine, r *Root) {
			h.event(e, r.ShowPreferences)
			h.event(e, r.AcceptAll)
		}, MethodAcceptAll, true},
		{"RejectAll from the preferences", true, func(t *testing.T, h *host, e goapp.TestEngine, r *Root) {
			h.event(e, r.ShowPreferences)
			h.event(e, r.RejectAll)
		}, MethodRejectAll, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jar := newJar()
			if tc.stored {
				jar.values[policy.CookieName] = stored(mtran(t), now.Add(-time.Hour), true)
			}
			r, rec := newRoot(t, jar, "")
			h, e := load(t, r)
			tc.do(t, h, e, r)
			wantChosen(t, r, jar, rec, tc.statistical)
			if len(rec.methods) != 1 || rec.methods[0] != tc.method {
				t.Errorf("OnChange methods %q, want [%q]", rec.methods, tc.method)
			}
		})
	}
}

// Accept all and Reject all in the preferences store the choice as the
// banner's do (Root.AcceptAll, Root.RejectAll): a returning visitor withdraws
// with one click, and one who chose may accept everything as easily.
func TestAllFromThePreferences(t *testing.T) {
	for _, tc := range []struct {
		name        string
		id          string
		before      bool // statistical accepted before
		statistical bool
	}{
		{"reject all after accepting", banner.PrefsRejectID, true, false},
		{"accept all after rejecting", banner.PrefsAcceptID, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jar := newJar()
			jar.values[policy.CookieName] = stored(mtran(t), now.Add(-time.Hour), tc.before)
			r, rec := newRoot(t, jar, "")
			h, e := load(t, r)
			wantView(t, r, ViewNone, "hidden")
			h.event(e, r.ShowPreferences)
			wantView(t, r, ViewPreferences, "modal")
			got := ids(t, h)
			for _, id := range []string{banner.PrefsAcceptID, banner.PrefsRejectID, banner.SaveID} {
				if got[id] != 1 {
					t.Errorf("%d elements #%s in the preferences", got[id], id)
				}
			}
			h.clickID(t, e, tc.id)
			wantChosen(t, r, jar, rec, tc.statistical)
		})
	}
}

// A failed write reports no method: OnChange is not called.
func TestOnChangeMethodNotOnAFailedWrite(t *testing.T) {
	jar := newJar()
	jar.fail = errBlocked
	r, rec := newRoot(t, jar, "")
	r.AcceptAll(noCtx)
	r.Save(noCtx, map[string]bool{policy.Statistical: true})
	if len(rec.methods) != 0 {
		t.Errorf("OnChange methods %q after refused writes", rec.methods)
	}
}

// The preferences show the stored choice's consent id, for the visitor to
// quote; before a choice they show none.
func TestPreferencesGetTheConsentID(t *testing.T) {
	jar := newJar()
	r, _ := newRoot(t, jar, "")
	h, e := load(t, r)
	h.clickID(t, e, banner.CustomizeID)
	prefs := find[*banner.Preferences](t, h)
	if len(prefs) != 1 || prefs[0].ConsentID != "" {
		t.Fatalf("before a choice: preferences %+v, want one without a consent id", prefs)
	}
	if ids(t, h)[banner.ConsentIDID] != 0 {
		t.Error("the consent id line shows before a choice")
	}
	h.clickID(t, e, banner.SaveID)
	h.event(e, r.ShowPreferences)
	prefs = find[*banner.Preferences](t, h)
	want := storedConsent(t, r, jar).ID
	if len(prefs) != 1 || prefs[0].ConsentID != want || want == "" {
		t.Fatalf("after a choice: preferences %+v, want consent id %q", prefs, want)
	}
	if ids(t, h)[banner.ConsentIDID] != 1 {
		t.Error("the consent id line does not show after a choice")
	}

	// A new choice (a withdrawal, an acceptance) keeps the visitor's id: the
	// id they quote finds their whole history.
	h.event(e, r.AcceptAll)
	h.event(e, r.ShowPreferences)
	prefs = find[*banner.Preferences](t, h)
	if next := storedConsent(t, r, jar).ID; len(prefs) != 1 || prefs[0].ConsentID != want || next != want {
		t.Errorf("after a second choice: consent id %q stored %q, want the first %q kept", prefs[0].ConsentID, next, want)
	}
}

// The preferences opened from the banner offer Accept all and Reject all too,
// with ids of their own (the banner's stay under the dialog), and the GPC
// notice when the browser sends GPC.
func TestPreferencesOverTheBanner(t *testing.T) {
	for _, gpc := range []bool{false, true} {
		jar := newJar()
		r, rec := newRoot(t, jar, "")
		r.GPC = gpc
		h, e := load(t, r)
		h.clickID(t, e, banner.CustomizeID)
		prefs := find[*banner.Preferences](t, h)
		if len(prefs) != 1 || prefs[0].GPC != gpc {
			t.Fatalf("GPC %v: preferences %+v", gpc, prefs)
		}
		got := ids(t, h)
		if got[banner.AcceptID] != 1 || got[banner.PrefsAcceptID] != 1 || got[banner.PrefsRejectID] != 1 {
			t.Errorf("GPC %v: ids %v", gpc, got)
		}
		if (got[banner.PrefsGPCID] == 1) != gpc {
			t.Errorf("GPC %v: %d GPC notices in the preferences", gpc, got[banner.PrefsGPCID])
		}
		h.clickID(t, e, banner.PrefsAcceptID)
		wantChosen(t, r, jar, rec, true)
	}
}

// TestLaterChoicesKeepTheConsentID: accepting, then withdrawing from the
// preferences, then choosing again after a revision change (the old cookie
// still readable) all carry the first choice's id; a cookie that does not
// decode gets a new one.
func TestLaterChoicesKeepTheConsentID(t *testing.T) {
	jar := newJar()
	r, _ := newRoot(t, jar, "")
	r.AcceptAll(noCtx)
	first := storedConsent(t, r, jar).ID
	r.ShowPreferences(noCtx)
	r.RejectAll(noCtx)
	if got := storedConsent(t, r, jar).ID; got != first {
		t.Fatalf("withdrawal: consent id %q, want %q kept", got, first)
	}
	r.Policy.Revision++ // the banner shows again for the new revision
	r.AcceptAll(noCtx)
	if c, err := policy.Decode(jar.Get(policy.CookieName)); err != nil || c.ID != first || c.Revision != r.Policy.Revision {
		t.Fatalf("after a revision change: %+v (%v), want id %q for revision %d", c, err, first, r.Policy.Revision)
	}
	jar.Set(policy.CookieName, "garbage|1", 1)
	r.RejectAll(noCtx)
	if got := storedConsent(t, r, jar).ID; got == first || len(got) != 22 {
		t.Errorf("after an unreadable cookie: consent id %q, want a new one", got)
	}
}

// switchOn reports whether the rendered switch of category cat is on.
func switchOn(t *testing.T, h *host, cat string) bool {
	t.Helper()
	m := regexp.MustCompile(`<input [^>]*id="` + banner.SwitchID(cat) + `"[^>]*>`).FindString(banner.HTML(h))
	if m == "" {
		t.Fatalf("no switch of %s rendered", cat)
	}
	return regexp.MustCompile(`\schecked[\s>]`).MatchString(m)
}

// The app takes over the server's preferences: started on them with the
// switches the visitor turned there (Draft), over the stored choice too;
// Save stores them (method custom). Closing the preferences discards the
// draft: opened again, they show the stored choice.
func TestStartWithDraft(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cookie bool
	}{{"first visit", false}, {"after a refusal", true}} {
		t.Run(tc.name, func(t *testing.T) {
			jar := newJar()
			if tc.cookie {
				jar.values[policy.CookieName] = stored(mtran(t), now, false)
			}
			r, rec := newRoot(t, jar, ViewPreferences)
			r.Draft = map[string]bool{policy.Statistical: true, "unknown": true}
			h, e := load(t, r)
			if !switchOn(t, h, policy.Statistical) {
				t.Fatal("the statistics switch is off, the draft has it on")
			}
			h.clickID(t, e, banner.SaveID)
			if len(rec.changes) != 1 || !rec.changes[0].Accepted(policy.Statistical) || rec.methods[0] != MethodCustom {
				t.Fatalf("Save stored %v with %q, want statistics on, custom", rec.changes, rec.methods)
			}
			if strings.Contains(rec.changes[0].Encode(), "unknown") {
				t.Errorf("a category the policy does not declare was stored: %s", rec.changes[0].Encode())
			}
		})
	}
	t.Run("closed", func(t *testing.T) {
		r, rec := newRoot(t, newJar(), ViewPreferences)
		r.Draft = map[string]bool{policy.Statistical: true}
		h, e := load(t, r)
		h.clickID(t, e, banner.CloseID)
		if r.Draft != nil || r.View() != ViewBanner {
			t.Fatalf("after Close: draft %v, view %q", r.Draft, r.View())
		}
		h.event(e, r.ShowPreferences)
		if switchOn(t, h, policy.Statistical) {
			t.Error("the preferences opened again show the discarded draft")
		}
		if len(rec.changes) != 0 {
			t.Errorf("choices stored: %v", rec.changes)
		}
	})
}
