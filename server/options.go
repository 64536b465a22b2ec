package server

import (
	"crypto/ed25519"
	"log/slog"
	"strings"
	"time"

	"github.com/portalconsent/portalconsent/server/metrics"
	"github.com/portalconsent/portalconsent/server/operators"
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
	adminToken string
	ops        *operators.Set
	sessionKey []byte
	publicURL  string
	metrics    *metrics.Metrics
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

// WithRateLimit limits each client address to perSecond receipts per second
// with bursts of burst (a token bucket per address, in memory only), and
// as many impressions and reappeared-cookie beacons (a bucket of their
// own); a perSecond of 0 lifts the limit. The default is
// DefaultReceiptRate and DefaultReceiptBurst.
func WithRateLimit(perSecond float64, burst int) Option {
	return func(c *config) {
		c.limiter, c.counts = ratelimit.New(perSecond, burst), ratelimit.New(perSecond, burst)
	}
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

// WithSignInRate limits console sign-in attempts per client address
// (perSecond 0 lifts the limit).
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
