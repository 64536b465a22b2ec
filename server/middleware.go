package server

import (
	"fmt"
	"net/http"
	"path"
	"runtime/debug"
	"strings"
	"time"

	"github.com/portalconsent/portalconsent/server/respond"
)

// maxURIBytes is the longest request URI (path and query) served; longer ones
// get 414.
const maxURIBytes = 8 << 10

// notFound answers what no route matches: 405 with Allow when the path is
// served for other methods (the catch-all "/" matches every method, so the
// ServeMux never answers 405 itself), else 404.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	respond.CORS(w) // so that a portal's loader can read why
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodOptions} {
		if _, pattern := s.mux.Handler(&http.Request{Method: m, Host: r.Host, URL: r.URL}); pattern != "/" {
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		respond.WriteError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path))
		return
	}
	respond.WriteError(w, http.StatusNotFound, fmt.Sprintf("no such resource: %s %s", r.Method, r.URL.Path))
}

// ServeHTTP implements http.Handler. It logs the request, recovers a
// panicking handler (500), answers 414 to a request URI over 8 KiB and 400 to
// a path that is not absolute and clean (where the ServeMux would redirect).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &logWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v) // net/http's own way to abort a response
			}
			s.log.Error("panic serving request", "method", r.Method, "path", logPath(r),
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if rw.status == 0 {
				// Drop what the handler set for its own response (type,
				// cache, ETag), keep the headers every response carries.
				h := rw.Header()
				for k := range h {
					if k != "X-Content-Type-Options" && k != "Referrer-Policy" {
						delete(h, k)
					}
				}
				h.Set("Cache-Control", "no-store")
				respond.WriteError(rw, http.StatusInternalServerError, "internal server error")
			}
		}
		d := time.Since(start)
		s.metrics.Request(r.Pattern, rw.code(), d.Seconds())
		s.log.Info("request", "method", r.Method, "path", logPath(r), "status", rw.code(),
			"bytes", rw.bytes, "duration", d)
	}()
	rw.Header().Set("X-Content-Type-Options", "nosniff")
	rw.Header().Set("Referrer-Policy", "strict-origin-when-cross-origin")
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	if len(uri) > maxURIBytes {
		respond.WriteError(rw, http.StatusRequestURITooLong, fmt.Sprintf("request URI longer than %d bytes", maxURIBytes))
		return
	}
	if p := r.URL.EscapedPath(); r.Method != http.MethodConnect && (!strings.HasPrefix(p, "/") || cleanPath(p) != p) {
		respond.WriteError(rw, http.StatusBadRequest, fmt.Sprintf("malformed path %q: not absolute and clean", respond.Clip(p, 256)))
		return
	}
	s.mux.ServeHTTP(rw, r)
}

// cleanPath returns the canonical form of an absolute URL path, as the
// ServeMux computes it: path.Clean, keeping a trailing slash.
func cleanPath(p string) string {
	np := path.Clean(p)
	if strings.HasSuffix(p, "/") && np != "/" {
		np += "/"
	}
	return np
}

// logPath returns the path of r for the logs, at most 512 bytes.
func logPath(r *http.Request) string { return respond.Clip(r.URL.Path, 512) }

// logWriter records the status and body size of a response.
type logWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *logWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *logWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *logWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *logWriter) code() int {
	if w.status == 0 {
		return http.StatusOK // nothing written: net/http sends 200
	}
	return w.status
}
