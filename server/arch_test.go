package server

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/portalconsent/portalconsent"

// featurePackages are the server's feature rooms: they never import each
// other, and nothing below them imports them.
var featurePackages = []string{"server/site", "server/beacons", "server/api", "server/console"}

// rootClients may import the composition root: the binary, the browser
// harness, the browser tests and the benchmarks.
var rootClients = []string{"server/cmd/server", "server/harness", "server/e2e", "server/bench"}

// goPackage is what the import rules read of a package.
type goPackage struct {
	path     string // relative to the module: "server/api"
	standard bool
	imports  []string // of its production files
	tests    []string // of its test files, in and out of the package
}

// listPackages returns the module's packages and the standard library ones
// they use, as `go list` sees them for GOOS/GOARCH env.
func listPackages(t *testing.T, env ...string) map[string]goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-deps", "-test=false", "-f",
		"{{.ImportPath}}\t{{.Standard}}\t{{join .Imports \" \"}}\t{{join .TestImports \" \"}} {{join .XTestImports \" \"}}", module+"/...")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs := map[string]goPackage{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 4 {
			t.Fatalf("go list line %q", sc.Text())
		}
		p := goPackage{path: strings.TrimPrefix(strings.TrimPrefix(f[0], module), "/"), standard: f[1] == "true",
			imports: strings.Fields(f[2]), tests: strings.Fields(f[3])}
		if p.path == "" {
			p.path = "."
		}
		pkgs[f[0]] = p
	}
	return pkgs
}

// own returns path relative to the module, or "" for another module's.
func own(path string) string {
	if path == module {
		return "."
	}
	if rel, ok := strings.CutPrefix(path, module+"/"); ok {
		return rel
	}
	return ""
}

// TestImportRules keeps the house standing: the arrows between the
// packages go one way (README, Layout). It reads the imports with `go list`
// natively and for GOOS=js, and fails when
//   - a feature package (site, beacons, api, console) imports another one,
//     or a shared piece under server/ imports a feature package;
//   - anything but the binary, the browser harness, the browser tests and
//     the benchmarks imports the composition root (package server);
//   - policy/ imports anything but the standard library;
//   - syscall/js is imported outside wasm/.
func TestImportRules(t *testing.T) {
	var broken []string
	seen := 0
	for _, env := range [][]string{nil, {"GOOS=js", "GOARCH=wasm"}} {
		pkgs := listPackages(t, env...)
		for path, p := range pkgs {
			rel := own(path)
			if rel == "" || p.standard {
				continue
			}
			seen++
			all := append(append([]string{}, p.imports...), p.tests...)
			for _, imp := range all {
				to := own(imp)
				switch {
				case imp == "syscall/js" && rel != "wasm":
					broken = append(broken, rel+" imports syscall/js (only wasm/ may)")
				case to == "server" && rel != "server" && !slices.Contains(rootClients, rel):
					broken = append(broken, rel+" imports the composition root server")
				case slices.Contains(featurePackages, to) && to != rel && strings.HasPrefix(rel, "server/") &&
					!slices.Contains(rootClients, rel):
					broken = append(broken, rel+" imports the feature package "+to)
				}
			}
			if rel == "policy" {
				for _, imp := range p.imports {
					if q, ok := pkgs[imp]; !ok || !q.standard {
						broken = append(broken, "policy imports "+imp+" (standard library only)")
					}
				}
			}
		}
	}
	slices.Sort(broken)
	broken = slices.Compact(broken)
	for _, b := range broken {
		t.Error(b)
	}
	t.Logf("import rules: %d package builds read (native and js/wasm), %d broken arrows", seen, len(broken))
}
