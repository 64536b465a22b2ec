package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestOperatorsBinary runs the built server with an operators file and
// -metrics-addr: the scope holds on the API, SIGHUP reloads the file (a
// broken one keeps the last good), the metrics count it all on their own
// address, and no token reaches the logs.
func TestOperatorsBinary(t *testing.T) {
	const alice = "alice-binary-token-0123456789"
	h, err := bcrypt.GenerateFromPassword([]byte(alice), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "operators.yaml")
	write := func(portal string) {
		body := "operators:\n  - name: alice\n    tokenHash: \"" + string(h) + "\"\n    portals: [" + portal + "]\n"
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("mtran")
	p := startServer(t, filepath.Join(t.TempDir(), "receipts.db"), "-operators", file, "-metrics-addr", "127.0.0.1:0")
	status := func(portal string) int {
		req, _ := http.NewRequest("GET", p.url+"/api/v1/portals/"+portal+"/receipts.csv?from=2026-03-01&to=2026-03-02", nil)
		req.Header.Set("Authorization", "Bearer "+alice)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if s := status("mtran"); s != 200 {
		t.Fatalf("mtran: %d", s)
	}
	if s := status("twisto"); s != 403 {
		t.Fatalf("twisto: %d", s)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s:\n%s", what, p.log())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// A broken file keeps alice's access (SIGHUP, and the watch).
	os.WriteFile(file, []byte("operators:\n  - name: alice\n    colour: red\n"), 0o600)
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor("the refusal logged", func() bool { return strings.Contains(p.log(), "operators file refused") })
	if s := status("mtran"); s != 200 {
		t.Fatalf("mtran after a broken file: %d", s)
	}
	write("twisto")
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor("the new scope", func() bool { return status("twisto") == 200 })
	if s := status("mtran"); s != 403 {
		t.Errorf("mtran after the scope moved: %d", s)
	}
	var metricsURL string
	for _, line := range strings.Split(p.log(), "\n") {
		var l struct{ Msg, URL string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "serving metrics" {
			metricsURL = l.URL
		}
	}
	if metricsURL == "" {
		t.Fatalf("no metrics address logged:\n%s", p.log())
	}
	res, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	text := string(b)
	for _, want := range []string{
		`portalconsent_http_requests_total{code="403",route="GET /api/v1/portals/{id}/receipts.csv"}`,
		`portalconsent_http_requests_total{code="200",route="GET /api/v1/portals/{id}/receipts.csv"}`,
		`portalconsent_operators_reloads_total{result="failed"}`,
		`portalconsent_operators_reloads_total{result="applied"}`,
		"go_goroutines",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if res, err := http.Get(p.url + "/metrics"); err == nil {
		res.Body.Close()
		if res.StatusCode != 404 {
			t.Errorf("/metrics on the public address: %d", res.StatusCode)
		}
	}
	if strings.Contains(p.log(), alice) || strings.Contains(p.log(), "durability-test-token") {
		t.Error("a token is in the logs")
	}
}
