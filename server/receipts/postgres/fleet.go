package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// What the hosts of one database share beside receipts: their secrets
// (table host_secrets) and the console sessions they refuse (table
// session_revocations, with NOTIFY on channel revocationsChannel).

// revocationsChannel is the NOTIFY channel of new revocations.
const revocationsChannel = "portalconsent_revocations"

// revocationsOverlap is how far back before its mark Revocations reads
// again: a revocation recorded (clock_timestamp) just before a read but
// committed just after it is found by the next read.
const revocationsOverlap = 10 * time.Second

// maxRevocationsRead bounds the rows one Revocations call returns; the
// next call goes on from there.
const maxRevocationsRead = 10_000

// Secret returns the secret called name that every host of the database
// shares: the one stored, or else fresh, stored now, with made true (this
// process made it). Of processes racing to store one, exactly one makes
// it and all get its value.
func (s *Store) Secret(ctx context.Context, name string, fresh []byte) (value []byte, made bool, err error) {
	err = s.pool.QueryRow(ctx, `INSERT INTO host_secrets (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO NOTHING RETURNING value`, name, fresh).Scan(&value)
	if err == nil {
		return value, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, false, unavailable(ctx, "secret", err)
	}
	if err := s.pool.QueryRow(ctx, "SELECT value FROM host_secrets WHERE name = $1", name).Scan(&value); err != nil {
		return nil, false, unavailable(ctx, "secret", err)
	}
	return value, false, nil
}

// Revocation is a console session, or the sessions of a credential,
// refused by every host until Until (see operators.Revocation).
type Revocation struct {
	Kind, ID string
	At       time.Time // when revoked
	Until    time.Time // when what it revokes would have expired anyway
}

// Revoke records r for every host and notifies them (NOTIFY, sent at
// commit). Recording one twice keeps the later At and Until.
func (s *Store) Revoke(ctx context.Context, r Revocation) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO session_revocations (kind, id, revoked_at, expires_at)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (kind, id) DO UPDATE SET
				revoked_at = greatest(session_revocations.revoked_at, excluded.revoked_at),
				expires_at = greatest(session_revocations.expires_at, excluded.expires_at),
				recorded_at = clock_timestamp()`, r.Kind, r.ID, r.At.UTC(), r.Until.UTC()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "SELECT pg_notify($1, '')", revocationsChannel)
		return err
	})
	return unavailable(ctx, "revoke", err)
}

// Revocations returns the revocations still in force recorded after mark
// (the zero time: all of them), oldest first, at most 10,000, and the
// mark to pass next. It reads a little before mark again (a revocation
// committed late is not missed), so it may return some already seen.
func (s *Store) Revocations(ctx context.Context, mark time.Time) ([]Revocation, time.Time, error) {
	from := mark.Add(-revocationsOverlap)
	if mark.IsZero() {
		from = time.Time{}
	}
	rows, err := s.pool.Query(ctx, `SELECT kind, id, revoked_at, expires_at, recorded_at
		FROM session_revocations WHERE recorded_at > $1 AND expires_at > now()
		ORDER BY recorded_at LIMIT $2`, from, maxRevocationsRead)
	if err != nil {
		return nil, mark, unavailable(ctx, "revocations", err)
	}
	defer rows.Close()
	var out []Revocation
	next := mark
	for rows.Next() {
		var r Revocation
		var recorded time.Time
		if err := rows.Scan(&r.Kind, &r.ID, &r.At, &r.Until, &recorded); err != nil {
			return nil, mark, unavailable(ctx, "revocations", err)
		}
		out = append(out, r)
		if recorded.After(next) {
			next = recorded
		}
	}
	if err := rows.Err(); err != nil {
		return nil, mark, unavailable(ctx, "revocations", err)
	}
	return out, next, nil
}

// WaitRevocation returns when a revocation may have been recorded by any
// process: on a notification, and at once when it (re)starts listening,
// on a connection of its own outside the pool (missed notifications are
// found by reading Revocations then). It returns an error, the connection
// closed, when the connection fails or ctx is done. One call at a time.
func (s *Store) WaitRevocation(ctx context.Context) error {
	s.listenMu.Lock()
	defer s.listenMu.Unlock()
	if s.listen == nil {
		c, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
		if err != nil {
			return unavailable(ctx, "listen", err)
		}
		if _, err := c.Exec(ctx, "LISTEN "+revocationsChannel); err != nil {
			c.Close(context.Background())
			return unavailable(ctx, "listen", err)
		}
		s.listen = c
		return nil
	}
	if _, err := s.listen.WaitForNotification(ctx); err != nil {
		s.listen.Close(context.Background())
		s.listen = nil
		return unavailable(ctx, "listen", err)
	}
	return nil
}

// PruneRevocations deletes the revocations expired at now.
func (s *Store) PruneRevocations(ctx context.Context, now time.Time) error {
	_, err := s.pool.Exec(ctx, "DELETE FROM session_revocations WHERE expires_at <= $1", now.UTC())
	return unavailable(ctx, "prune revocations", err)
}

// DropSecret deletes the secret called name if its value is still value:
// the process that made it could not keep it (see Secret), so that the
// next to start makes another.
func (s *Store) DropSecret(ctx context.Context, name string, value []byte) error {
	_, err := s.pool.Exec(ctx, "DELETE FROM host_secrets WHERE name = $1 AND value = $2", name, value)
	return unavailable(ctx, "drop secret", err)
}
