package ratelimit

import (
	"strconv"
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
	// Each call forgets at most evictPerCall idle clients: two calls
	// forget the three.
	l.Allow("d", now.Add(2*time.Minute))
	l.Allow("d", now.Add(2*time.Minute))
	if l.Len() != 1 {
		t.Fatalf("after two idle minutes Len = %d, want 1 (only d)", l.Len())
	}
}

func TestBoundedForgetsLeastRecentlySeen(t *testing.T) {
	l := New(0.01, 1) // a token per 100 s
	l.max = 2
	now := time.Unix(1_700_000_000, 0)
	l.Allow("a", now)
	l.Allow("b", now.Add(time.Second))
	l.Allow("a", now.Add(2*time.Second)) // refused, but a is seen: b is the oldest
	if ok, _ := l.Allow("c", now.Add(3*time.Second)); !ok {
		t.Fatal("a new client was refused: the least recently seen must make room")
	}
	if l.Len() != 2 {
		t.Fatalf("Len = %d, want 2", l.Len())
	}
	// a kept its (empty) bucket; b was forgotten.
	if ok, _ := l.Allow("a", now.Add(3*time.Second)); ok {
		t.Fatal("a was forgotten instead of b, the least recently seen")
	}
}

// TestEvictionConstantWork shows that Allow does not sweep: with
// DefaultMaxClients idle clients remembered, one call forgets at most
// evictPerCall of them, and every idle client is forgotten in time by
// the calls that follow.
func TestEvictionConstantWork(t *testing.T) {
	l := New(10, 10)
	now := time.Unix(1_700_000_000, 0)
	for i := range DefaultMaxClients {
		l.Allow(strconv.Itoa(i), now)
	}
	if l.Len() != DefaultMaxClients {
		t.Fatalf("Len = %d, want %d", l.Len(), DefaultMaxClients)
	}
	later := now.Add(2 * time.Minute) // every client is idle
	l.Allow("new", later)
	if got, want := l.Len(), DefaultMaxClients-evictPerCall+1; got != want {
		t.Fatalf("after one call Len = %d, want %d: a call must forget at most %d clients", got, want, evictPerCall)
	}
	for range DefaultMaxClients / evictPerCall {
		l.Allow("new", later)
	}
	if l.Len() != 1 {
		t.Fatalf("after enough calls Len = %d, want 1: idle clients must all be forgotten", l.Len())
	}
}

// BenchmarkAllowFull measures a call with the limiter full of
// DefaultMaxClients active clients and a new client each time (each call
// forgets the least recently seen): constant time, no sweep.
func BenchmarkAllowFull(b *testing.B) {
	for _, n := range []int{1_000, DefaultMaxClients} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			l := New(5, 50)
			l.max = n
			now := time.Unix(1_700_000_000, 0)
			for i := range n {
				l.Allow(strconv.Itoa(i), now)
			}
			keys := make([]string, 1<<16)
			for i := range keys {
				keys[i] = "k" + strconv.Itoa(i)
			}
			b.ResetTimer()
			for i := range b.N {
				l.Allow(keys[i&(len(keys)-1)], now)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	if got := RetryAfter(1500 * time.Millisecond); got != "2" {
		t.Errorf("RetryAfter(1.5s) = %q, want 2", got)
	}
}
