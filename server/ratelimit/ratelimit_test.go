package ratelimit

import (
	"net/http"
	"testing"
	"time"
)

func TestAllowBurstThenWait(t *testing.T) {
	l := New(2, 3)
	now := time.Unix(1_700_000_000, 0)
	for i := range 3 {
		if ok, _ := l.Allow("a", now); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("a", now)
	if ok || wait < time.Second {
		t.Fatalf("4th request: ok=%v wait=%v, want refused with at least 1s", ok, wait)
	}
	if ok, _ := l.Allow("b", now); !ok {
		t.Fatal("another client was refused: buckets must be per client")
	}
	// Refused requests take no token: half a second later one is back.
	if ok, _ := l.Allow("a", now.Add(500*time.Millisecond)); !ok {
		t.Fatal("a token refilled after 0.5 s at 2/s was refused")
	}
}

func TestDisabled(t *testing.T) {
	for _, l := range []*Limiter{nil, New(0, 10), New(10, 0)} {
		for range 100 {
			if ok, _ := l.Allow("a", time.Now()); !ok {
				t.Fatal("a disabled limiter refused a request")
			}
		}
	}
}

func TestIdleClientsForgotten(t *testing.T) {
	l := New(10, 10)
	now := time.Unix(1_700_000_000, 0)
	for _, k := range []string{"a", "b", "c"} {
		l.Allow(k, now)
	}
	if l.Len() != 3 {
		t.Fatalf("Len = %d, want 3", l.Len())
	}
	l.Allow("d", now.Add(2*time.Minute))
	if l.Len() != 1 {
		t.Fatalf("after two idle minutes Len = %d, want 1 (only d)", l.Len())
	}
}

func TestBounded(t *testing.T) {
	l := New(1, 1)
	l.max = 2
	now := time.Unix(1_700_000_000, 0)
	l.Allow("a", now)
	l.Allow("b", now)
	if ok, _ := l.Allow("c", now); ok {
		t.Fatal("a third client was let in beyond the bound")
	}
	if l.Len() != 2 {
		t.Fatalf("Len = %d, want 2", l.Len())
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:5678":  "192.0.2.1",
		"[2001:db8::1]:1": "2001:db8::1",
		"@":               "@",
	} {
		if got := ClientKey(&http.Request{RemoteAddr: in}); got != want {
			t.Errorf("ClientKey(%q) = %q, want %q", in, got, want)
		}
	}
	if got := RetryAfter(1500 * time.Millisecond); got != "2" {
		t.Errorf("RetryAfter(1.5s) = %q, want 2", got)
	}
}
