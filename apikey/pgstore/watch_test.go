package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tollgate/tollgate/apikey"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/internal/redistest"
	"github.com/tollgate/tollgate/principal"
)

// within polls cond every millisecond until it holds, and reports how long
// that took, failing t if it takes longer than limit. The limit is the
// requirement under test (a change seen by every replica within a
// second), not a guess at a sleep.
func within(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// Two replicas, each with its own pool and an hour-long cache TTL, on one
// database: a change made through one is seen by the other within a
// second, through LISTEN/NOTIFY alone.
func TestTwoReplicasSeeEachOthersChangesWithinASecond(t *testing.T) {
	pool, schema := newSchema(t)
	a, _ := replica(t, pool)
	b, bStore := replica(t, newPool(t, serverURL(t), schema))
	ctx := context.Background()
	key, token := create(t, a, spec())
	verifyB := func() (*principal.Principal, error) { return b.Verify(ctx, token) }
	if _, err := verifyB(); err != nil {
		t.Fatal(err)
	}
	if _, err := verifyB(); err != nil || bStore.lookups.Load() != 1 {
		t.Fatalf("replica b does not answer from its cache: %v, %d lookups", err, bStore.lookups.Load())
	}
	steps := []struct {
		name   string
		change func() error
		seen   func(*principal.Principal, error) bool
	}{
		{"a deactivation", func() error { _, err := a.Deactivate(ctx, key.ID); return err },
			func(_ *principal.Principal, err error) bool { return tgerrors.KindOf(err) == tgerrors.InvalidToken }},
		{"a reactivation", func() error { _, err := a.Reactivate(ctx, key.ID); return err },
			func(_ *principal.Principal, err error) bool { return err == nil }},
		{"a permission removed", func() error {
			_, err := a.Update(ctx, key.ID, func(k *apikey.Key) error { k.Permissions = []string{"can_read_order"}; return nil })
			return err
		}, func(p *principal.Principal, err error) bool { return err == nil && !p.HasScope("can_write_order") }},
		{"a revocation", func() error { _, err := a.Revoke(ctx, key.ID); return err },
			func(_ *principal.Principal, err error) bool { return tgerrors.KindOf(err) == tgerrors.InvalidToken }},
	}
	for _, s := range steps {
		if err := s.change(); err != nil {
			t.Fatal(err)
		}
		took := within(t, time.Second, "replica b seeing "+s.name, func() bool { return s.seen(verifyB()) })
		t.Logf("%s seen by the other replica after %v", s.name, took)
	}
}

// A listener whose connection is killed reconnects by itself, drops its
// cache (changes made meanwhile were not announced to it), and sees the
// changes made after.
func TestAListenerThatLosesItsConnectionResubscribesAndDropsItsCache(t *testing.T) {
	pool, schema := newSchema(t)
	a, _ := replica(t, pool)
	bPool := newPool(t, serverURL(t), schema)
	b, bStore := replica(t, bPool)
	ctx := context.Background()
	key, token := create(t, a, spec())
	if _, err := b.Verify(ctx, token); err != nil {
		t.Fatal(err)
	}
	// Kill every LISTEN connection on the server: b's and a's.
	var killed int
	if err := pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND query IN ('LISTEN tollgate_apikey', 'SELECT 1')`).Scan(&killed); err != nil || killed < 2 {
		t.Fatalf("terminated %d listeners (%v), want at least 2", killed, err)
	}
	before := bStore.lookups.Load()
	within(t, 3*time.Second, "replica b dropping its cache after resubscribing", func() bool {
		_, _ = b.Verify(ctx, token)
		return bStore.lookups.Load() > before
	})
	if _, err := a.Deactivate(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "replica b seeing a deactivation after resubscribing", func() bool {
		_, err := b.Verify(ctx, token)
		return tgerrors.KindOf(err) == tgerrors.InvalidToken
	})
}

// With the database gone mid-request, a verification that needs it is
// refused with unavailable within the lookup timeout, never admitted, and
// the replica recovers when the database is back.
func TestTheStoreDyingMidRequestFailsClosed(t *testing.T) {
	pool, schema := newSchema(t)
	a, _ := replica(t, pool)
	proxy := redistest.NewProxy(t, hostOf(t, serverURL(t)))
	viaProxy := newPool(t, withHost(t, serverURL(t), proxy.Addr()), schema)
	b, _ := replica(t, viaProxy, func(c *apikey.Config) { c.LookupTimeout = 300 * time.Millisecond })
	ctx := context.Background()
	_, cached := create(t, a, spec())
	_, fresh := create(t, a, spec())
	if _, err := b.Verify(ctx, cached); err != nil {
		t.Fatal(err)
	}

	// The connection drops while a lookup is on the wire.
	proxy.SetLatency(100 * time.Millisecond)
	done := make(chan error, 1)
	go func() { _, err := b.Verify(ctx, fresh); done <- err }()
	time.Sleep(50 * time.Millisecond) // the query is in flight
	proxy.DropConnections()
	if err := <-done; tgerrors.KindOf(err) != tgerrors.Unavailable {
		t.Fatalf("a lookup cut off mid-request: %v, want unavailable", err)
	}

	// A database that stops answering.
	proxy.SetLatency(0)
	proxy.BlackHole(true)
	startedAt := time.Now()
	p, err := b.Verify(ctx, fresh)
	if p != nil || tgerrors.KindOf(err) != tgerrors.Unavailable {
		t.Fatalf("with the database black-holed: %v, %v; want unavailable", p, err)
	}
	if took := time.Since(startedAt); took > 2*time.Second {
		t.Fatalf("the refusal took %v, want about the 300ms lookup timeout", took)
	}
	var e *tgerrors.Error
	if !errors.As(err, &e) || e.Err == nil {
		t.Fatalf("no internal cause kept for the log: %#v", err)
	}
	// What was verified before is served from memory within its TTL.
	if _, err := b.Verify(ctx, cached); err != nil {
		t.Fatalf("a cached key with the database gone: %v", err)
	}

	proxy.BlackHole(false)
	proxy.DropConnections()
	within(t, 5*time.Second, "recovering when the database is back", func() bool {
		_, err := b.Verify(ctx, fresh)
		return err == nil
	})
}
