package server

import (
	"bytes"
	"html/template"
	"net/http"

	"github.com/portalconsent/portalconsent/banner"
	"github.com/portalconsent/portalconsent/policy"
)

var pages = template.Must(template.New("").Parse(`
{{define "index"}}<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Portal Consent host</title><link rel="stylesheet" href="{{.CSS}}"></head>
<body class="pc-page"><main class="pc-page-main">
<h1>Portal Consent host</h1>
<p>This server hosts the cookie consent banner of the portals below. Each portal embeds it with one tag:</p>
<pre><code>&lt;script src="{{.Origin}}/embed.js" data-portal="ID" async&gt;&lt;/script&gt;</code></pre>
<p>To pin this release of the loader with <a href="/embed.js.sri">Subresource Integrity</a> (the value changes with every release: update the tag on each one):</p>
<pre><code>&lt;script src="{{.Origin}}/embed.js" integrity="{{.SRI}}" crossorigin="anonymous" data-portal="ID" async&gt;&lt;/script&gt;</code></pre>
<table class="pc-cookies"><thead><tr><th scope="col">Portal</th><th scope="col">Id</th><th scope="col">Demo page</th><th scope="col">Cookie policy</th></tr></thead>
<tbody>{{range .Portals}}<tr><td><a href="{{.URL}}">{{.Name}}</a></td><td><code>{{.ID}}</code></td>
<td><a href="/demo/{{.ID}}">Demo of {{.Name}}</a></td><td><a href="/portals/{{.ID}}/policy">Cookie policy of {{.Name}}</a></td></tr>
{{end}}</tbody></table>
</main></body></html>
{{end}}
{{define "policy"}}<!doctype html>
<html lang="{{.Policy.Texts.Lang}}" dir="{{.Dir}}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Policy.Texts.PolicyTitle}} – {{.Policy.Name}}</title><link rel="stylesheet" href="{{.CSS}}">
{{- with .Theme}}<link rel="stylesheet" href="{{.}}">{{end}}</head>
<body class="pc-page"><main class="pc-page-main">
<p><a href="{{.Policy.URL}}">{{.Policy.Name}}</a></p>
{{.Content}}
</main></body></html>
{{end}}
{{define "demo"}}<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Policy.Name}} (demo)</title>
<style>
body{font:16px/1.5 Georgia,serif;margin:0;color:#222;background:#fafaf7}
header{background:#23395d;color:#fff;padding:16px 24px}header a{color:#fff}
main{max-width:760px;margin:0 auto;padding:24px 16px 200px}
</style></head>
<body>
<header><strong>{{.Policy.Name}}</strong> — demo portal page</header>
<main>
<h1>Open data of {{.Policy.Name}}</h1>
<p>This page stands in for a portal of the platform. It carries the consent banner exactly as a portal does, with one tag:</p>
<pre><code>&lt;script src="{{.Origin}}/embed.js" data-portal="{{.Policy.ID}}" async&gt;&lt;/script&gt;</code></pre>
<p>Read the <a href="/portals/{{.Policy.ID}}/policy">cookie policy of {{.Policy.Name}}</a>, or go <a href="/">back to the list of portals</a>.</p>
</main>
<script src="{{.Origin}}/embed.js" data-portal="{{.Policy.ID}}" async></script>
</body></html>
{{end}}
`))

// pageCSP is the Content-Security-Policy of the server's own pages. The demo
// page runs the banner, so it also allows 'wasm-unsafe-eval' as a portal must.
const (
	pageCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	demoCSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'"
)

// origin returns the scheme and host the request reached, e.g.
// "http://localhost:8080".
func origin(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

func (s *Server) render(w http.ResponseWriter, name, csp string, data any) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		writeError(w, http.StatusInternalServerError, "rendering the page failed: "+err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	h.Set("Cache-Control", "no-cache")
	w.Write(b.Bytes())
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	var list []*policy.Policy
	for _, id := range s.order {
		list = append(list, s.portals[id].policy)
	}
	s.render(w, "index", pageCSP, map[string]any{"Origin": origin(r), "CSS": s.css.name, "Portals": list, "SRI": s.sri})
}

// BannerHTML returns the banner of p as the consent app first renders it
// (same component, same root element), for the loader to show before the app
// runs.
func BannerHTML(p *policy.Policy) string {
	return banner.HTML(banner.RootElement("banner", p.Texts.Lang, &banner.Banner{Texts: p.Texts}))
}

// PolicyHTML returns the cookie policy of p as HTML, rendered by the same
// component as the policy dialog of the banner.
func PolicyHTML(p *policy.Policy) template.HTML {
	return template.HTML(banner.HTML(&banner.PolicyContent{Policy: p, Page: true}))
}

func (s *Server) policyPage(w http.ResponseWriter, r *http.Request) {
	p := s.lookup(w, r)
	if p == nil {
		return
	}
	theme := ""
	if p.theme != nil {
		theme = p.theme.name
	}
	s.render(w, "policy", pageCSP, map[string]any{"Policy": p.policy, "CSS": s.css.name, "Theme": theme,
		"Dir": policy.Dir(p.policy.Texts.Lang), "Content": PolicyHTML(p.policy)})
}

func (s *Server) demoPage(w http.ResponseWriter, r *http.Request) {
	p := s.lookup(w, r)
	if p == nil {
		return
	}
	s.render(w, "demo", demoCSP, map[string]any{"Policy": p.policy, "Origin": origin(r)})
}
