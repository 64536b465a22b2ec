// Command wasm is the consent client compiled to WebAssembly (GOOS=js). The
// loader (web/embed.js) runs it inside a same-origin frame on the portal page,
// after setting window.portalConsentConfig in that frame:
//
//	{policy: <the portal's policy JSON, a string>, start: "" | "preferences" | "policy",
//	 gpc: <true when navigator.globalPrivacyControl is>,
//	 draft: <optional: {category id: true|false}, the switches turned in the
//	         server's preferences before the app ran (app.Root.Draft)>}
//
// and, optionally, window.portalConsentHost = {changed(value, method) -> bool,
// reload(), whenReleased() -> Promise}: the first render waits for
// whenReleased's promise. It renders the app.Root component with go-app and
// stores the visitor's choice in the portal's cookies_preferences cookie, then
// calls portalConsentHost.changed with the cookie's value and the method of
// the choice ("accept-all", "reject-all" or "custom": app.Root.OnChange), once
// per choice stored; the loader applies it and sends its receipt to the
// consent host. changed returning true shows the reload notice, whose Reload
// button calls portalConsentHost.reload. It defines
// window.portalConsentShow(view) in the frame, which opens "preferences" or
// "policy" once the app runs and returns whether it did. A missing or invalid
// configuration exits with the reason in window.portalConsentExitReason, which
// the loader reports as a crash in one console error.
package main

import (
	"fmt"
	"os"
	"syscall/js"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/portalconsent/portalconsent/app"
	"github.com/portalconsent/portalconsent/policy"
)

func main() {
	// The start is split into tasks (each Sleep returns to the browser's event
	// loop): the runtime's initialisation, decoding the policy, and the first
	// render, instead of one long task on the portal's main thread.
	yield()
	win := js.Global()
	cfg := win.Get("portalConsentConfig")
	root, err := newRoot(cfg)
	if err != nil {
		// The loader reports the exit as one console error carrying this reason.
		win.Set("portalConsentExitReason", err.Error())
		os.Exit(1)
	}
	yield()
	// Never released: the frame lives as long as the page.
	win.Set("portalConsentShow", js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) == 0 || args[0].Type() != js.TypeString {
			return false
		}
		return root.Show(app.View(args[0].String()))
	}))
	focused := win.Get("document").Get("activeElement").Get("id").String()
	root.OnStart = func() {
		// go-app intercepts link clicks, history and resizing in its window: not
		// its to keep, the frame has no links or history of its own.
		for _, h := range []string{"onclick", "onpopstate", "onresize"} {
			win.Set(h, js.Null())
		}
		doc := win.Get("document")
		doc.Get("documentElement").Get("style").Set("cursor", "")
		if el := doc.Call("getElementById", focused); focused != "" && root.Start == "" && el.Truthy() {
			el.Call("focus")
		}
		win.Set("portalConsentRunning", true)
	}
	goapp.RouteWithRegexp(".*", func() goapp.Composer { return root })
	// The first render replaces the server banner's buttons: never between
	// a press and its release, or that click would be lost.
	awaitHost("whenReleased")
	// Customize or the policy may have been clicked on the server's banner
	// meanwhile, and switches turned in the server's preferences (read
	// last: the visitor may use them until the app renders).
	if s := cfg.Get("start"); s.Type() == js.TypeString {
		root.Start = app.View(s.String())
	}
	root.Draft = draft(cfg.Get("draft"))
	goapp.RunWhenOnBrowser()
}

// awaitHost calls window.portalConsentHost[name]() and, when it returns a
// promise (a thenable), waits until it settles. Without a host, such a
// method or a promise it returns at once.
func awaitHost(name string) {
	p := callHost(name)
	if p.Type() != js.TypeObject || p.Get("then").Type() != js.TypeFunction {
		return
	}
	done := make(chan struct{})
	settle := js.FuncOf(func(js.Value, []js.Value) any {
		close(done)
		return nil
	})
	defer settle.Release()
	p.Call("then", settle, settle)
	<-done
}

// draft returns the switches of the object d ({category id: true|false},
// portalConsentConfig.draft), nil when d is not an object; entries that are
// not booleans are left out.
func draft(d js.Value) map[string]bool {
	if d.Type() != js.TypeObject {
		return nil
	}
	keys := js.Global().Get("Object").Call("keys", d)
	out := map[string]bool{}
	for i := 0; i < keys.Length(); i++ {
		k := keys.Index(i).String()
		if v := d.Get(k); v.Type() == js.TypeBoolean {
			out[k] = v.Bool()
		}
	}
	return out
}

// yield lets the browser run other tasks before the program goes on.
func yield() { time.Sleep(time.Millisecond) }

// newRoot builds the root component from the loader's configuration object.
func newRoot(cfg js.Value) (*app.Root, error) {
	if cfg.Type() != js.TypeObject {
		return nil, fmt.Errorf("no configuration: the consent app must be started by embed.js")
	}
	data := cfg.Get("policy")
	if data.Type() != js.TypeString {
		return nil, fmt.Errorf("configuration has no policy")
	}
	p, err := policy.Parse("policy", []byte(data.String()), policy.Policy{})
	if err != nil {
		return nil, err
	}
	gpc := cfg.Get("gpc")
	return &app.Root{
		Policy: p,
		Jar:    newDocumentJar(p.CookieDomain),
		GPC:    gpc.Type() == js.TypeBoolean && gpc.Bool(),
		OnChange: func(c policy.Consent, method string) bool {
			v := callHost("changed", c.Encode(), method)
			return v.Type() == js.TypeBoolean && v.Bool()
		},
		OnReload: func() { callHost("reload") },
		OnError:  consoleError,
	}, nil
}

// consoleError reports err in the frame's console.
func consoleError(err error) {
	js.Global().Get("console").Call("error", "PortalConsent: "+err.Error())
}

// callHost calls window.portalConsentHost[name](args...) and returns its
// result. Without a host or such a method it returns undefined; an exception
// thrown by the method is reported in the console and undefined returned.
func callHost(name string, args ...any) (v js.Value) {
	v = js.Undefined()
	host := js.Global().Get("portalConsentHost")
	if host.Type() != js.TypeObject || host.Get(name).Type() != js.TypeFunction {
		return v
	}
	defer func() {
		if e := recover(); e != nil {
			v = js.Undefined()
			if err, ok := e.(error); ok {
				consoleError(err)
			}
		}
	}()
	return host.Call(name, args...)
}
