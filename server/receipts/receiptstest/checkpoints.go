package receiptstest

import (
	"context"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// testCheckpoints checks Heads, SaveCheckpoint, LatestCheckpoints and
// ChainHash, and what checkpoints are for: a database writer who rewrites
// a receipt and every hash after it (and the chain's head) leaves a chain
// that Verify finds whole, but that fails against the latest checkpoint;
// a checkpoint forged without the key fails its signature.
func testCheckpoints(t *testing.T, b Backend) {
	s := open(t, b)
	ctx := context.Background()
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	pub := key.Public().(ed25519.PublicKey)
	others := appendN(t, s, "other", base, 2)
	rs := appendN(t, s, "shop", base, 5)

	heads, err := s.Heads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) != 2 || heads[0] != (receipts.Head{Portal: "other", Writer: others[1].Writer, Seq: 2, Hash: others[1].Hash}) ||
		heads[1] != (receipts.Head{Portal: "shop", Writer: rs[4].Writer, Seq: 5, Hash: rs[4].Hash}) {
		t.Fatalf("Heads = %+v", heads)
	}
	sign := func(portal string, seq int64, hash string, k ed25519.PrivateKey) receipts.Checkpoint {
		t.Helper()
		c, err := receipts.SignHead(k, receipts.Head{Portal: portal, Writer: rs[0].Writer, Seq: seq, Hash: hash}, base.Add(seqDuration(seq)))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, c := range []receipts.Checkpoint{sign("shop", 3, rs[2].Hash, key), sign("shop", 5, rs[4].Hash, key),
		sign("other", 2, others[1].Hash, key), sign("shop", 5, rs[4].Hash, key)} { // the same one twice
		if err := s.SaveCheckpoint(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveCheckpoint(ctx, receipts.Checkpoint{Portal: "shop", Seq: 0, Hash: rs[0].Hash}); err == nil {
		t.Error("SaveCheckpoint of a checkpoint at #0 without key nor signature: no error")
	}
	hashAt := func(portal string) func(int64) (string, error) {
		return func(seq int64) (string, error) { return s.ChainHash(ctx, portal, rs[0].Writer, seq) }
	}
	check := func(when string) map[string]error {
		t.Helper()
		cs, err := s.LatestCheckpoints(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]error{}
		for _, c := range cs {
			out[c.Portal] = receipts.CheckCheckpoint(c, pub, hashAt(c.Portal))
		}
		if len(cs) != 2 || cs[0].Portal != "other" || cs[1].Portal != "shop" || cs[1].Seq != 5 || !cs[1].SignedAt.Equal(base.Add(seqDuration(5))) {
			t.Errorf("%s: LatestCheckpoints = %+v", when, cs)
		}
		return out
	}
	if errs := check("as signed"); errs["shop"] != nil || errs["other"] != nil {
		t.Fatalf("as signed: %v", errs)
	}
	if h, err := s.ChainHash(ctx, "shop", rs[0].Writer, 3); err != nil || h != rs[2].Hash {
		t.Errorf("ChainHash(shop, 3) = %q, %v; want %q", h, err, rs[2].Hash)
	}
	if h, err := s.ChainHash(ctx, "shop", rs[0].Writer, 99); err != nil || h != "" {
		t.Errorf("ChainHash(shop, 99) = %q, %v; want none", h, err)
	}
	// Later receipts do not disturb the checkpoint.
	rs = append(rs, appendN(t, s, "shop", base.Add(seqDuration(6)), 2)...)
	if errs := check("after two more receipts"); errs["shop"] != nil {
		t.Fatalf("after two more receipts: %v", errs["shop"])
	}

	// A writer turns receipt #3 into an acceptance and rehashes every
	// receipt after it, and the head: the hashes alone find nothing.
	prev := rs[1].Hash
	for i := 2; i < len(rs); i++ {
		r := *rs[i]
		if i == 2 {
			r.Method = receipts.MethodAcceptAll
		}
		r.Seal(r.Seq, prev)
		prev = r.Hash
		b.Exec(t, s, `UPDATE receipts SET method = $1, prev = $2, hash = $3 WHERE portal = $4 AND seq = $5`,
			r.Method, hashBytes(t, r.Prev), hashBytes(t, r.Hash), "shop", r.Seq)
	}
	b.Exec(t, s, `UPDATE chains SET hash = $1 WHERE portal = $2`, hashBytes(t, prev), "shop")
	if err := s.Verify(ctx); err != nil {
		t.Fatalf("the rewritten chain: Verify %v, want it whole (the hashes alone cannot tell)", err)
	}
	errs := check("rewritten")
	if err := errs["shop"]; err == nil || !strings.Contains(err.Error(), "rewritten") || !strings.Contains(err.Error(), "#5") {
		t.Errorf("the rewritten chain against its checkpoint: %v, want it rewritten at #5", err)
	}
	if errs["other"] != nil {
		t.Errorf("the other chain: %v", errs["other"])
	}
	// The writer signs the new head with a key of their own: refused.
	forged := sign("shop", 7, prev, ed25519.NewKeyFromSeed([]byte(strings.Repeat("x", ed25519.SeedSize))))
	if err := s.SaveCheckpoint(ctx, forged); err != nil {
		t.Fatal(err)
	}
	cs, err := s.LatestCheckpoints(ctx)
	if err != nil || len(cs) != 2 || cs[1].Seq != 7 {
		t.Fatalf("LatestCheckpoints after the forged one: %+v, %v", cs, err)
	}
	if err := receipts.CheckCheckpoint(cs[1], pub, hashAt("shop")); err == nil || !strings.Contains(err.Error(), "signature does not verify") {
		t.Errorf("a checkpoint signed with another key: %v", err)
	}
	all, err := s.Checkpoints(ctx, "shop")
	if err != nil || len(all) != 3 || all[0].Seq != 3 || all[1].Seq != 5 || all[2].Seq != 7 || !all[2].PublicKey.Equal(forged.PublicKey) ||
		string(all[1].Signature) != string(sign("shop", 5, rs[4].Hash, key).Signature) {
		t.Errorf("Checkpoints(shop) = %+v, %v; want #3, #5 and the forged #7", all, err)
	}
	if none, err := s.Checkpoints(ctx, "nowhere"); err != nil || len(none) != 0 {
		t.Errorf("Checkpoints(nowhere) = %+v, %v", none, err)
	}
}

// seqDuration is when, after base, the suite signs a checkpoint at seq.
func seqDuration(seq int64) time.Duration { return time.Duration(seq) * time.Minute }
