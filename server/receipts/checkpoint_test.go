package receipts

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"
)

// TestCheckpointSignAndCheck: a checkpoint signs its portal, seq, hash and
// time under its own domain; changing any of them breaks the signature;
// SignCheckpoint refuses what is not a head or a key.
func TestCheckpointSignAndCheck(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	pub := key.Public().(ed25519.PublicKey)
	hash := strings.Repeat("ab", 32)
	at := time.Date(2026, 3, 3, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	c, err := SignCheckpoint(key, "shop", 7, hash, at)
	if err != nil {
		t.Fatal(err)
	}
	if want := "portalconsent checkpoint v1\nshop\n7\n" + hash + "\n2026-03-03T09:00:00.123456Z\n"; string(c.Message()) != want {
		t.Errorf("Message = %q, want %q", c.Message(), want)
	}
	if err := c.Valid(); err != nil {
		t.Error(err)
	}
	at7 := func(h string) func(int64) (string, error) {
		return func(seq int64) (string, error) {
			if seq == 7 {
				return h, nil
			}
			return "", nil
		}
	}
	if err := CheckCheckpoint(c, pub, at7(hash)); err != nil {
		t.Errorf("CheckCheckpoint: %v", err)
	}
	for name, mutate := range map[string]func(c *Checkpoint){
		"portal": func(c *Checkpoint) { c.Portal = "other" },
		"seq":    func(c *Checkpoint) { c.Seq = 8 },
		"hash":   func(c *Checkpoint) { c.Hash = strings.Repeat("cd", 32) },
		"time":   func(c *Checkpoint) { c.SignedAt = c.SignedAt.Add(time.Microsecond) },
	} {
		m := c
		mutate(&m)
		if err := CheckCheckpoint(m, pub, at7(m.Hash)); err == nil || !strings.Contains(err.Error(), "signature does not verify") {
			t.Errorf("%s changed: %v", name, err)
		}
	}
	if err := CheckCheckpoint(c, pub, at7(strings.Repeat("cd", 32))); err == nil || !strings.Contains(err.Error(), "rewritten") {
		t.Errorf("another hash at #7: %v", err)
	}
	if err := CheckCheckpoint(c, pub, at7("")); err == nil || !strings.Contains(err.Error(), "no receipt #7") {
		t.Errorf("no receipt at #7: %v", err)
	}
	for _, bad := range []struct {
		key    ed25519.PrivateKey
		portal string
		seq    int64
		hash   string
	}{
		{key[:10], "shop", 1, hash}, {key, "", 1, hash}, {key, "shop", 0, hash}, {key, "shop", 1, "abc"}, {key, "shop", 1, strings.Repeat("zz", 32)},
	} {
		if _, err := SignCheckpoint(bad.key, bad.portal, bad.seq, bad.hash, at); err == nil {
			t.Errorf("SignCheckpoint(%d-byte key, %q, %d, %q): no error", len(bad.key), bad.portal, bad.seq, bad.hash)
		}
	}
}
