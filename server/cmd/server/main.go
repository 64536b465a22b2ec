// Command server runs the consent host: it serves the loader, the WebAssembly
// consent app, the policies and the policy and demo pages of the built-in
// portals. It listens on -addr (default $ADDR, else localhost:8080) and exits
// non-zero with a message when it cannot load a policy or listen. It logs JSON
// to stderr, one line per request, and on SIGINT or SIGTERM stops accepting
// connections and lets in-flight requests finish (10 s grace).
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/web"
)

func main() {
	def := os.Getenv("ADDR")
	if def == "" {
		def = "localhost:8080"
	}
	addr := flag.String("addr", def, "address to listen on (host:port)")
	flag.Parse()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	policies, err := policy.Defaults()
	if err != nil {
		log.Error("loading the built-in policies", "err", err)
		os.Exit(1)
	}
	h, err := server.New(policies, web.Files(), server.WithLogger(log))
	if err != nil {
		log.Error("starting", "err", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, h, log.With("portals", len(policies)), nil); err != nil {
		log.Error("serving", "addr", *addr, "err", err)
		os.Exit(1)
	}
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
