package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/receipts/postgres"
	"github.com/portalconsent/portalconsent/server/receipts/sqlite"
	"github.com/portalconsent/portalconsent/server/servertest"
	"github.com/portalconsent/portalconsent/web"
)

// BenchmarkStats30Days measures what the console's portal page reads: the
// 30-day stats of a portal over STATS_BENCH_RECEIPTS receipts (default
// 1,000,000, spread over those 30 days, half the consent ids deciding
// twice), on SQLite and on PostgreSQL (PORTALCONSENT_TEST_POSTGRES; skipped
// without it). The receipts go in through the store, from 64 appenders with
// group commit, aggregates and all; the benchmark reports the fill rate,
// then the median of 50 calls of Store.Stats, of the stats API and of the
// console's 30-day portal page (server time, through the handler, signed
// in: the page's full rendering, charts and tables).
func BenchmarkStats30Days(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("STATS_BENCH_RECEIPTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	for _, backend := range []string{"SQLite", "PostgreSQL"} {
		b.Run(backend, func(b *testing.B) {
			var st receipts.Store
			switch backend {
			case "SQLite":
				s, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"))
				if err != nil {
					b.Fatal(err)
				}
				st = s
			case "PostgreSQL":
				st = benchPostgres(b)
			}
			defer st.Close()
			now := time.Now().UTC()
			start := now.Truncate(24*time.Hour).AddDate(0, 0, -29)
			fill(b, st, n, start, now)
			srv, err := server.New(harness.Policies, web.Files(), server.WithReceipts(st), server.WithAdminToken(servertest.AdminToken),
				server.WithClock(func() time.Time { return now }), server.WithOperators(servertest.Operators(b)), server.WithSignInRate(0, 0))
			if err != nil {
				b.Fatal(err)
			}
			session := servertest.SignIn(b, srv, servertest.AliceToken)
			ctx := context.Background()
			var storeMS, apiMS, pageMS []float64
			var days int
			for range 50 {
				t0 := time.Now()
				s, err := st.Stats(ctx, "mtran", start, start.AddDate(0, 0, 30))
				if err != nil {
					b.Fatal(err)
				}
				storeMS = append(storeMS, float64(time.Since(t0).Microseconds())/1000)
				days = len(s.Days)

				req := httptest.NewRequest("GET", "/api/v1/portals/mtran/stats", nil)
				req.Header.Set("Authorization", "Bearer "+servertest.AdminToken)
				rec := httptest.NewRecorder()
				t0 = time.Now()
				srv.ServeHTTP(rec, req)
				apiMS = append(apiMS, float64(time.Since(t0).Microseconds())/1000)
				if rec.Code != http.StatusOK {
					b.Fatalf("stats API: %d %s", rec.Code, rec.Body)
				}

				req = httptest.NewRequest("GET", "/console/portals/mtran", nil)
				req.AddCookie(session)
				req.Header.Set("Accept-Language", "fr")
				rec = httptest.NewRecorder()
				t0 = time.Now()
				srv.ServeHTTP(rec, req)
				pageMS = append(pageMS, float64(time.Since(t0).Microseconds())/1000)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `id="table-decisions"`) {
					b.Fatalf("portal page: %d %s", rec.Code, rec.Body)
				}
			}
			if days != 30 {
				b.Fatalf("Stats returned %d days, want 30", days)
			}
			b.ReportMetric(median(storeMS), "store-ms")
			b.ReportMetric(median(apiMS), "api-ms")
			b.ReportMetric(median(pageMS), "page-ms")
			b.Logf("%s, %d receipts over 30 days: Store.Stats median %.2f ms, stats API median %.2f ms, console portal page median %.2f ms (server time, 50 calls each)",
				backend, n, median(storeMS), median(apiMS), median(pageMS))
		})
	}
}

// fill appends n receipts of portal mtran received evenly from start to
// now, from 64 goroutines, and logs the rate.
func fill(b *testing.B, st receipts.Store, n int, start, now time.Time) {
	b.Helper()
	const appenders = 64
	step := now.Sub(start) / time.Duration(n)
	methods := []string{receipts.MethodAcceptAll, receipts.MethodRejectAll, receipts.MethodCustom}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		errs atomic.Int64
	)
	t0 := time.Now()
	for range appenders {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				r := &receipts.Receipt{
					ID: uuid.Must(uuid.NewV7()).String(), Portal: "mtran",
					// Half the consent ids decide twice, a day apart or so.
					ConsentID: fmt.Sprintf("k3J9x-%016d", i%(int64(n)/2+1)),
					Revision:  7 + i*2/int64(n), Method: methods[i%3], Lang: []string{"fr", "en"}[i%2],
					Choices: []policy.Choice{{Category: "necessary", Accepted: true}, {Category: "preferences", Accepted: i%2 == 0},
						{Category: "statistical", Accepted: i%3 == 0}, {Category: "marketing", Accepted: i%5 == 0}},
					Page:      "https://www.shop.example/products/chaussures-de-randonnee",
					DecidedAt: start.Add(time.Duration(i) * step), ReceivedAt: start.Add(time.Duration(i) * step),
					Notice: receipts.NoticeHash([]byte("policy")),
				}
				if err := st.Append(context.Background(), r, nil); err != nil {
					if errs.Add(1) == 1 {
						b.Error(err)
					}
					return
				}
				if i%5 == 0 {
					if err := st.CountImpression(context.Background(), "mtran", r.Revision, r.Lang, r.ReceivedAt); err != nil {
						b.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	d := time.Since(t0)
	b.ReportMetric(float64(n)/d.Seconds(), "fill-receipts/s")
	b.Logf("filled %d receipts (and %d impressions) in %v: %.0f receipts/s from %d appenders", n, n/5, d.Round(time.Second), float64(n)/d.Seconds(), appenders)
}

// benchPostgres opens a store on a new database of the server named by
// PORTALCONSENT_TEST_POSTGRES, dropped at the end; it skips without one.
func benchPostgres(b *testing.B) receipts.Store {
	st, err := postgres.Open(context.Background(), benchDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// benchDatabase makes a new database on the server named by
// PORTALCONSENT_TEST_POSTGRES, dropped at the end, and returns its URL; it
// skips without one.
func benchDatabase(b *testing.B) string {
	dsn := os.Getenv("PORTALCONSENT_TEST_POSTGRES")
	if dsn == "" {
		b.Skip("PORTALCONSENT_TEST_POSTGRES is unset")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close(ctx)
	name := "pc_bench_" + strings.ToLower(rand.Text()[:12])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			b.Error(err)
		}
	})
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	return fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Password, cfg.Host, cfg.Port, name)
}
