package receipts

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestImpressionBuffer(t *testing.T) {
	var b ImpressionBuffer
	at := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
	for range 3 {
		if err := b.Add("shop", 4, "fr", at); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Add("shop", 4, "fr", at.Add(20*time.Hour)); err != nil {
		t.Fatal(err)
	}
	m := b.Take()
	day := AggKey{Portal: "shop", Day: Day(at), Revision: 4, Lang: "fr"}
	next := day
	next.Day = day.Day.AddDate(0, 0, 1)
	if len(m) != 2 || m[day] != 3 || m[next] != 1 {
		t.Fatalf("Take = %v", m)
	}
	if again := b.Take(); again != nil {
		t.Fatalf("Take after Take = %v, want nil", again)
	}
	b.Return(m)
	if err := b.Add("shop", 4, "fr", at); err != nil {
		t.Fatal(err)
	}
	if m := b.Take(); m[day] != 4 || m[next] != 1 {
		t.Fatalf("after Return and Add: %v", m)
	}

	// Bounded: a new row past the bound is refused, a pending one counts on.
	for i := range MaxPendingImpressions {
		if err := b.Add(fmt.Sprint("p", i), 1, "en", at); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
	}
	if err := b.Add("one-too-many", 1, "en", at); !errors.Is(err, ErrUnavailable) {
		t.Errorf("a row past the bound: %v, want ErrUnavailable", err)
	}
	if err := b.Add("p0", 1, "en", at); err != nil {
		t.Errorf("a pending row at the bound: %v", err)
	}
	if m := b.Take(); len(m) != MaxPendingImpressions || m[AggKey{Portal: "p0", Day: Day(at), Revision: 1, Lang: "en"}] != 2 {
		t.Errorf("Take at the bound: %d rows", len(m))
	}
}
