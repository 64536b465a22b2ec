package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/portalconsent/portalconsent/server/operators"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// Directory manages the operators kept in the receipts database (created
// through the API or the console) beside those of the operators file,
// which it never changes: it writes to the database, applies the change to
// this host's operators at once, and follows the other hosts' changes
// (Follow). Only the admin may call its writes: the callers check.
type Directory struct {
	ops   *operators.Set
	store receipts.Operators // nil: the host keeps no operators
	now   func() time.Time
	log   *slog.Logger

	mu     sync.Mutex // held by load
	gen    int64      // the generation loaded; -1 none
	stored map[string]receipts.StoredOperator
}

// NewDirectory returns the directory of ops kept in st (when st keeps
// operators: SQLite, PostgreSQL) and loads them: a host starts with the
// database's operators. It fails when the database cannot be read.
func NewDirectory(ctx context.Context, ops *operators.Set, st receipts.Store, now func() time.Time, log *slog.Logger) (*Directory, error) {
	d := &Directory{ops: ops, now: now, log: log, gen: -1}
	if s, ok := st.(receipts.Operators); ok {
		d.store = s
		if err := d.Refresh(ctx); err != nil {
			return nil, fmt.Errorf("operators database: %w", err)
		}
	}
	return d, nil
}

// Errors of the directory's writes (besides receipts.ErrNotFound for an
// operator unknown, and receipts.ErrUnavailable).
var (
	// ErrExists: an operator of that name exists.
	ErrExists = errors.New("an operator of that name exists")
)

// ErrManagedByFile is the refusal to change an operator of the operators
// file; it names the file.
type ErrManagedByFile struct{ Name, File string }

func (e *ErrManagedByFile) Error() string {
	return fmt.Sprintf("operator %q is managed by file %s: change the file instead", e.Name, filepath.Base(e.File))
}

// ErrInvalid is a refused name or scope: Field ("name" or "portals") says
// which, Msg why in English; Portals is the scope's refusal (nil for a name),
// for a caller that words it in another language.
type ErrInvalid struct {
	Field, Msg string
	Portals    *receipts.PortalsError
}

func (e *ErrInvalid) Error() string { return e.Field + ": " + e.Msg }

// OperatorInfo is what the directory shows of an operator: never a token,
// never a hash.
type OperatorInfo struct {
	Name    string
	Portals []string
	File    string // the operators file it is managed by; "": the database
	// Created, Updated and By are known for the operators of the database.
	Created, Updated time.Time
	By               string
}

// ManagedBy returns "file" or "database".
func (o OperatorInfo) ManagedBy() string {
	if o.File != "" {
		return "file"
	}
	return "database"
}

// Refresh loads the database's operators into the set when they changed
// since the last load.
func (d *Directory) Refresh(ctx context.Context) error {
	if d.store == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	gen, err := d.store.OperatorGeneration(ctx)
	if err != nil {
		return err
	}
	if gen == d.gen {
		return nil
	}
	list, err := d.store.StoredOperators(ctx)
	if err != nil {
		return err
	}
	ops := make([]operators.Operator, len(list))
	stored := make(map[string]receipts.StoredOperator, len(list))
	for i, o := range list {
		ops[i] = operators.Operator{Name: o.Name, TokenHash: o.TokenHash, Portals: o.Portals}
		stored[o.Name] = o
	}
	d.ops.SetStored(ops)
	d.gen, d.stored = gen, stored
	return nil
}

// Follow keeps the set's operators those of the database, another host's
// changes included, until ctx is done: every poll, and at once when wait
// returns (PostgreSQL's LISTEN/NOTIFY; nil: poll only).
func (d *Directory) Follow(ctx context.Context, poll time.Duration, wait func(context.Context) error) {
	if d.store == nil {
		return
	}
	receipts.Follow(ctx, poll, wait, d.Refresh, func(err error) {
		if err != nil {
			d.log.Error("operators database: cannot load the operators; the last ones loaded keep their access", "err", err.Error())
		} else {
			d.log.Info("operators database: the operators load again")
		}
	})
}

// Kept reports whether the host keeps operators in a database.
func (d *Directory) Kept() bool { return d.store != nil }

// List returns every operator, of the file and of the database, by name.
func (d *Directory) List() []OperatorInfo {
	all := d.ops.List()
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]OperatorInfo, len(all))
	for i, o := range all {
		out[i] = OperatorInfo{Name: o.Name, Portals: slices.Clone(o.Portals), File: o.File}
		if s, ok := d.stored[o.Name]; ok && o.File == "" {
			out[i].Created, out[i].Updated, out[i].By = s.CreatedAt, s.UpdatedAt, s.By
		}
	}
	return out
}

// Get returns the operator called name.
func (d *Directory) Get(name string) (OperatorInfo, bool) {
	for _, o := range d.List() {
		if o.Name == name {
			return o, true
		}
	}
	return OperatorInfo{}, false
}

// check refuses a write to name: no database (receipts.ErrNoStore), a malformed name, an
// operator of the file.
func (d *Directory) check(name string) error {
	if d.store == nil {
		return receipts.ErrNoStore
	}
	if !receipts.ValidOperatorName(name) {
		return &ErrInvalid{Field: "name", Msg: fmt.Sprintf("%q is not 1 to 64 of A-Z a-z 0-9 . _ @ - starting with a letter or digit (nor %q, the admin token's)",
			clip(name), operators.AdminName)}
	}
	if f := d.ops.File(name); f != "" {
		return &ErrManagedByFile{Name: name, File: f}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// checkPortals refuses a malformed scope.
func checkPortals(portals []string) error {
	if err := receipts.CheckPortals(portals); err != nil {
		e, _ := errors.AsType[*receipts.PortalsError](err)
		return &ErrInvalid{Field: "portals", Msg: err.Error(), Portals: e}
	}
	return nil
}

// newToken returns a random token (32 bytes, base64url: 43 characters)
// and its bcrypt hash.
func newToken() (token, hash string, err error) {
	b := make([]byte, 32)
	rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	hash, err = operators.HashToken(token)
	return token, hash, err
}

// Create stores a new operator with the scope portals, made by by, and
// returns them and their token: the only time it is told, only its bcrypt
// hash is kept.
func (d *Directory) Create(ctx context.Context, name string, portals []string, by string) (OperatorInfo, string, error) {
	if err := d.check(name); err != nil {
		return OperatorInfo{}, "", err
	}
	if err := checkPortals(portals); err != nil {
		return OperatorInfo{}, "", err
	}
	token, hash, err := newToken()
	if err != nil {
		return OperatorInfo{}, "", err
	}
	o, err := d.store.CreateOperator(ctx, receipts.StoredOperator{Name: name, TokenHash: hash, Portals: portals, By: by}, d.now())
	if errors.Is(err, receipts.ErrConflict) {
		return OperatorInfo{}, "", ErrExists
	}
	if err != nil {
		return OperatorInfo{}, "", err
	}
	return d.applied(ctx, o), token, nil
}

// SetScope changes the portals of operator name (their sessions go on,
// with the new scope at once).
func (d *Directory) SetScope(ctx context.Context, name string, portals []string, by string) (OperatorInfo, error) {
	if err := d.check(name); err != nil {
		return OperatorInfo{}, err
	}
	if err := checkPortals(portals); err != nil {
		return OperatorInfo{}, err
	}
	o, err := d.store.UpdateOperator(ctx, name, portals, "", by, d.now())
	if err != nil {
		return OperatorInfo{}, err
	}
	return d.applied(ctx, o), nil
}

// Rotate gives operator name a new token and returns it (told once): the
// old one stops working and their sessions end, on every host.
func (d *Directory) Rotate(ctx context.Context, name, by string) (OperatorInfo, string, error) {
	if err := d.check(name); err != nil {
		return OperatorInfo{}, "", err
	}
	token, hash, err := newToken()
	if err != nil {
		return OperatorInfo{}, "", err
	}
	o, err := d.store.UpdateOperator(ctx, name, nil, hash, by, d.now())
	if err != nil {
		return OperatorInfo{}, "", err
	}
	return d.applied(ctx, o), token, nil
}

// Remove removes operator name: their token stops working and their
// sessions end, on every host.
func (d *Directory) Remove(ctx context.Context, name string) error {
	if err := d.check(name); err != nil {
		return err
	}
	if err := d.store.DeleteOperator(ctx, name); err != nil {
		return err
	}
	d.applied(ctx, receipts.StoredOperator{Name: name})
	return nil
}

// applied loads the change just written, so that this host applies it
// before answering (the others within a second, see Follow), and returns
// o as stored. A failing load is logged: Follow retries.
func (d *Directory) applied(ctx context.Context, o receipts.StoredOperator) OperatorInfo {
	if err := d.Refresh(ctx); err != nil {
		d.log.Error("operators database: a change was stored but could not be loaded yet", "operator", o.Name, "err", err.Error())
	}
	return OperatorInfo{Name: o.Name, Portals: o.Portals, Created: o.CreatedAt, Updated: o.UpdatedAt, By: o.By}
}
