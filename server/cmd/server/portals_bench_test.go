package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/server/catalogue"
	"github.com/portalconsent/portalconsent/server/policyfiles"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// BenchmarkPortals measures a host of PORTALS_N (default 10,000) portals
// of two languages each (mtran in English and French, renamed), generated
// into the database as published through the API: on SQLite and
// PostgreSQL, the time from starting the built binary to its "serving"
// line and to its first config.json of a generated portal, its resident
// memory then, after asking for the config.json of every portal once (the
// cache at its default cap) and its peak; then the latency from the 2xx of
// a publication (PUT /api/v1/portals/{id}/policy, a new name) to the new
// policy in config.json on a second host of the same database (SQLite: the
// same host), median and p99 of 100 publications of different portals,
// each asked for on the second host first (built and cached). `make bench`
// runs it; it prints a table.
func BenchmarkPortals(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("PORTALS_N")); err == nil && v > 0 {
		n = v
	}
	var rows []string
	for _, backend := range []string{"sqlite", "postgres"} {
		db := benchDB(b, backend)
		fill := fillPortals(b, db, n)
		h := hostOfPortals(b, db, n)
		second := h.p
		if backend == "postgres" {
			second = startServer(b, db)
		}
		med, p99 := publicationLatency(b, h.p, second, n, 100)
		rows = append(rows, fmt.Sprintf("| %s | %d | %.0f s | %.2f s | %.2f s | %s | %.0f s | %s | %s | %.0f ms | %.0f ms |",
			backend, n, fill.Seconds(), h.serving.Seconds(), h.first.Seconds(), h.rssStart, h.sweep.Seconds(), h.rssAfter, h.peak,
			float64(med.Microseconds())/1000, float64(p99.Microseconds())/1000))
	}
	fmt.Println("\n| backend | portals | fill | start → serving | start → first config.json | RSS then | config.json of every portal | RSS after | peak RSS | publication → served on a second host, median | p99 |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Println(r)
	}
}

// benchPortalID is the id of generated portal i.
func benchPortalID(i int) string { return fmt.Sprintf("p%05d", i) }

// fillPortals publishes n portals of two languages into db through the
// store, as the API would (by admin, via api), and returns the time taken.
func fillPortals(b *testing.B, db string, n int) time.Duration {
	ctx := context.Background()
	st, err := openStore(ctx, db, 0, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ps := st.(receipts.Policies)
	two := *defaultMtran(b)
	two.Translations = nil
	for _, tr := range defaultMtran(b).Translations {
		if tr.Texts.Lang == "fr" {
			two.Translations = append(two.Translations, tr)
		}
	}
	if len(two.Languages()) != 2 {
		b.Fatalf("mtran in %v, want two languages", two.Languages())
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				p := two
				p.ID, p.Name = benchPortalID(i), fmt.Sprintf("Generated portal %d", i)
				pub, err := catalogue.PublicationOf(catalogue.Source{Policy: &p}, receipts.ByAdmin, receipts.ViaAPI)
				if err == nil {
					_, _, err = ps.Publish(ctx, pub, time.Now())
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// portalsHost is a host started on a database of many portals, and what
// was measured of it.
type portalsHost struct {
	p                        *proc
	serving, first, sweep    time.Duration
	rssStart, rssAfter, peak string
}

// hostOfPortals starts the binary on db (n generated portals), and asks
// for the config.json of each portal once, uncompressed (the brotli of each
// would measure brotli), from two clients.
func hostOfPortals(b *testing.B, db string, n int) portalsHost {
	serverBinary(b) // built before the clock starts
	start := time.Now()
	h := portalsHost{p: startServer(b, db)}
	h.serving = time.Since(start)
	if code, _ := benchGet(b, h.p.url+"/portals/"+benchPortalID(n/2)+"/config.json"); code != http.StatusOK {
		b.Fatalf("config.json of a generated portal: %d", code)
	}
	h.first = time.Since(start)
	pid := h.p.cmd.Process.Pid
	h.rssStart = procStatus(pid, "VmRSS:")
	start = time.Now()
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 2 {
				if code, body := benchGet(b, h.p.url+"/portals/"+benchPortalID(i)+"/config.json"); code != http.StatusOK ||
					!strings.Contains(body, fmt.Sprintf(`"name":"Generated portal %d"`, i)) {
					b.Errorf("config.json of %s: %d, not its own", benchPortalID(i), code)
					return
				}
			}
		}()
	}
	wg.Wait()
	h.sweep = time.Since(start)
	h.rssAfter, h.peak = procStatus(pid, "VmRSS:"), procStatus(pid, "VmHWM:")
	return h
}

// publicationLatency publishes a new name of count different portals
// through pub's API and returns the median and p99 of the time from each
// 2xx to the new name in config.json on other (asked for there first).
func publicationLatency(b *testing.B, pub, other *proc, n, count int) (median, p99 time.Duration) {
	var lat []time.Duration
	for i := range count {
		id := benchPortalID((i*97 + 13) % n)
		if code, _ := benchGet(b, other.url+"/portals/"+id+"/config.json"); code != http.StatusOK {
			b.Fatalf("config.json of %s: %d", id, code)
		}
		name := fmt.Sprintf("Republished portal %d", i)
		y := strings.Replace(string(policyfiles.Example()), "id: example", "id: "+id, 1)
		y = strings.Replace(y, "name: Example open data portal", "name: "+name, 1)
		req, err := http.NewRequest(http.MethodPut, pub.url+"/api/v1/portals/"+id+"/policy", strings.NewReader(y))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer durability-test-token-0123456789")
		req.Header.Set("Content-Type", "application/yaml")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("PUT %s: %d %s", id, res.StatusCode, body)
		}
		done := time.Now()
		for {
			if _, body := benchGet(b, other.url+"/portals/"+id+"/config.json"); strings.Contains(body, `"name":"`+name+`"`) {
				lat = append(lat, time.Since(done))
				break
			}
			if time.Since(done) > 10*time.Second {
				b.Fatalf("%s is not served with its new name on the second host after 10 s", id)
			}
			time.Sleep(time.Millisecond)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)/2], lat[(len(lat)*99+99)/100-1]
}

// benchGet gets u uncompressed and returns its status and body.
func benchGet(b *testing.B, u string) (int, string) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// procStatus returns a memory line of /proc/pid/status (VmRSS:, VmHWM:)
// in MB, as text.
func procStatus(pid int, field string) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return fmt.Sprintf("%.0f MB", float64(kb)/1024)
		}
	}
	return "?"
}
