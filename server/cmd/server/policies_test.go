package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/portalconsent/portalconsent/server/policyfiles"
)

func fakeAssets() fstest.MapFS {
	return fstest.MapFS{
		"embed.js":          {Data: []byte("console.log('embed', 'UI_PATH', 'UI_SRI');\n")},
		"ui.js":             {Data: []byte("console.log('ui');\n")},
		"embeds.js":         {Data: []byte("console.log('embeds');\n")},
		"beyond.js":         {Data: []byte("console.log('beyond');\n")},
		"prefs.js":          {Data: []byte("console.log('prefs');\n")},
		"banner.css":        {Data: []byte(".pc-page { margin: 0 }\n")},
		"console.css":       {Data: []byte(".pc-console { margin: 0 }\n")},
		"dist/app.wasm":     {Data: append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Repeat([]byte("fake wasm "), 64)...)},
		"dist/wasm_exec.js": {Data: []byte("globalThis.Go = class {};\n")},
	}
}

// policyDir returns a directory holding the example portal's file (as
// example.yaml) and the given files.
func policyDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "example.yaml"), policyfiles.Example(), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		status int
		stdout []string // line prefixes
		stderr []string // substrings
	}{
		{"all good", nil, 0, []string{"example revision "}, nil},
		{"a bad file", map[string]string{"twisto.yaml": "id: mtran\n"}, 1, []string{"example revision "},
			[]string{`twisto.yaml:1: id: "mtran" does not match the file name`, "twisto.yaml: name: is empty", "twisto.yaml: categories: is empty",
				"1 valid portal(s), 4 problem(s)"}},
		{"a file named after another id", map[string]string{"other.yaml": strings.Replace(string(policyfiles.Example()), "id: example", "id: other2", 1)}, 1,
			[]string{"example revision "}, []string{`other.yaml:6: id: "other2" does not match the file name: other.yaml must declare id: other`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := policyDir(t, tt.files)
			var stdout, stderr bytes.Buffer
			if got := check(dir, &stdout, &stderr); got != tt.status {
				t.Errorf("status %d, want %d (stderr %s)", got, tt.status, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			if len(lines) != len(tt.stdout) {
				t.Fatalf("stdout %q", lines)
			}
			for i, want := range tt.stdout {
				if !strings.HasPrefix(lines[i], want) || !strings.HasSuffix(lines[i], " example.yaml") {
					t.Errorf("stdout line %q, want %s… example.yaml", lines[i], want)
				}
			}
			for _, want := range tt.stderr {
				if !strings.Contains(stderr.String(), filepath.Join(dir, "")) || !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr %q lacks %q", stderr.String(), want)
				}
			}
			if len(tt.stderr) == 0 && stderr.Len() > 0 {
				t.Errorf("stderr %q", stderr.String())
			}
		})
	}
	var stderr bytes.Buffer
	if got := check(filepath.Join(t.TempDir(), "missing"), io.Discard, &stderr); got != 1 || !strings.Contains(stderr.String(), "not a directory") {
		t.Errorf("missing directory: status %d, %q", got, stderr.String())
	}
}

func TestStartRefusesBadPolicies(t *testing.T) {
	dir := policyDir(t, map[string]string{"a.yaml": "id: a\nname: A\n", "b.yaml": "id: [\n"})
	h, r, errs := start(dir, fakeAssets(), slog.New(slog.DiscardHandler))
	if h != nil || r != nil || len(errs) != 2 {
		t.Fatalf("start = %v, %v, %v", h, r, errs)
	}
	if h, r, errs := start("", fakeAssets(), slog.New(slog.DiscardHandler)); len(errs) > 0 || r != nil || len(h.Policies()) != 3 {
		t.Fatalf("built-in portals: %v", errs)
	}
}

// TestSIGHUPReloads starts on a directory, breaks and fixes a file and sends
// the reload signal: the server keeps the old policy, then serves the new.
func TestSIGHUPReloads(t *testing.T) {
	dir := policyDir(t, nil)
	h, r, errs := start(dir, fakeAssets(), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sig := make(chan os.Signal, 1)
	go reloadOn(ctx, sig, r, nil)
	// revision returns the example's revision as config.json serves it.
	revision := func() string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/portals/example/config.json", nil))
		var cfg struct {
			Policy struct{ Revision int }
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &cfg); err != nil {
			t.Fatalf("config.json: %v", err)
		}
		return strconv.Itoa(cfg.Policy.Revision)
	}
	first := revision()
	wait := func(want func(string) bool) string {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if got := revision(); want(got) {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("served %q", revision())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	os.WriteFile(filepath.Join(dir, "example.yaml"), []byte("id: example\nname: [\n"), 0o644)
	sig <- syscall.SIGHUP
	time.Sleep(200 * time.Millisecond)
	if got := revision(); got != first {
		t.Fatalf("a broken file replaced the policy: %q", got)
	}
	fixed := strings.Replace(string(policyfiles.Example()), "lifetimeDays: 182", "lifetimeDays: 90", 1)
	os.WriteFile(filepath.Join(dir, "example.yaml"), []byte(fixed), 0o644)
	sig <- syscall.SIGHUP
	wait(func(got string) bool { return got != first && got != "" })
}
