package receiptstest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// AppendDuringRetention is the body of both backends'
// BenchmarkAppendDuringRetention: the p99 of Append from 16 appenders of
// portal "shop" (receipt makes appender g's i-th receipt) over 2 s without
// retention, then over 2 s from the start of s.DeleteBefore(cutoff), which
// must delete want receipts. It times only those windows and reports
// p99-ms, p99-retention-ms, their p99-ratio and retention-s; the timer is
// stopped when it returns.
func AppendDuringRetention(b *testing.B, s receipts.Store, receipt func(g int, i int64) *receipts.Receipt, cutoff time.Time, want int) {
	ctx := context.Background()
	window := func(during func()) (p99 time.Duration) {
		var (
			mu   sync.Mutex
			lat  []time.Duration
			stop = make(chan struct{})
			wg   sync.WaitGroup
		)
		for g := range 16 {
			wg.Go(func() {
				for i := int64(0); ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					t0 := time.Now()
					if err := s.Append(ctx, receipt(g, i), nil); err != nil {
						b.Error(err)
						return
					}
					d := time.Since(t0)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			})
		}
		if during != nil {
			go during()
		}
		time.Sleep(2 * time.Second) // a measuring window, not a wait for a condition
		close(stop)
		wg.Wait()
		slices.Sort(lat)
		return lat[len(lat)*99/100]
	}
	b.StartTimer()
	base := window(nil)
	var took time.Duration
	done := make(chan error, 1)
	during := window(func() {
		t0 := time.Now()
		deleted, err := s.DeleteBefore(ctx, cutoff)
		took = time.Since(t0)
		if err == nil && deleted != int64(want) {
			err = fmt.Errorf("DeleteBefore deleted %d, want %d", deleted, want)
		}
		done <- err
	})
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(base.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(during.Microseconds())/1000, "p99-retention-ms")
	b.ReportMetric(float64(during)/float64(base), "p99-ratio")
	b.ReportMetric(took.Seconds(), "retention-s")
}

// BenchReceipt returns a receipt as the server makes them (the contract
// suite's receipt: UUIDv7 ids, three choices, a page URL) for a new consent
// id, received now: the benchmarks' receipt.
func BenchReceipt(portal string) *receipts.Receipt {
	return receipt(portal, uuid.Must(uuid.NewV7()).String(), time.Now())
}
