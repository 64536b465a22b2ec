package server

import (
	"crypto/ed25519"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/portalconsent/portalconsent/server/beacons"
	"github.com/portalconsent/portalconsent/server/catalogue"
	"github.com/portalconsent/portalconsent/server/metrics"
	"github.com/portalconsent/portalconsent/server/operators"
	"github.com/portalconsent/portalconsent/server/policyfiles"
	"github.com/portalconsent/portalconsent/server/ratelimit"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// Option configures a Server in New.
type Option func(*config)

// config is what the options set, before New wires the server.
type config struct {
	log        *slog.Logger
	now        func() time.Time
	receipts   receipts.Store
	limiter    *ratelimit.Limiter // receipts
	counts     *ratelimit.Limiter // impressions and reappeared cookies
	signIn     *ratelimit.Limiter
	clients    *ratelimit.Clients // the client address behind trusted proxies
	adminToken string
	ops        *operators.Set
	sessionKey []byte
	shared     operators.Shared // revocations shared with the other hosts
	queue      int              // beacon writes waiting for the store at once
	publicURL  string
	metrics    *metrics.Metrics
	// files are the portals of policy files (WithPolicyFiles); nil: New's
	// policies, managed by file "built-in".
	files []policyfiles.Portal
	// portalCache is the cap of the portals built, in bytes; 0:
	// DefaultPortalCache.
	portalCache int64
	// checkpointKey is the public key of the receipts' checkpoints, shown
	// in the console; nil: none.
	checkpointKey ed25519.PublicKey
}

// Default rate limit of receipts per client address: a visitor makes a
// choice or two per page; a school or an office behind one address makes
// many.
const (
	DefaultReceiptRate  = 5
	DefaultReceiptBurst = 50
)

// Default rate of sign-in attempts per client address: one every 5 s on
// average, bursts of 10.
const (
	DefaultSignInRate  = 0.2
	DefaultSignInBurst = 10
)

// MinAdminTokenLen is the shortest admin token accepted.
const MinAdminTokenLen = operators.MinTokenLen

// WithLogger makes the server log each request (method, path, status, bytes,
// duration) at Info and each recovered panic at Error to l. The default
// discards the logs.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// WithReceipts makes the server keep the receipt of every choice in st (the
// POST route) and answer the operator API and the console from it. Without
// it both answer 503.
func WithReceipts(st receipts.Store) Option {
	return func(c *config) { c.receipts = st }
}

// WithRateLimit limits each client address (see WithTrustedProxies) to
// perSecond receipts per second with bursts of burst (a token bucket per
// address, in memory only), and as many impressions and reappeared-cookie
// beacons (a bucket of their own); a perSecond of 0 lifts the limit. The
// default is DefaultReceiptRate and DefaultReceiptBurst.
func WithRateLimit(perSecond float64, burst int) Option {
	return func(c *config) {
		c.limiter, c.counts = ratelimit.New(perSecond, burst), ratelimit.New(perSecond, burst)
	}
}

// DefaultPortalCache is the default of WithPortalCache, in bytes.
const DefaultPortalCache = catalogue.DefaultCacheBytes

// WithPortalCache caps what the server keeps of the portals it built (their
// config.json in each language and its compressed forms, notices, themes)
// at bytes, least recently used out first; a portal is built when first
// asked for. The default is DefaultPortalCache.
func WithPortalCache(bytes int64) Option {
	return func(c *config) { c.portalCache = bytes }
}

// WithClock sets the server's clock (for tests); the default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithAdminToken sets the admin token, which grants every portal on the
// operator API and the console. The token is kept only as its SHA-256 and
// compared in constant time. Without it (or with "") only operators (see
// WithOperators) are let in. It is ignored when WithOperators is given: that
// Set carries its own admin token.
func WithAdminToken(token string) Option {
	return func(c *config) { c.adminToken = token }
}

// WithOperators sets who may see which portal: the admin token and the
// operators of set, which the caller may update (operators.Reloader) while
// the server runs.
func WithOperators(set *operators.Set) Option {
	return func(c *config) { c.ops = set }
}

// WithMetrics makes the server record its metrics in m (see package
// metrics); m is served elsewhere, never by the server's own routes.
func WithMetrics(m *metrics.Metrics) Option {
	return func(c *config) { c.metrics = m }
}

// WithSessionKey sets the key session cookies are signed with (at least 32
// bytes; New fails otherwise). Hosts behind one load balancer must share
// it. Without it a random key is made: sessions end with the process.
func WithSessionKey(key []byte) Option {
	return func(c *config) { c.sessionKey = append([]byte{}, key...) }
}

// WithSignInRate limits console sign-in attempts, and bearer tokens that
// need bcrypt, per client address (see WithTrustedProxies; perSecond 0
// lifts the limit).
func WithSignInRate(perSecond float64, burst int) Option {
	return func(c *config) { c.signIn = ratelimit.New(perSecond, burst) }
}

// WithCheckpointKey sets the public key of the key that signs the receipt
// chains' checkpoints (receipts.Checkpoint), which the console's home page
// shows so that operators can check an export elsewhere; nil shows none.
func WithCheckpointKey(pub ed25519.PublicKey) Option {
	return func(c *config) { c.checkpointKey = pub }
}

// WithPublicURL tells the server the scheme and host it is reached at
// ("https://consent.example"), as behind a TLS-terminating proxy: with
// https the console's cookies are Secure and __Host- prefixed, and a POST's
// Origin must be this one.
func WithPublicURL(u string) Option {
	return func(c *config) { c.publicURL = strings.TrimSuffix(u, "/") }
}

// WithTrustedProxies names the proxies (load balancers) in front of the
// server: for a request whose peer is in one of trusted, the client's
// address is the right-most address of X-Forwarded-For that is not
// trusted (see ratelimit.Clients). The receipt, impression and sign-in
// limits key on that address, an IPv6 one by its /64. Without it (or with
// none) X-Forwarded-For is ignored, as any visitor may write it.
func WithTrustedProxies(trusted []netip.Prefix) Option {
	return func(c *config) { c.clients = ratelimit.NewClients(trusted) }
}

// WithSharedRevocations makes console sign-outs, and the sessions of an
// operator removed or given a new token, revoked on every host sharing sh
// (the hosts of one PostgreSQL database), not only on this one; the
// server applies the other hosts' revocations once FollowRevocations
// runs. Without it revocations stay in this process.
func WithSharedRevocations(sh operators.Shared) Option {
	return func(c *config) { c.shared = sh }
}

// DefaultReceiptQueue is how many receipts (and impressions and cookie
// reports) may wait for the store at once by default.
const DefaultReceiptQueue = beacons.DefaultQueue

// WithReceiptQueue lets at most n beacon writes (receipts, impressions,
// reappeared cookies) wait for the store at once: beyond, and for a
// second after the store answered unreachable, a beacon is refused at
// once, 503 with Retry-After, rather than parked (see beacons.Admission).
// n of 0 or less lifts the bound. The default is DefaultReceiptQueue.
func WithReceiptQueue(n int) Option {
	return func(c *config) { c.queue = n }
}

// WithPolicyFiles makes the server serve the portals of ps (with the
// policies given to New, if any) as managed by their files: each is
// published into the receipts database under its file name (see
// catalogue.Catalogue.PublishFiles), and the API and the console refuse to
// edit it. A portal without file is managed by file "built-in".
func WithPolicyFiles(ps []policyfiles.Portal) Option {
	return func(c *config) { c.files = append(c.files, ps...) }
}
