package receipts

import (
	"context"
	"time"
)

// Follow runs refresh until ctx is done: every poll, and at once each time
// wait returns (nil: a notification, or listening (re)started; an error:
// wait again after a second). wait may be nil (poll only). failing is
// called with refresh's error when a run of failures starts, and with nil
// when refresh succeeds again after one (to log each once).
func Follow(ctx context.Context, poll time.Duration, wait func(context.Context) error, refresh func(context.Context) error, failing func(error)) {
	kick := make(chan struct{}, 1)
	if wait != nil {
		go func() {
			for ctx.Err() == nil {
				if err := wait(ctx); err != nil {
					select {
					case <-ctx.Done():
						return
					case <-time.After(time.Second):
					}
				}
				select {
				case kick <- struct{}{}:
				default:
				}
			}
		}()
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	failed := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-kick:
		}
		err := refresh(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failed:
			failing(err)
			failed = true
		case err == nil && failed:
			failing(nil)
			failed = false
		}
	}
}
