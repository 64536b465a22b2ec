package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server"
)

// newTestHandler returns the real server over small fake assets, logging to
// log.
func newTestHandler(t *testing.T, log *slog.Logger) http.Handler {
	t.Helper()
	ps, err := policy.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	h, err := server.New(ps, fakeAssets(), server.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestShutdownGraceful cancels run's context (as SIGTERM does) while a slow
// request is in flight: the request completes, new connections are refused,
// and run returns nil.
func TestShutdownGraceful(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	h := newTestHandler(t, log)
	started := make(chan struct{}, 1)
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			started <- struct{}{}
			time.Sleep(500 * time.Millisecond)
		}
		h.ServeHTTP(w, r)
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", slow, log, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run returned before serving: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("run did not start serving within 5 s")
	}

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	type result struct {
		status int
		body   string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		r, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			res <- result{err: err}
			return
		}
		defer r.Body.Close()
		b, err := io.ReadAll(r.Body)
		res <- result{r.StatusCode, string(b), err}
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow request never reached the handler")
	}
	cancel() // SIGTERM

	// New connections are refused once the listener is closed, while the
	// slow request is still running.
	deadline := time.Now().Add(2 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("new connections still accepted 2 s after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case r := <-res:
		t.Fatalf("the slow request ended before the listener closed: %+v", r)
	default:
	}

	r := <-res
	if r.err != nil {
		t.Fatalf("in-flight request failed during shutdown: %v", r.err)
	}
	if r.status != 200 || !strings.Contains(r.body, `"status":"ok"`) {
		t.Errorf("in-flight request: %d %q, want 200 and the health body", r.status, r.body)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return within 5 s of the cancel")
	}
	if _, err := client.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("a request after shutdown succeeded")
	}

	// The logs: serving, shutting down, the request (logged when it ends,
	// during the shutdown), stopped.
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var e struct{ Msg string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		msgs = append(msgs, e.Msg)
	}
	if got, want := strings.Join(msgs, ","), "serving,shutting down,request,stopped"; got != want {
		t.Errorf("log messages = %s, want %s", got, want)
	}
}

// TestShutdownListenError checks run reports an address it cannot listen on.
func TestShutdownListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	log := slog.New(slog.DiscardHandler)
	if err := run(context.Background(), ln.Addr().String(), http.NotFoundHandler(), log, nil); err == nil {
		t.Error("run on a busy address returned nil")
	}
}

// TestTimeouts checks the limits of the http.Server.
func TestTimeouts(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"ReadHeaderTimeout", srv.ReadHeaderTimeout, 5 * time.Second},
		{"ReadTimeout", srv.ReadTimeout, 10 * time.Second},
		{"WriteTimeout", srv.WriteTimeout, 30 * time.Second},
		{"IdleTimeout", srv.IdleTimeout, 120 * time.Second},
		{"shutdownGrace", shutdownGrace, 10 * time.Second},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if srv.MaxHeaderBytes != 32<<10 {
		t.Errorf("MaxHeaderBytes = %d, want %d", srv.MaxHeaderBytes, 32<<10)
	}
	if srv.ErrorLog == nil {
		t.Error("ErrorLog is nil: net/http's errors would bypass slog")
	}
}
