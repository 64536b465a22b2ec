package operators

import (
	"context"
	"log/slog"
	"time"
)

// Kinds of Revocation.
const (
	// KindSession revokes one session: ID is its id.
	KindSession = "session"
	// KindCredential revokes the sessions of one credential issued at or
	// before At: ID is the principal's name, a space and the session's
	// credential tag.
	KindCredential = "credential"
)

// Revocation is a session, or the sessions of a credential, refused until
// Until (when they would have expired anyway).
type Revocation struct {
	Kind  string
	ID    string
	At    time.Time // when revoked, by the revoking host's clock
	Until time.Time
}

// Shared is where the hosts of one database keep their revocations, so
// that a sign-out on one host, or an operator removed there, is refused by
// all (package postgres, through the binary).
type Shared interface {
	// Publish records r for every host and tells them.
	Publish(ctx context.Context, r Revocation) error
	// Since returns the revocations still in force recorded after mark
	// (the zero time: all), and the mark to pass next time. It may return
	// some already seen: applying one twice is harmless.
	Since(ctx context.Context, mark time.Time) ([]Revocation, time.Time, error)
	// Wait returns when another host may have published a revocation, or
	// with an error when it cannot tell (the connection lost), or when ctx
	// is done.
	Wait(ctx context.Context) error
	// Prune forgets the revocations expired at now.
	Prune(ctx context.Context, now time.Time) error
}

// publishTimeout bounds Publish in a request (a sign-out).
const publishTimeout = 2 * time.Second

// Share makes s publish its revocations to sh and log sh's failures to log
// (nil: discarded); Follow applies the other hosts'. Call it before s is
// used.
func (s *Sessions) Share(sh Shared, log *slog.Logger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shared = sh
	if log != nil {
		s.log = log
	}
}

// revoke applies r here and publishes it; a revocation that cannot be
// published now is kept and published again by Follow.
func (s *Sessions) revoke(r Revocation) {
	s.apply([]Revocation{r}, r.At)
	s.mu.Lock()
	sh := s.shared
	s.mu.Unlock()
	if sh == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	if err := sh.Publish(ctx, r); err != nil {
		s.log.Error("sessions: a revocation could not reach the other hosts yet: retrying", "kind", r.Kind, "err", err.Error())
		s.mu.Lock()
		if len(s.pending) >= maxPending {
			s.pending = s.pending[1:] // the oldest: it holds here all the same
		}
		s.pending = append(s.pending, r)
		s.mu.Unlock()
	}
}

// maxPending bounds the revocations kept for publishing while the
// database is unreachable.
const maxPending = 10_000

// apply records rs and forgets the revocations expired at now.
func (s *Sessions) apply(rs []Revocation, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, until := range s.revoked {
		if now.After(until) {
			delete(s.revoked, k)
		}
	}
	for k, c := range s.creds {
		if now.After(c.until) {
			delete(s.creds, k)
		}
	}
	for _, r := range rs {
		if !now.Before(r.Until) {
			continue
		}
		switch r.Kind {
		case KindSession:
			if u, ok := s.revoked[r.ID]; !ok || r.Until.After(u) {
				s.revoked[r.ID] = r.Until
			}
		case KindCredential:
			c, ok := s.creds[r.ID]
			if !ok || r.At.After(c.at) {
				c.at = r.At
			}
			if r.Until.After(c.until) {
				c.until = r.Until
			}
			s.creds[r.ID] = c
		}
	}
}

// Follow applies the revocations of the other hosts until ctx is done:
// at once when told (Shared.Wait: PostgreSQL's LISTEN/NOTIFY), and every
// poll in any case (a notification lost with its connection), retrying
// the revocations not yet published and forgetting the expired ones in
// the database now and then. now is the clock.
func (s *Sessions) Follow(ctx context.Context, poll time.Duration, now func() time.Time) {
	s.mu.Lock()
	sh, log := s.shared, s.log
	s.mu.Unlock()
	if sh == nil {
		return
	}
	kick := make(chan struct{}, 1)
	go func() {
		deaf := false // logged once per failure, not every poll
		for ctx.Err() == nil {
			err := sh.Wait(ctx)
			if err == nil && deaf {
				deaf = false
				log.Info("sessions: told of revocations again")
			}
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				if !deaf {
					deaf = true
					log.Warn("sessions: not told of revocations (polling meanwhile)", "err", err.Error())
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(poll):
				}
			}
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	}()
	var mark, pruned time.Time
	failing := false // logged once per failure, not every poll
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		s.retryPending(ctx, sh)
		rs, next, err := sh.Since(ctx, mark)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !failing {
				failing = true
				log.Warn("sessions: cannot read the revocations (retrying every poll)", "err", err.Error())
			}
		} else {
			if failing {
				failing = false
				log.Info("sessions: reading the revocations again")
			}
			s.apply(rs, now())
			mark = next
		}
		if n := now(); n.Sub(pruned) > time.Hour {
			if err := sh.Prune(ctx, n); err == nil {
				pruned = n
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-t.C:
		}
	}
}

// retryPending publishes the revocations Publish failed on.
func (s *Sessions) retryPending(ctx context.Context, sh Shared) {
	s.mu.Lock()
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()
	var left []Revocation
	for _, r := range pending {
		if err := sh.Publish(ctx, r); err != nil {
			left = append(left, r)
		}
	}
	if len(left) > 0 {
		s.mu.Lock()
		s.pending = append(left, s.pending...)
		s.mu.Unlock()
	}
}
