package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/server/api"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// TestAPICheckpoints: GET /api/v1/portals/{id}/checkpoints.jsonl exports
// every checkpoint of the portal, by seq, each line enough to check its
// signature away from the host; a portal without any is an empty body.
func TestAPICheckpoints(t *testing.T) {
	st := openTestStore(t)
	s := newReceiptServer(t, st, nil)
	ctx := context.Background()
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	var heads []receipts.Checkpoint
	for i := range 3 {
		r := testReceipt("mtran", "c", testNow.Add(time.Duration(i)*time.Minute))
		if err := st.Append(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
		c, err := receipts.SignCheckpoint(key, "mtran", r.Seq, r.Hash, testNow.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if i != 1 {
			if err := st.SaveCheckpoint(ctx, c); err != nil {
				t.Fatal(err)
			}
			heads = append(heads, c)
		}
	}
	auth := http.Header{"Authorization": {"Bearer " + testAdminToken}}
	res, body := serve(t, s, "GET", "/api/v1/portals/mtran/checkpoints.jsonl", auth)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/x-ndjson" ||
		res.Header.Get("Content-Disposition") != `attachment; filename="checkpoints-mtran.jsonl"` {
		t.Fatalf("checkpoints.jsonl: %d %v\n%s", res.StatusCode, res.Header, body)
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	n := 0
	for ; sc.Scan(); n++ {
		var l api.CheckpointLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		pub, _ := base64.StdEncoding.DecodeString(l.PublicKey)
		sig, _ := base64.StdEncoding.DecodeString(l.Signature)
		at, err := time.Parse(time.RFC3339Nano, l.SignedAt)
		if err != nil || n >= len(heads) || l.Seq != heads[n].Seq || l.Hash != heads[n].Hash {
			t.Fatalf("line %d: %+v (%v)", n, l, err)
		}
		c := receipts.Checkpoint{Portal: l.Portal, Seq: l.Seq, Hash: l.Hash, SignedAt: at}
		if !ed25519.Verify(ed25519.PublicKey(pub), c.Message(), sig) {
			t.Errorf("line %d: the signature does not verify from the exported fields", n)
		}
	}
	if n != 2 {
		t.Errorf("%d lines, want 2", n)
	}
	if res, body := serve(t, s, "GET", "/api/v1/portals/twisto/checkpoints.jsonl", auth); res.StatusCode != 200 || len(body) != 0 {
		t.Errorf("a portal without checkpoints: %d %q", res.StatusCode, body)
	}
}
