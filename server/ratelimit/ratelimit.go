// Package ratelimit limits how often one client may call a route: a token
// bucket per client address (golang.org/x/time/rate), held in memory only and
// forgotten once idle. Clients tells which address a request comes from,
// behind the proxies named trusted (X-Forwarded-For).
package ratelimit

import (
	"container/list"
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxClients is how many clients a Limiter remembers at most.
const DefaultMaxClients = 100_000

// evictPerCall bounds the idle clients one Allow forgets: the work of a
// call stays constant however many clients are remembered.
const evictPerCall = 2

// Limiter is a set of token buckets, one per client address, in order of
// last use (least recently seen at the back), so that forgetting idle
// clients takes constant time per request rather than a sweep of them all.
type Limiter struct {
	rate  rate.Limit
	burst int
	idle  time.Duration
	max   int

	mu      sync.Mutex
	buckets map[string]*list.Element // of *bucket
	lru     list.List                // *bucket, most recently seen first
}

type bucket struct {
	key  string
	lim  *rate.Limiter
	seen time.Time
}

// New returns a limiter allowing each client perSecond requests per second
// on average and bursts of burst. A perSecond of 0 or less, or a burst below
// 1, disables it (every request allowed). A client idle for longer than a
// full bucket takes to refill (at least a minute) is forgotten; at most
// DefaultMaxClients are remembered at once: beyond, the least recently seen
// is forgotten to make room for a new one (it starts again with a full
// bucket).
func New(perSecond float64, burst int) *Limiter {
	l := &Limiter{rate: rate.Limit(perSecond), burst: burst, max: DefaultMaxClients, buckets: map[string]*list.Element{}}
	if perSecond > 0 {
		l.idle = max(time.Minute, time.Duration(float64(burst)/perSecond*float64(time.Second)))
	}
	return l
}

// Allow reports whether the client at key may make a request now; when not,
// it returns how long to wait (at least one second, as Retry-After counts).
// Its work does not grow with the number of clients remembered: it forgets
// at most a few idle ones per call.
func (l *Limiter) Allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil || l.rate <= 0 || l.burst < 1 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for range evictPerCall {
		back := l.lru.Back()
		if back == nil || now.Sub(back.Value.(*bucket).seen) <= l.idle {
			break
		}
		l.remove(back)
	}
	e := l.buckets[key]
	if e == nil {
		if l.lru.Len() >= l.max {
			l.remove(l.lru.Back())
		}
		e = l.lru.PushFront(&bucket{key: key, lim: rate.NewLimiter(l.rate, l.burst)})
		l.buckets[key] = e
	} else {
		l.lru.MoveToFront(e)
	}
	b := e.Value.(*bucket)
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, max(time.Second, time.Duration(math.Ceil(d.Seconds()))*time.Second)
	}
	return true, 0
}

func (l *Limiter) remove(e *list.Element) {
	delete(l.buckets, e.Value.(*bucket).key)
	l.lru.Remove(e)
}

// Len returns how many clients the limiter remembers.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// RetryAfter returns the Retry-After header value for d: whole seconds,
// rounded up.
func RetryAfter(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
}
