package bench

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/apikey"
	"github.com/tollgate/tollgate/apikey/pgstore"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/middleware"
)

// The API-key figures: a cached verification (the token's checksum, its
// HMAC-SHA-256 under the pepper and a cache hit) beside its floor, the
// HMAC alone; the whole chain with an API key beside the same chain with
// a cached JWT; a cache miss on PostgreSQL (one indexed query) beside a
// bare SELECT 1 on the same pool; and how long a deactivation takes to be
// seen by another replica.

var benchPepper = func() apikey.Pepper {
	p, err := apikey.NewPepper("p1", []byte(strings.Repeat("bench-pepper-", 4)))
	if err != nil {
		panic(err)
	}
	return p
}()

// newKeys returns Keys on store with the real clock, closed at cleanup.
func newKeys(tb testing.TB, store apikey.Store, tweak ...func(*apikey.Config)) *apikey.Keys {
	tb.Helper()
	cfg := apikey.Config{
		Store:    store,
		Peppers:  []apikey.Pepper{benchPepper},
		Prefixes: []apikey.Prefix{{Name: "mt_live", Type: "merchant"}},
	}
	for _, f := range tweak {
		f(&cfg)
	}
	k, err := apikey.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = k.Close() })
	return k
}

// newAPIKey creates a merchant key granting the chain's required scope.
func newAPIKey(tb testing.TB, k *apikey.Keys) (*apikey.Key, string) {
	tb.Helper()
	key, secret, err := k.Create(context.Background(), apikey.Spec{
		Name:        "bench",
		Owner:       apikey.Owner{ID: "merchant-42", OrgID: "org-1", AppID: "app-7"},
		Permissions: []string{"integration.store", requiredScope, "integration.inventory"},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return key, secret.Reveal()
}

// The whole chain with a cached API key stays within the budget a cached
// JWT is held to, layer by layer.
func TestCachedAPIKeyThroughTheWholeChainStaysWithinTheAllocationBudget(t *testing.T) {
	k := newKeys(t, apikey.NewMemoryStore())
	_, token := newAPIKey(t, k)
	r := newRequest(token)
	layers := chainLayers(k)
	var breakdown []string
	prev := 0.0
	for i := range layers {
		c := &counter{}
		var mws []func(next http.Handler) http.Handler
		for _, l := range layers[:i+1] {
			mws = append(mws, l.mw)
		}
		n := allocsPerRequest(middleware.Chain(mws...)(c), r)
		if c.n == 0 {
			t.Fatalf("with %s the handler was never reached", layers[i].name)
		}
		breakdown = append(breakdown, fmt.Sprintf("%s +%g", layers[i].name, n-prev))
		prev = n
	}
	if prev > chainAllocBudget {
		t.Errorf("whole chain with an API key: %g allocations per request, budget %d (%s)", prev, chainAllocBudget, strings.Join(breakdown, ", "))
	} else {
		t.Logf("whole chain with an API key: %g allocations per request (%s)", prev, strings.Join(breakdown, ", "))
	}
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() { _, _ = k.Verify(ctx, token) }); n != 0 {
		t.Errorf("apikey.Keys.Verify, cached key: %g allocations, want 0", n)
	}
}

// The API-key benchmarks verify: a token with one character changed is
// refused, so no figure is that of an error path.
func TestTheAPIKeyBenchmarksVerify(t *testing.T) {
	k := newKeys(t, apikey.NewMemoryStore())
	_, token := newAPIKey(t, k)
	if _, err := k.Verify(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	forged := token[:20] + flip(token[20:21]) + token[21:]
	if _, err := k.Verify(context.Background(), forged); tgerrors.KindOf(err) != tgerrors.InvalidToken {
		t.Fatalf("a forged token: %v", err)
	}
}

// BenchmarkAPIKey: a merchant's token it presented before.
//
//   - verify_cached: apikey.Keys.Verify, a cache hit: checksum, HMAC-SHA-256,
//     sharded LRU lookup, status and expiry checks, last-used bookkeeping.
//   - hmac_sha256: the floor, the token's HMAC alone with a reused hash.
//   - checksum: apikey.WellFormed, the shape and CRC-32 check alone.
//   - chain_apikey: the whole chain (as BenchmarkCachedToken/tollgate_chain)
//     with the API key; chain_jwt: the same chain with the cached RS256 JWT,
//     in the same run, for the ratio.
func BenchmarkAPIKey(b *testing.B) {
	k := newKeys(b, apikey.NewMemoryStore())
	_, token := newAPIKey(b, k)
	ctx := context.Background()
	b.Run("verify_cached", func(b *testing.B) {
		if _, err := k.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := k.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hmac_sha256", func(b *testing.B) {
		m := hmac.New(sha256.New, []byte(strings.Repeat("bench-pepper-", 4)))
		buf := []byte(token)
		var sum [sha256.Size]byte
		b.ReportAllocs()
		for b.Loop() {
			m.Reset()
			m.Write(buf)
			m.Sum(sum[:0])
		}
	})
	b.Run("checksum", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !apikey.WellFormed(token) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("chain_apikey", func(b *testing.B) {
		c := &counter{}
		h := newChain(k, c)
		r, w := newRequest(token), newDiscard()
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
		mustReach(b, c, w)
	})
	b.Run("chain_jwt", func(b *testing.B) {
		c := &counter{}
		h := newChain(newVerifier(b, 0), c)
		r, w := newRequest(theToken()), newDiscard()
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
		mustReach(b, c, w)
	})
}

// postgresPool is a pool on the server scripts/with-postgres.sh started, in
// a schema of its own with the tables migrated; benchmarks skip without
// one (make bench starts it).
func postgresPool(b *testing.B) *pgxpool.Pool {
	b.Helper()
	u := os.Getenv("TOLLGATE_POSTGRES_URL")
	if u == "" {
		b.Skip("postgres: TOLLGATE_POSTGRES_URL not set; run `make bench` to start a real PostgreSQL server")
	}
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, u)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(admin.Close)
	schema := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _, _ = admin.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE") })
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		b.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if err := pgstore.Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	return pool
}

// BenchmarkAPIKeyMissPostgres: what a cache miss costs on PostgreSQL.
//
//   - select_1: a bare SELECT 1 on the pool, the round-trip floor.
//   - lookup: pgstore.Store.Lookup of a token's digest, the one indexed
//     query of a miss (10,000 keys in the table, cycled).
//   - verify_miss: apikey.Keys.Verify with the cache too small to hold the
//     1,024 tokens cycled, so every call misses: checksum, the HMAC,
//     the lookup, building the principal.
func BenchmarkAPIKeyMissPostgres(b *testing.B) {
	pool := postgresPool(b)
	ctx := context.Background()
	store := pgstore.New(pool)
	k := newKeys(b, store, func(c *apikey.Config) { c.CacheSize = 1; c.LastUsedInterval = -1 })
	tokens := make([]string, 1024)
	for i := range tokens {
		_, tokens[i] = newAPIKey(b, k)
	}
	for range 10_000 - len(tokens) {
		newAPIKey(b, k)
	}
	if _, err := pool.Exec(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	digests := make([][]apikey.Digest, len(tokens))
	for i, tok := range tokens {
		m := hmac.New(sha256.New, []byte(strings.Repeat("bench-pepper-", 4)))
		m.Write([]byte(tok))
		var d apikey.Digest
		copy(d[:], m.Sum(nil))
		digests[i] = []apikey.Digest{d}
	}
	b.Run("select_1", func(b *testing.B) {
		var one int
		b.ReportAllocs()
		for b.Loop() {
			if err := pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lookup", func(b *testing.B) {
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := store.Lookup(ctx, digests[i%len(digests)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("verify_miss", func(b *testing.B) {
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			if _, err := k.Verify(ctx, tokens[i%len(tokens)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	var plan string
	if err := pool.QueryRow(ctx, "EXPLAIN SELECT key_id FROM tollgate_apikey_hashes WHERE digest = ANY($1)", [][]byte{digests[0][0][:]}).Scan(&plan); err != nil {
		b.Fatal(err)
	}
	if !strings.Contains(plan, "Index") {
		b.Fatalf("the lookup does not use the digest's index: %s", plan)
	}
}

// BenchmarkInvalidationAcrossReplicas: two replicas, each with its own
// pool on one database and an hour-long cache TTL. Each iteration
// deactivates (or reactivates) a key through one and polls the other's
// cached verification until it sees the change; reported as the median
// and the maximum time from the change's commit to the other replica
// seeing it.
func BenchmarkInvalidationAcrossReplicas(b *testing.B) {
	pool := postgresPool(b)
	ctx := context.Background()
	other, err := pgxpool.NewWithConfig(ctx, pool.Config())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(other.Close)
	hour := func(c *apikey.Config) { c.CacheTTL = time.Hour }
	a := newKeys(b, pgstore.New(pool), hour)
	r := newKeys(b, pgstore.New(other), hour)
	key, token := newAPIKey(b, a)
	if _, err := r.Verify(ctx, token); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	var polls atomic.Int64
	active := true
	for b.Loop() {
		var op func(context.Context, string) (*apikey.Key, error) = a.Deactivate
		if !active {
			op = a.Reactivate
		}
		if _, err := op(ctx, key.ID); err != nil {
			b.Fatal(err)
		}
		committed := time.Now()
		active = !active
		for {
			polls.Add(1)
			_, err := r.Verify(ctx, token)
			if (err == nil) == active {
				break
			}
			if time.Since(committed) > 5*time.Second {
				b.Fatal("the other replica did not see the change within 5s")
			}
		}
		lat = append(lat, time.Since(committed))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "ms-max")
}
