# Mercato — see README.md.
GO ?= go
PG_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable

.PHONY: run build test test-short vet fmt bench fuzz crashtest loadtest soak

run: ## run the shop on the embedded default (SQLite in ./mercato-data)
	$(GO) run ./cmd/mercato

build:
	$(GO) build -o bin/mercato ./cmd/mercato

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

## The whole suite: unit tests, SQLite and PostgreSQL conformance, API and browser tests.
## PostgreSQL tests run when MERCATO_TEST_POSTGRES_URL is set (defaulted here to the
## local server); they skip with a reason when it is unreachable, unless
## MERCATO_TEST_REQUIRE_SERVICES=1 (CI), where they fail.
test: vet
	MERCATO_TEST_POSTGRES_URL="$${MERCATO_TEST_POSTGRES_URL-$(PG_URL)}" $(GO) test -count=1 -timeout 15m ./...

test-short:
	$(GO) test -short ./...

bench:
	MERCATO_TEST_POSTGRES_URL="$${MERCATO_TEST_POSTGRES_URL-$(PG_URL)}" $(GO) test -run '^$$' -bench . -benchmem ./...

## Fuzz every fuzz target for FUZZTIME each (their seed corpora also run in `make test`).
FUZZTIME ?= 30s
fuzz:
	@for t in $$(grep -rl --include='*_test.go' '^func Fuzz' internal | xargs grep -ho '^func Fuzz[A-Za-z0-9_]*' | sed 's/func //' | sort -u); do \
	  pkg=$$(dirname $$(grep -rl --include='*_test.go' "^func $$t(" internal | head -1)); \
	  echo "== $$t ($$pkg)"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./$$pkg || exit 1; \
	done

## The crash test alone (it also runs in `make test`): kill the real binary
## with SIGKILL under a checkout load, KILLS times per engine, and check the books.
KILLS ?= 10
crashtest:
	MERCATO_CRASHTEST_KILLS=$(KILLS) MERCATO_TEST_POSTGRES_URL="$${MERCATO_TEST_POSTGRES_URL-$(PG_URL)}" $(GO) test -count=1 -v -run TestKilledUnderCheckoutLoad ./internal/crashtest

## The load harness (issue 9): builds the binary, starts the ceiling server and
## the shop on SQLite and PostgreSQL, drives every route and the shopper flow;
## prints the table and writes docs/loadtest.svg. LOADTEST_FLAGS passes flags
## (e.g. LOADTEST_FLAGS='-duration 10s -products 100000'); see docs/PERFORMANCE.md.
LOADTEST_FLAGS ?=
loadtest:
	MERCATO_TEST_POSTGRES_URL="$${MERCATO_TEST_POSTGRES_URL-$(PG_URL)}" $(GO) run ./cmd/loadtest $(LOADTEST_FLAGS)

## The soak (issue 8): SOAK of mixed load against one engine, RSS and goroutines
## sampled, docs/soak.svg written; fails when memory does not level off.
SOAK ?= 10m
SOAK_FLAGS ?=
soak:
	MERCATO_TEST_POSTGRES_URL="$${MERCATO_TEST_POSTGRES_URL-$(PG_URL)}" $(GO) run ./cmd/loadtest soak -duration $(SOAK) $(SOAK_FLAGS)
