package bench

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

// cdnFile serves raw as a CDN would, and as the consent host serves its own
// files (so the comparison is fair): of type contentType, brotli- or
// gzip-compressed (best compression, made once) when the request accepts it,
// with an ETag (304 on a match), a 5-minute revalidated cache, Vary, CORS and
// a cross-origin resource policy. It fails b if raw cannot be compressed.
func cdnFile(b *testing.B, raw []byte, contentType string) http.Handler {
	var br, gz bytes.Buffer
	bw := brotli.NewWriterLevel(&br, brotli.BestCompression)
	gw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	for _, w := range []interface {
		Write([]byte) (int, error)
		Close() error
	}{bw, gw} {
		if _, err := w.Write(raw); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	sum := sha256.Sum256(raw)
	etag := `"` + hex.EncodeToString(sum[:])[:16] + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("Vary", "Accept-Encoding")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		h.Set("ETag", etag)
		h.Set("Cache-Control", "public, max-age=300, must-revalidate")
		if strings.Contains(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		body := raw
		switch enc := r.Header.Get("Accept-Encoding"); {
		case strings.Contains(enc, "br"):
			body = br.Bytes()
			h.Set("Content-Encoding", "br")
		case strings.Contains(enc, "gzip"):
			body = gz.Bytes()
			h.Set("Content-Encoding", "gzip")
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
}
