package policyfiles

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"log/slog"

	"github.com/portalconsent/portalconsent/policy"
)

// served records what a Reloader hands to the server.
type served struct {
	mu sync.Mutex
	ps map[string]*policy.Policy
	n  int
}

func (s *served) apply(ps []*policy.Policy) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ps = map[string]*policy.Policy{}
	for _, p := range ps {
		s.ps[p.ID] = p
	}
	s.n++
	return nil
}

func (s *served) get(id string) *policy.Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ps[id]
}

func (s *served) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ps)
}

func write(t *testing.T, dir, name, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// logLines returns the messages and errors logged as JSON.
func logLines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	b.Reset()
	return out
}

func TestReloadKeepsTheLastGoodPolicy(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "demo.yaml", demo)
	write(t, dir, "other.yaml", strings.Replace(demo, "id: demo", "id: other", 1))
	var logs bytes.Buffer
	var s served
	r, errs := NewReloader(dir, s.apply, slog.New(slog.NewJSONHandler(&logs, nil)))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	first := s.get("demo")
	if first == nil || s.count() != 2 {
		t.Fatalf("served %v", s.ps)
	}

	// A broken file: the previous policy keeps serving, and the log says why.
	write(t, dir, "demo.yaml", edit(t, "duration: 2 weeks", "duration: [2 weeks"))
	errs = r.Reload()
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "demo.yaml:") {
		t.Fatalf("Reload = %v", errs)
	}
	if got := s.get("demo"); got != first {
		t.Errorf("after a broken file, served %+v", got)
	}
	lines := logLines(t, &logs)
	if len(lines) != 1 || lines[0]["level"] != "ERROR" || lines[0]["file"] != "demo.yaml" ||
		lines[0]["portal"] != "demo" || !strings.Contains(lines[0]["msg"].(string), "previous policy keeps serving") ||
		!strings.HasPrefix(lines[0]["err"].(string), "demo.yaml:22: invalid YAML:") {
		t.Errorf("logs %v", lines)
	}

	// Fixed, with a new category: the new revision serves.
	write(t, dir, "demo.yaml", edit(t, "trackers:", "  - id: marketing\n    name: Marketing\n    description: Ads.\ntrackers:"))
	if errs := r.Reload(); len(errs) > 0 {
		t.Fatal(errs)
	}
	fixed := s.get("demo")
	if fixed == nil || fixed.Revision == first.Revision {
		t.Fatalf("after the fix, served %+v (revision was %d)", fixed, first.Revision)
	}
	if _, ok := fixed.Category("marketing"); !ok {
		t.Error("the new category is not served")
	}
	lines = logLines(t, &logs)
	if len(lines) != 1 || lines[0]["msg"] != "portal revision changed: visitors are asked again" || lines[0]["portal"] != "demo" {
		t.Errorf("logs %v", lines)
	}

	// A new file whose first version is broken is not served; a removed
	// file removes its portal; a new valid file adds one.
	write(t, dir, "new.yaml", "id: new\n")
	os.Remove(filepath.Join(dir, "other.yaml"))
	write(t, dir, "third.yml", strings.Replace(demo, "id: demo", "id: third", 1))
	if errs := r.Reload(); len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "new.yaml: name: is empty") {
		t.Fatalf("Reload = %v", errs)
	}
	if s.get("new") != nil || s.get("other") != nil || s.get("third") == nil || s.count() != 2 {
		t.Errorf("served %v", s.ps)
	}
	msgs := map[string]string{}
	for _, l := range logLines(t, &logs) {
		msgs[l["msg"].(string)] = l["file"].(string)
	}
	for msg, file := range map[string]string{"policy file refused: not served": "new.yaml", "portal removed": "other.yaml", "portal added": "third.yml"} {
		if msgs[msg] != file {
			t.Errorf("no log %q for %s: %v", msg, file, msgs)
		}
	}
	var ids []string
	for _, p := range r.Portals() {
		ids = append(ids, p.Policy.ID)
	}
	if strings.Join(ids, ",") != "demo,third" {
		t.Errorf("Portals = %q", ids)
	}
}

func TestNewReloaderRefusesABadDirectory(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "demo.yaml", demo)
	write(t, dir, "a.yaml", "id: b\n")
	write(t, dir, "c.yaml", "id: [")
	var s served
	r, errs := NewReloader(dir, s.apply, nil)
	if r != nil || len(errs) != 2 || s.n != 0 {
		t.Fatalf("NewReloader = %v, %v (applied %d times)", r, errs, s.n)
	}
	if _, errs := NewReloader(filepath.Join(dir, "missing"), s.apply, nil); len(errs) != 1 {
		t.Errorf("missing directory: %v", errs)
	}
}

// TestWatch checks a burst of changes, made as editors make them (a temporary
// file renamed over the old one), is reloaded once, shortly after.
func TestWatch(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "demo.yaml", demo)
	var s served
	r, errs := NewReloader(dir, s.apply, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// The burst below is five renames 10 ms apart: the debounce must be
	// longer than any gap between two of them, which a loaded machine can
	// stretch past 100 ms (a CI run split the burst in two that way). A
	// second of quiet separates bursts here.
	watching := make(chan struct{})
	r.watching = func() { close(watching) }
	go func() { done <- r.Watch(ctx, time.Second) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	<-watching
	before := s.get("demo").Revision
	for i := range 5 {
		tmp := filepath.Join(dir, ".demo.yaml.tmp")
		write(t, dir, ".demo.yaml.tmp", demo+"lifetimeDays: "+string(rune('1'+i))+"0\n")
		if err := os.Rename(tmp, filepath.Join(dir, "demo.yaml")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.get("demo").Lifetime() != 50 {
		if time.Now().After(deadline) {
			t.Fatalf("not reloaded: lifetime %d", s.get("demo").Lifetime())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	s.mu.Lock()
	n := s.n
	s.mu.Unlock()
	if n != 2 { // the start, then one reload for the burst
		t.Errorf("applied %d times, want 2 (one reload per burst)", n)
	}
	if s.get("demo").Revision == before {
		t.Error("revision unchanged")
	}
}
