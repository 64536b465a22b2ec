package receipts

import (
	"context"
	"errors"
	"time"
)

// ErrNoStore is what None answers for every read and write: the consent
// host was started without a receipts store. The HTTP router maps it to
// 503 "this consent host keeps no receipts".
var ErrNoStore = errors.New("this consent host keeps no receipts")

// None is the Store of a host that keeps no receipts: every read and write
// fails with ErrNoStore, except ServeNotice (nothing to record) and Ping,
// Verify and Close, which succeed. It stands where a nil Store would, so
// that callers need no nil check.
type None struct{}

var _ Store = None{}

// Keeps reports whether st keeps receipts: false for nil and None.
func Keeps(st Store) bool {
	if st == nil {
		return false
	}
	_, none := st.(None)
	return !none
}

func (None) Append(context.Context, *Receipt, []Name) error { return ErrNoStore }
func (None) CountImpression(context.Context, string, int64, string, time.Time) error {
	return ErrNoStore
}
func (None) Stats(context.Context, string, time.Time, time.Time) (Stats, error) {
	return Stats{}, ErrNoStore
}
func (None) ServeNotice(context.Context, Notice, time.Time) error { return nil }
func (None) Notice(context.Context, string, string) (Notice, error) {
	return Notice{}, ErrNoStore
}
func (None) Notices(context.Context, string) ([]Notice, error) { return nil, ErrNoStore }
func (None) Consent(context.Context, string, string) ([]Receipt, error) {
	return nil, ErrNoStore
}
func (None) Export(context.Context, string, time.Time, time.Time, func(*Receipt) error) error {
	return ErrNoStore
}
func (None) Undeclared(context.Context, string, time.Time, time.Time) ([]Undeclared, error) {
	return nil, ErrNoStore
}
func (None) CountReappeared(context.Context, string, string, []ReappearedCookie, time.Time) error {
	return ErrNoStore
}
func (None) Reappeared(context.Context, string, time.Time, time.Time) ([]Reappeared, error) {
	return nil, ErrNoStore
}
func (None) UndeclaredPage(context.Context, string, time.Time, time.Time, int, int) ([]Undeclared, int, error) {
	return nil, 0, ErrNoStore
}
func (None) ReappearedPage(context.Context, string, time.Time, time.Time, int, int) ([]Reappeared, int, error) {
	return nil, 0, ErrNoStore
}
func (None) Heads(context.Context) ([]Head, error)            { return nil, ErrNoStore }
func (None) SaveCheckpoint(context.Context, Checkpoint) error { return ErrNoStore }
func (None) LatestCheckpoints(context.Context) ([]Checkpoint, error) {
	return nil, ErrNoStore
}
func (None) Checkpoints(context.Context, string) ([]Checkpoint, error) {
	return nil, ErrNoStore
}
func (None) ChainHash(context.Context, string, int, int64) (string, error) { return "", ErrNoStore }
func (None) Verify(context.Context) error                                  { return nil }
func (None) DeleteBefore(context.Context, time.Time) (int64, error)        { return 0, ErrNoStore }
func (None) Ping(context.Context) error                                    { return nil }
func (None) Close() error                                                  { return nil }
