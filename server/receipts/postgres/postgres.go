// Package postgres is the receipts.Store of several consent hosts sharing
// one PostgreSQL database.
//
// Receipts are range-partitioned by month of received_at (tables
// receipts_YYYY_MM), so that retention (one host at a time) detaches and
// drops whole months without holding appends (see DeleteBefore). A trigger makes
// them append-only for everyone but retention. A portal has a chain per
// writer: a slot each store leases at Open for as long as it is open (a
// session advisory lock, leased again should its session end under the
// store: see LeaseCheck), so that stores (hosts) appending to one portal at
// once extend chains of their own and never wait on each other; each
// chain's head is a row of table chains that the store's appends lock while
// they extend it. The aggregates and the undeclared-name tallies are kept
// per writer too (their readers sum the writers' rows), and each consent
// id's last choice in table last_choices (the withdrawal lookup). Appends
// that arrive together are committed in one transaction (group commit),
// on connections of their own (a pool of writerConns) that reads, such as
// exports, cannot take; impressions are counted in memory and written
// every ImpressionFlush.
//
// The append-only trigger guards against mistakes, not against the
// server's own role: any transaction of that role may SET LOCAL
// portalconsent.retention = 'on' as retention does. The hash chain (Verify)
// is what detects tampering.
//
// Its tests need a PostgreSQL server whose role may CREATEDB, named by the
// environment variable PORTALCONSENT_TEST_POSTGRES (a URL); without it they
// skip, or fail when CI is set.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portalconsent/portalconsent/server/receipts"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Advisory lock keys (pg_advisory_xact_lock): one for migrations, one for
// creating partitions; two of retention (DeleteBefore): lockRetention,
// held by the one host running it (the others skip), and lockSettled,
// exclusive while retention moves anchors and drops months, shared by
// Verify so that it never sees a chain half pruned; and, in the two-key
// space (which never overlaps the one-key space), the class of the
// per-portal locks of the reappeared tallies (CountReappeared), the
// portal's hash the second key; the class of the writers' slots (lockWriter,
// the slot the second key, a session lock held while the store is open)
// and that of the consent ids' locks an append takes (lockConsent, see
// consentLockKey).
const (
	lockMigrate    int64 = 0x70635f6d696772 // "pc_migr"
	lockPartitions int64 = 0x70635f70617274 // "pc_part"
	lockRetention  int64 = 0x70635f72657465 // "pc_rete"
	lockSettled    int64 = 0x70635f73657474 // "pc_sett"
	lockReappeared int32 = 0x70635f72       // "pc_r"
	lockWriter     int32 = 0x70635f77       // "pc_w"
	lockConsent    int32 = 0x70635f63       // "pc_c"
)

// DefaultGroupCommit is the group commit window of a Store opened without
// the GroupCommit option.
const DefaultGroupCommit = 2 * time.Millisecond

// maxBatch is the most receipts one group commit transaction holds.
const maxBatch = 256

// writers is how many goroutines commit batches when group commit is on:
// while one waits for its COMMIT, another gathers the next batch.
const writers = 2

// writerConns is the size of the writers' pool of connections, apart from
// the pool of reads (pool_max_conns of the DSN): an export or console
// pages holding every read connection never keep a receipt waiting. Two
// batch writers, and as many appends at once without group commit.
const writerConns = writers + 2

// maxWriters is how many writers (slots) one database has: at most that
// many stores (hosts) open on it at once.
const maxWriters = 1024

// batchTimeout bounds one group commit transaction (it serves many callers,
// so it does not run under any one caller's context).
const batchTimeout = 30 * time.Second

// Option configures Open.
type Option func(*config)

type config struct {
	groupCommit time.Duration
	impressions time.Duration
	maintenance time.Duration
	leaseCheck  time.Duration
	log         *slog.Logger
}

// Log sets where the store logs that a day's cookie tallies of a portal
// are full (receipts.LogTallyFull) and that its writer lease was lost and
// taken again (see LeaseCheck); by default it logs nothing.
func Log(l *slog.Logger) Option {
	return func(c *config) { c.log = l }
}

// GroupCommit sets the window within which appends are gathered into one
// transaction (at most 256 receipts); 0 commits each receipt in its own
// transaction, in its caller's goroutine. A negative d is taken as 0.
func GroupCommit(d time.Duration) Option {
	return func(c *config) { c.groupCommit = max(d, 0) }
}

// DefaultImpressionFlush is how often a Store opened without the
// ImpressionFlush option writes the impressions it counted in memory.
const DefaultImpressionFlush = 2 * time.Second

// ImpressionFlush sets how often the impressions counted in memory are
// written (CountImpression); 0 or less takes DefaultImpressionFlush.
func ImpressionFlush(every time.Duration) Option {
	return func(c *config) {
		if every > 0 {
			c.impressions = every
		}
	}
}

// DefaultLeaseCheck is how often a Store opened without the LeaseCheck
// option checks that it still holds its writer slot.
const DefaultLeaseCheck = 3 * time.Second

// LeaseCheck sets how often the store checks that the session holding its
// writer slot (its lease) is alive; 0 or less takes DefaultLeaseCheck.
// When the session ended under the store (a database restart, a network
// cut, an idle session killed), another store may take the slot: the store
// then leases a slot again on a new connection (the same one if it is
// still free, else the lowest free) and its next batches append as that
// writer.
func LeaseCheck(every time.Duration) Option {
	return func(c *config) {
		if every > 0 {
			c.leaseCheck = every
		}
	}
}

// Maintenance sets how often the store runs EnsurePartitions in the
// background (default every 24 hours); 0 or less turns it off.
func Maintenance(every time.Duration) Option {
	return func(c *config) { c.maintenance = every }
}

// Store is a receipts.Store on PostgreSQL. Its methods are safe for
// concurrent use, also by several processes on one database.
type Store struct {
	// writerID is the writer (slot) the store leased: the chains it
	// extends are the portals' chains of that writer, no other open store
	// appends to them. lease is the session holding its advisory lock,
	// outside the pools, whose backend is leasePID, closed by Close (which
	// frees the slot: a later store takes it and continues its chains).
	// slot guards the three: a batch holds it for reading while it commits,
	// checkLease for writing while it switches to a new lease (between two
	// batches). Only checkLease (run by one goroutine), then Close, use the lease connection.
	slot     sync.RWMutex
	writerID int
	lease    *pgx.Conn
	leasePID uint32
	leaseCfg *pgx.ConnConfig // how the lease connects
	leases   atomic.Int64    // leases taken again after a lost one

	pool        *pgxpool.Pool // reads, notices, secrets, maintenance
	wpool       *pgxpool.Pool // the writers': appends, impressions, partitions (see writerConns)
	groupCommit time.Duration
	log         *slog.Logger // nil: nothing logged

	// mu guards closed and sending on queue: Append holds it for reading
	// while it enqueues, Close for writing before it closes queue.
	mu     sync.RWMutex
	closed bool
	queue  chan *request
	gather sync.Mutex     // held by the writer gathering a batch
	wg     sync.WaitGroup // writers and the maintenance goroutine
	stop   chan struct{}  // closed by Close: stops maintenance
	direct sync.WaitGroup // appends without group commit in flight

	lastReset atomic.Int64 // Unix ns of the last pool reset (see resetPool)

	imps receipts.ImpressionBuffer // counted by CountImpression, written by flushImpressions

	partsMu sync.Mutex
	parts   map[month]bool // partitions known to exist

	listenMu sync.Mutex // held by WaitRevocation
	listen   *pgx.Conn  // LISTENing for revocations, outside the pool

	policiesListen  listener // LISTENing for publications (WaitPolicies)
	operatorsListen listener // LISTENing for changes of operators (WaitOperators)
}

var _ receipts.Store = (*Store)(nil)

// Open connects to the database of dsn (a PostgreSQL URL or keyword/value
// string, pgxpool settings such as pool_max_conns allowed), applies the
// embedded migrations it lacks and creates the partitions of the current and
// next months. It fails on a malformed dsn, an unreachable database (wrapped
// in receipts.ErrUnavailable) and a database migrated by a newer binary.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg := config{groupCommit: DefaultGroupCommit, impressions: DefaultImpressionFlush, maintenance: 24 * time.Hour, leaseCheck: DefaultLeaseCheck}
	for _, o := range opts {
		o(&cfg)
	}
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// Dates and times are UTC whatever the server's default.
	pcfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, unavailable(ctx, "connect", err)
	}
	wcfg := pcfg.Copy()
	wcfg.MaxConns, wcfg.MinConns = writerConns, 0
	wpool, err := pgxpool.NewWithConfig(ctx, wcfg)
	if err != nil {
		pool.Close()
		return nil, unavailable(ctx, "connect", err)
	}
	s := &Store{
		pool:        pool,
		wpool:       wpool,
		groupCommit: cfg.groupCommit,
		log:         cfg.log,
		stop:        make(chan struct{}),
		parts:       map[month]bool{},
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		wpool.Close()
		return nil, err
	}
	if err := s.EnsurePartitions(ctx, time.Now()); err != nil {
		pool.Close()
		wpool.Close()
		return nil, err
	}
	s.leaseCfg = pcfg.ConnConfig.Copy()
	if s.lease, s.writerID, s.leasePID, err = s.leaseWriter(ctx, -1); err != nil {
		pool.Close()
		wpool.Close()
		return nil, err
	}
	if s.groupCommit > 0 {
		s.queue = make(chan *request, maxBatch*writers)
		for range writers {
			s.wg.Add(1)
			go s.writer()
		}
	}
	if cfg.maintenance > 0 {
		// Append creates a missing partition anyway: an error waits for the next run.
		s.every(cfg.maintenance, time.Minute, func(ctx context.Context) { _ = s.EnsurePartitions(ctx, time.Now()) })
	}
	s.every(cfg.impressions, batchTimeout, func(ctx context.Context) {
		if err := s.flushImpressions(ctx); err != nil && s.log != nil {
			s.log.Warn("receipts: impressions kept in memory for the next flush", "err", err.Error())
		}
	})
	s.every(cfg.leaseCheck, max(cfg.leaseCheck, leaseTimeout), func(ctx context.Context) { s.checkLease(ctx) })
	return s, nil
}

// migrate applies the migrations the database lacks, all in one transaction
// holding an advisory lock, so that processes opening one database at once
// apply each migration once. It refuses a database newer than this binary.
func (s *Store) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	migs, err := receipts.Migrations(sub)
	if err != nil {
		return err
	}
	var newer error
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockMigrate); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		var have int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&have); err != nil {
			return err
		}
		if have > len(migs) {
			newer = fmt.Errorf("postgres: the database's schema is version %d, newer than this binary's %d: run a newer portalconsent", have, len(migs))
			return newer
		}
		for _, m := range migs[have:] {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", m.Version); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
		}
		return nil
	})
	if newer != nil {
		return newer
	}
	return unavailable(ctx, "migrate", err)
}

// leaseWriter takes a writer slot, prefer if it is free (-1: none), else
// the lowest free one: a session advisory lock (class lockWriter) on a new
// connection of its own, held until Close. It returns the connection, the
// slot and the connection's backend pid. A slot whose store was closed, or
// whose host died (its session ended), is free again; its chains are
// continued by the store that takes it.
func (s *Store) leaseWriter(ctx context.Context, prefer int) (*pgx.Conn, int, uint32, error) {
	conn, err := pgx.ConnectConfig(ctx, s.leaseCfg.Copy())
	if err != nil {
		return nil, 0, 0, unavailable(ctx, "lease a writer", err)
	}
	fail := func(err error) (*pgx.Conn, int, uint32, error) {
		conn.Close(context.Background())
		return nil, 0, 0, err
	}
	var pid uint32
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		return fail(unavailable(ctx, "lease a writer", err))
	}
	slots := make([]int, 0, maxWriters+1)
	if prefer >= 0 {
		slots = append(slots, prefer)
	}
	for w := range maxWriters {
		if w != prefer {
			slots = append(slots, w)
		}
	}
	// One slot a statement: a single query may take several locks.
	for _, w := range slots {
		var mine bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1::int4, $2::int4)", lockWriter, w).Scan(&mine); err != nil {
			return fail(unavailable(ctx, "lease a writer", err))
		}
		if mine {
			return conn, w, pid, nil
		}
	}
	return fail(fmt.Errorf("postgres: all %d writer slots are taken: no more hosts may open the database", maxWriters))
}

// leaseTimeout bounds the check of the lease's session: a session that
// does not answer within it (a network cut) is taken as lost.
const leaseTimeout = 5 * time.Second

// checkLease asks the lease's session for its backend pid (a cheap query
// on that connection alone). When the session is gone, or answers as
// another backend, the slot's advisory lock went with it: another store
// may have the slot already. It then closes the connection and leases a
// slot again, the same one if it is still free, else the lowest free
// (leaseWriter), and switches the store's writer to it once the batches
// in flight are committed: the next batches seal as the new writer, every
// batch wholly as one writer (a batch reads its chains' heads under their
// row locks, so that a slot continued by another store stays one linear
// chain). Failing to lease again (the database unreachable), it keeps the
// old writer, logs, and tries again at the next check. It reports whether
// it switched.
func (s *Store) checkLease(ctx context.Context) bool {
	// Only this goroutine (then Close) uses the lease connection.
	s.slot.RLock()
	conn, pid, old := s.lease, s.leasePID, s.writerID
	s.slot.RUnlock()
	qctx, cancel := context.WithTimeout(ctx, leaseTimeout)
	var got uint32
	err := conn.QueryRow(qctx, "SELECT pg_backend_pid()").Scan(&got)
	cancel()
	if err == nil && got == pid {
		return false
	}
	if err == nil {
		err = fmt.Errorf("the lease's backend is %d, was %d", got, pid)
	}
	cctx, cancel := context.WithTimeout(context.Background(), time.Second)
	conn.Close(cctx) // the session is gone (or cut off): nothing to keep
	cancel()
	nconn, w, npid, lerr := s.leaseWriter(ctx, old)
	if lerr != nil {
		if s.log != nil {
			s.log.Error("receipts: writer lease lost, not leased again yet", "writer", old, "lost", err.Error(), "err", lerr.Error())
		}
		return false
	}
	s.slot.Lock() // once the batches in flight are committed
	s.lease, s.writerID, s.leasePID = nconn, w, npid
	s.slot.Unlock()
	s.leases.Add(1)
	if s.log != nil {
		s.log.Warn("receipts: writer lease lost and leased again", "writer", old, "now", w, "lost", err.Error())
	}
	return true
}

// Leases returns how many times the store leased a writer slot again after
// losing its lease (checkLease): 0 while its first lease holds.
func (s *Store) Leases() int64 { return s.leases.Load() }

// Writer returns the writer (slot) the store holds: the chain of each
// portal it appends to (receipts.Receipt.Writer). It changes only when the
// store's lease was lost and taken again (LeaseCheck).
func (s *Store) Writer() int {
	s.slot.RLock()
	defer s.slot.RUnlock()
	return s.writerID
}

// every runs fn every period, each run with a context of timeout, in a
// goroutine of the store's until Close: the impressions' flush, the
// partitions' maintenance, the lease's check.
func (s *Store) every(period, timeout time.Duration, fn func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				fn(ctx)
				cancel()
			}
		}
	}()
}

// Ping reports whether the database answers, as an error wrapped in
// receipts.ErrUnavailable when it does not.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return unavailable(ctx, "ping", err)
	}
	return nil
}

// Close waits for the appends in flight to be committed (or to fail),
// writes the impressions counted in memory, then closes the pool; later calls fail with receipts.ErrUnavailable. Calling it
// twice is harmless.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.queue != nil {
		close(s.queue)
	}
	close(s.stop)
	s.mu.Unlock()
	s.wg.Wait()
	s.direct.Wait()
	// The impressions counted since the last flush (none is added now).
	fctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	if err := s.flushImpressions(fctx); err != nil && s.log != nil {
		s.log.Error("receipts: impressions lost at close", "err", err.Error())
	}
	cancel()
	if s.listenMu.TryLock() { // else a WaitRevocation closes it when its ctx ends
		if s.listen != nil {
			s.listen.Close(context.Background())
			s.listen = nil
		}
		s.listenMu.Unlock()
	}
	s.policiesListen.close()
	s.operatorsListen.close()
	s.wpool.Close()
	s.pool.Close()
	s.lease.Close(context.Background()) // frees the writer slot (the lease check has stopped)
	return nil
}

var errClosed = fmt.Errorf("%w: postgres: store closed", receipts.ErrUnavailable)

// unavailable wraps err, a failure of the database, in
// receipts.ErrUnavailable; but when ctx is done, it returns ctx's error
// instead: the caller gave up, the database did not fail.
func unavailable(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, receipts.ErrUnavailable) || errors.Is(err, receipts.ErrNotFound) {
		return err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("postgres: %s: %w", op, ctxErr)
	}
	return fmt.Errorf("%w: postgres: %s: %w", receipts.ErrUnavailable, op, err)
}

// pgCode returns the SQLSTATE of err, "" when it is not a server error.
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
