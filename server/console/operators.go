package console

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/portalconsent/portalconsent/server/auth"
	"github.com/portalconsent/portalconsent/server/operators"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// The console's operators page, the admin's only (a session signed in
// with the admin token; another operator gets 403, no session 303 to the
// sign-in form):
//
//	GET  /console/operators                  every operator: of the file (read-only) and of the database
//	POST /console/operators                  create one (name, portals): the page shows their token once
//	POST /console/operators/{name}/scope     change their portals
//	POST /console/operators/{name}/token     a new token, shown once: the old one and their sessions end
//	POST /console/operators/{name}/delete    remove them: their token and sessions end
//
// Every POST is checked as the console's others: same origin and the
// session's anti-forgery token (403), a body of at most maxOperatorForm
// bytes (413). A refusal (a taken name, a bad scope, an operator of the
// file) is the page again with the status of the API's and a message.

// maxOperatorForm bounds an operator form.
const maxOperatorForm = 16 << 10

// operatorsText is the wording of the operators page.
type operatorsText struct {
	Title, Intro, Name, NameHelp, Portals, PortalsHelp, ManagedBy, Updated, Actions                 string
	Create, NewTitle, SetScope, Rotate, Remove, ByFile, ByDatabase, ReadOnly, AdminOnly, TokenLabel string
	// Formats: a name (and a file).
	TokenOnce, Created, ScopeSet, Rotated, Removed, Exists, FileManaged, Unknown string
	NoStore, StoreDown, Invalid                                                  string
	// Why a name or a scope was refused (Invalid's %s): a name; nothing;
	// "*" beside ids; an id (NotPortalID, RepeatedPortal).
	BadName, NoPortal, StarNotAlone, NotPortalID, RepeatedPortal string
	NewScopeOf, RotateOf, RemoveOf                               string
}

// operatorRow is one operator of the page.
type operatorRow struct {
	Name, Portals, ManagedBy, Updated, File string
	Database                                bool
}

// operatorsData is the operators page's own data.
type operatorsData struct {
	X operatorsText
	// Token is a token just made, with TokenOf its operator: shown once.
	Token, TokenOf string
	Rows           []operatorRow
	// Name and Portals refill the creation form after a refusal.
	Name, Portals string
	Kept          bool // the host keeps operators (a database)
}

// adminFor returns the signed-in admin of r: without a session, 303 to
// the sign-in form; another operator, the 403 page. ok false: answered.
func (c *Console) adminFor(w http.ResponseWriter, r *http.Request) (signedIn, bool) {
	s := signedIn{tx: textsFor(r)}
	var ok bool
	if s.p, s.ss, ok = c.auth.Session(w, r); !ok {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
		return s, false
	}
	if s.p.Name != operators.AdminName {
		c.errorPage(w, http.StatusForbidden, s, s.tx.Console.Forbidden, s.tx.Operators.AdminOnly)
		return s, false
	}
	return s, true
}

// Operators serves the operators page.
func (c *Console) Operators(w http.ResponseWriter, r *http.Request) {
	s, ok := c.adminFor(w, r)
	if !ok {
		return
	}
	c.operatorsPage(w, s, http.StatusOK, "", "", nil)
}

// operatorsPage renders the page with status, a message (msg, or problem
// as an alert) and the data's extras set by more.
func (c *Console) operatorsPage(w http.ResponseWriter, s signedIn, status int, msg, problem string, more func(*operatorsData)) {
	x := s.tx.Operators
	d := c.page(s, x.Title, nil, "")
	data := &operatorsData{X: x, Kept: c.dir.Kept()}
	for _, o := range c.dir.List() {
		row := operatorRow{Name: o.Name, Portals: strings.Join(o.Portals, ", "), Database: o.File == ""}
		if o.File != "" {
			row.ManagedBy = fmt.Sprintf(x.ByFile, filepath.Base(o.File))
		} else {
			row.ManagedBy = x.ByDatabase
			if !o.Updated.IsZero() {
				row.Updated = o.Updated.UTC().Format(time.DateTime)
			}
		}
		data.Rows = append(data.Rows, row)
	}
	if !data.Kept {
		problem = x.NoStore
	}
	if more != nil {
		more(data)
	}
	d.Data, d.Message, d.Error = data, msg, problem
	c.render(w, status, "operators", d)
}

// operatorPost checks an operator form: the admin's session, the origin,
// the anti-forgery token and the body's size. ok false: answered.
func (c *Console) operatorPost(w http.ResponseWriter, r *http.Request) (signedIn, bool) {
	w.Header().Set("Cache-Control", "no-store")
	s := signedIn{tx: textsFor(r)}
	if !c.auth.SameOrigin(r) {
		c.errorPage(w, http.StatusForbidden, s, s.tx.Console.Forbidden, "cross-site request refused")
		return s, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxOperatorForm)
	if err := r.ParseForm(); err != nil {
		status := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			status = http.StatusRequestEntityTooLarge
		}
		c.errorPage(w, status, s, s.tx.Console.Forbidden, "the form cannot be read")
		return s, false
	}
	s, ok := c.adminFor(w, r)
	if !ok {
		return s, false
	}
	if !c.auth.CheckCSRF(s.ss, r.PostForm.Get("csrf")) {
		c.errorPage(w, http.StatusForbidden, s, s.tx.Console.Forbidden, "missing or wrong anti-forgery token")
		return s, false
	}
	return s, true
}

// portalList splits a portals field on commas and spaces.
func portalList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}

// refusal returns the status and message of a directory's refusal.
func (c *Console) refusal(x *operatorsText, err error, name string) (int, string) {
	if e, ok := errors.AsType[*auth.ErrInvalid](err); ok {
		return http.StatusUnprocessableEntity, fmt.Sprintf(x.Invalid, x.why(e, name))
	}
	if e, ok := errors.AsType[*auth.ErrManagedByFile](err); ok {
		return http.StatusConflict, fmt.Sprintf(x.FileManaged, name, filepath.Base(e.File))
	}
	switch {
	case errors.Is(err, auth.ErrExists):
		return http.StatusConflict, fmt.Sprintf(x.Exists, name)
	case errors.Is(err, receipts.ErrNotFound):
		return http.StatusNotFound, fmt.Sprintf(x.Unknown, name)
	case errors.Is(err, receipts.ErrNoStore):
		return http.StatusServiceUnavailable, x.NoStore
	}
	return c.failed(err), x.StoreDown
}

// why words a refused name or scope in the page's language (name is the
// name refused).
func (x *operatorsText) why(e *auth.ErrInvalid, name string) string {
	if e.Portals == nil {
		if len(name) > 64 {
			name = name[:64] + "…"
		}
		return fmt.Sprintf(x.BadName, name)
	}
	switch e.Portals.Kind {
	case receipts.StarNotAlone:
		return x.StarNotAlone
	case receipts.NotPortalID:
		return fmt.Sprintf(x.NotPortalID, e.Portals.ID)
	case receipts.RepeatedPortal:
		return fmt.Sprintf(x.RepeatedPortal, e.Portals.ID)
	}
	return x.NoPortal
}

// CreateOperator creates an operator from the form's name and portals and
// shows their token once.
func (c *Console) CreateOperator(w http.ResponseWriter, r *http.Request) {
	s, ok := c.operatorPost(w, r)
	if !ok {
		return
	}
	x := &s.tx.Operators
	name, portals := strings.TrimSpace(r.PostForm.Get("name")), r.PostForm.Get("portals")
	o, token, err := c.dir.Create(r.Context(), name, portalList(portals), s.p.Name)
	if err != nil {
		status, msg := c.refusal(x, err, name)
		c.operatorsPage(w, s, status, "", msg, func(d *operatorsData) { d.Name, d.Portals = name, portals })
		return
	}
	c.log.Info("operator created", "operator", o.Name, "portals", o.Portals, "by", s.p.Name, "via", receipts.ViaConsole)
	c.operatorsPage(w, s, http.StatusCreated, fmt.Sprintf(x.Created, o.Name), "", func(d *operatorsData) { d.Token, d.TokenOf = token, o.Name })
}

// SetOperatorScope changes an operator's portals.
func (c *Console) SetOperatorScope(w http.ResponseWriter, r *http.Request) {
	s, ok := c.operatorPost(w, r)
	if !ok {
		return
	}
	x := &s.tx.Operators
	name := r.PathValue("name")
	o, err := c.dir.SetScope(r.Context(), name, portalList(r.PostForm.Get("portals")), s.p.Name)
	if err != nil {
		status, msg := c.refusal(x, err, name)
		c.operatorsPage(w, s, status, "", msg, nil)
		return
	}
	c.log.Info("operator scope changed", "operator", name, "portals", o.Portals, "by", s.p.Name, "via", receipts.ViaConsole)
	c.operatorsPage(w, s, http.StatusOK, fmt.Sprintf(x.ScopeSet, name), "", nil)
}

// RotateOperatorToken gives an operator a new token, shown once.
func (c *Console) RotateOperatorToken(w http.ResponseWriter, r *http.Request) {
	s, ok := c.operatorPost(w, r)
	if !ok {
		return
	}
	x := &s.tx.Operators
	name := r.PathValue("name")
	_, token, err := c.dir.Rotate(r.Context(), name, s.p.Name)
	if err != nil {
		status, msg := c.refusal(x, err, name)
		c.operatorsPage(w, s, status, "", msg, nil)
		return
	}
	c.log.Info("operator token rotated", "operator", name, "by", s.p.Name, "via", receipts.ViaConsole)
	c.operatorsPage(w, s, http.StatusOK, fmt.Sprintf(x.Rotated, name), "", func(d *operatorsData) { d.Token, d.TokenOf = token, name })
}

// DeleteOperator removes an operator.
func (c *Console) DeleteOperator(w http.ResponseWriter, r *http.Request) {
	s, ok := c.operatorPost(w, r)
	if !ok {
		return
	}
	x := &s.tx.Operators
	name := r.PathValue("name")
	if err := c.dir.Remove(r.Context(), name); err != nil {
		status, msg := c.refusal(x, err, name)
		c.operatorsPage(w, s, status, "", msg, nil)
		return
	}
	c.log.Info("operator removed", "operator", name, "by", s.p.Name, "via", receipts.ViaConsole)
	c.operatorsPage(w, s, http.StatusOK, fmt.Sprintf(x.Removed, name), "", nil)
}
