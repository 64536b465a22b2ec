package bench

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/receipts/postgres"
	"github.com/portalconsent/portalconsent/server/receipts/receiptstest"
)

// hostsWindow is how long BenchmarkHosts appends for each count of hosts
// (HOSTS_WINDOW, a Go duration, to change it).
func hostsWindow() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("HOSTS_WINDOW")); err == nil && d > 0 {
		return d
	}
	return 10 * time.Second
}

// hostsAppenders is how many goroutines append in all, spread evenly over
// the hosts: the same offered load whatever their number.
const hostsAppenders = 96

// BenchmarkHosts measures one, two and three hosts on one PostgreSQL
// database, each host a store of its own (postgres.Open: its own pools,
// its own writer), all appending to one busy portal, every receipt
// reporting the same undeclared cookie (the case in which hosts used to
// wait on each other: every batch locked the portal's chain head row, then
// the name's tally row). For each count it reports the receipts committed per second,
// the p99 of Append, and how long the database's backends waited on locks
// per 10,000 receipts: a sampler counts, every millisecond, the backends
// of the database waiting on a lock (pg_blocking_pids) and adds that count
// times the time since its last sample (backend-milliseconds), in all and
// of those blocked by another host's session (told apart by
// application_name) on anything but a table's extension (its file
// growing, a lock of storage every inserter of the table shares for
// microseconds). It reports too the CPU time the database's backends spent
// per receipt (from /proc: the server must be on this machine; its
// background processes, such as the WAL writer, are left out). Every chain
// verifies afterwards. Run it once: -bench Hosts -benchtime 1x (HOSTS_WINDOW, default
// 10s, per count of hosts).
func BenchmarkHosts(b *testing.B) {
	for range b.N {
		for hosts := 1; hosts <= 3; hosts++ {
			b.Run(strconv.Itoa(hosts), func(b *testing.B) {
				b.StopTimer()
				dsn := benchDatabase(b)
				ctx := context.Background()
				var stores []*postgres.Store
				for i := range hosts {
					// Each host's sessions are named, so that the sampler
					// tells waits between hosts from those within one.
					s, err := postgres.Open(ctx, dsn+"&application_name=host"+strconv.Itoa(i))
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close()
					stores = append(stores, s)
				}
				sampler, err := pgx.Connect(ctx, dsn)
				if err != nil {
					b.Fatal(err)
				}
				defer sampler.Close(ctx)
				cpu0 := backendsCPU(b, sampler)
				b.StartTimer()
				rate, p99, waited, between, n := appendFromHosts(b, stores, sampler, hostsWindow())
				b.StopTimer()
				cpu := backendsCPU(b, sampler).since(cpu0)
				for _, s := range stores {
					if err := s.Verify(ctx); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(rate, "receipts/s")
				b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(waited.Microseconds())/1000/float64(n)*10_000, "lock-wait-ms/10k")
				b.ReportMetric(float64(between.Microseconds())/1000/float64(n)*10_000, "between-hosts-ms/10k")
				b.ReportMetric(float64(cpu.Microseconds())/float64(n), "pg-cpu-µs/receipt")
				b.Logf("%d hosts: %d receipts in %v, %.0f/s, p99 %v, %v waiting on locks, %v of it on another host", hosts, n, hostsWindow(), rate, p99, waited, between)
			})
		}
	}
}

// hostsUndeclared is the undeclared name every receipt of BenchmarkHosts
// reports: one cookie most pages of a portal set (an analytics cookie its
// policy does not declare), so that every batch of every host tallies the
// same name of the same day.
var hostsUndeclared = receipts.Cookies("_ga")

// appendFromHosts runs hostsAppenders goroutines, spread over stores, each
// appending receipts of portal shop, for window; it returns the receipts
// committed per second, the p99 of Append, the lock wait sampled through
// sampler (see BenchmarkHosts), in all and on another host, and the count
// of receipts.
func appendFromHosts(b *testing.B, stores []*postgres.Store, sampler *pgx.Conn, window time.Duration) (rate float64, p99, waited, between time.Duration, n int) {
	var (
		mu     sync.Mutex
		lat    []time.Duration
		failed atomic.Int64
		stop   = make(chan struct{})
		wg     sync.WaitGroup
	)
	for i := range hostsAppenders {
		s := stores[i%len(stores)]
		wg.Go(func() {
			var mine []time.Duration
			defer func() {
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
			for {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				if err := s.Append(context.Background(), receiptstest.BenchReceipt("shop"), hostsUndeclared); err != nil {
					failed.Add(1)
					return
				}
				mine = append(mine, time.Since(t0))
			}
		})
	}
	sampled := make(chan [2]time.Duration)
	go func() {
		var sum, other time.Duration
		last := time.Now()
		for {
			select {
			case <-stop:
				sampled <- [2]time.Duration{sum, other}
				return
			default:
			}
			var waiting, onOther int64
			// Waits on another host's session, but for the extension of a
			// table's file (every inserter of a table shares it, for
			// microseconds: storage, not the chains' logic).
			err := sampler.QueryRow(context.Background(), `SELECT count(DISTINCT a.pid),
					count(DISTINCT a.pid) FILTER (WHERE o.application_name <> a.application_name
						AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted AND l.locktype = 'extend'))
				FROM pg_stat_activity a
				CROSS JOIN LATERAL unnest(pg_blocking_pids(a.pid)) AS bl(pid)
				JOIN pg_stat_activity o ON o.pid = bl.pid
				WHERE a.datname = current_database()`).Scan(&waiting, &onOther)
			now := time.Now()
			if err == nil {
				sum += time.Duration(waiting) * now.Sub(last)
				other += time.Duration(onOther) * now.Sub(last)
			}
			last = now
			time.Sleep(time.Millisecond)
		}
	}()
	start := time.Now()
	time.Sleep(window) // a measuring window, not a wait for a condition
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	w := <-sampled
	waited, between = w[0], w[1]
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d appenders stopped on an error", f)
	}
	slices.Sort(lat)
	if len(lat) == 0 {
		b.Fatal("no receipt appended")
	}
	return float64(len(lat)) / elapsed.Seconds(), lat[len(lat)*99/100], waited, between, len(lat)
}

// cpuTimes are the CPU times (user and system) of PostgreSQL backends, by
// pid.
type cpuTimes map[int]time.Duration

// backendsCPU reads, from /proc, the CPU time of the backends of conn's
// database (sessions of the stores, the sampler's own included).
func backendsCPU(b *testing.B, conn *pgx.Conn) cpuTimes {
	rows, err := conn.Query(context.Background(), "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatal(err)
	}
	out := cpuTimes{}
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // ended meanwhile
		}
		// Fields after the command's closing parenthesis: state is 3, utime 14, stime 15.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		out[int(pid)] = time.Duration(u+s) * time.Second / clockTicks
	}
	return out
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's times
// (100 on Linux's every architecture Go runs on here).
const clockTicks = 100

// since returns the CPU time spent since before (a backend new since is
// counted whole).
func (c cpuTimes) since(before cpuTimes) time.Duration {
	var d time.Duration
	for pid, t := range c {
		d += t - before[pid]
	}
	return d
}
