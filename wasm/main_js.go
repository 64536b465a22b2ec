// Command wasm is the consent client compiled to WebAssembly (GOOS=js). The
// loader (web/embed.js) runs it inside a same-origin frame on the portal page,
// after setting window.portalConsentConfig in that frame:
//
//	{policy: <the portal's policy JSON, a string>, start: "" | "preferences" | "policy"}
//
// It renders the app.Root component with go-app and stores the visitor's
// choice in the portal's cookies_preferences cookie. A missing or invalid
// configuration exits with the reason in window.portalConsentExitReason, which
// the loader reports as a crash in one console error.
package main

import (
	"fmt"
	"os"
	"syscall/js"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/portalconsent/portalconsent/app"
	"github.com/portalconsent/portalconsent/policy"
)

func main() {
	root, err := newRoot(js.Global().Get("portalConsentConfig"))
	if err != nil {
		// The loader reports the exit as one console error carrying this reason.
		js.Global().Set("portalConsentExitReason", err.Error())
		os.Exit(1)
	}
	goapp.RouteWithRegexp(".*", func() goapp.Composer { return root })
	goapp.RunWhenOnBrowser()
}

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
	start := app.View("")
	if s := cfg.Get("start"); s.Type() == js.TypeString {
		start = app.View(s.String())
	}
	host := js.Global().Get("portalConsentHost")
	return &app.Root{
		Policy: p,
		Jar:    newDocumentJar(),
		Start:  start,
		OnChange: func(c policy.Consent) {
			if host.Type() == js.TypeObject && host.Get("changed").Type() == js.TypeFunction {
				host.Call("changed", c.Encode())
			}
		},
		OnError: func(err error) {
			js.Global().Get("console").Call("error", "PortalConsent: "+err.Error())
		},
	}, nil
}
