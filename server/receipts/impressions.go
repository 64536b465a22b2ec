package receipts

import (
	"fmt"
	"sync"
	"time"
)

// MaxPendingImpressions bounds the rows (portal, day, revision, language)
// an ImpressionBuffer holds between two flushes.
const MaxPendingImpressions = 100_000

// ImpressionBuffer counts banners shown in memory, a count per aggregate
// row, until a store flushes them (Take) in one transaction: an impression
// costs no write of its own. What a process holds unflushed is lost if it
// is killed (SIGKILL): at most the impressions of one flush interval. The
// zero value is empty and ready to use; it is safe for concurrent use.
type ImpressionBuffer struct {
	mu      sync.Mutex
	pending map[AggKey]int64
}

// Add counts one banner shown for portal, revision and lang on at's UTC
// day. With MaxPendingImpressions rows pending it refuses a new row with
// an error wrapped in ErrUnavailable (the caller answers 503), counting
// on in the rows it holds.
func (b *ImpressionBuffer) Add(portal string, revision int64, lang string, at time.Time) error {
	k := AggKey{Portal: portal, Day: Day(at), Revision: revision, Lang: lang}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.pending[k]; !ok && len(b.pending) >= MaxPendingImpressions {
		return fmt.Errorf("%w: %d impression rows wait for the database already", ErrUnavailable, MaxPendingImpressions)
	}
	if b.pending == nil {
		b.pending = map[AggKey]int64{}
	}
	b.pending[k]++
	return nil
}

// Take returns the counts pending and empties the buffer; nil when none
// is. A store that fails to write them gives them back (Return).
func (b *ImpressionBuffer) Take() map[AggKey]int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.pending
	b.pending = nil
	return m
}

// Return adds counts Take returned back, for the next flush (past
// MaxPendingImpressions if need be: they were counted already).
func (b *ImpressionBuffer) Return(m map[AggKey]int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending == nil {
		b.pending = map[AggKey]int64{}
	}
	for k, n := range m {
		b.pending[k] += n
	}
}
