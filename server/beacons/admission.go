package beacons

import (
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/portalconsent/portalconsent/server/ratelimit"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/respond"
)

// DefaultQueue is how many beacon writes may wait for the store at once
// by default: as many as two PostgreSQL group-commit batches.
const DefaultQueue = 512

// downFor is how long, after the store answered unreachable, beacons are
// refused without asking it.
const downFor = time.Second

// Admission bounds the beacon writes (receipts, impressions, reappeared
// cookies) waiting for the store: beyond its size a beacon is refused at
// once, 503 with Retry-After, instead of parking its caller and its memory
// for seconds behind a slow database; and for a second after the store
// answered unreachable, every beacon is refused likewise without asking
// it. A 201 is still only answered once the receipt is durable. A nil
// *Admission admits everything.
type Admission struct {
	slots chan struct{}
	down  atomic.Int64 // Unix ns until which the store is taken as unreachable
}

// NewAdmission returns an Admission letting size writes wait for the store
// at once (size below 1: no bound, nil).
func NewAdmission(size int) *Admission {
	if size < 1 {
		return nil
	}
	return &Admission{slots: make(chan struct{}, size)}
}

// Waiting returns how many writes wait for the store now.
func (a *Admission) Waiting() int {
	if a == nil {
		return 0
	}
	return len(a.slots)
}

// refuse returns the refusal (503, Retry-After) of a beacon of noun
// ("receipt"…) when the store is known unreachable or every place of a is
// taken right now, else nil. The intake asks it before reading the body,
// so that a host beyond its queue refuses at the cost of the headers only;
// it takes no place: write takes one, atomically, around the store's write
// (a client trickling its body holds none), and refuses in turn when a
// beacon read meanwhile took the last.
func (a *Admission) refuse(noun string) error {
	if a == nil {
		return nil
	}
	if until := a.down.Load(); time.Now().UnixNano() < until {
		wait := time.Duration(until - time.Now().UnixNano())
		return respond.Refuse(http.StatusServiceUnavailable, "store", "the receipts database does not answer: %ss cannot be kept at the moment, retry later", noun).
			With("Retry-After", ratelimit.RetryAfter(max(wait, time.Second)))
	}
	if len(a.slots) == cap(a.slots) {
		return a.busy(noun)
	}
	return nil
}

// busy is the refusal of a beacon of noun for a full queue.
func (a *Admission) busy(noun string) error {
	return respond.Refuse(http.StatusServiceUnavailable, "busy", "too many %ss waiting for the database: retry later", noun).
		With("Retry-After", "1")
}

// write runs fn, the store write of one beacon of noun ("receipt"…),
// when a is not full and the store not known unreachable; else it returns
// the refusal (503, Retry-After) without running it. A store failure
// answered by fn is returned as is, with Retry-After set on w.
func (a *Admission) write(w http.ResponseWriter, noun string, fn func() error) error {
	if a == nil {
		return fn()
	}
	if err := a.refuse(noun); err != nil {
		return err
	}
	select {
	case a.slots <- struct{}{}:
	default:
		return a.busy(noun)
	}
	err := fn()
	<-a.slots
	if errors.Is(err, receipts.ErrUnavailable) {
		a.down.Store(time.Now().Add(downFor).UnixNano())
		w.Header().Set("Retry-After", strconv.Itoa(int(downFor/time.Second)))
	}
	return err
}
