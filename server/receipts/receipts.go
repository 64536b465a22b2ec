// Package receipts keeps the proof of every visitor's choice: a receipt per
// choice, the notices (policy documents) visitors were shown, and a tally of
// the cookies pages set that their policy does not declare.
//
// A receipt holds what proves a choice and nothing that identifies the
// person: no IP address, no user agent, no cookie value. The receipts of a
// portal form a hash chain (see Seal and Verify): each stores the hash of the
// previous one and of its own canonical bytes, so that a receipt removed,
// altered or inserted later is detected.
//
// Store is the storage contract; package sqlite (embedded, the default) and
// package postgres (several consent hosts sharing one database) implement it,
// and package receiptstest is the contract test suite both pass.
package receipts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/portalconsent/portalconsent/policy"
)

// Errors of a Store. The HTTP router maps ErrNotFound to 404 and
// ErrUnavailable to 503.
var (
	// ErrNotFound: no such receipt, consent or notice.
	ErrNotFound = errors.New("receipts: not found")
	// ErrUnavailable wraps every failure of the database itself (gone, full
	// disk, timeout): nothing was stored, try again later.
	ErrUnavailable = errors.New("receipts: storage unavailable")
	// ErrResent: Append was given a receipt its portal holds already (see
	// Receipt.Resends) and stored nothing; the receipt given now holds the
	// first one. The receipts route answers it 200 with the first id.
	ErrResent = errors.New("receipts: receipt stored before")
)

// Methods a choice is made with.
const (
	MethodAcceptAll = "accept-all"
	MethodRejectAll = "reject-all"
	MethodCustom    = "custom"
	// MethodSignal is a choice the browser's signal made: the visitor's
	// Advanced Data Protection Control decisions (the loader's beyond.js).
	MethodSignal = "signal"
)

// Methods are the methods above, in the order reports show them.
var Methods = []string{MethodAcceptAll, MethodRejectAll, MethodCustom, MethodSignal}

// ValidMethod reports whether m is one of the methods above.
func ValidMethod(m string) bool {
	return slices.Contains(Methods, m)
}

// Receipt is the proof of one choice.
type Receipt struct {
	// ID is a UUIDv7 made by the server when it received the choice.
	ID     string
	Portal string
	// Writer is the chain of the portal the receipt is in: a portal has a
	// chain per writer (a slot a host of a PostgreSQL fleet leases, see
	// package postgres); 0 for the only chain of a SQLite store and for
	// every receipt stored before chains per writer. Append sets it.
	Writer int
	// Seq is the receipt's position in its chain (portal and Writer), from
	// 1; Append sets it.
	Seq       int64
	ConsentID string
	Revision  int64
	// Choices are the decisions of the value, in its order.
	Choices []policy.Choice
	Method  string
	Lang    string
	// Page is the origin and path of the page the choice was made on.
	Page string
	// DecidedAt is the decision time of the cookie value (whole seconds, UTC).
	DecidedAt time.Time
	// ReceivedAt is the server's clock when it received the choice (UTC,
	// microseconds): authoritative.
	ReceivedAt time.Time
	// Notice is the hex SHA-256 of the policy document shown (see Notice).
	Notice string
	// Prev is the hex Hash of the previous receipt of the portal's chain;
	// Genesis for the first. Append sets it.
	Prev string
	// Hash is the hex SHA-256 of Canonical(); Append sets it.
	Hash string
}

// Resends reports whether r is the receipt of the same choice as o: the
// same portal, consent id, decision time (whole seconds), revision and
// choices, that is the same cookie value. A browser that sends a receipt
// again, not knowing whether the first one was stored, sends such a
// receipt; the other fields (method, language, page) are not compared.
func (r *Receipt) Resends(o *Receipt) bool {
	return r.Portal == o.Portal && r.ConsentID == o.ConsentID && r.DecidedAt.Unix() == o.DecidedAt.Unix() &&
		r.Revision == o.Revision && EncodeChoices(r.Choices) == EncodeChoices(o.Choices)
}

// Genesis is the Prev of the first receipt of every chain.
var Genesis = strings.Repeat("0", 64)

// canonical is the shape hashed: every field of a receipt but Hash, in a
// fixed order, through encoding/json (deterministic for structs).
type canonical struct {
	V          int      `json:"v"`
	ID         string   `json:"id"`
	Portal     string   `json:"portal"`
	Writer     int      `json:"writer,omitempty"` // absent for 0: the hashes made before writers hold
	Seq        int64    `json:"seq"`
	ConsentID  string   `json:"consentId"`
	Revision   int64    `json:"revision"`
	Choices    []string `json:"choices"`
	Method     string   `json:"method"`
	Lang       string   `json:"lang"`
	Page       string   `json:"page"`
	DecidedAt  int64    `json:"decidedAt"`  // Unix seconds
	ReceivedAt int64    `json:"receivedAt"` // Unix microseconds
	Notice     string   `json:"notice"`
	Prev       string   `json:"prev"`
}

// Canonical returns the bytes Hash is the SHA-256 of: a JSON object of
// every field but Hash (times as Unix seconds and microseconds).
func (r *Receipt) Canonical() []byte {
	c := canonical{
		V: 1, ID: r.ID, Portal: r.Portal, Writer: r.Writer, Seq: r.Seq, ConsentID: r.ConsentID,
		Revision: r.Revision, Choices: ChoiceStrings(r.Choices), Method: r.Method,
		Lang: r.Lang, Page: r.Page, DecidedAt: r.DecidedAt.Unix(),
		ReceivedAt: r.ReceivedAt.UnixMicro(), Notice: r.Notice, Prev: r.Prev,
	}
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // strings and integers only
	}
	return b
}

// Seal places r after prev (the Hash of the portal's last receipt, Genesis
// for the first) at position seq, and sets its Hash. Stores call it while
// they hold their portal's chain.
func (r *Receipt) Seal(seq int64, prev string) {
	r.Seq, r.Prev = seq, prev
	r.Hash = r.ComputeHash()
}

// ComputeHash returns the hex SHA-256 of r's canonical bytes.
func (r *Receipt) ComputeHash() string {
	sum := sha256.Sum256(r.Canonical())
	return hex.EncodeToString(sum[:])
}

// ChoiceStrings returns the choices as "category=1" (accepted) or
// "category=0", in order.
func ChoiceStrings(cs []policy.Choice) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Category + "=0"
		if c.Accepted {
			out[i] = c.Category + "=1"
		}
	}
	return out
}

// EncodeChoices returns the choices as the cookie value writes them:
// "necessary=1/statistical=0".
func EncodeChoices(cs []policy.Choice) string { return strings.Join(ChoiceStrings(cs), "/") }

// DecodeChoices parses what EncodeChoices returns; it fails on anything else.
func DecodeChoices(s string) ([]policy.Choice, error) {
	if s == "" {
		return nil, nil
	}
	var out []policy.Choice
	for _, part := range strings.Split(s, "/") {
		cat, flag, ok := strings.Cut(part, "=")
		if !ok || !policy.ValidID(cat) || (flag != "0" && flag != "1") {
			return nil, fmt.Errorf("receipts: malformed choice %q", part)
		}
		out = append(out, policy.Choice{Category: cat, Accepted: flag == "1"})
	}
	return out, nil
}

// Notice is a policy document as a visitor was shown it: the policy JSON of
// one language, as config.json served it. Each distinct document is stored
// once, named by its SHA-256.
type Notice struct {
	Portal   string
	SHA256   string // hex SHA-256 of Body
	Revision int64
	Lang     string
	Body     []byte
	// FirstServed and LastServed bound when the server served it (UTC); see
	// Store.ServeNotice.
	FirstServed time.Time
	LastServed  time.Time
}

// NoticeHash returns the hex SHA-256 of a notice's body.
func NoticeHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// Undeclared is the tally of one cookie name (or web storage key) a
// portal's pages set without its policy declaring it, on one UTC day.
type Undeclared struct {
	Portal string
	Day    time.Time // 00:00 UTC
	// Type is where the name was found: policy.TypeCookie,
	// policy.TypeLocalStorage or policy.TypeSessionStorage.
	Type      string
	Name      string
	Count     int64
	FirstSeen time.Time
	LastSeen  time.Time
	// Pages are a few of the pages it was seen on (at most MaxPages).
	Pages []string
}

// Name is an undeclared name a receipt reports: a cookie name or a key of
// the page's web storage (Type, as Undeclared.Type).
type Name struct {
	Type string
	Name string
}

// Cookies returns names as undeclared cookie names.
func Cookies(names ...string) []Name {
	out := make([]Name, len(names))
	for i, n := range names {
		out[i] = Name{Type: policy.TypeCookie, Name: n}
	}
	return out
}

// MaxPages is how many distinct pages an Undeclared or Reappeared tally
// keeps.
const MaxPages = 5

// Bounds of the tallies a visitor's browser feeds: any page may report any
// name, so that a flood of random names cannot fill the database or the
// console's pages, a portal's undeclared tallies of one UTC day hold at
// most MaxTallyNames distinct names (of every type together), and so do
// its reappeared tallies (distinct name and category pairs); every name
// beyond is counted in the tally named OtherName (one per type for
// undeclared, one per category for reappeared), and a store logs once,
// when such a tally is made, that the day's table is full (LogTallyFull).
const (
	MaxTallyNames = 1000
	// OtherName is the name of the tally of the names beyond MaxTallyNames:
	// never a cookie name (parentheses are not allowed in one).
	OtherName = "(other)"
)

// LogTallyFull logs, at Warn on log (nil logs nothing), that the tallies of
// table ("undeclared" or "reappeared") for portal on day are full: further
// names are counted as OtherName. Stores call it once per table, portal
// and day: when the OtherName tally is made.
func LogTallyFull(log *slog.Logger, table, portal string, day time.Time) {
	if log == nil {
		return
	}
	log.Warn("cookie tallies full: further names are counted as "+OtherName, "table", table, "portal", portal,
		"day", day.UTC().Format(time.DateOnly), "maxNames", MaxTallyNames)
}

// CheckPage returns an error unless limit is at least 1 and offset at
// least 0: the bounds of a page of summed tallies (UndeclaredPage,
// ReappearedPage).
func CheckPage(limit, offset int) error {
	if limit < 1 || offset < 0 {
		return fmt.Errorf("receipts: a page of tallies needs a limit of at least 1 and an offset of at least 0, got %d and %d", limit, offset)
	}
	return nil
}

// ReappearedCookie is a declared cookie of a refused category that a page
// set again: its name and the category the policy files it under.
type ReappearedCookie struct {
	Name     string
	Category string
}

// Reappeared is the tally of one declared cookie of a refused category
// found again on a portal's pages (the loader deletes it and reports it),
// on one UTC day. Nothing of the visitor is kept.
type Reappeared struct {
	Portal    string
	Day       time.Time // 00:00 UTC
	Name      string
	Category  string
	Count     int64
	FirstSeen time.Time
	LastSeen  time.Time
	// Pages are a few of the pages it was seen on (at most MaxPages).
	Pages []string
}

// BrokenLink is the error of Verify: the first receipt of a chain that does
// not verify.
type BrokenLink struct {
	Portal    string
	Writer    int // the chain of the portal (Receipt.Writer)
	Seq       int64
	ReceiptID string // "" when the receipt at Seq is missing
	Reason    string
}

func (e *BrokenLink) Error() string {
	id := e.ReceiptID
	if id == "" {
		id = "missing"
	}
	return fmt.Sprintf("receipts: chain of %s broken at receipt #%d (%s): %s", ChainName(e.Portal, e.Writer), e.Seq, id, e.Reason)
}

// Store keeps receipts, notices and tallies. Every method is safe for
// concurrent use; every failure of the database is wrapped in ErrUnavailable.
type Store interface {
	// Append stores r and tallies the undeclared names, cookie names and
	// web storage keys (at most a few, already checked by the caller), for
	// r.Portal on r.ReceivedAt's UTC day with r.Page, all or nothing; a new
	// name past the day's MaxTallyNames is counted as OtherName of its type. It seals r at the end of its portal's
	// chain (sets Seq, Prev and Hash) and returns only once r is durable
	// (fsynced, committed). A store may gather the receipts that arrive
	// together into one transaction (group commit); each call still returns
	// only once its own receipt is durable. In the same transaction it
	// updates the daily aggregates Stats reads (see Aggregates), the
	// withdrawal found against the previous receipt of r.ConsentID, even
	// one of the same batch.
	//
	// A resend is idempotent: when the portal holds a receipt that r
	// Resends (stored earlier, by any host of the database, or earlier in
	// the same batch), Append stores nothing, tallies and counts nothing,
	// sets r to that receipt and returns ErrResent. The check and the
	// append are one step under the portal's chain: two resends arriving
	// together store one receipt.
	Append(ctx context.Context, r *Receipt, undeclared []Name) error
	// CountImpression counts one banner shown for portal, revision and
	// lang on at's UTC day (no id, nothing personal). A store may gather
	// it with appends into one transaction, or count it in memory and
	// write it within seconds (ImpressionBuffer): Close writes what it
	// holds, and Stats counts the impressions of its own store.
	CountImpression(ctx context.Context, portal string, revision int64, lang string, at time.Time) error
	// Stats returns the daily aggregates of the portal for the UTC days
	// whose 00:00 is in [from, to); a portal without any gets a Stats
	// without days.
	Stats(ctx context.Context, portal string, from, to time.Time) (Stats, error)

	// ServeNotice records that the server serves n (n.FirstServed and
	// n.LastServed are ignored) at time at: it stores n once (by portal and
	// SHA256) with FirstServed at, and moves LastServed forward to at.
	ServeNotice(ctx context.Context, n Notice, at time.Time) error
	// Notice returns the stored notice, or ErrNotFound.
	Notice(ctx context.Context, portal, sha256 string) (Notice, error)
	// Notices returns the portal's notices, oldest FirstServed first, bodies
	// included.
	Notices(ctx context.Context, portal string) ([]Notice, error)

	// Consent returns the receipts of one consent id of the portal, oldest
	// first, or ErrNotFound when there is none.
	Consent(ctx context.Context, portal, consentID string) ([]Receipt, error)
	// Export calls fn with each receipt of the portal received in
	// [from, to), in chain order, reading as it goes (constant memory). It
	// stops at, and returns, the first error of fn.
	Export(ctx context.Context, portal string, from, to time.Time, fn func(*Receipt) error) error
	// Undeclared returns the tallies of the portal for the days in
	// [from, to), by day, then type, then name.
	Undeclared(ctx context.Context, portal string, from, to time.Time) ([]Undeclared, error)
	// UndeclaredPage returns one page of the portal's undeclared names
	// summed over the days in [from, to): the (type, name) pairs ordered by
	// their summed count, most first, then by type, then by name (byte
	// order), limit of them
	// from offset, as their daily tallies (by day then name: what
	// reports.SumUndeclared sums), and how many names the period has in
	// all. It reads at most limit names' tallies whatever the period holds.
	// A limit under 1 or a negative offset is an error (CheckPage).
	UndeclaredPage(ctx context.Context, portal string, from, to time.Time, limit, offset int) ([]Undeclared, int, error)
	// CountReappeared tallies once each cookie of cookies (names and
	// categories already checked by the caller) for portal on at's UTC
	// day, with page among the tally's pages, all or nothing; a new name
	// and category past the day's MaxTallyNames is counted as OtherName in
	// that category. It fails
	// without counting on an empty portal.
	CountReappeared(ctx context.Context, portal, page string, cookies []ReappearedCookie, at time.Time) error
	// Reappeared returns the tallies of CountReappeared of the portal for
	// the days in [from, to), by day, name then category.
	Reappeared(ctx context.Context, portal string, from, to time.Time) ([]Reappeared, error)
	// ReappearedPage is UndeclaredPage for the reappeared tallies: the
	// pairs of name and category ordered by summed count, most first,
	// then by name and category.
	ReappearedPage(ctx context.Context, portal string, from, to time.Time, limit, offset int) ([]Reappeared, int, error)

	// Verify walks every portal's chain and returns a *BrokenLink for the
	// first receipt that does not verify (see Verify), nil when all do.
	Verify(ctx context.Context) error

	// Heads returns the head of every chain, by portal then writer: its last
	// receipt's Seq and Hash (a chain's head stays when retention deletes
	// its receipts). A chain without receipt has none.
	Heads(ctx context.Context) ([]Head, error)
	// SaveCheckpoint stores c, unchecked; when one of c.Portal, c.Writer and c.Seq is
	// stored already it keeps that one and returns nil. It fails on a
	// checkpoint that is not one (empty portal, seq under 1, a hash that is
	// not 64 hex digits, a key or signature of the wrong size).
	SaveCheckpoint(ctx context.Context, c Checkpoint) error
	// LatestCheckpoints returns, for every chain with one, its checkpoint
	// of the highest Seq, by portal then writer.
	LatestCheckpoints(ctx context.Context) ([]Checkpoint, error)
	// Checkpoints returns every checkpoint of portal, by writer then Seq
	// (none for a portal without any).
	Checkpoints(ctx context.Context, portal string) ([]Checkpoint, error)
	// ChainHash returns the hash of the receipt at seq of the chain of
	// portal and writer, or of its anchor when the anchor is at seq; ""
	// when there is neither.
	ChainHash(ctx context.Context, portal string, writer int, seq int64) (string, error)
	// DeleteBefore deletes the receipts received before cutoff and the
	// tallies (undeclared and reappeared) of days before it, keeping what remains verifiable: the last
	// deleted receipt of each chain becomes its anchor. It also deletes the
	// aggregates of every day whose 00:00 is before cutoff, so that Stats
	// never counts a receipt retention deleted (the day of a cutoff after
	// 00:00 loses its counts a day early). It returns how many receipts it
	// deleted. A store several hosts share runs it on one host at a time:
	// on the others it deletes nothing and returns 0 and nil.
	DeleteBefore(ctx context.Context, cutoff time.Time) (int64, error)

	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// Close waits for the appends in flight, then closes the database.
	Close() error
}

// ChainName names the chain of portal and writer in messages: `portal
// "shop"` for writer 0 (the only chain before writers), `portal "shop"
// writer 2` for another.
func ChainName(portal string, writer int) string {
	if writer == 0 {
		return fmt.Sprintf("portal %q", portal)
	}
	return fmt.Sprintf("portal %q writer %d", portal, writer)
}

// Anchor is where a chain starts: Genesis at 0, or the last receipt retention
// deleted.
type Anchor struct {
	Seq  int64
	Hash string
}

// VerifyChain checks the receipts of one chain (portal and writer), given
// in Seq order, against the chain's anchor: each must follow the one before (Seq+1, Prev its Hash) and
// its Hash must be the SHA-256 of its canonical bytes. It returns the first
// *BrokenLink, or nil. Stores' Verify use it.
func VerifyChain(portal string, writer int, anchor Anchor, next func() (*Receipt, error)) error {
	seq, prev := anchor.Seq, anchor.Hash
	for {
		r, err := next()
		if err != nil {
			return err
		}
		if r == nil {
			return nil
		}
		switch {
		case r.Seq != seq+1:
			return &BrokenLink{Portal: portal, Writer: writer, Seq: seq + 1, Reason: fmt.Sprintf("receipt missing (next stored is #%d)", r.Seq)}
		case r.Prev != prev:
			return &BrokenLink{Portal: portal, Writer: writer, Seq: r.Seq, ReceiptID: r.ID, Reason: "does not follow the previous receipt (prev hash differs)"}
		case r.ComputeHash() != r.Hash:
			return &BrokenLink{Portal: portal, Writer: writer, Seq: r.Seq, ReceiptID: r.ID, Reason: "altered (its content does not match its hash)"}
		}
		seq, prev = r.Seq, r.Hash
	}
}

// Migration is one schema step: the SQL of a file NNNN_name.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the migrations of fsys (files NNNN_name.sql at its
// root), by version. It fails on another file name, a version used twice or
// a gap (versions must be 1, 2, 3…).
func Migrations(fsys fs.FS) ([]Migration, error) {
	files, err := fs.Glob(fsys, "*")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, f := range files {
		base := path.Base(f)
		num, rest, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 || !strings.HasSuffix(rest, ".sql") {
			return nil, fmt.Errorf("receipts: migration %q: want NNNN_name.sql", base)
		}
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: base, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("receipts: migration %q: version %d, want %d", m.Name, m.Version, i+1)
		}
	}
	return out, nil
}

// Stats is what a portal's visitors did over a period, per UTC day, as
// Store.Stats returns it. The stores keep it as daily aggregates updated in
// the transaction of each receipt, so reading a month costs a few hundred
// rows whatever the number of receipts. Aggregates hold no personal data
// but follow receipt retention all the same (see Store.DeleteBefore): they
// never count a receipt that can no longer be shown.
type Stats struct {
	Portal string
	// Days are the days of the period with any count, oldest first.
	Days []DayStats
}

// DayStats are the counts of one UTC day.
type DayStats struct {
	Day time.Time // 00:00 UTC
	// Withdrawals counts the receipts of the day that refuse a category the
	// previous receipt of the same consent id (same portal) accepted.
	Withdrawals int64
	// Groups split the day by revision and language, by Revision then Lang.
	Groups []StatsGroup
}

// StatsGroup holds the counts of one day, revision and language; as a sum
// (Total, ByLang, ByRevision) it holds those of several.
type StatsGroup struct {
	Revision int64
	Lang     string
	// Impressions counts the banners shown (Store.CountImpression).
	Impressions int64
	// Decisions counts the receipts by method (MethodAcceptAll…); methods
	// without any are absent.
	Decisions map[string]int64
	// Accepted counts, per category, the receipts accepting it; categories
	// no receipt accepted are absent.
	Accepted map[string]int64
}

// Count returns the number of decisions of g, all methods.
func (g StatsGroup) Count() int64 {
	var n int64
	for _, c := range g.Decisions {
		n += c
	}
	return n
}

// add adds the counts of o to g (not its Revision and Lang).
func (g *StatsGroup) add(o *StatsGroup) {
	g.Impressions += o.Impressions
	for k, v := range o.Decisions {
		if g.Decisions == nil {
			g.Decisions = map[string]int64{}
		}
		g.Decisions[k] += v
	}
	for k, v := range o.Accepted {
		if g.Accepted == nil {
			g.Accepted = map[string]int64{}
		}
		g.Accepted[k] += v
	}
}

// Total returns the sum of d's groups (Revision 0, Lang "").
func (d *DayStats) Total() StatsGroup {
	var t StatsGroup
	for i := range d.Groups {
		t.add(&d.Groups[i])
	}
	return t
}

// ByLang returns the sums of d's groups per language (Revision 0).
func (d *DayStats) ByLang() map[string]StatsGroup {
	out := map[string]StatsGroup{}
	for i := range d.Groups {
		g := out[d.Groups[i].Lang]
		g.Lang = d.Groups[i].Lang
		g.add(&d.Groups[i])
		out[g.Lang] = g
	}
	return out
}

// ByRevision returns the sums of d's groups per revision (Lang "").
func (d *DayStats) ByRevision() map[int64]StatsGroup {
	out := map[int64]StatsGroup{}
	for i := range d.Groups {
		g := out[d.Groups[i].Revision]
		g.Revision = d.Groups[i].Revision
		g.add(&d.Groups[i])
		out[g.Revision] = g
	}
	return out
}

// Day returns the 00:00 UTC of t's UTC day.
func Day(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// Withdraws reports whether next refuses a category that prev accepted: a
// withdrawal of consent. Categories absent from either are ignored; a nil
// prev (no earlier receipt) withdraws nothing.
func Withdraws(prev, next []policy.Choice) bool {
	for _, n := range next {
		if n.Accepted {
			continue
		}
		for _, p := range prev {
			if p.Category == n.Category && p.Accepted {
				return true
			}
		}
	}
	return false
}

// AggKey names one aggregate row: Name is the method (decisions), the
// category (accepted) or "" (impressions, and withdrawals, whose Revision
// and Lang are zero too).
type AggKey struct {
	Portal   string
	Day      time.Time // 00:00 UTC
	Revision int64
	Lang     string
	Name     string
}

// Aggregates are the increments a batch of receipts and impressions makes
// to the daily aggregates, summed per row so that a store writes each row
// once per transaction. The zero value is empty and ready to use.
type Aggregates struct {
	Decisions   map[AggKey]int64
	Accepted    map[AggKey]int64
	Withdrawals map[AggKey]int64
	Impressions map[AggKey]int64
}

func inc(m *map[AggKey]int64, k AggKey, n int64) {
	if *m == nil {
		*m = map[AggKey]int64{}
	}
	(*m)[k] += n
}

// AddReceipt counts r (sealed or not: only its portal, ReceivedAt,
// revision, language, method and choices matter), given the choices of the
// previous receipt of its consent id (nil when it is the first).
func (a *Aggregates) AddReceipt(r *Receipt, prev []policy.Choice) {
	day := Day(r.ReceivedAt)
	k := AggKey{Portal: r.Portal, Day: day, Revision: r.Revision, Lang: r.Lang}
	dk := k
	dk.Name = r.Method
	inc(&a.Decisions, dk, 1)
	for _, c := range r.Choices {
		if c.Accepted {
			ck := k
			ck.Name = c.Category
			inc(&a.Accepted, ck, 1)
		}
	}
	if Withdraws(prev, r.Choices) {
		inc(&a.Withdrawals, AggKey{Portal: r.Portal, Day: day}, 1)
	}
}

// AddImpression counts one banner shown.
func (a *Aggregates) AddImpression(portal string, revision int64, lang string, at time.Time) {
	inc(&a.Impressions, AggKey{Portal: portal, Day: Day(at), Revision: revision, Lang: lang}, 1)
}

// SortedKeys returns the keys of m in a fixed order (portal, day,
// revision, lang, name), the order stores lock rows in.
func SortedKeys(m map[AggKey]int64) []AggKey {
	keys := make([]AggKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		switch {
		case a.Portal != b.Portal:
			return a.Portal < b.Portal
		case !a.Day.Equal(b.Day):
			return a.Day.Before(b.Day)
		case a.Revision != b.Revision:
			return a.Revision < b.Revision
		case a.Lang != b.Lang:
			return a.Lang < b.Lang
		}
		return a.Name < b.Name
	})
	return keys
}

// StatsBuilder assembles a Stats from aggregate rows read in any order;
// stores' Stats use it. The zero value is not usable: see NewStatsBuilder.
type StatsBuilder struct {
	portal string
	days   map[time.Time]*dayBuild
}

type groupKey struct {
	rev  int64
	lang string
}

type dayBuild struct {
	withdrawals int64
	groups      map[groupKey]*StatsGroup
}

// NewStatsBuilder returns an empty builder of portal's Stats.
func NewStatsBuilder(portal string) *StatsBuilder {
	return &StatsBuilder{portal: portal, days: map[time.Time]*dayBuild{}}
}

func (b *StatsBuilder) day(t time.Time) *dayBuild {
	t = Day(t)
	d := b.days[t]
	if d == nil {
		d = &dayBuild{groups: map[groupKey]*StatsGroup{}}
		b.days[t] = d
	}
	return d
}

func (b *StatsBuilder) group(day time.Time, rev int64, lang string) *StatsGroup {
	d := b.day(day)
	k := groupKey{rev, lang}
	g := d.groups[k]
	if g == nil {
		g = &StatsGroup{Revision: rev, Lang: lang}
		d.groups[k] = g
	}
	return g
}

// AddDecisions adds n decisions made with method.
func (b *StatsBuilder) AddDecisions(day time.Time, rev int64, lang, method string, n int64) {
	g := b.group(day, rev, lang)
	if g.Decisions == nil {
		g.Decisions = map[string]int64{}
	}
	g.Decisions[method] += n
}

// AddAccepted adds n decisions accepting category.
func (b *StatsBuilder) AddAccepted(day time.Time, rev int64, lang, category string, n int64) {
	g := b.group(day, rev, lang)
	if g.Accepted == nil {
		g.Accepted = map[string]int64{}
	}
	g.Accepted[category] += n
}

// AddImpressions adds n banners shown.
func (b *StatsBuilder) AddImpressions(day time.Time, rev int64, lang string, n int64) {
	b.group(day, rev, lang).Impressions += n
}

// AddWithdrawals adds n withdrawals.
func (b *StatsBuilder) AddWithdrawals(day time.Time, n int64) {
	b.day(day).withdrawals += n
}

// Stats returns what was added, days oldest first, groups by revision then
// language.
func (b *StatsBuilder) Stats() Stats {
	st := Stats{Portal: b.portal}
	for day, d := range b.days {
		ds := DayStats{Day: day, Withdrawals: d.withdrawals}
		for _, g := range d.groups {
			ds.Groups = append(ds.Groups, *g)
		}
		sort.Slice(ds.Groups, func(i, j int) bool {
			if ds.Groups[i].Revision != ds.Groups[j].Revision {
				return ds.Groups[i].Revision < ds.Groups[j].Revision
			}
			return ds.Groups[i].Lang < ds.Groups[j].Lang
		})
		st.Days = append(st.Days, ds)
	}
	sort.Slice(st.Days, func(i, j int) bool { return st.Days[i].Day.Before(st.Days[j].Day) })
	return st
}
