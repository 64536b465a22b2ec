package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
)

// TestOverload floods the binary with receipts from far more callers at
// once than its -receipt-queue, on each backend: every caller is answered
// promptly, 201 or 503 with Retry-After (never parked for seconds), the
// host's peak memory stays bounded, and every receipt acknowledged is
// stored and every chain verifies.
func TestOverload(t *testing.T) {
	for name, db := range durabilityBackends(t) {
		t.Run(name, func(t *testing.T) {
			dbName := db(t)
			p := startServer(t, dbName, "-receipt-queue", "4")
			mtran := defaultMtran(t)
			client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
			var (
				mu       sync.Mutex
				acked    []string
				busy     int
				slowest  time.Duration
				unwanted []string
				wg       sync.WaitGroup
			)
			stop := time.Now().Add(2 * time.Second)
			for range 64 {
				wg.Go(func() {
					for time.Now().Before(stop) {
						c := policy.NewConsent(mtran, time.Now(), nil)
						body := fmt.Sprintf(`{"value":%q,"method":"reject-all","lang":"en","page":"https://mtran.my.opendatasoft.com/p"}`, c.Encode())
						start := time.Now()
						res, err := client.Post(p.url+"/portals/mtran/consents", "text/plain;charset=UTF-8", strings.NewReader(body))
						if err != nil {
							t.Error(err)
							return
						}
						io.Copy(io.Discard, res.Body)
						res.Body.Close()
						d := time.Since(start)
						mu.Lock()
						slowest = max(slowest, d)
						switch {
						case res.StatusCode == http.StatusCreated:
							acked = append(acked, c.ID)
						case res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") != "":
							busy++
						default:
							unwanted = append(unwanted, res.Status)
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			t.Logf("%d acknowledged, %d refused 503, slowest answer %v", len(acked), busy, slowest)
			if len(unwanted) > 0 {
				t.Errorf("answers other than 201 and 503 with Retry-After: %v", unwanted[:min(5, len(unwanted))])
			}
			if busy == 0 {
				t.Error("no receipt refused: the flood did not go beyond the queue, or nothing bounds it")
			}
			if len(acked) == 0 {
				t.Fatal("nothing acknowledged")
			}
			if slowest > 5*time.Second {
				t.Errorf("a caller waited %v: callers beyond the queue must be answered at once", slowest)
			}
			if hwm := peakRSSBytes(t, p.cmd.Process.Pid); hwm > 400<<20 {
				t.Errorf("peak memory %d MiB under the flood", hwm>>20)
			} else {
				t.Logf("peak memory %d MiB", hwm>>20)
			}
			p.cmd.Process.Signal(os.Interrupt)
			<-p.done
			checkAcked(t, dbName, acked)
		})
	}
}

// peakRSSBytes returns the peak resident memory of process pid (VmHWM), in
// bytes.
func peakRSSBytes(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
