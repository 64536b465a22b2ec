package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/portalconsent/portalconsent/server/receipts/receiptstest"
)

// TestContract runs the receipts.Store contract suite with group commit on
// (the default window) and off.
func TestContract(t *testing.T) {
	serverDSN(t)
	for _, c := range []struct {
		name string
		opts []Option
	}{
		{"GroupCommit", nil},
		{"NoGroupCommit", []Option{GroupCommit(0)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := backend{c.opts}
			receiptstest.Run(t, receiptstest.Backend{New: b.New, Reopen: b.Reopen, Exec: b.Exec, ExecChecked: b.ExecChecked,
				NewLogged: b.NewLogged, Host: b.Host})
		})
	}
}

// TestBackfill checks that 0002_stats.sql computes, for the receipts stored
// before it, the aggregates Append would have.
func TestBackfill(t *testing.T) {
	_, dsn := newDatabase(t)
	s := openStore(t, dsn)
	receiptstest.Backfill(t, s, func() {
		mig, err := migrationFiles.ReadFile("migrations/0002_stats.sql")
		if err != nil {
			t.Fatal(err)
		}
		_, backfill, ok := strings.Cut(string(mig), "-- The aggregates of the receipts stored before this migration.")
		if !ok {
			t.Fatal("0002_stats.sql has no backfill")
		}
		ctx := context.Background()
		if _, err := s.pool.Exec(ctx, "TRUNCATE stats_decisions, stats_accepted, stats_withdrawals, stats_impressions"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.pool.Exec(ctx, backfill); err != nil {
			t.Fatal(err)
		}
	})
}
