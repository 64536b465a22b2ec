package postgres

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// chain names one chain: a portal's receipts of one writer.
type chain struct {
	portal string
	writer int
}

func (c chain) less(o chain) bool {
	return c.portal < o.portal || (c.portal == o.portal && c.writer < o.writer)
}

// Verify walks every chain (portal and writer), by portal then writer,
// within one snapshot, each on its own: each receipt must follow its anchor
// or the receipt before (see receipts.VerifyChain) and the last must be the
// chain's head in table chains (a deleted last receipt is "receipt
// missing" after the last one kept). It returns the first
// *receipts.BrokenLink, nil when every chain verifies; database failures
// are wrapped in receipts.ErrUnavailable.
//
// A retention in progress (DeleteBefore, on any host) is waited for: the
// snapshot is taken once it is done, never between its anchors and its
// months dropped.
func (s *Store) Verify(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return unavailable(ctx, "verify", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock_shared($1)", lockSettled); err != nil {
		conn.Conn().Close(context.Background()) // the lock may be held or waited for: never hand it back
		return unavailable(ctx, "verify", err)
	}
	defer func() {
		if _, err := conn.Exec(context.Background(), "SELECT pg_advisory_unlock_shared($1)", lockSettled); err != nil {
			conn.Conn().Close(context.Background())
		}
	}()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return unavailable(ctx, "verify", err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()

	heads, err := loadAnchors(ctx, tx, "chains")
	if err != nil {
		return unavailable(ctx, "verify", err)
	}
	anchors, err := loadAnchors(ctx, tx, "anchors")
	if err != nil {
		return unavailable(ctx, "verify", err)
	}
	var known []chain // chains with a head or anchor, sorted
	for c := range heads {
		known = append(known, c)
	}
	for c := range anchors {
		if _, ok := heads[c]; !ok {
			known = append(known, c)
		}
	}
	slices.SortFunc(known, func(a, b chain) int {
		return cmp.Or(strings.Compare(a.portal, b.portal), cmp.Compare(a.writer, b.writer))
	})

	rows, err := tx.Query(ctx, "SELECT "+receiptColumns+" FROM receipts ORDER BY portal, writer, seq")
	if err != nil {
		return unavailable(ctx, "verify", err)
	}
	defer rows.Close()
	var pending *receipts.Receipt // read, of the next chain
	fetch := func() (*receipts.Receipt, error) {
		if r := pending; r != nil {
			pending = nil
			return r, nil
		}
		if !rows.Next() {
			return nil, unavailable(ctx, "verify", rows.Err())
		}
		r, err := scanReceipt(rows)
		var bad *badRow
		if errors.As(err, &bad) {
			return nil, &receipts.BrokenLink{Portal: r.Portal, Writer: r.Writer, Seq: r.Seq, ReceiptID: r.ID, Reason: "altered (" + bad.Error() + ")"}
		}
		if err != nil {
			return nil, unavailable(ctx, "verify", err)
		}
		return r, nil
	}

	for {
		first, err := fetch()
		if err != nil {
			return err
		}
		// Chains without receipts before this one.
		for len(known) > 0 && (first == nil || known[0].less(chain{first.Portal, first.Writer})) {
			if err := checkHead(known[0], heads, anchorOf(anchors, known[0]), "", ""); err != nil {
				return err
			}
			known = known[1:]
		}
		if first == nil {
			return nil
		}
		c := chain{first.Portal, first.Writer}
		if len(known) > 0 && known[0] == c {
			known = known[1:]
		}
		anchor := anchorOf(anchors, c)
		last, lastID, afterHead := anchor, "", ""
		headSeq := heads[c].Seq
		next := func() (*receipts.Receipt, error) {
			r := first
			first = nil
			if r == nil {
				var err error
				if r, err = fetch(); err != nil || r == nil {
					return nil, err
				}
				if (chain{r.Portal, r.Writer}) != c {
					pending = r
					return nil, nil
				}
			}
			last, lastID = receipts.Anchor{Seq: r.Seq, Hash: r.Hash}, r.ID
			if r.Seq == headSeq+1 {
				afterHead = r.ID
			}
			return r, nil
		}
		if err := receipts.VerifyChain(c.portal, c.writer, anchor, next); err != nil {
			return err
		}
		if err := checkHead(c, heads, last, lastID, afterHead); err != nil {
			return err
		}
	}
}

// checkHead compares the last receipt kept of a chain (its anchor when none
// is) with the chain's head.
func checkHead(c chain, heads map[chain]receipts.Anchor, last receipts.Anchor, lastID, afterHeadID string) error {
	head, ok := heads[c]
	switch {
	case !ok && last.Seq == 0:
		return nil
	case !ok:
		return &receipts.BrokenLink{Portal: c.portal, Writer: c.writer, Seq: 1, Reason: "receipts without a chain head"}
	case head.Seq > last.Seq:
		return &receipts.BrokenLink{Portal: c.portal, Writer: c.writer, Seq: last.Seq + 1, Reason: fmt.Sprintf("receipt missing (the chain's head is #%d)", head.Seq)}
	case head.Seq < last.Seq:
		return &receipts.BrokenLink{Portal: c.portal, Writer: c.writer, Seq: head.Seq + 1, ReceiptID: afterHeadID, Reason: fmt.Sprintf("after the chain's head #%d (inserted)", head.Seq)}
	case head.Hash != last.Hash:
		return &receipts.BrokenLink{Portal: c.portal, Writer: c.writer, Seq: last.Seq, ReceiptID: lastID, Reason: "not the chain's head (its hash differs)"}
	}
	return nil
}

func anchorOf(anchors map[chain]receipts.Anchor, c chain) receipts.Anchor {
	if a, ok := anchors[c]; ok {
		return a
	}
	return receipts.Anchor{Seq: 0, Hash: receipts.Genesis}
}

// loadAnchors reads table (chains or anchors): chain → (seq, hash).
func loadAnchors(ctx context.Context, tx pgx.Tx, table string) (map[chain]receipts.Anchor, error) {
	rows, err := tx.Query(ctx, "SELECT portal, writer, seq, hash FROM "+table)
	if err != nil {
		return nil, err
	}
	out := map[chain]receipts.Anchor{}
	var (
		p    string
		w    int
		seq  int64
		hash []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&p, &w, &seq, &hash}, func() error {
		out[chain{p, w}] = receipts.Anchor{Seq: seq, Hash: hex.EncodeToString(hash)}
		return nil
	})
	return out, err
}

// DeleteBefore deletes the receipts received before cutoff, the tallies
// of the days before cutoff's UTC day and the aggregates of the days whose
// 00:00 is before cutoff. Per chain (portal and writer) it deletes the prefix up
// to the last receipt received before cutoff (never a receipt while
// keeping an earlier one) and records that receipt as the chain's anchor.
// It returns how many receipts it deleted.
//
// One host runs it at a time: while another holds the retention lock it
// returns 0 and nil at once, deleting nothing. It never holds a lock an
// append needs: the anchors, the tallies, the aggregates and the receipts
// of the cutoff's own month go in one transaction that locks only the rows
// it deletes (appends write receipts of now, never of a month retention
// prunes); then each month entirely before cutoff goes as a whole
// partition, detached with DETACH PARTITION … CONCURRENTLY (PostgreSQL 14
// and later; before, a plain DETACH, which holds appends for an instant)
// and dropped. A detach left pending by a host that died is finished
// first. Verify waits for it to be done (lockSettled). Database failures
// are wrapped in receipts.ErrUnavailable; a failure after the first
// transaction leaves the chains verifiable and the next run finishes.
func (s *Store) DeleteBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	cutoff = cutoff.UTC()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, unavailable(ctx, "delete before", err)
	}
	defer conn.Release()
	// Session locks, held across the transactions and the detaches: a
	// connection that fails to release them is closed, never pooled.
	var mine bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", lockRetention).Scan(&mine); err != nil {
		conn.Conn().Close(context.Background())
		return 0, unavailable(ctx, "delete before", err)
	}
	if !mine {
		if s.log != nil {
			s.log.Info("receipts: retention runs on another host")
		}
		return 0, nil
	}
	unlock := func(key int64) {
		var ok bool
		if err := conn.QueryRow(context.Background(), "SELECT pg_advisory_unlock($1)", key).Scan(&ok); err != nil || !ok {
			conn.Conn().Close(context.Background())
		}
	}
	defer unlock(lockRetention)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockSettled); err != nil {
		conn.Conn().Close(context.Background())
		return 0, unavailable(ctx, "delete before", err)
	}
	defer unlock(lockSettled)

	// A detach a dead host left pending is finished before anything else.
	deleted, err := s.finishPendingDetaches(ctx, conn.Conn())
	if err != nil {
		return 0, unavailable(ctx, "delete before", err)
	}
	edge := monthOf(cutoff).start() // months ending by it go whole
	var old []month
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		old = nil
		for _, sql := range []string{
			"SET LOCAL portalconsent.retention = 'on'",
			"SET LOCAL lock_timeout = '10s'",
		} {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `SELECT DISTINCT ON (r.portal, r.writer) r.portal, r.writer, r.seq, r.hash
			FROM (SELECT portal, writer, max(seq) AS seq FROM receipts WHERE received_at < $1 GROUP BY portal, writer) m
			JOIN receipts r ON r.portal = m.portal AND r.writer = m.writer AND r.seq = m.seq
			ORDER BY r.portal, r.writer, r.received_at`, cutoff)
		if err != nil {
			return err
		}
		var (
			portals []string
			writers []int32
			seqs    []int64
			hashes  [][]byte
			p       string
			w       int32
			seq     int64
			hash    []byte
		)
		if _, err := pgx.ForEachRow(rows, []any{&p, &w, &seq, &hash}, func() error {
			portals, writers, seqs, hashes = append(portals, p), append(writers, w), append(seqs, seq), append(hashes, slices.Clone(hash))
			return nil
		}); err != nil {
			return err
		}
		if len(portals) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO anchors AS a (portal, writer, seq, hash)
				SELECT * FROM unnest($1::text[], $4::int4[], $2::bigint[], $3::bytea[])
				ON CONFLICT (portal, writer) DO UPDATE SET seq = excluded.seq, hash = excluded.hash
				WHERE a.seq < excluded.seq`, portals, seqs, hashes, writers); err != nil {
				return err
			}
			names, err := partitions(ctx, tx)
			if err != nil {
				return err
			}
			for _, name := range names {
				if m, ok := parseMonth(name); ok && !m.end().After(edge) {
					old = append(old, m) // every receipt of it is in the prefix
				}
			}
			// The prefix in the months kept (partition pruning keeps the
			// old months, dropped whole below, out of it).
			tag, err := tx.Exec(ctx, `DELETE FROM receipts r USING unnest($1::text[], $4::int4[], $2::bigint[]) AS m(portal, writer, seq)
				WHERE r.portal = m.portal AND r.writer = m.writer AND r.seq <= m.seq AND r.received_at >= $3`, portals, seqs, edge, writers)
			if err != nil {
				return err
			}
			deleted += tag.RowsAffected()
		}
		// The last choices of receipts deleted: a later receipt of their
		// consent id withdraws nothing, as when the lookup read receipts.
		if _, err := tx.Exec(ctx, "DELETE FROM last_choices WHERE received_at < $1", cutoff); err != nil {
			return err
		}
		day := time.Date(cutoff.Year(), cutoff.Month(), cutoff.Day(), 0, 0, 0, 0, time.UTC)
		for _, table := range []string{"undeclared", "reappeared"} {
			if _, err := tx.Exec(ctx, "DELETE FROM "+table+" WHERE day < $1", day); err != nil {
				return err
			}
		}
		// The aggregates of every day retention deleted receipts of.
		for _, table := range []string{"stats_decisions", "stats_accepted", "stats_withdrawals", "stats_impressions"} {
			if _, err := tx.Exec(ctx, "DELETE FROM "+table+" WHERE day < $1", ceilDay(cutoff)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, unavailable(ctx, "delete before", err)
	}
	concurrently, err := s.detachConcurrently(ctx, conn.Conn())
	if err != nil {
		return deleted, unavailable(ctx, "delete before", err)
	}
	for _, m := range old {
		n, err := dropMonth(ctx, conn.Conn(), m.table(), concurrently)
		s.forget(m)
		if err != nil {
			return deleted, unavailable(ctx, "delete before: month "+m.table(), err)
		}
		deleted += n
	}
	return deleted, nil
}

// detachConcurrently reports whether the server has DETACH PARTITION …
// CONCURRENTLY (PostgreSQL 14 and later).
func (s *Store) detachConcurrently(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var v int
	err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&v)
	return v >= 140000, err
}

// dropMonth detaches the receipts partition name from receipts (with
// CONCURRENTLY: appends go on meanwhile; it waits for the transactions
// that may still read it) and drops it, returning how many receipts it
// held.
func dropMonth(ctx context.Context, conn *pgx.Conn, name string, concurrently bool) (int64, error) {
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+name).Scan(&n); err != nil {
		return 0, err
	}
	detach := "ALTER TABLE receipts DETACH PARTITION " + name
	if concurrently {
		detach += " CONCURRENTLY"
	} else {
		// A plain detach locks receipts: never wait long behind a reader.
		if _, err := conn.Exec(ctx, "SET lock_timeout = '10s'"); err != nil {
			return 0, err
		}
		defer conn.Exec(context.Background(), "RESET lock_timeout")
	}
	if _, err := conn.Exec(ctx, detach); err != nil {
		return 0, err
	}
	if _, err := conn.Exec(ctx, "DROP TABLE "+name); err != nil {
		return 0, err
	}
	return n, nil
}

// finishPendingDetaches finishes the detaches of receipts partitions a
// retention left pending (its host died between the two transactions of
// DETACH … CONCURRENTLY) and drops those partitions, returning how many
// receipts they held. Their receipts are before an anchor already.
func (s *Store) finishPendingDetaches(ctx context.Context, conn *pgx.Conn) (int64, error) {
	rows, err := conn.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'receipts'::regclass AND i.inhdetachpending ORDER BY c.relname`)
	if err != nil {
		if pgCode(err) == "42703" { // no inhdetachpending before PostgreSQL 14: nothing pending
			return 0, nil
		}
		return 0, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	var deleted int64
	for _, name := range names {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+name).Scan(&n); err != nil {
			return deleted, err
		}
		if _, err := conn.Exec(ctx, "ALTER TABLE receipts DETACH PARTITION "+name+" FINALIZE"); err != nil {
			return deleted, err
		}
		if _, err := conn.Exec(ctx, "DROP TABLE "+name); err != nil {
			return deleted, err
		}
		if m, ok := parseMonth(name); ok {
			s.forget(m)
		}
		deleted += n
	}
	return deleted, nil
}
