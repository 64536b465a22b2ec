package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/policyfiles"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/servertest"
)

// BenchmarkReceipts measures the receipt route of the built binary under wrk
// (2 threads, 64 connections, 10 s, on this machine), on SQLite and
// PostgreSQL, with and without group commit: acknowledged receipts per
// second and latency percentiles, beside the same server's rate for GET
// config.json (a cached static answer: the machine's yardstick, as this
// VM's speed moves from day to day); then the bytes each receipt takes in
// the database; then, over RECEIPTS_N receipts (default 1,000,000) of one portal,
// the lookup of one consent id and the CSV export of all of them (time and
// the server's peak memory). `make bench` runs it; it prints a table.
func BenchmarkReceipts(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk is not installed (make bench installs it)")
	}
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("RECEIPTS_N")); err == nil && v > 0 {
		n = v
	}
	var rows []string
	for _, backend := range []string{"sqlite", "postgres"} {
		for _, gc := range []time.Duration{2 * time.Millisecond, 0} {
			db := benchDB(b, backend)
			r := wrkReceipts(b, db, gc)
			rows = append(rows, fmt.Sprintf("| %s | %v | %.0f | %s | %s | %d | %.0f | %.0f (%.2f) |",
				backend, map[bool]string{true: "on (2 ms)", false: "off"}[gc > 0], r.rps, r.p50, r.p99, r.non2xx, r.bytesPerReceipt,
				r.staticRPS, r.rps/r.staticRPS))
		}
	}
	fmt.Println("\n| backend | group commit | receipts/s | p50 | p99 | non-201 | bytes/receipt | config.json GETs/s, same server (receipts / GETs) |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Println(r)
	}
	fmt.Printf("\n| backend | receipts | fill | lookup of one consent id (median of 200) | CSV export: time | rows | server peak RSS |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, backend := range []string{"sqlite", "postgres"} {
		db := benchDB(b, backend)
		fmt.Println(bigReceipts(b, db, backend, n))
	}
}

// benchDB returns a new empty database of the backend.
func benchDB(b *testing.B, backend string) string {
	if backend == "sqlite" {
		return filepath.Join(b.TempDir(), "receipts.db")
	}
	if os.Getenv("PORTALCONSENT_TEST_POSTGRES") == "" {
		b.Fatal("PORTALCONSENT_TEST_POSTGRES is not set")
	}
	return servertest.PostgresDSN(b)
}

type wrkResult struct {
	rps             float64
	staticRPS       float64 // GET config.json on the same server: the machine's yardstick
	p50, p99        string
	non2xx          int
	bytesPerReceipt float64
}

var (
	wrkRPS    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkPct    = regexp.MustCompile(`(?m)^\s+(50|99)%\s+(\S+)`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// wrkReceipts runs wrk against the receipt route of a server on db.
func wrkReceipts(b *testing.B, db string, groupCommit time.Duration) wrkResult {
	p := startServer(b, db, "-group-commit", groupCommit.String())
	mtran := defaultMtran(b)
	c := policy.NewConsent(mtran, time.Now(), nil)
	body := fmt.Sprintf(`{"value":%q,"method":"reject-all","lang":"en","page":"https://mtran.my.opendatasoft.com/p","undeclared":[]}`, c.Encode())
	script := filepath.Join(b.TempDir(), "post.lua")
	os.WriteFile(script, []byte("wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"text/plain;charset=UTF-8\"\nwrk.body = '"+body+"'\n"), 0o600)
	out, err := exec.Command("wrk", "-t2", "-c64", "-d10s", "--latency", "-s", script, p.url+"/portals/mtran/consents").CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	var r wrkResult
	if m := wrkRPS.FindSubmatch(out); m != nil {
		r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	for _, m := range wrkPct.FindAllSubmatch(out, -1) {
		if string(m[1]) == "50" {
			r.p50 = string(m[2])
		} else {
			r.p99 = string(m[2])
		}
	}
	if m := wrkNon2xx.FindSubmatch(out); m != nil {
		r.non2xx, _ = strconv.Atoi(string(m[1]))
	}
	// The same server's rate for a cached static answer, in the same run:
	// what the machine and net/http allow, against which receipts/s reads
	// (this VM's speed moves from day to day).
	out, err = exec.Command("wrk", "-t2", "-c64", "-d10s", "-H", "Accept-Encoding: br", p.url+"/portals/mtran/config.json").CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	if m := wrkRPS.FindSubmatch(out); m != nil {
		r.staticRPS, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	count, size := dbSize(b, db)
	if count > 0 {
		r.bytesPerReceipt = float64(size) / float64(count)
	}
	return r
}

// dbSize returns how many receipts db holds and the bytes they take: the
// SQLite file (checkpointed), or the receipts partitions with their indexes
// in PostgreSQL.
func dbSize(b *testing.B, db string) (int64, int64) {
	ctx := context.Background()
	st, err := openStore(ctx, db, 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	st.Export(ctx, "mtran", time.Time{}, time.Now().Add(time.Hour), func(*receipts.Receipt) error { n++; return nil })
	st.Close() // checkpoints the WAL into the file
	if !isPostgres(db) {
		fi, err := os.Stat(db)
		if err != nil {
			b.Fatal(err)
		}
		return n, fi.Size()
	}
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var size int64
	err = conn.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
		WHERE p.relname = 'receipts'`).Scan(&size)
	if err != nil {
		b.Fatal(err)
	}
	return n, size
}

// defaultMtran returns the built-in mtran policy as the binary serves it
// (its revision derived by package store).
func defaultMtran(tb testing.TB) *policy.Policy {
	ps, err := policyfiles.Defaults()
	if err != nil {
		tb.Fatal(err)
	}
	for _, p := range ps {
		if p.Policy.ID == "mtran" {
			return p.Policy
		}
	}
	tb.Fatal("no mtran")
	return nil
}

// bigReceipts fills db with n receipts of mtran through the store (64
// appenders, group commit), then starts the server on it and measures the
// lookup of one consent id and the CSV export of all n.
func bigReceipts(b *testing.B, db, backend string, n int) string {
	ctx := context.Background()
	st, err := openStore(ctx, db, 2*time.Millisecond, nil)
	if err != nil {
		b.Fatal(err)
	}
	mtran := defaultMtran(b)
	start := time.Now()
	day := start.UTC().Truncate(24 * time.Hour)
	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	per := n / 64
	for g := range 64 {
		wg.Go(func() {
			for i := range per {
				c := policy.NewConsent(mtran, start, nil)
				r := &receipts.Receipt{
					ID: fmt.Sprintf("0190%04x-0000-7000-8000-%012x", g, i), Portal: "mtran", ConsentID: c.ID,
					Revision: int64(c.Revision), Choices: c.Choices, Method: receipts.MethodRejectAll,
					Lang: "en", Page: "https://mtran.my.opendatasoft.com/p", DecidedAt: c.Decided,
					ReceivedAt: day.Add(time.Duration(g*per+i) * time.Microsecond), Notice: strings.Repeat("ab", 32),
				}
				if err := st.Append(ctx, r, nil); err != nil {
					b.Error(err)
					return
				}
				if i%(per/4+1) == 0 {
					mu.Lock()
					ids = append(ids, c.ID)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	fill := time.Since(start)
	st.Close()
	total := per * 64

	p := startServer(b, db)
	client := &http.Client{Timeout: 5 * time.Minute}
	get := func(path string) (int, int64, time.Duration) {
		req, _ := http.NewRequest("GET", p.url+path, nil)
		req.Header.Set("Authorization", "Bearer durability-test-token-0123456789")
		t0 := time.Now()
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		nb, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, nb, time.Since(t0)
	}
	var lookups []time.Duration
	for i := range 200 {
		code, _, d := get("/api/v1/portals/mtran/consents/" + ids[i%len(ids)])
		if code != 200 {
			b.Fatalf("lookup: %d", code)
		}
		lookups = append(lookups, d)
	}
	sort.Slice(lookups, func(i, j int) bool { return lookups[i] < lookups[j] })
	d := day.Format(time.DateOnly)
	code, nb, exportTime := get("/api/v1/portals/mtran/receipts.csv?from=" + d + "&to=" + d)
	if code != 200 {
		b.Fatalf("export: %d", code)
	}
	rss := peakRSS(p.cmd.Process.Pid)
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	return fmt.Sprintf("| %s | %d | %.1f s (%.0f/s) | %.2f ms | %.1f s (%.1f MB) | %d | %s |", backend, total,
		fill.Seconds(), float64(total)/fill.Seconds(), float64(lookups[len(lookups)/2].Microseconds())/1000,
		exportTime.Seconds(), float64(nb)/1e6, total, rss)
}

// peakRSS returns the peak resident memory of a process (VmHWM), as text.
func peakRSS(pid int) string { return procStatus(pid, "VmHWM:") }
