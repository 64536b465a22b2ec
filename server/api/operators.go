package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"time"

	"github.com/portalconsent/portalconsent/server/auth"
	"github.com/portalconsent/portalconsent/server/operators"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/respond"
)

// MaxOperatorBody bounds the body of the operators' writes (413 beyond):
// a name and a list of portal ids.
const MaxOperatorBody = 64 << 10

// OperatorJSON is one operator of GET /api/v1/operators: never a token,
// never a hash.
type OperatorJSON struct {
	Name      string   `json:"name"`
	Portals   []string `json:"portals"`
	ManagedBy string   `json:"managedBy"`      // "file" or "database"
	File      string   `json:"file,omitempty"` // the operators file's name
	Created   string   `json:"created,omitempty"`
	Updated   string   `json:"updated,omitempty"`
	By        string   `json:"by,omitempty"`
}

// OperatorTokenJSON is the answer of a creation or a rotation: the
// operator and their token, told this once.
type OperatorTokenJSON struct {
	OperatorJSON
	Token string `json:"token"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func newOperatorJSON(o auth.OperatorInfo) OperatorJSON {
	j := OperatorJSON{Name: o.Name, Portals: o.Portals, ManagedBy: o.ManagedBy(), Created: rfc3339(o.Created),
		Updated: rfc3339(o.Updated), By: o.By}
	if o.File != "" {
		j.File = filepath.Base(o.File)
	}
	if j.Portals == nil {
		j.Portals = []string{}
	}
	return j
}

// admin checks that r's credential is the admin's (the admin token, or a
// console session signed in with it): only the admin manages operators.
func (a *API) admin(w http.ResponseWriter, r *http.Request) (operators.Principal, error) {
	p, err := a.auth.Principal(w, r, "")
	if err != nil {
		return p, err
	}
	if p.Name != operators.AdminName {
		return p, respond.Errorf(http.StatusForbidden, "forbidden: only the admin manages operators")
	}
	return p, nil
}

// adminWrite checks r as admin does, and that a console session's write
// comes from the console's origin.
func (a *API) adminWrite(w http.ResponseWriter, r *http.Request) (operators.Principal, error) {
	p, err := a.admin(w, r)
	if err != nil {
		return p, err
	}
	return p, a.sameOrigin(r)
}

// Operators serves every operator, of the operators file and of the
// database, by name.
func (a *API) Operators(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.admin(w, r); err != nil {
		return err
	}
	out := []OperatorJSON{}
	for _, o := range a.dir.List() {
		out = append(out, newOperatorJSON(o))
	}
	return writeJSON(w, out)
}

// operatorBody is the body of POST /api/v1/operators (name and portals)
// and of PATCH and PUT /api/v1/operators/{name} (portals).
type operatorBody struct {
	Name    *string  `json:"name"`
	Portals []string `json:"portals"`
}

// readOperatorBody decodes r's JSON body strictly: 415 for another
// content type, 413 over MaxOperatorBody, 400 for malformed JSON, an
// unknown field or a second value; withName says whether "name" is
// expected.
func readOperatorBody(w http.ResponseWriter, r *http.Request, withName bool) (operatorBody, error) {
	var b operatorBody
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return b, respond.Errorf(http.StatusUnsupportedMediaType, "Content-Type %q: send application/json",
			respond.Clip(r.Header.Get("Content-Type"), 64))
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxOperatorBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return b, err
		}
		return b, respond.Errorf(http.StatusBadRequest, "reading the body: %s", err.Error())
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return b, respond.Errorf(http.StatusBadRequest, "the body is not a JSON object of %s: %s", fieldsOf(withName), respond.Clip(err.Error(), 200))
	}
	if dec.More() {
		return b, respond.Errorf(http.StatusBadRequest, "the body holds more than one JSON value")
	}
	if b.Name != nil && !withName {
		return b, respond.Errorf(http.StatusBadRequest, "name: an operator is renamed by removing them and creating another; send portals only")
	}
	var problems []Problem
	if withName && b.Name == nil {
		problems = append(problems, Problem{Field: "name", Message: "missing"})
	}
	if b.Portals == nil {
		problems = append(problems, Problem{Field: "portals", Message: `missing: a list of portal ids, or ["*"] for every portal`})
	}
	if len(problems) > 0 {
		return b, &problemsError{problems}
	}
	return b, nil
}

func fieldsOf(withName bool) string {
	if withName {
		return `"name" and "portals"`
	}
	return `"portals"`
}

// problemsError is a 422 answer with its problems.
type problemsError struct{ problems []Problem }

func (e *problemsError) Error() string { return "invalid operator" }

// operatorError answers the refusals of the directory, or returns err.
func operatorError(w http.ResponseWriter, err error, name string) error {
	if e, ok := errors.AsType[*problemsError](err); ok {
		return writeProblemList(w, "the operator has problems: nothing was changed", e.problems)
	}
	if e, ok := errors.AsType[*auth.ErrInvalid](err); ok {
		return writeProblemList(w, "the operator has problems: nothing was changed", []Problem{{Field: e.Field, Message: e.Msg}})
	}
	if e, ok := errors.AsType[*auth.ErrManagedByFile](err); ok {
		return respond.Errorf(http.StatusConflict, "%s", e.Error())
	}
	if errors.Is(err, auth.ErrExists) {
		return respond.Errorf(http.StatusConflict, "operator %q exists: change their scope or rotate their token instead", name)
	}
	return respond.NotFound(err, "unknown operator %q", name)
}

// writeProblemList answers 422 {"error", "problems"}.
func writeProblemList(w http.ResponseWriter, msg string, problems []Problem) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnprocessableEntity)
	json.NewEncoder(w).Encode(struct {
		Error    string    `json:"error"`
		Problems []Problem `json:"problems"`
	}{msg, problems})
	return nil
}

// CreateOperator creates an operator managed by the database from
// {"name", "portals"}: 201 with their token, told this once (only its
// bcrypt hash is kept); 409 when the name is taken (by the operators
// file: naming it), 422 for a bad name or scope.
func (a *API) CreateOperator(w http.ResponseWriter, r *http.Request) error {
	p, err := a.adminWrite(w, r)
	if err != nil {
		return err
	}
	b, err := readOperatorBody(w, r, true)
	if err != nil {
		return operatorError(w, err, "")
	}
	o, token, err := a.dir.Create(r.Context(), *b.Name, b.Portals, p.Name)
	if err != nil {
		return operatorError(w, err, *b.Name)
	}
	a.log.Info("operator created", "operator", o.Name, "portals", o.Portals, "by", p.Name, "via", receipts.ViaAPI)
	w.Header().Set("Location", "/api/v1/operators/"+o.Name)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	return writeJSON(w, OperatorTokenJSON{OperatorJSON: newOperatorJSON(o), Token: token})
}

// operatorName returns the {name} of r, or a 400.
func operatorName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if !receipts.ValidOperatorName(name) {
		return "", respond.Errorf(http.StatusBadRequest, "%q is not an operator name", respond.Clip(name, 64))
	}
	return name, nil
}

// SetOperatorScope replaces the portals of an operator managed by the
// database from {"portals"} (PATCH and PUT alike): 200 with the operator;
// 404 for none, 409 for one of the operators file, 422 for a bad scope.
func (a *API) SetOperatorScope(w http.ResponseWriter, r *http.Request) error {
	p, err := a.adminWrite(w, r)
	if err != nil {
		return err
	}
	name, err := operatorName(r)
	if err != nil {
		return err
	}
	b, err := readOperatorBody(w, r, false)
	if err != nil {
		return operatorError(w, err, name)
	}
	o, err := a.dir.SetScope(r.Context(), name, b.Portals, p.Name)
	if err != nil {
		return operatorError(w, err, name)
	}
	a.log.Info("operator scope changed", "operator", name, "portals", o.Portals, "by", p.Name, "via", receipts.ViaAPI)
	return writeJSON(w, newOperatorJSON(o))
}

// RotateOperatorToken gives an operator managed by the database a new
// token: 200 with it, told this once; the old token stops working and
// their console sessions end on every host.
func (a *API) RotateOperatorToken(w http.ResponseWriter, r *http.Request) error {
	p, err := a.adminWrite(w, r)
	if err != nil {
		return err
	}
	name, err := operatorName(r)
	if err != nil {
		return err
	}
	o, token, err := a.dir.Rotate(r.Context(), name, p.Name)
	if err != nil {
		return operatorError(w, err, name)
	}
	a.log.Info("operator token rotated", "operator", name, "by", p.Name, "via", receipts.ViaAPI)
	return writeJSON(w, OperatorTokenJSON{OperatorJSON: newOperatorJSON(o), Token: token})
}

// DeleteOperator removes an operator managed by the database: 204; their
// token stops working and their console sessions end on every host.
func (a *API) DeleteOperator(w http.ResponseWriter, r *http.Request) error {
	p, err := a.adminWrite(w, r)
	if err != nil {
		return err
	}
	name, err := operatorName(r)
	if err != nil {
		return err
	}
	if err := a.dir.Remove(r.Context(), name); err != nil {
		return operatorError(w, err, name)
	}
	a.log.Info("operator removed", "operator", name, "by", p.Name, "via", receipts.ViaAPI)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
