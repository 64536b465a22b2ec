package catalogue

import (
	"context"
	"sync"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// ServeNotices records in the store that the notices this host serves are
// served now: those of the portals it keeps built, and of the policies it
// holds in memory (Publish). A portal's notices are recorded with its
// publication in the database, when it leaves the cache and when it
// changes, so one not built here since is not served by this host. A store
// that fails is logged; the next call (hourly, at each publication) tries
// again.
func (c *Catalogue) ServeNotices(ctx context.Context) {
	s := c.set.Load()
	built := map[string]*Portal{}
	for _, p := range c.built.all() {
		built[p.ID()] = p
	}
	var ns []receipts.Notice
	for _, id := range s.order {
		e := s.byID[id]
		if p, ok := built[id]; ok && p.entry == e {
			ns = append(ns, p.notices()...)
		} else if e.policy != nil {
			ns = append(ns, c.noticesOf(e.policy)...)
		}
	}
	c.serveNotices(ctx, ns)
}

// serveNotices records that ns are served now.
func (c *Catalogue) serveNotices(ctx context.Context, ns []receipts.Notice) {
	now := c.now().UTC()
	for _, n := range ns {
		if err := c.store.ServeNotice(ctx, n, now); err != nil {
			c.log.Error("cannot record the notices served", "portal", n.Portal, "err", err.Error())
			return
		}
	}
}

// KeepNoticesServed records the served notices every interval until ctx is
// done (Publish records them too), so that earlier revisions' last-served
// times are known across restarts (see Earlier).
func (c *Catalogue) KeepNoticesServed(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.ServeNotices(ctx)
		}
	}
}

// EarlierRevision is a stored notice of an earlier revision with its policy.
type EarlierRevision struct {
	Notice receipts.Notice
	Policy *policy.Policy
}

// Live reports whether the revision is still within its lifetime at now:
// last served less than its policy's lifetime ago. A banner or a choice of
// it may still come from a cached configuration or a standing cookie.
func (e *EarlierRevision) Live(now time.Time) bool {
	return now.Sub(e.Notice.LastServed) <= time.Duration(e.Policy.Lifetime())*24*time.Hour
}

// Earlier returns the stored notice of revision of portal in lang that was
// served last (one whose body parses as a policy), or nil when none was
// ever stored; see EarlierRevision.Live for whether it still counts. It
// fails only when the store does. The store is read at most once a minute
// per portal, and once a second when the revision sought is not among the
// notices read: another host of the database may have just published it
// (its notices are recorded with the publication).
func (c *Catalogue) Earlier(ctx context.Context, portal, lang string, revision int) (*EarlierRevision, error) {
	find := func(ns []EarlierRevision) *EarlierRevision {
		var best *EarlierRevision
		for i := range ns {
			if n := &ns[i]; n.Policy != nil && n.Notice.Revision == int64(revision) && n.Notice.Lang == lang &&
				(best == nil || n.Notice.LastServed.After(best.Notice.LastServed)) {
				best = n
			}
		}
		return best
	}
	ns, err := c.earlier.get(ctx, c.store, portal, time.Minute)
	if err != nil {
		return nil, err
	}
	if best := find(ns); best != nil {
		return best, nil
	}
	if ns, err = c.earlier.get(ctx, c.store, portal, time.Second); err != nil {
		return nil, err
	}
	return find(ns), nil
}

// earlierPortals is how many portals' stored notices are kept at most:
// past it, all are read again when next needed.
const earlierPortals = 1024

// earlierNotices caches each portal's stored notices (of earlierPortals
// portals at most).
type earlierNotices struct {
	mu     sync.Mutex
	byID   map[string][]EarlierRevision
	loaded map[string]time.Time
}

// get returns the notices of portal, read from st unless read less than
// maxAge ago.
func (e *earlierNotices) get(ctx context.Context, st receipts.Store, portal string, maxAge time.Duration) ([]EarlierRevision, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t, ok := e.loaded[portal]; ok && time.Since(t) < maxAge {
		return e.byID[portal], nil
	}
	ns, err := st.Notices(ctx, portal)
	if err != nil {
		return nil, err
	}
	out := make([]EarlierRevision, len(ns))
	for i, n := range ns {
		out[i].Notice = n
		if q, err := policy.Parse("notice", n.Body, policy.Policy{}); err == nil {
			out[i].Policy = q
		}
	}
	if e.byID == nil || len(e.byID) >= earlierPortals {
		e.byID, e.loaded = map[string][]EarlierRevision{}, map[string]time.Time{}
	}
	e.byID[portal], e.loaded[portal] = out, time.Now()
	return out, nil
}

// forget drops what is kept of portal (its policy changed).
func (e *earlierNotices) forget(portal string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byID, portal)
	delete(e.loaded, portal)
}
