package postgres

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// receiptColumns are the columns scanReceipt reads, in its order.
const receiptColumns = `id, portal, writer, seq, consent_id, revision, choices, method, lang, page,
	decided_at, received_at, notice, prev, hash`

// scanReceipt reads a row of receiptColumns. A stored value that is not
// what Append writes (choices that do not parse) is an error that is not
// ErrUnavailable.
func scanReceipt(row pgx.Row) (*receipts.Receipt, error) {
	var (
		r            receipts.Receipt
		choices      string
		prev, hash   []byte
		decided, rcv time.Time
	)
	if err := row.Scan(&r.ID, &r.Portal, &r.Writer, &r.Seq, &r.ConsentID, &r.Revision, &choices, &r.Method,
		&r.Lang, &r.Page, &decided, &rcv, &r.Notice, &prev, &hash); err != nil {
		return nil, err
	}
	cs, err := receipts.DecodeChoices(choices)
	if err != nil {
		return &r, &badRow{fmt.Errorf("postgres: receipt #%d of portal %q: %w", r.Seq, r.Portal, err)}
	}
	r.Choices = cs
	r.DecidedAt, r.ReceivedAt = decided.UTC(), rcv.UTC()
	r.Prev, r.Hash = hex.EncodeToString(prev), hex.EncodeToString(hash)
	return &r, nil
}

// badRow is a stored receipt that does not read back as a Receipt.
type badRow struct{ err error }

func (e *badRow) Error() string { return e.err.Error() }
func (e *badRow) Unwrap() error { return e.err }

// ServeNotice stores n once (by portal and SHA256) with FirstServed at,
// and later only moves its LastServed forward to at. It refuses a notice
// without portal or whose SHA256 is not that of its body. Database failures
// are wrapped in receipts.ErrUnavailable.
func (s *Store) ServeNotice(ctx context.Context, n receipts.Notice, at time.Time) error {
	if n.Portal == "" {
		return errors.New("postgres: notice without portal")
	}
	if n.SHA256 != receipts.NoticeHash(n.Body) {
		return fmt.Errorf("postgres: notice %q: not the SHA-256 of its body", n.SHA256)
	}
	at = at.UTC()
	_, err := s.pool.Exec(ctx, `INSERT INTO notices AS n (portal, sha256, revision, lang, body, first_served, last_served)
		VALUES ($1, $2, $3, $4, $5, $6, $6)
		ON CONFLICT (portal, sha256) DO UPDATE SET last_served = excluded.last_served
		WHERE n.last_served < excluded.last_served`,
		n.Portal, n.SHA256, n.Revision, n.Lang, n.Body, at)
	return unavailable(ctx, "serve notice", err)
}

const noticeColumns = "portal, sha256, revision, lang, body, first_served, last_served"

func scanNotice(row pgx.CollectableRow) (receipts.Notice, error) {
	var n receipts.Notice
	err := row.Scan(&n.Portal, &n.SHA256, &n.Revision, &n.Lang, &n.Body, &n.FirstServed, &n.LastServed)
	n.FirstServed, n.LastServed = n.FirstServed.UTC(), n.LastServed.UTC()
	if n.Body == nil {
		n.Body = []byte{}
	}
	return n, err
}

// Notice returns the stored notice, receipts.ErrNotFound when there is
// none; database failures are wrapped in receipts.ErrUnavailable.
func (s *Store) Notice(ctx context.Context, portal, sha256 string) (receipts.Notice, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+noticeColumns+" FROM notices WHERE portal = $1 AND sha256 = $2", portal, sha256)
	if err != nil {
		return receipts.Notice{}, unavailable(ctx, "notice", err)
	}
	n, err := pgx.CollectExactlyOneRow(rows, scanNotice)
	if errors.Is(err, pgx.ErrNoRows) {
		return receipts.Notice{}, receipts.ErrNotFound
	}
	return n, unavailable(ctx, "notice", err)
}

// Notices returns the portal's notices, oldest FirstServed first, bodies
// included; none is an empty result. Database failures are wrapped in
// receipts.ErrUnavailable.
func (s *Store) Notices(ctx context.Context, portal string) ([]receipts.Notice, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+noticeColumns+" FROM notices WHERE portal = $1 ORDER BY first_served, sha256", portal)
	if err != nil {
		return nil, unavailable(ctx, "notices", err)
	}
	ns, err := pgx.CollectRows(rows, scanNotice)
	if err != nil {
		return nil, unavailable(ctx, "notices", err)
	}
	return ns, nil
}

// Consent returns the receipts of one consent id of the portal oldest
// first (by receive time, then writer and seq: its receipts may be in the
// chains of several writers), receipts.ErrNotFound when there is none. Database
// failures are wrapped in receipts.ErrUnavailable.
func (s *Store) Consent(ctx context.Context, portal, consentID string) ([]receipts.Receipt, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+receiptColumns+" FROM receipts WHERE portal = $1 AND consent_id = $2 ORDER BY received_at, writer, seq", portal, consentID)
	if err != nil {
		return nil, unavailable(ctx, "consent", err)
	}
	defer rows.Close()
	var out []receipts.Receipt
	for rows.Next() {
		r, err := scanReceipt(rows)
		if err != nil {
			return nil, readErr(ctx, "consent", err)
		}
		out = append(out, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(ctx, "consent", err)
	}
	if len(out) == 0 {
		return nil, receipts.ErrNotFound
	}
	return out, nil
}

// readErr is unavailable but for a stored row that does not read back.
func readErr(ctx context.Context, op string, err error) error {
	var bad *badRow
	if errors.As(err, &bad) {
		return bad
	}
	return unavailable(ctx, op, err)
}

// Export calls fn with each receipt of the portal received in [from, to),
// in chain order (by writer, then seq: each chain whole, one after
// another), streaming the rows (constant memory). It stops at, and
// returns unwrapped, the first error of fn; database failures are wrapped
// in receipts.ErrUnavailable.
func (s *Store) Export(ctx context.Context, portal string, from, to time.Time, fn func(*receipts.Receipt) error) error {
	rows, err := s.pool.Query(ctx, "SELECT "+receiptColumns+` FROM receipts
		WHERE portal = $1 AND received_at >= $2 AND received_at < $3 ORDER BY writer, seq`, portal, from.UTC(), to.UTC())
	if err != nil {
		return unavailable(ctx, "export", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanReceipt(rows)
		if err != nil {
			return readErr(ctx, "export", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return unavailable(ctx, "export", rows.Err())
}

// Undeclared returns the tallies of the portal for the UTC days in
// [from, to) (a day is in when its 00:00 is), by day, type, then name,
// each the sum of the writers' rows (mergeWriters). Database failures are
// wrapped in receipts.ErrUnavailable.
func (s *Store) Undeclared(ctx context.Context, portal string, from, to time.Time) ([]receipts.Undeclared, error) {
	rows, err := s.pool.Query(ctx, `SELECT portal, day, type, name, count, first_seen, last_seen, pages FROM undeclared
		WHERE portal = $1 AND day >= $2 AND day < $3 ORDER BY day, type, name, writer`, portal, ceilDay(from), ceilDay(to))
	if err != nil {
		return nil, unavailable(ctx, "undeclared", err)
	}
	out, err := pgx.CollectRows(rows, scanUndeclared)
	if err != nil {
		return nil, unavailable(ctx, "undeclared", err)
	}
	return mergeWriters(out), nil
}

// UndeclaredPage returns one page of the portal's undeclared names summed
// over the UTC days in [from, to) (see receipts.Store.UndeclaredPage): the
// daily tallies of the limit names from offset, by summed count then name
// (byte order), and how many names there are, read in one repeatable-read
// transaction. It fails on a bad limit or offset (receipts.CheckPage);
// database failures are wrapped in receipts.ErrUnavailable.
func (s *Store) UndeclaredPage(ctx context.Context, portal string, from, to time.Time, limit, offset int) ([]receipts.Undeclared, int, error) {
	if err := receipts.CheckPage(limit, offset); err != nil {
		return nil, 0, err
	}
	lo, hi := ceilDay(from), ceilDay(to)
	var (
		out   []receipts.Undeclared
		total int
	)
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT DISTINCT type, name FROM undeclared WHERE portal = $1 AND day >= $2 AND day < $3) d`,
			portal, lo, hi).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `WITH top AS (
				SELECT type, name FROM undeclared WHERE portal = $1 AND day >= $2 AND day < $3
				GROUP BY type, name ORDER BY sum(count) DESC, type, name LIMIT $4 OFFSET $5)
			SELECT portal, day, type, name, count, first_seen, last_seen, pages FROM undeclared
			WHERE portal = $1 AND day >= $2 AND day < $3 AND (type, name) IN (SELECT type, name FROM top) ORDER BY day, type, name, writer`,
			portal, lo, hi, limit, offset)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanUndeclared)
		return err
	})
	if err != nil {
		return nil, 0, unavailable(ctx, "undeclared", err)
	}
	return mergeWriters(out), total, nil
}

// mergeWriters sums the writers' rows of each tally (rows sorted by day,
// type and name, then writer): the counts added, the first first_seen and
// the last last_seen, the pages of the rows in writer order, each once, at
// most receipts.MaxPages.
func mergeWriters(rows []receipts.Undeclared) []receipts.Undeclared {
	out := rows[:0]
	for _, u := range rows {
		n := len(out)
		if n == 0 || !out[n-1].Day.Equal(u.Day) || out[n-1].Type != u.Type || out[n-1].Name != u.Name {
			out = append(out, u)
			continue
		}
		t := &out[n-1]
		t.Count += u.Count
		if u.FirstSeen.Before(t.FirstSeen) {
			t.FirstSeen = u.FirstSeen
		}
		if u.LastSeen.After(t.LastSeen) {
			t.LastSeen = u.LastSeen
		}
		for _, p := range u.Pages {
			if len(t.Pages) < receipts.MaxPages && !slices.Contains(t.Pages, p) {
				t.Pages = append(t.Pages, p)
			}
		}
	}
	return out
}

// scanUndeclared reads one tally: portal, day, type, name, count,
// first_seen, last_seen, pages.
func scanUndeclared(row pgx.CollectableRow) (receipts.Undeclared, error) {
	var u receipts.Undeclared
	err := row.Scan(&u.Portal, &u.Day, &u.Type, &u.Name, &u.Count, &u.FirstSeen, &u.LastSeen, &u.Pages)
	u.Day = time.Date(u.Day.Year(), u.Day.Month(), u.Day.Day(), 0, 0, 0, 0, time.UTC)
	u.FirstSeen, u.LastSeen = u.FirstSeen.UTC(), u.LastSeen.UTC()
	return u, err
}

// ceilDay returns the first 00:00 UTC at or after t.
func ceilDay(t time.Time) time.Time {
	t = t.UTC()
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if d.Before(t) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

// Stats writes the impressions this store counted in memory, then returns
// the daily aggregates of the portal for the UTC days whose 00:00 is in
// [from, to), read in one repeatable-read transaction; none is
// a Stats without days. Database failures are wrapped in
// receipts.ErrUnavailable.
func (s *Store) Stats(ctx context.Context, portal string, from, to time.Time) (receipts.Stats, error) {
	// This host's impressions are counted before they are read (the other
	// hosts' within their flush interval).
	if err := s.flushImpressions(ctx); err != nil {
		return receipts.Stats{}, err
	}
	b := receipts.NewStatsBuilder(portal)
	lo, hi := ceilDay(from), ceilDay(to)
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var (
			day       time.Time
			rev, n    int64
			lang, key string
		)
		const where = ` WHERE portal = $1 AND day >= $2 AND day < $3`
		for _, q := range []struct {
			sql  string
			dest []any
			add  func()
		}{
			{`SELECT day, revision, lang, method, count FROM stats_decisions` + where, []any{&day, &rev, &lang, &key, &n},
				func() { b.AddDecisions(day, rev, lang, key, n) }},
			{`SELECT day, revision, lang, category, count FROM stats_accepted` + where, []any{&day, &rev, &lang, &key, &n},
				func() { b.AddAccepted(day, rev, lang, key, n) }},
			{`SELECT day, revision, lang, count FROM stats_impressions` + where, []any{&day, &rev, &lang, &n},
				func() { b.AddImpressions(day, rev, lang, n) }},
			{`SELECT day, count FROM stats_withdrawals` + where, []any{&day, &n},
				func() { b.AddWithdrawals(day, n) }},
		} {
			rows, err := tx.Query(ctx, q.sql, portal, lo, hi)
			if err != nil {
				return err
			}
			if _, err := pgx.ForEachRow(rows, q.dest, func() error { q.add(); return nil }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return receipts.Stats{}, unavailable(ctx, "stats", err)
	}
	return b.Stats(), nil
}
