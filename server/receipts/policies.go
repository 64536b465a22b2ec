package receipts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portalconsent/portalconsent/policy"
)

// ErrConflict is what Policies answers when a publication's or a
// deletion's precondition fails: the portal's current version is not the
// one the caller read (someone published meanwhile), or the portal exists
// when it was to be new.
var ErrConflict = errors.New("receipts: the portal's current version is not the one expected")

// Who published a policy version (PolicyVersion.By) besides an operator's
// name, and from where (PolicyVersion.Via).
const (
	ByAdmin = "admin" // the admin token
	ByFile  = "file"  // a policy file or a built-in portal

	ViaAPI     = "api"
	ViaConsole = "console"
	ViaFile    = "file"
)

// PolicyVersion is one publication of a portal's policy, as Policies keeps
// it.
type PolicyVersion struct {
	Portal      string
	Version     int64 // 1 for a portal's first publication, then one more each time
	Revision    int64 // the revision the policy serves
	PublishedAt time.Time
	By          string // an operator's name, ByAdmin or ByFile
	Via         string // ViaAPI, ViaConsole or ViaFile
	// File, when not empty, is the policy file the portal is managed by
	// ("twisto.yaml", or "built-in"): the API and the console refuse to
	// edit it. Empty: managed by the database.
	File string
	// Policy is the policy JSON as served (trackers expanded, revision
	// derived, every language): what the hosts load.
	Policy []byte
	// Source is the policy as its author wrote it, in Format ("yaml" or
	// "json"); empty when there is none (a built-in JSON seed).
	Source []byte
	Format string
}

// ManagedBy returns "file" for a portal managed by a policy file, else
// "database".
func (v PolicyVersion) ManagedBy() string {
	if v.File != "" {
		return "file"
	}
	return "database"
}

// Publication is what Policies.Publish stores: a new version of a portal's
// policy, with the notices it serves (its policy in each language, as
// config.json carries it), recorded in the same transaction.
type Publication struct {
	Portal   string
	Revision int64
	Policy   []byte // the policy JSON as served
	Source   []byte // as written, in Format; may be empty
	Format   string
	By, Via  string
	File     string // managed by this file; "" managed by the database
	Notices  []Notice
	// Match, when true, makes Publish fail with ErrConflict unless the
	// portal's current version is Version (0: the portal must not exist).
	Match   bool
	Version int64
}

// Check returns an error naming the first field of p that is missing or
// malformed: the portal id, the policy, who and via, a notice of another
// portal or whose SHA256 is not that of its body.
func (p *Publication) Check() error {
	switch {
	case !policy.ValidID(p.Portal):
		return fmt.Errorf("receipts: publication: %q is not a portal id", p.Portal)
	case len(p.Policy) == 0:
		return fmt.Errorf("receipts: publication of %q: no policy", p.Portal)
	case p.Revision < 1:
		return fmt.Errorf("receipts: publication of %q: revision %d", p.Portal, p.Revision)
	case p.By == "" || p.Via == "":
		return fmt.Errorf("receipts: publication of %q: who and via are required", p.Portal)
	}
	for _, n := range p.Notices {
		if n.Portal != p.Portal || n.SHA256 != NoticeHash(n.Body) {
			return fmt.Errorf("receipts: publication of %q: notice %q of portal %q is not its own or not the SHA-256 of its body", p.Portal, n.SHA256, n.Portal)
		}
	}
	return nil
}

// Policies keeps the portals' policies, every publication a version, in
// the receipts database: the hosts of one database serve what it holds.
// Both backends implement it beside Store; its contract suite is
// receiptstest.RunPolicies.
type Policies interface {
	// Publish stores p as the portal's new current version, published at
	// at, and records p.Notices as served from at, all in one transaction.
	// When the current version serves the same policy JSON from the same
	// file, it stores nothing and returns that version with changed false.
	// It fails with ErrConflict when p.Match and the current version is
	// not p.Version, and with a plain error on a publication that Check
	// refuses.
	Publish(ctx context.Context, p Publication, at time.Time) (v PolicyVersion, changed bool, err error)
	// CurrentPolicies returns the current version of every portal, by
	// portal, without Policy nor Source: the index a host compares with
	// what it serves, cheap whatever the number of portals.
	CurrentPolicies(ctx context.Context) ([]PolicyVersion, error)
	// PolicyNames returns the name (the policy JSON's "name", "" when it
	// has none) of every portal with a current version, by portal.
	PolicyNames(ctx context.Context) (map[string]string, error)
	// CurrentPolicy returns the current version of portal with its Source,
	// or ErrNotFound when the portal has none (never published, or
	// deleted).
	CurrentPolicy(ctx context.Context, portal string) (PolicyVersion, error)
	// PolicyVersions returns every version of portal, newest first,
	// without Policy nor Source (a deleted portal's versions stay); none is
	// an empty list.
	PolicyVersions(ctx context.Context, portal string) ([]PolicyVersion, error)
	// DeletePolicy removes portal from the current policies (its versions
	// stay, and a later publication goes on from its last version). It
	// fails with ErrNotFound when the portal has no current version, with
	// ErrConflict when version is not 0 and the current version is not it.
	DeletePolicy(ctx context.Context, portal string, version int64) error
	// PolicyGeneration returns a number that changes whenever a
	// publication or a deletion changes the current policies.
	PolicyGeneration(ctx context.Context) (int64, error)
}
