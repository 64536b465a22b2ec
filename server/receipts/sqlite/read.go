package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// receiptColumns are the columns row scans, in its order.
const receiptColumns = `portal, seq, id, consent_id, revision, choices, method, lang, page, decided_at, received_at, notice, prev, hash`

// row is a receipts row as stored.
type row struct {
	portal, consentID, choices, method, lang, page, notice string
	seq, revision, decidedAt, receivedAt                   int64
	id, prev, hash                                         []byte
}

func (w *row) dest() []any {
	return []any{&w.portal, &w.seq, &w.id, &w.consentID, &w.revision, &w.choices, &w.method, &w.lang, &w.page, &w.decidedAt, &w.receivedAt, &w.notice, &w.prev, &w.hash}
}

// receipt decodes w into r; it fails on an id that is not 16 bytes or
// malformed choices.
func (w *row) receipt(r *receipts.Receipt) error {
	id, err := uuid.FromBytes(w.id)
	if err != nil {
		return fmt.Errorf("receipts/sqlite: receipt #%d of %q: id: %w", w.seq, w.portal, err)
	}
	choices, err := receipts.DecodeChoices(w.choices)
	if err != nil {
		return fmt.Errorf("receipts/sqlite: receipt #%d of %q: %w", w.seq, w.portal, err)
	}
	*r = receipts.Receipt{
		ID: id.String(), Portal: w.portal, Seq: w.seq, ConsentID: w.consentID, Revision: w.revision,
		Choices: choices, Method: w.method, Lang: w.lang, Page: w.page,
		DecidedAt: time.Unix(w.decidedAt, 0).UTC(), ReceivedAt: time.UnixMicro(w.receivedAt).UTC(),
		Notice: w.notice, Prev: hex.EncodeToString(w.prev), Hash: hex.EncodeToString(w.hash),
	}
	return nil
}

// Consent returns the receipts of consentID in portal, oldest first, or
// receipts.ErrNotFound when there is none.
func (s *Store) Consent(ctx context.Context, portal, consentID string) ([]receipts.Receipt, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+receiptColumns+` FROM receipts INDEXED BY receipts_consent
		WHERE portal = $1 AND consent_id = $2 ORDER BY seq`, portal, consentID)
	if err != nil {
		return nil, dbErr(ctx, err)
	}
	defer rows.Close()
	var (
		out []receipts.Receipt
		w   row
	)
	for rows.Next() {
		if err := rows.Scan(w.dest()...); err != nil {
			return nil, dbErr(ctx, err)
		}
		var r receipts.Receipt
		if err := w.receipt(&r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(ctx, err)
	}
	if len(out) == 0 {
		return nil, receipts.ErrNotFound
	}
	return out, nil
}

// Export calls fn with each receipt of portal received in [from, to), in
// chain order, one row at a time. It stops at, and returns, fn's first
// error, and fails on a row it cannot decode.
func (s *Store) Export(ctx context.Context, portal string, from, to time.Time, fn func(*receipts.Receipt) error) error {
	// The seq bounds of the range, from the received_at index, let SQLite
	// walk the primary key in order rather than sort the range.
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+receiptColumns+` FROM receipts
		WHERE portal = $1
			AND seq BETWEEN (SELECT min(seq) FROM receipts WHERE portal = $1 AND received_at >= $2 AND received_at < $3)
				AND (SELECT max(seq) FROM receipts WHERE portal = $1 AND received_at >= $2 AND received_at < $3)
			AND received_at >= $2 AND received_at < $3
		ORDER BY seq`, portal, from.UnixMicro(), to.UnixMicro())
	if err != nil {
		return dbErr(ctx, err)
	}
	defer rows.Close()
	var w row
	for rows.Next() {
		if err := rows.Scan(w.dest()...); err != nil {
			return dbErr(ctx, err)
		}
		r := new(receipts.Receipt)
		if err := w.receipt(r); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return dbErr(ctx, rows.Err())
}

const noticeColumns = `portal, sha256, revision, lang, body, first_served, last_served`

func scanNotice(sc interface{ Scan(...any) error }) (receipts.Notice, error) {
	var (
		n           receipts.Notice
		first, last int64
	)
	if err := sc.Scan(&n.Portal, &n.SHA256, &n.Revision, &n.Lang, &n.Body, &first, &last); err != nil {
		return n, err
	}
	n.FirstServed, n.LastServed = time.UnixMicro(first).UTC(), time.UnixMicro(last).UTC()
	return n, nil
}

// Notice returns the notice sha256 of portal, or receipts.ErrNotFound.
func (s *Store) Notice(ctx context.Context, portal, sha256 string) (receipts.Notice, error) {
	n, err := scanNotice(s.rdb.QueryRowContext(ctx, `SELECT `+noticeColumns+` FROM notices WHERE portal = $1 AND sha256 = $2`, portal, sha256))
	if errors.Is(err, sql.ErrNoRows) {
		return receipts.Notice{}, receipts.ErrNotFound
	}
	if err != nil {
		return receipts.Notice{}, dbErr(ctx, err)
	}
	return n, nil
}

// Notices returns the notices of portal, oldest FirstServed first (none
// for an unknown portal).
func (s *Store) Notices(ctx context.Context, portal string) ([]receipts.Notice, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+noticeColumns+` FROM notices WHERE portal = $1 ORDER BY first_served, sha256`, portal)
	if err != nil {
		return nil, dbErr(ctx, err)
	}
	defer rows.Close()
	var out []receipts.Notice
	for rows.Next() {
		n, err := scanNotice(rows)
		if err != nil {
			return nil, dbErr(ctx, err)
		}
		out = append(out, n)
	}
	return out, dbErr(ctx, rows.Err())
}

// Undeclared returns the tallies of portal whose day (00:00 UTC) is in
// [from, to), by day, type, then name. It fails on a tally whose pages are
// not a JSON array of strings.
func (s *Store) Undeclared(ctx context.Context, portal string, from, to time.Time) ([]receipts.Undeclared, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT portal, day, type, name, count, first_seen, last_seen, pages FROM undeclared
		WHERE portal = $1 AND day >= $2 AND day < $3 ORDER BY day, type, name`, portal, unixCeil(from), unixCeil(to))
	if err != nil {
		return nil, dbErr(ctx, err)
	}
	return scanUndeclared(ctx, rows)
}

// scanUndeclared reads the tallies rows holds (portal, day, type, name,
// count, first_seen, last_seen, pages) and closes it. It fails on a tally
// whose pages are not a JSON array of strings.
func scanUndeclared(ctx context.Context, rows *sql.Rows) ([]receipts.Undeclared, error) {
	defer rows.Close()
	var out []receipts.Undeclared
	for rows.Next() {
		var (
			u                receipts.Undeclared
			day, first, last int64
			pages            string
		)
		if err := rows.Scan(&u.Portal, &day, &u.Type, &u.Name, &u.Count, &first, &last, &pages); err != nil {
			return nil, dbErr(ctx, err)
		}
		if err := json.Unmarshal([]byte(pages), &u.Pages); err != nil {
			return nil, fmt.Errorf("receipts/sqlite: tally %q of %q: pages: %w", u.Name, u.Portal, err)
		}
		u.Day, u.FirstSeen, u.LastSeen = time.Unix(day, 0).UTC(), time.UnixMicro(first).UTC(), time.UnixMicro(last).UTC()
		out = append(out, u)
	}
	return out, dbErr(ctx, rows.Err())
}

// unixCeil returns t in Unix seconds, rounded up: a day stored at second d
// is at or after t exactly when d >= unixCeil(t).
func unixCeil(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// Verify walks every portal's chain, in one read transaction, and returns
// a *receipts.BrokenLink for the first receipt that does not verify, or
// whose chain's head (its last receipt as recorded at append) is not its
// last stored receipt; nil when all verify.
func (s *Store) Verify(ctx context.Context) error {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return dbErr(ctx, err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT portal FROM chains UNION SELECT portal FROM anchors UNION SELECT portal FROM receipts ORDER BY 1`)
	if err != nil {
		return dbErr(ctx, err)
	}
	var portals []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return dbErr(ctx, err)
		}
		portals = append(portals, p)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return dbErr(ctx, err)
	}
	for _, p := range portals {
		if err := verifyPortal(ctx, tx, p); err != nil {
			return err
		}
	}
	return nil
}

func verifyPortal(ctx context.Context, tx *sql.Tx, portal string) error {
	anchor, err := readHead(ctx, tx, "anchors", portal)
	if err != nil {
		return dbErr(ctx, err)
	}
	top, err := readHead(ctx, tx, "chains", portal)
	if err != nil {
		return dbErr(ctx, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+receiptColumns+` FROM receipts WHERE portal = $1 ORDER BY seq`, portal)
	if err != nil {
		return dbErr(ctx, err)
	}
	defer rows.Close()
	var (
		w       row
		last    = anchor
		lastID  string
		afterID string // the receipt after the head, if any
	)
	err = receipts.VerifyChain(portal, 0, receipts.Anchor{Seq: anchor.seq, Hash: anchor.hash}, func() (*receipts.Receipt, error) {
		if !rows.Next() {
			return nil, dbErr(ctx, rows.Err())
		}
		if err := rows.Scan(w.dest()...); err != nil {
			return nil, dbErr(ctx, err)
		}
		r := new(receipts.Receipt)
		if err := w.receipt(r); err != nil {
			if w.seq != last.seq+1 {
				return nil, &receipts.BrokenLink{Portal: portal, Seq: last.seq + 1, Reason: fmt.Sprintf("receipt missing (next stored is #%d)", w.seq)}
			}
			return nil, &receipts.BrokenLink{Portal: portal, Seq: w.seq, Reason: "altered (" + err.Error() + ")"}
		}
		last, lastID = head{r.Seq, r.Hash}, r.ID
		if r.Seq == top.seq+1 {
			afterID = r.ID
		}
		return r, nil
	})
	if err != nil {
		return err
	}
	switch {
	case top.seq > last.seq:
		return &receipts.BrokenLink{Portal: portal, Seq: last.seq + 1, Reason: fmt.Sprintf("receipt missing (the chain's head is #%d)", top.seq)}
	case top.seq < last.seq:
		return &receipts.BrokenLink{Portal: portal, Seq: top.seq + 1, ReceiptID: afterID, Reason: fmt.Sprintf("inserted after the chain's head (#%d)", top.seq)}
	case top.hash != last.hash:
		return &receipts.BrokenLink{Portal: portal, Seq: last.seq, ReceiptID: lastID, Reason: "does not match the chain's head"}
	}
	return nil
}

// Stats returns the daily aggregates of portal for the UTC days whose
// 00:00 is in [from, to), read in one transaction; none is a Stats without
// days.
func (s *Store) Stats(ctx context.Context, portal string, from, to time.Time) (receipts.Stats, error) {
	b := receipts.NewStatsBuilder(portal)
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return receipts.Stats{}, dbErr(ctx, err)
	}
	defer tx.Rollback()
	lo, hi := unixCeil(from), unixCeil(to)
	read := func(query string, dest func() []any, add func()) error {
		rows, err := tx.QueryContext(ctx, query, portal, lo, hi)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := rows.Scan(dest()...); err != nil {
				return err
			}
			add()
		}
		return rows.Err()
	}
	var (
		day, rev, n int64
		lang, name  string
	)
	at := func() time.Time { return time.Unix(day, 0).UTC() }
	where := ` WHERE portal = $1 AND day >= $2 AND day < $3`
	err = errors.Join(
		read(`SELECT day, revision, lang, method, count FROM stats_decisions`+where,
			func() []any { return []any{&day, &rev, &lang, &name, &n} },
			func() { b.AddDecisions(at(), rev, lang, name, n) }),
		read(`SELECT day, revision, lang, category, count FROM stats_accepted`+where,
			func() []any { return []any{&day, &rev, &lang, &name, &n} },
			func() { b.AddAccepted(at(), rev, lang, name, n) }),
		read(`SELECT day, revision, lang, count FROM stats_impressions`+where,
			func() []any { return []any{&day, &rev, &lang, &n} },
			func() { b.AddImpressions(at(), rev, lang, n) }),
		read(`SELECT day, count FROM stats_withdrawals`+where,
			func() []any { return []any{&day, &n} },
			func() { b.AddWithdrawals(at(), n) }),
	)
	if err != nil {
		return receipts.Stats{}, dbErr(ctx, err)
	}
	return b.Stats(), nil
}

// UndeclaredPage returns one page of the portal's undeclared names summed
// over the days whose 00:00 UTC is in [from, to) (see
// receipts.Store.UndeclaredPage): the daily tallies of the limit names from
// offset, by summed count then name, and how many names there are. It
// fails on a bad limit or offset (receipts.CheckPage) and on a tally whose
// pages are not a JSON array of strings.
func (s *Store) UndeclaredPage(ctx context.Context, portal string, from, to time.Time, limit, offset int) ([]receipts.Undeclared, int, error) {
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
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT DISTINCT type, name FROM undeclared WHERE portal = $1 AND day >= $2 AND day < $3)`,
		portal, lo, hi).Scan(&total); err != nil {
		return nil, 0, dbErr(ctx, err)
	}
	rows, err := tx.QueryContext(ctx, `WITH top AS (
			SELECT type, name FROM undeclared WHERE portal = $1 AND day >= $2 AND day < $3
			GROUP BY type, name ORDER BY sum(count) DESC, type, name LIMIT $4 OFFSET $5)
		SELECT portal, day, type, name, count, first_seen, last_seen, pages FROM undeclared
		WHERE portal = $1 AND day >= $2 AND day < $3 AND (type, name) IN (SELECT type, name FROM top) ORDER BY day, type, name`,
		portal, lo, hi, limit, offset)
	if err != nil {
		return nil, 0, dbErr(ctx, err)
	}
	out, err := scanUndeclared(ctx, rows)
	return out, total, err
}
