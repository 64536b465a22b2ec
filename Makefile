# Portal Consent. `make run` builds and serves the demo on http://localhost:8080
# (ADDR=host:port to change, POLICIES=DIR for policy files, DB=PATH or
# DB=postgres://… for the receipts database); `make test` runs every test,
# browser and PostgreSQL tests included.
GO       ?= go
ADDR     ?= localhost:8080
GOROOT   := $(shell $(GO) env GOROOT)
DIST     := web/dist
WASM_SRC := $(shell find app banner policy wasm -name '*.go' -not -name '*_test.go') $(wildcard policy/defaults/*) go.mod go.sum
FUZZTIME ?= 5m

BENCH_RUNS ?= 11
VANILLA  := server/.tools/node_modules/vanilla-cookieconsent/dist
LIGHTHOUSE := server/.tools/node_modules/lighthouse/cli/index.js
LIGHTHOUSE_RUNS ?= 5

.PHONY: build run test vet fuzz bench clean screenshots

build: $(DIST)/app.wasm.br $(DIST)/wasm_exec.js.br

# The consent app, for GOOS=js: stripped, paths trimmed, and no inlining in
# go-app and our own packages (-gcflags github.com/...=-l): 27 KB less brotli,
# smaller raw too; the runtime and standard library keep inlining.
$(DIST)/app.wasm: $(WASM_SRC)
	GOOS=js GOARCH=wasm $(GO) build -trimpath -gcflags='github.com/...=-l' -ldflags="-s -w" -o $@ ./wasm

# Go's JavaScript runtime support must match the toolchain that built the wasm.
$(DIST)/wasm_exec.js: $(GOROOT)/lib/wasm/wasm_exec.js
	cp $< $@

# Brotli and gzip variants, made once at build time.
$(DIST)/%.br: $(DIST)/% web/precompress/main.go
	$(GO) run ./web/precompress $<

run: build
	$(GO) run ./server/cmd/server -addr $(ADDR) $(if $(POLICIES),-policies $(POLICIES)) $(if $(DB),-db '$(DB)')

vet: build
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./policy ./banner ./app ./wasm

# axe-core (pinned, from npm, into the gitignored server/.tools/) for the
# accessibility tests of server/e2e (server/harness reads it from there).
AXE := server/.tools/node_modules/axe-core/axe.min.js
$(AXE):
	npm install --no-audit --no-fund --prefix server/.tools axe-core@4.14.1

# The PostgreSQL tests run against a real server: by default Debian's
# cluster on 127.0.0.1:5432, installed and started by .ci/postgres (as the
# postgres user) with the role the tests use; set PORTALCONSENT_TEST_POSTGRES
# to a DSN of your own server instead (the tests create their own databases).
PG_DEFAULT := postgres://portalconsent:portalconsent@127.0.0.1:5432/postgres?sslmode=disable
PORTALCONSENT_TEST_POSTGRES ?= $(PG_DEFAULT)
export PORTALCONSENT_TEST_POSTGRES

.PHONY: postgres
postgres:
	@if [ "$$PORTALCONSENT_TEST_POSTGRES" = "$(PG_DEFAULT)" ]; then bash .ci/postgres; fi

# Every test: native unit tests, then the browser tests of server/e2e
# (Chromium at /usr/bin/chromium; the only package that needs it, with a
# long timeout), the policy package compiled to wasm under Node.js, the
# loader's codec against the Go vectors (Node.js), and short fuzz runs.
# The fuzz runs are budgeted in executions (about 5 s each here), not in
# time: Go 1.26's fuzz coordinator can report "context deadline exceeded" as
# a failure when a time budget ends while a worker is busy (golang/go#75804,
# fixed in Go 1.27), which failed a CI run with no failing input.
test: vet $(AXE) postgres
	$(GO) test -count=1 $$($(GO) list ./... | grep -v 'portalconsent/server/e2e$$')
	$(GO) test -count=1 -timeout 30m ./server/e2e
	PATH="$(GOROOT)/lib/wasm:$$PATH" GOOS=js GOARCH=wasm $(GO) test -count=1 ./policy
	node --test web/
	$(GO) test -run='^$$' -fuzz=FuzzDecode -fuzztime=80000x ./policy
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=30000x ./policy
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=15000x ./server/policyfiles
	$(GO) test -run='^$$' -fuzz=FuzzServeHTTP -fuzztime=1000x ./server
	$(GO) test -run='^$$' -fuzz=FuzzThemeCSS -fuzztime=2500x ./server/catalogue

# A screenshot of each of the 37 languages' banner and preferences on a
# 320 px wide phone, into web/dist/screenshots/ (not committed), for a person
# to look at. Not part of `make test`, which runs the same test (fit, axe,
# lang and dir) without writing them.
screenshots: build $(AXE)
	PORTALCONSENT_SCREENSHOTS=$(CURDIR)/$(DIST)/screenshots $(GO) test -count=1 -run '^TestBrowserLanguagesEveryLanguage$$' ./server/e2e

# Longer fuzzing, FUZZTIME each (a time budget: see the race above, a
# "context deadline exceeded" with no failing input written is not a bug).
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzDecode -fuzztime=$(FUZZTIME) ./policy
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./policy
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./server/policyfiles
	$(GO) test -run='^$$' -fuzz=FuzzServeHTTP -fuzztime=$(FUZZTIME) ./server
	$(GO) test -run='^$$' -fuzz=FuzzThemeCSS -fuzztime=$(FUZZTIME) ./server/catalogue

# Benchmarks (not part of make test): our banner against vanilla-cookieconsent
# 3.1.0 (installed from npm here) in headless Chromium, BENCH_RUNS cold runs
# each; Lighthouse 12.2.3 (pinned, from npm here: 13 needs Node 22) on the
# bench page, light and with a hero image, LIGHTHOUSE_RUNS runs per variant
# (none, ours, vanilla, and the floor: server/bench/testdata/floor.js),
# a CPU profile of our first visit under 4x CPU, a tap on Customize on an
# emulated phone (4x CPU, slow 4G; TAP_RUNS, default 7), the first visit's
# bytes from the banner's hosts, the returning visit's
# main-thread time against vanilla-cookieconsent's and the floor's, and where ours goes, and
# the impression beacon's cost; the server under wrk
# (installed from Debian here); then the
# receipts route of the built binary under wrk on SQLite and PostgreSQL, and
# lookup and export over RECEIPTS_N (1,000,000) receipts; a host of
# PORTALS_N (10,000) portals: start, memory, publication to served.
bench: build postgres
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
	@test -f $(VANILLA)/cookieconsent.umd.js || npm install --no-audit --no-fund --prefix server/.tools vanilla-cookieconsent@3.1.0
	@test -f $(LIGHTHOUSE) || npm install --no-audit --no-fund --save-exact --prefix server/.tools lighthouse@12.2.3
	BENCH_RUNS=$(BENCH_RUNS) VANILLA_DIR=$(CURDIR)/$(VANILLA) LIGHTHOUSE=$(CURDIR)/$(LIGHTHOUSE) LIGHTHOUSE_RUNS=$(LIGHTHOUSE_RUNS) $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 90m ./server/bench
	$(GO) test -run '^$$' -bench 'Receipts|Overload|Portals' -benchtime 1x -timeout 60m ./server/cmd/server
	$(GO) test -run '^$$' -bench 'AppendDuringRetention|BytesPerReceipt' -benchtime 1x -timeout 20m ./server/receipts/postgres
	$(GO) test -run '^$$' -bench 'AppendDuringRetention' -benchtime 1x -timeout 20m ./server/receipts/sqlite

clean:
	find $(DIST) -type f -not -name README.md -not -name .gitignore -delete
