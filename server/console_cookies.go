package server

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// The console's cookies and export pages of one portal (session, scope
// checked by consolePortalFor: 403 outside it, 404 unknown):
//
//	GET /console/portals/{id}/cookies?from=&to=   undeclared cookies and refused cookies seen again
//	GET /console/portals/{id}/export              the export form
//	GET /console/portals/{id}/export.csv?from=&to=    receipts of the period as CSV, streamed
//	GET /console/portals/{id}/export.jsonl?from=&to=  the same as JSON Lines
//
// from and to are UTC days, inclusive; without both the period is the last
// defaultDays days. A malformed date, only one of them, or from after to
// is 400 with the page (cookies) or the console's error page (exports)
// saying what is wrong; a host without receipts store is 503.

func (s *Server) consoleCookiesRoutes() {
	s.handleFunc("GET /console/portals/{id}/cookies", s.consoleCookies)
	s.handleFunc("GET /console/portals/{id}/export", s.consoleExport)
	s.handleFunc("GET /console/portals/{id}/export.csv", func(w http.ResponseWriter, r *http.Request) {
		s.consoleExportFile(w, r, exportCSV)
	})
	s.handleFunc("GET /console/portals/{id}/export.jsonl", func(w http.ResponseWriter, r *http.Request) {
		s.consoleExportFile(w, r, exportJSONL)
	})
}

// cookiesText is the wording of the cookies and export pages.
type cookiesText struct {
	CookiesTitle, CookiesIntro, From, To, Show, BadPeriod, NoStore, StoreDown string
	UndeclaredTitle, UndeclaredIntro, UndeclaredNone                          string
	Seen, FirstSeen, LastSeen, Pages, NoPage, YAMLRow, YAMLHelp               string
	ReappearedTitle, ReappearedIntro, ReappearedNone, Category                string
	ExportTitle, ExportIntro, Format, CSV, JSONL, Download                    string
	Placeholder, ChooseCategory                                               string
}

var cookiesTexts = map[string]cookiesText{
	"en": {
		CookiesTitle: "Cookies", CookiesIntro: "What the loader found on this portal's pages over the period (UTC days).",
		From: "From", To: "To", Show: "Show", BadPeriod: "This period cannot be read:",
		NoStore:         "This consent host keeps no receipts.",
		StoreDown:       "The receipts cannot be read at the moment. Try again in a moment.",
		UndeclaredTitle: "Undeclared cookies",
		UndeclaredIntro: "Cookies set by the portal's pages that its policy does not declare, as reported with the visitors' choices. Declare each one by pasting its row under cookies: in the policy file and filling in the blanks.",
		UndeclaredNone:  "No undeclared cookie was reported over this period.",
		Seen:            "Times seen", FirstSeen: "First seen", LastSeen: "Last seen", Pages: "Pages",
		NoPage: "no page recorded", YAMLRow: "Row for the policy file", YAMLHelp: "Replace the texts in brackets and pick the category.",
		ReappearedTitle: "Refused cookies seen again",
		ReappearedIntro: "Declared cookies of a category the visitor had refused, found again on a later page view: a script sets them despite the refusal. The loader deleted them; find the script that sets them.",
		ReappearedNone:  "No refused cookie was found again over this period.",
		Category:        "Category:",
		ExportTitle:     "Export", ExportIntro: "Download the receipts received over a period (UTC days), in chain order.",
		Format: "Format", CSV: "CSV", JSONL: "JSON Lines", Download: "Download",
		Placeholder: "[to fill in]", ChooseCategory: "one of",
	},
	"fr": {
		CookiesTitle: "Cookies", CookiesIntro: "Ce que le chargeur a trouvé sur les pages de ce portail pendant la période (jours UTC).",
		From: "Du", To: "Au", Show: "Afficher", BadPeriod: "Cette période est illisible :",
		NoStore:         "Cet hôte de consentement ne garde pas de reçus.",
		StoreDown:       "Les reçus sont illisibles pour le moment. Réessayez dans un instant.",
		UndeclaredTitle: "Cookies non déclarés",
		UndeclaredIntro: "Cookies déposés par les pages du portail que sa politique ne déclare pas, signalés avec les choix des visiteurs. Déclarez chacun en collant sa ligne sous cookies: dans le fichier de politique et en complétant les blancs.",
		UndeclaredNone:  "Aucun cookie non déclaré n’a été signalé pendant cette période.",
		Seen:            "Nombre de fois", FirstSeen: "Vu la première fois", LastSeen: "Vu la dernière fois", Pages: "Pages",
		NoPage: "aucune page enregistrée", YAMLRow: "Ligne pour le fichier de politique", YAMLHelp: "Remplacez les textes entre crochets et choisissez la catégorie.",
		ReappearedTitle: "Cookies refusés revus",
		ReappearedIntro: "Cookies déclarés d’une catégorie que le visiteur avait refusée, retrouvés lors d’une page vue suivante : un script les dépose malgré le refus. Le chargeur les a supprimés ; cherchez le script qui les dépose.",
		ReappearedNone:  "Aucun cookie refusé n’a été retrouvé pendant cette période.",
		Category:        "Catégorie :",
		ExportTitle:     "Export", ExportIntro: "Téléchargez les reçus reçus pendant une période (jours UTC), dans l’ordre de la chaîne.",
		Format: "Format", CSV: "CSV", JSONL: "JSON Lines", Download: "Télécharger",
		Placeholder: "[à compléter]", ChooseCategory: "parmi",
	},
}

// cookieRow is one cookie of the cookies page.
type cookieRow struct {
	Name, Category, FirstSeen, LastSeen, YAML string
	Count                                     int64
	Pages                                     []string
}

// cookiesData is the cookies page's own data.
type cookiesData struct {
	X                cookiesText
	From, To, Error  string
	Undeclared, Seen []cookieRow
	Export           bool // the export page
}

var _ = template.Must(consolePages.New("cookies").Funcs(template.FuncMap{"cookieFacts": cookieFacts}).Parse(`{{template "head" .}}<h1>{{.Heading}}</h1>
{{with .Data}}<p>{{if .Export}}{{.X.ExportIntro}}{{else}}{{.X.CookiesIntro}}{{end}}</p>
{{with .Error}}<p role="alert" class="pc-error"><strong>{{$.Data.X.BadPeriod}} {{.}}</strong></p>{{end}}
<form method="get" action="{{if .Export}}/console/portals/{{$.ID}}/export.csv{{else}}/console/portals/{{$.ID}}/cookies{{end}}" class="pc-period">
<p><label for="from">{{.X.From}}</label> <input type="date" id="from" name="from" value="{{.From}}" required>
<label for="to">{{.X.To}}</label> <input type="date" id="to" name="to" value="{{.To}}" required></p>
{{if .Export}}<fieldset><legend>{{.X.Format}}</legend>
<p><button type="submit" class="pc-btn pc-primary" formaction="/console/portals/{{$.ID}}/export.csv">{{.X.Download}} ({{.X.CSV}})</button>
<button type="submit" class="pc-btn pc-primary" formaction="/console/portals/{{$.ID}}/export.jsonl">{{.X.Download}} ({{.X.JSONL}})</button></p>
</fieldset>{{else}}<p><button type="submit" class="pc-btn pc-secondary">{{.X.Show}}</button></p>{{end}}
</form>
{{if not .Export}}<h2>{{.X.UndeclaredTitle}}</h2>
{{if .Undeclared}}<p>{{.X.UndeclaredIntro}}</p>
{{range .Undeclared}}<section class="pc-cookie" aria-labelledby="u-{{.Name}}"><h3 id="u-{{.Name}}"><code>{{.Name}}</code></h3>
{{template "cookie-facts" (cookieFacts $.Data .)}}
<p id="y-{{.Name}}">{{$.Data.X.YAMLRow}}. {{$.Data.X.YAMLHelp}}</p>
<pre class="pc-yaml" aria-describedby="y-{{.Name}}"><code>{{.YAML}}</code></pre></section>
{{end}}{{else}}<p class="pc-empty">{{.X.UndeclaredNone}}</p>{{end}}
<h2>{{.X.ReappearedTitle}}</h2>
{{if .Seen}}<p>{{.X.ReappearedIntro}}</p>
{{range .Seen}}<section class="pc-cookie" aria-labelledby="r-{{.Name}}-{{.Category}}"><h3 id="r-{{.Name}}-{{.Category}}"><code>{{.Name}}</code></h3>
<p>{{$.Data.X.Category}} <code>{{.Category}}</code></p>
{{template "cookie-facts" (cookieFacts $.Data .)}}</section>
{{end}}{{else}}<p class="pc-empty">{{.X.ReappearedNone}}</p>{{end}}{{end}}
{{end}}{{template "foot" .}}
{{define "cookie-facts"}}<dl class="pc-facts">
<dt>{{.X.Seen}}</dt><dd>{{.Row.Count}}</dd>
<dt>{{.X.FirstSeen}}</dt><dd><time datetime="{{.Row.FirstSeen}}">{{.Row.FirstSeen}}</time></dd>
<dt>{{.X.LastSeen}}</dt><dd><time datetime="{{.Row.LastSeen}}">{{.Row.LastSeen}}</time></dd>
<dt>{{.X.Pages}}</dt><dd>{{if .Row.Pages}}<ul>{{range .Row.Pages}}<li><code>{{.}}</code></li>{{end}}</ul>{{else}}{{.X.NoPage}}{{end}}</dd>
</dl>{{end}}`))

// cookieFacts is the data of the cookie-facts template: one row with the
// page's wording.
func cookieFacts(d *cookiesData, row cookieRow) any {
	return struct {
		X   cookiesText
		Row cookieRow
	}{d.X, row}
}

// yamlString is s as a YAML scalar: JSON's double-quoted string is one.
func yamlString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// suggestedRow returns the cookie row of the policy file declaring name,
// the texts to fill in marked with x.Placeholder, the category the first
// optional one of p (a comment lists them all), so that the row as pasted
// is valid for the policy loader.
func suggestedRow(p *policy.Policy, name string, x cookiesText) string {
	var ids []string
	cat := ""
	for _, c := range p.Categories {
		ids = append(ids, c.ID)
		if cat == "" && !c.Required {
			cat = c.ID
		}
	}
	if cat == "" && len(ids) > 0 {
		cat = ids[0]
	}
	ph := yamlString(x.Placeholder)
	var b strings.Builder
	b.WriteString("  - provider: " + ph + "\n")
	b.WriteString("    function: " + ph + "\n")
	b.WriteString("    names: [" + yamlString(name) + "]\n")
	b.WriteString("    purpose: " + ph + "\n")
	b.WriteString("    category: " + cat + "  # " + x.ChooseCategory + ": " + strings.Join(ids, ", ") + "\n")
	b.WriteString("    duration: " + ph + "\n")
	return b.String()
}

// consolePeriod returns the period of r (see parsePeriod) with the form's
// values: the dates asked for, or on error the query's text.
func (s *Server) consolePeriod(r *http.Request) (from, to time.Time, fromV, toV string, err error) {
	from, to, err = parsePeriod(r, s.now())
	if err != nil {
		return from, to, r.URL.Query().Get("from"), r.URL.Query().Get("to"), err
	}
	return from, to, from.Format(time.DateOnly), to.AddDate(0, 0, -1).Format(time.DateOnly), nil
}

func (s *Server) consoleCookies(w http.ResponseWriter, r *http.Request) {
	pt, p, ss := s.consolePortalFor(w, r)
	if pt == nil {
		return
	}
	t := consoleLang(r)
	d := &cookiesData{X: cookiesTexts[t.Lang]}
	page := &consolePage{T: t, Heading: d.X.CookiesTitle + " – " + pt.policy.Name, Principal: p.Name,
		CSRF: s.sessions.CSRF(ss.ID), ID: pt.policy.ID, Revision: pt.policy.Revision,
		Nav: consoleNav(t, pt.policy.ID, navCookies), Data: d}
	from, to, fromV, toV, err := s.consolePeriod(r)
	d.From, d.To = fromV, toV
	if err != nil {
		d.Error = err.Error()
		s.renderConsole(w, http.StatusBadRequest, "cookies", page)
		return
	}
	if s.receipts == nil {
		s.consoleError(w, http.StatusServiceUnavailable, t, p, ss, d.X.CookiesTitle, d.X.NoStore)
		return
	}
	us, err := s.receipts.Undeclared(r.Context(), pt.policy.ID, from, to)
	var rs []receipts.Reappeared
	if err == nil {
		rs, err = s.receipts.Reappeared(r.Context(), pt.policy.ID, from, to)
	}
	if err != nil {
		s.log.Error("receipts store", "err", err.Error())
		s.metrics.StoreError("read")
		s.consoleError(w, http.StatusServiceUnavailable, t, p, ss, d.X.CookiesTitle, d.X.StoreDown)
		return
	}
	for _, u := range sumUndeclared(us) {
		d.Undeclared = append(d.Undeclared, cookieRow{Name: u.Name, Count: u.Count, FirstSeen: u.FirstSeen,
			LastSeen: u.LastSeen, Pages: u.Pages, YAML: suggestedRow(pt.policy, u.Name, d.X)})
	}
	for _, u := range sumReappeared(rs) {
		d.Seen = append(d.Seen, cookieRow{Name: u.Name, Category: u.Category, Count: u.Count, FirstSeen: u.FirstSeen,
			LastSeen: u.LastSeen, Pages: u.Pages})
	}
	s.renderConsole(w, http.StatusOK, "cookies", page)
}

func (s *Server) consoleExport(w http.ResponseWriter, r *http.Request) {
	pt, p, ss := s.consolePortalFor(w, r)
	if pt == nil {
		return
	}
	t := consoleLang(r)
	d := &cookiesData{X: cookiesTexts[t.Lang], Export: true}
	status := http.StatusOK
	_, _, fromV, toV, err := s.consolePeriod(r)
	d.From, d.To = fromV, toV
	if err != nil {
		d.Error, status = err.Error(), http.StatusBadRequest
	}
	s.renderConsole(w, status, "cookies", &consolePage{T: t, Heading: d.X.ExportTitle + " – " + pt.policy.Name,
		Principal: p.Name, CSRF: s.sessions.CSRF(ss.ID), ID: pt.policy.ID, Revision: pt.policy.Revision,
		Nav: consoleNav(t, pt.policy.ID, navExport), Data: d})
}

// consoleExportFile streams the receipts of the period in format f with
// the operator's session.
func (s *Server) consoleExportFile(w http.ResponseWriter, r *http.Request, f exportFormat) {
	pt, p, ss := s.consolePortalFor(w, r)
	if pt == nil {
		return
	}
	t := consoleLang(r)
	x := cookiesTexts[t.Lang]
	from, to, _, _, err := s.consolePeriod(r)
	if err != nil {
		s.consoleError(w, http.StatusBadRequest, t, p, ss, x.ExportTitle, x.BadPeriod+" "+err.Error())
		return
	}
	if s.receipts == nil {
		s.consoleError(w, http.StatusServiceUnavailable, t, p, ss, x.ExportTitle, x.NoStore)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.exportReceipts(w, r, pt.policy.ID, from, to, f)
}
