// Package e2e holds the browser and accessibility tests of the consent host:
// Debian's Chromium (/usr/bin/chromium) driven through package harness
// against the real server, axe-core from server/.tools. It is the only
// package whose tests need a browser; `make test` runs it on its own, with a
// long timeout.
package e2e

import (
	"testing"

	"github.com/portalconsent/portalconsent/server/harness"
)

// tab is a harness tab with the helpers only these tests use.
type tab struct{ *harness.Tab }

// newTab starts a browser of its own for t and returns its tab; it fails t
// if Chromium does not start.
func newTab(t testing.TB) *tab { return &tab{harness.NewTab(t)} }
