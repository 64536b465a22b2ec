// Package catalogue is the set of portals the consent host serves: each
// portal's policy in each of its languages with its built config.json,
// theme and notice (the policy document a visitor is shown), swapped whole
// when the policies change, and the one check of an earlier revision a
// cached banner may still show.
package catalogue

import (
	"context"
	"encoding/json"
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
// concurrent use: Publish swaps the whole set at once.
type Catalogue struct {
	set     atomic.Pointer[set]
	assets  *assets.Set
	store   receipts.Store
	db      receipts.Policies // nil: the store keeps no policies
	pubMu   sync.Mutex        // held while publishing to and loading from db
	gen     atomic.Int64      // db's PolicyGeneration when last loaded; -1: never
	log     *slog.Logger
	now     func() time.Time
	earlier earlierNotices
}

// set is the portals served at one time, by id and in id order, and their
// themes' stylesheets by path.
type set struct {
	byID   map[string]*Portal
	order  []string
	themes map[string]*assets.Asset
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
}

// Variant is a portal's policy in one language, with its config.json.
type Variant struct {
	Policy *policy.Policy // single-language: no translations
	Config *assets.Asset
	Notice Notice // the policy as config.json carries it: the notice shown
}

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
// (see PublishFiles, Load).
func New(a *assets.Set, st receipts.Store, log *slog.Logger, now func() time.Time) *Catalogue {
	if st == nil {
		st = receipts.None{}
	}
	c := &Catalogue{assets: a, store: st, log: log, now: now}
	c.db, _ = st.(receipts.Policies)
	c.gen.Store(-1)
	c.set.Store(&set{byID: map[string]*Portal{}, themes: map[string]*assets.Asset{}})
	return c
}

// Publish replaces, at once, the portals served: each portal's
// configuration (and its ETag, a hash of its content), theme and notices
// follow the new policies; requests in flight finish with the old ones. It
// changes nothing and fails when a policy is invalid or two share an id. An
// empty list serves no portal. The notices replaced and the new ones are
// recorded as served now (an earlier revision stays valid for its lifetime
// from this moment).
func (c *Catalogue) Publish(policies []*policy.Policy) error {
	vs := make([]served, len(policies))
	for i, p := range policies {
		vs[i].policy = p
	}
	return c.publish(vs)
}

// served is a policy to serve and the publication it comes from.
type served struct {
	policy  *policy.Policy
	version receipts.PolicyVersion
}

// publish is Publish with each portal's publication.
func (c *Catalogue) publish(policies []served) error {
	next := &set{byID: map[string]*Portal{}, themes: map[string]*assets.Asset{}}
	for _, e := range policies {
		p := e.policy
		if err := p.Validate(); err != nil {
			return fmt.Errorf("server: portal %q: %w", p.ID, err)
		}
		if _, dup := next.byID[p.ID]; dup {
			return fmt.Errorf("server: portal %q is declared twice", p.ID)
		}
		pt := &Portal{Policy: p, Version: e.version}
		pt.Version.Policy, pt.Version.Source = nil, nil
		theme := ThemeCSS(p.Theme)
		if theme != "" {
			a, err := assets.New("theme-"+p.ID+".css", []byte(theme), "text/css; charset=utf-8", true, nil, nil)
			if err != nil {
				return err
			}
			pt.Theme = a
			next.themes[a.Name] = a
		}
		var err error
		if pt.Variants, pt.matcher, err = c.variants(p, theme); err != nil {
			return err
		}
		next.byID[p.ID] = pt
		next.order = append(next.order, p.ID)
	}
	sort.Strings(next.order)
	c.serveSet(context.Background(), c.set.Load())
	c.set.Store(next)
	c.earlier.forget()
	c.ServeNotices(context.Background())
	return nil
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
				Embeds: script(c.assets.Embeds, "__portalConsentEmbeds"), Beyond: script(c.assets.Beyond, "__portalConsentBeyond")},
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
		out = append(out, &Variant{Policy: q, Config: cfg, Notice: Notice{SHA256: receipts.NoticeHash(notice), Body: notice}})
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
// config.json carries it (the notices the variants of Publish hold).
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

// Policies returns the policies served, sorted by id.
func (c *Catalogue) Policies() []*policy.Policy {
	s := c.set.Load()
	out := make([]*policy.Policy, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.byID[id].Policy)
	}
	return out
}

// Len returns how many portals are served.
func (c *Catalogue) Len() int { return len(c.set.Load().order) }

// Portal returns the portal served under id, or false.
func (c *Catalogue) Portal(id string) (*Portal, bool) {
	p, ok := c.set.Load().byID[id]
	return p, ok
}

// Theme returns the theme stylesheet served at path
// (/assets/theme-{id}.{hash}.css), or nil.
func (c *Catalogue) Theme(path string) *assets.Asset { return c.set.Load().themes[path] }

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
