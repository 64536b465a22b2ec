package receipts

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// Head is the head of a chain (a portal and writer): its last receipt's
// Seq and Hash.
type Head struct {
	Portal string
	Writer int
	Seq    int64
	Hash   string
}

// A Checkpoint is a chain's head signed with a key kept outside the
// database (Ed25519): whoever can write the database can rewrite a receipt
// and every hash after it, and the chain still verifies, but cannot make a
// checkpoint for the rewritten hash without the key. Verification checks
// each chain against its latest checkpoint (CheckCheckpoint).
type Checkpoint struct {
	Portal string
	Writer int    // the chain of the portal (Receipt.Writer)
	Seq    int64  // the head's position in the chain, from 1
	Hash   string // the head's hash, hex
	// SignedAt is when the head was signed (the signer's clock), to the
	// microsecond, UTC.
	SignedAt  time.Time
	PublicKey ed25519.PublicKey // the key that signed it
	Signature []byte            // Ed25519 signature of Message
}

// checkpointDomain starts every message a checkpoint of writer 0 signs,
// writerCheckpointDomain those of another writer, so that a signature
// means nothing elsewhere.
const (
	checkpointDomain       = "portalconsent checkpoint v1\n"
	writerCheckpointDomain = "portalconsent checkpoint v2\n"
)

// Message returns the bytes a checkpoint signs: its domain, then the
// portal, seq, hash and signing time (RFC 3339, microseconds, UTC), one a
// line; for a writer other than 0 (domain v2), the writer's number on a
// line after the portal's. Writer 0's message is the one signed before
// chains per writer, so that those checkpoints still verify.
func (c *Checkpoint) Message() []byte {
	head := checkpointDomain + c.Portal + "\n"
	if c.Writer != 0 {
		head = writerCheckpointDomain + c.Portal + "\n" + strconv.Itoa(c.Writer) + "\n"
	}
	return []byte(head + strconv.FormatInt(c.Seq, 10) + "\n" + c.Hash + "\n" +
		c.SignedAt.UTC().Format("2006-01-02T15:04:05.000000Z") + "\n")
}

// SignCheckpoint returns the checkpoint of the head (seq, hash) of portal's
// chain signed with key at time at (truncated to the microsecond). It fails
// on an empty portal, a seq under 1, a hash that is not 64 hex digits or a
// key that is not an Ed25519 private key.
func SignCheckpoint(key ed25519.PrivateKey, portal string, seq int64, hash string, at time.Time) (Checkpoint, error) {
	return SignHead(key, Head{Portal: portal, Seq: seq, Hash: hash}, at)
}

// SignHead is SignCheckpoint for the head h of any chain (its writer
// included); it fails on a negative writer too.
func SignHead(key ed25519.PrivateKey, h Head, at time.Time) (Checkpoint, error) {
	portal, seq, hash := h.Portal, h.Seq, h.Hash
	if h.Writer < 0 {
		return Checkpoint{}, fmt.Errorf("receipts: no checkpoint of portal %q writer %d", portal, h.Writer)
	}
	if len(key) != ed25519.PrivateKeySize {
		return Checkpoint{}, fmt.Errorf("receipts: checkpoint key of %d bytes, not an Ed25519 private key", len(key))
	}
	if b, err := hex.DecodeString(hash); portal == "" || seq < 1 || err != nil || len(b) != 32 {
		return Checkpoint{}, fmt.Errorf("receipts: no checkpoint of portal %q at #%d with hash %q", portal, seq, hash)
	}
	c := Checkpoint{Portal: portal, Writer: h.Writer, Seq: seq, Hash: hash, SignedAt: at.UTC().Truncate(time.Microsecond),
		PublicKey: key.Public().(ed25519.PublicKey)}
	c.Signature = ed25519.Sign(key, c.Message())
	return c, nil
}

// CheckCheckpoint checks a chain against its checkpoint c: c must carry
// pub's signature of its Message, and the chain's receipt at c.Seq must
// have c.Hash. hashAt returns the hash of the chain's receipt at a seq, ""
// when there is none (deleted or never written). It returns nil, or an
// error that says which and why: a forged or foreign checkpoint, or a
// chain rewritten or cut since it was signed.
func CheckCheckpoint(c Checkpoint, pub ed25519.PublicKey, hashAt func(seq int64) (string, error)) error {
	if !ed25519.Verify(pub, c.Message(), c.Signature) {
		return fmt.Errorf("receipts: checkpoint of %s at #%d (signed %s): the signature does not verify with the checkpoint public key (forged, or signed with another key)",
			ChainName(c.Portal, c.Writer), c.Seq, c.SignedAt.Format(time.RFC3339))
	}
	h, err := hashAt(c.Seq)
	if err != nil {
		return err
	}
	switch {
	case h == "":
		return fmt.Errorf("receipts: chain of %s has no receipt #%d, signed in a checkpoint at %s: receipts were deleted or the chain cut",
			ChainName(c.Portal, c.Writer), c.Seq, c.SignedAt.Format(time.RFC3339))
	case h != c.Hash:
		return fmt.Errorf("receipts: chain of %s rewritten: receipt #%d does not have the hash signed in the checkpoint at %s",
			ChainName(c.Portal, c.Writer), c.Seq, c.SignedAt.Format(time.RFC3339))
	}
	return nil
}

// Valid returns nil when c has the shape of a checkpoint (a portal, a seq
// from 1, a hash of 64 hex digits, a 32-byte public key, a 64-byte
// signature), else an error naming the first problem; it does not check
// the signature (CheckCheckpoint does).
func (c *Checkpoint) Valid() error {
	b, err := hex.DecodeString(c.Hash)
	switch {
	case c.Portal == "":
		return fmt.Errorf("receipts: checkpoint without portal")
	case c.Writer < 0:
		return fmt.Errorf("receipts: checkpoint of portal %q: writer %d", c.Portal, c.Writer)
	case c.Seq < 1:
		return fmt.Errorf("receipts: checkpoint of portal %q at #%d", c.Portal, c.Seq)
	case err != nil || len(b) != 32:
		return fmt.Errorf("receipts: checkpoint of portal %q: hash %q is not 64 hex digits", c.Portal, c.Hash)
	case len(c.PublicKey) != ed25519.PublicKeySize || len(c.Signature) != ed25519.SignatureSize:
		return fmt.Errorf("receipts: checkpoint of portal %q: a public key of %d bytes and a signature of %d", c.Portal, len(c.PublicKey), len(c.Signature))
	}
	return nil
}
