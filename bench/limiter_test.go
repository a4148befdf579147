package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/httprate"
	"github.com/sethvargo/go-limiter/httplimit"
	"github.com/sethvargo/go-limiter/memorystore"
	ulule "github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/middleware/stdlib"
	ululememory "github.com/ulule/limiter/v3/drivers/store/memory"

	"github.com/tollgate/tollgate/ratelimit"
)

// limiterEvents is every limiter's allowance per second: more than any
// benchmark spends, so every decision is an admission.
const limiterEvents = 1 << 30

// manyKeyCount is how many distinct keys the many-keys benchmarks spread
// their decisions over.
const manyKeyCount = 10_000

// decider is one rate limiter's decision on one key, without HTTP.
type decider struct {
	name string
	// newLimiter builds the limiter and returns a maker of decide
	// functions, one per goroutine: decide takes one request's worth from
	// key's allowance and reports whether it was admitted.
	newLimiter func(tb testing.TB) func() decideFunc
}

type decideFunc func(ctx context.Context, key string) bool

// deciders are the in-memory stores compared, each with an allowance no
// benchmark exhausts: limiterEvents a second, except sethvargo (see there).
var deciders = []decider{
	{"tollgate_memorystore", func(testing.TB) func() decideFunc {
		s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
		limits := []ratelimit.Limit{{Events: limiterEvents, Per: time.Second}}
		return func() decideFunc {
			return func(ctx context.Context, key string) bool {
				d, err := s.Allow(ctx, key, limits)
				return err == nil && d.Allowed
			}
		}
	}},
	{"ulule_memory", func(testing.TB) func() decideFunc {
		l := ulule.New(ululememory.NewStore(), ulule.Rate{Period: time.Second, Limit: limiterEvents})
		return func() decideFunc {
			return func(ctx context.Context, key string) bool {
				c, err := l.Get(ctx, key)
				return err == nil && !c.Reached
			}
		}
	}},
	{"httprate_onlimit", func(testing.TB) func() decideFunc {
		// httprate decides only through OnLimit, which also sets its
		// X-RateLimit-* headers; each goroutine has its own writer and
		// request, reused, so the figure includes setting the headers but
		// not making a header map.
		rl := httprate.NewRateLimiter(limiterEvents, time.Second)
		return func() decideFunc {
			w, r := newDiscard(), httptest.NewRequest(http.MethodGet, "/", nil)
			return func(_ context.Context, key string) bool {
				return !rl.OnLimit(w, r, key)
			}
		}
	}},
	{"sethvargo_memorystore", func(tb testing.TB) func() decideFunc {
		// go-limiter refills a bucket by (elapsed intervals) × interval /
		// tokens, so a bucket of more tokens than the interval has
		// nanoseconds never refills to a usable level (1<<30 a second
		// refused within the first second). A day's interval with 1<<40
		// tokens neither refills nor empties during a run.
		s, err := memorystore.New(&memorystore.Config{Tokens: 1 << 40, Interval: 24 * time.Hour})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = s.Close(context.Background()) })
		return func() decideFunc {
			return func(ctx context.Context, key string) bool {
				_, _, _, ok, err := s.Take(ctx, key)
				return err == nil && ok
			}
		}
	}},
}

func manyKeys() []string {
	keys := make([]string, manyKeyCount)
	for i := range keys {
		keys[i] = "client:app-" + strconv.Itoa(i)
	}
	return keys
}

// BenchmarkLimiterOneKey is one decision on one hot key, one goroutine.
// The target: tollgate decides in under 150 ns.
func BenchmarkLimiterOneKey(b *testing.B) {
	for _, d := range deciders {
		b.Run(d.name, func(b *testing.B) {
			decide := d.newLimiter(b)()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if !decide(ctx, "client:app-7") {
					b.Fatal("refused")
				}
			}
		})
	}
}

// BenchmarkLimiterManyKeys spreads decisions over 10,000 keys, one
// goroutine: the serial baseline for BenchmarkLimiterManyKeysParallel.
func BenchmarkLimiterManyKeys(b *testing.B) {
	keys := manyKeys()
	for _, d := range deciders {
		b.Run(d.name, func(b *testing.B) {
			decide := d.newLimiter(b)()
			ctx := context.Background()
			for _, k := range keys { // every key known before timing
				decide(ctx, k)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if !decide(ctx, keys[i%len(keys)]) {
					b.Fatal("refused")
				}
				i++
			}
		})
	}
}

// BenchmarkLimiterManyKeysParallel is BenchmarkLimiterManyKeys from
// GOMAXPROCS goroutines. ns/op is wall time per decision: a limiter that
// scales across cores reports about half its -cpu=1 figure at -cpu=2; one
// behind a global lock does not.
func BenchmarkLimiterManyKeysParallel(b *testing.B) {
	keys := manyKeys()
	for _, d := range deciders {
		b.Run(d.name, func(b *testing.B) {
			newDecide := d.newLimiter(b)
			ctx := context.Background()
			warm := newDecide()
			for _, k := range keys {
				warm(ctx, k)
			}
			var start atomic.Uint64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				decide := newDecide()
				i := start.Add(7919) // each goroutine starts elsewhere in the keys
				for pb.Next() {
					if !decide(ctx, keys[i%uint64(len(keys))]) {
						b.Error("refused")
						return
					}
					i++
				}
			})
		})
	}
}

// BenchmarkLimiterOneKeyParallel is every goroutine on one key: the worst
// case, where any limiter serializes on that key's lock.
func BenchmarkLimiterOneKeyParallel(b *testing.B) {
	for _, d := range deciders {
		b.Run(d.name, func(b *testing.B) {
			newDecide := d.newLimiter(b)
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				decide := newDecide()
				for pb.Next() {
					if !decide(ctx, "client:app-7") {
						b.Error("refused")
						return
					}
				}
			})
		})
	}
}

// BenchmarkLimiterMiddleware is each library's net/http middleware on one
// key read from a header, headers written, handler a no-op: what a request
// pays, as opposed to the store's decision alone.
func BenchmarkLimiterMiddleware(b *testing.B) {
	const header = "X-Client-Id"
	keyOf := func(r *http.Request) string { return r.Header.Get(header) }
	middlewares := []struct {
		name string
		mw   func(tb testing.TB) func(http.Handler) http.Handler
	}{
		{"tollgate", func(testing.TB) func(http.Handler) http.Handler {
			return ratelimit.New(ratelimit.Config{
				Limits: []ratelimit.Limit{{Events: limiterEvents, Per: time.Second}},
				Key:    ratelimit.KeyByHeader(header),
			})
		}},
		{"ulule_stdlib", func(testing.TB) func(http.Handler) http.Handler {
			l := ulule.New(ululememory.NewStore(), ulule.Rate{Period: time.Second, Limit: limiterEvents})
			return stdlib.NewMiddleware(l, stdlib.WithKeyGetter(keyOf)).Handler
		}},
		{"httprate", func(testing.TB) func(http.Handler) http.Handler {
			return httprate.LimitBy(limiterEvents, time.Second, func(r *http.Request) (string, error) { return keyOf(r), nil })
		}},
		{"sethvargo_httplimit", func(tb testing.TB) func(http.Handler) http.Handler {
			s, err := memorystore.New(&memorystore.Config{Tokens: 1 << 40, Interval: 24 * time.Hour})
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { _ = s.Close(context.Background()) })
			m, err := httplimit.NewMiddleware(s, func(r *http.Request) (string, error) { return keyOf(r), nil })
			if err != nil {
				tb.Fatal(err)
			}
			return m.Handle
		}},
	}
	for _, m := range middlewares {
		b.Run(m.name, func(b *testing.B) {
			c := &counter{}
			h := m.mw(b)(c)
			r := httptest.NewRequest(http.MethodGet, "/orders", nil)
			r.Header.Set(header, "app-7")
			w := newDiscard()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
			mustReach(b, c, w)
		})
	}
}
