package servertest

import (
	"strings"
	"sync"
)

// LockedBuffer is a strings.Builder safe for concurrent writes: a log sink
// for a store's or a process's goroutines that a test reads afterwards.
type LockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
