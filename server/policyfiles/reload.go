package policyfiles

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/portalconsent/portalconsent/policy"
)

// Reloader serves the policy files of a directory and reloads them: each
// valid file replaces its portal, a file that has become invalid keeps the
// portal's last good policy serving (and the problem is logged), a removed
// file removes its portal, a new valid file adds one.
type Reloader struct {
	dir   string
	apply func([]Portal) error
	log   *slog.Logger

	mu      sync.Mutex
	current map[string]Portal // by file name
	// watching, when set (by tests), is called once Watch sees the
	// directory: a change after it is not missed.
	watching func()
}

// NewReloader loads the policy files of dir and hands the valid policies to
// apply (for example (*server.Server).SetPolicies), now and after each
// Reload. It returns every problem when the directory cannot be read, holds
// no policy file, or any file is invalid: a server does not start on a bad
// directory. log may be nil (no logs).
func NewReloader(dir string, apply func([]*policy.Policy) error, log *slog.Logger) (*Reloader, []error) {
	return NewPortalsReloader(dir, func(ps []Portal) error { return apply(Policies(ps)) }, log)
}

// NewPortalsReloader is NewReloader handing apply the portals with their
// files and sources (for example (*server.Server).SetPortals), so that
// they are published as managed by those files.
func NewPortalsReloader(dir string, apply func([]Portal) error, log *slog.Logger) (*Reloader, []error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ps, errs := Load(os.DirFS(dir))
	if len(errs) > 0 {
		return nil, errs
	}
	r := &Reloader{dir: dir, apply: apply, log: log, current: map[string]Portal{}}
	for _, p := range ps {
		r.current[p.File] = p
	}
	if err := apply(ps); err != nil {
		return nil, []error{err}
	}
	return r, nil
}

// Portals returns the portals served, sorted by id.
func (r *Reloader) Portals() []Portal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return sorted(r.current)
}

func sorted(m map[string]Portal) []Portal {
	var out []Portal
	for _, p := range m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Policy.ID < out[j].Policy.ID })
	return out
}

// Reload reads the directory again and applies the result (see Reloader).
// It logs each change (portal added, revision changed, portal removed) at
// Info and each problem at Error, saying whether the previous policy keeps
// serving, and returns the problems.
func (r *Reloader) Reload() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ps, errs := Load(os.DirFS(r.dir))
	next := map[string]Portal{}
	ids := map[string]bool{}
	for _, p := range ps {
		next[p.File] = p
		ids[p.Policy.ID] = true
	}
	for _, err := range errs {
		le, ok := errors.AsType[*policy.LoadError](err)
		if !ok {
			r.log.Error("reloading policies", "dir", r.dir, "err", err.Error())
			continue
		}
		prev, had := r.current[le.File]
		if had && !ids[prev.Policy.ID] {
			next[le.File] = prev
			ids[prev.Policy.ID] = true
			r.log.Error("policy file refused: the previous policy keeps serving", "file", le.File,
				"portal", prev.Policy.ID, "revision", prev.Policy.Revision, "err", err.Error())
			continue
		}
		r.log.Error("policy file refused: not served", "file", le.File, "err", err.Error())
	}
	if err := r.apply(sorted(next)); err != nil {
		r.log.Error("reloading policies: the previous policies keep serving", "dir", r.dir, "err", err.Error())
		return append(errs, err)
	}
	for file, p := range next {
		old, had := r.current[file]
		switch {
		case !had:
			r.log.Info("portal added", "portal", p.Policy.ID, "file", file, "revision", p.Policy.Revision)
		case old.Policy.Revision != p.Policy.Revision:
			r.log.Info("portal revision changed: visitors are asked again", "portal", p.Policy.ID, "file", file,
				"from", old.Policy.Revision, "revision", p.Policy.Revision)
		}
	}
	for file, p := range r.current {
		if _, ok := next[file]; !ok {
			r.log.Info("portal removed", "portal", p.Policy.ID, "file", file)
		}
	}
	if len(next) == 0 {
		r.log.Warn("no portal left to serve", "dir", r.dir)
	}
	r.current = next
	return errs
}

// DefaultDebounce is how long Watch waits after the last change in the
// directory before it reloads: an editor's save (write a temporary file,
// rename it over the old one) or a deployment of several files is a burst.
const DefaultDebounce = 250 * time.Millisecond

// Watch reloads the directory debounce after each burst of changes in it
// (files created, written, renamed or removed), until ctx is done. It returns
// an error when the directory cannot be watched, else nil when ctx is done.
func (r *Reloader) Watch(ctx context.Context, debounce time.Duration) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching %s: %w", r.dir, err)
	}
	defer w.Close()
	if err := w.Add(r.dir); err != nil {
		return fmt.Errorf("watching %s: %w", r.dir, err)
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
			if ev.Op == fsnotify.Chmod {
				continue
			}
			timer.Reset(debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			r.log.Error("watching the policy directory", "dir", r.dir, "err", err.Error())
			timer.Reset(debounce) // events may have been lost: read it all again
		case <-timer.C:
			r.log.Info("policy directory changed: reloading", "dir", r.dir)
			r.Reload()
		}
	}
}

// Check loads the policy files of fsys as a server would at start and
// returns, for an operator's CI, one line per valid portal ("id revision N
// file") and every problem (none: all good).
func Check(fsys fs.FS) (lines []string, errs []error) {
	ps, errs := Load(fsys)
	for _, p := range ps {
		lines = append(lines, fmt.Sprintf("%s revision %d %s", p.Policy.ID, p.Policy.Revision, p.File))
	}
	return lines, errs
}
