package postgres

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// month is a calendar month of UTC, the range of one receipts partition.
type month struct {
	year int
	mon  time.Month
}

func monthOf(t time.Time) month {
	t = t.UTC()
	return month{t.Year(), t.Month()}
}

func (m month) start() time.Time { return time.Date(m.year, m.mon, 1, 0, 0, 0, 0, time.UTC) }
func (m month) end() time.Time   { return m.start().AddDate(0, 1, 0) }
func (m month) next() month      { return monthOf(m.end()) }

// table is the partition's name, receipts_YYYY_MM.
func (m month) table() string { return fmt.Sprintf("receipts_%04d_%02d", m.year, int(m.mon)) }

var partitionName = regexp.MustCompile(`^receipts_([0-9]{4})_([0-9]{2})$`)

// parseMonth returns the month of a partition's name; ok is false for a
// name of another form.
func parseMonth(name string) (m month, ok bool) {
	sub := partitionName.FindStringSubmatch(name)
	if sub == nil {
		return month{}, false
	}
	y, _ := strconv.Atoi(sub[1])
	mo, _ := strconv.Atoi(sub[2])
	if mo < 1 || mo > 12 {
		return month{}, false
	}
	return month{y, time.Month(mo)}, true
}

// EnsurePartitions creates, when missing, the receipts partitions of now's
// month and the next (UTC). The store calls it at Open and daily; calling it
// from several processes at once is safe. Database failures are wrapped in
// receipts.ErrUnavailable.
func (s *Store) EnsurePartitions(ctx context.Context, now time.Time) error {
	m := monthOf(now)
	return s.ensureMonths(ctx, []month{m, m.next()})
}

// ensureMonths creates the partitions of months the store does not know to
// exist, in one short transaction of its own that holds an advisory lock
// (so that processes creating one at once do not collide).
func (s *Store) ensureMonths(ctx context.Context, months []month) error {
	s.partsMu.Lock()
	var missing []month
	for _, m := range months {
		if !s.parts[m] {
			missing = append(missing, m)
		}
	}
	s.partsMu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	for _, m := range missing {
		if m.year < 1 || m.year > 9999 {
			return fmt.Errorf("postgres: receipt time in year %d", m.year)
		}
	}
	err := pgx.BeginFunc(ctx, s.wpool, func(tx pgx.Tx) error {
		// Creating a partition locks the parent table: do not wait behind
		// a long reader forever.
		if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '10s'"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockPartitions); err != nil {
			return err
		}
		for _, m := range missing {
			var exists bool
			if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", m.table()).Scan(&exists); err != nil {
				return err
			}
			if exists {
				continue
			}
			sql := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF receipts FOR VALUES FROM ('%s') TO ('%s')",
				m.table(), m.start().Format("2006-01-02 15:04:05Z07:00"), m.end().Format("2006-01-02 15:04:05Z07:00"))
			if _, err := tx.Exec(ctx, sql); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return unavailable(ctx, "create partitions", err)
	}
	s.partsMu.Lock()
	for _, m := range missing {
		s.parts[m] = true
	}
	s.partsMu.Unlock()
	return nil
}

// forget drops months from the store's knowledge of existing partitions
// (after retention dropped them, or an insert found none).
func (s *Store) forget(months ...month) {
	s.partsMu.Lock()
	defer s.partsMu.Unlock()
	if months == nil {
		clear(s.parts)
		return
	}
	for _, m := range months {
		delete(s.parts, m)
	}
}

// partitions returns the receipts partitions, by name; querier is a pool or
// transaction.
func partitions(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'receipts'::regclass ORDER BY c.relname`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
