package api

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// openAPIYAML is the OpenAPI 3.1 document of every /api/v1 route, written
// as YAML (comments, anchors) and served as JSON.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// openAPI is the document as JSON and its ETag, made once.
var openAPI = sync.OnceValues(func() ([]byte, string) {
	var doc any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		panic(fmt.Sprintf("api: openapi.yaml: %v", err)) // embedded: a test reads it
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(fmt.Sprintf("api: openapi.yaml as JSON: %v", err))
	}
	sum := sha256.Sum256(b)
	return b, `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
})

// OpenAPIDocument returns the OpenAPI document as served.
func OpenAPIDocument() []byte {
	b, _ := openAPI()
	return b
}

// OpenAPI serves the OpenAPI 3.1 document of the API, to anyone: it tells
// the API's shape, nothing of its data. It is cached: an ETag, revalidated
// (If-None-Match: 304) after an hour.
func (a *API) OpenAPI(w http.ResponseWriter, r *http.Request) error {
	b, tag := openAPI()
	h := w.Header()
	h.Set("ETag", tag)
	h.Set("Cache-Control", "public, max-age=3600")
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			if t = strings.TrimSpace(t); t == tag || t == "W/"+tag || t == "*" {
				w.WriteHeader(http.StatusNotModified)
				return nil
			}
		}
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
	return nil
}
