# make test: every test, race detector on, with a real redis-server (installed
# from Debian's packages if missing) started on a loopback port and stopped
# after.
GO ?= go

.PHONY: test test-short vet bench

test:
	./scripts/with-redis.sh $(GO) test -race -count=1 ./...

test-short:
	$(GO) test -race -count=1 ./...

vet:
	gofmt -l . | (! grep .)
	$(GO) vet ./...

bench:
	cd bench && $(GO) test -run '^$$' -bench . -benchmem ./...
