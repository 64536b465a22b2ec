package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/portalconsent/portalconsent/server/metrics"
	"github.com/portalconsent/portalconsent/server/operators"
)

// hashTokenCmd reads one token on stdin (its first line, without the line
// end) and prints its bcrypt hash: exit 0, or 1 saying why (too short).
func hashTokenCmd(stdin io.Reader, stdout, stderr io.Writer) int {
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintln(stderr, "hash-token:", err)
		return 1
	}
	token := strings.TrimRight(line, "\r\n")
	h, err := operators.HashToken(token)
	if err != nil {
		fmt.Fprintln(stderr, "hash-token:", err)
		return 1
	}
	fmt.Fprintln(stdout, h)
	return 0
}

// sessionKey returns the key console sessions are signed with:
// PORTALCONSENT_SESSION_KEY when set (at least 32 bytes), else the one kept
// in file, made at random (0600) when missing. It never logs the key.
func sessionKey(file string, log *slog.Logger) ([]byte, error) {
	if k, ok := os.LookupEnv("PORTALCONSENT_SESSION_KEY"); ok {
		if len(k) < operators.MinKeyLen {
			return nil, fmt.Errorf("PORTALCONSENT_SESSION_KEY must be at least %d bytes", operators.MinKeyLen)
		}
		return []byte(k), nil
	}
	b, err := os.ReadFile(file)
	if err == nil {
		k := strings.TrimSpace(string(b))
		if len(k) < operators.MinKeyLen {
			return nil, fmt.Errorf("session key file %s: the key must be at least %d bytes", file, operators.MinKeyLen)
		}
		log.Info("console session key", "file", file)
		return []byte(k), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("session key file: %w", err)
	}
	k := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, fmt.Errorf("session key file: %w", err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("session key file: %w", err)
	}
	_, err = f.WriteString(k + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("session key file: %w", err)
	}
	log.Info("console session key made", "file", file)
	return []byte(k), nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// checkPublicURL refuses a -public-url that is not http(s)://host[:port].
func checkPublicURL(u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || strings.Trim(p.Path, "/") != "" || p.RawQuery != "" {
		return fmt.Errorf("-public-url %q is not http(s)://host[:port]", u)
	}
	return nil
}

// runMetrics serves m's /metrics on addr until ctx is done.
func runMetrics(ctx context.Context, addr string, m *metrics.Metrics, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 32 << 10}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
