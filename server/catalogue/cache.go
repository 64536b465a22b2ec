package catalogue

import (
	"container/list"
	"sync"
)

// DefaultCacheBytes is the default cap of what a catalogue keeps built
// (see New and Portal.weight): some 1,700 portals of two languages with the
// default banner stylesheet (about 75 KB each).
const DefaultCacheBytes = 128 << 20

// cache keeps the portals built (their configurations, notices, themes),
// least recently used first out when their weights pass max bytes.
type cache struct {
	mu      sync.Mutex
	max     int64
	size    int64
	lru     list.List // of *Portal, most recently used at the front
	byID    map[string]*list.Element
	flights map[*entry]*flight
}

// flight is one build of a portal under way: others asking for it wait.
type flight struct {
	done chan struct{}
	p    *Portal
	err  error
}

func newCache(max int64) *cache {
	return &cache{max: max, byID: map[string]*list.Element{}, flights: map[*entry]*flight{}}
}

// get returns the portal built for e, or nil.
func (c *cache) get(e *entry) *Portal {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[e.version.Portal]
	if !ok || el.Value.(*Portal).entry != e {
		return nil
	}
	c.lru.MoveToFront(el)
	return el.Value.(*Portal)
}

// peek returns the portal built for id whatever its entry, or nil, without
// counting it as used.
func (c *cache) peek(id string) *Portal {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		return el.Value.(*Portal)
	}
	return nil
}

// add keeps p (replacing what was kept for its portal) unless it alone
// weighs more than the cap, and returns the portals evicted to make room.
func (c *cache) add(p *Portal) (evicted []*Portal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(p.ID())
	if p.weight > c.max {
		return nil
	}
	c.byID[p.ID()] = c.lru.PushFront(p)
	c.size += p.weight
	for c.size > c.max {
		old := c.lru.Back().Value.(*Portal)
		c.removeLocked(old.ID())
		evicted = append(evicted, old)
	}
	return evicted
}

// remove drops what is kept for id and returns it, or nil.
func (c *cache) remove(id string) *Portal {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.removeLocked(id)
}

func (c *cache) removeLocked(id string) *Portal {
	el, ok := c.byID[id]
	if !ok {
		return nil
	}
	p := c.lru.Remove(el).(*Portal)
	delete(c.byID, id)
	c.size -= p.weight
	return p
}

// all returns the portals kept.
func (c *cache) all() []*Portal {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Portal, 0, len(c.byID))
	for el := c.lru.Front(); el != nil; el = el.Next() {
		out = append(out, el.Value.(*Portal))
	}
	return out
}

// stats returns how many portals are kept and their weight in bytes.
func (c *cache) stats() (n int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID), c.size
}

// join returns the build of e under way, or starts one (first true): the
// caller then builds and calls land.
func (c *cache) join(e *entry) (f *flight, first bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.flights[e]; ok {
		return f, false
	}
	f = &flight{done: make(chan struct{})}
	c.flights[e] = f
	return f, true
}

// land ends the build f of e with its outcome.
func (c *cache) land(e *entry, f *flight, p *Portal, err error) {
	c.mu.Lock()
	delete(c.flights, e)
	c.mu.Unlock()
	f.p, f.err = p, err
	close(f.done)
}
