package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestOperatorHashTokenCommand(t *testing.T) {
	tok := "a-long-enough-operator-token-0123"
	var out, errb bytes.Buffer
	if code := hashTokenCmd(strings.NewReader(tok+"\n"), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	h := strings.TrimSpace(out.String())
	if bcrypt.CompareHashAndPassword([]byte(h), []byte(tok)) != nil {
		t.Fatalf("%q is not the token's hash", h)
	}
	out.Reset()
	if code := hashTokenCmd(strings.NewReader("short\n"), &out, &errb); code != 1 || out.Len() != 0 ||
		!strings.Contains(errb.String(), "at least 24") {
		t.Errorf("short token: exit %d, %q %q", code, out.String(), errb.String())
	}
}

func TestOperatorSessionKeyFile(t *testing.T) {
	t.Setenv("PORTALCONSENT_SESSION_KEY", "")
	os.Unsetenv("PORTALCONSENT_SESSION_KEY")
	f := filepath.Join(t.TempDir(), "state", "session-key")
	log := slog.New(slog.DiscardHandler)
	k1, err := sessionKey(f, log)
	if err != nil || len(k1) < 32 {
		t.Fatalf("%v %d", err, len(k1))
	}
	st, err := os.Stat(f)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v %v", st, err)
	}
	k2, _ := sessionKey(f, log)
	if !bytes.Equal(k1, k2) {
		t.Error("the key changed across starts")
	}
	t.Setenv("PORTALCONSENT_SESSION_KEY", "too-short")
	if _, err := sessionKey(f, log); err == nil {
		t.Error("short PORTALCONSENT_SESSION_KEY accepted")
	}
	t.Setenv("PORTALCONSENT_SESSION_KEY", strings.Repeat("k", 32))
	if k, err := sessionKey(f, log); err != nil || string(k) != strings.Repeat("k", 32) {
		t.Errorf("%q %v", k, err)
	}
}

func TestOperatorPublicURL(t *testing.T) {
	for u, ok := range map[string]bool{"https://consent.example": true, "http://localhost:8080/": true,
		"consent.example": false, "https://consent.example/console": false, "ftp://x": false} {
		if (checkPublicURL(u) == nil) != ok {
			t.Errorf("%q: %v", u, checkPublicURL(u))
		}
	}
}
