package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// envDSN names the variable that points the tests at a PostgreSQL server
// whose role may CREATEDB.
const envDSN = "PORTALCONSENT_TEST_POSTGRES"

// serverDSN returns the test server's DSN. Without one the test fails when
// CI is set (the PostgreSQL tests never skip in CI) and skips otherwise.
func serverDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(envDSN)
	if dsn == "" {
		msg := envDSN + " is unset: set it to a PostgreSQL server whose role may CREATEDB, e.g. " +
			"postgres://portalconsent:portalconsent@127.0.0.1:5432/postgres?sslmode=disable " +
			"(bash .ci/postgres starts one)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dsn
}

// admin returns a connection to the test server's database of the DSN,
// closed at the end of the test.
func admin(t testing.TB) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), serverDSN(t))
	if err != nil {
		t.Fatalf("connect to %s: %v", envDSN, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// newDatabase creates an empty database pc_test_<random>, dropped (WITH
// FORCE) at the end of the test, and returns its name and DSN.
func newDatabase(t testing.TB) (name, dsn string) {
	t.Helper()
	a := admin(t)
	name = "pc_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := a.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), serverDSN(t))
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if err := dropDatabase(c, name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return name, withDatabase(t, serverDSN(t), name)
}

// withDatabase returns dsn naming database db instead.
func withDatabase(t testing.TB, dsn, db string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("%s: %v", envDSN, err)
		}
		u.Path = "/" + db
		return u.String()
	}
	return dsn + " dbname=" + db
}

// testStores remembers the DSN of each store the tests opened, for Reopen.
var testStores sync.Map // *Store → dsn

// openStore opens a store on dsn, closed at the end of the test.
func openStore(t testing.TB, dsn string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	testStores.Store(s, dsn)
	t.Cleanup(func() { s.Close() })
	return s
}

// backend is what receiptstest.Run needs, on stores opened with opts.
type backend struct{ opts []Option }

func (b backend) New(t *testing.T) receipts.Store {
	_, dsn := newDatabase(t)
	return openStore(t, dsn, b.opts...)
}

func (b backend) NewLogged(t *testing.T, log *slog.Logger) receipts.Store {
	_, dsn := newDatabase(t)
	return openStore(t, dsn, append(b.opts[:len(b.opts):len(b.opts)], Log(log))...)
}

func (b backend) Reopen(t *testing.T, s receipts.Store) receipts.Store {
	s.Close()
	dsn, ok := testStores.Load(s)
	if !ok {
		t.Fatal("Reopen of a store the tests did not open")
	}
	return openStore(t, dsn.(string), b.opts...)
}

// Host opens a second store on s's database (another host).
func (b backend) Host(t *testing.T, s receipts.Store) receipts.Store {
	dsn, ok := testStores.Load(s)
	if !ok {
		t.Fatal("Host of a store the tests did not open")
	}
	return openStore(t, dsn.(string), b.opts...)
}

// Exec tampers with the database as its owner would: in a transaction that
// turns the append-only trigger off.
func (b backend) Exec(t *testing.T, s receipts.Store, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, s.(*Store).pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL portalconsent.retention = 'on'"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sql, args...)
		return err
	})
	if err != nil {
		t.Fatalf("Exec %q: %v", sql, err)
	}
}

// ExecChecked runs sql on one of the store's own connections.
func (b backend) ExecChecked(t *testing.T, s receipts.Store, sql string, args ...any) error {
	_, err := s.(*Store).pool.Exec(context.Background(), sql, args...)
	return err
}

// count returns the single integer sql selects.
func count(t testing.TB, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := q.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// randomID returns a random hex string.
func randomID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// mustSub returns the embedded migrations directory.
func mustSub(t testing.TB) fs.FS {
	t.Helper()
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// dropDatabase drops database name WITH (FORCE), trying again for a few
// seconds while an autovacuum worker (which this role may not terminate)
// holds it.
func dropDatabase(c *pgx.Conn, name string) error {
	var err error
	for range 50 {
		if _, err = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); pgCode(err) != "42501" {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}
