package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/operators"
	"github.com/portalconsent/portalconsent/server/receipts/postgres"
)

// Names of the secrets the hosts of one PostgreSQL database share.
const (
	secretSessionKey  = "session-key"
	secretAdminDigest = "admin-token-sha256"
)

// fleetSecrets returns the admin token (as a Set) and the session key of
// a host on the PostgreSQL database of st, which every host of that
// database shares with no configuration: made once, by whichever host
// starts first, and kept in the database (the admin token as its
// SHA-256 only; the token itself is written, 0600, to tokenFile by the
// host that made it, and only the path is logged). PORTALCONSENT_ADMIN_TOKEN
// and PORTALCONSENT_SESSION_KEY override either on this host. A host with
// an admin-token file of its own (from before) offers that token when the
// database has none yet.
func fleetSecrets(ctx context.Context, st *postgres.Store, tokenFile string, log *slog.Logger) (*operators.Set, []byte, error) {
	set, err := fleetAdmin(ctx, st, tokenFile, log)
	if err != nil {
		return nil, nil, err
	}
	if k, ok := os.LookupEnv("PORTALCONSENT_SESSION_KEY"); ok {
		if len(k) < operators.MinKeyLen {
			return nil, nil, fmt.Errorf("PORTALCONSENT_SESSION_KEY must be at least %d bytes", operators.MinKeyLen)
		}
		log.Info("console session key from PORTALCONSENT_SESSION_KEY (the database's is not used on this host)")
		return set, []byte(k), nil
	}
	key, made, err := st.Secret(ctx, secretSessionKey, randomBytes(32))
	if err != nil {
		return nil, nil, fmt.Errorf("session key: %w", err)
	}
	if len(key) < operators.MinKeyLen {
		return nil, nil, fmt.Errorf("session key: the database's is %d bytes, under %d", len(key), operators.MinKeyLen)
	}
	if made {
		log.Info("console session key made in the database, for every host")
	} else {
		log.Info("console session key: the database's, shared by every host")
	}
	return set, key, nil
}

// fleetAdmin returns the admin token's Set (see fleetSecrets).
func fleetAdmin(ctx context.Context, st *postgres.Store, file string, log *slog.Logger) (*operators.Set, error) {
	if t, ok := os.LookupEnv("PORTALCONSENT_ADMIN_TOKEN"); ok {
		if len(t) < server.MinAdminTokenLen {
			return nil, fmt.Errorf("PORTALCONSENT_ADMIN_TOKEN must be at least %d characters", server.MinAdminTokenLen)
		}
		log.Info("operator API admin token from PORTALCONSENT_ADMIN_TOKEN (the database's is not accepted on this host)")
		return operators.New(t), nil
	}
	token, haveFile, err := readTokenFile(file)
	if err != nil {
		return nil, err
	}
	if !haveFile {
		token = base64.RawURLEncoding.EncodeToString(randomBytes(32))
	}
	offered := sha256.Sum256([]byte(token))
	digest, made, err := st.Secret(ctx, secretAdminDigest, offered[:])
	if err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("admin token: the database's digest is %d bytes, not %d", len(digest), sha256.Size)
	}
	switch {
	case made && haveFile:
		log.Info("operator API admin token: this host's, now the database's for every host", "file", file)
	case made:
		if err := writeTokenFile(file, token); err != nil {
			// Nobody would know the token: let the next host make another.
			if derr := st.DropSecret(ctx, secretAdminDigest, digest); derr != nil {
				err = errors.Join(err, derr)
			}
			return nil, err
		}
		log.Info("operator API admin token made for every host of the database", "file", file)
	case haveFile && subtle.ConstantTimeCompare(digest, offered[:]) != 1:
		log.Warn("operator API admin token: this host's file is not the database's token, which is in the file of the host that made it", "file", file)
	case haveFile:
		log.Info("operator API admin token", "file", file)
	default:
		log.Info("operator API admin token: the database's, made by another host (in its admin-token file)")
	}
	return operators.NewDigest([sha256.Size]byte(digest)), nil
}

// readTokenFile returns the admin token kept in file, and false when there
// is no such file.
func readTokenFile(file string) (string, bool, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("admin token file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if len(t) < server.MinAdminTokenLen {
		return "", false, fmt.Errorf("admin token file %s: the token must be at least %d characters", file, server.MinAdminTokenLen)
	}
	return t, true, nil
}

// writeTokenFile writes token to file, 0600, which must not exist yet.
func writeTokenFile(file, token string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("admin token file: %w", err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("admin token file: %w", err)
	}
	_, err = f.WriteString(token + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(file)
		return fmt.Errorf("admin token file: %w", err)
	}
	return nil
}

// sharedRevocations is the operators.Shared of the hosts of one
// PostgreSQL database.
type sharedRevocations struct{ st *postgres.Store }

var _ operators.Shared = sharedRevocations{}

func (s sharedRevocations) Publish(ctx context.Context, r operators.Revocation) error {
	return s.st.Revoke(ctx, postgres.Revocation{Kind: r.Kind, ID: r.ID, At: r.At, Until: r.Until})
}

func (s sharedRevocations) Since(ctx context.Context, mark time.Time) ([]operators.Revocation, time.Time, error) {
	rs, next, err := s.st.Revocations(ctx, mark)
	out := make([]operators.Revocation, len(rs))
	for i, r := range rs {
		out[i] = operators.Revocation{Kind: r.Kind, ID: r.ID, At: r.At, Until: r.Until}
	}
	return out, next, err
}

func (s sharedRevocations) Wait(ctx context.Context) error { return s.st.WaitRevocation(ctx) }

func (s sharedRevocations) Prune(ctx context.Context, now time.Time) error {
	return s.st.PruneRevocations(ctx, now)
}
