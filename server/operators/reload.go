package operators

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Reloader keeps a Set's operators those of a file: Reload reads it again
// (SIGHUP), Watch when it changes. A file that has become invalid or
// unreadable keeps the last good operators, and the problem is logged.
type Reloader struct {
	path string
	set  *Set
	log  *slog.Logger
	// OnReload, when set, is called after each reload with its error (nil:
	// applied), for metrics.
	OnReload func(err error)

	mu sync.Mutex
	// watching, when set (by tests), is called once Watch sees the
	// directory: a change after it is not missed.
	watching func()
}

// NewReloader reads the operators file at path into set. It fails when the
// file is invalid: a server does not start on a bad file. log may be nil.
func NewReloader(path string, set *Set, log *slog.Logger) (*Reloader, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ops, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	set.SetOperators(ops)
	log.Info("operators", "file", path, "operators", len(ops))
	return &Reloader{path: path, set: set, log: log}, nil
}

// Reload reads the file again and applies it, or keeps the last good
// operators and logs why.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops, err := ReadFile(r.path)
	if err != nil {
		r.log.Error("operators file refused: the previous operators keep their access", "file", r.path, "err", err.Error())
	} else {
		r.set.SetOperators(ops)
		r.log.Info("operators reloaded", "file", r.path, "operators", len(ops))
	}
	if r.OnReload != nil {
		r.OnReload(err)
	}
	return err
}

// Watch reloads the file debounce after each burst of changes to it, until
// ctx is done. It watches the file's directory, so that an editor's save
// (a new file renamed over the old) is seen. It returns an error when the
// directory cannot be watched, else nil when ctx is done.
func (r *Reloader) Watch(ctx context.Context, debounce time.Duration) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching %s: %w", r.path, err)
	}
	defer w.Close()
	dir, name := filepath.Split(r.path)
	if dir == "" {
		dir = "."
	}
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("watching %s: %w", r.path, err)
	}
	if r.watching != nil {
		r.watching()
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Op == fsnotify.Chmod || filepath.Base(ev.Name) != name {
				continue
			}
			timer.Reset(debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			r.log.Error("watching the operators file", "file", r.path, "err", err.Error())
			timer.Reset(debounce)
		case <-timer.C:
			r.log.Info("operators file changed: reloading", "file", r.path)
			r.Reload()
		}
	}
}
