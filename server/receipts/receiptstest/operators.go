package receiptstest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// operatorsOf returns s as receipts.Operators, failing the test when the
// backend does not keep operators.
func operatorsOf(t *testing.T, s receipts.Store) receipts.Operators {
	t.Helper()
	ops, ok := s.(receipts.Operators)
	if !ok {
		t.Fatalf("%T does not implement receipts.Operators", s)
	}
	return ops
}

// Two bcrypt hashes (of tokens nobody needs: the store checks the shape
// only).
const (
	hashOne = "$2a$10$CwTycUXWue0Thq9StjUM0uJ8.bq0l5Ckx4YCjb0M0NSGF4RJ5nN/."
	hashTwo = "$2a$10$Tu7lR7bvL3c5c6Q9e8h5ZOBwqS6GQmVxY1dQm1R3bM9h7e8Q8a2Ga"
)

// testOperators checks receipts.Operators: create with its audit fields, a
// second of the same name refused, the scope and the token hash changed
// apart, malformed operators refused with nothing stored, delete, the
// generation moving at each change and only then, and a restart.
func testOperators(t *testing.T, b Backend) {
	s := open(t, b)
	ops := operatorsOf(t, s)
	ctx := context.Background()
	gen := func() int64 {
		t.Helper()
		n, err := ops.OperatorGeneration(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	list := func() []receipts.StoredOperator {
		t.Helper()
		l, err := ops.StoredOperators(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if l := list(); l == nil || len(l) != 0 {
		t.Fatalf("StoredOperators of a new database = %#v, want an empty list", l)
	}
	g0 := gen()
	at := base.Truncate(time.Microsecond)
	alice := receipts.StoredOperator{Name: "alice", TokenHash: hashOne, Portals: []string{"mtran", "shop"}, By: receipts.ByAdmin}
	got, err := ops.CreateOperator(ctx, alice, base)
	if err != nil {
		t.Fatal(err)
	}
	want := alice
	want.CreatedAt, want.UpdatedAt = at, at
	checkOperator(t, "CreateOperator", got, want)
	if g := gen(); g == g0 {
		t.Error("CreateOperator did not move the generation")
	}
	if _, err := ops.CreateOperator(ctx, receipts.StoredOperator{Name: "alice", TokenHash: hashTwo, Portals: []string{"*"}, By: receipts.ByAdmin}, base); !errors.Is(err, receipts.ErrConflict) {
		t.Errorf("a second alice: %v, want ErrConflict", err)
	}
	g1 := gen()
	for _, bad := range []receipts.StoredOperator{
		{Name: "admin", TokenHash: hashOne, Portals: []string{"*"}, By: "admin"},
		{Name: "has space", TokenHash: hashOne, Portals: []string{"*"}, By: "admin"},
		{Name: "bob", TokenHash: "plain-token", Portals: []string{"*"}, By: "admin"},
		{Name: "bob", TokenHash: hashOne, Portals: nil, By: "admin"},
		{Name: "bob", TokenHash: hashOne, Portals: []string{"*", "shop"}, By: "admin"},
		{Name: "bob", TokenHash: hashOne, Portals: []string{"Not An Id"}, By: "admin"},
		{Name: "bob", TokenHash: hashOne, Portals: []string{"shop", "shop"}, By: "admin"},
		{Name: "bob", TokenHash: hashOne, Portals: []string{"shop"}},
	} {
		if _, err := ops.CreateOperator(ctx, bad, base); err == nil || errors.Is(err, receipts.ErrUnavailable) {
			t.Errorf("CreateOperator(%+v) = %v, want a plain refusal", bad, err)
		}
	}
	if g := gen(); g != g1 || len(list()) != 1 {
		t.Errorf("refusals changed the operators: generation %d → %d, %d operators", g1, g, len(list()))
	}

	later := base.Add(time.Hour)
	got, err = ops.UpdateOperator(ctx, "alice", []string{"*"}, "", "admin", later)
	if err != nil {
		t.Fatal(err)
	}
	want.Portals, want.UpdatedAt = []string{"*"}, later.Truncate(time.Microsecond)
	checkOperator(t, "UpdateOperator portals", got, want)
	got, err = ops.UpdateOperator(ctx, "alice", nil, hashTwo, "admin", later.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want.TokenHash, want.UpdatedAt = hashTwo, later.Add(time.Minute).Truncate(time.Microsecond)
	checkOperator(t, "UpdateOperator token hash", got, want)
	if g := gen(); g == g1 {
		t.Error("UpdateOperator did not move the generation")
	}
	if _, err := ops.UpdateOperator(ctx, "nobody", []string{"*"}, "", "admin", later); !errors.Is(err, receipts.ErrNotFound) {
		t.Errorf("UpdateOperator of nobody: %v, want ErrNotFound", err)
	}
	if _, err := ops.UpdateOperator(ctx, "alice", []string{"*", "x"}, "", "admin", later); err == nil || errors.Is(err, receipts.ErrUnavailable) {
		t.Errorf("UpdateOperator with bad portals: %v, want a plain refusal", err)
	}
	if _, err := ops.CreateOperator(ctx, receipts.StoredOperator{Name: "bob", TokenHash: hashOne, Portals: []string{"twisto"}, By: "admin"}, later); err != nil {
		t.Fatal(err)
	}
	if l := list(); len(l) != 2 || l[0].Name != "alice" || l[1].Name != "bob" {
		t.Fatalf("StoredOperators = %+v, want alice and bob by name", l)
	}

	s = reopen(t, b, s)
	ops = operatorsOf(t, s)
	l := list()
	if len(l) != 2 {
		t.Fatalf("after a restart: %+v", l)
	}
	checkOperator(t, "after a restart", l[0], want)
	g2 := gen()
	if err := ops.DeleteOperator(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := ops.DeleteOperator(ctx, "alice"); !errors.Is(err, receipts.ErrNotFound) {
		t.Errorf("DeleteOperator twice: %v, want ErrNotFound", err)
	}
	if g := gen(); g == g2 {
		t.Error("DeleteOperator did not move the generation")
	}
	if l := list(); len(l) != 1 || l[0].Name != "bob" {
		t.Errorf("after deleting alice: %+v", l)
	}
}

func checkOperator(t *testing.T, what string, got, want receipts.StoredOperator) {
	t.Helper()
	if got.Name != want.Name || got.TokenHash != want.TokenHash || !slices.Equal(got.Portals, want.Portals) || got.By != want.By ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

// testOperatorsConcurrent creates one name from many goroutines at once:
// exactly one succeeds, the others get ErrConflict.
func testOperatorsConcurrent(t *testing.T, b Backend) {
	s := open(t, b)
	ops := operatorsOf(t, s)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = ops.CreateOperator(context.Background(),
				receipts.StoredOperator{Name: "carol", TokenHash: hashOne, Portals: []string{"shop"}, By: "admin"}, base)
		}()
	}
	wg.Wait()
	created := 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, receipts.ErrConflict):
			t.Errorf("a concurrent create: %v, want nil or ErrConflict", err)
		}
	}
	if created != 1 {
		t.Errorf("%d concurrent creates of one name succeeded, want 1", created)
	}
}
