package console

// The policy editor and the new-portal form:
//
//	GET  /console/portals/{id}/policy   the policy as YAML in a form (read-only for a portal managed by file)
//	POST /console/portals/{id}/policy   action check, preview or publish; csrf; based_on, the version edited; policy, the YAML;
//	                                    preview_lang, the language previewed
//	GET  /console/new-portal            the same form for a new portal (the admin or an operator with "*")
//	POST /console/new-portal
//
// Check answers 200 without a problem, 422 listing every problem beside
// its line. Preview renders the banner, the preferences and the policy page
// with the components the visitors get (package catalogue), in the
// language of the policy chosen (each can be chosen; the default first),
// light and dark, and the changes against the
// published version (policy.Diff), warning when publishing asks every
// visitor again. Publish stores a new version by the operator via the
// console, on the condition that the version the form was based on is
// still the current one: otherwise 409, the draft kept with the changes
// against the version published meanwhile (publishing again replaces it,
// knowingly). A published policy is answered 303 to its editor.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/catalogue"
	"github.com/portalconsent/portalconsent/server/lang"
	"github.com/portalconsent/portalconsent/server/policyfiles"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// maxPolicyText bounds the policy of an editor's form (413 beyond), as the
// API bounds a policy's body.
const maxPolicyText = 1 << 20

// maxEditorBody bounds an editor's form: its policy URL-encoded (up to
// three bytes a byte) and the other fields.
const maxEditorBody = 3*maxPolicyText + 4<<10

// The actions of the editor's form.
const (
	actionCheck   = "check"
	actionPreview = "preview"
	actionPublish = "publish"
)

// editorText is the editor's wording.
type editorText struct {
	Title, NewTitle, Intro, NewIntro, SourceLabel, SourceHelp, Check, Preview, Publish,
	BasedOn, NotStored, ManagedByFile, NoProblem, ProblemsTitle, LineN, NoLine,
	PreviewTitle, PreviewIntro, PreviewOf, Light, Dark, BannerLabel, PreferencesLabel, PageLabel, PreviewLang,
	DiffTitle, AsksAgain, NoAsk, NewAsks, Conflict, Exists, Published, Unchanged, MayNotCreate,
	TooLarge, BadForm, NoStore, Failed string
}

// editorLine is a line number of the gutter beside the policy.
type editorLine struct {
	N   int
	Bad bool // a problem names it
}

// editorProblem is one problem of the policy, by its line.
type editorProblem struct {
	Line             int
	Where, Text, Msg string
	Field            string
}

// editorPreview is the policy as a visitor sees it in one language and
// one colour scheme.
type editorPreview struct {
	ID, Class, Heading, Lang, Dir string
	Banner, Prefs, Page           template.HTML
}

// langOption is a language of the preview's choice.
type langOption struct {
	Tag, Name string
	Selected  bool
}

// setLangs offers the languages of p to preview, want selected (the
// default language when p does not offer it); it returns the selected one.
func (data *editorData) setLangs(p *policy.Policy, want string) string {
	langs := p.Languages()
	sel := langs[0]
	for _, l := range langs {
		if strings.EqualFold(l, want) {
			sel = l
		}
	}
	data.Langs = nil
	for _, l := range langs {
		data.Langs = append(data.Langs, langOption{Tag: l, Name: lang.Name(l), Selected: l == sel})
	}
	return sel
}

// editorData is the data of the editor's page.
type editorData struct {
	E, L     *editorText
	Lk       *lookupText
	Action   string // the form's address
	New      bool
	Source   string
	Rows     int
	Lines    []editorLine
	BasedOn  int64
	Based    string // what version the form edits, in words
	ReadOnly string // why the policy cannot be edited here; "" when it can
	Notice   string
	Problems []editorProblem
	Title    string // the problems' heading
	Previews []editorPreview
	// Langs are the languages that can be previewed, one selected.
	Langs []langOption
	// DiffShown shows Changes (empty: nothing a visitor consents to
	// changes) and AsksAgain.
	DiffShown bool
	Changes   []historyChange
	AsksAgain bool
}

// editorPage returns the page and data of the editor of pt (nil: a new
// portal).
func (c *Console) editorPage(s signedIn, pt *catalogue.Portal) (*consolePage, *editorData) {
	E := &s.tx.Editor
	data := &editorData{E: E, Lk: &s.tx.Lookup, Action: "/console/new-portal", New: pt == nil}
	if pt == nil {
		d := c.page(s, E.NewTitle, nil, "")
		d.Data = data
		return d, data
	}
	data.Action = "/console/portals/" + url.PathEscape(pt.Policy.ID) + "/policy"
	d := c.page(s, E.Title+" – "+pt.Policy.Name, pt, navPolicy)
	d.Data = data
	return d, data
}

// setSource shows src in the form with the lines problems name marked.
func (data *editorData) setSource(src string) {
	data.Source = src
	n := strings.Count(src, "\n") + 1
	data.Rows = n + 1
	bad := map[int]bool{}
	for _, p := range data.Problems {
		bad[p.Line] = true
	}
	data.Lines = make([]editorLine, data.Rows)
	for i := range data.Lines {
		data.Lines[i] = editorLine{N: i + 1, Bad: bad[i+1]}
	}
}

// setProblems lists the problems of err, a refusal of policyfiles.ParseBody,
// each with the text of its line of src.
func (data *editorData) setProblems(err error, src string) {
	E := data.E
	lines := strings.Split(src, "\n")
	les := policy.LoadErrors(err)
	for _, le := range les {
		p := editorProblem{Line: le.Line, Where: E.NoLine, Field: le.Field, Msg: le.Msg}
		if le.Line > 0 {
			p.Where = fmt.Sprintf(E.LineN, le.Line)
			if le.Line <= len(lines) {
				p.Text = clipText(strings.TrimSpace(lines[le.Line-1]), 120)
			}
		}
		data.Problems = append(data.Problems, p)
	}
	if len(les) == 0 {
		data.Problems = append(data.Problems, editorProblem{Where: E.NoLine, Msg: err.Error()})
	}
	data.Title = fmt.Sprintf(E.ProblemsTitle, len(data.Problems))
}

// clipText returns s cut to at most n runes, "…" marking a cut.
func clipText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// source returns the policy of pt as its author wrote it (YAML), the
// version it is (0 without one) and whether it could be read.
func (c *Console) source(ctx context.Context, pt *catalogue.Portal) (string, receipts.PolicyVersion, error) {
	v, err := c.cat.Current(ctx, pt.Policy.ID)
	if err != nil && !errors.Is(err, receipts.ErrNoStore) && !errors.Is(err, receipts.ErrNotFound) {
		return "", v, err
	}
	body, format := v.Source, v.Format
	if len(body) == 0 {
		body, format = v.Policy, policyfiles.JSON
	}
	if err != nil || len(body) == 0 {
		// Served from files only: the policy as served.
		if body, err = json.Marshal(pt.Policy); err != nil {
			return "", v, err
		}
		format = policyfiles.JSON
	}
	if format == policyfiles.JSON {
		if body, err = policyfiles.ToYAML(body); err != nil {
			return "", v, err
		}
	}
	return string(body), v, nil
}

// readOnly returns why pt's policy cannot be edited in the console, or "".
func (c *Console) readOnly(E *editorText, v receipts.PolicyVersion) string {
	switch {
	case !c.cat.Stored():
		return E.NotStored
	case v.File != "":
		return fmt.Sprintf(E.ManagedByFile, v.File)
	}
	return ""
}

// basedText says which version the form edits.
func basedText(s signedIn, v receipts.PolicyVersion) string {
	if v.Version == 0 {
		return ""
	}
	return fmt.Sprintf(s.tx.Editor.BasedOn, versionText(&s.tx.Console, v, v.Revision))
}

// PolicyEditor serves the editor of a portal's policy.
func (c *Console) PolicyEditor(w http.ResponseWriter, r *http.Request) {
	pt, s := c.portalFor(w, r)
	if pt == nil {
		return
	}
	d, data := c.editorPage(s, pt)
	src, v, err := c.source(r.Context(), pt)
	if err != nil {
		d.Error = s.tx.Editor.Failed
		c.render(w, c.failed(err), "editor", d)
		return
	}
	data.BasedOn, data.Based, data.ReadOnly = v.Version, basedText(s, v), c.readOnly(data.E, v)
	data.setLangs(pt.Policy, "")
	if n, err := strconv.ParseInt(r.URL.Query().Get("published"), 10, 64); err == nil && n > 0 {
		data.Notice = fmt.Sprintf(data.E.Published, n)
	}
	data.setSource(src)
	c.render(w, http.StatusOK, "editor", d)
}

// NewPortalForm serves the form of a new portal, prefilled with the
// example policy.
func (c *Console) NewPortalForm(w http.ResponseWriter, r *http.Request) {
	s, ok := c.mayCreate(w, r)
	if !ok {
		return
	}
	d, data := c.editorPage(s, nil)
	if !c.cat.Stored() {
		data.ReadOnly = data.E.NotStored
	}
	data.setSource(strings.Replace(string(policyfiles.Example()), "id: example", "id: new-portal", 1))
	c.render(w, http.StatusOK, "editor", d)
}

// mayCreate returns the session of an operator who may create a portal:
// without a session, 303 to the sign-in form; without the right, the 403
// page. ok false having answered.
func (c *Console) mayCreate(w http.ResponseWriter, r *http.Request) (signedIn, bool) {
	s := signedIn{tx: textsFor(r)}
	var ok bool
	if s.p, s.ss, ok = c.auth.Session(w, r); !ok {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
		return s, false
	}
	if !s.p.All {
		c.errorPage(w, http.StatusForbidden, s, s.tx.Console.Forbidden, s.tx.Editor.MayNotCreate)
		return s, false
	}
	return s, true
}

// editorForm is a submitted editor form.
type editorForm struct {
	action, source, lang string
	basedOn              int64
}

// readEditorForm reads the editor's form: same origin, bounded, its
// anti-forgery token checked; ok false having answered (403, 413, 400).
func (c *Console) readEditorForm(w http.ResponseWriter, r *http.Request, s signedIn) (editorForm, bool) {
	t, E := &s.tx.Console, &s.tx.Editor
	var f editorForm
	if !c.auth.SameOrigin(r) {
		c.errorPage(w, http.StatusForbidden, s, t.Forbidden, "cross-site request refused")
		return f, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxEditorBody)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			c.errorPage(w, http.StatusRequestEntityTooLarge, s, E.Title, E.TooLarge)
		} else {
			c.errorPage(w, http.StatusBadRequest, s, E.Title, E.BadForm)
		}
		return f, false
	}
	if !c.auth.CheckCSRF(s.ss, r.PostForm.Get("csrf")) {
		c.errorPage(w, http.StatusForbidden, s, t.Forbidden, "missing or wrong anti-forgery token: reload the page")
		return f, false
	}
	f.action, f.source = r.PostForm.Get("action"), strings.ReplaceAll(r.PostForm.Get("policy"), "\r\n", "\n")
	f.lang = r.PostForm.Get("preview_lang")
	if len(f.source) > maxPolicyText {
		c.errorPage(w, http.StatusRequestEntityTooLarge, s, E.Title, E.TooLarge)
		return f, false
	}
	n, err := strconv.ParseInt(r.PostForm.Get("based_on"), 10, 64)
	if (f.action != actionCheck && f.action != actionPreview && f.action != actionPublish) || err != nil || n < 0 {
		c.errorPage(w, http.StatusBadRequest, s, E.Title, E.BadForm)
		return f, false
	}
	f.basedOn = n
	return f, true
}

// PolicyAction checks, previews or publishes the policy of the editor's
// form.
func (c *Console) PolicyAction(w http.ResponseWriter, r *http.Request) {
	pt, s := c.portalFor(w, r)
	if pt == nil {
		return
	}
	f, ok := c.readEditorForm(w, r, s)
	if !ok {
		return
	}
	d, data := c.editorPage(s, pt)
	if data.ReadOnly = c.readOnly(data.E, pt.Version); data.ReadOnly != "" {
		src, v, err := c.source(r.Context(), pt)
		if err != nil {
			src = f.source
		}
		data.BasedOn, data.Based = v.Version, basedText(s, v)
		data.setSource(src)
		status := http.StatusConflict
		if !c.cat.Stored() {
			status = http.StatusServiceUnavailable
		}
		d.Error = data.ReadOnly
		c.render(w, status, "editor", d)
		return
	}
	c.editorRun(w, r, s, d, data, pt.Policy.ID, f, pt.Policy)
}

// NewPortal checks, previews or publishes the policy of the new-portal
// form; its portal is the id the policy declares.
func (c *Console) NewPortal(w http.ResponseWriter, r *http.Request) {
	s, ok := c.mayCreate(w, r)
	if !ok {
		return
	}
	f, ok := c.readEditorForm(w, r, s)
	if !ok {
		return
	}
	d, data := c.editorPage(s, nil)
	if !c.cat.Stored() {
		data.ReadOnly, d.Error = data.E.NotStored, data.E.NotStored
		data.setSource(f.source)
		c.render(w, http.StatusServiceUnavailable, "editor", d)
		return
	}
	f.basedOn = 0 // a new portal: there must be none
	id := policyfiles.DeclaredID([]byte(f.source), policyfiles.YAML)
	c.editorRun(w, r, s, d, data, id, f, nil)
}

// editorRun does the form's action on the policy of portal id, published
// the one served (nil for a new portal).
func (c *Console) editorRun(w http.ResponseWriter, r *http.Request, s signedIn, d *consolePage, data *editorData, id string, f editorForm, published *policy.Policy) {
	E := data.E
	data.BasedOn = f.basedOn
	if f.basedOn > 0 {
		if v, err := c.cat.Current(r.Context(), id); err == nil && v.Version == f.basedOn {
			data.Based = basedText(s, v)
		}
	}
	p, err := policyfiles.ParseBody(id, []byte(f.source), policyfiles.YAML)
	if err != nil {
		if published != nil {
			data.setLangs(published, f.lang)
		}
		data.setProblems(err, f.source)
		data.setSource(f.source)
		c.render(w, http.StatusUnprocessableEntity, "editor", d)
		return
	}
	data.setSource(f.source)
	previewed := data.setLangs(p, f.lang)
	switch f.action {
	case actionCheck:
		data.Notice = E.NoProblem
	case actionPreview:
		css, previews := previewsOf(p, previewed, s)
		d.Style, data.Previews = template.CSS(css), previews
		data.diff(published, p)
	case actionPublish:
		c.publish(w, r, s, d, data, p, f)
		return
	}
	c.render(w, http.StatusOK, "editor", d)
}

// diff shows the changes from the published policy to p (nil: a new
// portal), and whether publishing p asks every visitor again.
func (data *editorData) diff(published, p *policy.Policy) {
	data.DiffShown = true
	data.AsksAgain = published == nil || published.Revision != p.Revision
	L := data.Lk
	for _, ch := range policy.Diff(published, p) {
		data.Changes = append(data.Changes, historyChange{Kind: orText(L.Kinds[ch.Kind], ch.Kind), Key: ch.Key,
			Op: orText(L.Ops[ch.Op], ch.Op), Field: ch.Field, From: ch.From, To: ch.To})
	}
}

// publish stores p as the new version of its portal if the version the
// form was based on is still the current one, and answers 303 to its
// editor; a refusal is the form again with why.
func (c *Console) publish(w http.ResponseWriter, r *http.Request, s signedIn, d *consolePage, data *editorData, p *policy.Policy, f editorForm) {
	E := data.E
	res, err := c.cat.Put(r.Context(), catalogue.Source{Policy: p, Text: []byte(f.source), Format: policyfiles.YAML},
		catalogue.PutOptions{By: s.p.Name, Via: receipts.ViaConsole, Match: true, Version: f.basedOn, MayCreate: s.p.All})
	if err == nil {
		if !res.Changed {
			data.Notice = fmt.Sprintf(E.Unchanged, res.Version.Version)
			data.Based = basedText(s, res.Version)
			c.render(w, http.StatusOK, "editor", d)
			return
		}
		c.log.Info("policy published", "portal", p.ID, "version", res.Version.Version, "revision", res.Version.Revision,
			"by", s.p.Name, "via", receipts.ViaConsole, "asksAgain", res.AsksAgain)
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, "/console/portals/"+url.PathEscape(p.ID)+"/policy?published="+strconv.FormatInt(res.Version.Version, 10), http.StatusSeeOther)
		return
	}
	status := http.StatusConflict
	var mf *catalogue.ErrManagedByFile
	switch {
	case errors.As(err, &mf):
		d.Error = fmt.Sprintf(E.ManagedByFile, mf.File)
	case errors.Is(err, catalogue.ErrMayNotCreate):
		status, d.Error = http.StatusForbidden, E.MayNotCreate
	case errors.Is(err, receipts.ErrConflict):
		cur, cerr := c.cat.Current(r.Context(), p.ID)
		if cerr != nil {
			status, d.Error = c.failed(cerr), E.Failed
			break
		}
		if data.New {
			d.Error = fmt.Sprintf(E.Exists, p.ID)
			break
		}
		// Published meanwhile: the draft against that version; the form
		// is now based on it, so that publishing again replaces it knowingly.
		var q policy.Policy
		if err := json.Unmarshal(cur.Policy, &q); err != nil {
			status, d.Error = http.StatusInternalServerError, E.Failed
			c.log.Error("stored policy does not decode", "portal", p.ID, "version", cur.Version, "err", err.Error())
			break
		}
		d.Error = fmt.Sprintf(E.Conflict, versionText(&s.tx.Console, cur, cur.Revision), cur.By)
		data.BasedOn, data.Based = cur.Version, basedText(s, cur)
		data.diff(&q, p)
	case errors.Is(err, receipts.ErrNoStore):
		status, d.Error = http.StatusServiceUnavailable, E.NoStore
	default:
		status, d.Error = c.failed(err), E.Failed
	}
	c.render(w, status, "editor", d)
}

// previewsOf returns the previews of p in its language l (one it offers),
// light then dark, and the stylesheet giving each its scheme's colours.
func previewsOf(p *policy.Policy, l string, s signedIn) (string, []editorPreview) {
	E := &s.tx.Editor
	css := catalogue.SchemeCSS(p.Theme, ".pc-preview-light,.pc-preview-light .pc-root", false) +
		catalogue.SchemeCSS(p.Theme, ".pc-preview-dark,.pc-preview-dark .pc-root", true)
	q, ok := p.In(l)
	if !ok {
		return css, nil
	}
	q.Texts.Embed = policy.EmbedTextsFor(q.Texts)
	var out []editorPreview
	for _, scheme := range []struct{ key, word string }{{"light", E.Light}, {"dark", E.Dark}} {
		prefix := "pv" + scheme.key + "-"
		out = append(out, editorPreview{
			ID: prefix + "title", Class: "pc-preview-" + scheme.key,
			Heading: fmt.Sprintf(E.PreviewOf, lang.Name(l), scheme.word), Lang: l, Dir: policy.Dir(l),
			Banner: previewHTML(prefix, catalogue.BannerHTML(q)),
			Prefs:  previewHTML(prefix, catalogue.PreferencesHTML(q)),
			Page:   previewHTML(prefix, string(catalogue.PolicyHTML(q))),
		})
	}
	return css, out
}

var (
	// idAttr matches the attributes of the components that hold or name
	// ids, as banner.HTML writes them.
	idAttr = regexp.MustCompile(`(\s)(id|for|aria-labelledby|aria-describedby|aria-controls)="([^"]*)"`)
	// modalAttr matches what makes a dialog modal (app.HTMLString writes
	// aria-modal="true" bare), and the character after it.
	modalAttr = regexp.MustCompile(`\s(aria-modal(?:="true")?|role="dialog")([\s>])`)
)

// previewHTML returns the HTML of a component for a preview among others on
// one page: its ids (and the attributes naming them) prefixed, so that no
// two previews share one, and its dialogs no longer modal (a preview shows
// them in the page, it does not hide the page).
func previewHTML(prefix, html string) template.HTML {
	html = idAttr.ReplaceAllStringFunc(html, func(a string) string {
		m := idAttr.FindStringSubmatch(a)
		ids := strings.Fields(m[3])
		for i := range ids {
			ids[i] = prefix + ids[i]
		}
		return m[1] + m[2] + `="` + strings.Join(ids, " ") + `"`
	})
	html = modalAttr.ReplaceAllStringFunc(html, func(a string) string {
		m := modalAttr.FindStringSubmatch(a)
		if strings.HasPrefix(m[1], "role") {
			return ` role="group"` + m[2]
		}
		return m[2]
	})
	return template.HTML(html) // the components' own HTML, ids changed only
}

// styleNonce returns a fresh nonce for a page's own style element.
func styleNonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
