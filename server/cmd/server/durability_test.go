package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/servertest"
)

// The durability tests run the built binary: receipts posted concurrently,
// the process killed (SIGKILL) or stopped (SIGTERM) midway, restarted on the
// same database; every acknowledged receipt must be there and every chain
// verify. On SQLite and on PostgreSQL (PORTALCONSENT_TEST_POSTGRES).

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// serverBinary builds the server command once per test run.
func serverBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "portalconsent-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "server")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// testPostgresDSN returns a DSN of a new database on the test PostgreSQL
// server (servertest.PostgresDSN: failed in CI, skipped elsewhere without
// PORTALCONSENT_TEST_POSTGRES).
func testPostgresDSN(t *testing.T) string {
	t.Helper()
	return servertest.PostgresDSN(t)
}

// proc is a running server binary.
type proc struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
	mu   *sync.Mutex
	done chan error
}

// startServer runs the binary on db and waits until it serves.
func startServer(t testing.TB, db string, args ...string) *proc {
	t.Helper()
	return startServerEnv(t, []string{"XDG_STATE_HOME=" + t.TempDir(), "PORTALCONSENT_ADMIN_TOKEN=durability-test-token-0123456789"}, db, args...)
}

// startServerEnv runs the binary on db with env added to the test's
// environment (less the secrets' variables) and waits until it serves.
func startServerEnv(t testing.TB, env []string, db string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(serverBinary(t), append([]string{"-addr", "127.0.0.1:0", "-db", db, "-receipt-rate", "0"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PORTALCONSENT_ADMIN_TOKEN=") && !strings.HasPrefix(kv, "PORTALCONSENT_SESSION_KEY=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan error, 1)}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		serving := false
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			if serving {
				continue // the rest only kept: a flood's log lines cost its generator no parsing
			}
			var l struct{ Msg, URL string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "serving" && l.URL != "" {
				serving = true
				ready <- l.URL
			}
		}
		p.done <- cmd.Wait()
	}()
	select {
	case p.url = <-ready:
	case err := <-p.done:
		t.Fatalf("server exited at start (%v):\n%s", err, p.log())
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("server did not start:\n%s", p.log())
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// warm asks p for the config.json of portal, so that the portal is built
// (when first asked for, 37 languages) before a test counts what the
// server does in a given time.
func (p *proc) warm(t testing.TB, portal string) {
	t.Helper()
	res, err := http.Get(p.url + "/portals/" + portal + "/config.json")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("config.json of %s: %d", portal, res.StatusCode)
	}
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// poster posts receipts of mtran from n goroutines until stop is closed,
// and returns the consent ids acknowledged (201) and how many requests got
// no answer at all.
func poster(t *testing.T, base string, n int, stop <-chan struct{}) (acked []string, failed int) {
	mtran := defaultMtran(t)
	client := &http.Client{Timeout: 20 * time.Second}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c := policy.NewConsent(mtran, time.Now(), nil)
				body := fmt.Sprintf(`{"value":%q,"method":"reject-all","lang":"en","page":"https://mtran.my.opendatasoft.com/p","undeclared":["mystery"]}`, c.Encode())
				res, err := client.Post(base+"/portals/mtran/consents", "text/plain;charset=UTF-8", strings.NewReader(body))
				if err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					time.Sleep(5 * time.Millisecond) // the server is gone: do not spin
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusCreated {
					mu.Lock()
					acked = append(acked, c.ID)
					mu.Unlock()
				} else if res.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("POST: status %d", res.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	return acked, failed
}

// checkAcked opens db and checks every acknowledged consent has its one
// receipt and every chain verifies.
func checkAcked(t testing.TB, db string, acked []string) {
	t.Helper()
	ctx := context.Background()
	st, err := openStore(ctx, db, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lost := 0
	for _, id := range acked {
		rs, err := st.Consent(ctx, "mtran", id)
		if errors.Is(err, receipts.ErrNotFound) || len(rs) != 1 {
			lost++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged receipts lost", lost, len(acked))
	}
	if err := st.Verify(ctx); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func durabilityBackends(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "receipts.db") },
		"postgres": testPostgresDSN,
	}
}

// TestKill9LosesNoAcknowledgedReceipt posts receipts concurrently to the
// built binary, kills it with SIGKILL midway, restarts it on the same
// database, posts more, and finds every acknowledged receipt with the chains
// verifying; `server -verify-receipts` agrees.
func TestKill9LosesNoAcknowledgedReceipt(t *testing.T) {
	for name, newDB := range durabilityBackends(t) {
		t.Run(name, func(t *testing.T) {
			db := newDB(t)
			p := startServer(t, db)
			stop := make(chan struct{})
			var acked []string
			var failed int
			posted := make(chan struct{})
			go func() {
				acked, failed = poster(t, p.url, 16, stop)
				close(posted)
			}()
			// Kill it once it has acknowledged a good number.
			deadline := time.Now().Add(30 * time.Second)
			for {
				if strings.Count(p.log(), `"status":201`) >= 300 || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-p.done
			close(stop)
			<-posted
			if len(acked) < 100 {
				t.Fatalf("only %d receipts acknowledged before the kill:\n%s", len(acked), p.log())
			}
			t.Logf("%s: %d acknowledged before SIGKILL, %d requests cut", name, len(acked), failed)
			// Restart on the same database: the chains go on.
			p2 := startServer(t, db)
			stop2 := make(chan struct{})
			time.AfterFunc(500*time.Millisecond, func() { close(stop2) })
			more, _ := poster(t, p2.url, 4, stop2)
			if len(more) == 0 {
				t.Fatalf("no receipt acknowledged after the restart:\n%s", p2.log())
			}
			p2.cmd.Process.Signal(syscall.SIGTERM)
			if err := <-p2.done; err != nil {
				t.Fatalf("SIGTERM: exit %v\n%s", err, p2.log())
			}
			checkAcked(t, db, append(acked, more...))
			// Against the checkpoints of the key the server made, which
			// for PostgreSQL lives in the test's own state directory.
			key := publicKeyLog.FindStringSubmatch(p2.log())
			if key == nil {
				t.Fatalf("no checkpoint public key logged:\n%s", p2.log())
			}
			out, err := exec.Command(serverBinary(t), "-verify-receipts", "-db", db, "-verify-key", key[1]).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "against its latest checkpoint") {
				t.Errorf("-verify-receipts: %v\n%s", err, out)
			}
		})
	}
}

// TestSIGTERMFinishesReceiptsInFlight stops the binary with SIGTERM while
// receipts are being posted: it exits 0, and every receipt it acknowledged is
// stored.
func TestSIGTERMFinishesReceiptsInFlight(t *testing.T) {
	for name, newDB := range durabilityBackends(t) {
		t.Run(name, func(t *testing.T) {
			db := newDB(t)
			p := startServer(t, db)
			stop := make(chan struct{})
			var acked []string
			posted := make(chan struct{})
			go func() {
				acked, _ = poster(t, p.url, 16, stop)
				close(posted)
			}()
			for deadline := time.Now().Add(30 * time.Second); strings.Count(p.log(), `"status":201`) < 200 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			p.cmd.Process.Signal(syscall.SIGTERM)
			if err := <-p.done; err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", err, p.log())
			}
			close(stop)
			<-posted
			if !strings.Contains(p.log(), `"msg":"stopped"`) {
				t.Errorf("no clean stop logged:\n%s", p.log())
			}
			checkAcked(t, db, acked)
		})
	}
}

// TestVerifyReceiptsNamesTheBrokenLink alters a stored receipt: the
// command exits 1 naming it.
func TestVerifyReceiptsNamesTheBrokenLink(t *testing.T) {
	db := filepath.Join(t.TempDir(), "receipts.db")
	p := startServer(t, db)
	p.warm(t, "mtran")
	stop := make(chan struct{})
	time.AfterFunc(300*time.Millisecond, func() { close(stop) })
	if acked, _ := poster(t, p.url, 2, stop); len(acked) < 3 {
		t.Fatalf("only %d receipts", len(acked))
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	alterSQLite(t, db, "UPDATE receipts SET method = 'accept-all' WHERE portal = 'mtran' AND seq = 2")
	out, err := exec.Command(serverBinary(t), "-verify-receipts", "-db", db).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), `portal "mtran" broken at receipt #2`) {
		t.Fatalf("-verify-receipts on an altered receipt: %v\n%s", err, out)
	}
}

// alterSQLite runs stmt on the SQLite file db as an attacker with the file
// would: with the append-only triggers dropped first.
func alterSQLite(t *testing.T, db, stmt string) {
	t.Helper()
	conn, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.Query("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'receipts'")
	if err != nil {
		t.Fatal(err)
	}
	var triggers []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		triggers = append(triggers, n)
	}
	rows.Close()
	for _, n := range triggers {
		if _, err := conn.Exec(`DROP TRIGGER "` + n + `"`); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := conn.Exec(stmt); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("%s: %d rows", stmt, n)
	}
}

// TestPostgresGoesAwayAndComesBack cuts every connection of the server's
// PostgreSQL database (as a restart or a failover does) while the binary
// serves: receipts fail with 503 at worst, never hang or crash it, and are
// acknowledged again once the database answers; the chain verifies.
func TestPostgresGoesAwayAndComesBack(t *testing.T) {
	db := testPostgresDSN(t)
	p := startServer(t, db)
	mtran := defaultMtran(t)
	postOne := func() int {
		c := policy.NewConsent(mtran, time.Now(), nil)
		body := fmt.Sprintf(`{"value":%q,"method":"reject-all","lang":"en","page":"https://mtran.my.opendatasoft.com/p"}`, c.Encode())
		res, err := http.Post(p.url+"/portals/mtran/consents", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatalf("the server did not answer: %v", err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if code := postOne(); code != 201 {
		t.Fatalf("before: %d", code)
	}
	u, _ := url.Parse(db)
	admin, err := pgx.Connect(context.Background(), os.Getenv("PORTALCONSENT_TEST_POSTGRES"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var cut int
	err = admin.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid()`, strings.TrimPrefix(u.Path, "/")).Scan(&cut)
	if err != nil || cut == 0 {
		t.Fatalf("terminated %d connections (%v)", cut, err)
	}
	codes := map[int]int{}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code := postOne()
		codes[code]++
		if code == 201 {
			break
		}
		if code != 503 || time.Now().After(deadline) {
			t.Fatalf("after the cut: status %d (seen %v)\n%s", code, codes, p.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("after cutting %d connections: %v", cut, codes)
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	checkAcked(t, db, nil)
}
