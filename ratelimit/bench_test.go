package ratelimit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/ratelimit"
)

// A limit no benchmark exhausts, so every decision takes the same path.
var benchLimits = []ratelimit.Limit{{Events: 1 << 30, Per: time.Second}}

func BenchmarkMemoryStoreOneKey(b *testing.B) {
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s.Allow(ctx, "client:app-1", benchLimits)
	}
}

func BenchmarkMemoryStoreOneKeyTwoLimits(b *testing.B) {
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	limits := []ratelimit.Limit{
		{Name: "burst", Events: 1 << 30, Per: time.Second},
		{Name: "quota", Events: 1 << 30, Per: time.Hour},
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s.Allow(ctx, "client:app-1", limits)
	}
}

func manyKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "client:app-" + strconv.Itoa(i)
	}
	return keys
}

// BenchmarkMemoryStoreManyKeys is the serial baseline for
// BenchmarkMemoryStoreParallelManyKeys: 10,000 keys, one goroutine.
func BenchmarkMemoryStoreManyKeys(b *testing.B) {
	const n = 10_000
	keys := manyKeys(n)
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		s.Allow(ctx, keys[i%n], benchLimits)
	}
}

// BenchmarkMemoryStoreParallelManyKeys spreads decisions on 10,000 keys
// over GOMAXPROCS goroutines; ns/op is wall time per decision, so on 2
// cores it should approach half the serial figure.
func BenchmarkMemoryStoreParallelManyKeys(b *testing.B) {
	const n = 10_000
	keys := manyKeys(n)
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	ctx := context.Background()
	var next atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(7919)
		for pb.Next() {
			i++
			s.Allow(ctx, keys[i%n], benchLimits)
		}
	})
}

// BenchmarkMemoryStoreMillionKeys fills a store with 1,000,000 keys and
// reports the heap it holds per key, then times decisions among them.
func BenchmarkMemoryStoreMillionKeys(b *testing.B) {
	const n = 1_000_000
	keys := manyKeys(n)
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{MaxKeys: n})
	for _, k := range keys {
		s.Allow(ctx, k, benchLimits)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if s.Len() != n || s.Evictions() != 0 {
		b.Fatalf("Len = %d, Evictions = %d; want %d and 0", s.Len(), s.Evictions(), n)
	}
	// The store keeps a hash of each key, not the key, so the caller's key
	// strings are not part of its size.
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i = (i + 7919) % n
		s.Allow(ctx, keys[i], benchLimits)
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/key")
	runtime.KeepAlive(s)
}

// discard is a ResponseWriter whose header map is reused, so the benchmark
// measures the middleware rather than the recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func benchMiddleware(b *testing.B, cfg ratelimit.Config) {
	cfg.Limits = benchLimits
	h := ratelimit.New(cfg)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r = r.WithContext(principal.NewContext(r.Context(), principal.New(principal.Fields{Subject: "u1", ClientID: "app-1"})))
	w := &discard{h: make(http.Header, 8)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

// BenchmarkMiddleware is a whole allowed request: key from the principal,
// the decision, and the three X-RateLimit-* headers.
func BenchmarkMiddleware(b *testing.B) { benchMiddleware(b, ratelimit.Config{}) }

// BenchmarkMiddlewareIETFHeaders adds RateLimit-Policy and RateLimit.
func BenchmarkMiddlewareIETFHeaders(b *testing.B) {
	benchMiddleware(b, ratelimit.Config{IETFHeaders: true})
}

// BenchmarkMemoryStoreKeyFlood is every decision on a key never seen, on a
// store at its default bound: a bucket made and, past the first 100,000,
// one evicted, with what it spent kept.
func BenchmarkMemoryStoreKeyFlood(b *testing.B) {
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	limits := []ratelimit.Limit{{Events: 20, Per: time.Hour}}
	ctx := context.Background()
	keys := manyKeys(1 << 21)
	for _, k := range keys[:100_000] {
		s.Allow(ctx, k, limits)
	}
	b.ReportAllocs()
	i := 100_000
	for b.Loop() {
		s.Allow(ctx, keys[i%len(keys)], limits)
		i++
	}
}
