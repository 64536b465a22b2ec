// Package server is the consent host's composition root: New wires the
// packages below it into one http.Handler, and routes lists every route
// in one place. It holds no feature of its own:
//
//   - site: the index, config.json, dialogs.json, policy pages, themes, demo pages, SRI,
//     health and readiness;
//   - beacons: the visitors' receipts, impressions and refused cookies seen again;
//   - api: the operator API, behind a bearer token;
//   - console: the operators' console, server-rendered;
//
// over the shared pieces: catalogue (the portals served), assets, auth
// (operators' credentials and sessions), export, reports, lang and respond
// (errors mapped to statuses once). The README's "The host server" lists
// the routes and their answers. Every request is logged (WithLogger) and
// counted by route pattern (WithMetrics); a panicking handler is logged and
// answered 500.
package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/api"
	"github.com/portalconsent/portalconsent/server/assets"
	"github.com/portalconsent/portalconsent/server/auth"
	"github.com/portalconsent/portalconsent/server/beacons"
	"github.com/portalconsent/portalconsent/server/catalogue"
	"github.com/portalconsent/portalconsent/server/console"
	"github.com/portalconsent/portalconsent/server/metrics"
	"github.com/portalconsent/portalconsent/server/operators"
	"github.com/portalconsent/portalconsent/server/policyfiles"
	"github.com/portalconsent/portalconsent/server/ratelimit"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/respond"
	"github.com/portalconsent/portalconsent/server/site"
)

// Server is the consent host's http.Handler: the wiring of its parts.
type Server struct {
	mux      *http.ServeMux
	patterns []string // every route pattern, in registration order
	log      *slog.Logger
	metrics  *metrics.Metrics
	errs     respond.Mapper
	assets   *assets.Set
	now      func() time.Time
	store    receipts.Store      // receipts.None when the host keeps none
	ops      *operators.Set      // who may see which portal
	sessions *operators.Sessions // console sessions' signer
	dir      *auth.Directory     // the operators managed by the database
	cat      *catalogue.Catalogue
	site     *site.Site
	beacons  *beacons.Beacons
	api      *api.API
	console  *console.Console
}

// New returns a server for the given policies (and those of
// WithPolicyFiles), with assets read from assetsFS (see package web). With
// a receipts store that keeps policies (WithReceipts: SQLite, PostgreSQL)
// they are published into it as managed by file and the server serves
// what the database holds, the portals published through the API
// included. It fails when there is no policy, when a policy is invalid or
// two share an id, when an asset is missing (the wasm is built by `make
// build`), or when the session key is shorter than 32 bytes. SetPolicies
// and SetPortals replace the policies later.
func New(policies []*policy.Policy, assetsFS fs.FS, opts ...Option) (*Server, error) {
	c := &config{
		log: slog.New(slog.DiscardHandler), now: time.Now, receipts: receipts.None{},
		limiter:    ratelimit.New(DefaultReceiptRate, DefaultReceiptBurst),
		counts:     ratelimit.New(DefaultReceiptRate, DefaultReceiptBurst),
		signIn:     ratelimit.New(DefaultSignInRate, DefaultSignInBurst),
		sessionKey: nil,
		queue:      DefaultReceiptQueue,
	}
	for _, o := range opts {
		o(c)
	}
	files := append(portalsOf(policies), c.files...)
	if len(files) == 0 {
		return nil, errors.New("server: no portal policy to serve")
	}
	if c.receipts == nil {
		c.receipts = receipts.None{}
	}
	if c.ops == nil {
		c.ops = operators.New(c.adminToken)
	}
	if c.sessionKey == nil {
		c.sessionKey = operators.RandomKey() // sessions of this process only
	}
	sessions, err := operators.NewSessions(c.sessionKey)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if c.shared != nil {
		sessions.Share(c.shared, c.log)
	}
	// An operator removed, or given a new token, loses their sessions on
	// every host at once, even one whose operators file is not reloaded yet.
	c.ops.OnCredentialsGone(func(gone []operators.Principal) {
		for _, p := range gone {
			sessions.RevokeCredential(p, c.now())
		}
	})
	a, err := assets.LoadSet(assetsFS)
	if err != nil {
		return nil, err
	}
	s := &Server{mux: http.NewServeMux(), log: c.log, now: c.now, metrics: c.metrics, assets: a,
		store: c.receipts, ops: c.ops, sessions: sessions, errs: respond.Mapper{Log: c.log, Metrics: c.metrics}}
	s.cat = catalogue.New(a, c.receipts, c.log, c.now)
	if c.portalCache > 0 {
		s.cat.SetCacheBytes(c.portalCache)
	}
	if err := s.cat.PublishFiles(context.Background(), sources(files)); err != nil {
		return nil, err
	}
	operatorsAuth := auth.New(c.ops, sessions, c.signIn, c.clients, c.publicURL, c.now)
	s.dir, err = auth.NewDirectory(context.Background(), c.ops, c.receipts, c.now, c.log)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.site = site.New(s.cat, a, c.receipts)
	s.beacons = beacons.New(beacons.Config{Catalogue: s.cat, Store: c.receipts, ReceiptLimit: c.limiter,
		CountLimit: c.counts, Clients: c.clients, Admission: beacons.NewAdmission(c.queue), Now: c.now, Log: c.log, Metrics: c.metrics})
	s.api = api.New(operatorsAuth, s.dir, s.cat, c.receipts, c.now, c.log)
	s.console = console.New(console.Config{Catalogue: s.cat, Auth: operatorsAuth, Operators: s.dir, Store: c.receipts,
		Assets: a, Now: c.now, Log: c.log, Metrics: c.metrics, CheckpointKey: c.checkpointKey})
	s.routes()
	return s, nil
}

// routes registers every route of the consent host.
func (s *Server) routes() {
	site, b, api, con := s.site, s.beacons, s.api, s.console
	json := s.errs.Handler // a handler whose errors are answered as JSON

	// The public site (package site) and the assets.
	s.handle("GET /{$}", json(site.Index))
	s.handle("GET /embed.js", s.assets.EmbedJS)
	s.handleFunc("GET /embed.js.sri", site.SRI)
	s.handleFunc("GET /healthz", site.Health)
	s.handleFunc("GET /readyz", site.Ready)
	s.handleFunc("GET /favicon.ico", site.Favicon)
	for _, a := range s.assets.Static() {
		s.handle("GET "+a.Name, a)
	}
	// Themes follow the policies (SetPolicies): looked up at each request.
	s.handle("GET /assets/{name}", json(site.Theme))
	s.handle("GET /portals/{id}/config.json", json(site.Config))
	s.handleFunc("OPTIONS /portals/{id}/config.json", site.PreflightConfig)
	s.handle("GET /portals/{id}/dialogs.json", json(site.Dialogs))
	s.handleFunc("OPTIONS /portals/{id}/dialogs.json", site.PreflightConfig)
	s.handle("GET /portals/{id}/policy", json(site.Policy))
	s.handle("GET /portals/{id}/policy/{lang}", json(site.PolicyLang))
	s.handle("GET /demo/{id}", json(site.Demo))
	s.handle("GET /demo/stand-in/{file}", json(site.StandIn))
	s.handleFunc("GET /policy-example.yaml", site.PolicyExample)

	// The visitors' beacons (package beacons).
	s.handleFunc("POST /portals/{id}/consents", b.PostConsent)
	s.handleFunc("OPTIONS /portals/{id}/consents", b.PreflightConsents)
	s.handle("POST /portals/{id}/impressions", json(b.PostImpression))
	s.handle("POST /portals/{id}/cookies/reappeared", json(b.PostReappeared))

	// The operator API (package api).
	s.handle("GET /api/v1/portals", json(api.Portals))
	s.handle("GET /api/v1/portals/{id}/policy", json(api.Policy))
	s.handle("PUT /api/v1/portals/{id}/policy", json(api.PutPolicy))
	s.handle("DELETE /api/v1/portals/{id}", json(api.DeletePortal))
	s.handle("GET /api/v1/portals/{id}/versions", json(api.Versions))
	s.handle("GET /api/v1/portals/{id}/consents/{consentId}", json(api.Consent))
	s.handle("GET /api/v1/portals/{id}/policies/{sha256}", json(api.Notice))
	s.handle("GET /api/v1/portals/{id}/receipts.csv", json(api.ReceiptsCSV))
	s.handle("GET /api/v1/portals/{id}/receipts.jsonl", json(api.ReceiptsJSONL))
	s.handle("GET /api/v1/portals/{id}/checkpoints.jsonl", json(api.Checkpoints))
	s.handle("GET /api/v1/portals/{id}/stats", json(api.Stats))
	s.handle("GET /api/v1/portals/{id}/cookies/undeclared", json(api.Undeclared))
	s.handle("GET /api/v1/portals/{id}/cookies/reappeared", json(api.Reappeared))
	s.handle("GET /api/v1/openapi.json", json(api.OpenAPI))
	s.handle("GET /api/v1/operators", json(api.Operators))
	s.handle("POST /api/v1/operators", json(api.CreateOperator))
	s.handle("PATCH /api/v1/operators/{name}", json(api.SetOperatorScope))
	s.handle("PUT /api/v1/operators/{name}", json(api.SetOperatorScope))
	s.handle("POST /api/v1/operators/{name}/token", json(api.RotateOperatorToken))
	s.handle("DELETE /api/v1/operators/{name}", json(api.DeleteOperator))

	// The operators' console (package console).
	s.handleFunc("GET /console", con.Redirect)
	s.handleFunc("GET /console/{$}", con.Home)
	s.handleFunc("POST /console/sign-in", con.SignIn)
	s.handleFunc("POST /console/sign-out", con.SignOut)
	s.handleFunc("GET /console/portals/{id}", con.Portal)
	s.handleFunc("GET /console/portals/{id}/lookup", con.Lookup)
	s.handleFunc("GET /console/portals/{id}/notices/{sha256}", con.Notice)
	s.handleFunc("GET /console/portals/{id}/history", con.History)
	s.handleFunc("GET /console/portals/{id}/cookies", con.Cookies)
	s.handleFunc("GET /console/portals/{id}/export", con.Export)
	s.handleFunc("GET /console/portals/{id}/export.csv", con.ExportCSV)
	s.handleFunc("GET /console/portals/{id}/export.jsonl", con.ExportJSONL)
	s.handleFunc("GET /console/operators", con.Operators)
	s.handleFunc("POST /console/operators", con.CreateOperator)
	s.handleFunc("POST /console/operators/{name}/scope", con.SetOperatorScope)
	s.handleFunc("POST /console/operators/{name}/token", con.RotateOperatorToken)
	s.handleFunc("POST /console/operators/{name}/delete", con.DeleteOperator)
	s.handleFunc("GET /console/portals/{id}/policy", con.PolicyEditor)
	s.handleFunc("POST /console/portals/{id}/policy", con.PolicyAction)
	s.handleFunc("GET /console/new-portal", con.NewPortalForm)
	s.handleFunc("POST /console/new-portal", con.NewPortal)

	s.handleFunc("/", s.notFound)
}

// handle registers h for pattern on the mux and records the pattern
// (Patterns).
func (s *Server) handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.patterns = append(s.patterns, pattern)
}

func (s *Server) handleFunc(pattern string, h http.HandlerFunc) { s.handle(pattern, h) }

// Patterns returns the ServeMux pattern of every route, as registered: the
// route label of the request metrics takes only these values (and "none"
// for a request refused before routing).
func (s *Server) Patterns() []string { return append([]string(nil), s.patterns...) }

// SetPolicies replaces, at once, the portals managed by file the server
// serves (see SetPortals), as managed by file "built-in".
func (s *Server) SetPolicies(policies []*policy.Policy) error {
	return s.SetPortals(portalsOf(policies))
}

// SetPortals replaces, at once, the portals managed by file the server
// serves (see catalogue.Catalogue.PublishFiles): each is published into
// the database when it changed, a portal managed by a file ps no longer
// holds is removed, and each portal's configuration, policy page, demo
// page and the index follow; requests in flight finish with the old ones.
// Portals published through the API stay. It changes nothing and fails
// when a policy is invalid or two share an id. An empty list serves no
// portal managed by file.
func (s *Server) SetPortals(ps []policyfiles.Portal) error {
	return s.cat.PublishFiles(context.Background(), sources(ps))
}

// portalsOf returns policies as portals without file.
func portalsOf(policies []*policy.Policy) []policyfiles.Portal {
	out := make([]policyfiles.Portal, len(policies))
	for i, p := range policies {
		out[i].Policy = p
	}
	return out
}

// sources returns ps as the catalogue publishes them.
func sources(ps []policyfiles.Portal) []catalogue.Source {
	out := make([]catalogue.Source, len(ps))
	for i, p := range ps {
		out[i] = catalogue.Source{Policy: p.Policy, File: p.File, Text: p.Source}
		if p.Source != nil {
			out[i].Format = "yaml"
		}
	}
	return out
}

// Policies returns the policies served, sorted by id, every portal built
// (for tests and small sets); nil when one cannot be built (the database
// fails).
func (s *Server) Policies() []*policy.Policy {
	ps, err := s.cat.Policies(context.Background())
	if err != nil {
		return nil
	}
	return ps
}

// Portals returns how many portals are served.
func (s *Server) Portals() int { return s.cat.Len() }

// KeepNoticesServed records the served notices every interval until ctx is
// done, so that earlier revisions' last-served times are known across
// restarts (see catalogue.Catalogue.Earlier).
func (s *Server) KeepNoticesServed(ctx context.Context, interval time.Duration) {
	s.cat.KeepNoticesServed(ctx, interval)
}

// revocationsPoll is how often FollowRevocations reads the shared
// revocations even when not told of any.
const revocationsPoll = time.Second

// FollowRevocations applies the console-session revocations of the other
// hosts (see WithSharedRevocations) until ctx is done: at once when the
// database tells of one, and every second in any case. Without shared
// revocations it returns at once.
func (s *Server) FollowRevocations(ctx context.Context) {
	s.sessions.Follow(ctx, revocationsPoll, s.now)
}

// policiesPoll is how often FollowPolicies reads whether the policies
// changed even when not told of a change.
const policiesPoll = time.Second

// FollowPolicies keeps the server serving the database's current policies,
// those another host of the database publishes included, until ctx is
// done: at once when the database tells of a publication (PostgreSQL's
// LISTEN/NOTIFY), and every second in any case (see
// catalogue.Catalogue.Follow). Without a store of policies it returns at
// once.
func (s *Server) FollowPolicies(ctx context.Context) {
	var wait func(context.Context) error
	if w, ok := s.store.(interface{ WaitPolicies(context.Context) error }); ok {
		wait = w.WaitPolicies
	}
	s.cat.Follow(ctx, policiesPoll, wait)
}

// operatorsPoll is how often FollowOperators reads whether the operators
// changed even when not told of a change.
const operatorsPoll = time.Second

// FollowOperators keeps the operators managed by the database those it
// holds, another host's changes included, until ctx is done: at once when
// the database tells of a change (PostgreSQL's LISTEN/NOTIFY), and every
// second in any case. Without a store of operators it returns at once.
func (s *Server) FollowOperators(ctx context.Context) {
	var wait func(context.Context) error
	if w, ok := s.store.(interface{ WaitOperators(context.Context) error }); ok {
		wait = w.WaitOperators
	}
	s.dir.Follow(ctx, operatorsPoll, wait)
}

// SRI returns the Subresource Integrity value of the loader as served
// ("sha384-<base64>"): it changes with every release of embed.js.
func (s *Server) SRI() string { return s.assets.SRI }

// Metrics returns the metrics the server records into (nil: none), so that
// other routes can count.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }
