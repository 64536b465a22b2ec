// Command server runs the consent host: it serves the loader, the WebAssembly
// consent app, the policies and the policy and demo pages of the built-in
// portals. It listens on -addr (default $ADDR, else localhost:8080) and exits
// non-zero with a message when it cannot load a policy or listen.
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
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
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	policies, err := policy.Defaults()
	if err != nil {
		log.Error("loading the built-in policies", "err", err)
		os.Exit(1)
	}
	h, err := server.New(policies, web.Files())
	if err != nil {
		log.Error("starting", "err", err)
		os.Exit(1)
	}
	srv := &http.Server{
		Addr:              *addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Info("serving", "url", "http://"+*addr, "portals", len(policies))
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("listening", "addr", *addr, "err", err)
		os.Exit(1)
	}
}
