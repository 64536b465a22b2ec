// Command server runs the consent host: it serves the loader, the WebAssembly
// consent app, the policies and the policy and demo pages of the portals. It
// listens on -addr (default $ADDR, else localhost:8080) and exits non-zero
// with a message when it cannot load a policy or listen. It logs JSON to
// stderr, one line per request, and on SIGINT or SIGTERM stops accepting
// connections and lets in-flight requests finish (10 s grace).
//
// The portals are the YAML policy files of -policies DIR (default
// $PORTALCONSENT_POLICIES), one file per portal, else the built-in ones. The
// server refuses to start when any file is invalid, listing every problem;
// while it runs it reloads the directory on SIGHUP and when files change
// (see policyfiles.Reloader: a file that became invalid keeps its portal's last
// good policy). `server -check DIR` only checks the files: one line per valid
// portal on stdout, each problem on stderr, exit status 0 when all are good,
// 1 otherwise.
//
// Receipts of visitors' choices are kept in -db (default $PORTALCONSENT_DB):
// a SQLite file path, created if missing (default
// $XDG_STATE_HOME/portalconsent/receipts.db, else under
// ~/.local/state/portalconsent), or a postgres:// URL. Receipts older than
// -retention-days are deleted daily. The operator API's admin token is
// $PORTALCONSENT_ADMIN_TOKEN (at least 24 characters), else a random one
// kept in the 0600 file admin-token beside the SQLite database: its path
// is logged, never the token. On PostgreSQL the admin token's SHA-256 and
// the session key are kept in the database, made by the first host to
// start (which writes the token to admin-token in its state directory),
// and shared by every host; console sign-outs are too (see fleetSecrets).
// Operators other than the admin are the entries of -operators FILE (YAML;
// see package operators), reloaded like the policy files; `server
// -hash-token` reads a token on stdin and prints its bcrypt hash for it.
// Console sessions are signed with $PORTALCONSENT_SESSION_KEY (at least 32
// bytes: set the same on every host behind a load balancer), else on
// PostgreSQL one key kept in the database for every host, on SQLite a random
// key kept in the 0600 file session-key beside admin-token. -metrics-addr
// serves Prometheus /metrics on an address of its own. -trusted-proxies
// (default $PORTALCONSENT_TRUSTED_PROXIES) names the load balancers whose
// X-Forwarded-For is believed (see ratelimit.Clients); a malformed prefix
// stops the start, named.
// The head of every receipt chain that moved is signed every
// -checkpoint-every (and at shutdown) with an Ed25519 key kept outside the
// database, in the 0600 file -checkpoint-key (default checkpoint-key beside
// admin-token, made at first start); `server -checkpoint-public-key` prints
// its public key. `server -verify-receipts` walks every receipt chain of
// -db and exits 1 naming the first broken link, or a chain that does not
// match its latest checkpoint (checked with the key file's public key, or
// -verify-key).
package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/metrics"
	"github.com/portalconsent/portalconsent/server/operators"
	"github.com/portalconsent/portalconsent/server/policyfiles"
	"github.com/portalconsent/portalconsent/server/ratelimit"
	"github.com/portalconsent/portalconsent/server/receipts/postgres"
	"github.com/portalconsent/portalconsent/web"
)

func main() {
	def := os.Getenv("ADDR")
	if def == "" {
		def = "localhost:8080"
	}
	addr := flag.String("addr", def, "address to listen on (host:port)")
	dir := flag.String("policies", os.Getenv("PORTALCONSENT_POLICIES"),
		"directory of the portals' policy files, one <id>.yaml per portal (default: the built-in portals)")
	checkDir := flag.String("check", "", "check the policy files of this directory and exit (status 0: all good)")
	db := flag.String("db", os.Getenv("PORTALCONSENT_DB"),
		"receipts database: a SQLite file path or a postgres:// URL (default $PORTALCONSENT_DB, else $XDG_STATE_HOME/portalconsent/receipts.db)")
	verifyReceipts := flag.Bool("verify-receipts", false, "walk every receipt chain of -db and exit (status 0: all verify; 1 names the first broken link)")
	retention := flag.Int("retention-days", 395, "delete receipts received more than this many days ago, daily")
	groupCommit := flag.Duration("group-commit", 2*time.Millisecond, "gather the receipts arriving within this window into one transaction (0: one each)")
	rateLimit := flag.Float64("receipt-rate", server.DefaultReceiptRate, "receipts per second allowed from one client address (0: no limit)")
	rateBurst := flag.Int("receipt-burst", server.DefaultReceiptBurst, "burst of receipts allowed from one client address")
	operatorsFile := flag.String("operators", os.Getenv("PORTALCONSENT_OPERATORS"),
		"YAML file of the operators: name, tokenHash (bcrypt, see -hash-token) and portals of each (reloaded on SIGHUP and when it changes)")
	hashToken := flag.Bool("hash-token", false, "read an operator token on stdin, print its bcrypt hash for the operators file and exit")
	metricsAddr := flag.String("metrics-addr", "", "address to serve Prometheus /metrics on (host:port; off when empty; never the public address)")
	publicURL := flag.String("public-url", os.Getenv("PORTALCONSENT_PUBLIC_URL"),
		"the scheme and host the server is reached at (https://consent.example behind a TLS proxy: Secure __Host- console cookies)")
	receiptQueue := flag.Int("receipt-queue", server.DefaultReceiptQueue,
		"receipts (and impressions, cookie reports) that may wait for the database at once; beyond, 503 with Retry-After at once (0: no bound)")
	portalCache := flag.Int64("portal-cache-mb", server.DefaultPortalCache>>20,
		"MiB kept of the portals built (config.json, compressed, notices, themes; least recently used out first); each portal is built when first asked for")
	trustedProxies := flag.String("trusted-proxies", os.Getenv("PORTALCONSENT_TRUSTED_PROXIES"),
		"CIDR[,CIDR…] of the load balancers in front of the server: from them, the client is the right-most untrusted address of X-Forwarded-For (default: the header is ignored)")
	checkpointFile := flag.String("checkpoint-key", "",
		"file of the Ed25519 key that signs the receipt chains' heads, made (0600) at first start (default: checkpoint-key beside admin-token)")
	printPublicKey := flag.Bool("checkpoint-public-key", false, "print the public key of the checkpoint key (base64) and exit")
	checkpointEvery := flag.Duration("checkpoint-every", 10*time.Minute, "sign the chains' heads that moved this often (and at shutdown; 0: at shutdown only)")
	verifyKey := flag.String("verify-key", "", "with -verify-receipts: the checkpoint public key (base64) to check against, instead of the key file's")
	flag.Parse()
	if *hashToken {
		os.Exit(hashTokenCmd(os.Stdin, os.Stdout, os.Stderr))
	}
	if *checkDir != "" {
		os.Exit(check(*checkDir, os.Stdout, os.Stderr))
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if *db == "" {
		var err error
		if *db, err = defaultDB(); err != nil {
			log.Error("cannot start", "err", err.Error())
			os.Exit(1)
		}
	}
	keyFile, err := checkpointKeyFile(*checkpointFile, *db)
	if err != nil {
		log.Error("cannot start", "err", err.Error())
		os.Exit(1)
	}
	if *printPublicKey {
		os.Exit(publicKeyCmd(keyFile, os.Stdout, os.Stderr))
	}
	if *verifyReceipts {
		pub, noKey, err := verifyPublicKey(*verifyKey, keyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "verify-receipts:", err)
			os.Exit(1)
		}
		os.Exit(verify(*db, pub, noKey, os.Stdout, os.Stderr))
	}
	trusted, err := ratelimit.ParseTrusted(*trustedProxies)
	if err != nil {
		log.Error("cannot start: -trusted-proxies", "err", err.Error())
		os.Exit(1)
	}
	if *retention < 1 {
		log.Error("cannot start: -retention-days must be at least 1")
		os.Exit(1)
	}
	if *portalCache < 1 {
		log.Error("cannot start: -portal-cache-mb must be at least 1")
		os.Exit(1)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// The portals built are what grows with the number of portals: the
		// garbage collector works harder rather than let the heap double
		// past them (a soft limit; GOMEMLIMIT sets another).
		debug.SetMemoryLimit(memoryLimit(*portalCache << 20))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := openStore(ctx, *db, *groupCommit, log)
	if err != nil {
		log.Error("cannot start: receipts database", "db", redactDSN(*db), "err", err.Error())
		os.Exit(1)
	}
	defer st.Close() // after the HTTP server has let in-flight receipts finish
	log.Info("receipts database", "db", redactDSN(*db))
	var opts []server.Option
	var auth *operators.Set
	var key []byte
	tf, err := tokenFile(*db)
	if pg, ok := st.(*postgres.Store); ok && err == nil {
		// Every host of the database shares its secrets and revocations.
		auth, key, err = fleetSecrets(ctx, pg, tf, log)
		opts = append(opts, server.WithSharedRevocations(sharedRevocations{pg}))
	} else if err == nil {
		var token string
		if token, err = adminToken(tf, log); err == nil {
			auth = operators.New(token)
			key, err = sessionKey(filepath.Join(filepath.Dir(tf), "session-key"), log)
		}
	}
	if err != nil {
		log.Error("cannot start", "err", err.Error())
		os.Exit(1)
	}
	ckey, err := checkpointKey(keyFile, log)
	if err != nil {
		log.Error("cannot start", "err", err.Error())
		os.Exit(1)
	}
	if *publicURL != "" {
		if err := checkPublicURL(*publicURL); err != nil {
			log.Error("cannot start", "err", err.Error())
			os.Exit(1)
		}
	}
	m := metrics.New()
	if l, ok := st.(interface{ Leases() int64 }); ok { // PostgreSQL: its writer lease
		m.WriterLeases(l.Leases)
	}
	var opReloader *operators.Reloader
	if *operatorsFile != "" {
		if opReloader, err = operators.NewReloader(*operatorsFile, auth, log); err != nil {
			log.Error("cannot start: operators file", "err", err.Error())
			os.Exit(1)
		}
		opReloader.OnReload = m.OperatorsReload
	}
	opts = append(opts, server.WithReceipts(st), server.WithRateLimit(*rateLimit, *rateBurst),
		server.WithOperators(auth), server.WithSessionKey(key), server.WithPublicURL(*publicURL), server.WithMetrics(m),
		server.WithTrustedProxies(trusted), server.WithReceiptQueue(*receiptQueue),
		server.WithPortalCache(*portalCache<<20),
		server.WithCheckpointKey(ckey.Public().(ed25519.PublicKey)))
	if len(trusted) > 0 {
		log.Info("trusted proxies: the client address is read from X-Forwarded-For", "proxies", *trustedProxies)
	}

	h, reloader, errs := start(*dir, web.Files(), log, opts...)
	if len(errs) > 0 {
		for _, err := range errs {
			log.Error("cannot start: policy problem", "err", err.Error())
		}
		os.Exit(1)
	}
	go maintain(ctx, st, *retention, log)
	go keepCheckpoints(ctx, st, ckey, *checkpointEvery, log)
	go h.KeepNoticesServed(ctx, time.Hour)
	go h.FollowRevocations(ctx)
	go h.FollowPolicies(ctx)
	go h.FollowOperators(ctx)
	if reloader != nil || opReloader != nil {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		go reloadOn(ctx, hup, reloader, opReloader)
	}
	if opReloader != nil {
		go func() {
			if err := opReloader.Watch(ctx, policyfiles.DefaultDebounce); err != nil {
				log.Error("the operators file is reloaded on SIGHUP only", "err", err.Error())
			}
		}()
	}
	if *metricsAddr != "" {
		go func() {
			if err := runMetrics(ctx, *metricsAddr, m, log); err != nil {
				log.Error("serving metrics", "addr", *metricsAddr, "err", err)
			}
		}()
	}
	if reloader != nil {
		go func() {
			if err := reloader.Watch(ctx, policyfiles.DefaultDebounce); err != nil {
				log.Error("policy files are reloaded on SIGHUP only", "err", err.Error())
			}
		}()
	}
	if err := run(ctx, *addr, h, log.With("portals", h.Portals()), nil); err != nil {
		log.Error("serving", "addr", *addr, "err", err)
		st.Close()
		os.Exit(1)
	}
	// The receipts in flight are stored: sign the heads they moved.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := signHeads(sctx, st, ckey, time.Now(), log); err != nil {
		log.Error("receipts: cannot sign the chains' heads at shutdown", "err", err.Error())
	}
}

// start returns the server (with opts) for the policy files of dir, with the reloader
// that keeps it up to date, or for the built-in portals (and no reloader)
// when dir is "": both are published into the receipts database as managed
// by file, and the server serves what the database holds. It returns every
// problem of the files instead when there is any.
func start(dir string, assets fs.FS, log *slog.Logger, opts ...server.Option) (*server.Server, *policyfiles.Reloader, []error) {
	if dir == "" {
		ps, err := policyfiles.Defaults()
		if err != nil {
			return nil, nil, []error{err}
		}
		h, err := server.New(nil, assets, append(opts, server.WithLogger(log), server.WithPolicyFiles(ps))...)
		if err != nil {
			return nil, nil, []error{err}
		}
		return h, nil, nil
	}
	var h *server.Server
	apply := func(ps []policyfiles.Portal) error {
		if h != nil {
			err := h.SetPortals(ps)
			h.Metrics().PolicyReload(err)
			return err
		}
		var err error
		h, err = server.New(nil, assets, append(opts, server.WithLogger(log), server.WithPolicyFiles(ps))...)
		return err
	}
	r, errs := policyfiles.NewPortalsReloader(dir, apply, log)
	if len(errs) > 0 {
		return nil, nil, errs
	}
	return h, r, nil
}

// reloadOn reloads the policy files and the operators file (either may be
// nil) on each value of sig (SIGHUP) until ctx is done.
func reloadOn(ctx context.Context, sig <-chan os.Signal, r *policyfiles.Reloader, ops *operators.Reloader) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
			if r != nil {
				r.Reload()
			}
			if ops != nil {
				ops.Reload()
			}
		}
	}
}

// check checks the policy files of dir for an operator's CI: it writes one
// line per valid portal ("id revision N file") to stdout, each problem and a
// summary to stderr, and returns the exit status: 0 when every file is good,
// 1 otherwise.
func check(dir string, stdout, stderr io.Writer) int {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "%s: not a directory\n", dir)
		return 1
	}
	lines, errs := policyfiles.Check(os.DirFS(dir))
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	problems := 0
	for _, err := range errs {
		les := policy.LoadErrors(err)
		for _, le := range les {
			le.File = filepath.Join(dir, le.File) // a path the operator can open
			fmt.Fprintln(stderr, le)
		}
		if len(les) == 0 {
			fmt.Fprintln(stderr, err)
		}
		problems += max(len(les), 1)
	}
	if problems > 0 {
		fmt.Fprintf(stderr, "%d valid portal(s), %d problem(s)\n", len(lines), problems)
		return 1
	}
	return 0
}

// shutdownGrace is how long in-flight requests may take to finish once the
// server is told to stop.
const shutdownGrace = 10 * time.Second

// newHTTPServer returns the http.Server for h, with its timeouts and limits.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// run serves h on addr until ctx is done, then stops accepting connections
// and waits up to shutdownGrace for in-flight requests. It sends the address
// it listens on to ready (when not nil) once accepting. It returns nil after a
// clean shutdown, else the error of listening, serving or shutting down.
func run(ctx context.Context, addr string, h http.Handler, log *slog.Logger, ready chan<- string) error {
	srv := newHTTPServer(h, log)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Info("serving", "url", "http://"+ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case err := <-served:
		return err // Serve returns only on failure before Shutdown
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", shutdownGrace.String())
	stop, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err = srv.Shutdown(stop)
	if serr := <-served; err == nil && !errors.Is(serr, http.ErrServerClosed) {
		err = serr
	}
	if err == nil {
		log.Info("stopped")
	}
	return err
}

// memoryLimit is the soft memory limit of a host whose portal cache holds
// cache bytes: twice the cache (the garbage of builds) and 128 MiB for the
// rest (assets, index, requests in flight).
func memoryLimit(cache int64) int64 { return 2*cache + 128<<20 }
