package harness

import (
	"bytes"
	"encoding/json"
	"html/template"
	"image"
	"image/png"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cspPresets are Content-Security-Policy headers a portal page may carry
// (query csp=NAME); CONSENT stands for the consent host.
var cspPresets = map[string]string{
	// The strictest a portal can be: no inline styles either (the frame's
	// styles are a constructed stylesheet).
	"strict": "default-src 'self'; script-src 'self' 'unsafe-inline' CONSENT 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self' CONSENT",
	"wasm":   "default-src 'self'; script-src 'self' 'unsafe-inline' CONSENT 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline' CONSENT; connect-src 'self' CONSENT",
	"nowasm": "default-src 'self'; script-src 'self' 'unsafe-inline' CONSENT; style-src 'self' 'unsafe-inline' CONSENT; connect-src 'self' CONSENT",
	// A nonce-based strict CSP: only scripts with the nonce, and those they
	// add (the loader's ui.js, the runtime, the gated scripts it runs).
	"nonce": "default-src 'self'; script-src 'nonce-N' 'strict-dynamic' 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self' CONSENT; worker-src blob:",
}

// portalHandler serves the fixture pages of testdata/ as a portal would,
// with the script tag pointing at the consent host.
func portalHandler(t testing.TB, h *Hosts) http.Handler {
	pages := template.Must(template.ParseFS(testdata, "testdata/*.html"))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/broken/") {
			brokenHost(t, h, w, r)
			return
		}
		if r.URL.Path == "/held.png" {
			h.mu.Lock()
			gate := h.imgGate
			h.mu.Unlock()
			if !passGate(gate, r) {
				return
			}
			w.Header().Set("Content-Type", "image/png")
			w.Header().Set("Cache-Control", "no-store")
			w.Write(onePixelPNG)
			return
		}
		if js, ok := gatedJS[r.URL.Path]; ok {
			// Stand-ins for a tracker's script: a.js answers late, so a b.js
			// run out of order would log first.
			if r.URL.Path == "/gated/a.js" {
				time.Sleep(150 * time.Millisecond)
			}
			w.Header().Set("Content-Type", "text/javascript")
			w.Write([]byte(js))
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/")
		if strings.HasPrefix(name, "spa/") {
			name = "hostile.html"
		}
		name = strings.TrimPrefix(name, "sub/") // the same pages under a longer path
		if pages.Lookup(name) == nil {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		data := struct {
			Consent, Portal, Cookie, Banner, Vendor, Embed, Lang string
			Hero                                                 string // the bench page's hero image URL (Lighthouse bench)
			Now                                                  int64
			NoPortal, Twice, Throw, Gated, GTag                  bool
		}{Consent: h.ConsentURL, Portal: "mtran", Cookie: q.Get("cookie"), Banner: q.Get("banner"), Vendor: h.VendorURL,
			Embed: h.EmbedURL, Lang: q.Get("lang"), Hero: q.Get("hero"),
			NoPortal: q.Has("noportal"), Twice: q.Has("twice"), Throw: q.Has("throw"), Gated: q.Has("gated"), GTag: q.Has("gtag")}
		if n, err := strconv.ParseInt(q.Get("now"), 10, 64); err == nil {
			data.Now = n
		}
		if q.Has("portal") {
			data.Portal = q.Get("portal")
		}
		if c := q.Get("consent"); c != "" {
			data.Consent = c
		}
		if csp, ok := cspPresets[q.Get("csp")]; ok {
			w.Header().Set("Content-Security-Policy", strings.ReplaceAll(csp, "CONSENT", h.ConsentURL))
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := pages.ExecuteTemplate(w, name, data); err != nil {
			t.Errorf("rendering %s: %v", name, err)
		}
	})
}

// onePixelPNG is a 1×1 transparent PNG.
var onePixelPNG = func() []byte {
	var buf bytes.Buffer
	png.Encode(&buf, image.NewNRGBA(image.Rect(0, 0, 1, 1)))
	return buf.Bytes()
}()

// gatedJS are the scripts the gated fixture's scripts load.
var gatedJS = map[string]string{
	"/gated/a.js": `gatedLog.push("a"); document.cookie = "_ga=GA1.1.1; Path=/";`,
	"/gated/b.js": `gatedLog.push("b");`,
}

// brokenHost serves, under /broken/CASE/, a consent host that fails in one
// way: "unreachable" drops the connection after embed.js, "wasm404" points the loader at a wasm that does not exist, "corrupt" at
// bytes that are not WebAssembly, "badpolicy" hands the app a policy it must
// refuse (so the Go program exits).
func brokenHost(t testing.TB, h *Hosts, w http.ResponseWriter, r *http.Request) {
	kase, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/broken/"), "/")
	switch rest {
	case "embed.js":
		proxy(t, w, h.Consent.URL+"/embed.js")
		return
	case "corrupt.wasm":
		w.Header().Set("Content-Type", "application/wasm")
		w.Write([]byte("\x00asm this is not a module"))
		return
	case "portals/mtran/config.json":
		if kase == "unreachable" {
			// The host went away after the loader ran: the connection drops.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
	default:
		if strings.HasPrefix(rest, "assets/") { // ui.js, which embed.js loads beside itself
			proxy(t, w, h.Consent.URL+"/"+rest)
			return
		}
		http.NotFound(w, r)
		return
	}
	res, err := http.Get(h.Consent.URL + "/portals/mtran/config.json")
	if err != nil {
		t.Error(err)
		return
	}
	defer res.Body.Close()
	var cfg map[string]any
	if err := json.NewDecoder(res.Body).Decode(&cfg); err != nil {
		t.Error(err)
		return
	}
	assets := cfg["assets"].(map[string]any)
	for k, v := range assets {
		// The wasm, its runtime and the stylesheet, from the consent host;
		// the scripts named with their integrity ([path, integrity, global]:
		// embeds.js, beyond.js) stay relative to this host, which proxies
		// assets/.
		if path, ok := v.(string); ok {
			assets[k] = h.ConsentURL + path
		}
	}
	switch kase {
	case "wasm404":
		assets["wasm"] = h.ConsentURL + "/assets/missing.wasm"
	case "corrupt":
		assets["wasm"] = "corrupt.wasm"
	case "badpolicy":
		// The loader does not check the policy: the app must refuse it.
		cfg["policy"].(map[string]any)["name"] = ""
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(cfg)
}

// proxy answers with what the consent host serves at url (identity-encoded).
func proxy(t testing.TB, w http.ResponseWriter, url string) {
	res, err := http.Get(url)
	if err != nil {
		t.Error(err)
		return
	}
	defer res.Body.Close()
	w.Header().Set("Content-Type", res.Header.Get("Content-Type"))
	w.WriteHeader(res.StatusCode)
	io.Copy(w, res.Body)
}
