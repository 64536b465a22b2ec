package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// BenchmarkOverload offers the receipt route of the built binary (default
// -receipt-queue) ten times the rate it sustains, on each backend: first
// 64 callers post as fast as they are answered for 3 s (the sustainable
// rate S: 201s a second), then an open-loop generator starts 10·S requests
// a second for 5 s, whatever the answers (at most 4,096 in flight: beyond,
// a request not started is counted, not sent). It reports the rate
// actually offered, the share of 201 and of 503 (with Retry-After), the
// p99 of the answers, the server's peak resident memory (VmHWM) and that
// every 201 is stored (the count of receipts is that of 201s). Run it
// once: -bench Overload -benchtime 1x.
func BenchmarkOverload(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			for range b.N {
				db := benchDB(b, backend)
				p := startServer(b, db)
				mtran := defaultMtran(b)
				client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4096, MaxConnsPerHost: 4096}}
				post := func() (int, time.Duration) {
					c := policy.NewConsent(mtran, time.Now(), nil)
					body := fmt.Sprintf(`{"value":%q,"method":"reject-all","lang":"en","page":"https://mtran.my.opendatasoft.com/p"}`, c.Encode())
					t0 := time.Now()
					res, err := client.Post(p.url+"/portals/mtran/consents", "text/plain;charset=UTF-8", strings.NewReader(body))
					if err != nil {
						return 0, time.Since(t0)
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") == "" {
						return -1, time.Since(t0)
					}
					return res.StatusCode, time.Since(t0)
				}
				var created atomic.Int64

				// The sustainable rate.
				var wg sync.WaitGroup
				stop := time.Now().Add(3 * time.Second)
				for range 64 {
					wg.Go(func() {
						for time.Now().Before(stop) {
							if code, _ := post(); code == http.StatusCreated {
								created.Add(1)
							}
						}
					})
				}
				wg.Wait()
				sustained := float64(created.Load()) / 3

				// Ten times that, open loop.
				target := 10 * sustained
				var (
					mu       sync.Mutex
					lat      []time.Duration
					codes    = map[int]int{}
					notSent  int
					inFlight = make(chan struct{}, 4096)
				)
				start := time.Now()
				window := 5 * time.Second
				sent := 0
				for time.Since(start) < window {
					due := int(target * time.Since(start).Seconds())
					for ; sent < due; sent++ {
						select {
						case inFlight <- struct{}{}:
							wg.Go(func() {
								defer func() { <-inFlight }()
								code, d := post()
								mu.Lock()
								codes[code]++
								lat = append(lat, d)
								mu.Unlock()
							})
						default:
							notSent++
						}
					}
					time.Sleep(time.Millisecond)
				}
				offered := float64(sent-notSent) / time.Since(start).Seconds()
				wg.Wait()
				created.Add(int64(codes[http.StatusCreated]))
				hwm := peakRSS(p.cmd.Process.Pid)
				p.cmd.Process.Signal(syscall.SIGTERM)
				<-p.done

				total := 0
				for _, n := range codes {
					total += n
				}
				slices.Sort(lat)
				share := func(code int) float64 { return 100 * float64(codes[code]) / float64(total) }
				b.ReportMetric(sustained, "sustained-receipts/s")
				b.ReportMetric(offered, "offered-requests/s")
				b.ReportMetric(share(http.StatusCreated), "201-%")
				b.ReportMetric(share(http.StatusServiceUnavailable), "503-%")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
				b.Logf("%s: sustained %.0f receipts/s; offered %.0f requests/s (target %.0f, %d not started: generator at its 4,096 in flight); answers %v (0: transport error, -1: 503 without Retry-After); p99 %v; server peak RSS %s",
					backend, sustained, offered, target, notSent, codes, lat[len(lat)*99/100], hwm)

				// Every 201 is stored.
				ctx := context.Background()
				st, err := openStore(ctx, db, 0, nil)
				if err != nil {
					b.Fatal(err)
				}
				var stored int64
				err = st.Export(ctx, "mtran", time.Unix(0, 0), time.Now().Add(time.Hour), func(*receipts.Receipt) error {
					stored++
					return nil
				})
				if err == nil {
					err = st.Verify(ctx)
				}
				st.Close()
				if err != nil {
					b.Fatal(err)
				}
				if stored != created.Load() {
					b.Fatalf("%d receipts stored, %d acknowledged with 201", stored, created.Load())
				}
				if codes[0] > 0 || codes[-1] > 0 {
					b.Errorf("%d transport errors, %d 503 without Retry-After", codes[0], codes[-1])
				}
			}
		})
	}
}
