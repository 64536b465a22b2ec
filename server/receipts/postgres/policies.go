package postgres

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portalconsent/portalconsent/server/receipts"
)

var _ receipts.Policies = (*Store)(nil)

// PoliciesChannel is the NOTIFY channel of publications and deletions of
// policies (payload: the portal id), sent at the commit of each.
const PoliciesChannel = "portalconsent_policies"

// lockPolicies is the class of the per-portal locks of publications, in
// the two-key advisory lock space (the portal's hash the second key): two
// hosts publishing one portal at once take turns.
const lockPolicies int32 = 0x70635f70 // "pc_p"

// Publish stores p as its portal's new current version and records its
// notices as served from at, in one transaction that notifies every host
// (see receipts.Policies). It stores nothing and returns the current
// version when that one serves the same policy from the same file.
func (s *Store) Publish(ctx context.Context, p receipts.Publication, at time.Time) (receipts.PolicyVersion, bool, error) {
	if err := p.Check(); err != nil {
		return receipts.PolicyVersion{}, false, err
	}
	at = at.UTC().Truncate(time.Microsecond)
	var out receipts.PolicyVersion
	var changed bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		changed = false
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", lockPolicies, p.Portal); err != nil {
			return err
		}
		cur, err := currentPolicy(ctx, tx, p.Portal, true)
		exists := err == nil
		if err != nil && !errors.Is(err, receipts.ErrNotFound) {
			return err
		}
		if p.Match && ((exists && cur.Version != p.Version) || (!exists && p.Version != 0)) {
			return receipts.ErrConflict
		}
		if exists && cur.File == p.File && bytes.Equal(cur.Policy, p.Policy) {
			out = cur
			return nil
		}
		var last int64
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM policy_versions WHERE portal = $1", p.Portal).Scan(&last); err != nil {
			return err
		}
		out = receipts.PolicyVersion{Portal: p.Portal, Version: last + 1, Revision: p.Revision, PublishedAt: at,
			By: p.By, Via: p.Via, File: p.File, Policy: p.Policy, Source: p.Source, Format: p.Format}
		if out.Source == nil {
			out.Source = []byte{}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO policy_versions (portal, version, revision, published_at, by_whom, via, file, policy, source, format)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, out.Portal, out.Version, out.Revision, at,
			out.By, out.Via, out.File, out.Policy, out.Source, out.Format); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO policy_current (portal, version) VALUES ($1, $2)
			ON CONFLICT (portal) DO UPDATE SET version = excluded.version`, out.Portal, out.Version); err != nil {
			return err
		}
		for _, n := range p.Notices {
			if _, err := tx.Exec(ctx, `INSERT INTO notices AS n (portal, sha256, revision, lang, body, first_served, last_served)
				VALUES ($1, $2, $3, $4, $5, $6, $6)
				ON CONFLICT (portal, sha256) DO UPDATE SET last_served = excluded.last_served
				WHERE n.last_served < excluded.last_served`,
				n.Portal, n.SHA256, n.Revision, n.Lang, n.Body, at); err != nil {
				return err
			}
		}
		if err := changedPolicies(ctx, tx, p.Portal); err != nil {
			return err
		}
		changed = true
		return nil
	})
	if errors.Is(err, receipts.ErrConflict) {
		return receipts.PolicyVersion{}, false, err
	}
	if err != nil {
		return receipts.PolicyVersion{}, false, unavailable(ctx, "publish", err)
	}
	return out, changed, nil
}

// changedPolicies moves the generation and notifies every host, at commit.
func changedPolicies(ctx context.Context, tx pgx.Tx, portal string) error {
	if _, err := tx.Exec(ctx, "UPDATE policy_generation SET n = n + 1 WHERE id = 1"); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", PoliciesChannel, portal)
	return err
}

const versionColumns = "v.portal, v.version, v.revision, v.published_at, v.by_whom, v.via, v.file"

func scanVersion(row pgx.Row, extra ...any) (receipts.PolicyVersion, error) {
	var v receipts.PolicyVersion
	err := row.Scan(append([]any{&v.Portal, &v.Version, &v.Revision, &v.PublishedAt, &v.By, &v.Via, &v.File}, extra...)...)
	v.PublishedAt = v.PublishedAt.UTC()
	return v, err
}

type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// currentPolicy reads the current version of portal, with its source when
// source is true, or receipts.ErrNotFound.
func currentPolicy(ctx context.Context, q queryRower, portal string, source bool) (receipts.PolicyVersion, error) {
	var pol, src []byte
	var format string
	v, err := scanVersion(q.QueryRow(ctx, `SELECT `+versionColumns+`, v.policy, v.source, v.format
		FROM policy_current c JOIN policy_versions v ON v.portal = c.portal AND v.version = c.version
		WHERE c.portal = $1`, portal), &pol, &src, &format)
	if errors.Is(err, pgx.ErrNoRows) {
		return receipts.PolicyVersion{}, receipts.ErrNotFound
	}
	if err != nil {
		return receipts.PolicyVersion{}, err
	}
	v.Policy = pol
	if source {
		v.Source, v.Format = src, format
		if v.Source == nil {
			v.Source = []byte{}
		}
	}
	return v, nil
}

// CurrentPolicy returns the current version of portal with its source, or
// receipts.ErrNotFound.
func (s *Store) CurrentPolicy(ctx context.Context, portal string) (receipts.PolicyVersion, error) {
	v, err := currentPolicy(ctx, s.pool, portal, true)
	return v, unavailable(ctx, "current policy", err)
}

// CurrentPolicies returns the current version of every portal, by portal,
// without their policies nor sources.
func (s *Store) CurrentPolicies(ctx context.Context) ([]receipts.PolicyVersion, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+versionColumns+`
		FROM policy_current c JOIN policy_versions v ON v.portal = c.portal AND v.version = c.version
		ORDER BY c.portal`)
	if err != nil {
		return nil, unavailable(ctx, "current policies", err)
	}
	defer rows.Close()
	var out []receipts.PolicyVersion
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, unavailable(ctx, "current policies", err)
		}
		out = append(out, v)
	}
	return out, unavailable(ctx, "current policies", rows.Err())
}

// PolicyNames returns the name of every current portal's policy, by portal.
func (s *Store) PolicyNames(ctx context.Context) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.portal, coalesce(convert_from(v.policy, 'UTF8')::json ->> 'name', '')
		FROM policy_current c JOIN policy_versions v ON v.portal = c.portal AND v.version = c.version`)
	if err != nil {
		return nil, unavailable(ctx, "current policies", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var portal, name string
		if err := rows.Scan(&portal, &name); err != nil {
			return nil, unavailable(ctx, "current policies", err)
		}
		out[portal] = name
	}
	return out, unavailable(ctx, "current policies", rows.Err())
}

// PolicyVersions returns every version of portal, newest first, without
// policy nor source.
func (s *Store) PolicyVersions(ctx context.Context, portal string) ([]receipts.PolicyVersion, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+versionColumns+` FROM policy_versions v
		WHERE v.portal = $1 ORDER BY v.version DESC`, portal)
	if err != nil {
		return nil, unavailable(ctx, "policy versions", err)
	}
	defer rows.Close()
	out := []receipts.PolicyVersion{}
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, unavailable(ctx, "policy versions", err)
		}
		out = append(out, v)
	}
	return out, unavailable(ctx, "policy versions", rows.Err())
}

// DeletePolicy removes portal from the current policies and notifies every
// host (see receipts.Policies): receipts.ErrNotFound when it has none,
// receipts.ErrConflict when version is not 0 and not the current one.
func (s *Store) DeletePolicy(ctx context.Context, portal string, version int64) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", lockPolicies, portal); err != nil {
			return err
		}
		var cur int64
		err := tx.QueryRow(ctx, "SELECT version FROM policy_current WHERE portal = $1", portal).Scan(&cur)
		if errors.Is(err, pgx.ErrNoRows) {
			return receipts.ErrNotFound
		}
		if err != nil {
			return err
		}
		if version != 0 && cur != version {
			return receipts.ErrConflict
		}
		if _, err := tx.Exec(ctx, "DELETE FROM policy_current WHERE portal = $1", portal); err != nil {
			return err
		}
		return changedPolicies(ctx, tx, portal)
	})
	if errors.Is(err, receipts.ErrConflict) {
		return err
	}
	return unavailable(ctx, "delete policy", err)
}

// PolicyGeneration returns the number moved by every change of the current
// policies.
func (s *Store) PolicyGeneration(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, "SELECT n FROM policy_generation WHERE id = 1").Scan(&n)
	return n, unavailable(ctx, "policy generation", err)
}

// WaitPolicies returns when a publication or a deletion of a policy may
// have been committed by any host: on a notification (PoliciesChannel),
// and at once when it (re)starts listening, on a connection of its own
// outside the pool (the changes missed meanwhile are found by reading
// PolicyGeneration then). It returns an error, the connection closed, when
// the connection fails or ctx is done. One call at a time.
func (s *Store) WaitPolicies(ctx context.Context) error {
	return s.policiesListen.wait(ctx, s, PoliciesChannel)
}

// listener is a connection of its own, outside the pool, LISTENing on one
// channel (see WaitPolicies, WaitOperators).
type listener struct {
	mu   sync.Mutex // held by wait
	conn *pgx.Conn
}

// wait returns at once when it (re)starts listening on channel, else on
// the next notification; an error, the connection closed, when the
// connection fails or ctx is done.
func (l *listener) wait(ctx context.Context, s *Store, channel string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		c, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
		if err != nil {
			return unavailable(ctx, "listen", err)
		}
		if _, err := c.Exec(ctx, "LISTEN "+channel); err != nil {
			c.Close(context.Background())
			return unavailable(ctx, "listen", err)
		}
		l.conn = c
		return nil
	}
	if _, err := l.conn.WaitForNotification(ctx); err != nil {
		l.conn.Close(context.Background())
		l.conn = nil
		return unavailable(ctx, "listen", err)
	}
	return nil
}

// close closes the connection unless a wait holds it (that wait closes it
// when its ctx ends).
func (l *listener) close() {
	if l.mu.TryLock() {
		if l.conn != nil {
			l.conn.Close(context.Background())
			l.conn = nil
		}
		l.mu.Unlock()
	}
}
