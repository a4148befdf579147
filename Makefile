# make test: every test, race detector on. The root module's tests run with a
# real PostgreSQL server and a real redis-server (each installed from
# Debian's packages if missing) started on loopback ports and stopped after;
# then the bench module's tests, which
# assert the hot path's allocation budget and that every peer compared
# really verifies (no timing); then the interop module's tests, which run
# real authorization servers (zitadel/oidc, Ory fosite) on loopback ports
# against tollgate (see interop/README.md).
GO ?= go

.PHONY: test bench vet

test:
	./scripts/with-postgres.sh ./scripts/with-redis.sh $(GO) test -race -count=1 ./...
	cd bench && $(GO) vet ./... && $(GO) test -race -count=1 ./...
	cd ginadapter && $(GO) vet ./... && $(GO) test -race -count=1 ./...
	cd interop && $(GO) vet ./... && $(GO) test -race -count=1 ./...

# The benchmarks beside the peer libraries (see bench/README.md), with a
# PostgreSQL server for the API-key store's figures.
bench:
	cd bench && ../scripts/with-postgres.sh $(GO) test -run '^$$' -bench . -benchmem

vet:
	test -z "$$(gofmt -l .)"
	$(GO) vet ./...
	cd bench && $(GO) vet ./...
	cd ginadapter && $(GO) vet ./...
	cd interop && $(GO) vet ./...
