// Package app is the client's consent flow: the root component holds the
// policy and the visitor's choice, decides what shows (the banner, the
// preferences, the policy, or nothing), and persists the choice through a Jar,
// so the whole flow runs and tests natively.
package app

import (
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/portalconsent/portalconsent/banner"
	"github.com/portalconsent/portalconsent/policy"
)

// Jar reads and writes cookies of the portal's origin.
type Jar interface {
	// Get returns the value of the named cookie, or "" when it is absent.
	Get(name string) string
	// Set stores the named cookie for lifetimeDays days (Path=/, SameSite=Lax,
	// Secure on https). It returns an error when the browser refused it.
	Set(name, value string, lifetimeDays int) error
}

// Methods a choice is made with, as OnChange gets them (and as the consent
// host's receipts record them).
const (
	// MethodAcceptAll is Accept all, wherever it is clicked.
	MethodAcceptAll = "accept-all"
	// MethodRejectAll is Reject all, wherever it is clicked.
	MethodRejectAll = "reject-all"
	// MethodCustom is Save in the preferences, whatever the switches say: the
	// visitor chose category by category, even when they accepted all.
	MethodCustom = "custom"
)

// View is what the root shows.
type View string

// Views. The root element carries the current one's mode in data-pc-mode:
// "hidden", "banner" or "modal". ViewNotice, the reload notice, is laid out
// like the banner (mode "banner").
const (
	ViewNone        View = ""
	ViewBanner      View = "banner"
	ViewPreferences View = "preferences"
	ViewPolicy      View = "policy"
	ViewNotice      View = "notice"
)

// Root is the client's root component. Set Policy and Jar before mounting.
// Start may open the preferences or the policy at once; otherwise the banner
// shows when the stored choice does not hold for the policy, and stays (under
// any open dialog) until the visitor chooses. Now defaults to time.Now.
// OnChange, when set, is called after each choice is stored; OnError when it
// could not be (nothing else changes then).
type Root struct {
	goapp.Compo

	Policy *policy.Policy
	Jar    Jar
	Start  View
	// Draft, with Start ViewPreferences, holds the switches the visitor
	// turned in the server's preferences before the app ran (category id:
	// on): the app's preferences open with them so. Closing them discards it.
	Draft map[string]bool
	// GPC shows the Global Privacy Control notice on the banner and in the
	// preferences.
	GPC bool
	Now func() time.Time
	// OnChange gets the stored choice and the method it was made with
	// (MethodAcceptAll, MethodRejectAll or MethodCustom). It returns true when
	// the page must reload for the choice to take full effect (scripts of a
	// category just refused already ran): the reload notice then shows.
	OnChange func(c policy.Consent, method string) bool
	OnError  func(error)
	// OnReload, when set, is called by the reload notice's Reload button.
	OnReload func()
	// OnStart, when set, is called once the root's first render is in the
	// document.
	OnStart func()

	view    View
	consent *policy.Consent
	opener  string
	// ctx is the root's own context: deferred work queued through it runs even
	// when the element that triggered it (a dialog) has been removed.
	ctx goapp.Context
}

// OnMount implements app.Mounter: it keeps the root's context and, after the
// first render is in the document, calls OnStart.
func (r *Root) OnMount(ctx goapp.Context) {
	r.ctx = ctx
	if r.OnStart != nil {
		ctx.Defer(func(goapp.Context) { r.OnStart() })
	}
}

// OnInit implements app.Initializer: it reads the stored choice and picks the
// first view.
func (r *Root) OnInit() {
	if r.Now == nil {
		r.Now = time.Now
	}
	r.consent = nil
	if r.Policy != nil && r.Jar != nil {
		if c, err := policy.Current(r.Jar.Get(policy.CookieName), r.Policy, r.Now()); err == nil {
			r.consent = &c
		}
	}
	switch {
	case r.Start == ViewPreferences || r.Start == ViewPolicy:
		r.view = r.Start
		if r.consent == nil {
			// Clicked on the server's banner before the app ran: closing the
			// dialog returns focus to that button.
			r.opener = banner.CustomizeID
			if r.Start == ViewPolicy {
				r.opener = banner.PolicyID
			}
		}
	case r.consent == nil:
		r.view = ViewBanner
	default:
		r.view = ViewNone
	}
}

// View returns what the root shows now.
func (r *Root) View() View { return r.view }

// Consent returns the stored choice, or nil while the visitor has not chosen.
func (r *Root) Consent() *policy.Consent { return r.consent }

// Mode returns the layout the frame needs: "hidden", "banner" or "modal".
func (r *Root) Mode() string {
	if r.Policy == nil {
		return "hidden"
	}
	switch r.view {
	case ViewBanner, ViewNotice:
		return "banner"
	case ViewPreferences, ViewPolicy:
		return "modal"
	}
	return "hidden"
}

// Render implements app.Composer.
func (r *Root) Render() goapp.UI {
	if r.Policy == nil {
		return banner.RootElement("hidden", "")
	}
	// Without a choice the banner stays, under any open dialog.
	showBanner := r.consent == nil
	return banner.RootElement(r.Mode(), r.Policy.Texts.Lang,
		goapp.If(showBanner, func() goapp.UI {
			return &banner.Banner{
				Texts:       r.Policy.Texts,
				GPC:         r.GPC,
				OnAcceptAll: func(ctx goapp.Context) { r.AcceptAll(ctx) },
				OnRejectAll: func(ctx goapp.Context) { r.RejectAll(ctx) },
				OnCustomize: func(ctx goapp.Context) { r.open(ctx, ViewPreferences, banner.CustomizeID) },
				OnPolicy:    func(ctx goapp.Context) { r.open(ctx, ViewPolicy, banner.PolicyID) },
			}
		}),
		goapp.If(r.view == ViewPreferences, func() goapp.UI {
			return &banner.Preferences{
				Policy:      r.Policy,
				Accepted:    r.accepted(),
				Draft:       r.Draft,
				ConsentID:   r.consentID(),
				GPC:         r.GPC,
				OnAcceptAll: func(ctx goapp.Context) { r.AcceptAll(ctx) },
				OnRejectAll: func(ctx goapp.Context) { r.RejectAll(ctx) },
				OnSave:      r.Save,
				OnClose:     r.Close,
			}
		}),
		goapp.If(r.view == ViewPolicy, func() goapp.UI {
			return &banner.PolicyDialog{
				Policy:  r.Policy,
				OnClose: r.Close,
				// The policy dialog goes: Close in the preferences returns
				// focus to what opened the policy.
				OnManage: func(ctx goapp.Context) { r.open(ctx, ViewPreferences, r.opener) },
			}
		}),
		goapp.If(r.view == ViewNotice, func() goapp.UI {
			return &banner.ReloadNotice{
				Texts:    r.Policy.Texts,
				OnReload: func(goapp.Context) { r.Reload() },
				OnClose:  r.Close,
			}
		}),
	)
}

// accepted returns the stored decision of every optional category (all off
// before a choice).
func (r *Root) accepted() map[string]bool {
	out := map[string]bool{}
	for _, c := range r.Policy.Optional() {
		out[c.ID] = r.consent != nil && r.consent.Accepted(c.ID)
	}
	return out
}

// consentID returns the id of the stored choice, "" before a choice.
func (r *Root) consentID() string {
	if r.consent == nil {
		return ""
	}
	return r.consent.ID
}

// AcceptAll stores a choice that accepts every category and hides the banner.
func (r *Root) AcceptAll(ctx goapp.Context) {
	r.decide(ctx, MethodAcceptAll, func(string) bool { return true })
}

// RejectAll stores a choice that refuses every optional category and hides the
// banner.
func (r *Root) RejectAll(ctx goapp.Context) { r.decide(ctx, MethodRejectAll, nil) }

// Save stores the choice made in the preferences: the optional categories
// accepted[id] is true for, and no other.
func (r *Root) Save(ctx goapp.Context, accepted map[string]bool) {
	r.decide(ctx, MethodCustom, func(id string) bool { return accepted[id] })
}

// ShowPreferences opens the preferences dialog.
func (r *Root) ShowPreferences(ctx goapp.Context) { r.open(ctx, ViewPreferences, "") }

// ShowPolicy opens the policy dialog.
func (r *Root) ShowPolicy(ctx goapp.Context) { r.open(ctx, ViewPolicy, "") }

// Show opens the preferences or the policy from outside the UI goroutine
// (the portal's "Manage cookies" link, through the loader): the work is
// dispatched on the mounted root's context and the call does not wait for it.
// It returns false, doing nothing, for any other view, without a policy, or
// before the root is mounted. Closing a dialog opened this way returns focus
// nowhere: the loader returns it to the portal.
func (r *Root) Show(v View) bool {
	if (v != ViewPreferences && v != ViewPolicy) || r.Policy == nil || r.ctx.Context == nil {
		return false
	}
	r.ctx.Dispatch(func(ctx goapp.Context) { r.open(ctx, v, "") })
	return true
}

// Reload calls OnReload, if set.
func (r *Root) Reload() {
	if r.OnReload != nil {
		r.OnReload()
	}
}

// Close closes an open dialog or the reload notice: the banner comes back
// while no choice is stored, and focus returns to the control that opened the
// dialog.
func (r *Root) Close(ctx goapp.Context) {
	r.Draft = nil
	r.view = ViewNone
	if r.consent == nil {
		r.view = ViewBanner
	}
	if r.view == ViewBanner && r.opener != "" {
		r.focus(r.opener)
	}
	r.opener = ""
}

func (r *Root) open(ctx goapp.Context, v View, opener string) {
	r.Draft = nil
	r.view = v
	r.opener = opener
}

// decide stores the choice accept makes (nil: every optional category
// refused) and reports it to OnChange with method. The choice keeps the
// consent id of the stored one when it is readable (policy.KeptID): one
// visitor, one history.
func (r *Root) decide(ctx goapp.Context, method string, accept func(string) bool) {
	c := policy.NewConsent(r.Policy, r.Now(), accept)
	c.ID = policy.KeptID(r.Jar.Get(policy.CookieName))
	if err := r.Jar.Set(policy.CookieName, c.Encode(), r.Policy.LifetimeOf(c)); err != nil {
		if r.OnError != nil {
			r.OnError(err)
		}
		return
	}
	r.consent = &c
	r.view = ViewNone
	r.opener = ""
	if r.OnChange != nil && r.OnChange(c, method) {
		r.view = ViewNotice
		// The control the choice was made with is gone: focus moves to Reload.
		r.focus(banner.ReloadID)
	}
}

// focus moves keyboard focus to the element with the given id once the
// current render is in the document. It does nothing before the root is
// mounted.
func (r *Root) focus(id string) {
	if r.ctx.Context == nil {
		return
	}
	r.ctx.Defer(func(goapp.Context) {
		if el := goapp.Window().GetElementByID(id); el.Truthy() {
			el.Call("focus")
		}
	})
}
