// Package catalogue is the set of portals the consent host serves: an
// index of the portals, swapped whole when the policies change, and each
// portal's policy in each of its languages with its built config.json,
// theme and notice (the policy document a visitor is shown), built when
// first asked for and kept in a cache bounded in bytes; and the one check
// of an earlier revision a cached banner may still show.
package catalogue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/assets"
	"github.com/portalconsent/portalconsent/server/lang"
	"github.com/portalconsent/portalconsent/server/receipts"
	"golang.org/x/text/language"
)

// ConfigMaxAge is how long a portal's configuration may be cached: a policy
// change reaches visitors within a minute.
const ConfigMaxAge = 60

// Catalogue is the portals served at one time. Its methods are safe for
// concurrent use: Publish and Load swap the index of the portals whole;
// each portal is built (configurations, notices, theme) when first asked
// for and kept in a cache bounded in bytes (New).
type Catalogue struct {
	set     atomic.Pointer[set]
	assets  *assets.Set
	store   receipts.Store
	db      receipts.Policies // nil: the store keeps no policies
	pubMu   sync.Mutex        // held while publishing to and loading from db
	swapMu  sync.Mutex        // held while the index is swapped
	gen     atomic.Int64      // db's PolicyGeneration when last loaded; -1: never
	log     *slog.Logger
	now     func() time.Time
	earlier earlierNotices
	built   *cache
}

// set is the index of the portals served at one time, by id and in id
// order.
type set struct {
	byID  map[string]*entry
	order []string
}

// entry is one portal of the index: the publication served, and its policy
// when it is held in memory (Publish) rather than read from the database
// when the portal is built. An entry is never changed but for its name,
// learnt once: a publication makes a new one.
type entry struct {
	version receipts.PolicyVersion // without Policy and Source
	policy  *policy.Policy         // nil: read from the database
	name    atomic.Pointer[string]
}

// Name returns the portal's name, or "" while not known.
func (e *entry) Name() string {
	if e.policy != nil {
		return e.policy.Name
	}
	if n := e.name.Load(); n != nil {
		return *n
	}
	return ""
}

// Entry is a portal of the index, as lists show it.
type Entry struct {
	ID, Name string
	Revision int // the revision served
	// Version is the publication served (its Policy and Source left
	// out); its Version is 0 for a portal not served from the database.
	Version receipts.PolicyVersion
}

// Portal is one portal's policy with its precomputed responses.
type Portal struct {
	Policy *policy.Policy // all its languages
	// Variants are the policy in each language, default first.
	Variants []*Variant
	matcher  language.Matcher
	Theme    *assets.Asset // the theme's stylesheet (ThemeCSS), nil without one
	// Version is the publication served (its Policy and Source left
	// out); its Version is 0 for a portal not served from the database.
	Version receipts.PolicyVersion
	entry   *entry // what it was built for
	weight  int64  // its estimated size in memory, in bytes
}

// ID returns the portal's id.
func (p *Portal) ID() string { return p.Policy.ID }

// Variant is a portal's policy in one language, with its config.json and
// its dialogs.json.
type Variant struct {
	Policy *policy.Policy // single-language: no translations
	Config *assets.Asset
	// dialogs is dialogs.json (see Dialogs), built when first asked for.
	dialogs func() (*assets.Asset, error)
	Notice  Notice // the policy as config.json carries it: the notice shown
}

// Dialogs returns the variant's dialogs.json: the preferences and the
// policy dialog rendered by the server (DialogsHTML), fetched by the loader
// only when the visitor opens one before the app runs; rendered the first
// time it is asked for, then kept with the variant.
func (v *Variant) Dialogs() (*assets.Asset, error) { return v.dialogs() }

// Notice is one policy document a portal serves: its policy in one
// language, as config.json carries it, and the SHA-256 receipts name it by.
type Notice struct {
	SHA256 string
	Body   []byte
}

// config is the body of /portals/{id}/config.json: everything the loader
// needs in one response.
type config struct {
	Policy *policy.Policy `json:"policy"`
	Assets configAssets   `json:"assets"`
	// Banner is the banner rendered by the server (the first paint).
	Banner string `json:"banner"`
	// CSS is the stylesheet of the consent frame, applied without a request:
	// web/banner.css then the portal's theme (ThemeCSS).
	CSS string `json:"css"`
	// Dir is "rtl" for a right-to-left language (policy.Dir), empty
	// otherwise: what the embeds' placeholders, drawn in the portal's own
	// page, are laid out in (the banner carries its own dir).
	Dir string `json:"dir,omitempty"`
}

type configAssets struct {
	Wasm     string `json:"wasm"`
	WasmExec string `json:"wasmExec"`
	CSS      string `json:"css"`
	// Embeds and Beyond are the scripts the loader loads once the
	// configuration is there: embeds.js and beyond.js, each as its path
	// (relative to the consent host), its integrity value and the global
	// it defines (see script).
	Embeds [3]string `json:"embeds"`
	Beyond [3]string `json:"beyond"`
	// Prefs is prefs.js, loaded by ui.js when the visitor opens the
	// preferences or the policy before the app runs: it shows them from
	// dialogs.json.
	Prefs [3]string `json:"prefs"`
}

// script returns how config.json names a script the loader loads: its
// path without the leading "/", its integrity value and its global.
func script(a *assets.Asset, global string) [3]string {
	return [3]string{a.Name[1:], assets.ScriptSRI(a.Raw), global}
}

// New returns an empty catalogue whose configurations name the assets of
// a, recording the notices it serves in st (receipts.None records nothing)
// with the time of now; errors of st are logged to log. When st keeps
// policies too (receipts.Policies), the catalogue serves what st holds
// (see PublishFiles, Load). It keeps the portals it built up to
// DefaultCacheBytes (see SetCacheBytes).
func New(a *assets.Set, st receipts.Store, log *slog.Logger, now func() time.Time) *Catalogue {
	if st == nil {
		st = receipts.None{}
	}
	c := &Catalogue{assets: a, store: st, log: log, now: now, built: newCache(DefaultCacheBytes)}
	c.db, _ = st.(receipts.Policies)
	c.gen.Store(-1)
	c.set.Store(&set{byID: map[string]*entry{}})
	return c
}

// SetCacheBytes caps what the catalogue keeps built at max bytes (the
// estimated weight of each portal's configurations, notices and theme;
// least recently used out first), before it serves. A portal heavier than
// the cap is built for each request and not kept.
func (c *Catalogue) SetCacheBytes(max int64) { c.built = newCache(max) }

// CacheStats returns how many portals the catalogue keeps built and their
// estimated weight in bytes.
func (c *Catalogue) CacheStats() (portals int, bytes int64) { return c.built.stats() }

// Publish replaces, at once, the portals served by policies held in
// memory: each portal is built (configuration and its ETag, a hash of its
// content, theme and notices) when first asked for; requests in flight
// finish with the old ones. It changes nothing and fails when a policy is
// invalid or two share an id. An empty list serves no portal. The notices
// of the portals whose policy changed, replaced and new, are recorded as
// served now (an earlier revision stays valid for its lifetime from this
// moment).
func (c *Catalogue) Publish(policies []*policy.Policy) error {
	if err := c.validate(policies); err != nil {
		return err
	}
	es := make([]*entry, len(policies))
	for i, p := range policies {
		es[i] = &entry{version: receipts.PolicyVersion{Portal: p.ID}, policy: p}
	}
	c.swap(context.Background(), es)
	return nil
}

// validate checks every policy and refuses two with one id.
func (c *Catalogue) validate(policies []*policy.Policy) error {
	seen := map[string]bool{}
	for _, p := range policies {
		if err := p.Validate(); err != nil {
			return fmt.Errorf("server: portal %q: %w", p.ID, err)
		}
		if seen[p.ID] {
			return fmt.Errorf("server: portal %q is declared twice", p.ID)
		}
		seen[p.ID] = true
	}
	return nil
}

// swap serves the index of es. An entry of the same publication as one
// served (the same policy in memory, or the same database version) keeps
// the one served, and its built portal. The portals that went are dropped
// from the cache (those that changed are replaced when built again), their notices (those built, and those held
// in memory) and the new ones held in memory recorded as served now, and
// their earlier revisions read again.
func (c *Catalogue) swap(ctx context.Context, es []*entry) {
	c.swapMu.Lock()
	defer c.swapMu.Unlock()
	old := c.set.Load()
	next := &set{byID: make(map[string]*entry, len(es)), order: make([]string, 0, len(es))}
	var changed []*entry // new entries of portals that changed
	for _, e := range es {
		id := e.version.Portal
		if o, ok := old.byID[id]; ok && o.same(e) {
			e = o
		} else {
			changed = append(changed, e)
		}
		next.byID[id] = e
		next.order = append(next.order, id)
	}
	sort.Strings(next.order)
	var served []receipts.Notice
	for _, id := range old.order {
		if e, ok := next.byID[id]; ok && e == old.byID[id] {
			continue
		}
		// A portal that changed stays built until its new publication is
		// (served in its stead if that one cannot be read: see build).
		var p *Portal
		if _, ok := next.byID[id]; ok {
			p = c.built.peek(id)
		} else {
			p = c.built.remove(id)
		}
		if p != nil {
			served = append(served, p.notices()...)
		} else if o := old.byID[id]; o.policy != nil {
			served = append(served, c.noticesOf(o.policy)...)
		}
		c.earlier.forget(id)
	}
	for _, e := range changed {
		if e.policy != nil {
			served = append(served, c.noticesOf(e.policy)...)
		}
		c.earlier.forget(e.version.Portal)
	}
	c.set.Store(next)
	c.serveNotices(ctx, served)
}

// same reports whether e and o serve one publication.
func (e *entry) same(o *entry) bool {
	if e.policy != nil || o.policy != nil {
		return e.policy == o.policy
	}
	return e.version.Version == o.version.Version && e.version.File == o.version.File
}

// Portal returns the portal served under id, built now when the cache does
// not hold it (its policy read from the database for a portal served from
// it). It fails with ErrUnknownPortal for an id not served, and with the
// error of the database (nothing built) when it fails.
func (c *Catalogue) Portal(ctx context.Context, id string) (*Portal, error) {
	e, ok := c.set.Load().byID[id]
	if !ok {
		return nil, ErrUnknownPortal
	}
	if p := c.built.get(e); p != nil {
		return p, nil
	}
	f, first := c.built.join(e)
	if !first {
		select {
		case <-f.done:
			return f.p, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	// Others may wait on this build: a request that goes away does not
	// end it.
	p, keep, err := c.build(context.WithoutCancel(ctx), e)
	c.built.land(e, f, p, err)
	if err != nil {
		return nil, err
	}
	if keep {
		// Only while e is still served: a portal replaced during the build
		// is built again for its new entry.
		if cur, ok := c.set.Load().byID[id]; ok && cur == e {
			if evicted := c.built.add(p); len(evicted) > 0 {
				c.evicted(evicted)
			}
		}
	}
	return p, nil
}

// ErrUnknownPortal is Portal's answer for an id not served.
var ErrUnknownPortal = errors.New("unknown portal")

// build builds the portal of e, and reports whether it may be kept for e
// (what the database holds is still e's publication). A policy of the
// database that does not parse (written by a newer binary) is logged, and
// the portal built before for that id is served if the cache holds one.
func (c *Catalogue) build(ctx context.Context, e *entry) (*Portal, bool, error) {
	if e.policy != nil {
		p, err := c.newPortal(e.policy, e.version, e)
		return p, true, err
	}
	id := e.version.Portal
	v, err := c.db.CurrentPolicy(ctx, id)
	if errors.Is(err, receipts.ErrNotFound) {
		return nil, false, ErrUnknownPortal // deleted since e was loaded
	}
	if err != nil {
		return nil, false, err
	}
	pol, err := policy.Parse(id, v.Policy, policy.Policy{})
	if err == nil && pol.ID != id {
		err = fmt.Errorf("the policy stored for %q declares id %q", id, pol.ID)
	}
	if err == nil {
		err = pol.Validate()
	}
	if err != nil {
		c.log.Error("policies database: a stored policy cannot be read", "portal", id, "version", v.Version, "err", err.Error())
		if old := c.built.peek(id); old != nil {
			return old, false, nil
		}
		return nil, false, fmt.Errorf("portal %q: its stored policy cannot be read: %w", id, err)
	}
	name := pol.Name
	e.name.Store(&name)
	p, err := c.newPortal(pol, v, e)
	return p, err == nil && v.Version == e.version.Version && v.File == e.version.File, err
}

// newPortal builds p's responses: its theme, and in each language its
// config.json, dialogs.json and notice.
func (c *Catalogue) newPortal(p *policy.Policy, v receipts.PolicyVersion, e *entry) (*Portal, error) {
	pt := &Portal{Policy: p, Version: v, entry: e}
	pt.Version.Policy, pt.Version.Source = nil, nil
	theme := ThemeCSS(p.Theme)
	if theme != "" {
		a, err := assets.New("theme-"+p.ID+".css", []byte(theme), "text/css; charset=utf-8", true, nil, nil)
		if err != nil {
			return nil, err
		}
		pt.Theme = a
		pt.weight += 2 * int64(len(a.Raw))
	}
	var err error
	if pt.Variants, pt.matcher, err = c.variants(p, theme); err != nil {
		return nil, err
	}
	for _, v := range pt.Variants {
		// The configuration and the dialogs, their brotli and gzip once
		// asked for (smaller than them), the notice and the parsed policies.
		pt.weight += 2*int64(len(v.Config.Raw)) + 2*int64(len(v.Notice.Body))
		// dialogs.json once asked for (rendered then: rendering them in
		// every language up front took mtran's 37 languages 95 ms), its
		// compressed forms with it: counted as three times the notice
		// (mtran in English: 14,944 bytes, brotli 1,985, for a notice of
		// 5,209), asked for or not.
		pt.weight += 3 * int64(len(v.Notice.Body))
	}
	return pt, nil
}

// evicted records that the notices of the portals evicted from the cache
// were served until now, in the background.
func (c *Catalogue) evicted(ps []*Portal) {
	if !receipts.Keeps(c.store) {
		return
	}
	var ns []receipts.Notice
	for _, p := range ps {
		ns = append(ns, p.notices()...)
	}
	go c.serveNotices(context.Background(), ns)
}

// variants returns p in each of its languages (default first) with its
// config.json (whose CSS is the stylesheet then theme, the portal's
// ThemeCSS) and notice, and the matcher over those languages.
func (c *Catalogue) variants(p *policy.Policy, theme string) ([]*Variant, language.Matcher, error) {
	var out []*Variant
	var tags []language.Tag
	for _, l := range p.Languages() {
		q, err := variantPolicy(p, l)
		if err != nil {
			return nil, nil, err
		}
		body, err := json.Marshal(config{
			Policy: q,
			Assets: configAssets{Wasm: c.assets.Wasm.Name, WasmExec: c.assets.WasmExec.Name, CSS: c.assets.CSS.Name,
				Embeds: script(c.assets.Embeds, "__portalConsentEmbeds"), Beyond: script(c.assets.Beyond, "__portalConsentBeyond"),
				Prefs: script(c.assets.Prefs, "__portalConsentPrefs")},
			Banner: BannerHTML(q),
			CSS:    string(c.assets.CSS.Raw) + theme,
			Dir:    strings.TrimPrefix(policy.Dir(l), "ltr"),
		})
		if err != nil {
			return nil, nil, err
		}
		// Compressed when first asked for: most portals' languages are
		// not asked for on a given host, and brotli's best level costs tens
		// of milliseconds each.
		cfg := assets.NewLazy("config.json", body, "application/json", false)
		cfg.MaxAge = ConfigMaxAge
		notice, err := json.Marshal(q)
		if err != nil {
			return nil, nil, err
		}
		dialogs := sync.OnceValues(func() (*assets.Asset, error) {
			body, err := DialogsHTML(q)
			if err != nil {
				return nil, err
			}
			a := assets.NewLazy("dialogs.json", body, "application/json", false)
			a.MaxAge = ConfigMaxAge
			return a, nil
		})
		out = append(out, &Variant{Policy: q, Config: cfg, dialogs: dialogs, Notice: Notice{SHA256: receipts.NoticeHash(notice), Body: notice}})
		tags = append(tags, lang.Tag(l))
	}
	return out, language.NewMatcher(tags), nil
}

// variantPolicy returns p in the language l, as config.json carries it.
func variantPolicy(p *policy.Policy, l string) (*policy.Policy, error) {
	q, ok := p.In(l)
	if !ok {
		return nil, fmt.Errorf("server: portal %q: no policy in %q", p.ID, l)
	}
	// The embeds' placeholder texts, complete (the built-in ones for what
	// the policy leaves out).
	q.Texts.Embed = policy.EmbedTextsFor(q.Texts)
	// The labels of the storage types, complete, only when a row declares
	// one; a row's type "cookie" is written as the default (no type): the
	// loader tells cookie rows by having none.
	q.Texts.Storage = policy.StorageTexts{}
	if q.StoresBeyondCookies() {
		q.Texts.Storage = policy.StorageTextsFor(q.Texts)
	}
	for i := range q.Cookies {
		if q.Cookies[i].Type == policy.TypeCookie {
			q.Cookies[i].Type = ""
		}
	}
	return q, nil
}

// noticesOf returns the notices p serves: p in each of its languages, as
// config.json carries it (the notices of its built variants), or none
// (logged) when p cannot be.
func (c *Catalogue) noticesOf(p *policy.Policy) []receipts.Notice {
	ns, err := noticesOf(p)
	if err != nil {
		c.log.Error("cannot make the notices of a portal", "portal", p.ID, "err", err.Error())
	}
	return ns
}

// noticesOf returns the notices p serves: p in each of its languages, as
// config.json carries it (the notices the variants of a built portal
// hold).
func noticesOf(p *policy.Policy) ([]receipts.Notice, error) {
	var out []receipts.Notice
	for _, l := range p.Languages() {
		q, err := variantPolicy(p, l)
		if err != nil {
			return nil, err
		}
		body, err := json.Marshal(q)
		if err != nil {
			return nil, err
		}
		out = append(out, receipts.Notice{Portal: p.ID, SHA256: receipts.NoticeHash(body), Revision: int64(q.Revision), Lang: q.Texts.Lang, Body: body})
	}
	return out, nil
}

// notices returns the notices p serves, those of its variants.
func (p *Portal) notices() []receipts.Notice {
	out := make([]receipts.Notice, len(p.Variants))
	for i, v := range p.Variants {
		out[i] = receipts.Notice{Portal: p.ID(), SHA256: v.Notice.SHA256, Revision: int64(v.Policy.Revision), Lang: v.Policy.Texts.Lang, Body: v.Notice.Body}
	}
	return out
}

// Entries returns the portals served, sorted by id, with their names (read
// from the database, in one query, for those not known yet). It fails only
// when the database does.
func (c *Catalogue) Entries(ctx context.Context) ([]Entry, error) {
	s := c.set.Load()
	var names map[string]string
	for _, id := range s.order {
		if e := s.byID[id]; e.policy == nil && e.name.Load() == nil {
			var err error
			if names, err = c.db.PolicyNames(ctx); err != nil {
				return nil, err
			}
			break
		}
	}
	out := make([]Entry, len(s.order))
	for i, id := range s.order {
		e := s.byID[id]
		if n, ok := names[id]; ok && e.policy == nil && e.name.Load() == nil {
			e.name.Store(&n)
		}
		out[i] = Entry{ID: id, Name: e.Name(), Revision: int(e.version.Revision), Version: e.version}
		if e.policy != nil {
			out[i].Revision = e.policy.Revision
		}
	}
	return out, nil
}

// Policies returns the policies served, sorted by id: every portal built
// (for tests and small sets; lists use Entries). It fails when a portal
// cannot be built.
func (c *Catalogue) Policies(ctx context.Context) ([]*policy.Policy, error) {
	s := c.set.Load()
	out := make([]*policy.Policy, 0, len(s.order))
	for _, id := range s.order {
		p, err := c.Portal(ctx, id)
		if errors.Is(err, ErrUnknownPortal) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p.Policy)
	}
	return out, nil
}

// Len returns how many portals are served.
func (c *Catalogue) Len() int { return len(c.set.Load().order) }

// Theme returns the theme stylesheet served at path
// (/assets/theme-{id}.{hash}.css), or nil (also when the portal cannot be
// built now).
func (c *Catalogue) Theme(ctx context.Context, path string) *assets.Asset {
	rest, ok := strings.CutPrefix(path, "/assets/theme-")
	if !ok {
		return nil
	}
	id, _, _ := strings.Cut(rest, ".")
	p, err := c.Portal(ctx, id)
	if err != nil || p.Theme == nil || p.Theme.Name != path {
		return nil
	}
	return p.Theme
}

// Match returns the variant of the portal that best fits the preference
// list (see lang.Preferences), or the default language's.
func (p *Portal) Match(list string) *Variant {
	return p.Variants[lang.Match(p.matcher, len(p.Variants), list)]
}

// Exact returns the variant in the language l (case aside), or nil.
func (p *Portal) Exact(l string) *Variant {
	for _, v := range p.Variants {
		if strings.EqualFold(v.Policy.Texts.Lang, l) {
			return v
		}
	}
	return nil
}
