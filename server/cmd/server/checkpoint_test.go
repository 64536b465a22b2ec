package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/receipts/sqlite"
)

// TestCheckpointKeyFile: the key is made at first use in a 0600 file, read
// back the same afterwards; a file that is not a key is an error naming it.
func TestCheckpointKeyFile(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	file := filepath.Join(t.TempDir(), "state", "checkpoint-key")
	k1, err := checkpointKey(file, log)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", fi, err)
	}
	k2, err := checkpointKey(file, log)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("the key read back differs (%v)", err)
	}
	var out, errOut strings.Builder
	if publicKeyCmd(file, &out, &errOut) != 0 || strings.TrimSpace(out.String()) != publicKeyText(k1) {
		t.Errorf("-checkpoint-public-key: %q %q", out.String(), errOut.String())
	}
	bad := filepath.Join(t.TempDir(), "bad-key")
	os.WriteFile(bad, []byte("not a key\n"), 0o600)
	if _, err := checkpointKey(bad, log); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("a file that is not a key: %v", err)
	}
	errOut.Reset()
	if publicKeyCmd(filepath.Join(t.TempDir(), "none"), io.Discard, &errOut) != 1 || !strings.Contains(errOut.String(), "no such file") {
		t.Errorf("-checkpoint-public-key without a key file: %q", errOut.String())
	}
	if _, err := parsePublicKey("AAAA"); err == nil {
		t.Error("parsePublicKey of 3 bytes: no error")
	}
}

// TestSignHeadsSignsWhatMoved: signHeads signs each chain whose head moved
// since its latest checkpoint, and only those.
func TestSignHeadsSignsWhatMoved(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "receipts.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key, err := checkpointKey(filepath.Join(t.TempDir(), "checkpoint-key"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	consents := 0
	add := func(portal string) {
		consents++ // a choice each, not a resend of the one before
		r := &receipts.Receipt{Portal: portal, ConsentID: fmt.Sprint("c", consents), Revision: 1, Method: receipts.MethodRejectAll, Lang: "en",
			Page: "https://p.example/", DecidedAt: time.Now(), ReceivedAt: time.Now(), Notice: receipts.NoticeHash(nil)}
		if err := st.Append(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	for _, step := range []struct {
		add  []string
		want int
	}{{[]string{"a", "a", "b"}, 2}, {nil, 0}, {[]string{"b"}, 1}} {
		for _, p := range step.add {
			add(p)
		}
		if n, err := signHeads(ctx, st, key, time.Now(), log); err != nil || n != step.want {
			t.Fatalf("after %v: signed %d (%v), want %d", step.add, n, err, step.want)
		}
	}
	checked, unsigned, err := verifyCheckpoints(ctx, st, key.Public().(ed25519.PublicKey))
	if err != nil || checked != 2 || len(unsigned) != 0 {
		t.Errorf("verifyCheckpoints: %d checked, unsigned %v, %v", checked, unsigned, err)
	}
}

var publicKeyLog = regexp.MustCompile(`"publicKey":"([^"]+)"`)

// TestVerifyReceiptsAgainstCheckpoints: the binary makes its checkpoint key
// at first start and signs the chains' heads at shutdown; a writer with
// the database file who then rewrites a receipt and every hash after it
// (and the head) leaves chains whose hashes verify, and `server
// -verify-receipts` exits 1 saying the chain was rewritten; with the
// public key printed by -checkpoint-public-key as -verify-key too.
func TestVerifyReceiptsAgainstCheckpoints(t *testing.T) {
	db := filepath.Join(t.TempDir(), "receipts.db")
	p := startServer(t, db, "-checkpoint-every", "0")
	p.warm(t, "mtran")
	stop := make(chan struct{})
	time.AfterFunc(300*time.Millisecond, func() { close(stop) })
	if acked, _ := poster(t, p.url, 2, stop); len(acked) < 4 {
		t.Fatalf("only %d receipts", len(acked))
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-p.done; err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, p.log())
	}
	if !strings.Contains(p.log(), `"msg":"receipts: checkpoint"`) {
		t.Fatalf("no checkpoint signed at shutdown:\n%s", p.log())
	}
	m := publicKeyLog.FindStringSubmatch(p.log())
	if m == nil {
		t.Fatalf("the public key is not logged:\n%s", p.log())
	}
	keyFile := filepath.Join(filepath.Dir(db), "checkpoint-key")
	out, err := exec.Command(serverBinary(t), "-checkpoint-public-key", "-db", db).Output()
	if err != nil || strings.TrimSpace(string(out)) != m[1] {
		t.Fatalf("-checkpoint-public-key: %q %v, want the logged %q", out, err, m[1])
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	out, err = exec.Command(serverBinary(t), "-verify-receipts", "-db", db).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "1 against its latest checkpoint") {
		t.Fatalf("-verify-receipts before the rewrite: %v\n%s", err, out)
	}

	// The rewrite: receipt #2 of mtran becomes an acceptance, and every
	// hash from it on is recomputed, the head's too.
	st, err := sqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	var rs []receipts.Receipt
	err = st.Export(context.Background(), "mtran", time.Unix(0, 0), time.Now().Add(time.Hour), func(r *receipts.Receipt) error {
		rs = append(rs, *r)
		return nil
	})
	st.Close()
	if err != nil || len(rs) < 4 {
		t.Fatalf("export: %d receipts, %v", len(rs), err)
	}
	prev := rs[0].Hash
	for i := 1; i < len(rs); i++ {
		r := rs[i]
		if i == 1 {
			r.Method = receipts.MethodAcceptAll
		}
		r.Seal(r.Seq, prev)
		prev = r.Hash
		alterSQLite(t, db, fmt.Sprintf("UPDATE receipts SET method = '%s', prev = X'%s', hash = X'%s' WHERE portal = 'mtran' AND seq = %d",
			r.Method, r.Prev, r.Hash, r.Seq))
	}
	alterSQLite(t, db, fmt.Sprintf("UPDATE chains SET hash = X'%s' WHERE portal = 'mtran'", prev))

	for _, args := range [][]string{{"-verify-receipts", "-db", db}, {"-verify-receipts", "-db", db, "-verify-key", m[1]}} {
		out, err = exec.Command(serverBinary(t), args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), `chain of portal "mtran" rewritten: receipt #`) {
			t.Errorf("%v after the rewrite: %v\n%s", args[2:], err, out)
		}
	}
	// Without a key the hashes alone cannot tell: the chain verifies.
	out, err = exec.Command(serverBinary(t), "-verify-receipts", "-db", db, "-checkpoint-key", filepath.Join(t.TempDir(), "none")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "verifies by its hashes; checkpoints not checked") {
		t.Errorf("-verify-receipts without the key: %v\n%s", err, out)
	}
}
