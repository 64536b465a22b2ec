package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
)

// TestTrustedProxiesFlag runs the binary behind "a balancer" (the test,
// on loopback, named trusted): visitors of distinct X-Forwarded-For
// addresses each have their own bucket, one past its rate is refused.
func TestTrustedProxiesFlag(t *testing.T) {
	p := startServer(t, filepath.Join(t.TempDir(), "receipts.db"),
		"-trusted-proxies", "127.0.0.0/8, ::1/128", "-receipt-rate", "0.01", "-receipt-burst", "1")
	mtran := defaultMtran(t)
	post := func(client string) int {
		c := policy.NewConsent(mtran, time.Now(), nil)
		body := fmt.Sprintf(`{"value":%q,"method":"reject-all","lang":"en","page":"https://mtran.my.opendatasoft.com/p"}`, c.Encode())
		req, _ := http.NewRequest("POST", p.url+"/portals/mtran/consents", strings.NewReader(body))
		req.Header.Set("X-Forwarded-For", client)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for i := range 5 {
		if code := post(fmt.Sprintf("198.51.100.%d", i)); code != 201 {
			t.Fatalf("visitor %d: %d, want 201\n%s", i, code, p.log())
		}
	}
	if code := post("198.51.100.0"); code != 429 {
		t.Errorf("visitor past its rate: %d, want 429", code)
	}
}

// TestTrustedProxiesMalformed: a malformed prefix, in the flag or the
// environment variable, stops the start with an error naming it.
func TestTrustedProxiesMalformed(t *testing.T) {
	for _, tc := range []struct{ flag, env, bad string }{
		{"10.0.0.0/8,10.300.0.0/16", "", "10.300.0.0/16"},
		{"", "lb.internal", "lb.internal"},
	} {
		args := []string{"-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "r.db")}
		if tc.flag != "" {
			args = append(args, "-trusted-proxies", tc.flag)
		}
		cmd := exec.Command(serverBinary(t), args...)
		cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir(), "PORTALCONSENT_TRUSTED_PROXIES="+tc.env)
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 {
			t.Errorf("%+v: exit %v, want 1\n%s", tc, err, out)
		}
		if !strings.Contains(string(out), "cannot start: -trusted-proxies") || !strings.Contains(string(out), fmt.Sprintf(`\"%s\"`, tc.bad)) {
			t.Errorf("%+v: the error does not name %q:\n%s", tc, tc.bad, out)
		}
	}
}

// TestPortalCacheFlag: a cache cap below 1 MiB stops the start, saying so.
func TestPortalCacheFlag(t *testing.T) {
	for _, v := range []string{"0", "-5"} {
		cmd := exec.Command(serverBinary(t), "-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "r.db"), "-portal-cache-mb", v)
		cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "-portal-cache-mb must be at least 1") {
			t.Errorf("-portal-cache-mb %s: exit %v, want 1 saying so\n%s", v, err, out)
		}
	}
}
