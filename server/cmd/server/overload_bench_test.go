package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
)

// Overload's shape: the sustainable rate is the 201s a second of
// overloadCallers callers posting as fast as they are answered for
// overloadProbe; then overloadFactor times that rate is offered, open loop,
// for overloadWindow over overloadConns keep-alive connections.
const (
	overloadCallers = 64
	overloadProbe   = 3 * time.Second
	overloadFactor  = 10
	overloadWindow  = 5 * time.Second
	overloadConns   = 2048
)

// BenchmarkOverload offers the receipt route of the built binary (default
// -receipt-queue) ten times the rate it sustains, on each backend. The
// server runs on CPU 0 (GOMAXPROCS=1), the benchmark's process on CPU 1
// (taskset; PostgreSQL, not ours to pin, runs on either). The generator is
// lean: each request's bytes built beforehand, written on raw keep-alive
// TCP connections, the answer read by its status line and Content-Length.
// First overloadCallers callers in a closed loop find the sustainable rate
// S (201s a second); then requests are started on a schedule at 10·S a
// second for 5 s, each on an idle connection of overloadConns; a request
// due when every connection is busy is counted, not sent. It reports the
// rate offered against the target, the requests not started, the share of
// 201, of 503 (all with Retry-After) and of anything else, the p99 of the
// 201s and of the 503s (from each request's scheduled start: the
// generator's own lag included), the server's peak resident memory (VmHWM)
// against its memory at rest (VmRSS), the CPU the server had in the probe
// and in the overload (/proc/PID/stat) and what a receipt and an answer
// cost it, the generator's own CPU (getrusage: is it the limit?), and that
// every consent answered 201 is stored and every chain verifies. Run it
// once: -bench Overload -benchtime 1x.
func BenchmarkOverload(b *testing.B) {
	if _, err := exec.LookPath("taskset"); err != nil {
		b.Fatal("taskset (util-linux) is needed to pin the server and the generator to a core each")
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		// The default host, whose limit is its CPU (group commit), and a
		// host whose limit is its store (-group-commit 0: a transaction,
		// and a flush to disk, a receipt), which a refusal costs far less
		// than a receipt: there ten times the sustainable rate can be
		// offered on this machine.
		for _, bound := range []struct{ name, groupCommit string }{{"cpu-bound", "2ms"}, {"store-bound", "0"}} {
			b.Run(backend+"/"+bound.name, func(b *testing.B) {
				for range b.N {
					overload(b, backend, "-group-commit", bound.groupCommit)
				}
			})
		}
	}
}

// overload runs the benchmark on backend, the server started with args.
func overload(b *testing.B, backend string, args ...string) {
	db := benchDB(b, backend)
	p := startServerEnv(b, []string{"XDG_STATE_HOME=" + b.TempDir(), "PORTALCONSENT_ADMIN_TOKEN=durability-test-token-0123456789", "GOMAXPROCS=1"}, db, args...)
	stopServer := sync.OnceFunc(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		<-p.done
	})
	defer stopServer()
	pid := p.cmd.Process.Pid
	taskset(b, "0", pid)
	mine, err := exec.Command("taskset", "-p", "-c", strconv.Itoa(os.Getpid())).Output()
	if err != nil {
		b.Fatal(err)
	}
	taskset(b, "1", os.Getpid())
	defer taskset(b, strings.TrimSpace(string(mine[bytes.LastIndexByte(mine, ' ')+1:])), os.Getpid())
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	rest := procStatus(pid, "VmRSS:")

	u, err := url.Parse(p.url)
	if err != nil {
		b.Fatal(err)
	}
	mtran := defaultMtran(b)
	request := func() ([]byte, string) {
		c := policy.NewConsent(mtran, time.Now(), nil)
		body := fmt.Sprintf(`{"value":%q,"method":"reject-all","lang":"en","page":"https://mtran.my.opendatasoft.com/p"}`, c.Encode())
		return fmt.Appendf(nil, "POST /portals/mtran/consents HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: %d\r\n\r\n%s",
			u.Host, len(body), body), c.ID
	}
	var acked []string

	// The sustainable rate: closed loop.
	var probe overloadTally
	var mu sync.Mutex
	var wg sync.WaitGroup
	probeCPU0 := processCPU(b, pid)
	stop := time.Now().Add(overloadProbe)
	for range overloadCallers {
		wg.Go(func() {
			c := dialRaw(b, u.Host)
			defer c.Close()
			var t overloadTally
			var ids []string
			for time.Now().Before(stop) {
				req, id := request()
				t0 := time.Now()
				a, err := c.do(req)
				if err != nil {
					b.Error(err)
					return
				}
				if t.add(a, time.Since(t0)) {
					ids = append(ids, id)
				}
			}
			mu.Lock()
			probe.merge(&t)
			acked = append(acked, ids...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	probeCPU := processCPU(b, pid) - probeCPU0
	sustained := float64(len(probe.created)) / overloadProbe.Seconds()
	afterProbe := procStatus(pid, "VmHWM:")

	// Ten times that, open loop: every request built and every connection
	// open before the clock starts.
	target := overloadFactor * sustained
	n := int(math.Ceil(target * overloadWindow.Seconds()))
	reqs := make([][]byte, n)
	ids := make([]string, n)
	for i := range reqs {
		reqs[i], ids[i] = request()
	}
	conns := make([]*rawConn, overloadConns)
	for i := range conns {
		conns[i] = dialRaw(b, u.Host)
	}
	work := make(chan int) // unbuffered: a send succeeds only to an idle connection
	tallies := make([]overloadTally, overloadConns)
	var start time.Time
	for i, c := range conns {
		wg.Go(func() {
			defer func() { c.Close() }()
			t := &tallies[i]
			for k := range work {
				a, err := c.do(reqs[k])
				if err != nil {
					t.errs = append(t.errs, err)
					if c, err = redial(u.Host); err != nil {
						t.errs = append(t.errs, err)
						return
					}
					continue
				}
				due := start.Add(time.Duration(float64(k) / target * float64(time.Second)))
				if t.add(a, time.Since(due)) {
					t.acked = append(t.acked, k)
				}
			}
		})
	}
	notStarted := 0
	serverCPU0, genCPU0 := processCPU(b, pid), selfCPU()
	start = time.Now()
	next := 0
	for next < n {
		due := min(n, int(target*time.Since(start).Seconds())+1)
		for ; next < due; next++ {
			select {
			case work <- next:
			default:
				notStarted++
			}
		}
		time.Sleep(100 * time.Microsecond)
	}
	window := time.Since(start)
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	serverCPU, genCPU := processCPU(b, pid)-serverCPU0, selfCPU()-genCPU0
	peak := procStatus(pid, "VmHWM:")

	var run overloadTally
	for i := range tallies {
		run.merge(&tallies[i])
		for _, k := range tallies[i].acked {
			acked = append(acked, ids[k])
		}
	}
	answered := len(run.created) + len(run.busy) + run.other + len(run.errs)
	offered := float64(n-notStarted) / window.Seconds()
	// The CPU the server had for the overload (its answers drained after
	// the window included), and what each answer cost it.
	serverShare := 100 * serverCPU.Seconds() / elapsed.Seconds()
	perAnswer := serverCPU / time.Duration(max(answered, 1))
	share := func(k int) float64 { return 100 * float64(k) / float64(answered) }
	b.ReportMetric(sustained, "sustained-receipts/s")
	b.ReportMetric(offered, "offered-requests/s")
	b.ReportMetric(float64(notStarted), "not-started")
	b.ReportMetric(share(len(run.created)), "201-%")
	b.ReportMetric(share(len(run.busy)), "503-%")
	b.ReportMetric(ms(p99(run.created)), "p99-201-ms")
	b.ReportMetric(ms(p99(run.busy)), "p99-503-ms")
	b.ReportMetric(offered/sustained, "multiple-offered")
	b.ReportMetric(serverShare, "server-cpu-%")
	b.ReportMetric(float64(perAnswer.Microseconds()), "server-cpu-µs/answer")
	b.Logf("%s: sustained %.0f receipts/s (%d callers, p99 %v; the server had %.0f %% of a core, %v of CPU a receipt); offered %.0f requests/s (%.1f×) against %.0f (%d of %d not started: every connection busy); "+
		"201 %.1f %%, 503 with Retry-After %.1f %%, other %d, transport errors %d; p99 of the 201s %v, of the 503s %v; "+
		"server memory at rest %s, peak %s after the probe, %s after the overload; "+
		"the server had %.0f %% of a core for %v (%v of CPU: %v an answer, %.0f answers a CPU-second), the generator %.0f %%",
		b.Name(), sustained, overloadCallers, p99(probe.created),
		100*probeCPU.Seconds()/overloadProbe.Seconds(), probeCPU/time.Duration(max(len(probe.created), 1)), offered, offered/sustained, target, notStarted, n,
		share(len(run.created)), share(len(run.busy)), run.other, len(run.errs), p99(run.created), p99(run.busy), rest, afterProbe, peak,
		serverShare, elapsed.Round(time.Millisecond), serverCPU.Round(time.Millisecond), perAnswer, float64(answered)/serverCPU.Seconds(), 100*genCPU.Seconds()/elapsed.Seconds())
	if run.other > 0 || len(run.errs) > 0 || probe.other > 0 {
		b.Errorf("%d answers other than 201 and 503 with Retry-After (%d in the probe), %d transport errors %v", run.other, probe.other, len(run.errs), run.errs[:min(3, len(run.errs))])
	}
	stopServer()
	checkAcked(b, db, acked)
}

// processCPU returns the CPU time process pid has used (user and system,
// from /proc: clock ticks of 10 ms).
func processCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command's closing parenthesis: state is the
	// 3rd field of the line, utime the 14th and stime the 15th.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		b.Fatalf("/proc/%d/stat: %v", pid, err)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// selfCPU returns the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ms returns d in milliseconds.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// p99 returns the 99th percentile of ds (sorted in place), 0 for none.
func p99(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)*99/100]
}

// taskset pins every thread of process pid to cpus (taskset's list).
func taskset(b *testing.B, cpus string, pid int) {
	if out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(pid)).CombinedOutput(); err != nil {
		b.Fatalf("taskset %s %d: %v\n%s", cpus, pid, err, out)
	}
}

// overloadTally is what one caller or connection saw.
type overloadTally struct {
	created, busy []time.Duration // the latencies of the 201s and the 503s
	other         int             // any other answer, a 503 without Retry-After included
	errs          []error
	acked         []int // the requests answered 201
}

// add counts answer a, given after d, and says whether it is a 201.
func (t *overloadTally) add(a rawAnswer, d time.Duration) bool {
	switch {
	case a.status == 201:
		t.created = append(t.created, d)
		return true
	case a.status == 503 && a.retryAfter:
		t.busy = append(t.busy, d)
	default:
		t.other++
	}
	return false
}

func (t *overloadTally) merge(o *overloadTally) {
	t.created = append(t.created, o.created...)
	t.busy = append(t.busy, o.busy...)
	t.other += o.other
	t.errs = append(t.errs, o.errs...)
}

// rawConn is one keep-alive HTTP/1.1 connection read with the least
// parsing: the status line, Content-Length, Retry-After and Connection.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

// rawAnswer is what the generator reads of an answer.
type rawAnswer struct {
	status     int
	retryAfter bool
}

func redial(addr string) (*rawConn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &rawConn{Conn: c, r: bufio.NewReaderSize(c, 4096)}, nil
}

func dialRaw(b *testing.B, addr string) *rawConn {
	c, err := redial(addr)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// do writes req and reads its answer; an answer that closes the
// connection is an error (the route keeps it for bodies within bounds).
func (c *rawConn) do(req []byte) (rawAnswer, error) {
	var a rawAnswer
	if _, err := c.Write(req); err != nil {
		return a, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return a, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return a, fmt.Errorf("not an HTTP/1.1 status line: %q", line)
	}
	if a.status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return a, fmt.Errorf("status line %q: %v", line, err)
	}
	length := -1
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return a, err
		}
		if len(h) <= 2 {
			break
		}
		k, v, _ := bytes.Cut(h, []byte(":"))
		v = bytes.TrimSpace(v)
		switch strings.ToLower(string(k)) {
		case "content-length":
			if length, err = strconv.Atoi(string(v)); err != nil {
				return a, fmt.Errorf("Content-Length %q", v)
			}
		case "retry-after":
			a.retryAfter = len(v) > 0
		case "connection":
			if bytes.EqualFold(v, []byte("close")) {
				return a, errors.New("the server closes the connection")
			}
		}
	}
	if length < 0 {
		return a, fmt.Errorf("status %d without Content-Length", a.status)
	}
	_, err = c.r.Discard(length)
	return a, err
}
