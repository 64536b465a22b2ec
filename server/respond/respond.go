// Package respond is where the consent host's errors become statuses, once.
//
// Handlers return an error. An *Error is a refusal with its own status (and,
// for a visitor's beacon, a metrics reason); Answer maps everything else the
// same way on every route: receipts.ErrNotFound wrapped by NotFound is 404
// with the handler's message, a body over its limit (*http.MaxBytesError)
// 413, receipts.ErrNoStore 503 "this consent host keeps no receipts", and
// any other error 503, logged and counted as a store error once. JSON
// writes the answer as {"error": "..."}; the console renders it as a page.
package respond

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/portalconsent/portalconsent/server/metrics"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// Error is a refusal: the status, the message the client reads, and the
// reason the receipts metrics count it under (one of metrics.Reasons, or
// "" where no metric counts it). Header holds headers the answer carries
// (Retry-After, WWW-Authenticate, Allow).
type Error struct {
	Status int
	Reason string
	Msg    string
	Header http.Header
}

func (e *Error) Error() string { return e.Msg }

// Refuse returns a refusal with status, metrics reason and a formatted
// message.
func Refuse(status int, reason, format string, args ...any) *Error {
	return &Error{Status: status, Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// Errorf returns a refusal with status and a formatted message, counted
// under no metrics reason.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// With returns e with header k set to v.
func (e *Error) With(k, v string) *Error {
	if e.Header == nil {
		e.Header = http.Header{}
	}
	e.Header.Set(k, v)
	return e
}

// notFound is a store error with the message to show when it is
// receipts.ErrNotFound.
type notFound struct {
	msg string
	err error
}

func (e *notFound) Error() string { return e.msg + ": " + e.err.Error() }
func (e *notFound) Unwrap() error { return e.err }

// NotFound returns err with the message Answer shows when err is
// receipts.ErrNotFound (404); any other error keeps its own answer. A nil
// err stays nil.
func NotFound(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &notFound{fmt.Sprintf(format, args...), err}
}

// failure is a store failure with what the client reads and the metrics
// operation it counts under.
type failure struct {
	op, msg string
	err     error
}

func (e *failure) Error() string { return e.msg + ": " + e.err.Error() }
func (e *failure) Unwrap() error { return e.err }

// Unavailable returns err, a store failure, with the message the client
// reads (503) and the store-error metric's operation ("read" or "append").
// A nil err stays nil; receipts.ErrNotFound and ErrNoStore keep their own
// answers.
func Unavailable(err error, op, msg string) error {
	if err == nil {
		return nil
	}
	return &failure{op, msg, err}
}

// Messages of the answers Answer makes itself.
const (
	msgNoStore = "this consent host keeps no receipts"
	msgRead    = "receipts cannot be read at the moment: retry later"
)

// Answer is what a client is told of an error.
type Answer struct {
	Status int
	Msg    string
	// Reason is the receipts metrics' reason: the refusal's own, "too-large",
	// or "store" for a store that failed or is missing.
	Reason string
	Header http.Header
}

// Mapper maps errors to answers, logging and counting the failures.
// Its zero value logs nothing and counts nothing.
type Mapper struct {
	Log     *slog.Logger
	Metrics *metrics.Metrics
}

// Answer returns the answer to err (see the package comment). A failure
// that is not a refusal is logged at Error and counted once here.
func (m Mapper) Answer(err error) Answer {
	if e, ok := errors.AsType[*Error](err); ok {
		return Answer{Status: e.Status, Msg: e.Msg, Reason: e.Reason, Header: e.Header}
	}
	if e, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return Answer{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("body over %d bytes", e.Limit), Reason: "too-large"}
	}
	if errors.Is(err, receipts.ErrNoStore) {
		return Answer{Status: http.StatusServiceUnavailable, Msg: msgNoStore, Reason: "store"}
	}
	if e, ok := errors.AsType[*notFound](err); ok && errors.Is(err, receipts.ErrNotFound) {
		return Answer{Status: http.StatusNotFound, Msg: e.msg}
	}
	op, msg := "read", msgRead
	if e, ok := errors.AsType[*failure](err); ok {
		op, msg = e.op, e.msg
	}
	if m.Log != nil {
		m.Log.Error("receipts store", "op", op, "err", err.Error())
	}
	m.Metrics.StoreError(op)
	return Answer{Status: http.StatusServiceUnavailable, Msg: msg, Reason: "store"}
}

// JSON writes the answer to err as a JSON error. A nil err writes nothing.
func (m Mapper) JSON(w http.ResponseWriter, err error) {
	if err == nil {
		return
	}
	WriteAnswer(w, m.Answer(err))
}

// WriteAnswer writes a as a JSON error, with its headers.
func WriteAnswer(w http.ResponseWriter, a Answer) {
	for k, v := range a.Header {
		w.Header()[k] = v
	}
	WriteError(w, a.Status, a.Msg)
}

// Func is a handler that returns its error instead of answering it.
type Func func(w http.ResponseWriter, r *http.Request) error

// Handler returns f as an http.Handler whose errors m answers as JSON.
func (m Mapper) Handler(f Func) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.JSON(w, f(w, r)) })
}

// WriteError writes {"error": msg} with the status.
func WriteError(w http.ResponseWriter, status int, msg string) {
	var b bytes.Buffer
	json.NewEncoder(&b).Encode(struct {
		Error string `json:"error"`
	}{msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// CORS lets any portal origin read the response (no credentials are used).
func CORS(w http.ResponseWriter) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
}

// Origin returns the scheme and host the request reached, e.g.
// "http://localhost:8080".
func Origin(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// Clip returns s cut to n bytes with "…" when longer, for quoting a
// client's input in a message or a log.
func Clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
