package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// reappearedSQL counts one reappeared cookie: $1 portal, $2 day, $3 name,
// $4 category, $5 time seen, $6 page (kept while fewer than
// receipts.MaxPages distinct pages are). A name and category the day has
// no tally of yet, when the day has receipts.MaxTallyNames of them
// already, is counted as receipts.OtherName in that category (the caller
// holds the portal's lockReappeared: no other counts its names
// meanwhile). It returns the name counted and its count.
var reappearedSQL = fmt.Sprintf(`INSERT INTO reappeared AS u (portal, day, name, category, count, first_seen, last_seen, pages)
	VALUES ($1, $2, CASE
			WHEN EXISTS (SELECT 1 FROM reappeared WHERE portal = $1 AND day = $2 AND name = $3::text AND category = $4::text) THEN $3::text
			WHEN EXISTS (SELECT 1 FROM reappeared WHERE portal = $1 AND day = $2 AND name = '%[2]s') THEN '%[2]s'
			WHEN (SELECT count(*) FROM reappeared WHERE portal = $1 AND day = $2 AND name <> '%[2]s') < %[3]d THEN $3::text
			ELSE '%[2]s' END,
		$4, 1, $5, $5, CASE WHEN $6::text = '' THEN '{}'::text[] ELSE ARRAY[$6::text] END)
	ON CONFLICT (portal, day, name, category) DO UPDATE SET
		count = u.count + 1,
		first_seen = least(u.first_seen, excluded.first_seen),
		last_seen = greatest(u.last_seen, excluded.last_seen),
		pages = CASE WHEN $6::text <> '' AND cardinality(u.pages) < %[1]d AND NOT ($6::text = ANY (u.pages))
			THEN u.pages || $6::text ELSE u.pages END
	RETURNING u.name, u.count`, receipts.MaxPages, receipts.OtherName, receipts.MaxTallyNames)

// CountReappeared tallies each of cookies once for portal on at's UTC day
// with page, in one transaction. It fails without counting on an empty
// portal or a text PostgreSQL cannot store (invalid UTF-8, NUL); database
// failures are wrapped in receipts.ErrUnavailable.
func (s *Store) CountReappeared(ctx context.Context, portal, page string, cookies []receipts.ReappearedCookie, at time.Time) error {
	if portal == "" {
		return errors.New("postgres: reappeared cookies without portal")
	}
	texts := []string{portal, page}
	for _, c := range cookies {
		texts = append(texts, c.Name, c.Category)
	}
	for _, t := range texts {
		if !utf8.ValidString(t) || strings.IndexByte(t, 0) >= 0 {
			return fmt.Errorf("%w: text %q is not valid UTF-8 without NUL", errInvalid, t)
		}
	}
	at = at.UTC()
	day := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)
	full := false
	err := pgx.BeginFunc(ctx, s.wpool, func(tx pgx.Tx) error {
		full = false
		// One counter of a portal's new names at a time, across hosts: the
		// cap holds exactly.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", lockReappeared, portal); err != nil {
			return err
		}
		for _, c := range cookies {
			var (
				counted string
				count   int64
			)
			if err := tx.QueryRow(ctx, reappearedSQL, portal, day, c.Name, c.Category, at, page).Scan(&counted, &count); err != nil {
				return err
			}
			full = full || (counted == receipts.OtherName && count == 1)
		}
		return nil
	})
	if err == nil && full {
		receipts.LogTallyFull(s.log, "reappeared", portal, at)
	}
	return unavailable(ctx, "reappeared", err)
}

// Reappeared returns the tallies of the portal for the UTC days in
// [from, to) (a day is in when its 00:00 is), by day, name then category.
// Database failures are wrapped in receipts.ErrUnavailable.
func (s *Store) Reappeared(ctx context.Context, portal string, from, to time.Time) ([]receipts.Reappeared, error) {
	rows, err := s.pool.Query(ctx, `SELECT portal, day, name, category, count, first_seen, last_seen, pages FROM reappeared
		WHERE portal = $1 AND day >= $2 AND day < $3 ORDER BY day, name, category`, portal, ceilDay(from), ceilDay(to))
	if err != nil {
		return nil, unavailable(ctx, "reappeared", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (receipts.Reappeared, error) {
		var u receipts.Reappeared
		err := row.Scan(&u.Portal, &u.Day, &u.Name, &u.Category, &u.Count, &u.FirstSeen, &u.LastSeen, &u.Pages)
		u.Day = time.Date(u.Day.Year(), u.Day.Month(), u.Day.Day(), 0, 0, 0, 0, time.UTC)
		u.FirstSeen, u.LastSeen = u.FirstSeen.UTC(), u.LastSeen.UTC()
		return u, err
	})
	if err != nil {
		return nil, unavailable(ctx, "reappeared", err)
	}
	return out, nil
}

// ReappearedPage returns one page of the portal's reappeared tallies
// summed over the UTC days in [from, to) (see
// receipts.Store.ReappearedPage): the daily tallies of the limit pairs of
// name and category from offset, by summed count, name then category
// (byte order), and how many pairs there are, read in one repeatable-read
// transaction. It fails on a bad limit or offset (receipts.CheckPage);
// database failures are wrapped in receipts.ErrUnavailable.
func (s *Store) ReappearedPage(ctx context.Context, portal string, from, to time.Time, limit, offset int) ([]receipts.Reappeared, int, error) {
	if err := receipts.CheckPage(limit, offset); err != nil {
		return nil, 0, err
	}
	lo, hi := ceilDay(from), ceilDay(to)
	var (
		out   []receipts.Reappeared
		total int
	)
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT DISTINCT name, category FROM reappeared
			WHERE portal = $1 AND day >= $2 AND day < $3) AS d`, portal, lo, hi).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `WITH top AS (
				SELECT name, category FROM reappeared WHERE portal = $1 AND day >= $2 AND day < $3
				GROUP BY name, category ORDER BY sum(count) DESC, name, category LIMIT $4 OFFSET $5)
			SELECT portal, day, name, category, count, first_seen, last_seen, pages FROM reappeared
			WHERE portal = $1 AND day >= $2 AND day < $3 AND (name, category) IN (SELECT name, category FROM top)
			ORDER BY day, name, category`, portal, lo, hi, limit, offset)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (receipts.Reappeared, error) {
			var u receipts.Reappeared
			err := row.Scan(&u.Portal, &u.Day, &u.Name, &u.Category, &u.Count, &u.FirstSeen, &u.LastSeen, &u.Pages)
			u.Day = time.Date(u.Day.Year(), u.Day.Month(), u.Day.Day(), 0, 0, 0, 0, time.UTC)
			u.FirstSeen, u.LastSeen = u.FirstSeen.UTC(), u.LastSeen.UTC()
			return u, err
		})
		return err
	})
	if err != nil {
		return nil, 0, unavailable(ctx, "reappeared", err)
	}
	return out, total, nil
}
