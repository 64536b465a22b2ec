package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/servertest"
)

// The fleet test of issue 20's "Prove it": three hosts of the built binary
// on one PostgreSQL database behind Debian's haproxy, all on loopback.

// balancer is a running haproxy in front of hosts.
type balancer struct {
	url  string
	logs *servertest.LockedBuffer
	done chan error
}

// startHAProxy runs haproxy in front of the hosts at addrs (host:port),
// round robin, with `option forwardfor` and health checks on /readyz every
// 100 ms, on a loopback listener the test opens and hands it (fd@3: no
// port to race for). It fails the test when haproxy is not installed.
func startHAProxy(t *testing.T, addrs []string) *balancer {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		bin = "/usr/sbin/haproxy" // Debian's, outside a user's PATH
		if _, serr := os.Stat(bin); serr != nil {
			t.Fatal("haproxy is not installed: apt-get install haproxy (.ci/run installs it); the fleet test runs the hosts behind it")
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close() // haproxy has its own copy
	lf, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	var servers strings.Builder
	for i, a := range addrs {
		fmt.Fprintf(&servers, "\tserver h%d %s\n", i, a)
	}
	cfg := `global
	maxconn 2000
defaults
	mode http
	timeout connect 1s
	timeout client 30s
	timeout server 30s
	timeout http-request 10s
frontend fleet
	bind fd@3
	option forwardfor
	default_backend hosts
backend hosts
	balance roundrobin
	option httpchk GET /readyz
	default-server check inter 100ms fall 1 rise 1
` + servers.String()
	file := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", file)
	cmd.ExtraFiles = []*os.File{lf}
	b := &balancer{url: "http://" + ln.Addr().String(), logs: &servertest.LockedBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = b.logs, b.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-b.done
	})
	return b
}

// clients are HTTP clients whose connections come from distinct loopback
// addresses (127.0.x.y: the whole of 127/8 is the machine's), so that
// haproxy's X-Forwarded-For names a client of its own for each.
type clients struct {
	mu  sync.Mutex
	all map[string]*http.Client
}

// from returns the client of source address ip.
func (c *clients) from(ip string) *http.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.all[ip]; ok {
		return cl
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	cl := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4}}
	if c.all == nil {
		c.all = map[string]*http.Client{}
	}
	c.all[ip] = cl
	return cl
}

func (c *clients) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.all {
		cl.CloseIdleConnections()
	}
}

// fleetReceipt is one receipt body of a new choice of mtran, and its
// consent id.
func fleetReceipt(mtran *policy.Policy) (body, consentID string) {
	c := policy.NewConsent(mtran, time.Now(), nil)
	return fmt.Sprintf(`{"value":%q,"method":"reject-all","lang":"en","page":"https://mtran.my.opendatasoft.com/p"}`, c.Encode()), c.ID
}

// send posts body to base's receipts route of mtran with cl and returns
// the status, the receipt id answered (201, 200) and the Retry-After; a
// status of 0 is no answer (err).
func send(cl *http.Client, base, body string) (status int, receiptID, retryAfter string, err error) {
	res, err := cl.Post(base+"/portals/mtran/consents", "text/plain;charset=UTF-8", strings.NewReader(body))
	if err != nil {
		return 0, "", "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusCreated || res.StatusCode == http.StatusOK {
		var ack struct{ ReceiptID string }
		if err := json.Unmarshal(b, &ack); err != nil || ack.ReceiptID == "" {
			return res.StatusCode, "", "", fmt.Errorf("answer %d %q: %v", res.StatusCode, b, err)
		}
		receiptID = ack.ReceiptID
	}
	return res.StatusCode, receiptID, res.Header.Get("Retry-After"), nil
}

// TestFleetBehindHAProxy: three hosts of the built binary on one
// PostgreSQL database behind haproxy (option forwardfor; the hosts trust
// 127.0.0.1/32, its address, and share one checkpoint key file, and the
// database's admin token and session key):
//
//   - receipts from 50 client addresses, none refused with 429, and one
//     address past its rate refused with 429 and Retry-After;
//   - a console session made on one host is accepted by the others, and
//     once signed out refused by every host within 1 s;
//   - one host killed (SIGKILL) under load: every receipt any host
//     acknowledged is stored once, those not acknowledged (a 502 or 503
//     from the balancer) are sent again and stored once, and every chain
//     verifies against its checkpoints (-verify-receipts);
//   - a receipt refused with 503 while the database is away is sent again
//     once it is back, and stored once.
func TestFleetBehindHAProxy(t *testing.T) {
	start := time.Now()
	dsn := testPostgresDSN(t)
	mtran := defaultMtran(t)

	// One checkpoint key for every host, made before any starts.
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed)
	keyFile := filepath.Join(t.TempDir(), "checkpoint-key")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(seed)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pub := base64.StdEncoding.EncodeToString(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey))

	var hosts []*proc
	var addrs []string
	states := make([]string, 3)
	for i := range 3 {
		states[i] = t.TempDir()
		p := startServerEnv(t, []string{"XDG_STATE_HOME=" + states[i]}, dsn,
			"-trusted-proxies", "127.0.0.1/32", "-checkpoint-key", keyFile, "-checkpoint-every", "200ms",
			"-receipt-rate", "5", "-receipt-burst", "50")
		hosts = append(hosts, p)
		addrs = append(addrs, strings.TrimPrefix(p.url, "http://"))
	}
	lb := startHAProxy(t, addrs)
	var cls clients
	defer cls.close()

	// The balancer answers once its checks found the hosts ready.
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := cls.from("127.0.0.2").Get(lb.url + "/readyz")
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-lb.done:
			t.Fatalf("haproxy exited (%v):\n%s", err, lb.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy does not answer /readyz: %v\n%s", err, lb.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	var (
		mu     sync.Mutex
		stored = map[string]string{} // consent id → receipt id answered
	)
	ack := func(consentID, receiptID string) {
		mu.Lock()
		defer mu.Unlock()
		if prev, ok := stored[consentID]; ok && prev != receiptID {
			t.Errorf("consent %s answered receipt %s, then %s", consentID, prev, receiptID)
		}
		stored[consentID] = receiptID
	}

	// 50 visitors' addresses, 10 receipts each, at once: the balancer is
	// one peer, yet none is refused with 429.
	t.Run("ManyClients", func(t *testing.T) {
		var wg sync.WaitGroup
		var refused atomic.Int64
		for a := range 50 {
			ip := fmt.Sprintf("127.0.0.%d", 10+a)
			wg.Go(func() {
				for range 10 {
					body, id := fleetReceipt(mtran)
					status, rid, _, err := send(cls.from(ip), lb.url, body)
					switch {
					case err != nil:
						t.Errorf("%s: %v", ip, err)
						return
					case status == http.StatusTooManyRequests:
						refused.Add(1)
					case status != http.StatusCreated:
						t.Errorf("%s: status %d", ip, status)
					default:
						ack(id, rid)
					}
				}
			})
		}
		wg.Wait()
		if n := refused.Load(); n > 0 {
			t.Errorf("%d receipts of 500 from 50 addresses refused with 429: the hosts took the balancer for the client", n)
		}
	})

	// One address sending far past its rate (5/s, bursts of 50, per host)
	// is refused, with Retry-After.
	t.Run("OneClientPastItsRate", func(t *testing.T) {
		const ip = "127.0.0.200"
		var wg sync.WaitGroup
		var sent, refused atomic.Int64
		var retryAfter atomic.Value
		for range 8 {
			wg.Go(func() {
				for refused.Load() == 0 && sent.Add(1) <= 600 {
					body, id := fleetReceipt(mtran)
					status, rid, ra, err := send(cls.from(ip), lb.url, body)
					switch {
					case err != nil:
						t.Error(err)
						return
					case status == http.StatusTooManyRequests:
						refused.Add(1)
						retryAfter.Store(ra)
					case status == http.StatusCreated:
						ack(id, rid)
					default:
						t.Errorf("status %d", status)
					}
				}
			})
		}
		wg.Wait()
		if refused.Load() == 0 {
			t.Fatal("600 receipts from one address in a burst, none refused with 429")
		}
		if ra, _ := retryAfter.Load().(string); ra == "" {
			t.Error("429 without Retry-After")
		}
	})

	// A session made on one host opens the console on the others; signed
	// out, every host refuses it within 1 s.
	t.Run("Sessions", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(states[0], "portalconsent", "admin-token"))
		if err != nil {
			t.Fatalf("the first host's admin token: %v", err)
		}
		token := strings.TrimSpace(string(raw))
		hs := []*host{{url: hosts[0].url}, {url: hosts[1].url}, {url: hosts[2].url}}
		s := hs[0].signIn(t, token)
		for i, h := range hs {
			if !h.sees(t, s) {
				t.Errorf("host %d refuses the session made on host 0", i)
			}
		}
		hs[0].signOut(t, s)
		for i, h := range hs[1:] {
			refusedWithin(t, h, s, fmt.Sprintf("host %d, a session signed out on host 0", i+1))
		}
		if hs[0].sees(t, s) {
			t.Error("host 0 still accepts the session it signed out")
		}
	})

	// Load through the balancer from 200 addresses in turn; host 0 killed
	// once 300 receipts were acknowledged; the load goes on until 300 more
	// were. The receipts not acknowledged are sent again afterwards.
	var pending []string // bodies without a 201
	var pendingIDs []string
	t.Run("Kill9UnderLoad", func(t *testing.T) {
		var (
			acked, next atomic.Int64
			stop        = make(chan struct{})
			pmu         sync.Mutex
			wg          sync.WaitGroup
			codes       sync.Map
		)
		for range 24 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					n := next.Add(1)
					ip := fmt.Sprintf("127.0.1.%d", n%200)
					body, id := fleetReceipt(mtran)
					status, rid, _, err := send(cls.from(ip), lb.url, body)
					if err == nil && status == http.StatusCreated {
						ack(id, rid)
						acked.Add(1)
						continue
					}
					if status == http.StatusOK || status == http.StatusTooManyRequests || (status >= 400 && status < 500) {
						t.Errorf("a new receipt from %s: status %d", ip, status)
					}
					c, _ := codes.LoadOrStore(status, new(atomic.Int64))
					c.(*atomic.Int64).Add(1)
					pmu.Lock()
					pending, pendingIDs = append(pending, body), append(pendingIDs, id)
					pmu.Unlock()
				}
			})
		}
		waitFor := func(n int64, what string) {
			deadline := time.Now().Add(30 * time.Second)
			for acked.Load() < n {
				if time.Now().After(deadline) {
					close(stop)
					wg.Wait()
					t.Fatalf("%s: %d receipts acknowledged in 30 s", what, acked.Load())
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		waitFor(300, "before the kill")
		if err := hosts[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-hosts[0].done
		killedAt := acked.Load()
		waitFor(killedAt+300, "after the kill")
		close(stop)
		wg.Wait()
		summary := map[int]int64{}
		codes.Range(func(k, v any) bool { summary[k.(int)] = v.(*atomic.Int64).Load(); return true })
		t.Logf("%d acknowledged (host 0 killed after %d), not acknowledged by status: %v", acked.Load(), killedAt, summary)

		// Sent again, each is acknowledged: 201, or 200 with the receipt
		// the killed host stored before its answer was lost.
		resent := 0
		for i, body := range pending {
			status, rid, _, err := send(cls.from(fmt.Sprintf("127.0.2.%d", i%200)), lb.url, body)
			if err != nil || (status != http.StatusCreated && status != http.StatusOK) {
				t.Fatalf("resending %s: %d %v", pendingIDs[i], status, err)
			}
			if status == http.StatusOK {
				resent++
			}
			ack(pendingIDs[i], rid)
		}
		t.Logf("%d receipts not acknowledged sent again: %d had been stored (200), %d were not (201)", len(pending), resent, len(pending)-resent)
	})

	// The database goes away: a host answers 503; the receipt sent again
	// once the database is back is stored once.
	t.Run("ResentAfter503", func(t *testing.T) {
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, os.Getenv("PORTALCONSENT_TEST_POSTGRES"))
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close(ctx)
		u, _ := url.Parse(dsn)
		db := strings.TrimPrefix(u.Path, "/")
		back := func() {
			if _, err := admin.Exec(ctx, "ALTER DATABASE "+db+" ALLOW_CONNECTIONS true"); err != nil {
				t.Error(err)
			}
		}
		if _, err := admin.Exec(ctx, "ALTER DATABASE "+db+" ALLOW_CONNECTIONS false"); err != nil {
			t.Fatal(err)
		}
		var cut int
		// pg_terminate_backend waits (up to 5 s) for each to have exited.
		// Only the hosts' connections: an autovacuum worker on the database
		// is the server's own (a CI run failed trying to end one).
		if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity
			WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND usename = current_user`, db).Scan(&cut); err != nil {
			back()
			t.Fatal(err)
		}
		if cut == 0 {
			back()
			t.Fatal("the hosts had no connection to their database to cut")
		}
		body, id := fleetReceipt(mtran)
		status, _, retryAfter, err := send(cls.from("127.0.0.4"), hosts[1].url, body)
		back()
		if err != nil || status != http.StatusServiceUnavailable || retryAfter == "" {
			t.Fatalf("a receipt while the database is away: %d (Retry-After %q) %v, want 503 with Retry-After", status, retryAfter, err)
		}
		// Sent again through the balancer until a host takes it: the
		// balancer answers 503 while its checks find no host ready, and a
		// host for a second after its database failed.
		resend := func() (int, string) {
			deadline := time.Now().Add(15 * time.Second)
			for {
				status, rid, _, err := send(cls.from("127.0.0.4"), lb.url, body)
				if err != nil {
					t.Fatal(err)
				}
				if status != http.StatusServiceUnavailable {
					return status, rid
				}
				if time.Now().After(deadline) {
					t.Fatal("resent after the database came back: still 503 after 15 s")
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		status, rid := resend()
		if status != http.StatusCreated && status != http.StatusOK {
			t.Fatalf("resent after the database came back: %d", status)
		}
		ack(id, rid)
		// Sent once more (the other host, round robin): the same receipt, 200.
		status, rid = resend()
		if status != http.StatusOK {
			t.Fatalf("resent a second time: %d, want 200", status)
		}
		ack(id, rid)
	})

	// The survivors stop (signing the heads at shutdown); every receipt
	// answered is stored once, with the id answered, and every chain
	// verifies, against checkpoints signed with the shared key.
	for _, p := range hosts[1:] {
		p.cmd.Process.Signal(syscall.SIGTERM)
		if err := <-p.done; err != nil {
			t.Errorf("host stopped: %v\n%s", err, p.log())
		}
	}
	ctx := context.Background()
	st := openPostgres(t, dsn)
	missing := 0
	for consentID, receiptID := range stored {
		rs, err := st.Consent(ctx, "mtran", consentID)
		if err != nil || len(rs) != 1 || rs[0].ID != receiptID {
			missing++
			if missing <= 5 {
				t.Errorf("consent %s: stored %d receipts (%v), want the one answered, %s", consentID, len(rs), err, receiptID)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d receipts answered are not stored exactly once", missing, len(stored))
	}
	out, err := exec.Command(serverBinary(t), "-verify-receipts", "-db", dsn, "-verify-key", pub).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "every chain") || !strings.Contains(string(out), "against its latest checkpoint") {
		t.Errorf("-verify-receipts: %v\n%s", err, out)
	}
	t.Logf("%d receipts answered; fleet test %v", len(stored), time.Since(start).Round(time.Millisecond))
}
