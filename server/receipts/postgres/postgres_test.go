package postgres

import (
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
			receiptstest.Run(t, receiptstest.Backend{New: b.New, Reopen: b.Reopen, Exec: b.Exec, ExecChecked: b.ExecChecked})
		})
	}
}
