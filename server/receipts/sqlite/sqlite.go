// Package sqlite is the embedded receipts.Store: one SQLite file in WAL
// mode, written by a single goroutine that commits the receipts arriving
// together in one transaction (group commit), read through a separate pool
// of read-only connections.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"runtime"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers driver "sqlite"

	"github.com/portalconsent/portalconsent/server/receipts"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrClosed is the error of a Store's methods after Close; it wraps
// receipts.ErrUnavailable.
var ErrClosed = fmt.Errorf("receipts/sqlite: store closed: %w", receipts.ErrUnavailable)

// Defaults of the options.
const (
	DefaultGroupCommit = 2 * time.Millisecond
	DefaultMaxBatch    = 256
	DefaultBusyTimeout = 5 * time.Second
)

// Option configures Open.
type Option func(*config)

type config struct {
	window   time.Duration
	maxBatch int
	busy     time.Duration
	// hook, for tests, is called before each commit of an append batch; an
	// error makes the batch fail as a database error would.
	hook func() error
	log  *slog.Logger // nil: nothing logged
	// retentionBatch is how many receipts of a chain a retention
	// transaction deletes at most (0: the default, retentionBatch);
	// retained, for tests, is called in each with the count it deletes.
	retentionBatch int
	retained       func(n int64)
	// retentionTime is how long the DELETE of a retention transaction
	// should take (0: the default, retentionTime); the next transaction's
	// count follows the last one's pace, up to retentionBatch.
	retentionTime time.Duration
}

// Log sets where the store logs that a day's cookie tallies of a portal
// are full (receipts.LogTallyFull); by default it logs nothing.
func Log(l *slog.Logger) Option {
	return func(c *config) { c.log = l }
}

// GroupCommit sets how long the writer waits, after the first receipt of a
// batch arrives, for more to commit with it (default 2ms); 0 or less
// commits every receipt in its own transaction.
func GroupCommit(d time.Duration) Option {
	return func(c *config) { c.window = max(d, 0) }
}

// MaxBatch sets the most receipts one transaction commits (default 256);
// values below 1 mean 1.
func MaxBatch(n int) Option {
	return func(c *config) { c.maxBatch = max(n, 1) }
}

// BusyTimeout sets how long a statement waits for a lock another process
// holds on the database before failing (default 5s); it is rounded to
// milliseconds, and values below 1ms mean 1ms.
func BusyTimeout(d time.Duration) Option {
	return func(c *config) { c.busy = max(d, time.Millisecond) }
}

// Store is a receipts.Store on one SQLite file. Its methods are safe for
// concurrent use.
type Store struct {
	path string
	cfg  config
	wdb  *sql.DB // one connection, the writer goroutine's only
	rdb  *sql.DB // read-only connections

	mu     sync.RWMutex // guards closed and sending on queue and background
	closed bool
	queue  chan *request
	// background takes the jobs that yield to the appends (retention's):
	// unbuffered, so that a job sent is one the writer took.
	background chan *request
	done       chan struct{} // closed when the writer returns

	closeOnce sync.Once
	closeErr  error
}

var _ receipts.Store = (*Store)(nil)

// Open opens the SQLite database at path, creating it (mode 0600) if it
// does not exist, and applies the migrations it lacks. It fails if the
// database cannot be opened, its pragmas do not take effect, or its schema
// is newer than this package knows.
func Open(path string, opts ...Option) (*Store, error) {
	cfg := config{window: DefaultGroupCommit, maxBatch: DefaultMaxBatch, busy: DefaultBusyTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	migs, err := receipts.Migrations(mustSub(migrationFiles, "migrations"))
	if err != nil {
		return nil, err
	}
	return open(path, cfg, migs)
}

func open(path string, cfg config, migs []receipts.Migration) (*Store, error) {
	if path == "" {
		return nil, errors.New("receipts/sqlite: empty database path")
	}
	if err := create(path); err != nil {
		return nil, fmt.Errorf("receipts/sqlite: %w: %w", receipts.ErrUnavailable, err)
	}
	busy := cfg.busy.Milliseconds()
	common := []string{fmt.Sprintf("busy_timeout(%d)", busy), "foreign_keys(1)"}
	wdb, err := sql.Open("sqlite", dsn(path, append(common, "journal_mode(WAL)", "synchronous(FULL)")...))
	if err != nil {
		return nil, unavailable(err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	// The readers are query-only, but retention checkpoints the
	// write-ahead log on one of them (Store.checkpointWAL): with FULL it
	// syncs the log before copying it and the file after.
	rdb, err := sql.Open("sqlite", dsn(path, append(common, "query_only(1)", "synchronous(FULL)")...))
	if err != nil {
		wdb.Close()
		return nil, unavailable(err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	// Read connections are renewed now and then, so that they follow the
	// database file if it is replaced (restored from a backup).
	rdb.SetConnMaxLifetime(time.Minute)

	s := &Store{path: path, cfg: cfg, wdb: wdb, rdb: rdb, queue: make(chan *request, cfg.maxBatch), background: make(chan *request), done: make(chan struct{})}
	ctx := context.Background()
	err = checkPragmas(ctx, wdb, map[string]string{"journal_mode": "wal", "synchronous": "2", "busy_timeout": fmt.Sprint(busy), "foreign_keys": "1", "query_only": "0"})
	if err == nil {
		err = migrate(ctx, wdb, migs)
	}
	if err == nil {
		err = checkPragmas(ctx, rdb, map[string]string{"journal_mode": "wal", "synchronous": "2", "busy_timeout": fmt.Sprint(busy), "foreign_keys": "1", "query_only": "1"})
	}
	if err != nil {
		wdb.Close()
		rdb.Close()
		return nil, err
	}
	go s.run()
	return s, nil
}

// create makes an empty file at path, mode 0600, unless one exists.
func create(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// dsn returns the modernc DSN of path that sets pragmas on every
// connection. It opens the file read-write and never creates it (Open
// did): a connection made while the file is gone fails rather than start
// an empty database.
func dsn(path string, pragmas ...string) string {
	q := url.Values{"_pragma": pragmas, "mode": {"rw"}}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// checkPragmas reads back each pragma on a connection of db and fails
// unless it has the value wanted.
func checkPragmas(ctx context.Context, db *sql.DB, want map[string]string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return unavailable(err)
	}
	defer conn.Close()
	for name, v := range want {
		var got string
		if err := conn.QueryRowContext(ctx, "PRAGMA "+name).Scan(&got); err != nil {
			return unavailable(fmt.Errorf("reading pragma %s: %w", name, err))
		}
		if got != v {
			return fmt.Errorf("receipts/sqlite: pragma %s is %q, want %q (filesystem without WAL support?)", name, got, v)
		}
	}
	return nil
}

// migrate applies, in one transaction, the migrations the database has not
// recorded in schema_migrations. It refuses a database whose version is
// higher than the last of migs.
func migrate(ctx context.Context, db *sql.DB, migs []receipts.Migration) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return unavailable(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return unavailable(err)
	}
	defer func() {
		if err != nil {
			conn.ExecContext(ctx, "ROLLBACK")
		}
	}()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return unavailable(err)
	}
	var cur int
	if err := conn.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&cur); err != nil {
		return unavailable(err)
	}
	if cur > len(migs) {
		return fmt.Errorf("receipts/sqlite: the database's schema is version %d, newer than this program's %d: refusing to open it (run a newer version)", cur, len(migs))
	}
	for _, m := range migs[cur:] {
		if _, err := conn.ExecContext(ctx, m.SQL); err != nil {
			return unavailable(fmt.Errorf("migration %s: %w", m.Name, err))
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", m.Version, time.Now().Unix()); err != nil {
			return unavailable(err)
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return unavailable(err)
	}
	return nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Ping reports whether the database file is there and answers a query.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := os.Stat(s.path); err != nil {
		return unavailable(err)
	}
	var one int
	if err := s.rdb.QueryRowContext(ctx, "SELECT 1 FROM schema_migrations LIMIT 1").Scan(&one); err != nil {
		return dbErr(ctx, err)
	}
	return nil
}

// Close waits for the appends and writes in flight, stops the writer and
// closes the database; later calls of the Store's methods fail with
// ErrClosed (or ErrUnavailable), and later calls of Close return the first
// one's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.queue)
		s.mu.Unlock()
		<-s.done
		s.closeErr = errors.Join(s.wdb.Close(), s.rdb.Close())
	})
	return s.closeErr
}

// unavailable wraps a database error in receipts.ErrUnavailable.
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", receipts.ErrUnavailable, err)
}

// dbErr returns ctx's error if it ended, else err wrapped in
// receipts.ErrUnavailable.
func dbErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return unavailable(err)
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
