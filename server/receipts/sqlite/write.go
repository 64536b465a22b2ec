package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// A request is what the writer goroutine does for a caller: append a
// receipt (r) or count an impression (imp), both gathered into batches, or
// run a job in its own transaction.
type request struct {
	ctx   context.Context
	state atomic.Int32 // queued, taken or cancelled
	r     *receipts.Receipt
	names []receipts.Name
	imp   *impression
	job   func(ctx context.Context, conn *sql.Conn) error
	// background: job yields to the appends (Store.background).
	background bool
	done       chan error // buffered: the writer never blocks on it
}

const (
	queued int32 = iota
	taken
	cancelled
)

// take reports whether the writer may do q: it was not cancelled. A request
// whose context ended while queued is answered with the context's error.
func (q *request) take() bool {
	if q.ctx.Err() != nil && q.state.CompareAndSwap(queued, cancelled) {
		q.done <- q.ctx.Err()
		return false
	}
	return q.state.CompareAndSwap(queued, taken)
}

// do queues q and waits for its outcome. It returns ctx's error if ctx ends
// before the writer takes q; once taken, it waits for the outcome.
func (s *Store) do(ctx context.Context, q *request) error {
	if err := s.enqueue(ctx, q); err != nil {
		return err
	}
	select {
	case err := <-q.done:
		return err
	case <-ctx.Done():
		if q.state.CompareAndSwap(queued, cancelled) {
			return ctx.Err()
		}
		return <-q.done
	}
}

func (s *Store) enqueue(ctx context.Context, q *request) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ch := s.queue
	if q.background {
		ch = s.background
	}
	select {
	case ch <- q:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Append seals r at the end of its portal's chain and stores it with the
// tallies of the undeclared cookie names, returning once the transaction
// holding them committed (fsynced). It fails without storing anything on a
// nil r or an ID that is not a UUID; an empty ID gets a new UUIDv7 and a
// zero ReceivedAt the current time. On success r holds what was stored: ID
// in canonical form, DecidedAt whole seconds and ReceivedAt microseconds,
// both UTC, and Seq, Prev and Hash. A receipt the portal holds already
// (r Resends it) is not stored again: r is set to the stored one and Append
// returns receipts.ErrResent. If ctx ends before r's batch starts,
// Append returns ctx's error and stores nothing; once the batch started it
// waits for its outcome. If the batch's transaction fails, every Append of
// it fails with an error wrapping receipts.ErrUnavailable, and r is left
// as it was.
func (s *Store) Append(ctx context.Context, r *receipts.Receipt, undeclared []receipts.Name) error {
	if r == nil {
		return errors.New("receipts/sqlite: Append of a nil receipt")
	}
	c := *r
	if c.ID == "" {
		c.ID = uuid.Must(uuid.NewV7()).String()
	}
	id, err := uuid.Parse(c.ID)
	if err != nil {
		return fmt.Errorf("receipts/sqlite: receipt id %q: %w", c.ID, err)
	}
	c.ID = id.String()
	if c.ReceivedAt.IsZero() {
		c.ReceivedAt = time.Now()
	}
	c.ReceivedAt = c.ReceivedAt.Truncate(time.Microsecond).UTC()
	c.DecidedAt = time.Unix(c.DecidedAt.Unix(), 0).UTC()
	c.Choices = slices.Clone(c.Choices)
	q := &request{ctx: ctx, r: &c, names: slices.Clone(undeclared), done: make(chan error, 1)}
	err = s.do(ctx, q)
	if err == nil || errors.Is(err, receipts.ErrResent) {
		*r = c
	}
	return err
}

// impression is a banner shown, as CountImpression counts it.
type impression struct {
	portal   string
	revision int64
	lang     string
	at       time.Time
}

// CountImpression counts one banner shown for portal, revision and lang on
// at's UTC day, in the next group commit batch; it returns once that
// transaction committed. It fails without counting on an empty portal.
func (s *Store) CountImpression(ctx context.Context, portal string, revision int64, lang string, at time.Time) error {
	if portal == "" {
		return errors.New("receipts/sqlite: impression without portal")
	}
	return s.do(ctx, &request{ctx: ctx, imp: &impression{portal, revision, lang, at.UTC()}, done: make(chan error, 1)})
}

// job runs fn in a write transaction of its own on the writer's connection.
func (s *Store) job(ctx context.Context, fn func(ctx context.Context, conn *sql.Conn) error) error {
	return s.do(ctx, &request{ctx: ctx, job: fn, done: make(chan error, 1)})
}

// backgroundJob runs fn as job does, when no append waits for the writer:
// in a batch's group commit window (the appends wait for it anyway), or
// when the writer has nothing else to do, or when none ran for
// backgroundEvery. fn should be short: the appends arriving while it runs
// wait for it.
func (s *Store) backgroundJob(ctx context.Context, fn func(ctx context.Context, conn *sql.Conn) error) error {
	return s.do(ctx, &request{ctx: ctx, job: fn, background: true, done: make(chan error, 1)})
}

// backgroundEvery bounds how long the appends may keep the background
// jobs waiting: under a load that never leaves the writer idle (no group
// commit window), one runs after a batch once this long passed since the
// last.
const backgroundEvery = 50 * time.Millisecond

// run is the writer goroutine: it gathers the appends that arrive within
// the group commit window into one transaction, runs jobs alone, and
// background jobs when no append waits (see backgroundJob), until Close
// closes the queue.
func (s *Store) run() {
	defer close(s.done)
	w := &writer{db: s.wdb, path: s.path, hook: s.cfg.hook, log: s.cfg.log}
	defer w.release()
	lastBackground := time.Now()
	background := func(q *request) {
		if q.take() {
			q.done <- w.runJob(q)
		}
		lastBackground = time.Now()
	}
	var held *request // a request that ended a batch's gathering
	for {
		q := held
		held = nil
		if q == nil {
			var ok bool
			select {
			case q, ok = <-s.queue: // appends and jobs first
			default:
				select {
				case q, ok = <-s.queue:
				case b := <-s.background:
					background(b)
					continue
				}
			}
			if !ok {
				return
			}
		}
		if !q.take() {
			continue
		}
		if q.job != nil {
			q.done <- w.runJob(q)
			continue
		}
		batch := []*request{q}
		if s.cfg.window > 0 {
			timer := time.NewTimer(s.cfg.window)
			bg := s.background // one background job may run while the batch gathers
			expired := false
		gather:
			for len(batch) < s.cfg.maxBatch {
				var (
					q  *request
					ok bool
				)
				if expired { // take what queued up, without waiting
					select {
					case q, ok = <-s.queue:
					default:
						break gather
					}
				} else {
					select {
					case q, ok = <-s.queue:
					case b := <-bg:
						bg = nil
						background(b)
						continue
					case <-timer.C:
						expired = true
						continue
					}
				}
				if !ok {
					break gather
				}
				if q.job != nil {
					held = q
					break gather
				}
				if q.take() {
					batch = append(batch, q)
				}
			}
			timer.Stop()
		}
		w.commit(batch)
		if time.Since(lastBackground) >= backgroundEvery {
			select {
			case b := <-s.background:
				background(b)
			default:
				lastBackground = time.Now()
			}
		}
	}
}

// writer holds the write connection between transactions; after a failed
// one it drops it, so that the next starts on a fresh connection.
type writer struct {
	db   *sql.DB
	path string
	conn *sql.Conn
	file os.FileInfo // the file at path when conn was opened
	hook func() error
	log  *slog.Logger
}

func (w *writer) get(ctx context.Context) (*sql.Conn, error) {
	if w.conn == nil {
		c, err := w.db.Conn(ctx)
		if err != nil {
			return nil, err
		}
		// Make sure the connection is open before looking at the file.
		if err := c.PingContext(ctx); err != nil {
			c.Raw(func(any) error { return driver.ErrBadConn })
			c.Close()
			return nil, err
		}
		fi, err := os.Stat(w.path)
		if err != nil {
			c.Raw(func(any) error { return driver.ErrBadConn })
			c.Close()
			return nil, err
		}
		w.conn, w.file = c, fi
	}
	return w.conn, nil
}

// sameFile fails if the database file was removed or replaced since the
// connection opened it: SQLite would go on writing to the old file, lost
// at the next restart.
func (w *writer) sameFile() error {
	fi, err := os.Stat(w.path)
	if err != nil {
		return fmt.Errorf("database file: %w", err)
	}
	if !os.SameFile(fi, w.file) {
		return fmt.Errorf("database file %s was replaced", w.path)
	}
	return nil
}

// fail rolls back the transaction in progress, if any, and discards the
// connection: whatever state a failed statement or COMMIT left it in, the
// next transaction does not inherit it.
func (w *writer) fail() {
	if w.conn == nil {
		return
	}
	w.conn.ExecContext(context.Background(), "ROLLBACK")
	w.conn.Raw(func(any) error { return driver.ErrBadConn })
	w.conn.Close()
	w.conn = nil
}

func (w *writer) release() {
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

// tx runs fn in a BEGIN IMMEDIATE transaction and commits it. On any error
// it rolls back and returns the error wrapped in receipts.ErrUnavailable
// (ctx's error if ctx ended).
func (w *writer) tx(ctx context.Context, fn func(conn *sql.Conn) error) error {
	conn, err := w.get(ctx)
	if err != nil {
		return dbErr(ctx, err)
	}
	err = func() error {
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return err
		}
		if err := w.sameFile(); err != nil {
			return err
		}
		if err := fn(conn); err != nil {
			return err
		}
		_, err := conn.ExecContext(ctx, "COMMIT")
		return err
	}()
	if err != nil {
		w.fail()
		if errors.Is(err, receipts.ErrUnavailable) {
			return err
		}
		return dbErr(ctx, err)
	}
	return nil
}

func (w *writer) runJob(q *request) error {
	if q.background {
		return w.lazyTx(q.ctx, func(conn *sql.Conn) error { return q.job(q.ctx, conn) })
	}
	return w.tx(q.ctx, func(conn *sql.Conn) error { return q.job(q.ctx, conn) })
}

// lazyTx runs fn as tx does, but commits without waiting for the disk
// (synchronous=NORMAL): the write-ahead log is one file written in order,
// so the next append's commit, which does wait (FULL), makes this
// transaction durable with it, or a checkpoint does. A crash before either
// loses this transaction whole, never part of it. The connection goes back
// to FULL after it, or is discarded.
func (w *writer) lazyTx(ctx context.Context, fn func(conn *sql.Conn) error) error {
	conn, err := w.get(ctx)
	if err != nil {
		return dbErr(ctx, err)
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
		w.fail()
		return dbErr(ctx, err)
	}
	err = w.tx(ctx, fn)
	if w.conn == nil { // tx failed and discarded the connection
		return err
	}
	if _, serr := conn.ExecContext(context.Background(), "PRAGMA synchronous = FULL"); serr != nil {
		w.fail()
		return errors.Join(err, dbErr(ctx, serr))
	}
	return err
}

// head is a chain's last receipt.
type head struct {
	seq  int64
	hash string
}

// commit stores a batch of appends and impressions in one transaction,
// with the daily aggregates they change, and answers each caller: on
// success the callers' receipts are sealed, on failure every caller gets
// the error and nothing of the batch is stored.
func (w *writer) commit(batch []*request) {
	ctx := context.Background()
	sealed := make([]receipts.Receipt, len(batch))
	resent := make([]bool, len(batch))
	var full []receipts.Receipt // receipts whose tally filled their day
	err := w.tx(ctx, func(c *sql.Conn) error {
		conn := &prepared{conn: c}
		defer conn.close()
		heads := map[string]head{}
		full = full[:0]
		clear(resent)
		var agg receipts.Aggregates
		// The batch's last choices per portal and consent id: the query
		// would see them too (same transaction), this saves it.
		last := map[[2]string][]policy.Choice{}
		for i, q := range batch {
			if q.imp != nil {
				agg.AddImpression(q.imp.portal, q.imp.revision, q.imp.lang, q.imp.at)
				continue
			}
			r := *q.r
			// A resend (of an earlier batch, or of this one: the same
			// transaction sees its rows) is answered with the first.
			first, err := storedResend(ctx, conn, &r)
			if err != nil {
				return err
			}
			if first != nil {
				sealed[i], resent[i] = *first, true
				continue
			}
			h, ok := heads[r.Portal]
			if !ok {
				var err error
				if h, err = readHead(ctx, c, "chains", r.Portal); err != nil {
					return err
				}
			}
			r.Seal(h.seq+1, h.hash)
			if err := insertReceipt(ctx, conn, &r); err != nil {
				return err
			}
			for _, name := range q.names {
				first, err := tally(ctx, conn, &r, name)
				if err != nil {
					return err
				}
				if first {
					full = append(full, r)
				}
			}
			heads[r.Portal] = head{r.Seq, r.Hash}
			sealed[i] = r
			key := [2]string{r.Portal, r.ConsentID}
			prev, ok := last[key]
			if !ok {
				var err error
				if prev, err = previousChoices(ctx, conn, r.Portal, r.ConsentID, r.Seq); err != nil {
					return err
				}
			}
			agg.AddReceipt(&r, prev)
			last[key] = r.Choices
		}
		if err := writeAggregates(ctx, conn, &agg); err != nil {
			return err
		}
		for portal, h := range heads {
			b, _ := hex.DecodeString(h.hash)
			if _, err := conn.ExecContext(ctx, `INSERT INTO chains (portal, seq, hash) VALUES ($1, $2, $3)
				ON CONFLICT (portal) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`, portal, h.seq, b); err != nil {
				return err
			}
		}
		if w.hook != nil {
			if err := w.hook(); err != nil {
				return unavailable(err)
			}
		}
		return nil
	})
	if err == nil {
		for _, r := range full {
			receipts.LogTallyFull(w.log, "undeclared", r.Portal, r.ReceivedAt)
		}
	}
	for i, q := range batch {
		if err == nil && q.r != nil {
			*q.r = sealed[i]
			if resent[i] {
				q.done <- receipts.ErrResent
				continue
			}
		}
		q.done <- err
	}
}

// readHead returns the head of portal's chain in table (chains or
// anchors): Genesis at 0 when there is none.
func readHead(ctx context.Context, q querier, table, portal string) (head, error) {
	var (
		seq  int64
		hash []byte
	)
	err := q.QueryRowContext(ctx, "SELECT seq, hash FROM "+table+" WHERE portal = $1", portal).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return head{0, receipts.Genesis}, nil
	}
	if err != nil {
		return head{}, err
	}
	return head{seq, hex.EncodeToString(hash)}, nil
}

// storedResend returns the receipt of r's portal that r Resends (see
// receipts.Receipt.Resends), the first if several, or nil when there is
// none. A consent id has few receipts: the consent index finds them.
func storedResend(ctx context.Context, conn execQuerier, r *receipts.Receipt) (*receipts.Receipt, error) {
	var w row
	err := conn.QueryRowContext(ctx, `SELECT `+receiptColumns+` FROM receipts INDEXED BY receipts_consent
		WHERE portal = $1 AND consent_id = $2 AND decided_at = $3 AND revision = $4 AND choices = $5
		ORDER BY seq LIMIT 1`, r.Portal, r.ConsentID, r.DecidedAt.Unix(), r.Revision, receipts.EncodeChoices(r.Choices)).Scan(w.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var first receipts.Receipt
	if err := w.receipt(&first); err != nil {
		return nil, err
	}
	return &first, nil
}

// previousChoices returns the choices of the last receipt of consentID in
// portal before seq, nil when there is none.
func previousChoices(ctx context.Context, conn execQuerier, portal, consentID string, seq int64) ([]policy.Choice, error) {
	var choices string
	err := conn.QueryRowContext(ctx, `SELECT choices FROM receipts INDEXED BY receipts_consent
		WHERE portal = $1 AND consent_id = $2 AND seq < $3
		ORDER BY seq DESC LIMIT 1`, portal, consentID, seq).Scan(&choices)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return receipts.DecodeChoices(choices)
}

// Upserts of the daily aggregates: $1 portal, $2 day, then the row's other
// key columns, the increment last.
const (
	upsertDecisions = `INSERT INTO stats_decisions (portal, day, revision, lang, method, count) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (portal, day, revision, lang, method) DO UPDATE SET count = count + excluded.count`
	upsertAccepted = `INSERT INTO stats_accepted (portal, day, revision, lang, category, count) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (portal, day, revision, lang, category) DO UPDATE SET count = count + excluded.count`
	upsertImpressions = `INSERT INTO stats_impressions (portal, day, revision, lang, count) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (portal, day, revision, lang) DO UPDATE SET count = count + excluded.count`
	upsertWithdrawals = `INSERT INTO stats_withdrawals (portal, day, count) VALUES ($1, $2, $3)
		ON CONFLICT (portal, day) DO UPDATE SET count = count + excluded.count`
)

// writeAggregates adds a batch's increments to the aggregate tables, one
// statement per row.
func writeAggregates(ctx context.Context, conn execQuerier, a *receipts.Aggregates) error {
	for _, k := range receipts.SortedKeys(a.Decisions) {
		if _, err := conn.ExecContext(ctx, upsertDecisions, k.Portal, k.Day.Unix(), k.Revision, k.Lang, k.Name, a.Decisions[k]); err != nil {
			return err
		}
	}
	for _, k := range receipts.SortedKeys(a.Accepted) {
		if _, err := conn.ExecContext(ctx, upsertAccepted, k.Portal, k.Day.Unix(), k.Revision, k.Lang, k.Name, a.Accepted[k]); err != nil {
			return err
		}
	}
	for _, k := range receipts.SortedKeys(a.Impressions) {
		if _, err := conn.ExecContext(ctx, upsertImpressions, k.Portal, k.Day.Unix(), k.Revision, k.Lang, a.Impressions[k]); err != nil {
			return err
		}
	}
	for _, k := range receipts.SortedKeys(a.Withdrawals) {
		if _, err := conn.ExecContext(ctx, upsertWithdrawals, k.Portal, k.Day.Unix(), a.Withdrawals[k]); err != nil {
			return err
		}
	}
	return nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// execQuerier is what a batch's statements need: a *sql.Conn, or prepared.
type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// prepared runs statements on conn, each prepared once: a batch of
// receipts runs the same few statements for each receipt, and parsing
// them every time took about a third of the writer's time under load. A
// statement that cannot be prepared fails as it would unprepared. close
// releases them (before the connection goes back).
type prepared struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
}

func (p *prepared) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := p.stmts[query]; ok {
		return st, nil
	}
	st, err := p.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if p.stmts == nil {
		p.stmts = map[string]*sql.Stmt{}
	}
	p.stmts[query] = st
	return st, nil
}

func (p *prepared) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (p *prepared) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return p.conn.QueryRowContext(ctx, query, args...) // the same error, in a *sql.Row
	}
	return st.QueryRowContext(ctx, args...)
}

func (p *prepared) close() {
	for _, st := range p.stmts {
		st.Close()
	}
}

func insertReceipt(ctx context.Context, conn execQuerier, r *receipts.Receipt) error {
	id := uuid.MustParse(r.ID)
	prev, err := hex.DecodeString(r.Prev)
	if err != nil {
		return err
	}
	hash, _ := hex.DecodeString(r.Hash)
	_, err = conn.ExecContext(ctx, `INSERT INTO receipts (portal, seq, id, consent_id, revision, choices, method, lang, page, decided_at, received_at, notice, prev, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		r.Portal, r.Seq, id[:], r.ConsentID, r.Revision, receipts.EncodeChoices(r.Choices), r.Method, r.Lang, r.Page,
		r.DecidedAt.Unix(), r.ReceivedAt.UnixMicro(), r.Notice, prev, hash)
	return err
}

// tallySQL counts one undeclared name seen: $1 portal, $2 day, $3 name, $4
// time seen, $5 page (kept if the tally has fewer than MaxPages distinct
// pages and not this one), $6 type (cookie, localStorage, sessionStorage).
// A name the day has no tally of yet, when the day has MaxTallyNames names
// already (of every type), is counted as the OtherName of its type. It
// returns the name counted and its count.
var tallySQL = strings.NewReplacer("MAXPAGES", fmt.Sprint(receipts.MaxPages), "MAXNAMES", fmt.Sprint(receipts.MaxTallyNames),
	"OTHER", receipts.OtherName).Replace(`INSERT INTO undeclared (portal, day, type, name, count, first_seen, last_seen, pages)
	VALUES ($1, $2, $6, CASE
			WHEN EXISTS (SELECT 1 FROM undeclared WHERE portal = $1 AND day = $2 AND type = $6 AND name = $3) THEN $3
			WHEN EXISTS (SELECT 1 FROM undeclared WHERE portal = $1 AND day = $2 AND type = $6 AND name = 'OTHER') THEN 'OTHER'
			WHEN (SELECT count(*) FROM undeclared WHERE portal = $1 AND day = $2 AND name <> 'OTHER') < MAXNAMES THEN $3
			ELSE 'OTHER' END,
		1, $4, $4, CASE WHEN $5 = '' THEN '[]' ELSE json_array($5) END)
	ON CONFLICT (portal, day, type, name) DO UPDATE SET
		count = count + 1,
		first_seen = min(first_seen, excluded.first_seen),
		last_seen = max(last_seen, excluded.last_seen),
		pages = CASE
			WHEN $5 <> '' AND json_array_length(pages) < MAXPAGES
				AND NOT EXISTS (SELECT 1 FROM json_each(undeclared.pages) WHERE value = $5)
			THEN json_insert(pages, '$[#]', $5)
			ELSE pages
		END
	RETURNING name, count`)

// tally counts name for r (tallySQL); full reports that it made an
// OtherName tally of r's day: the day's names are full from now on.
func tally(ctx context.Context, conn execQuerier, r *receipts.Receipt, name receipts.Name) (full bool, err error) {
	day := r.ReceivedAt.Truncate(24 * time.Hour).Unix()
	var (
		counted string
		count   int64
	)
	err = conn.QueryRowContext(ctx, tallySQL, r.Portal, day, name.Name, r.ReceivedAt.UnixMicro(), r.Page, name.Type).Scan(&counted, &count)
	return err == nil && counted == receipts.OtherName && count == 1, err
}

// ServeNotice stores n once (by portal and SHA256, FirstServed at) and
// moves its LastServed forward to at, never back. It fails without storing
// anything when n.SHA256 is not the SHA-256 of n.Body (an empty SHA256 is
// computed).
func (s *Store) ServeNotice(ctx context.Context, n receipts.Notice, at time.Time) error {
	sum := receipts.NoticeHash(n.Body)
	if n.SHA256 == "" {
		n.SHA256 = sum
	}
	if n.SHA256 != sum {
		return fmt.Errorf("receipts/sqlite: notice %q of portal %q: not the SHA-256 of its body", n.SHA256, n.Portal)
	}
	t := at.UnixMicro()
	return s.job(ctx, func(ctx context.Context, conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx, `INSERT INTO notices (portal, sha256, revision, lang, body, first_served, last_served)
			VALUES ($1, $2, $3, $4, $5, $6, $6)
			ON CONFLICT (portal, sha256) DO UPDATE SET last_served = max(last_served, excluded.last_served)`,
			n.Portal, n.SHA256, n.Revision, n.Lang, n.Body, t)
		return err
	})
}

// retentionBatch is how many receipts of a chain one retention
// transaction deletes at most. The store has one writer: retention's
// transactions run between the appends' (background jobs, in a batch's
// group commit window), so each delays the appends by its own length at
// most (one transaction for a million receipts held every append for 32 s;
// BenchmarkAppendDuringRetention measured append p99 ×10.8 with 2,000 a
// transaction, ×2.3 with 500 and ×1.9 with 200 while each dropped and made
// again the append-only trigger).
const retentionBatch = 200

// retentionTime is how long the DELETE of a retention transaction should
// take: each transaction deletes as many receipts as the last one deleted
// in that time, at most twice as many, so that it fits in a group commit
// window (DefaultGroupCommit) with its other statements and its commit.
const retentionTime = 500 * time.Microsecond

// DeleteBefore deletes the receipts received before cutoff, the tallies of
// UTC days before cutoff's and the aggregates of days whose 00:00 is before
// cutoff, and returns how many receipts it deleted. Each chain loses a
// prefix only (every receipt up to the last one received before cutoff),
// up to retentionBatch receipts a transaction (retentionTime), each moving
// the chain's anchor to the last receipt it deleted and deleting through
// retention_gate: an error stops it with the chains whole and verifiable,
// what was deleted staying deleted (the count is returned with the error).
// Its transactions yield to the appends (backgroundJob), commit lazily
// (lazyTx) and are each followed by a checkpoint (checkpointWAL).
func (s *Store) DeleteBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	// Per chain, the last receipt received before cutoff (through the
	// received_at index); the chain's prefix up to it goes.
	type last struct {
		portal string
		seq    int64
	}
	var lasts []last
	err := s.job(ctx, func(ctx context.Context, conn *sql.Conn) error {
		lasts = nil
		rows, err := conn.QueryContext(ctx, `SELECT portal FROM chains`)
		if err != nil {
			return err
		}
		var portals []string
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				rows.Close()
				return err
			}
			portals = append(portals, p)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, p := range portals {
			var seq sql.NullInt64
			if err := conn.QueryRowContext(ctx, `SELECT max(seq) FROM receipts WHERE portal = $1 AND received_at < $2`, p, cutoff.UnixMicro()).Scan(&seq); err != nil {
				return err
			}
			if seq.Valid {
				lasts = append(lasts, last{p, seq.Int64})
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	limit := int64(retentionBatch)
	if s.cfg.retentionBatch > 0 {
		limit = int64(s.cfg.retentionBatch)
	}
	pace := retentionTime
	if s.cfg.retentionTime > 0 {
		pace = s.cfg.retentionTime
	}
	count := min(limit, 16) // receipts the next transaction deletes at most
	var deleted int64
	for _, l := range lasts {
		for done := false; !done; {
			var (
				n    int64
				took time.Duration
			)
			err := s.backgroundJob(ctx, func(ctx context.Context, conn *sql.Conn) error {
				n = 0
				var low sql.NullInt64
				if err := conn.QueryRowContext(ctx, `SELECT min(seq) FROM receipts WHERE portal = $1`, l.portal).Scan(&low); err != nil {
					return err
				}
				if !low.Valid || low.Int64 > l.seq {
					done = true
					return nil
				}
				end := min(l.seq, low.Int64+count-1)
				done = end == l.seq
				var hash []byte
				if err := conn.QueryRowContext(ctx, `SELECT hash FROM receipts WHERE portal = $1 AND seq = $2`, l.portal, end).Scan(&hash); err != nil {
					return err
				}
				if _, err := conn.ExecContext(ctx, `INSERT INTO anchors (portal, seq, hash) VALUES ($1, $2, $3)
					ON CONFLICT (portal) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`, l.portal, end, hash); err != nil {
					return err
				}
				return throughGate(ctx, conn, l.portal, end, func() error {
					t0 := time.Now()
					res, err := conn.ExecContext(ctx, `DELETE FROM receipts WHERE portal = $1 AND seq <= $2`, l.portal, end)
					took = time.Since(t0)
					if err != nil {
						return err
					}
					if n, err = res.RowsAffected(); err != nil {
						return err
					}
					if s.cfg.retained != nil {
						s.cfg.retained(n)
					}
					return nil
				})
			})
			if err != nil {
				return deleted, err
			}
			deleted += n
			if err := s.checkpointWAL(ctx); err != nil {
				return deleted, err
			}
			if n == count {
				// The next transaction at this one's pace, at most twice
				// as many.
				count = max(1, min(limit, 2*count, int64(float64(count)*float64(pace)/float64(max(took, time.Microsecond)))))
			}
		}
	}
	err = s.job(ctx, func(ctx context.Context, conn *sql.Conn) error {
		day := cutoff.UTC().Truncate(24 * time.Hour).Unix()
		for _, table := range []string{"undeclared", "reappeared"} {
			if _, err := conn.ExecContext(ctx, `DELETE FROM `+table+` WHERE day < $1`, day); err != nil {
				return err
			}
		}
		// The aggregates of every day retention deleted receipts of.
		for _, table := range []string{"stats_decisions", "stats_accepted", "stats_withdrawals", "stats_impressions"} {
			if _, err := conn.ExecContext(ctx, `DELETE FROM `+table+` WHERE day < $1`, unixCeil(cutoff)); err != nil {
				return err
			}
		}
		return nil
	})
	return deleted, err
}

// checkpointWAL copies the write-ahead log into the database file (a
// PASSIVE checkpoint: it waits for no one), on a connection of the
// readers, so that the writer does not. Retention runs it after each of
// its transactions: they commit without waiting for the disk (lazyTx),
// and this writes their pages out in retention's own time, where the
// next append's commit would otherwise find them to sync and, past 1,000
// pages of log, checkpoint them.
func (s *Store) checkpointWAL(ctx context.Context) error {
	var busy, logged, copied int
	if err := s.rdb.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logged, &copied); err != nil {
		return dbErr(ctx, fmt.Errorf("checkpoint of the write-ahead log: %w", err))
	}
	return nil
}

// throughGate runs fn, in the job's transaction, with retention_gate
// open for portal's chain up to seq (0008_retention_gate.sql: the anchor
// must be there already), and closes it again: receipts_no_delete lets
// fn delete that prefix and nothing else. No schema changes, so no
// connection has to prepare its statements again.
func throughGate(ctx context.Context, conn *sql.Conn, portal string, seq int64, fn func() error) error {
	if _, err := conn.ExecContext(ctx, `UPDATE retention_gate SET portal = $1, seq = $2`, portal, seq); err != nil {
		return err
	}
	if err := fn(); err != nil {
		return err
	}
	_, err := conn.ExecContext(ctx, `UPDATE retention_gate SET portal = NULL, seq = NULL`)
	return err
}
