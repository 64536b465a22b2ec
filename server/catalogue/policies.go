package catalogue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// BuiltIn is the file a built-in portal is managed by (PolicyVersion.File).
const BuiltIn = "built-in"

// Source is a policy to publish and where it comes from.
type Source struct {
	Policy *policy.Policy // valid, trackers expanded, revision derived
	// File is the policy file the portal is managed by: the API and the
	// console refuse to edit it. "" in PublishFiles means BuiltIn.
	File string
	// Text is the policy as written, in Format ("yaml" or "json"); it may
	// be empty.
	Text   []byte
	Format string
}

// Stored reports whether the catalogue serves what the database holds
// (its store keeps policies).
func (c *Catalogue) Stored() bool { return c.db != nil }

// check validates every policy of srcs and refuses two with one id.
func check(srcs []Source) error {
	seen := map[string]bool{}
	for _, s := range srcs {
		if err := s.Policy.Validate(); err != nil {
			return fmt.Errorf("server: portal %q: %w", s.Policy.ID, err)
		}
		if seen[s.Policy.ID] {
			return fmt.Errorf("server: portal %q is declared twice", s.Policy.ID)
		}
		seen[s.Policy.ID] = true
	}
	return nil
}

// PublicationOf returns the publication of src by whom via where, with its
// notices (its policy in each language, as config.json carries it): what
// Put stores, for a tool that fills a database itself.
func PublicationOf(src Source, by, via string) (receipts.Publication, error) {
	body, err := json.Marshal(src.Policy)
	if err != nil {
		return receipts.Publication{}, err
	}
	ns, err := noticesOf(src.Policy)
	if err != nil {
		return receipts.Publication{}, err
	}
	return receipts.Publication{Portal: src.Policy.ID, Revision: int64(src.Policy.Revision), Policy: body,
		Source: src.Text, Format: src.Format, By: by, Via: via, File: src.File, Notices: ns}, nil
}

// PublishFiles serves the portals of policy files and built-in ones,
// managed by file. With a database, each is published into it (a new
// version, by and via "file", when it changed; its notices recorded in the
// same transaction), the portals managed by a file that srcs no longer
// holds are removed from it, and the catalogue then serves what the
// database holds (portals managed by the database included). Without one,
// or when the database fails (logged), it serves srcs as Publish does,
// with the portals managed by the database already served. It changes
// nothing and fails when a policy is invalid or two share an id.
func (c *Catalogue) PublishFiles(ctx context.Context, srcs []Source) error {
	if err := check(srcs); err != nil {
		return err
	}
	if c.db == nil {
		return c.Publish(policiesOf(srcs))
	}
	c.pubMu.Lock()
	defer c.pubMu.Unlock()
	err := c.publishFiles(ctx, srcs)
	if err == nil {
		err = c.load(ctx)
	}
	if err != nil {
		c.log.Error("policies database: serving the policy files as read", "err", err.Error())
		es := make([]*entry, 0, len(srcs))
		ids := map[string]bool{}
		for _, src := range srcs {
			es = append(es, &entry{version: receipts.PolicyVersion{Portal: src.Policy.ID}, policy: src.Policy})
			ids[src.Policy.ID] = true
		}
		s := c.set.Load()
		for _, id := range s.order {
			if e := s.byID[id]; e.version.Version > 0 && e.version.File == "" && !ids[id] {
				es = append(es, e)
			}
		}
		c.swap(ctx, es)
	}
	return nil
}

func policiesOf(srcs []Source) []*policy.Policy {
	out := make([]*policy.Policy, len(srcs))
	for i, s := range srcs {
		out[i] = s.Policy
	}
	return out
}

// publishFiles stores srcs in the database, managed by file, and removes
// the portals managed by a file srcs no longer holds.
func (c *Catalogue) publishFiles(ctx context.Context, srcs []Source) error {
	ids := map[string]bool{}
	at := c.now()
	for _, src := range srcs {
		if src.File == "" {
			src.File = BuiltIn
		}
		ids[src.Policy.ID] = true
		pub, err := PublicationOf(src, receipts.ByFile, receipts.ViaFile)
		if err != nil {
			return err
		}
		v, changed, err := c.db.Publish(ctx, pub, at)
		if err != nil {
			return err
		}
		if changed && v.Version > 1 {
			c.log.Info("policy published from its file", "portal", v.Portal, "file", v.File, "version", v.Version, "revision", v.Revision)
		}
	}
	cur, err := c.db.CurrentPolicies(ctx)
	if err != nil {
		return err
	}
	for _, v := range cur {
		if v.File != "" && !ids[v.Portal] {
			if err := c.db.DeletePolicy(ctx, v.Portal, v.Version); err != nil && !errors.Is(err, receipts.ErrNotFound) {
				return err
			}
			c.log.Info("portal removed from the database: its file is gone", "portal", v.Portal, "file", v.File)
		}
	}
	return nil
}

// Load serves the current policies of the database, the index swapped
// whole as Publish does: only the index of the current versions is read,
// and a portal whose version changed is built again from the database when
// next asked for. It fails, changing nothing, when the database does;
// without one it does nothing.
func (c *Catalogue) Load(ctx context.Context) error {
	if c.db == nil {
		return nil
	}
	c.pubMu.Lock()
	defer c.pubMu.Unlock()
	return c.load(ctx)
}

func (c *Catalogue) load(ctx context.Context) error {
	// The generation read first: a change committed during the load is
	// loaded again by the next Refresh.
	gen, err := c.db.PolicyGeneration(ctx)
	if err != nil {
		return err
	}
	cur, err := c.db.CurrentPolicies(ctx)
	if err != nil {
		return err
	}
	es := make([]*entry, len(cur))
	for i, v := range cur {
		es[i] = &entry{version: v}
	}
	c.swap(ctx, es)
	c.gen.Store(gen)
	return nil
}

// Refresh serves the current policies of the database when they changed
// since this host last loaded them (another host published): it reads the
// database's generation, and the policies only when it moved. It fails
// when the database does; without one it does nothing.
func (c *Catalogue) Refresh(ctx context.Context) error {
	if c.db == nil {
		return nil
	}
	gen, err := c.db.PolicyGeneration(ctx)
	if err != nil {
		return err
	}
	if gen == c.gen.Load() {
		return nil
	}
	c.pubMu.Lock()
	defer c.pubMu.Unlock()
	return c.load(ctx)
}

// Follow keeps the catalogue serving the database's current policies
// until ctx is done: it refreshes (Refresh) every poll, and at once each
// time wait returns (nil: a notification, or listening (re)started; an
// error: wait again after a second). wait may be nil (poll only). A
// failing database is logged once per failure run and tried again.
func (c *Catalogue) Follow(ctx context.Context, poll time.Duration, wait func(context.Context) error) {
	if c.db == nil {
		return
	}
	receipts.Follow(ctx, poll, wait, c.Refresh, func(err error) {
		if err != nil {
			c.log.Error("policies database: cannot load the current policies; serving the last ones loaded", "err", err.Error())
		} else {
			c.log.Info("policies database: the current policies load again")
		}
	})
}

// Published is the outcome of Put.
type Published struct {
	Version   receipts.PolicyVersion
	Created   bool // the portal is new
	Changed   bool // a new version was stored
	AsksAgain bool // its revision is not the previous version's: visitors are asked again
}

// ErrManagedByFile is the error of Put and Remove for a portal managed by
// a policy file; it names the file.
type ErrManagedByFile struct{ Portal, File string }

func (e *ErrManagedByFile) Error() string {
	return fmt.Sprintf("portal %q is managed by file %s: change the file instead", e.Portal, e.File)
}

// PutOptions are who publishes through Put, from where, and on what
// conditions.
type PutOptions struct {
	By, Via string
	// Match makes the portal's current version have to be Version (0: the
	// portal must be new), else receipts.ErrConflict.
	Match   bool
	Version int64
	// MayCreate lets Put create a portal; without it a new portal is
	// refused with ErrMayNotCreate.
	MayCreate bool
}

// ErrMayNotCreate is Put's refusal of a new portal without
// PutOptions.MayCreate.
var ErrMayNotCreate = errors.New("creating a portal needs the admin token or an operator with \"*\"")

// Put publishes src (managed by the database: src.File is ignored) as the
// new current version of its portal, as o says, and serves it. It fails
// with *ErrManagedByFile for a portal managed by a file, ErrMayNotCreate,
// receipts.ErrConflict (see PutOptions.Match), receipts.ErrNoStore
// without a database, and a plain error for an invalid policy; nothing is
// stored then.
func (c *Catalogue) Put(ctx context.Context, src Source, o PutOptions) (Published, error) {
	if c.db == nil {
		return Published{}, receipts.ErrNoStore
	}
	if err := check([]Source{src}); err != nil {
		return Published{}, err
	}
	c.pubMu.Lock()
	defer c.pubMu.Unlock()
	cur, err := c.db.CurrentPolicy(ctx, src.Policy.ID)
	exists := err == nil
	if err != nil && !errors.Is(err, receipts.ErrNotFound) {
		return Published{}, err
	}
	if exists && cur.File != "" {
		return Published{}, &ErrManagedByFile{cur.Portal, cur.File}
	}
	if !exists && !o.MayCreate {
		return Published{}, ErrMayNotCreate
	}
	src.File = ""
	pub, err := PublicationOf(src, o.By, o.Via)
	if err != nil {
		return Published{}, err
	}
	pub.Match, pub.Version = true, cur.Version // the managed-by check holds at publication
	if o.Match && o.Version != cur.Version {
		return Published{}, receipts.ErrConflict
	}
	v, changed, err := c.db.Publish(ctx, pub, c.now())
	if err != nil {
		return Published{}, err
	}
	out := Published{Version: v, Created: !exists, Changed: changed, AsksAgain: !exists || (changed && v.Revision != cur.Revision)}
	if changed {
		if err := c.load(ctx); err != nil {
			// Stored: the next load (a restart, another publication) serves it.
			c.log.Error("policies database: published but not loaded", "portal", v.Portal, "version", v.Version, "err", err.Error())
		}
	}
	return out, nil
}

// Remove deletes portal from the database and stops serving it: its
// versions, notices and receipts stay. With match, its current version
// must be version (else receipts.ErrConflict). It fails with
// *ErrManagedByFile for a portal managed by a file, receipts.ErrNotFound
// for a portal the database does not hold, receipts.ErrNoStore without a
// database.
func (c *Catalogue) Remove(ctx context.Context, portal string, match bool, version int64) error {
	if c.db == nil {
		return receipts.ErrNoStore
	}
	c.pubMu.Lock()
	defer c.pubMu.Unlock()
	cur, err := c.db.CurrentPolicy(ctx, portal)
	if err != nil {
		return err
	}
	if cur.File != "" {
		return &ErrManagedByFile{cur.Portal, cur.File}
	}
	if match && version != cur.Version {
		return receipts.ErrConflict
	}
	if err := c.db.DeletePolicy(ctx, portal, cur.Version); err != nil {
		return err
	}
	if err := c.load(ctx); err != nil {
		c.log.Error("policies database: deleted but not loaded", "portal", portal, "err", err.Error())
	}
	return nil
}

// Current returns the current version of portal in the database, with its
// source: receipts.ErrNotFound when there is none, receipts.ErrNoStore
// without a database.
func (c *Catalogue) Current(ctx context.Context, portal string) (receipts.PolicyVersion, error) {
	if c.db == nil {
		return receipts.PolicyVersion{}, receipts.ErrNoStore
	}
	return c.db.CurrentPolicy(ctx, portal)
}

// Versions returns every version of portal in the database, newest first:
// receipts.ErrNotFound when there is none, receipts.ErrNoStore without a
// database.
func (c *Catalogue) Versions(ctx context.Context, portal string) ([]receipts.PolicyVersion, error) {
	if c.db == nil {
		return nil, receipts.ErrNoStore
	}
	vs, err := c.db.PolicyVersions(ctx, portal)
	if err == nil && len(vs) == 0 {
		err = receipts.ErrNotFound
	}
	return vs, err
}
