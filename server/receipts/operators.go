package receipts

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/portalconsent/portalconsent/policy"
)

// StoredOperator is an operator kept in the receipts database (managed by
// the database: created through the API or the console), beside those of
// an operators file. Only the bcrypt hash of their token is kept.
type StoredOperator struct {
	Name      string
	TokenHash string   // bcrypt
	Portals   []string // portal ids, or ["*"]: every portal
	CreatedAt time.Time
	UpdatedAt time.Time // the last change of portals or token
	By        string    // who made the last change ("admin")
}

var operatorName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// ValidOperatorName reports whether name is 1 to 64 of A-Z a-z 0-9 . _ @ -
// starting with a letter or digit, and not "admin" (the admin token's).
func ValidOperatorName(name string) bool {
	return operatorName.MatchString(name) && name != ByAdmin
}

// CheckPortals returns a *PortalsError saying what is wrong with an
// operator's portals: none, an id that is not a portal id, one repeated, or
// "*" (every portal) beside others; nil when nothing is.
func CheckPortals(portals []string) error {
	if len(portals) == 0 {
		return &PortalsError{Kind: NoPortal}
	}
	for i, id := range portals {
		switch {
		case id == "*" && len(portals) > 1:
			return &PortalsError{Kind: StarNotAlone}
		case id != "*" && !policy.ValidID(id):
			return &PortalsError{Kind: NotPortalID, ID: clip(id)}
		case slices.Contains(portals[:i], id):
			return &PortalsError{Kind: RepeatedPortal, ID: id}
		}
	}
	return nil
}

// PortalsKind says what CheckPortals refused: a wording may be chosen from it
// (the console words each in its language).
type PortalsKind int

// What CheckPortals refuses.
const (
	NoPortal       PortalsKind = iota // no portal at all
	StarNotAlone                      // "*" beside other ids
	NotPortalID                       // ID is not a portal id
	RepeatedPortal                    // ID given twice
)

// PortalsError is CheckPortals' refusal: its Kind, and the id at fault (at
// most 64 bytes and an ellipsis) for NotPortalID and RepeatedPortal.
type PortalsError struct {
	Kind PortalsKind
	ID   string
}

func (e *PortalsError) Error() string {
	switch e.Kind {
	case StarNotAlone:
		return `"*" (every portal) stands alone`
	case NotPortalID:
		return fmt.Sprintf("%q is not a portal id", e.ID)
	case RepeatedPortal:
		return fmt.Sprintf("%q repeated", e.ID)
	}
	return `no portal: give portal ids, or ["*"] for every portal`
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Check returns an error naming the first field of o that is missing or
// malformed.
func (o *StoredOperator) Check() error {
	switch {
	case !ValidOperatorName(o.Name):
		return fmt.Errorf("receipts: operator: %q is not an operator name", clip(o.Name))
	case len(o.TokenHash) < 4 || o.TokenHash[:2] != "$2":
		return fmt.Errorf("receipts: operator %q: the token hash is not a bcrypt hash", o.Name)
	case o.By == "":
		return fmt.Errorf("receipts: operator %q: who is required", o.Name)
	}
	if err := CheckPortals(o.Portals); err != nil {
		return fmt.Errorf("receipts: operator %q: portals: %w", o.Name, err)
	}
	return nil
}

// CheckUpdate returns an error saying what is wrong with a change of
// operator name (see Operators.UpdateOperator): a malformed name, portals
// that CheckPortals refuses, a token hash that is not bcrypt's, no by.
func CheckUpdate(name string, portals []string, tokenHash, by string) error {
	switch {
	case !ValidOperatorName(name):
		return fmt.Errorf("receipts: operator: %q is not an operator name", clip(name))
	case tokenHash != "" && (len(tokenHash) < 4 || tokenHash[:2] != "$2"):
		return fmt.Errorf("receipts: operator %q: the token hash is not a bcrypt hash", name)
	case by == "":
		return fmt.Errorf("receipts: operator %q: who is required", name)
	}
	if portals != nil {
		if err := CheckPortals(portals); err != nil {
			return fmt.Errorf("receipts: operator %q: portals: %w", name, err)
		}
	}
	return nil
}

// Operators keeps the operators managed by the database. Both backends
// implement it beside Store; its contract suite is in receiptstest
// (testOperators). Every change moves OperatorGeneration, and on
// PostgreSQL tells every host (NOTIFY).
type Operators interface {
	// CreateOperator stores o, created and updated at at. It fails with
	// ErrConflict when an operator of that name exists, and with a plain
	// error on an operator that Check refuses.
	CreateOperator(ctx context.Context, o StoredOperator, at time.Time) (StoredOperator, error)
	// UpdateOperator sets the portals (when not nil) and the token hash
	// (when not "") of the operator called name, changed by by at at, and
	// returns them as stored now; ErrNotFound when there is none.
	UpdateOperator(ctx context.Context, name string, portals []string, tokenHash, by string, at time.Time) (StoredOperator, error)
	// DeleteOperator removes the operator called name; ErrNotFound when
	// there is none.
	DeleteOperator(ctx context.Context, name string) error
	// StoredOperators returns every operator, by name (none: empty).
	StoredOperators(ctx context.Context) ([]StoredOperator, error)
	// OperatorGeneration returns a number that changes whenever an
	// operator is created, changed or removed.
	OperatorGeneration(ctx context.Context) (int64, error)
}
