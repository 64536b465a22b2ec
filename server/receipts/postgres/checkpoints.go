package postgres

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// Heads returns the head of every chain, by portal then writer (the chains
// table: the last receipt appended, kept when retention deletes it).
// Database failures are wrapped in receipts.ErrUnavailable.
func (s *Store) Heads(ctx context.Context) ([]receipts.Head, error) {
	rows, err := s.pool.Query(ctx, `SELECT portal, writer, seq, hash FROM chains WHERE seq > 0 ORDER BY portal, writer`)
	if err != nil {
		return nil, unavailable(ctx, "heads", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (receipts.Head, error) {
		var (
			h    receipts.Head
			hash []byte
		)
		err := row.Scan(&h.Portal, &h.Writer, &h.Seq, &hash)
		h.Hash = hex.EncodeToString(hash)
		return h, err
	})
	if err != nil {
		return nil, unavailable(ctx, "heads", err)
	}
	return out, nil
}

// SaveCheckpoint stores c unless one of its portal, writer and seq is stored
// already (see receipts.Store.SaveCheckpoint). It fails on a checkpoint
// that is not one (receipts.Checkpoint.Valid); database failures are
// wrapped in receipts.ErrUnavailable.
func (s *Store) SaveCheckpoint(ctx context.Context, c receipts.Checkpoint) error {
	if err := c.Valid(); err != nil {
		return err
	}
	hash, _ := hex.DecodeString(c.Hash)
	_, err := s.pool.Exec(ctx, `INSERT INTO checkpoints (portal, writer, seq, hash, signed_at, public_key, signature)
		VALUES ($1, $7, $2, $3, $4, $5, $6) ON CONFLICT (portal, writer, seq) DO NOTHING`,
		c.Portal, c.Seq, hash, c.SignedAt, []byte(c.PublicKey), c.Signature, c.Writer)
	return unavailable(ctx, "checkpoint", err)
}

// LatestCheckpoints returns each chain's checkpoint of the highest seq,
// by portal then writer. Database failures are wrapped in receipts.ErrUnavailable.
func (s *Store) LatestCheckpoints(ctx context.Context) ([]receipts.Checkpoint, error) {
	return s.checkpoints(ctx, `SELECT DISTINCT ON (portal, writer) portal, writer, seq, hash, signed_at, public_key, signature
		FROM checkpoints ORDER BY portal, writer, seq DESC`)
}

// Checkpoints returns every checkpoint of portal, by writer then seq. Database
// failures are wrapped in receipts.ErrUnavailable.
func (s *Store) Checkpoints(ctx context.Context, portal string) ([]receipts.Checkpoint, error) {
	return s.checkpoints(ctx, `SELECT portal, writer, seq, hash, signed_at, public_key, signature FROM checkpoints
		WHERE portal = $1 ORDER BY writer, seq`, portal)
}

// checkpoints returns the checkpoints query selects (portal, writer, seq, hash,
// signed_at, public_key, signature).
func (s *Store) checkpoints(ctx context.Context, query string, args ...any) ([]receipts.Checkpoint, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, unavailable(ctx, "checkpoints", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (receipts.Checkpoint, error) {
		var (
			c         receipts.Checkpoint
			hash, pub []byte
		)
		err := row.Scan(&c.Portal, &c.Writer, &c.Seq, &hash, &c.SignedAt, &pub, &c.Signature)
		c.Hash, c.SignedAt, c.PublicKey = hex.EncodeToString(hash), c.SignedAt.UTC(), ed25519.PublicKey(pub)
		return c, err
	})
	if err != nil {
		return nil, unavailable(ctx, "checkpoints", err)
	}
	return out, nil
}

// ChainHash returns the hash of the receipt at seq of the chain of portal
// and writer, or of its anchor at seq; "" when there is neither. Database
// failures are wrapped in receipts.ErrUnavailable.
func (s *Store) ChainHash(ctx context.Context, portal string, writer int, seq int64) (string, error) {
	var hash []byte
	err := s.pool.QueryRow(ctx, `(SELECT hash FROM receipts WHERE portal = $1 AND writer = $3 AND seq = $2 LIMIT 1)
		UNION ALL (SELECT hash FROM anchors WHERE portal = $1 AND writer = $3 AND seq = $2) LIMIT 1`, portal, seq, writer).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", unavailable(ctx, "chain hash", err)
	}
	return hex.EncodeToString(hash), nil
}
