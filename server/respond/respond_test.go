package respond

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portalconsent/portalconsent/server/metrics"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// storeErrors returns the store-error counter lines of m, as served.
func storeErrors(m *metrics.Metrics) string {
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	var out []string
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(l, "portalconsent_store_errors_total{") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "; ")
}

// TestAnswer is the one mapping of errors to statuses: each kind of error,
// its status, message and metrics reason, whether it is logged, and which
// store-error counter it adds to.
func TestAnswer(t *testing.T) {
	dbDown := errors.New("connection refused")
	tooBig := &http.MaxBytesError{Limit: 4096}
	for _, tt := range []struct {
		name   string
		err    error
		status int
		msg    string
		reason string
		logged bool
		op     string // the store-error counter it adds to, "" for none
	}{
		{"refusal", Refuse(422, "revision", "value: revision %d is not served", 3), 422, "value: revision 3 is not served", "revision", false, ""},
		{"refusal wrapped", fmt.Errorf("checking: %w", Errorf(400, "bad")), 400, "bad", "", false, ""},
		{"body too large", fmt.Errorf("reading: %w", tooBig), 413, "body over 4096 bytes", "too-large", false, ""},
		{"no store", receipts.ErrNoStore, 503, "this consent host keeps no receipts", "store", false, ""},
		{"no store, wrapped as not found", NotFound(receipts.ErrNoStore, "no receipt"), 503, "this consent host keeps no receipts", "store", false, ""},
		{"not found", NotFound(fmt.Errorf("sqlite: %w", receipts.ErrNotFound), "no receipt of consent %q", "abc"), 404, `no receipt of consent "abc"`, "", false, ""},
		{"not found expected, store down", NotFound(dbDown, "no receipt"), 503, "receipts cannot be read at the moment: retry later", "store", true, "read"},
		{"write failed", Unavailable(dbDown, "append", "receipts cannot be stored at the moment: retry later"), 503, "receipts cannot be stored at the moment: retry later", "store", true, "append"},
		{"anything else", dbDown, 503, "receipts cannot be read at the moment: retry later", "store", true, "read"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			m := metrics.New()
			before := storeErrors(m)
			a := Mapper{Log: slog.New(slog.NewTextHandler(&logs, nil)), Metrics: m}.Answer(tt.err)
			if a.Status != tt.status || a.Msg != tt.msg || a.Reason != tt.reason {
				t.Errorf("Answer = %d %q (reason %q), want %d %q (reason %q)", a.Status, a.Msg, a.Reason, tt.status, tt.msg, tt.reason)
			}
			if got := strings.Count(logs.String(), "\n"); got != map[bool]int{false: 0, true: 1}[tt.logged] {
				t.Errorf("logged %d lines, want logged=%v:\n%s", got, tt.logged, logs.String())
			}
			after := storeErrors(m)
			if tt.op == "" && after != before {
				t.Errorf("store errors counted: %s", after)
			}
			if want := fmt.Sprintf(`portalconsent_store_errors_total{op=%q} 1`, tt.op); tt.op != "" && !strings.Contains(after, want) {
				t.Errorf("store errors %s, want %s", after, want)
			}
		})
	}
}

// TestHandlerJSON: a handler's error is answered once, as a JSON error with
// the refusal's headers; a nil error leaves the handler's own answer.
func TestHandlerJSON(t *testing.T) {
	h := Mapper{}.Handler(func(w http.ResponseWriter, r *http.Request) error {
		if r.URL.Path == "/ok" {
			w.WriteHeader(204)
			return nil
		}
		return Errorf(http.StatusTooManyRequests, "too many %s", "requests").With("Retry-After", "7")
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/limited", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "7" || rec.Header().Get("Content-Type") != "application/json" ||
		string(body) != `{"error":"too many requests"}`+"\n" {
		t.Errorf("refusal: %d %v %s", rec.Code, rec.Header(), body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/ok", nil))
	if rec.Code != 204 || rec.Body.Len() != 0 {
		t.Errorf("success: %d %q", rec.Code, rec.Body.String())
	}
}

func TestClip(t *testing.T) {
	if got := Clip("abcdef", 3); got != "abc…" {
		t.Errorf("Clip = %q", got)
	}
	if got := Clip("abc", 3); got != "abc" {
		t.Errorf("Clip = %q", got)
	}
}
