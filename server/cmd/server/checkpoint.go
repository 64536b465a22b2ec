package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// The checkpoint key signs the chains' heads (receipts.Checkpoint). It
// lives outside the database, in a 0600 file holding the Ed25519 seed in
// base64 on one line: by default checkpoint-key beside admin-token, else
// -checkpoint-key FILE. Every host of a fleet needs the same file.

// checkpointKeyFile returns the checkpoint key's file: flag when set, else
// checkpoint-key beside the admin token's file of db.
func checkpointKeyFile(flag, db string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	tf, err := tokenFile(db)
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(tf), "checkpoint-key"), nil
}

// readCheckpointKey returns the key of file, or an error naming the file:
// fs.ErrNotExist (wrapped) when there is none, another when it is not an
// Ed25519 seed in base64.
func readCheckpointKey(file string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key file: %w", err)
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("checkpoint key file %s: not an Ed25519 seed (%d bytes in base64 on one line)", file, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// checkpointKey returns the key of file, making it (a random seed, 0600,
// its directory 0700) when there is none, and logs the file's path and the
// public key, never the key.
func checkpointKey(file string, log *slog.Logger) (ed25519.PrivateKey, error) {
	key, err := readCheckpointKey(file)
	if err == nil {
		log.Info("checkpoint key", "file", file, "publicKey", publicKeyText(key))
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, fmt.Errorf("checkpoint key file: %w", err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key file: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(seed) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint key file: %w", err)
	}
	key = ed25519.NewKeyFromSeed(seed)
	log.Info("checkpoint key made (give every host behind a load balancer the same file; keep a copy off this host)",
		"file", file, "publicKey", publicKeyText(key))
	return key, nil
}

// publicKeyText is key's public key as -checkpoint-public-key prints it:
// base64.
func publicKeyText(key ed25519.PrivateKey) string {
	return base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
}

// parsePublicKey returns the Ed25519 public key of s, base64 (as
// -checkpoint-public-key prints it), or an error.
func parsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%q is not an Ed25519 public key (%d bytes in base64)", s, ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// publicKeyCmd prints the public key of the checkpoint key file: exit 0,
// or 1 saying why (no file, not a key).
func publicKeyCmd(file string, stdout, stderr io.Writer) int {
	key, err := readCheckpointKey(file)
	if err != nil {
		fmt.Fprintln(stderr, "checkpoint-public-key:", err)
		return 1
	}
	fmt.Fprintln(stdout, publicKeyText(key))
	return 0
}

// signHeads signs the head of every chain that moved since its latest
// checkpoint with key at now, stores the checkpoints and logs each (a copy
// outside the database). It returns how many it made, and the first error
// (the others are tried still).
func signHeads(ctx context.Context, st receipts.Store, key ed25519.PrivateKey, now time.Time, log *slog.Logger) (int, error) {
	heads, err := st.Heads(ctx)
	if err != nil {
		return 0, err
	}
	latest, err := st.LatestCheckpoints(ctx)
	if err != nil {
		return 0, err
	}
	type chain struct {
		portal string
		writer int
	}
	signed := map[chain]int64{}
	for _, c := range latest {
		signed[chain{c.Portal, c.Writer}] = c.Seq
	}
	n := 0
	var first error
	for _, h := range heads {
		if signed[chain{h.Portal, h.Writer}] >= h.Seq {
			continue
		}
		c, err := receipts.SignHead(key, h, now)
		if err == nil {
			err = st.SaveCheckpoint(ctx, c)
		}
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		n++
		log.Info("receipts: checkpoint", "portal", c.Portal, "writer", c.Writer, "seq", c.Seq, "hash", c.Hash,
			"signedAt", c.SignedAt.Format(time.RFC3339Nano), "signature", base64.StdEncoding.EncodeToString(c.Signature))
	}
	return n, first
}

// keepCheckpoints signs the moved heads (signHeads) every interval until
// ctx is done; an interval of 0 or less signs none on the way (the host
// still signs at shutdown).
func keepCheckpoints(ctx context.Context, st receipts.Store, key ed25519.PrivateKey, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		if _, err := signHeads(ctx, st, key, time.Now(), log); err != nil && ctx.Err() == nil {
			log.Error("receipts: cannot sign the chains' heads", "err", err.Error())
		}
	}
}

// verifyCheckpoints checks every chain against its latest checkpoint with
// pub (receipts.CheckCheckpoint) and returns the first failure, with the
// chains that have a head but no checkpoint yet (a portal, "shop writer 2" for a writer but 0).
func verifyCheckpoints(ctx context.Context, st receipts.Store, pub ed25519.PublicKey) (checked int, unsigned []string, err error) {
	latest, err := st.LatestCheckpoints(ctx)
	if err != nil {
		return 0, nil, err
	}
	has := map[receipts.Head]bool{} // by portal and writer only
	for _, c := range latest {
		has[receipts.Head{Portal: c.Portal, Writer: c.Writer}] = true
		err := receipts.CheckCheckpoint(c, pub, func(seq int64) (string, error) { return st.ChainHash(ctx, c.Portal, c.Writer, seq) })
		if err != nil {
			return checked, nil, err
		}
		checked++
	}
	heads, err := st.Heads(ctx)
	if err != nil {
		return checked, nil, err
	}
	for _, h := range heads {
		if !has[receipts.Head{Portal: h.Portal, Writer: h.Writer}] {
			name := h.Portal
			if h.Writer != 0 {
				name += " writer " + strconv.Itoa(h.Writer)
			}
			unsigned = append(unsigned, name)
		}
	}
	return checked, unsigned, nil
}

// verifyPublicKey returns the public key -verify-receipts checks the
// checkpoints with: flag's (base64) when set, else the key file's; nil
// with the reason when there is no key file; an error for a flag that is
// not a public key or a key file that is not a key.
func verifyPublicKey(flag, keyFile string) (ed25519.PublicKey, string, error) {
	if flag != "" {
		pub, err := parsePublicKey(flag)
		return pub, "", err
	}
	key, err := readCheckpointKey(keyFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "no checkpoint key " + keyFile + " (give -verify-key or -checkpoint-key)", nil
	}
	if err != nil {
		return nil, "", err
	}
	return key.Public().(ed25519.PublicKey), "", nil
}
