package server

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/policyfiles"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// editorGet GETs target with the session cookie c and returns the answer
// and the page's anti-forgery token ("" when it has none).
func editorGet(t *testing.T, s http.Handler, c *http.Cookie, target string) (*httptest.ResponseRecorder, string) {
	t.Helper()
	req := httptest.NewRequest("GET", target, nil)
	req.AddCookie(c)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	csrf := ""
	if m := csrfField.FindStringSubmatch(rec.Body.String()); m != nil {
		csrf = m[1]
	}
	return rec, csrf
}

// consolePost POSTs the form to target, same-origin, with the session
// cookie c.
func consolePost(t *testing.T, s http.Handler, c *http.Cookie, target string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://example.com")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.AddCookie(c)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

// editorForm returns the editor's form of action with policy text y,
// based on version, and the anti-forgery token csrf.
func editorForm(csrf, action, y string, version int64) url.Values {
	return url.Values{"csrf": {csrf}, "action": {action}, "policy": {y}, "based_on": {fmt.Sprint(version)}}
}

var (
	basedOnField = regexp.MustCompile(`name="based_on" value="(\d+)"`)
	badLine      = regexp.MustCompile(`<span class="pc-bad" data-line="(\d+)">`)
	problemItem  = regexp.MustCompile(`<li class="pc-problem" data-line="(\d+)">`)
)

// lineOf returns the 1-based line of y that starts with prefix (spaces
// trimmed), or fails.
func lineOf(t *testing.T, y, prefix string) int {
	t.Helper()
	for i, l := range strings.Split(y, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return i + 1
		}
	}
	t.Fatalf("no line %q", prefix)
	return 0
}

// TestConsolePolicyEditor is the editor's life, one status after another:
// the form (200), every problem beside its line (422), a clean check (200),
// the preview and the diff (200, with the page's own stylesheet under a
// nonce), a publication (303, a new version by the operator via the
// console), a stale form (409 with the changes, then publishable
// knowingly), a portal managed by file (read-only, 409), malformed forms
// (400, 403, 413), and the scope: an operator of mtran can neither read,
// preview nor publish another portal's policy.
func TestConsolePolicyEditor(t *testing.T) {
	now := testNow
	s := newConsoleServer(t, &now)
	if res, body := apiDo(t, s, testAdminToken, "PUT", "/api/v1/portals/newportal/policy", "application/yaml", examplePolicy("newportal", "New portal")); res.StatusCode != 201 {
		t.Fatalf("creating newportal: %d %s", res.StatusCode, body)
	}
	dpo := signIn(t, s, dpoToken)
	target := "/console/portals/newportal/policy"

	rec, csrf := editorGet(t, s, dpo, target)
	body := rec.Body.String()
	if rec.Code != 200 || csrf == "" || !strings.Contains(body, `<label for="policy-source">`) || !strings.Contains(body, "name: New portal") ||
		!strings.Contains(body, `name="based_on" value="1"`) || strings.Contains(body, "readonly") || !strings.Contains(body, `data-line="1">1</span>`) {
		t.Fatalf("the editor: %d\n%s", rec.Code, body)
	}
	if !strings.Contains(body, "version 1 of ") || !strings.Contains(body, "(revision ") {
		t.Errorf("the editor does not name the version before the revision:\n%s", body)
	}
	y := examplePolicy("newportal", "New portal")

	// Every problem, each beside its line; nothing published.
	broken := strings.Replace(strings.Replace(y, "lifetimeDays: 182", "lifetimeDays: 900", 1), "category: statistical", "category: nowhere", 1)
	rec = consolePost(t, s, dpo, target, editorForm(csrf, "check", broken, 1))
	body = rec.Body.String()
	wantLines := []string{fmt.Sprint(lineOf(t, broken, "lifetimeDays:")), fmt.Sprint(lineOf(t, broken, "category: nowhere"))}
	var marked, listed []string
	for _, m := range badLine.FindAllStringSubmatch(body, -1) {
		marked = append(marked, m[1])
	}
	for _, m := range problemItem.FindAllStringSubmatch(body, -1) {
		listed = append(listed, m[1])
	}
	if rec.Code != 422 || fmt.Sprint(marked) != fmt.Sprint(wantLines) || fmt.Sprint(listed) != fmt.Sprint(wantLines) ||
		!strings.Contains(body, "2 problem(s)") || !strings.Contains(body, `aria-invalid="true"`) || !strings.Contains(body, "lifetimeDays: 900") {
		t.Fatalf("a broken policy: %d, lines marked %v, listed %v, want %v\n%s", rec.Code, marked, listed, wantLines, body)
	}
	// A YAML syntax error: its first problem, by its line.
	rec = consolePost(t, s, dpo, target, editorForm(csrf, "check", y+"\ncookies: [\n", 1))
	if rec.Code != 422 || len(problemItem.FindAllString(rec.Body.String(), -1)) != 1 {
		t.Errorf("a YAML syntax error: %d\n%s", rec.Code, rec.Body)
	}
	rec = consolePost(t, s, dpo, target, editorForm(csrf, "check", y, 1))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "No problem found") {
		t.Errorf("a clean check: %d\n%s", rec.Code, rec.Body)
	}

	// The preview: banner, preferences and policy page in each language,
	// light and dark, with the diff and the warning of a new revision.
	longer := strings.Replace(strings.Replace(y, "lifetimeDays: 182", "lifetimeDays: 190", 1), "name: New portal", "name: New portal, edited", 1)
	rec = consolePost(t, s, dpo, target, editorForm(csrf, "preview", longer, 1))
	body = rec.Body.String()
	p, err := policyfiles.ParseBody("newportal", []byte(longer), policyfiles.YAML)
	if err != nil {
		t.Fatal(err)
	}
	csp := rec.Header().Get("Content-Security-Policy")
	nonce := regexp.MustCompile(`<style nonce="([^"]+)">`).FindStringSubmatch(body)
	if rec.Code != 200 || nonce == nil || !strings.Contains(csp, "style-src 'self' 'nonce-"+nonce[1]+"'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("the preview: %d, CSP %q\n%s", rec.Code, csp, body)
	}
	for _, scheme := range []string{"light", "dark"} {
		for _, id := range []string{"pc-banner-title", "pc-preferences-title", "pc-policy-title"} {
			if !strings.Contains(body, `id="pv`+scheme+"-"+id+`"`) {
				t.Errorf("the preview in %s has no %s", scheme, id)
			}
		}
	}
	if !strings.Contains(body, ".pc-preview-dark,.pc-preview-dark .pc-root{--pc-bg:"+policy.DefaultDark.Background) ||
		strings.Contains(body, `id="preview-lang"`) {
		t.Errorf("the preview's schemes or languages (English only):\n%s", body)
	}
	if strings.Contains(body, `aria-modal`) || strings.Contains(body, `role="dialog"`) || !strings.Contains(body, `role="group"`) || strings.Contains(body, `id="pc-banner-title"`) {
		t.Error("the preview keeps a modal dialog or an id that is not its own")
	}
	if !strings.Contains(body, "asks every visitor again") || !strings.Contains(body, "<code>lifetimeDays</code>") {
		t.Errorf("the preview does not warn of the new revision with the change:\n%s", body)
	}
	wording := strings.Replace(y, "name: New portal", "name: New portal, reworded", 1)
	if rec = consolePost(t, s, dpo, target, editorForm(csrf, "preview", wording, 1)); rec.Code != 200 || !strings.Contains(rec.Body.String(), "not asked again") {
		t.Errorf("a wording change previewed: %d", rec.Code)
	}

	// Publish: a new version by dpo via the console, served at once.
	rec = consolePost(t, s, dpo, target, editorForm(csrf, "publish", longer, 1))
	if rec.Code != 303 || rec.Header().Get("Location") != target+"?published=2" {
		t.Fatalf("publishing: %d %v\n%s", rec.Code, rec.Header(), rec.Body)
	}
	vs, err := s.cat.Versions(context.Background(), "newportal")
	if err != nil || len(vs) != 2 || vs[0].Version != 2 || vs[0].By != "dpo" || vs[0].Via != receipts.ViaConsole || vs[0].Revision != int64(p.Revision) {
		t.Fatalf("versions after publishing: %+v %v", vs, err)
	}
	if cur, err := s.cat.Current(context.Background(), "newportal"); err != nil || string(cur.Source) != longer || cur.Format != policyfiles.YAML {
		t.Errorf("the source kept: %q %v, want the form's", cur.Source, err)
	}
	if _, cfg := serve(t, s, "GET", "/portals/newportal/config.json", nil); !strings.Contains(string(cfg), "New portal, edited") {
		t.Error("config.json does not serve the published version")
	}
	rec, _ = editorGet(t, s, dpo, target+"?published=2")
	if !strings.Contains(rec.Body.String(), "Version 2 published") || !strings.Contains(rec.Body.String(), `name="based_on" value="2"`) {
		t.Errorf("the editor after publishing:\n%s", rec.Body)
	}
	// The same again: nothing changes.
	if rec = consolePost(t, s, dpo, target, editorForm(csrf, "publish", longer, 2)); rec.Code != 200 || !strings.Contains(rec.Body.String(), "version 2 stays") {
		t.Errorf("publishing the same policy: %d\n%s", rec.Code, rec.Body)
	}

	// A form based on version 1, now stale: refused with the changes
	// against version 2, and based on it: published when sent again.
	other := strings.Replace(y, "lifetimeDays: 182", "lifetimeDays: 200", 1)
	rec = consolePost(t, s, dpo, target, editorForm(csrf, "publish", other, 1))
	body = rec.Body.String()
	if m := basedOnField.FindStringSubmatch(body); rec.Code != 409 || m == nil || m[1] != "2" || !strings.Contains(body, "Not published: version 2 of ") ||
		!strings.Contains(body, "<td>190</td><td>200</td>") || !strings.Contains(body, "lifetimeDays: 200") {
		t.Fatalf("a stale form: %d\n%s", rec.Code, body)
	}
	if rec = consolePost(t, s, dpo, target, editorForm(csrf, "publish", other, 2)); rec.Code != 303 {
		t.Fatalf("publishing knowingly: %d\n%s", rec.Code, rec.Body)
	}

	// History: each version, who published it and how.
	rec, _ = editorGet(t, s, dpo, "/console/portals/newportal/history")
	body = rec.Body.String()
	if rec.Code != 200 || strings.Count(body, `<tr class="pc-version">`) != 3 || !strings.Contains(body, "the console") || !strings.Contains(body, "the API") {
		t.Errorf("history: %d\n%s", rec.Code, body)
	}

	// Managed by file: read-only, refused.
	rec, _ = editorGet(t, s, dpo, "/console/portals/mtran/policy")
	if body = rec.Body.String(); rec.Code != 200 || !strings.Contains(body, "readonly") || !strings.Contains(body, "managed by the file built-in") ||
		strings.Contains(body, `value="publish"`) {
		t.Errorf("mtran's editor: %d\n%s", rec.Code, body)
	}
	if rec = consolePost(t, s, dpo, "/console/portals/mtran/policy", editorForm(csrf, "publish", examplePolicy("mtran", "x"), 1)); rec.Code != 409 {
		t.Errorf("publishing mtran: %d", rec.Code)
	}

	// Malformed forms.
	for name, tc := range map[string]struct {
		form url.Values
		want int
	}{
		"no anti-forgery token": {editorForm("", "check", y, 1), 403},
		"an unknown action":     {editorForm(csrf, "delete", y, 1), 400},
		"a bad version":         {editorForm(csrf, "check", y, -1), 400},
		"over 1 MiB":            {editorForm(csrf, "check", y+"\n#"+strings.Repeat("x", 1<<20), 1), 413},
		"far over the bound":    {editorForm(csrf, "check", strings.Repeat("é", 2<<20), 1), 413},
	} {
		if rec := consolePost(t, s, dpo, target, tc.form); rec.Code != tc.want {
			t.Errorf("%s: %d, want %d", name, rec.Code, tc.want)
		}
	}
	req := httptest.NewRequest("POST", target, strings.NewReader(editorForm(csrf, "check", y, 1).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.AddCookie(dpo)
	rec = httptest.NewRecorder()
	if s.ServeHTTP(rec, req); rec.Code != 403 {
		t.Errorf("a cross-site form: %d", rec.Code)
	}

	// The scope: alice (mtran) can neither read, preview nor publish
	// another portal's policy, even with her own valid token.
	alice := signIn(t, s, aliceToken)
	_, aliceCSRF := editorGet(t, s, alice, "/console/portals/mtran/policy")
	if aliceCSRF == "" {
		t.Fatal("alice's editor of mtran has no form")
	}
	for _, id := range []string{"twisto", "newportal"} {
		if rec, _ := editorGet(t, s, alice, "/console/portals/"+id+"/policy"); rec.Code != 403 || strings.Contains(rec.Body.String(), "lifetimeDays") {
			t.Errorf("alice reads %s's policy: %d", id, rec.Code)
		}
		for _, action := range []string{"check", "preview", "publish"} {
			if rec := consolePost(t, s, alice, "/console/portals/"+id+"/policy", editorForm(aliceCSRF, action, examplePolicy(id, "Taken"), 3)); rec.Code != 403 {
				t.Errorf("alice %ss %s's policy: %d", action, id, rec.Code)
			}
		}
	}
	if vs, _ := s.cat.Versions(context.Background(), "newportal"); len(vs) != 3 {
		t.Errorf("%d versions after alice's attempts, want 3", len(vs))
	}
}

// TestConsoleNewPortal: the new-portal form, for the admin and the
// operators of every portal only; a portal created there serves its
// banner; an id taken is refused (409).
func TestConsoleNewPortal(t *testing.T) {
	now := testNow
	s := newConsoleServer(t, &now)
	alice := signIn(t, s, aliceToken)
	if rec, _ := editorGet(t, s, alice, "/console/new-portal"); rec.Code != 403 {
		t.Errorf("alice's new-portal form: %d", rec.Code)
	}
	if rec, _ := editorGet(t, s, alice, "/console/"); strings.Contains(rec.Body.String(), `href="/console/new-portal"`) {
		t.Error("alice is offered a new portal")
	}
	admin := signIn(t, s, testAdminToken)
	if rec, _ := editorGet(t, s, admin, "/console/"); !strings.Contains(rec.Body.String(), `href="/console/new-portal"`) {
		t.Error("the admin is not offered a new portal")
	}
	rec, csrf := editorGet(t, s, admin, "/console/new-portal")
	if rec.Code != 200 || csrf == "" || !strings.Contains(rec.Body.String(), "id: new-portal") || !strings.Contains(rec.Body.String(), `action="/console/new-portal"`) {
		t.Fatalf("the new-portal form: %d\n%s", rec.Code, rec.Body)
	}
	_, aliceCSRF := editorGet(t, s, alice, "/console/")
	if rec := consolePost(t, s, alice, "/console/new-portal", editorForm(aliceCSRF, "publish", examplePolicy("alices", "A"), 0)); rec.Code != 403 {
		t.Errorf("alice creates a portal: %d", rec.Code)
	}
	y := examplePolicy("fresh", "Fresh portal")
	if rec := consolePost(t, s, admin, "/console/new-portal", editorForm(csrf, "preview", y, 0)); rec.Code != 200 ||
		!strings.Contains(rec.Body.String(), "every visitor will be asked") {
		t.Errorf("previewing a new portal: %d\n%s", rec.Code, rec.Body)
	}
	rec = consolePost(t, s, admin, "/console/new-portal", editorForm(csrf, "publish", y, 0))
	if rec.Code != 303 || rec.Header().Get("Location") != "/console/portals/fresh/policy?published=1" {
		t.Fatalf("creating fresh: %d\n%s", rec.Code, rec.Body)
	}
	if res, _ := serve(t, s, "GET", "/portals/fresh/config.json", nil); res.StatusCode != 200 {
		t.Errorf("fresh's config.json: %d", res.StatusCode)
	}
	vs, err := s.cat.Versions(context.Background(), "fresh")
	if err != nil || len(vs) != 1 || vs[0].By != "admin" || vs[0].Via != receipts.ViaConsole {
		t.Errorf("fresh's versions: %+v %v", vs, err)
	}
	if rec := consolePost(t, s, admin, "/console/new-portal", editorForm(csrf, "publish", examplePolicy("fresh", "Again"), 0)); rec.Code != 409 ||
		!strings.Contains(rec.Body.String(), "exists already") {
		t.Errorf("an id taken: %d\n%s", rec.Code, rec.Body)
	}
	if rec := consolePost(t, s, admin, "/console/new-portal", editorForm(csrf, "publish", examplePolicy("mtran", "Mine"), 0)); rec.Code != 409 ||
		!strings.Contains(rec.Body.String(), "managed by the file") {
		t.Errorf("a portal managed by file: %d\n%s", rec.Code, rec.Body)
	}
	if rec := consolePost(t, s, admin, "/console/new-portal", editorForm(csrf, "publish", strings.Replace(y, "id: fresh", "id: Not An Id", 1), 0)); rec.Code != 422 {
		t.Errorf("an invalid id: %d\n%s", rec.Code, rec.Body)
	}
}

// TestConsolePolicyEditorLanguages: the preview shows the language chosen
// among those the policy offers (the default one first, and for a
// language it does not offer), light and dark.
func TestConsolePolicyEditorLanguages(t *testing.T) {
	now := testNow
	s := newConsoleServer(t, &now)
	p := testPortal(t, s, "mtran").Policy
	q := *p
	q.ID = "bilingual"
	body, err := json.Marshal(&q)
	if err != nil {
		t.Fatal(err)
	}
	if res, b := apiDo(t, s, testAdminToken, "PUT", "/api/v1/portals/bilingual/policy", "application/json", string(body)); res.StatusCode != 201 {
		t.Fatalf("creating bilingual: %d %s", res.StatusCode, b)
	}
	dpo := signIn(t, s, dpoToken)
	target := "/console/portals/bilingual/policy"
	rec, csrf := editorGet(t, s, dpo, target)
	m := regexp.MustCompile(`(?s)<textarea[^>]*>\n(.*)</textarea>`).FindStringSubmatch(rec.Body.String())
	if rec.Code != 200 || m == nil || !strings.Contains(rec.Body.String(), `<option value="fr">`) {
		t.Fatalf("the editor of a policy in several languages: %d\n%s", rec.Code, rec.Body)
	}
	y := html.UnescapeString(m[1])
	for _, tc := range []struct{ lang, want string }{{"fr", "fr"}, {"", p.Texts.Lang}, {"xx", p.Texts.Lang}} {
		form := editorForm(csrf, "preview", y, 1)
		form.Set("preview_lang", tc.lang)
		rec := consolePost(t, s, dpo, target, form)
		body := rec.Body.String()
		if rec.Code != 200 || strings.Count(body, `<div class="pc-preview-banner" lang="`+tc.want+`"`) != 2 ||
			!strings.Contains(body, `<option value="`+tc.want+`" selected>`) {
			t.Errorf("preview_lang %q: %d, want the previews in %s\n%.2000s", tc.lang, rec.Code, tc.want, body)
		}
	}
}
