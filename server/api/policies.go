package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/catalogue"
	"github.com/portalconsent/portalconsent/server/policyfiles"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/respond"
)

// MaxPolicyBody bounds the body of PUT /api/v1/portals/{id}/policy (413
// beyond), as a policy file is bounded.
const MaxPolicyBody = 1 << 20

// PortalJSON is one portal of GET /api/v1/portals.
type PortalJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Revision  int    `json:"revision"`
	Version   int64  `json:"version,omitempty"` // 0: not served from the database
	ManagedBy string `json:"managedBy"`         // "file" or "database"
	File      string `json:"file,omitempty"`
	Updated   string `json:"updated,omitempty"` // the version's publication, RFC 3339
}

// Portals serves the portals the credential may see, by id.
func (a *API) Portals(w http.ResponseWriter, r *http.Request) error {
	p, err := a.auth.Principal(w, r, "")
	if err != nil {
		return err
	}
	es, err := a.cat.Entries(r.Context())
	if err != nil {
		return respond.Unavailable(err, "read", "the portals cannot be read at the moment: retry later")
	}
	out := []PortalJSON{}
	for _, e := range es {
		if !p.Allows(e.ID) {
			continue
		}
		j := PortalJSON{ID: e.ID, Name: e.Name, Revision: e.Revision, ManagedBy: "file", File: catalogue.BuiltIn}
		if v := e.Version; v.Version > 0 {
			j.Version, j.ManagedBy, j.File, j.Updated = v.Version, v.ManagedBy(), v.File, v.PublishedAt.UTC().Format(time.RFC3339Nano)
		}
		out = append(out, j)
	}
	return writeJSON(w, out)
}

// etag is the ETag of a portal's version.
func etag(version int64) string { return `"v` + strconv.FormatInt(version, 10) + `"` }

// ifMatch returns the version If-Match names: ok false without the
// header; version -1 for "*" (any current version); -2 for a value that
// names none (it can match nothing).
func ifMatch(r *http.Request) (version int64, ok bool) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return 0, false
	}
	if h == "*" {
		return -1, true
	}
	v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(h, `"v`), `"`), 10, 64)
	if err != nil || etag(v) != h || v < 1 {
		return -2, true
	}
	return v, true
}

// unknownPortal is the 404 of a portal the database does not hold.
func unknownPortal(err error, portal string) error {
	return respond.NotFound(err, "unknown portal %q", portal)
}

// Policy serves the current policy of a portal as its author wrote it:
// YAML with Accept: application/yaml, else JSON (a built-in portal without
// source: the policy as served); ETag names its version. 404 for a portal
// the database does not hold.
func (a *API) Policy(w http.ResponseWriter, r *http.Request) error {
	portal, err := a.portal(w, r)
	if err != nil {
		return err
	}
	v, err := a.cat.Current(r.Context(), portal)
	if err != nil {
		return unknownPortal(err, portal)
	}
	body, format := v.Source, v.Format
	if len(body) == 0 {
		body, format = v.Policy, policyfiles.JSON
	}
	wantYAML := strings.Contains(r.Header.Get("Accept"), "yaml")
	switch {
	case wantYAML && format == policyfiles.JSON:
		body, err = policyfiles.ToYAML(body)
	case !wantYAML && format == policyfiles.YAML:
		body, err = policyfiles.ToJSON(portal+".yaml", body)
	}
	if err != nil {
		return fmt.Errorf("policy %s version %d: %w", portal, v.Version, err)
	}
	if wantYAML {
		w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("ETag", etag(v.Version))
	w.Header().Set("Vary", "Accept")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
	return nil
}

// Problem is one problem of a refused policy: the line of the body (0
// when unknown), the field and what is wrong, as `server -check` prints.
type Problem struct {
	Line    int    `json:"line"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// PutResult is the answer of a publication.
type PutResult struct {
	Portal    string `json:"portal"`
	Version   int64  `json:"version"`
	Revision  int64  `json:"revision"`
	AsksAgain bool   `json:"asksAgain"`
	Unchanged bool   `json:"unchanged,omitempty"`
}

// PutPolicy publishes a portal's policy: the body is the policy file's
// YAML (Content-Type application/yaml) or its JSON (application/json), at
// most MaxPolicyBody bytes. 201 for a new portal (which needs the admin
// token or an operator with "*"), 200 for a new version or one unchanged
// ("unchanged": true); 415 for another content type, 422 with every
// problem of a refused policy, 409 for a portal managed by file (naming
// it) or changed meanwhile, 412 when If-Match is not the current ETag, 413
// over the bound; nothing is stored on a refusal.
func (a *API) PutPolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := a.auth.Principal(w, r, r.PathValue("id"))
	if err != nil {
		return err
	}
	portal := r.PathValue("id")
	if !policy.ValidID(portal) {
		return respond.Errorf(http.StatusBadRequest, "%q is not a portal id", respond.Clip(portal, 64))
	}
	if err := a.sameOrigin(r); err != nil {
		return err
	}
	format, err := bodyFormat(r)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPolicyBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return err
		}
		return respond.Errorf(http.StatusBadRequest, "reading the body: %s", err.Error())
	}
	pol, err := policyfiles.ParseBody(portal, data, format)
	if err != nil {
		return writeProblems(w, err)
	}
	o := catalogue.PutOptions{By: p.Name, Via: receipts.ViaAPI, MayCreate: p.All}
	match, given := ifMatch(r)
	if given {
		o.Match, o.Version = true, match
		if match == -1 { // "*": any current version
			cur, err := a.cat.Current(r.Context(), portal)
			if err != nil && !errors.Is(err, receipts.ErrNotFound) {
				return err
			}
			if err != nil {
				return respond.Errorf(http.StatusPreconditionFailed, "If-Match: portal %q has no current version", portal)
			}
			o.Version = cur.Version
		}
	}
	res, err := a.cat.Put(r.Context(), catalogue.Source{Policy: pol, Text: data, Format: format}, o)
	if err != nil {
		return putError(err, portal, given)
	}
	w.Header().Set("ETag", etag(res.Version.Version))
	out := PutResult{Portal: portal, Version: res.Version.Version, Revision: res.Version.Revision, AsksAgain: res.AsksAgain, Unchanged: !res.Changed}
	if res.Created {
		w.Header().Set("Location", "/api/v1/portals/"+portal+"/policy")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
	}
	if res.Changed {
		a.log.Info("policy published", "portal", portal, "version", res.Version.Version, "revision", res.Version.Revision,
			"by", p.Name, "via", receipts.ViaAPI, "asksAgain", res.AsksAgain)
	}
	return writeJSON(w, out)
}

// putError maps the refusals of a publication or a deletion.
func putError(err error, portal string, ifMatchGiven bool) error {
	if e, ok := errors.AsType[*catalogue.ErrManagedByFile](err); ok {
		return respond.Errorf(http.StatusConflict, "%s", e.Error())
	}
	if errors.Is(err, catalogue.ErrMayNotCreate) {
		return respond.Errorf(http.StatusForbidden, "forbidden: portal %q does not exist, and %s", portal, err.Error())
	}
	if errors.Is(err, receipts.ErrConflict) {
		if ifMatchGiven {
			return respond.Errorf(http.StatusPreconditionFailed, "If-Match: it is not the current version of portal %q (GET its policy for the current ETag)", portal)
		}
		return respond.Errorf(http.StatusConflict, "portal %q changed meanwhile: retry", portal)
	}
	return unknownPortal(err, portal)
}

// sameOrigin refuses a write with a console session from another origin
// (a bearer token is not sent by a browser on its own).
func (a *API) sameOrigin(r *http.Request) error {
	if r.Header.Get("Authorization") == "" && !a.auth.SameOrigin(r) {
		return respond.Errorf(http.StatusForbidden, "forbidden: a write with a console session must come from the console's origin")
	}
	return nil
}

// bodyFormat returns the format of r's body by its Content-Type, or a 415.
func bodyFormat(r *http.Request) (string, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
		return policyfiles.YAML, nil
	case "application/json":
		return policyfiles.JSON, nil
	}
	return "", respond.Errorf(http.StatusUnsupportedMediaType, "Content-Type %q: send the policy as application/yaml or application/json",
		respond.Clip(r.Header.Get("Content-Type"), 64))
}

// writeProblems answers 422 with every problem of err (a *policy.LoadError
// or several joined), in the order of the body.
func writeProblems(w http.ResponseWriter, err error) error {
	problems := []Problem{}
	for _, le := range policy.LoadErrors(err) {
		problems = append(problems, Problem{Line: le.Line, Field: le.Field, Message: le.Msg})
	}
	if len(problems) == 0 {
		problems = append(problems, Problem{Message: err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnprocessableEntity)
	json.NewEncoder(w).Encode(struct {
		Error    string    `json:"error"`
		Problems []Problem `json:"problems"`
	}{fmt.Sprintf("the policy has %d problem(s): nothing was published", len(problems)), problems})
	return nil
}

// DeletePortal deletes a portal managed by the database (it needs the
// admin token or an operator with "*"): 204, its receipts and versions
// kept; 409 for a portal managed by file, 404 for one the database does
// not hold, 412 when If-Match is not its current ETag.
func (a *API) DeletePortal(w http.ResponseWriter, r *http.Request) error {
	p, err := a.auth.Principal(w, r, r.PathValue("id"))
	if err != nil {
		return err
	}
	portal := r.PathValue("id")
	if !policy.ValidID(portal) {
		return respond.Errorf(http.StatusBadRequest, "%q is not a portal id", respond.Clip(portal, 64))
	}
	if err := a.sameOrigin(r); err != nil {
		return err
	}
	if !p.All {
		return respond.Errorf(http.StatusForbidden, "forbidden: deleting a portal needs the admin token or an operator with \"*\"")
	}
	match, given := ifMatch(r)
	if given && match == -1 {
		given = false // "*": any current version
	}
	if err := a.cat.Remove(r.Context(), portal, given, match); err != nil {
		return putError(err, portal, given)
	}
	a.log.Info("portal deleted", "portal", portal, "by", p.Name, "via", receipts.ViaAPI)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// VersionJSON is one version of GET /api/v1/portals/{id}/versions.
type VersionJSON struct {
	Version     int64  `json:"version"`
	Revision    int64  `json:"revision"`
	PublishedAt string `json:"publishedAt"`
	By          string `json:"by"`
	Via         string `json:"via"`
	ManagedBy   string `json:"managedBy"`
	File        string `json:"file,omitempty"`
}

// Versions serves every version of a portal's policy, newest first (a
// deleted portal's stay); 404 for a portal never published.
func (a *API) Versions(w http.ResponseWriter, r *http.Request) error {
	portal, err := a.portal(w, r)
	if err != nil {
		return err
	}
	vs, err := a.cat.Versions(r.Context(), portal)
	if err != nil {
		return unknownPortal(err, portal)
	}
	out := make([]VersionJSON, len(vs))
	for i, v := range vs {
		out[i] = VersionJSON{Version: v.Version, Revision: v.Revision, PublishedAt: v.PublishedAt.UTC().Format(time.RFC3339Nano),
			By: v.By, Via: v.Via, ManagedBy: v.ManagedBy(), File: v.File}
	}
	return writeJSON(w, out)
}
