package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

var _ receipts.Policies = (*Store)(nil)

// Publish stores p as its portal's new current version and records its
// notices as served from at, in one write transaction (see
// receipts.Policies). It stores nothing and returns the current version
// when that one serves the same policy from the same file.
func (s *Store) Publish(ctx context.Context, p receipts.Publication, at time.Time) (receipts.PolicyVersion, bool, error) {
	if err := p.Check(); err != nil {
		return receipts.PolicyVersion{}, false, err
	}
	var out receipts.PolicyVersion
	var changed bool
	err := s.job(ctx, func(ctx context.Context, conn *sql.Conn) error {
		changed = false
		cur, err := currentPolicy(ctx, conn, p.Portal, true)
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
		if err := conn.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM policy_versions WHERE portal = $1", p.Portal).Scan(&last); err != nil {
			return err
		}
		out = receipts.PolicyVersion{Portal: p.Portal, Version: last + 1, Revision: p.Revision, PublishedAt: time.UnixMicro(at.UnixMicro()).UTC(),
			By: p.By, Via: p.Via, File: p.File, Policy: p.Policy, Source: p.Source, Format: p.Format}
		if out.Source == nil {
			out.Source = []byte{}
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO policy_versions (portal, version, revision, published_at, by_whom, via, file, policy, source, format)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, out.Portal, out.Version, out.Revision, at.UnixMicro(),
			out.By, out.Via, out.File, out.Policy, out.Source, out.Format); err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO policy_current (portal, version) VALUES ($1, $2)
			ON CONFLICT (portal) DO UPDATE SET version = excluded.version`, out.Portal, out.Version); err != nil {
			return err
		}
		for _, n := range p.Notices {
			if _, err := conn.ExecContext(ctx, `INSERT INTO notices (portal, sha256, revision, lang, body, first_served, last_served)
				VALUES ($1, $2, $3, $4, $5, $6, $6)
				ON CONFLICT (portal, sha256) DO UPDATE SET last_served = max(last_served, excluded.last_served)`,
				n.Portal, n.SHA256, n.Revision, n.Lang, n.Body, at.UnixMicro()); err != nil {
				return err
			}
		}
		if _, err := conn.ExecContext(ctx, "UPDATE policy_generation SET n = n + 1 WHERE id = 1"); err != nil {
			return err
		}
		changed = true
		return nil
	})
	// The writer's transaction wraps every error of a job in
	// receipts.ErrUnavailable: a conflict is not a database failure.
	if errors.Is(err, receipts.ErrConflict) {
		return receipts.PolicyVersion{}, false, receipts.ErrConflict
	}
	if err != nil {
		return receipts.PolicyVersion{}, false, err
	}
	return out, changed, nil
}

const versionColumns = "v.portal, v.version, v.revision, v.published_at, v.by_whom, v.via, v.file"

type rowScanner interface{ Scan(...any) error }

func scanVersion(row rowScanner, extra ...any) (receipts.PolicyVersion, error) {
	var v receipts.PolicyVersion
	var at int64
	err := row.Scan(append([]any{&v.Portal, &v.Version, &v.Revision, &at, &v.By, &v.Via, &v.File}, extra...)...)
	v.PublishedAt = time.UnixMicro(at).UTC()
	return v, err
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// currentPolicy reads the current version of portal, with its source when
// source is true, or receipts.ErrNotFound.
func currentPolicy(ctx context.Context, q queryRower, portal string, source bool) (receipts.PolicyVersion, error) {
	var pol, src []byte
	var format string
	v, err := scanVersion(q.QueryRowContext(ctx, `SELECT `+versionColumns+`, v.policy, v.source, v.format
		FROM policy_current c JOIN policy_versions v ON v.portal = c.portal AND v.version = c.version
		WHERE c.portal = $1`, portal), &pol, &src, &format)
	if errors.Is(err, sql.ErrNoRows) {
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
	v, err := currentPolicy(ctx, s.rdb, portal, true)
	if errors.Is(err, receipts.ErrNotFound) {
		return v, err
	}
	return v, dbErr(ctx, err)
}

// CurrentPolicies returns the current version of every portal, by portal,
// without their policies nor sources.
func (s *Store) CurrentPolicies(ctx context.Context) ([]receipts.PolicyVersion, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+versionColumns+`
		FROM policy_current c JOIN policy_versions v ON v.portal = c.portal AND v.version = c.version
		ORDER BY c.portal`)
	if err != nil {
		return nil, dbErr(ctx, err)
	}
	defer rows.Close()
	var out []receipts.PolicyVersion
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, dbErr(ctx, err)
		}
		out = append(out, v)
	}
	return out, dbErr(ctx, rows.Err())
}

// PolicyNames returns the name of every current portal's policy, by portal.
func (s *Store) PolicyNames(ctx context.Context) (map[string]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT c.portal, coalesce(json_extract(CAST(v.policy AS TEXT), '$.name'), '')
		FROM policy_current c JOIN policy_versions v ON v.portal = c.portal AND v.version = c.version`)
	if err != nil {
		return nil, dbErr(ctx, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var portal, name string
		if err := rows.Scan(&portal, &name); err != nil {
			return nil, dbErr(ctx, err)
		}
		out[portal] = name
	}
	return out, dbErr(ctx, rows.Err())
}

// PolicyVersions returns every version of portal, newest first, without
// policy nor source.
func (s *Store) PolicyVersions(ctx context.Context, portal string) ([]receipts.PolicyVersion, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+versionColumns+` FROM policy_versions v
		WHERE v.portal = $1 ORDER BY v.version DESC`, portal)
	if err != nil {
		return nil, dbErr(ctx, err)
	}
	defer rows.Close()
	out := []receipts.PolicyVersion{}
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, dbErr(ctx, err)
		}
		out = append(out, v)
	}
	return out, dbErr(ctx, rows.Err())
}

// DeletePolicy removes portal from the current policies (see
// receipts.Policies): receipts.ErrNotFound when it has none,
// receipts.ErrConflict when version is not 0 and not the current one.
func (s *Store) DeletePolicy(ctx context.Context, portal string, version int64) error {
	err := s.job(ctx, func(ctx context.Context, conn *sql.Conn) error {
		var cur int64
		err := conn.QueryRowContext(ctx, "SELECT version FROM policy_current WHERE portal = $1", portal).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return receipts.ErrNotFound
		}
		if err != nil {
			return err
		}
		if version != 0 && cur != version {
			return receipts.ErrConflict
		}
		if _, err := conn.ExecContext(ctx, "DELETE FROM policy_current WHERE portal = $1", portal); err != nil {
			return err
		}
		_, err = conn.ExecContext(ctx, "UPDATE policy_generation SET n = n + 1 WHERE id = 1")
		return err
	})
	for _, plain := range []error{receipts.ErrNotFound, receipts.ErrConflict} {
		if errors.Is(err, plain) {
			return plain
		}
	}
	return err
}

// PolicyGeneration returns the number moved by every change of the current
// policies.
func (s *Store) PolicyGeneration(ctx context.Context) (int64, error) {
	var n int64
	err := s.rdb.QueryRowContext(ctx, "SELECT n FROM policy_generation WHERE id = 1").Scan(&n)
	return n, dbErr(ctx, err)
}
