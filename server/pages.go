package server

import (
	"bytes"
	"html/template"
	"net/http"
	"unicode"
	"unicode/utf8"

	"github.com/portalconsent/portalconsent/banner"
	"github.com/portalconsent/portalconsent/policy"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

var pages = template.Must(template.New("").Funcs(template.FuncMap{"langName": langName}).Parse(`
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
<h2>Portals</h2>
<table class="pc-cookies"><thead><tr><th scope="col">Portal</th><th scope="col">Id</th><th scope="col">Revision</th><th scope="col">Pages</th></tr></thead>
<tbody>{{range .Portals}}<tr><td><a href="{{.URL}}">{{.Name}}</a></td><td><code>{{.ID}}</code></td><td>{{.Revision}}</td>
<td>{{range $i, $l := .Links}}{{if $i}} · {{end}}<a href="{{$l.Href}}">{{$l.Label}}</a>{{end}}
{{- $id := .ID}} · Cookie policy in {{range $i, $l := .Languages}}{{if $i}}, {{end}}<a href="/portals/{{$id}}/policy/{{$l}}" hreflang="{{$l}}" lang="{{$l}}">{{langName $l}}</a>{{end}}</td></tr>
{{end}}</tbody></table>
<h2>Adding a portal</h2>
<p>Each portal is one YAML file, named after its id, in the directory the server reads (<code>server -policies DIR</code>). Copy <a href="/policy-example.yaml">the example portal's policy file</a> (<code>example.yaml</code>, with Matomo and Google Analytics as trackers), rename it, edit it, and check it with <code>server -check DIR</code>.</p>
</main></body></html>
{{end}}
{{define "policy"}}<!doctype html>
<html lang="{{.Policy.Texts.Lang}}" dir="{{.Dir}}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Policy.Texts.PolicyTitle}} – {{.Policy.Name}}</title>
<link rel="canonical" href="{{.Canonical}}">
{{range .Alternates}}<link rel="alternate" hreflang="{{.Lang}}" href="{{.URL}}">
{{end}}<link rel="alternate" hreflang="x-default" href="{{.Negotiated}}">
<link rel="stylesheet" href="{{.CSS}}">
{{- with .Theme}}<link rel="stylesheet" href="{{.}}">{{end}}</head>
<body class="pc-page"><main class="pc-page-main">
<p><a href="{{.Policy.URL}}">{{.Policy.Name}}</a></p>
{{if gt (len .Alternates) 1}}<p class="pc-langs">{{range $i, $a := .Alternates}}{{if $i}} · {{end}}{{if $a.Current}}<strong lang="{{$a.Lang}}">{{$a.Name}}</strong>{{else}}<a href="{{$a.URL}}" hreflang="{{$a.Lang}}" lang="{{$a.Lang}}">{{$a.Name}}</a>{{end}}{{end}}</p>
{{end}}{{.Content}}
{{with .Updated}}<p class="pc-updated">{{.}}</p>{{end}}
<p><button type="button" class="pc-btn pc-primary" data-consent="preferences">{{.Policy.Texts.ManageCookies}}</button></p>
</main>
<script src="/embed.js" data-portal="{{.Policy.ID}}" data-lang="{{.Policy.Texts.Lang}}" async></script>
</body></html>
{{end}}
{{define "demo"}}<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Policy.Name}} (demo)</title>
<style>
body{font:16px/1.5 Georgia,serif;margin:0;color:#222;background:#fafaf7}
header{background:#23395d;color:#fff;padding:16px 24px}header a{color:#fff}
main{max-width:760px;margin:0 auto;padding:24px 16px 200px}
pre{white-space:pre-wrap;overflow-wrap:anywhere}
</style></head>
<body>
<header><strong>{{.Policy.Name}}</strong> — demo portal page</header>
<main>
<h1>Open data of {{.Policy.Name}}</h1>
<p>This page stands in for a portal of the platform. It carries the consent banner exactly as a portal does, with one tag:</p>
<pre><code>&lt;script src="{{.Origin}}/embed.js" data-portal="{{.Policy.ID}}" async&gt;&lt;/script&gt;</code></pre>
<p>Read the <a href="/portals/{{.Policy.ID}}/policy">cookie policy of {{.Policy.Name}}</a>, or go <a href="/">back to the list of portals</a>.</p>
{{with .Trackers}}<h2>Trackers</h2>
<p>This portal declares the trackers below. Each runs only once the visitor accepts its category: its script tag has <code>type="text/plain"</code> and <code>data-category</code>. On this page they are stand-ins that set the same cookies locally, log what they did below and in the console, and contact no other host. On a portal, put the real snippet, gated the same way:</p>
{{range .}}<h3>{{.Name}} (category <code>{{.Category}}</code>)</h3>
<pre><code>{{.Snippet}}</code></pre>
{{end}}<h3>What ran on this page</h3>
<ol id="tracker-log"></ol>
{{end}}</main>
{{range .Trackers}}<script type="text/plain" data-category="{{.Category}}" src="{{.StandIn}}"></script>
{{end}}
<script src="{{.Origin}}/embed.js" data-portal="{{.Policy.ID}}" async></script>
</body></html>
{{end}}
`))

// pageCSP is the Content-Security-Policy of the server's own pages. The demo
// page runs the banner, so it also allows 'wasm-unsafe-eval' as a portal must;
// so does the policy page (its Manage cookies button opens the preferences),
// with what the loader needs from this host: the configuration and the wasm
// (connect-src), and a blob: worker that compiles the wasm (worker-src).
const (
	pageCSP   = "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	policyCSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	demoCSP   = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'"
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
	s.render(w, "index", pageCSP, map[string]any{"Origin": origin(r), "CSS": s.css.name, "Portals": indexRows(s.Policies()), "SRI": s.sri})
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

// policyPage serves /portals/{id}/policy in the language of the lang query
// parameter, else of Accept-Language, else the policy's default (see
// preferences).
func (s *Server) policyPage(w http.ResponseWriter, r *http.Request) {
	p := s.lookup(w, r)
	if p == nil {
		return
	}
	w.Header().Set("Vary", "Accept-Language")
	list := r.URL.Query().Get("lang")
	if list == "" {
		list = r.Header.Get("Accept-Language")
	}
	s.renderPolicy(w, r, p, p.match(list))
}

// alternate is a link to the policy page in one language.
type alternate struct {
	Lang, Name, URL string
	Current         bool
}

// renderPolicy writes the policy page of the portal in the language of v,
// with links to the page in each language the policy offers.
func (s *Server) renderPolicy(w http.ResponseWriter, r *http.Request, p *portal, v *variant) {
	base := origin(r) + "/portals/" + p.policy.ID + "/policy"
	var alts []alternate
	for _, o := range p.variants {
		l := o.policy.Texts.Lang
		alts = append(alts, alternate{Lang: l, Name: langName(l), URL: base + "/" + l, Current: o == v})
	}
	w.Header().Set("Content-Language", v.policy.Texts.Lang)
	theme := ""
	if p.theme != nil {
		theme = p.theme.name
	}
	s.render(w, "policy", policyCSP, map[string]any{
		"Policy": v.policy, "CSS": s.css.name, "Theme": theme, "Dir": policy.Dir(v.policy.Texts.Lang),
		"Content": PolicyHTML(v.policy),
		"Updated": v.policy.UpdatedText(), "Alternates": alts,
		"Canonical": base + "/" + v.policy.Texts.Lang, "Negotiated": base,
	})
}

// langName returns the name of the language tag in that language
// ("Français" for "fr"), or the tag itself when x/text has no name for it.
func langName(tag string) string {
	t, err := language.Parse(tag)
	if err != nil {
		return tag
	}
	name := display.Self.Name(t)
	if name == "" {
		return tag
	}
	// Languages whose names are lowercase mid-sentence are capitalized as
	// a label.
	first, size := utf8.DecodeRuneInString(name)
	return string(unicode.ToTitle(first)) + name[size:]
}

func (s *Server) demoPage(w http.ResponseWriter, r *http.Request) {
	p := s.lookup(w, r)
	if p == nil {
		return
	}
	s.render(w, "demo", demoCSP, map[string]any{"Policy": p.policy, "Origin": origin(r), "Trackers": demoTrackers(p.policy)})
}
