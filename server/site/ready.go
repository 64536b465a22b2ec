package site

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

const (
	// readyTimeout bounds the database's answer to a readiness check.
	readyTimeout = 2 * time.Second
	// readyFresh is how long a readiness answer is reused: a balancer
	// checks every second or two, and anyone may call /readyz, so the
	// database is asked at most once per readyFresh however often it is
	// called.
	readyFresh = time.Second
)

// readiness is the last answer of Ready, reused while fresh.
type readiness struct {
	store receipts.Store

	mu     sync.Mutex // held while the database is asked: one ping at a time
	last   sync.Mutex // guards at and reason
	at     time.Time  // of the last answer; zero before the first
	reason string     // "" when ready
}

// check returns why the database makes the host unready ("" when it
// answers within readyTimeout). It asks the database at most once per
// readyFresh; while one check waits for it, the others take the last
// answer rather than wait too.
func (s *Site) check(ctx context.Context) string {
	rd := &s.ready
	if !rd.mu.TryLock() {
		rd.last.Lock()
		reason, known := rd.reason, !rd.at.IsZero()
		rd.last.Unlock()
		if known {
			return reason
		}
		rd.mu.Lock() // the first check: wait for its answer
	}
	defer rd.mu.Unlock()
	rd.last.Lock()
	reason, at := rd.reason, rd.at
	rd.last.Unlock()
	if !at.IsZero() && time.Since(at) < readyFresh { // monotonic
		return reason
	}
	reason = ""
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
	defer cancel()
	if err := rd.store.Ping(ctx); err != nil {
		reason = "the receipts database does not answer"
	}
	rd.last.Lock()
	rd.at, rd.reason = time.Now(), reason
	rd.last.Unlock()
	return reason
}

// Ready answers a load balancer's readiness check, /readyz: 200
// {"status":"ready","portals":N} when the receipts database answers
// (Store.Ping, within 2 s) and policies are loaded, else 503
// {"status":"unready","reason":…}; never cached. The database is asked at
// most once a second, whoever calls. /healthz, by contrast, only says the
// process is up.
func (s *Site) Ready(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	n := s.cat.Len()
	reason := s.check(r.Context())
	if n == 0 {
		reason = "no portal policy is loaded"
	}
	if reason != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(struct {
			Status string `json:"status"`
			Reason string `json:"reason"`
		}{"unready", reason})
		return
	}
	json.NewEncoder(w).Encode(struct {
		Status  string `json:"status"`
		Portals int    `json:"portals"`
	}{"ready", n})
}
