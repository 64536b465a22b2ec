package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/portalconsent/portalconsent/server/api"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// loadOpenAPI returns the served document, loaded and validated by
// kin-openapi.
func loadOpenAPI(t *testing.T, s *Server) *openapi3.T {
	t.Helper()
	res, body := serve(t, s, "GET", "/api/v1/openapi.json", nil)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" || res.Header.Get("ETag") == "" {
		t.Fatalf("GET /api/v1/openapi.json: %d %v", res.StatusCode, res.Header)
	}
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		t.Fatalf("loading the OpenAPI document: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi: %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	return doc
}

// TestOpenAPIRoutes: the OpenAPI document is valid OpenAPI 3.1, names
// every /api/v1 route of the route table and no other, and is served to
// anyone with an ETag (304 on If-None-Match).
func TestOpenAPIRoutes(t *testing.T) {
	s := newReceiptServer(t, openTestStore(t), nil)
	doc := loadOpenAPI(t, s)
	inTable := map[string]bool{}
	for _, p := range s.Patterns() {
		method, path, _ := strings.Cut(p, " ")
		if !strings.HasPrefix(path, "/api/v1/") {
			continue
		}
		inTable[p] = true
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("route %q is not in the OpenAPI document", p)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !inTable[method+" "+path] {
				t.Errorf("the OpenAPI document names %s %s, which the route table does not", method, path)
			}
		}
	}
	res, _ := serve(t, s, "GET", "/api/v1/openapi.json", nil)
	tag := res.Header.Get("ETag")
	if res, body := serve(t, s, "GET", "/api/v1/openapi.json", http.Header{"If-None-Match": {tag}}); res.StatusCode != 304 || len(body) != 0 {
		t.Errorf("If-None-Match: %d, want 304", res.StatusCode)
	}
	if !bytes.Equal(api.OpenAPIDocument(), mustBody(t, s, "/api/v1/openapi.json")) {
		t.Error("the served document is not api.OpenAPIDocument")
	}
}

func mustBody(t *testing.T, s *Server, target string) []byte {
	_, b := serve(t, s, "GET", target, nil)
	return b
}

// ndjsonDecoder reads JSON Lines as the array of its lines, as the
// document describes them.
func ndjsonDecoder(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	out := []any{}
	sc := bufio.NewScanner(body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("line %d: %w", len(out)+1, err)
		}
		out = append(out, v)
	}
	return out, sc.Err()
}

// pathParams returns the values of template's {params} in path.
func pathParams(template, path string) map[string]string {
	out := map[string]string{}
	ts, ps := strings.Split(template, "/"), strings.Split(path, "/")
	for i, seg := range ts {
		if strings.HasPrefix(seg, "{") && i < len(ps) {
			out[strings.Trim(seg, "{}")] = ps[i]
		}
	}
	return out
}

// TestOpenAPIResponses sends requests to every /api/v1 route, answered
// with their statuses of success and of refusal, and validates each
// answer (status, headers, body) against the OpenAPI document with
// kin-openapi: the document cannot drift from what the routes answer.
func TestOpenAPIResponses(t *testing.T) {
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", ndjsonDecoder)
	st := openTestStore(t)
	fillAPI(t, st)
	const consent = "q8B3x0aPq1V2LmN7rT4sYw"
	r := testReceipt("mtran", consent, testNow.Add(-time.Hour))
	if err := st.Append(context.Background(), r, nil); err != nil {
		t.Fatal(err)
	}
	cp, err := receipts.SignCheckpoint(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)), "mtran", r.Seq, r.Hash, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveCheckpoint(context.Background(), cp); err != nil {
		t.Fatal(err)
	}
	s := newReceiptServer(t, st, nil, WithOperators(testOperators(t)), WithSignInRate(0, 0))
	doc := loadOpenAPI(t, s)
	notice := testPortal(t, s, "mtran").Variants[0].Notice.SHA256
	yamlCT, jsonCT := "application/yaml", "application/json"
	newPolicy := examplePolicy("newportal", "New portal")
	days := "?from=" + testNow.AddDate(0, 0, -3).Format(time.DateOnly) + "&to=" + testNow.Format(time.DateOnly)

	type call struct {
		token, method, target, ctype, body string
		header                             []string
		want                               int
	}
	admin := testAdminToken
	calls := []call{
		{"", "GET", "/api/v1/openapi.json", "", "", nil, 200},
		{admin, "GET", "/api/v1/portals", "", "", nil, 200},
		{"", "GET", "/api/v1/portals", "", "", nil, 401},
		{admin, "PUT", "/api/v1/portals/newportal/policy", yamlCT, newPolicy, nil, 201},
		{admin, "PUT", "/api/v1/portals/newportal/policy", yamlCT, newPolicy, nil, 200},
		{admin, "PUT", "/api/v1/portals/newportal/policy", yamlCT, newPolicy, []string{"If-Match", `"v9"`}, 412},
		{admin, "PUT", "/api/v1/portals/newportal/policy", yamlCT, "id: newportal\n", nil, 422},
		{admin, "PUT", "/api/v1/portals/newportal/policy", "text/plain", newPolicy, nil, 415},
		{admin, "PUT", "/api/v1/portals/mtran/policy", yamlCT, examplePolicy("mtran", "x"), nil, 409},
		{admin, "PUT", "/api/v1/portals/newportal/policy", yamlCT, strings.Repeat("#", api.MaxPolicyBody+1), nil, 413},
		{aliceToken, "PUT", "/api/v1/portals/other/policy", yamlCT, examplePolicy("other", "x"), nil, 403},
		{admin, "GET", "/api/v1/portals/newportal/policy", "", "", nil, 200},
		{admin, "GET", "/api/v1/portals/newportal/policy", "", "", []string{"Accept", yamlCT}, 200},
		{admin, "GET", "/api/v1/portals/nope/policy", "", "", nil, 404},
		{admin, "GET", "/api/v1/portals/newportal/versions", "", "", nil, 200},
		{admin, "DELETE", "/api/v1/portals/newportal", "", "", []string{"If-Match", `"v9"`}, 412},
		{admin, "DELETE", "/api/v1/portals/mtran", "", "", nil, 409},
		{admin, "DELETE", "/api/v1/portals/newportal", "", "", nil, 204},
		{admin, "DELETE", "/api/v1/portals/newportal", "", "", nil, 404},
		{admin, "GET", "/api/v1/portals/mtran/consents/" + consent, "", "", nil, 200},
		{admin, "GET", "/api/v1/portals/mtran/consents/short", "", "", nil, 400},
		{aliceToken, "GET", "/api/v1/portals/twisto/consents/" + consent, "", "", nil, 403},
		{admin, "GET", "/api/v1/portals/mtran/policies/" + notice, "", "", nil, 200},
		{admin, "GET", "/api/v1/portals/mtran/policies/" + strings.Repeat("0", 64), "", "", nil, 404},
		{admin, "GET", "/api/v1/portals/mtran/receipts.csv" + days, "", "", nil, 200},
		{admin, "GET", "/api/v1/portals/mtran/receipts.csv", "", "", nil, 400},
		{admin, "GET", "/api/v1/portals/mtran/receipts.jsonl" + days, "", "", nil, 200},
		{admin, "GET", "/api/v1/portals/mtran/checkpoints.jsonl", "", "", nil, 200},
		{admin, "GET", "/api/v1/portals/mtran/stats" + days, "", "", nil, 200},
		{admin, "GET", "/api/v1/portals/mtran/stats?from=yesterday", "", "", nil, 400},
		{admin, "GET", "/api/v1/portals/mtran/cookies/undeclared" + days + "&limit=1", "", "", nil, 200},
		{admin, "GET", "/api/v1/portals/mtran/cookies/undeclared?limit=0", "", "", nil, 400},
		{admin, "GET", "/api/v1/portals/mtran/cookies/reappeared" + days, "", "", nil, 200},
		{admin, "GET", "/api/v1/operators", "", "", nil, 200},
		{dpoToken, "GET", "/api/v1/operators", "", "", nil, 403},
		{admin, "POST", "/api/v1/operators", jsonCT, `{"name":"carol","portals":["mtran"]}`, nil, 201},
		{admin, "POST", "/api/v1/operators", jsonCT, `{"name":"carol","portals":["mtran"]}`, nil, 409},
		{admin, "POST", "/api/v1/operators", jsonCT, `{"name":"admin","portals":[]}`, nil, 422},
		{admin, "POST", "/api/v1/operators", jsonCT, `{"name":`, nil, 400},
		{admin, "POST", "/api/v1/operators", "text/plain", `{}`, nil, 415},
		{admin, "POST", "/api/v1/operators", jsonCT, `{"name":"` + strings.Repeat("x", api.MaxOperatorBody) + `"}`, nil, 413},
		{admin, "PATCH", "/api/v1/operators/carol", jsonCT, `{"portals":["mtran","twisto"]}`, nil, 200},
		{admin, "PUT", "/api/v1/operators/carol", jsonCT, `{"portals":["*"]}`, nil, 200},
		{admin, "PUT", "/api/v1/operators/nobody", jsonCT, `{"portals":["*"]}`, nil, 404},
		{admin, "POST", "/api/v1/operators/carol/token", "", "", nil, 200},
		{admin, "POST", "/api/v1/operators/alice/token", "", "", nil, 409},
		{admin, "DELETE", "/api/v1/operators/carol", "", "", nil, 204},
		{admin, "DELETE", "/api/v1/operators/bad%20name", "", "", nil, 400},
	}
	covered := map[string]bool{}
	for _, c := range calls {
		res, body := apiDo(t, s, c.token, c.method, c.target, c.ctype, c.body, c.header...)
		what := fmt.Sprintf("%s %s → %d", c.method, c.target, res.StatusCode)
		if len(what) > 120 {
			what = what[:120]
		}
		if res.StatusCode != c.want {
			t.Errorf("%s, want %d: %.300s", what, c.want, body)
			continue
		}
		req := httptest.NewRequest(c.method, c.target, nil)
		_, pattern := s.mux.Handler(req)
		method, template, _ := strings.Cut(pattern, " ")
		covered[pattern] = true
		item := doc.Paths.Value(template)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("%s: route %q is not in the document", what, pattern)
			continue
		}
		route := &routers.Route{Spec: doc, Path: template, PathItem: item, Method: method, Operation: item.GetOperation(method)}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams(template, req.URL.Path), Route: route},
			Status:                 res.StatusCode, Header: res.Header, Body: io.NopCloser(bytes.NewReader(body)),
			Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("%s: the answer is not as the document says: %v\n%.500s", what, err, body)
		}
	}
	for _, p := range s.Patterns() {
		if strings.Contains(p, " /api/v1/") && !covered[p] {
			t.Errorf("route %q: no answer of it was validated", p)
		}
	}
}
