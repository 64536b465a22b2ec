package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// The console's proof pages of one portal:
//
//	GET /console/portals/{id}/lookup?consent=ID     the receipts of a consent id, oldest first
//	GET /console/portals/{id}/notices/{sha256}      a stored notice, rendered as the policy page it was
//	GET /console/portals/{id}/history?from=N&to=M   the revisions and notices served, and what changed
//
// A malformed consent id, hash or revision is answered 400 with the page
// and a message; an unknown hash 404; a store that fails 503.

// lookupText is the wording of the proof pages in one language.
type lookupText struct {
	LookupTitle, LookupIntro, ConsentLabel, ConsentHelp, Search, BadID, NoReceipt, Found             string
	Received, Decided, Revision, Choices, Method, Language, Page, Receipt, Notice, Accepted, Refused string
	ShowNotice, Unavailable, NoticeTitle, NoticeIntro, NoticeBad, NoticeUnknown, Served, Until       string
	HistoryTitle, HistoryIntro, SHA, FirstServed, LastServed, NoNotices, DiffTitle, DiffOf, Compare  string
	FromRev, ToRev, BadRev, UnknownRev, NoChange, Kind, Change, Item, Field, Before, After           string
	Methods                                                                                          map[string]string
	Kinds, Ops                                                                                       map[string]string
}

var lookupTexts = map[string]lookupText{
	"en": {
		LookupTitle: "Consent lookup", LookupIntro: "A visitor quotes the consent ID shown in their cookie preferences: its receipts show what they chose, when, and the notice they were shown.",
		ConsentLabel: "Consent ID", ConsentHelp: "22 characters (letters, digits, - and _), as shown in the visitor's preferences.",
		Search: "Look up", BadID: "“%s” is not a consent ID: it has 22 characters, letters, digits, - and _.",
		NoReceipt: "No receipt of consent ID %s for this portal.", Found: "Receipts of consent ID %s, oldest first",
		Received: "Received (UTC)", Decided: "Decided (UTC)", Revision: "Revision", Choices: "Choices", Method: "Method",
		Language: "Language", Page: "Page", Receipt: "Receipt", Notice: "Notice shown", Accepted: "accepted", Refused: "refused",
		ShowNotice: "notice of revision %d (%s)", Unavailable: "The receipts cannot be read at the moment: retry later.",
		NoticeTitle: "Notice as shown", NoticeIntro: "The cookie policy of %s, revision %d, in %s, as the consent host served it",
		NoticeBad: "“%s” is not a notice hash (64 lowercase hexadecimal characters).", NoticeUnknown: "No notice with this hash for this portal.",
		Served: "served from %s", Until: "to %s",
		HistoryTitle: "Policy history", HistoryIntro: "Each revision and each notice the consent host served, with the dates it served it.",
		SHA: "Notice (SHA-256)", FirstServed: "First served (UTC)", LastServed: "Last served (UTC)", NoNotices: "No notice has been recorded yet.",
		DiffTitle: "What changed", DiffOf: "From revision %d to revision %d", Compare: "Compare",
		FromRev: "From revision", ToRev: "To revision", BadRev: "“%s” is not a revision number.", UnknownRev: "Revision %d has no recorded notice.",
		NoChange: "No category, signal or cookie row changed.", Kind: "What", Change: "Change", Item: "Item", Field: "Field", Before: "Before", After: "After",
		Methods: map[string]string{receipts.MethodAcceptAll: "Accept all", receipts.MethodRejectAll: "Reject all", receipts.MethodCustom: "Custom"},
		Kinds:   map[string]string{"category": "Category", "signal": "Consent Mode signal", "cookie": "Cookie row", "setting": "Setting"},
		Ops:     map[string]string{"added": "added", "removed": "removed", "changed": "changed"},
	},
	"fr": {
		LookupTitle: "Recherche d’un consentement", LookupIntro: "Un visiteur cite l’identifiant de consentement affiché dans ses préférences : ses reçus montrent ce qu’il a choisi, quand, et la notice qui lui a été présentée.",
		ConsentLabel: "Identifiant de consentement", ConsentHelp: "22 caractères (lettres, chiffres, - et _), tel qu’affiché dans les préférences du visiteur.",
		Search: "Rechercher", BadID: "« %s » n’est pas un identifiant de consentement : il compte 22 caractères, lettres, chiffres, - et _.",
		NoReceipt: "Aucun reçu pour l’identifiant %s sur ce portail.", Found: "Reçus de l’identifiant %s, du plus ancien au plus récent",
		Received: "Reçu (UTC)", Decided: "Décidé (UTC)", Revision: "Révision", Choices: "Choix", Method: "Méthode",
		Language: "Langue", Page: "Page", Receipt: "Reçu", Notice: "Notice présentée", Accepted: "acceptée", Refused: "refusée",
		ShowNotice: "notice de la révision %d (%s)", Unavailable: "Les reçus ne peuvent pas être lus pour l’instant : réessayez plus tard.",
		NoticeTitle: "Notice telle que présentée", NoticeIntro: "La politique de cookies de %s, révision %d, en %s, telle que l’hôte de consentement l’a servie",
		NoticeBad: "« %s » n’est pas une empreinte de notice (64 caractères hexadécimaux en minuscules).", NoticeUnknown: "Aucune notice de ce portail ne porte cette empreinte.",
		Served: "servie du %s", Until: "au %s",
		HistoryTitle: "Historique de la politique", HistoryIntro: "Chaque révision et chaque notice servie par l’hôte de consentement, avec les dates où il l’a servie.",
		SHA: "Notice (SHA-256)", FirstServed: "Première diffusion (UTC)", LastServed: "Dernière diffusion (UTC)", NoNotices: "Aucune notice n’a encore été enregistrée.",
		DiffTitle: "Ce qui a changé", DiffOf: "De la révision %d à la révision %d", Compare: "Comparer",
		FromRev: "De la révision", ToRev: "À la révision", BadRev: "« %s » n’est pas un numéro de révision.", UnknownRev: "La révision %d n’a aucune notice enregistrée.",
		NoChange: "Aucune catégorie, aucun signal ni aucune ligne de cookie n’a changé.", Kind: "Élément", Change: "Changement", Item: "Nom", Field: "Champ", Before: "Avant", After: "Après",
		Methods: map[string]string{receipts.MethodAcceptAll: "Tout accepter", receipts.MethodRejectAll: "Tout refuser", receipts.MethodCustom: "Personnalisé"},
		Kinds:   map[string]string{"category": "Catégorie", "signal": "Signal Consent Mode", "cookie": "Ligne de cookie", "setting": "Réglage"},
		Ops:     map[string]string{"added": "ajouté", "removed": "retiré", "changed": "modifié"},
	},
}

func lookupLang(t *consoleText) *lookupText {
	lt := lookupTexts[t.Lang]
	return &lt
}

var _ = template.Must(consolePages.New("lookup-pages").Parse(`
{{define "lookup"}}{{template "head" .}}{{$L := .Data.L}}<h1>{{$L.LookupTitle}}</h1>
<p>{{$L.LookupIntro}}</p>
<form method="get" action="/console/portals/{{.ID}}/lookup" role="search">
<p><label for="consent">{{$L.ConsentLabel}}</label><br>
<input type="search" id="consent" name="consent" value="{{.Data.Query}}" required maxlength="64" spellcheck="false" autocomplete="off" aria-describedby="consent-help">
<button type="submit" class="pc-btn pc-primary">{{$L.Search}}</button></p>
<p id="consent-help">{{$L.ConsentHelp}}</p>
</form>
{{with .Error}}<p role="alert" class="pc-error"><strong>{{.}}</strong></p>{{end}}
{{with .Message}}<p role="status">{{.}}</p>{{end}}
{{if .Data.Rows}}<h2 id="receipts">{{.Data.Found}}</h2>
<div class="pc-table-wrap" tabindex="0" role="region" aria-labelledby="receipts"><table>
<thead><tr><th scope="col">{{$L.Received}}</th><th scope="col">{{$L.Decided}}</th><th scope="col">{{$L.Revision}}</th><th scope="col">{{$L.Choices}}</th><th scope="col">{{$L.Method}}</th><th scope="col">{{$L.Language}}</th><th scope="col">{{$L.Page}}</th><th scope="col">{{$L.Receipt}}</th><th scope="col">{{$L.Notice}}</th></tr></thead>
<tbody>{{range .Data.Rows}}<tr class="pc-receipt">
<td><time datetime="{{.Received}}">{{.Received}}</time></td><td><time datetime="{{.Decided}}">{{.Decided}}</time></td>
<td class="pc-num">{{.Revision}}</td>
<td><ul class="pc-choices">{{range .Choices}}<li><code>{{.Category}}</code>: {{.State}}</li>{{end}}</ul></td>
<td>{{.Method}}</td><td>{{.Lang}}</td><td>{{.Page}}</td><td><code>{{.ID}}</code></td>
<td><a href="{{.NoticeURL}}">{{.NoticeLabel}}</a></td></tr>
{{end}}</tbody></table></div>{{end}}
{{template "foot" .}}{{end}}

{{define "notice"}}{{template "head" .}}{{$L := .Data.L}}<h1>{{$L.NoticeTitle}}</h1>
<p>{{.Data.Intro}}: {{.Data.Served}}. SHA-256 <code>{{.Data.SHA}}</code>.</p>
<div class="pc-notice" lang="{{.Data.Lang}}" dir="{{.Data.Dir}}">{{.Data.Content}}</div>
{{template "foot" .}}{{end}}

{{define "history"}}{{template "head" .}}{{$L := .Data.L}}<h1>{{$L.HistoryTitle}}</h1>
<p>{{$L.HistoryIntro}}</p>
{{with .Error}}<p role="alert" class="pc-error"><strong>{{.}}</strong></p>{{end}}
{{if .Data.Notices}}<div class="pc-table-wrap" tabindex="0" role="region" aria-label="{{$L.HistoryTitle}}"><table>
<thead><tr><th scope="col">{{$L.Revision}}</th><th scope="col">{{$L.Language}}</th><th scope="col">{{$L.SHA}}</th><th scope="col">{{$L.FirstServed}}</th><th scope="col">{{$L.LastServed}}</th></tr></thead>
<tbody>{{range .Data.Notices}}<tr class="pc-notice-row"><td class="pc-num">{{.Revision}}</td><td>{{.Lang}}</td><td><a href="{{.URL}}"><code>{{.Short}}</code></a></td>
<td><time datetime="{{.First}}">{{.First}}</time></td><td><time datetime="{{.Last}}">{{.Last}}</time></td></tr>
{{end}}</tbody></table></div>
{{if .Data.Revisions}}<h2 id="diff">{{$L.DiffTitle}}</h2>
<form method="get" action="/console/portals/{{.ID}}/history">
<p><label for="from">{{$L.FromRev}}</label> <select id="from" name="from">{{range .Data.Revisions}}<option value="{{.N}}"{{if .From}} selected{{end}}>{{.N}}</option>{{end}}</select>
<label for="to">{{$L.ToRev}}</label> <select id="to" name="to">{{range .Data.Revisions}}<option value="{{.N}}"{{if .To}} selected{{end}}>{{.N}}</option>{{end}}</select>
<button type="submit" class="pc-btn pc-secondary">{{$L.Compare}}</button></p>
</form>
{{if .Data.DiffOf}}<h3>{{.Data.DiffOf}}</h3>
{{if .Data.Changes}}<div class="pc-table-wrap" tabindex="0" role="region" aria-label="{{.Data.DiffOf}}"><table>
<thead><tr><th scope="col">{{$L.Kind}}</th><th scope="col">{{$L.Item}}</th><th scope="col">{{$L.Change}}</th><th scope="col">{{$L.Field}}</th><th scope="col">{{$L.Before}}</th><th scope="col">{{$L.After}}</th></tr></thead>
<tbody>{{range .Data.Changes}}<tr class="pc-change"><td>{{.Kind}}</td><td><code>{{.Key}}</code></td><td>{{.Op}}</td><td>{{.Field}}</td><td>{{.From}}</td><td>{{.To}}</td></tr>
{{end}}</tbody></table></div>{{else}}<p>{{$L.NoChange}}</p>{{end}}{{end}}{{end}}
{{else}}<p>{{$L.NoNotices}}</p>{{end}}
{{template "foot" .}}{{end}}
`))

type lookupChoice struct{ Category, State string }

type lookupRow struct {
	Received, Decided      string
	Revision               int64
	Choices                []lookupChoice
	Method, Lang, Page, ID string
	NoticeURL, NoticeLabel string
}

type lookupData struct {
	L     *lookupText
	Query string
	Found string
	Rows  []lookupRow
}

func utcTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func noticeURL(portal, sha string) string {
	return "/console/portals/" + portal + "/notices/" + sha
}

// consoleLookup serves the lookup page: the form, and with ?consent= the
// receipts of that consent id of the portal.
func (s *Server) consoleLookup(w http.ResponseWriter, r *http.Request) {
	pt, p, ss := s.consolePortalFor(w, r)
	if pt == nil {
		return
	}
	t := consoleLang(r)
	L := lookupLang(t)
	id := pt.policy.ID
	q := r.URL.Query().Get("consent")
	d := &consolePage{T: t, Heading: L.LookupTitle + " – " + pt.policy.Name, Principal: p.Name, CSRF: s.sessions.CSRF(ss.ID),
		ID: id, Nav: consoleNav(t, id, navLookup)}
	data := &lookupData{L: L, Query: q}
	d.Data = data
	switch {
	case q == "":
		s.renderConsole(w, http.StatusOK, "lookup", d)
		return
	case !consentIDPattern.MatchString(q):
		d.Error = fmt.Sprintf(L.BadID, truncate(q, 64))
		s.renderConsole(w, http.StatusBadRequest, "lookup", d)
		return
	case s.receipts == nil:
		d.Error = L.Unavailable
		s.renderConsole(w, http.StatusServiceUnavailable, "lookup", d)
		return
	}
	rs, err := s.receipts.Consent(r.Context(), id, q)
	if errors.Is(err, receipts.ErrNotFound) {
		d.Message = fmt.Sprintf(L.NoReceipt, q)
		s.renderConsole(w, http.StatusOK, "lookup", d)
		return
	}
	if err != nil {
		s.log.Error("receipts store", "err", err.Error())
		s.metrics.StoreError("read")
		d.Error = L.Unavailable
		s.renderConsole(w, http.StatusServiceUnavailable, "lookup", d)
		return
	}
	data.Found = fmt.Sprintf(L.Found, q)
	for _, rc := range rs {
		row := lookupRow{Received: utcTime(rc.ReceivedAt), Decided: utcTime(rc.DecidedAt), Revision: rc.Revision,
			Method: L.Methods[rc.Method], Lang: rc.Lang, Page: rc.Page, ID: rc.ID,
			NoticeURL: noticeURL(id, rc.Notice), NoticeLabel: fmt.Sprintf(L.ShowNotice, rc.Revision, rc.Lang)}
		if row.Method == "" {
			row.Method = rc.Method
		}
		for _, c := range rc.Choices {
			st := L.Refused
			if c.Accepted {
				st = L.Accepted
			}
			row.Choices = append(row.Choices, lookupChoice{Category: c.Category, State: st})
		}
		data.Rows = append(data.Rows, row)
	}
	s.renderConsole(w, http.StatusOK, "lookup", d)
}

type noticeData struct {
	L                             *lookupText
	Intro, Served, SHA, Lang, Dir string
	Content                       template.HTML
}

// decodeNotice returns the policy a stored notice holds (the policy JSON
// config.json served), or an error when the body is not one.
func decodeNotice(n receipts.Notice) (*policy.Policy, error) {
	var q policy.Policy
	if err := json.Unmarshal(n.Body, &q); err != nil {
		return nil, err
	}
	if q.ID == "" || len(q.Categories) == 0 {
		return nil, errors.New("the stored notice is not a policy document")
	}
	return &q, nil
}

// consoleNotice serves a stored notice rendered as the policy page it
// was, with the banner's own component; no script runs on it.
func (s *Server) consoleNotice(w http.ResponseWriter, r *http.Request) {
	pt, p, ss := s.consolePortalFor(w, r)
	if pt == nil {
		return
	}
	t := consoleLang(r)
	L := lookupLang(t)
	id := pt.policy.ID
	d := &consolePage{T: t, Heading: L.NoticeTitle + " – " + pt.policy.Name, Principal: p.Name, CSRF: s.sessions.CSRF(ss.ID),
		ID: id, Nav: consoleNav(t, id, navHistory)}
	sha := r.PathValue("sha256")
	fail := func(status int, msg string) {
		d.Heading, d.Message = L.NoticeTitle, msg
		s.renderConsole(w, status, "error", d)
	}
	if !sha256Pattern.MatchString(sha) {
		fail(http.StatusBadRequest, fmt.Sprintf(L.NoticeBad, truncate(sha, 80)))
		return
	}
	if s.receipts == nil {
		fail(http.StatusServiceUnavailable, L.Unavailable)
		return
	}
	n, err := s.receipts.Notice(r.Context(), id, sha)
	if errors.Is(err, receipts.ErrNotFound) {
		fail(http.StatusNotFound, L.NoticeUnknown)
		return
	}
	if err != nil {
		s.log.Error("receipts store", "err", err.Error())
		s.metrics.StoreError("read")
		fail(http.StatusServiceUnavailable, L.Unavailable)
		return
	}
	q, err := decodeNotice(n)
	if err != nil {
		s.log.Error("stored notice does not decode", "portal", id, "sha256", sha, "err", err.Error())
		fail(http.StatusInternalServerError, err.Error())
		return
	}
	served := fmt.Sprintf(L.Served, utcTime(n.FirstServed))
	if !n.LastServed.IsZero() {
		served += " " + fmt.Sprintf(L.Until, utcTime(n.LastServed))
	}
	d.Data = &noticeData{L: L, Intro: fmt.Sprintf(L.NoticeIntro, q.Name, n.Revision, langName(n.Lang)), Served: served,
		SHA: sha, Lang: n.Lang, Dir: policy.Dir(n.Lang), Content: PolicyHTML(q)}
	s.renderConsole(w, http.StatusOK, "notice", d)
}

type historyNotice struct {
	Revision                      int64
	Lang, URL, Short, First, Last string
}

type historyRevision struct {
	N        int64
	From, To bool
}

type historyChange struct{ Kind, Key, Op, Field, From, To string }

type historyData struct {
	L         *lookupText
	Notices   []historyNotice
	Revisions []historyRevision
	DiffOf    string
	Changes   []historyChange
}

// consoleHistory serves the policy history: every notice recorded, and the
// changes between two revisions (?from=N&to=M, by default the latest two).
func (s *Server) consoleHistory(w http.ResponseWriter, r *http.Request) {
	pt, p, ss := s.consolePortalFor(w, r)
	if pt == nil {
		return
	}
	t := consoleLang(r)
	L := lookupLang(t)
	id := pt.policy.ID
	d := &consolePage{T: t, Heading: L.HistoryTitle + " – " + pt.policy.Name, Principal: p.Name, CSRF: s.sessions.CSRF(ss.ID),
		ID: id, Nav: consoleNav(t, id, navHistory)}
	data := &historyData{L: L}
	d.Data = data
	if s.receipts == nil {
		d.Error = L.Unavailable
		s.renderConsole(w, http.StatusServiceUnavailable, "history", d)
		return
	}
	ns, err := s.receipts.Notices(r.Context(), id)
	if err != nil {
		s.log.Error("receipts store", "err", err.Error())
		s.metrics.StoreError("read")
		d.Error = L.Unavailable
		s.renderConsole(w, http.StatusServiceUnavailable, "history", d)
		return
	}
	byRev := map[int64][]receipts.Notice{}
	for _, n := range ns {
		data.Notices = append(data.Notices, historyNotice{Revision: n.Revision, Lang: n.Lang, URL: noticeURL(id, n.SHA256),
			Short: n.SHA256[:16] + "…", First: utcTime(n.FirstServed), Last: utcTime(n.LastServed)})
		byRev[n.Revision] = append(byRev[n.Revision], n)
	}
	sort.SliceStable(data.Notices, func(i, j int) bool { return data.Notices[i].Revision > data.Notices[j].Revision })
	var revs []int64
	for rev := range byRev {
		revs = append(revs, rev)
	}
	sort.Slice(revs, func(i, j int) bool { return revs[i] < revs[j] })
	if len(revs) < 2 {
		s.renderConsole(w, http.StatusOK, "history", d)
		return
	}
	from, to := revs[len(revs)-2], revs[len(revs)-1]
	status := http.StatusOK
	for _, f := range []struct {
		key string
		dst *int64
	}{{"from", &from}, {"to", &to}} {
		v := r.URL.Query().Get(f.key)
		if v == "" || d.Error != "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil || n < 1:
			d.Error, status = fmt.Sprintf(L.BadRev, truncate(v, 40)), http.StatusBadRequest
		case byRev[n] == nil:
			d.Error, status = fmt.Sprintf(L.UnknownRev, n), http.StatusBadRequest
		default:
			*f.dst = n
		}
	}
	for _, rev := range revs {
		data.Revisions = append(data.Revisions, historyRevision{N: rev, From: rev == from, To: rev == to})
	}
	if d.Error == "" {
		a, b := pickNotices(byRev[from], byRev[to])
		qa, errA := decodeNotice(a)
		qb, errB := decodeNotice(b)
		if err := errors.Join(errA, errB); err != nil {
			s.log.Error("stored notice does not decode", "portal", id, "err", err.Error())
			d.Error, status = err.Error(), http.StatusInternalServerError
		} else {
			data.DiffOf = fmt.Sprintf(L.DiffOf, from, to)
			for _, c := range policy.Diff(qa, qb) {
				data.Changes = append(data.Changes, historyChange{Kind: orText(L.Kinds[c.Kind], c.Kind), Key: c.Key,
					Op: orText(L.Ops[c.Op], c.Op), Field: c.Field, From: c.From, To: c.To})
			}
		}
	}
	s.renderConsole(w, status, "history", d)
}

// pickNotices returns a notice of each revision in one language, the
// first language of b that a has too, else the first of each.
func pickNotices(a, b []receipts.Notice) (receipts.Notice, receipts.Notice) {
	for _, nb := range b {
		for _, na := range a {
			if na.Lang == nb.Lang {
				return na, nb
			}
		}
	}
	return a[0], b[0]
}

func orText(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
