package postgres

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// A request is one Append waiting for its batch.
type request struct {
	r          *receipts.Receipt
	undeclared []receipts.Name
	// resent is set by a batch that found r stored already (r Resends
	// it): r is set to that receipt and the caller gets ErrResent.
	resent bool
	state  atomic.Int32 // queued, taken or abandoned
	done   chan error   // buffered: the writer never waits for the caller
}

const (
	queued int32 = iota
	taken
	abandoned
)

// Append seals r at the end of its portal's chain, stores it and tallies
// the undeclared cookie names, all or nothing; it returns once the
// transaction holding r is committed. A receipt without ID gets a new
// UUIDv7, one without ReceivedAt the current time. It refuses a nil
// receipt, an ID that is not a UUID, one without portal, ReceivedAt outside
// 1970-9998 and text PostgreSQL cannot store (invalid UTF-8, NUL bytes)
// with an error that is not ErrUnavailable. A ctx done before r's batch
// starts returns ctx's error and stores nothing; once the batch started,
// Append waits for its outcome. Database failures, which store nothing of
// the batch, are wrapped in receipts.ErrUnavailable. On success r holds what
// was stored: ID in canonical form, DecidedAt whole seconds and ReceivedAt
// microseconds, both UTC, and Seq, Prev and Hash. A receipt the portal
// holds already (r Resends it), stored by any host, is not stored again: r
// is set to the stored one and Append returns receipts.ErrResent.
func (s *Store) Append(ctx context.Context, r *receipts.Receipt, undeclared []receipts.Name) (err error) {
	if r == nil {
		return fmt.Errorf("%w: nil", errInvalid)
	}
	c := *r
	if c.ID == "" {
		c.ID = uuid.Must(uuid.NewV7()).String()
	}
	id, err := uuid.Parse(c.ID)
	if err != nil {
		return fmt.Errorf("%w: id %q: %w", errInvalid, c.ID, err)
	}
	c.ID = id.String()
	if c.ReceivedAt.IsZero() {
		c.ReceivedAt = time.Now()
	}
	c.ReceivedAt = c.ReceivedAt.Truncate(time.Microsecond).UTC()
	c.DecidedAt = time.Unix(c.DecidedAt.Unix(), 0).UTC()
	c.Choices = slices.Clone(c.Choices)
	if err := validate(&c, undeclared); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &request{r: &c, undeclared: dedupe(undeclared), done: make(chan error, 1)}
	defer func() {
		if err == nil || errors.Is(err, receipts.ErrResent) {
			*r = c
		}
	}()
	return s.enqueue(ctx, req)
}

// CountImpression counts one banner shown for portal, revision and lang on
// at's UTC day in memory (receipts.ImpressionBuffer), written by the next
// flush (every ImpressionFlush, at Close, and before Stats reads): a host
// killed loses at most the impressions of one interval. It refuses an
// empty portal and text PostgreSQL cannot store with a plain error, and a
// new row past receipts.MaxPendingImpressions, or a closed store, with an
// error wrapped in receipts.ErrUnavailable.
func (s *Store) CountImpression(ctx context.Context, portal string, revision int64, lang string, at time.Time) error {
	if portal == "" {
		return fmt.Errorf("%w: impression without portal", errInvalid)
	}
	for _, t := range []string{portal, lang} {
		if !utf8.ValidString(t) || strings.IndexByte(t, 0) >= 0 {
			return fmt.Errorf("%w: text %q is not valid UTF-8 without NUL", errInvalid, t)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errClosed
	}
	return s.imps.Add(portal, revision, lang, at)
}

// flushImpressions writes the impressions counted in memory to the
// aggregates rows of the store's writer, in a transaction of its own; on
// failure it keeps them for the next flush.
func (s *Store) flushImpressions(ctx context.Context) error {
	m := s.imps.Take()
	if m == nil {
		return nil
	}
	s.slot.RLock()
	defer s.slot.RUnlock()
	err := pgx.BeginFunc(ctx, s.wpool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		queueAggregates(b, &receipts.Aggregates{Impressions: m}, s.writerID)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		s.imps.Return(m)
		return unavailable(ctx, "flush impressions", err)
	}
	return nil
}

// enqueue commits req in the next batch (or at once without group commit)
// and returns its outcome.
func (s *Store) enqueue(ctx context.Context, req *request) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return errClosed
	}
	if s.groupCommit == 0 {
		s.direct.Add(1)
		s.mu.RUnlock()
		defer s.direct.Done()
		req.state.Store(taken)
		// Begun, the transaction runs to its end whatever ctx does, as a
		// batch would: its outcome is then known.
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchTimeout)
		defer cancel()
		return req.outcome(s.commit(tctx, []*request{req}))
	}
	select {
	case s.queue <- req:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		if req.state.CompareAndSwap(queued, abandoned) {
			return ctx.Err()
		}
		// Its batch has started: only its outcome tells whether r is stored.
		return <-req.done
	}
}

// writer gathers the requests that arrive within the group commit window of
// the first (at most maxBatch), commits them in one transaction and answers
// each, until Close closes the queue.
func (s *Store) writer() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		// One writer gathers at a time, while the others commit: batches
		// fill up instead of being split between idle writers.
		s.gather.Lock()
		first, ok := <-s.queue
		if !ok {
			s.gather.Unlock()
			return
		}
		gathered := make([]*request, 1, 64)
		gathered[0] = first
		timer.Reset(s.groupCommit)
	gather:
		for len(gathered) < maxBatch {
			select {
			case req, ok := <-s.queue:
				if !ok {
					break gather
				}
				gathered = append(gathered, req)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		s.gather.Unlock()
		// The batch starts: callers whose context ended meanwhile are out.
		batch := gathered[:0]
		for _, req := range gathered {
			if req.state.CompareAndSwap(queued, taken) {
				batch = append(batch, req)
			}
		}
		if len(batch) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
		err := s.commit(ctx, batch)
		cancel()
		for _, req := range batch {
			req.done <- req.outcome(err)
		}
	}
}

// commit stores a batch in one transaction, making the partitions it needs
// first. It retries (twice at most) when nothing can have been committed: a
// partition retention dropped meanwhile, a connection lost before COMMIT,
// a deadlock, a COMMIT cut off that wasCommitted finds rolled back. On success it sets each receipt's Seq, Prev, Hash and times.
// It holds s.slot for reading throughout: the batch is the writer's
// leased when it starts (checkLease switches between two batches).
func (s *Store) commit(ctx context.Context, batch []*request) error {
	s.slot.RLock()
	defer s.slot.RUnlock()
	var months []month
	for _, req := range batch {
		if req.r == nil {
			continue
		}
		if m := monthOf(req.r.ReceivedAt); !slices.Contains(months, m) {
			months = append(months, m)
		}
	}
	for attempt := 0; ; attempt++ {
		if err := s.ensureMonths(ctx, months); err != nil {
			return err
		}
		sealed, resent, committing, err := s.tryCommit(ctx, batch)
		if err != nil && committing && ctx.Err() == nil {
			// COMMIT cut off (connection terminated or lost): look, by the
			// batch's first receipt stored by it. A batch of resends only
			// has nothing to lose: they were stored before.
			first := -1
			for i, req := range batch {
				if req.r != nil && !resent[i] {
					first = i
					break
				}
			}
			stored, lerr := first < 0, error(nil)
			if first >= 0 {
				stored, lerr = s.wasCommitted(ctx, sealed[first])
			}
			for i := 0; lerr != nil && i < 3 && ctx.Err() == nil; i++ {
				if connLost(pgCode(lerr)) {
					s.resetPool()
				}
				stored, lerr = s.wasCommitted(ctx, sealed[first]) // the pool's other connections may be dead too
			}
			switch {
			case lerr != nil:
				return unavailable(ctx, "append (commit outcome unknown)", errors.Join(err, lerr))
			case stored:
				err = nil
			default:
				committing = false // rolled back: as good as never sent
			}
		}
		if err == nil {
			for i, req := range batch {
				if req.r != nil {
					*req.r = sealed[i]
					req.resent = resent[i]
				}
			}
			return nil
		}
		if attempt < 2 && ctx.Err() == nil && !committing {
			switch code := pgCode(err); {
			case code == "23514" && strings.Contains(err.Error(), "no partition"):
				s.forget(months...)
				continue
			case connLost(code):
				// The server terminated the connection (a restart, a
				// failover): its other connections are gone too.
				s.resetPool()
				continue
			case code == "40P01" || code == "40001" || (code == "" && !errors.Is(err, errInvalid)):
				// A deadlock, a serialization failure, or a connection
				// lost or terminated before COMMIT: the transaction was
				// rolled back; the pool gives a new connection.
				continue
			}
		}
		return unavailable(ctx, "append", err)
	}
}

// outcome returns what the caller of req gets when its batch's commit
// returned err: ErrResent for a receipt found stored already.
func (req *request) outcome(err error) error {
	if err == nil && req.resent {
		return receipts.ErrResent
	}
	return err
}

var errInvalid = errors.New("postgres: invalid receipt")

// genesis is receipts.Genesis as bytes.
var genesis = make([]byte, 32)

// tryCommit runs the transaction of one batch on the store's writer (its
// caller holds s.slot for reading): it
// takes the advisory locks of the batch's consent ids (in key order, so
// that transactions cannot deadlock; two hosts wait on each other only for
// receipts of one consent id), locks the heads of the writer's chains of
// the batch's portals in sorted order (inserting missing ones: no other
// host's append waits on them, the writer being this host's alone), reads
// the last choice of each consent id (table last_choices), seals the
// receipts after the heads, inserts receipts, tallies, aggregates and last
// choices and moves the heads. A receipt that resends one stored before
// (by any host: the consent id's lock keeps the others out) or earlier in
// the batch is not stored: sealed holds that first receipt and resent is
// true. committing reports whether the error came from COMMIT itself,
// after which the outcome is unknown.
func (s *Store) tryCommit(ctx context.Context, batch []*request) (sealed []receipts.Receipt, resent []bool, committing bool, err error) {
	var portals, pairPortals, pairConsents []string
	var consentKeys []int32
	for _, req := range batch {
		if req.r != nil {
			portals = append(portals, req.r.Portal)
			pairPortals, pairConsents = append(pairPortals, req.r.Portal), append(pairConsents, req.r.ConsentID)
			consentKeys = append(consentKeys, consentLockKey(req.r.Portal, req.r.ConsentID))
		}
	}
	slices.Sort(portals)
	portals = slices.Compact(portals)
	writer := s.writerID // commit holds s.slot: the same the whole batch
	slices.Sort(consentKeys)
	consentKeys = slices.Compact(consentKeys)

	tx, err := s.wpool.Begin(ctx)
	if err != nil {
		return nil, nil, false, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.Background())
		}
	}()

	b := &pgx.Batch{}
	// The consent ids' locks, in key order (unnest keeps it; the locks,
	// volatile, are taken in that order).
	b.Queue(`SELECT count(pg_advisory_xact_lock($1::int4, k)) FROM unnest($2::int4[]) AS k`, lockConsent, consentKeys)
	// The writer's heads, locked in portal order (the "C" collation sorts
	// as Go does).
	b.Queue(`INSERT INTO chains (portal, writer, seq, hash)
		SELECT p, $2, 0, $3 FROM unnest($1::text[]) AS p ORDER BY p
		ON CONFLICT (portal, writer) DO NOTHING`, portals, writer, genesis)
	b.Queue(`SELECT portal, seq, hash FROM chains WHERE writer = $2 AND portal = ANY($1::text[])
		ORDER BY portal FOR UPDATE`, portals, writer)
	type head struct {
		seq  int64
		hash string
	}
	// After the locks: the last choice of each consent id.
	b.Queue(`SELECT l.portal, l.consent_id, l.choices
		FROM (SELECT DISTINCT * FROM unnest($1::text[], $2::text[])) AS k(portal, consent_id)
		JOIN last_choices l ON l.portal = k.portal AND l.consent_id = k.consent_id`,
		pairPortals, pairConsents)
	// And the receipts the batch's resend (the first of each), looked for
	// only for the consent ids that have a last choice (a first choice
	// resends nothing stored).
	var kDecided []time.Time
	var kRevisions []int64
	var kChoices []string
	for _, req := range batch {
		if req.r != nil {
			kDecided, kRevisions = append(kDecided, req.r.DecidedAt), append(kRevisions, req.r.Revision)
			kChoices = append(kChoices, receipts.EncodeChoices(req.r.Choices))
		}
	}
	b.Queue(`SELECT k.i, r.* FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[], $5::text[])
			WITH ORDINALITY AS k(portal, consent_id, decided_at, revision, choices, i)
		CROSS JOIN LATERAL (SELECT `+receiptColumns+` FROM receipts
			WHERE portal = k.portal AND consent_id = k.consent_id AND decided_at = k.decided_at
				AND revision = k.revision AND choices = k.choices
				AND EXISTS (SELECT 1 FROM last_choices l WHERE l.portal = k.portal AND l.consent_id = k.consent_id)
			ORDER BY received_at, writer, seq LIMIT 1) AS r`,
		pairPortals, pairConsents, kDecided, kRevisions, kChoices)
	stored := map[int]*receipts.Receipt{} // by index among the batch's receipts, from 0
	heads := make(map[string]head, len(portals))
	last := map[[2]string][]policy.Choice{} // by portal and consent id
	br := tx.SendBatch(ctx, b)
	if _, err = br.Exec(); err == nil {
		_, err = br.Exec()
	}
	if err == nil {
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			var (
				p    string
				seq  int64
				hash []byte
			)
			_, err = pgx.ForEachRow(rows, []any{&p, &seq, &hash}, func() error {
				heads[p] = head{seq, hex.EncodeToString(hash)}
				return nil
			})
		}
	}
	if err == nil {
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			var p, cid, choices string
			_, err = pgx.ForEachRow(rows, []any{&p, &cid, &choices}, func() error {
				cs, err := receipts.DecodeChoices(choices)
				if err != nil {
					return fmt.Errorf("%w: consent %q of portal %q: %w", errInvalid, cid, p, err)
				}
				last[[2]string{p, cid}] = cs
				return nil
			})
		}
	}
	if err == nil {
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			for rows.Next() {
				var i int64
				var r *receipts.Receipt
				if r, err = scanReceipt(numbered{rows, &i}); err != nil {
					break
				}
				stored[int(i-1)] = r
			}
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, false, err
	}
	if len(heads) != len(portals) {
		return nil, nil, false, fmt.Errorf("postgres: locked %d chain heads of %d", len(heads), len(portals))
	}

	sealed, resent = make([]receipts.Receipt, len(batch)), make([]bool, len(batch))
	tallies := map[tallyKey]*tally{} // the batch's undeclared names, counted together
	var (
		ids, ps, consents, choices, methods, langs, pages, notices []string
		seqs, revisions                                            []int64
		decided, received                                          []time.Time
		prevs, hashes                                              [][]byte
	)
	b = &pgx.Batch{}
	var agg receipts.Aggregates
	var fresh []int                     // the batch's receipts this transaction stores, by index in batch
	lastAt := map[[2]string]time.Time{} // receive time of last[key], for the keys this batch stores
	ri := -1                            // index among the batch's receipts
	for bi, req := range batch {
		ri++
		c := *req.r
		if first := stored[ri]; first != nil {
			sealed[bi], resent[bi] = *first, true
			continue
		}
		if j := slices.IndexFunc(fresh, func(j int) bool { return c.Resends(&sealed[j]) }); j >= 0 {
			sealed[bi], resent[bi] = sealed[fresh[j]], true
			continue
		}
		fresh = append(fresh, bi)
		h := heads[c.Portal]
		c.Writer = writer
		c.Seal(h.seq+1, h.hash)
		heads[c.Portal] = head{c.Seq, c.Hash}
		sealed[bi] = c
		key := [2]string{c.Portal, c.ConsentID}
		agg.AddReceipt(&c, last[key])
		last[key] = c.Choices

		ids, ps, seqs, consents, revisions = append(ids, c.ID), append(ps, c.Portal), append(seqs, c.Seq), append(consents, c.ConsentID), append(revisions, c.Revision)
		lastAt[key] = c.ReceivedAt
		choices, methods, langs, pages = append(choices, receipts.EncodeChoices(c.Choices)), append(methods, c.Method), append(langs, c.Lang), append(pages, c.Page)
		decided, received, notices = append(decided, c.DecidedAt), append(received, c.ReceivedAt), append(notices, c.Notice)
		prev, _ := hex.DecodeString(c.Prev)
		hash, _ := hex.DecodeString(c.Hash)
		prevs, hashes = append(prevs, prev), append(hashes, hash)

		day := time.Date(c.ReceivedAt.Year(), c.ReceivedAt.Month(), c.ReceivedAt.Day(), 0, 0, 0, 0, time.UTC)
		for _, name := range req.undeclared {
			k := tallyKey{c.Portal, day, name.Type, name.Name}
			t := tallies[k]
			if t == nil {
				t = &tally{first: c.ReceivedAt, last: c.ReceivedAt, pages: []string{}}
				tallies[k] = t
			}
			t.add(c.ReceivedAt, c.Page)
		}
	}
	// One statement per name of the batch (not per receipt and name), in
	// key order.
	var full []tallyKey // tallies whose name filled their day (tallySQL)
	for _, k := range slices.SortedFunc(maps.Keys(tallies), tallyKey.compare) {
		t := tallies[k]
		b.Queue(tallySQL, k.portal, k.day, k.name, t.first, t.last, t.pages, k.typ, writer, t.n).QueryRow(func(row pgx.Row) error {
			var (
				counted  string
				inserted bool
			)
			if err := row.Scan(&counted, &inserted); err != nil {
				return err
			}
			if counted == receipts.OtherName && inserted {
				full = append(full, k)
			}
			return nil
		})
	}
	b.Queue(`INSERT INTO receipts (id, portal, writer, seq, consent_id, revision, choices, method,
			lang, page, decided_at, received_at, notice, prev, hash)
		SELECT id, portal, $15, seq, consent_id, revision, choices, method,
			lang, page, decided_at, received_at, notice, prev, hash
		FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::bigint[],
			$6::text[], $7::text[], $8::text[], $9::text[], $10::timestamptz[],
			$11::timestamptz[], $12::text[], $13::bytea[], $14::bytea[])
			AS v(id, portal, seq, consent_id, revision, choices, method,
			lang, page, decided_at, received_at, notice, prev, hash)`,
		ids, ps, seqs, consents, revisions, choices, methods, langs, pages, decided, received, notices, prevs, hashes, writer)
	if len(lastAt) > 0 {
		// The consent ids' last choices, one row each, in key order.
		keys := slices.SortedFunc(maps.Keys(lastAt), func(a, b [2]string) int {
			return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]))
		})
		lp, lc, lch, lat := make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys)), make([]time.Time, len(keys))
		for i, k := range keys {
			lp[i], lc[i], lch[i], lat[i] = k[0], k[1], receipts.EncodeChoices(last[k]), lastAt[k]
		}
		b.Queue(`INSERT INTO last_choices AS l (portal, consent_id, choices, received_at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
			ON CONFLICT (portal, consent_id) DO UPDATE SET choices = excluded.choices, received_at = excluded.received_at`,
			lp, lc, lch, lat)
	}
	hp, hs, hh := make([]string, 0, len(heads)), make([]int64, 0, len(heads)), make([][]byte, 0, len(heads))
	for _, p := range portals {
		hp = append(hp, p)
		hs = append(hs, heads[p].seq)
		sum, _ := hex.DecodeString(heads[p].hash)
		hh = append(hh, sum)
	}
	b.Queue(`UPDATE chains SET seq = v.seq, hash = v.hash
		FROM unnest($1::text[], $2::bigint[], $3::bytea[]) AS v(portal, seq, hash)
		WHERE chains.portal = v.portal AND chains.writer = $4`, hp, hs, hh, writer)
	queueAggregates(b, &agg, writer)
	if err = tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, false, err
	}
	if err = tx.Commit(ctx); err != nil {
		return sealed, resent, true, err
	}
	for _, k := range full {
		receipts.LogTallyFull(s.log, "undeclared", k.portal, k.day)
	}
	return sealed, resent, false, nil
}

// consentLockKey is the second key of the advisory lock (class
// lockConsent) an append takes for a consent id of portal: an FNV-1a hash
// of both (two consent ids sharing a key only wait on each other).
func consentLockKey(portal, consentID string) int32 {
	h := fnv.New32a()
	h.Write([]byte(portal))
	h.Write([]byte{0})
	h.Write([]byte(consentID))
	return int32(h.Sum32())
}

// numbered scans a row of a number, then the columns of the row it wraps.
type numbered struct {
	pgx.Row
	n *int64
}

func (r numbered) Scan(dest ...any) error { return r.Row.Scan(append([]any{r.n}, dest...)...) }

// queueAggregates queues the upserts of a batch's increments to the
// aggregate tables' rows of writer, one statement per table, rows in a
// fixed order (so that two transactions lock common rows in the same
// order; only the writer's own, those of one host).
func queueAggregates(b *pgx.Batch, a *receipts.Aggregates, writer int) {
	cols := func(m map[receipts.AggKey]int64) (ps []string, days []time.Time, revs []int64, langs, names []string, counts []int64) {
		for _, k := range receipts.SortedKeys(m) {
			ps, days, revs = append(ps, k.Portal), append(days, k.Day), append(revs, k.Revision)
			langs, names, counts = append(langs, k.Lang), append(names, k.Name), append(counts, m[k])
		}
		return
	}
	if len(a.Decisions) > 0 {
		ps, days, revs, langs, names, counts := cols(a.Decisions)
		b.Queue(`INSERT INTO stats_decisions AS s (portal, day, revision, lang, method, count, writer)
			SELECT *, $7::int FROM unnest($1::text[], $2::date[], $3::bigint[], $4::text[], $5::text[], $6::bigint[])
			ON CONFLICT (portal, day, revision, lang, method, writer) DO UPDATE SET count = s.count + excluded.count`,
			ps, days, revs, langs, names, counts, writer)
	}
	if len(a.Accepted) > 0 {
		ps, days, revs, langs, names, counts := cols(a.Accepted)
		b.Queue(`INSERT INTO stats_accepted AS s (portal, day, revision, lang, category, count, writer)
			SELECT *, $7::int FROM unnest($1::text[], $2::date[], $3::bigint[], $4::text[], $5::text[], $6::bigint[])
			ON CONFLICT (portal, day, revision, lang, category, writer) DO UPDATE SET count = s.count + excluded.count`,
			ps, days, revs, langs, names, counts, writer)
	}
	if len(a.Impressions) > 0 {
		ps, days, revs, langs, _, counts := cols(a.Impressions)
		b.Queue(`INSERT INTO stats_impressions AS s (portal, day, revision, lang, count, writer)
			SELECT *, $6::int FROM unnest($1::text[], $2::date[], $3::bigint[], $4::text[], $5::bigint[])
			ON CONFLICT (portal, day, revision, lang, writer) DO UPDATE SET count = s.count + excluded.count`,
			ps, days, revs, langs, counts, writer)
	}
	if len(a.Withdrawals) > 0 {
		ps, days, _, _, _, counts := cols(a.Withdrawals)
		b.Queue(`INSERT INTO stats_withdrawals AS s (portal, day, count, writer)
			SELECT *, $4::int FROM unnest($1::text[], $2::date[], $3::bigint[])
			ON CONFLICT (portal, day, writer) DO UPDATE SET count = s.count + excluded.count`,
			ps, days, counts, writer)
	}
}

// connLost reports whether SQLSTATE code says the server ended the
// connection: class 08 or 57P01-57P03 (admin shutdown, crash shutdown,
// cannot connect now).
func connLost(code string) bool {
	return strings.HasPrefix(code, "08") || strings.HasPrefix(code, "57P")
}

// resetPool closes the pools' connections (the writers' and the reads':
// a restart or a failover ended them all), at most once a second, so that
// retries get new ones instead of the other dead ones.
func (s *Store) resetPool() {
	now := time.Now().UnixNano()
	last := s.lastReset.Load()
	if now-last > int64(time.Second) && s.lastReset.CompareAndSwap(last, now) {
		s.wpool.Reset()
		s.pool.Reset()
	}
}

// wasCommitted reports whether the batch whose COMMIT was cut off, of which
// r is the first receipt, was committed. It first waits, on another
// connection, for the chain head's lock: for the old transaction to end
// either way.
func (s *Store) wasCommitted(ctx context.Context, r receipts.Receipt) (bool, error) {
	tx, err := s.wpool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback(context.Background()) }() // nothing of this is to keep
	if _, err := tx.Exec(ctx, `INSERT INTO chains (portal, writer, seq, hash) VALUES ($1, $2, 0, $3)
		ON CONFLICT (portal, writer) DO NOTHING`, r.Portal, r.Writer, genesis); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM chains WHERE portal = $1 AND writer = $2 FOR SHARE", r.Portal, r.Writer); err != nil {
		return false, err
	}
	var stored bool
	err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM receipts
		WHERE portal = $1 AND writer = $5 AND seq = $2 AND received_at = $3 AND id = $4)`,
		r.Portal, r.Seq, r.ReceivedAt, r.ID, r.Writer).Scan(&stored)
	return stored, err
}

// tallyKey is the tally an undeclared name is counted in (but its writer).
type tallyKey struct {
	portal    string
	day       time.Time
	typ, name string
}

func (k tallyKey) compare(o tallyKey) int {
	return cmp.Or(strings.Compare(k.portal, o.portal), k.day.Compare(o.day),
		strings.Compare(k.typ, o.typ), strings.Compare(k.name, o.name))
}

// tally is what a batch counts of one name: how many of its receipts
// reported it, when first and last, on which pages (the first
// receipts.MaxPages distinct ones; never nil).
type tally struct {
	n           int64
	first, last time.Time
	pages       []string
}

func (t *tally) add(at time.Time, page string) {
	t.n++
	if at.Before(t.first) {
		t.first = at
	}
	if at.After(t.last) {
		t.last = at
	}
	if page != "" && len(t.pages) < receipts.MaxPages && !slices.Contains(t.pages, page) {
		t.pages = append(t.pages, page)
	}
}

// tallySQL counts a batch's reports of one undeclared name in the tally
// row of a writer: $1 portal, $2 day, $3 name, $4 and $5 the first and
// last time seen, $6 pages (the row keeps the first receipts.MaxPages
// distinct ones), $7 type (cookie, localStorage, sessionStorage), $8
// writer, $9 how many receipts reported it. Each writer counts in rows of
// its own (the readers sum them), so that batches of two hosts reporting
// the same name never lock one row. Whether a name has a tally, and how
// many names the day has, is read across writers (without locks): a name
// the day has no tally of yet, when the day has receipts.MaxTallyNames
// distinct names already (of every type), is counted as the
// receipts.OtherName of its type. Hosts appending to one portal at once
// may each add a name at the cap, unseen by the others until they commit:
// a day may hold a name per host past it. It returns the name counted and
// whether its row was made.
var tallySQL = fmt.Sprintf(`INSERT INTO undeclared AS u (portal, day, type, name, writer, count, first_seen, last_seen, pages)
	VALUES ($1, $2, $7::text, CASE
			WHEN EXISTS (SELECT 1 FROM undeclared WHERE portal = $1 AND day = $2 AND type = $7::text AND name = $3::text) THEN $3::text
			WHEN EXISTS (SELECT 1 FROM undeclared WHERE portal = $1 AND day = $2 AND type = $7::text AND name = '%[2]s') THEN '%[2]s'
			WHEN (SELECT count(*) FROM (SELECT DISTINCT type, name FROM undeclared
				WHERE portal = $1 AND day = $2 AND name <> '%[2]s') AS d) < %[3]d THEN $3::text
			ELSE '%[2]s' END,
		$8, $9, $4, $5, $6::text[])
	ON CONFLICT (portal, day, type, name, writer) DO UPDATE SET
		count = u.count + excluded.count,
		first_seen = least(u.first_seen, excluded.first_seen),
		last_seen = greatest(u.last_seen, excluded.last_seen),
		pages = CASE WHEN cardinality(u.pages) >= %[1]d OR cardinality(excluded.pages) = 0 THEN u.pages
			ELSE (SELECT array_agg(p ORDER BY o) FROM (
				SELECT p, min(o) AS o FROM unnest(u.pages || excluded.pages) WITH ORDINALITY AS x(p, o)
				GROUP BY p ORDER BY min(o) LIMIT %[1]d) AS d) END
	RETURNING u.name, u.xmax = 0`, receipts.MaxPages, receipts.OtherName, receipts.MaxTallyNames)

// validate refuses what PostgreSQL could not store, so that one bad receipt
// does not fail the batch it would join.
func validate(r *receipts.Receipt, undeclared []receipts.Name) error {
	if r.Portal == "" {
		return fmt.Errorf("%w: no portal", errInvalid)
	}
	if y := r.ReceivedAt.UTC().Year(); y < 1970 || y > 9998 {
		return fmt.Errorf("%w: ReceivedAt in year %d", errInvalid, y)
	}
	texts := []string{r.ID, r.Portal, r.ConsentID, r.Method, r.Lang, r.Page, r.Notice}
	for _, c := range r.Choices {
		texts = append(texts, c.Category)
	}
	for _, n := range undeclared {
		texts = append(texts, n.Type, n.Name)
	}
	for _, t := range texts {
		if !utf8.ValidString(t) || strings.IndexByte(t, 0) >= 0 {
			return fmt.Errorf("%w: text %q is not valid UTF-8 without NUL", errInvalid, t)
		}
	}
	return nil
}

// dedupe returns names without repeats (or empty names), in order.
func dedupe(names []receipts.Name) []receipts.Name {
	var out []receipts.Name
	for _, n := range names {
		if n.Name != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
