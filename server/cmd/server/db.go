package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"crypto/ed25519"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/receipts/postgres"
	"github.com/portalconsent/portalconsent/server/receipts/sqlite"
	"io"
)

// isPostgres reports whether db names a PostgreSQL database (a URL) rather
// than a SQLite file.
func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// stateDir returns the directory the server keeps its files in by default:
// $XDG_STATE_HOME/portalconsent, else ~/.local/state/portalconsent.
func stateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "portalconsent"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no directory for the receipts database (set -db or PORTALCONSENT_DB): %w", err)
	}
	return filepath.Join(home, ".local", "state", "portalconsent"), nil
}

// defaultDB returns the SQLite file receipts are kept in when neither -db
// nor PORTALCONSENT_DB names one.
func defaultDB() (string, error) {
	dir, err := stateDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "receipts.db"), nil
}

// openStore opens the receipts store db names: a PostgreSQL URL, else the
// path of a SQLite file (its directory is created, 0700). groupCommit is the
// window appends are gathered in (0: one transaction per receipt); log is
// where the store says that a day's cookie tallies are full (nil: nowhere).
func openStore(ctx context.Context, db string, groupCommit time.Duration, log *slog.Logger) (receipts.Store, error) {
	if isPostgres(db) {
		return postgres.Open(ctx, db, postgres.GroupCommit(groupCommit), postgres.Log(log))
	}
	if err := os.MkdirAll(filepath.Dir(db), 0o700); err != nil {
		return nil, fmt.Errorf("receipts database %s: %w", db, err)
	}
	return sqlite.Open(db, sqlite.GroupCommit(groupCommit), sqlite.Log(log))
}

// redactDSN returns db with any password replaced, for the logs.
func redactDSN(db string) string {
	if !isPostgres(db) {
		return db
	}
	scheme, rest, _ := strings.Cut(db, "://")
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if user, _, ok := strings.Cut(rest[:at], ":"); ok {
			rest = user + ":xxxxx" + rest[at:]
		}
	}
	return scheme + "://" + rest
}

// adminToken returns the admin token: PORTALCONSENT_ADMIN_TOKEN when set (at
// least server.MinAdminTokenLen characters), else the one kept in file,
// made at random (0600) when the file does not exist yet. It never logs the
// token, only the file's path.
func adminToken(file string, log *slog.Logger) (string, error) {
	if t, ok := os.LookupEnv("PORTALCONSENT_ADMIN_TOKEN"); ok {
		if len(t) < server.MinAdminTokenLen {
			return "", fmt.Errorf("PORTALCONSENT_ADMIN_TOKEN must be at least %d characters", server.MinAdminTokenLen)
		}
		return t, nil
	}
	b, err := os.ReadFile(file)
	if err == nil {
		t := strings.TrimSpace(string(b))
		if len(t) < server.MinAdminTokenLen {
			return "", fmt.Errorf("admin token file %s: the token must be at least %d characters", file, server.MinAdminTokenLen)
		}
		log.Info("operator API admin token", "file", file)
		return t, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("admin token file: %w", err)
	}
	var raw [32]byte
	rand.Read(raw[:])
	t := base64.RawURLEncoding.EncodeToString(raw[:])
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", fmt.Errorf("admin token file: %w", err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("admin token file: %w", err)
	}
	if _, err := f.WriteString(t + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("admin token file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("admin token file: %w", err)
	}
	log.Info("operator API admin token made", "file", file)
	return t, nil
}

// tokenFile returns where the admin token is kept when
// PORTALCONSENT_ADMIN_TOKEN is unset: beside a SQLite database, else in the
// state directory.
func tokenFile(db string) (string, error) {
	if !isPostgres(db) {
		return filepath.Join(filepath.Dir(db), "admin-token"), nil
	}
	dir, err := stateDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "admin-token"), nil
}

// partitioner is a store that prepares its partitions ahead (PostgreSQL).
type partitioner interface {
	EnsurePartitions(ctx context.Context, now time.Time) error
}

// maintain deletes the receipts and tallies older than retentionDays, and
// prepares the store's partitions, now and every day until ctx is done.
func maintain(ctx context.Context, st receipts.Store, retentionDays int, log *slog.Logger) {
	for {
		now := time.Now().UTC()
		if p, ok := st.(partitioner); ok {
			if err := p.EnsurePartitions(ctx, now); err != nil {
				log.Error("receipts: cannot prepare partitions", "err", err.Error())
			}
		}
		cutoff := now.AddDate(0, 0, -retentionDays)
		n, err := st.DeleteBefore(ctx, cutoff)
		if err != nil {
			log.Error("receipts: retention failed", "err", err.Error())
		} else {
			log.Info("receipts: retention", "deleted", n, "before", cutoff.Format(time.RFC3339))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(24 * time.Hour):
		}
	}
}

// verify walks every chain of db, then checks each against its latest
// checkpoint with pub (nil: checkpoints are not checked, and the report
// says so, naming noKey), and reports on stdout (all good: exit 0) or
// stderr (the first broken link, a checkpoint forged or contradicted, or
// the store failing: exit 1).
func verify(db string, pub ed25519.PublicKey, noKey string, stdout, stderr io.Writer) int {
	ctx := context.Background()
	st, err := openStore(ctx, db, 0, nil)
	if err != nil {
		fmt.Fprintln(stderr, "verify-receipts:", err)
		return 1
	}
	defer st.Close()
	if err := st.Verify(ctx); err != nil {
		fmt.Fprintln(stderr, "verify-receipts:", err)
		return 1
	}
	if pub == nil {
		fmt.Fprintf(stdout, "verify-receipts: every chain of %s verifies by its hashes; checkpoints not checked: %s\n", redactDSN(db), noKey)
		return 0
	}
	checked, unsigned, err := verifyCheckpoints(ctx, st, pub)
	if err != nil {
		fmt.Fprintln(stderr, "verify-receipts:", err)
		return 1
	}
	fmt.Fprintf(stdout, "verify-receipts: every chain of %s verifies, %d against its latest checkpoint (key %s)\n",
		redactDSN(db), checked, base64.StdEncoding.EncodeToString(pub))
	if len(unsigned) > 0 {
		fmt.Fprintf(stdout, "verify-receipts: no checkpoint yet for %s: by their hashes only\n", strings.Join(unsigned, ", "))
	}
	return 0
}
