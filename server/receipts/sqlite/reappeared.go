package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// reappearedSQL counts one reappeared cookie: $1 portal, $2 day, $3 name,
// $4 category, $5 time seen, $6 page (kept while fewer than MaxPages
// distinct pages are and not this one). A name and category the day has no
// tally of yet, when the day has MaxTallyNames of them already, is counted
// as OtherName in that category. It returns the name counted and its
// count.
var reappearedSQL = strings.NewReplacer("MAXPAGES", fmt.Sprint(receipts.MaxPages), "MAXNAMES", fmt.Sprint(receipts.MaxTallyNames),
	"OTHER", receipts.OtherName).Replace(`INSERT INTO reappeared (portal, day, name, category, count, first_seen, last_seen, pages)
	VALUES ($1, $2, CASE
			WHEN EXISTS (SELECT 1 FROM reappeared WHERE portal = $1 AND day = $2 AND name = $3 AND category = $4) THEN $3
			WHEN EXISTS (SELECT 1 FROM reappeared WHERE portal = $1 AND day = $2 AND name = 'OTHER') THEN 'OTHER'
			WHEN (SELECT count(*) FROM reappeared WHERE portal = $1 AND day = $2 AND name <> 'OTHER') < MAXNAMES THEN $3
			ELSE 'OTHER' END,
		$4, 1, $5, $5, CASE WHEN $6 = '' THEN '[]' ELSE json_array($6) END)
	ON CONFLICT (portal, day, name, category) DO UPDATE SET
		count = count + 1,
		first_seen = min(first_seen, excluded.first_seen),
		last_seen = max(last_seen, excluded.last_seen),
		pages = CASE
			WHEN $6 <> '' AND json_array_length(pages) < MAXPAGES
				AND NOT EXISTS (SELECT 1 FROM json_each(reappeared.pages) WHERE value = $6)
			THEN json_insert(pages, '$[#]', $6)
			ELSE pages
		END
	RETURNING name, count`)

// CountReappeared tallies each of cookies once for portal on at's UTC day
// with page, in one transaction of its own on the writer; it returns once
// it committed. It fails without counting on an empty portal.
func (s *Store) CountReappeared(ctx context.Context, portal, page string, cookies []receipts.ReappearedCookie, at time.Time) error {
	if portal == "" {
		return errors.New("receipts/sqlite: reappeared cookies without portal")
	}
	at = at.UTC()
	day := at.Truncate(24 * time.Hour).Unix()
	cs := append([]receipts.ReappearedCookie(nil), cookies...)
	full := false
	err := s.job(ctx, func(ctx context.Context, conn *sql.Conn) error {
		full = false
		for _, c := range cs {
			var (
				counted string
				count   int64
			)
			if err := conn.QueryRowContext(ctx, reappearedSQL, portal, day, c.Name, c.Category, at.UnixMicro(), page).Scan(&counted, &count); err != nil {
				return err
			}
			full = full || (counted == receipts.OtherName && count == 1)
		}
		return nil
	})
	if err == nil && full {
		receipts.LogTallyFull(s.cfg.log, "reappeared", portal, at)
	}
	return err
}

// Reappeared returns the tallies of portal whose day (00:00 UTC) is in
// [from, to), by day, name then category. It fails on a tally whose pages
// are not a JSON array of strings.
func (s *Store) Reappeared(ctx context.Context, portal string, from, to time.Time) ([]receipts.Reappeared, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT portal, day, name, category, count, first_seen, last_seen, pages FROM reappeared
		WHERE portal = $1 AND day >= $2 AND day < $3 ORDER BY day, name, category`, portal, unixCeil(from), unixCeil(to))
	if err != nil {
		return nil, dbErr(ctx, err)
	}
	defer rows.Close()
	var out []receipts.Reappeared
	for rows.Next() {
		var (
			u                receipts.Reappeared
			day, first, last int64
			pages            string
		)
		if err := rows.Scan(&u.Portal, &day, &u.Name, &u.Category, &u.Count, &first, &last, &pages); err != nil {
			return nil, dbErr(ctx, err)
		}
		if err := json.Unmarshal([]byte(pages), &u.Pages); err != nil {
			return nil, fmt.Errorf("receipts/sqlite: reappeared %q of %q: pages: %w", u.Name, u.Portal, err)
		}
		u.Day, u.FirstSeen, u.LastSeen = time.Unix(day, 0).UTC(), time.UnixMicro(first).UTC(), time.UnixMicro(last).UTC()
		out = append(out, u)
	}
	return out, dbErr(ctx, rows.Err())
}

// ReappearedPage returns one page of the portal's reappeared tallies
// summed over the days whose 00:00 UTC is in [from, to) (see
// receipts.Store.ReappearedPage): the daily tallies of the limit pairs of
// name and category from offset, by summed count, name then category, and
// how many pairs there are. It fails on a bad limit or offset
// (receipts.CheckPage) and on a tally whose pages are not a JSON array of
// strings.
func (s *Store) ReappearedPage(ctx context.Context, portal string, from, to time.Time, limit, offset int) ([]receipts.Reappeared, int, error) {
	if err := receipts.CheckPage(limit, offset); err != nil {
		return nil, 0, err
	}
	lo, hi := unixCeil(from), unixCeil(to)
	// One read transaction: the total and the page of one snapshot.
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, dbErr(ctx, err)
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT DISTINCT name, category FROM reappeared
		WHERE portal = $1 AND day >= $2 AND day < $3)`, portal, lo, hi).Scan(&total); err != nil {
		return nil, 0, dbErr(ctx, err)
	}
	rows, err := tx.QueryContext(ctx, `WITH top AS (
			SELECT name, category FROM reappeared WHERE portal = $1 AND day >= $2 AND day < $3
			GROUP BY name, category ORDER BY sum(count) DESC, name, category LIMIT $4 OFFSET $5)
		SELECT portal, day, name, category, count, first_seen, last_seen, pages FROM reappeared
		WHERE portal = $1 AND day >= $2 AND day < $3 AND (name, category) IN (SELECT name, category FROM top)
		ORDER BY day, name, category`, portal, lo, hi, limit, offset)
	if err != nil {
		return nil, 0, dbErr(ctx, err)
	}
	defer rows.Close()
	var out []receipts.Reappeared
	for rows.Next() {
		var (
			u                receipts.Reappeared
			day, first, last int64
			pages            string
		)
		if err := rows.Scan(&u.Portal, &day, &u.Name, &u.Category, &u.Count, &first, &last, &pages); err != nil {
			return nil, 0, dbErr(ctx, err)
		}
		if err := json.Unmarshal([]byte(pages), &u.Pages); err != nil {
			return nil, 0, fmt.Errorf("receipts/sqlite: reappeared %q of %q: pages: %w", u.Name, u.Portal, err)
		}
		u.Day, u.FirstSeen, u.LastSeen = time.Unix(day, 0).UTC(), time.UnixMicro(first).UTC(), time.UnixMicro(last).UTC()
		out = append(out, u)
	}
	return out, total, dbErr(ctx, rows.Err())
}
