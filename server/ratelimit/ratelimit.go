// Package ratelimit limits how often one client may call a route: a token
// bucket per client address (golang.org/x/time/rate), held in memory only and
// forgotten once idle.
package ratelimit

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is a set of token buckets, one per client address.
type Limiter struct {
	rate  rate.Limit
	burst int
	idle  time.Duration
	max   int

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns a limiter allowing each client perSecond requests per second
// on average and bursts of burst. A perSecond of 0 or less, or a burst below
// 1, disables it (every request allowed). A client idle for longer than a
// full bucket takes to refill (at least a minute) is forgotten; at most
// 100,000 clients are remembered at once.
func New(perSecond float64, burst int) *Limiter {
	l := &Limiter{rate: rate.Limit(perSecond), burst: burst, max: 100_000, buckets: map[string]*bucket{}}
	if perSecond > 0 {
		l.idle = max(time.Minute, time.Duration(float64(burst)/perSecond*float64(time.Second)))
	}
	return l
}

// Allow reports whether the client at key may make a request now; when not,
// it returns how long to wait (at least one second, as Retry-After counts).
func (l *Limiter) Allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil || l.rate <= 0 || l.burst < 1 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > l.idle || len(l.buckets) >= l.max {
		l.sweep(now)
	}
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.max {
			// Every slot holds a recently active client: refuse the new one
			// rather than grow without bound.
			return false, time.Second
		}
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, max(time.Second, time.Duration(math.Ceil(d.Seconds()))*time.Second)
	}
	return true, 0
}

// sweep forgets the clients idle for longer than l.idle.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.seen) > l.idle {
			delete(l.buckets, k)
		}
	}
	l.swept = now
}

// Len returns how many clients the limiter remembers.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// ClientKey returns the address a request is limited by: the host part of
// its RemoteAddr (the port changes with every connection), or the whole
// RemoteAddr when it has no port.
func ClientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// RetryAfter returns the Retry-After header value for d: whole seconds,
// rounded up.
func RetryAfter(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
}
