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
// receipts.MaxPages distinct pages are).
var reappearedSQL = fmt.Sprintf(`INSERT INTO reappeared AS u (portal, day, name, category, count, first_seen, last_seen, pages)
	VALUES ($1, $2, $3, $4, 1, $5, $5, CASE WHEN $6::text = '' THEN '{}'::text[] ELSE ARRAY[$6::text] END)
	ON CONFLICT (portal, day, name, category) DO UPDATE SET
		count = u.count + 1,
		first_seen = least(u.first_seen, excluded.first_seen),
		last_seen = greatest(u.last_seen, excluded.last_seen),
		pages = CASE WHEN $6::text <> '' AND cardinality(u.pages) < %d AND NOT ($6::text = ANY (u.pages))
			THEN u.pages || $6::text ELSE u.pages END`, receipts.MaxPages)

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
	err := pgx.BeginFunc(ctx, s.wpool, func(tx pgx.Tx) error {
		for _, c := range cookies {
			if _, err := tx.Exec(ctx, reappearedSQL, portal, day, c.Name, c.Category, at, page); err != nil {
				return err
			}
		}
		return nil
	})
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
