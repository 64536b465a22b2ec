// Package assets holds the files the consent host serves from memory:
// content-hashed names, brotli and gzip variants (precompressed at build
// time or made at start), ETags, cache policy and Subresource Integrity.
package assets

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
)

// Asset is one static file with its compressed variants, held in memory.
type Asset struct {
	Name        string // URL path under which it is served
	contentType string
	Raw         []byte // the content as served without encoding
	br, gz      []byte
	ETag        string
	immutable   bool // content-hashed name: cached for a year
	// MaxAge is how many seconds a cache may reuse it without asking, when
	// not immutable.
	MaxAge int
	// lazy: br and gz are made by the first request that wants one.
	lazy bool
	once sync.Once
}

// DefaultMaxAge is how long the loader may be cached: a new release reaches
// every portal within five minutes.
const DefaultMaxAge = 300

// New holds raw as the asset served at "/"+base(file), or at
// "/assets/<name>.<hash>.<ext>" (immutable) when hashed. br and gz are its
// precompressed variants; nil ones are compressed now.
func New(file string, raw []byte, contentType string, hashed bool, br, gz []byte) (*Asset, error) {
	a := newAsset(file, raw, contentType, hashed)
	a.br, a.gz = br, gz
	var err error
	if a.br == nil {
		if a.br, err = compressBrotli(raw); err != nil {
			return nil, err
		}
	}
	if a.gz == nil {
		if a.gz, err = compressGzip(raw); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// newAsset returns the asset of raw, named as New says, without its
// compressed variants.
func newAsset(file string, raw []byte, contentType string, hashed bool) *Asset {
	sum := sha256.Sum256(raw)
	hash := hex.EncodeToString(sum[:])[:16]
	a := &Asset{
		Name:        "/" + path.Base(file),
		contentType: contentType,
		Raw:         raw,
		ETag:        `"` + hash + `"`,
		immutable:   hashed,
		MaxAge:      DefaultMaxAge,
	}
	if hashed {
		base := path.Base(file)
		ext := path.Ext(base)
		a.Name = "/assets/" + strings.TrimSuffix(base, ext) + "." + hash + ext
	}
	return a
}

// compressed returns the brotli and gzip variants, making them first for a
// lazy asset (nil for one that failed: raw is served).
func (a *Asset) compressed() (br, gz []byte) {
	if a.lazy {
		a.once.Do(func() {
			a.br, _ = compressBrotli(a.Raw)
			a.gz, _ = compressGzip(a.Raw)
		})
	}
	return a.br, a.gz
}

// NewLazy is New for content that may never be asked for (a portal's
// configuration in one of its languages): its brotli and gzip variants
// are made by the first request that accepts one, once, not now. Until
// then it holds only raw, and a failure to compress serves raw.
func NewLazy(file string, raw []byte, contentType string, hashed bool) *Asset {
	a := newAsset(file, raw, contentType, hashed)
	a.lazy = true
	return a
}

// Load reads file from fsys. Its .br and .gz variants are taken from
// fsys when present (made at build time) and checked against file, else
// compressed now. hashed names the asset after its content ("app.wasm" →
// "/assets/app.<hash>.wasm") and marks it immutable. A missing file or a stale
// variant is an error that says to run `make build`.
func Load(fsys fs.FS, file, contentType string, hashed bool) (*Asset, error) {
	raw, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, fmt.Errorf("asset %s: %w (run `make build` first)", file, err)
	}
	br, _ := fs.ReadFile(fsys, file+".br")
	if br != nil && !sameContent(brotli.NewReader(bytes.NewReader(br)), raw) {
		return nil, fmt.Errorf("asset %s.br does not match %s (stale build: run `make build`)", file, file)
	}
	gz, _ := fs.ReadFile(fsys, file+".gz")
	if gz != nil {
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil || !sameContent(zr, raw) {
			return nil, fmt.Errorf("asset %s.gz does not match %s (stale build: run `make build`)", file, file)
		}
	}
	return New(file, raw, contentType, hashed, br, gz)
}

// sameContent reports whether r decompresses to exactly want. A precompressed
// variant that does not would be served, under the hashed immutable name of
// the new file, with the old content.
func sameContent(r io.Reader, want []byte) bool {
	got, err := io.ReadAll(io.LimitReader(r, int64(len(want))+1))
	return err == nil && bytes.Equal(got, want)
}

func compressBrotli(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w := brotli.NewWriterLevel(&buf, brotli.BestCompression)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	err := w.Close()
	return buf.Bytes(), err
}

func compressGzip(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	err := w.Close()
	return buf.Bytes(), err
}

// ServeHTTP writes the asset in the best encoding the request accepts
// (brotli, then gzip, then identity), with its ETag (304 on a match), Vary,
// CORS and cross-origin resource policy for embedding, and its cache policy.
func (a *Asset) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Vary", "Accept-Encoding")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("ETag", a.ETag)
	if a.immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age="+strconv.Itoa(a.MaxAge)+", must-revalidate")
	}
	if ETagMatch(r.Header.Get("If-None-Match"), a.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.Raw
	switch enc := AcceptedEncoding(r.Header.Get("Accept-Encoding")); enc {
	case "br", "gzip":
		br, gz := a.compressed()
		if enc == "br" && br != nil {
			body = br
			h.Set("Content-Encoding", "br")
		} else if enc == "gzip" && gz != nil {
			body = gz
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// ETagMatch reports whether an If-None-Match header lists etag (or "*").
func ETagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "W/"))
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// AcceptedEncoding returns "br", "gzip" or "" for an Accept-Encoding header,
// honouring q=0 refusals.
func AcceptedEncoding(header string) string {
	ok := map[string]bool{}
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		// The weight is "q=" qvalue, "q" case-insensitive, and the qvalue
		// "0" [ "." 0*3DIGIT ] (so "q=0." and "Q=0" refuse too).
		q := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(params), " ", ""))
		v, isQ := strings.CutPrefix(q, "q=")
		f, err := strconv.ParseFloat(v, 64)
		ok[name] = !(isQ && err == nil && f == 0)
	}
	switch {
	case ok["br"]:
		return "br"
	case ok["gzip"]:
		return "gzip"
	}
	return ""
}
