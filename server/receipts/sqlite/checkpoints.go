package sqlite

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// Heads returns the head of every portal's chain, by portal (the chains
// table: the last receipt appended, kept when retention deletes it).
func (s *Store) Heads(ctx context.Context) ([]receipts.Head, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT portal, seq, hash FROM chains WHERE seq > 0 ORDER BY portal`)
	if err != nil {
		return nil, dbErr(ctx, err)
	}
	defer rows.Close()
	var out []receipts.Head
	for rows.Next() {
		var (
			h    receipts.Head
			hash []byte
		)
		if err := rows.Scan(&h.Portal, &h.Seq, &hash); err != nil {
			return nil, dbErr(ctx, err)
		}
		h.Hash = hex.EncodeToString(hash)
		out = append(out, h)
	}
	return out, dbErr(ctx, rows.Err())
}

// SaveCheckpoint stores c on the writer, in a transaction of its own,
// unless one of its portal and seq is stored already (see
// receipts.Store.SaveCheckpoint). It fails on a checkpoint that is not one
// (receipts.Checkpoint.Valid).
func (s *Store) SaveCheckpoint(ctx context.Context, c receipts.Checkpoint) error {
	if err := c.Valid(); err != nil {
		return err
	}
	if c.Writer != 0 {
		return fmt.Errorf("sqlite: checkpoint of portal %q writer %d: a SQLite store has one writer, 0", c.Portal, c.Writer)
	}
	hash, _ := hex.DecodeString(c.Hash)
	return s.job(ctx, func(ctx context.Context, conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx, `INSERT INTO checkpoints (portal, seq, hash, signed_at, public_key, signature)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (portal, seq) DO NOTHING`,
			c.Portal, c.Seq, hash, c.SignedAt.UnixMicro(), []byte(c.PublicKey), c.Signature)
		return err
	})
}

// LatestCheckpoints returns each portal's checkpoint of the highest seq,
// by portal.
func (s *Store) LatestCheckpoints(ctx context.Context) ([]receipts.Checkpoint, error) {
	return s.checkpoints(ctx, `SELECT portal, seq, hash, signed_at, public_key, signature FROM checkpoints AS c
		WHERE seq = (SELECT max(seq) FROM checkpoints WHERE portal = c.portal) ORDER BY portal`)
}

// Checkpoints returns every checkpoint of portal, by seq.
func (s *Store) Checkpoints(ctx context.Context, portal string) ([]receipts.Checkpoint, error) {
	return s.checkpoints(ctx, `SELECT portal, seq, hash, signed_at, public_key, signature FROM checkpoints
		WHERE portal = $1 ORDER BY seq`, portal)
}

// checkpoints returns the checkpoints query selects (portal, seq, hash,
// signed_at, public_key, signature).
func (s *Store) checkpoints(ctx context.Context, query string, args ...any) ([]receipts.Checkpoint, error) {
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, dbErr(ctx, err)
	}
	defer rows.Close()
	var out []receipts.Checkpoint
	for rows.Next() {
		var (
			c        receipts.Checkpoint
			hash     []byte
			signedAt int64
			pub      []byte
		)
		if err := rows.Scan(&c.Portal, &c.Seq, &hash, &signedAt, &pub, &c.Signature); err != nil {
			return nil, dbErr(ctx, err)
		}
		c.Hash, c.SignedAt, c.PublicKey = hex.EncodeToString(hash), time.UnixMicro(signedAt).UTC(), ed25519.PublicKey(pub)
		out = append(out, c)
	}
	return out, dbErr(ctx, rows.Err())
}

// ChainHash returns the hash of portal's receipt at seq, or of its anchor
// at seq; "" when there is neither. A SQLite store has one writer, 0: a
// chain of another writer has nothing.
func (s *Store) ChainHash(ctx context.Context, portal string, writer int, seq int64) (string, error) {
	if writer != 0 {
		return "", nil
	}
	var hash []byte
	err := s.rdb.QueryRowContext(ctx, `SELECT hash FROM receipts WHERE portal = $1 AND seq = $2
		UNION ALL SELECT hash FROM anchors WHERE portal = $1 AND seq = $2 LIMIT 1`, portal, seq).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", dbErr(ctx, err)
	}
	return hex.EncodeToString(hash), nil
}
