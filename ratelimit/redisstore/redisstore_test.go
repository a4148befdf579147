package redisstore_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/internal/redistest"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/ratelimit/redisstore"
)

func TestTwoStoresShareOneBudget(t *testing.T) {
	p := redistest.Prefix(t)
	a := redisstore.New(redisstore.Config{Client: redistest.Shared(t), Prefix: p, Timeout: liveTimeout})
	b := redisstore.New(redisstore.Config{Client: redistest.Shared(t), Prefix: p, Timeout: liveTimeout})
	ctx := context.Background()

	t.Run("requests alternating between replicas draw on one bucket", func(t *testing.T) {
		limits := []ratelimit.Limit{{Name: "hourly", Events: 5, Per: time.Hour}}
		var got []bool
		for i := range 8 {
			s := a
			if i%2 == 1 {
				s = b
			}
			d, err := s.Allow(ctx, "client:alternating", limits)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, d.Allowed)
		}
		want := []bool{true, true, true, true, true, false, false, false}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("allowed = %v, want %v", got, want)
			}
		}
	})

	t.Run("400 concurrent requests over two replicas on a bucket of 50 let exactly 50 through", func(t *testing.T) {
		limits := []ratelimit.Limit{{Events: 50, Per: time.Hour}}
		allowed := concurrently(400, func(i int) bool {
			s := a
			if i%2 == 1 {
				s = b
			}
			d, err := s.Allow(ctx, "client:concurrent", limits)
			if err != nil {
				t.Error(err)
			}
			return d.Allowed
		})
		if allowed != 50 {
			t.Fatalf("%d allowed, want exactly 50", allowed)
		}
	})
}

// The Redis store must report what the in-memory store reports, step by
// step, including when a key's plan changes. Redis runs on its own clock,
// so durations may differ by the time the test takes, never by a second
// (and by less than a microsecond a token where Per is not a whole number
// of microseconds per event, which Redis rounds up to the microsecond and
// memory to the nanosecond).
func TestDecisionsMatchTheMemoryStore(t *testing.T) {
	client := redistest.Shared(t)
	repeat := func(n int, limits ...ratelimit.Limit) [][]ratelimit.Limit {
		steps := make([][]ratelimit.Limit, n)
		for i := range steps {
			steps[i] = limits
		}
		return steps
	}
	small := ratelimit.Limit{Name: "plan", Events: 5, Per: time.Hour}
	large := ratelimit.Limit{Name: "plan", Events: 100, Per: time.Hour}
	tests := []struct {
		name  string
		steps [][]ratelimit.Limit // one request each
		costs []int               // each request's cost; nil: Allow
	}{
		{"costs of 3 on a bucket of 10", repeat(5, ratelimit.Limit{Name: "w", Events: 10, Per: time.Minute}), []int{3, 3, 3, 3, 1}},
		{"a cost above the capacity never fits", repeat(3, ratelimit.Limit{Name: "w", Events: 4, Per: time.Minute}), []int{5, 1, 5}},
		{"costs on a burst and a quota", repeat(4,
			ratelimit.Limit{Name: "burst", Events: 5, Per: time.Second},
			ratelimit.Limit{Name: "daily", Events: 8, Per: 24 * time.Hour},
		), []int{4, 4, 2, 1}},
		{"one limit, past its burst", repeat(5, ratelimit.Limit{Name: "m", Events: 3, Per: time.Minute}), nil},
		{"burst smaller than the quota", repeat(4, ratelimit.Limit{Name: "q", Events: 1000, Per: time.Hour, Burst: 2}), nil},
		{"a burst and a quota: the quota runs out first", repeat(5,
			ratelimit.Limit{Name: "burst", Events: 10, Per: time.Second},
			ratelimit.Limit{Name: "daily", Events: 3, Per: 24 * time.Hour},
		), nil},
		{"a burst and a quota: the burst runs out first", repeat(4,
			ratelimit.Limit{Name: "burst", Events: 2, Per: time.Hour},
			ratelimit.Limit{Name: "daily", Events: 1000, Per: 24 * time.Hour},
		), nil},
		{"a rate of no whole microseconds per event", repeat(5, ratelimit.Limit{Name: "odd", Events: 7, Per: time.Second, Burst: 3}), nil},
		{"an upgrade carries what was used over, and a downgrade refills nothing", append(append(repeat(5, small), repeat(2, large)...), repeat(2, small)...), nil},
		{"a raised burst and a lowered one", [][]ratelimit.Limit{
			{{Name: "b", Events: 10, Per: time.Hour}}, {{Name: "b", Events: 10, Per: time.Hour}},
			{{Name: "b", Events: 10, Per: time.Hour, Burst: 15}},
			{{Name: "b", Events: 10, Per: time.Hour, Burst: 2}},
		}, nil},
		{"a limit named only by some requests keeps counting", [][]ratelimit.Limit{
			{small}, {small, {Name: "other", Events: 1, Per: time.Hour}}, {small}, {small, {Name: "other", Events: 1, Per: time.Hour}},
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frozen := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			mem := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: func() time.Time { return frozen }})
			rs := redisstore.New(redisstore.Config{Client: client, Prefix: redistest.Prefix(t), Timeout: liveTimeout})
			for i, limits := range tt.steps {
				var want, got ratelimit.Decision
				var err error
				if tt.costs == nil {
					want, _ = mem.Allow(context.Background(), "k", limits)
					got, err = rs.Allow(context.Background(), "k", limits)
				} else {
					want, _ = mem.AllowN(context.Background(), "k", limits, tt.costs[i])
					got, err = rs.AllowN(context.Background(), "k", limits, tt.costs[i])
				}
				if err != nil {
					t.Fatal(err)
				}
				if got.Allowed != want.Allowed || got.Index != want.Index || got.Limit != want.Limit || got.Remaining != want.Remaining {
					t.Fatalf("request %d: redis %+v, memory %+v", i+1, got, want)
				}
				if d := want.Reset - got.Reset; d < -time.Millisecond || d >= time.Second {
					t.Errorf("request %d: Reset redis %v, memory %v", i+1, got.Reset, want.Reset)
				}
				if d := want.RetryAfter - got.RetryAfter; d < -time.Millisecond || d >= time.Second {
					t.Errorf("request %d: RetryAfter redis %v, memory %v", i+1, got.RetryAfter, want.RetryAfter)
				}
				if got.At.IsZero() {
					t.Errorf("request %d: no server time in the decision", i+1)
				}
			}
		})
	}
}

// A bucket left in Redis by an earlier version (a hash of tokens t
// counted at ts against capacity c) is carried over, not reset to full;
// a value that is no bucket at all is refused as that key's error.
func TestABucketInTheEarlierLayoutIsCarriedOver(t *testing.T) {
	client := redistest.Shared(t)
	p := redistest.Prefix(t)
	ctx := context.Background()
	tm, err := client.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	key := p + hashTag("client:old") + ":hourly"
	if err := client.HSet(ctx, key, "t", "2.000000000", "ts", strconv.FormatInt(tm.UnixMicro(), 10), "c", 5).Err(); err != nil {
		t.Fatal(err)
	}
	s := redisstore.New(redisstore.Config{Client: client, Prefix: p, Timeout: liveTimeout, FailClosed: true})
	limits := []ratelimit.Limit{{Name: "hourly", Events: 5, Per: time.Hour}}
	var got []bool
	for range 3 {
		d, err := s.Allow(ctx, "client:old", limits)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d.Allowed)
	}
	if want := []bool{true, true, false}; !slices.Equal(got, want) {
		t.Errorf("2 of 5 left in the earlier layout: allowed %v, want %v", got, want)
	}
	if typ, _ := client.Type(ctx, key).Result(); typ != "string" {
		t.Errorf("the bucket is a %s after a decision, want the string of the new layout", typ)
	}
}

// The store runs on any redis.Scripter: an AutoPipeliner, which batches
// concurrent decisions, and a Scripter that is no go-redis client at all.
// Each is exact under concurrency.
func TestStoreOnAnyScripterIsExact(t *testing.T) {
	client := redistest.Shared(t)
	ap, err := client.AutoPipeline()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ap.Close() })
	for name, c := range map[string]redis.Scripter{
		"AutoPipeliner":   ap,
		"bare Scripter":   scripterOnly{client},
		"UniversalClient": redis.UniversalClient(client),
	} {
		t.Run(name, func(t *testing.T) {
			s := redisstore.New(redisstore.Config{Client: c, Prefix: redistest.Prefix(t), Timeout: liveTimeout, FailClosed: true})
			limits := []ratelimit.Limit{{Events: 50, Per: time.Hour}}
			allowed := concurrently(200, func(int) bool {
				d, err := s.Allow(context.Background(), "client:scripter", limits)
				if err != nil {
					t.Error(err)
				}
				return d.Allowed
			})
			if allowed != 50 {
				t.Fatalf("200 concurrent requests on a bucket of 50: %d allowed, want exactly 50", allowed)
			}
			if st := s.Stats(); st.Redis != 200 || st.Fallback != 0 {
				t.Errorf("%+v: want every decision made on Redis", st)
			}
		})
	}
}

// scripterOnly hides every method of its client but redis.Scripter's.
type scripterOnly struct{ redis.Scripter }

func TestAKeysLimitsLandInOneSlotAndExpire(t *testing.T) {
	client := redistest.Shared(t)
	p := redistest.Prefix(t)
	s := redisstore.New(redisstore.Config{Client: client, Prefix: p, Timeout: liveTimeout})
	limits := []ratelimit.Limit{
		{Name: "burst", Events: 10, Per: time.Second},
		{Name: "hourly", Events: 1000, Per: time.Hour},
	}
	if _, err := s.Allow(context.Background(), "client:app-1", limits); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"burst", "hourly"} {
		key := p + hashTag("client:app-1") + ":" + name
		ttl, err := client.PTTL(context.Background(), key).Result()
		if err != nil || ttl <= 0 {
			t.Errorf("%s: PTTL = %v, %v; want a key that expires", key, ttl, err)
		}
	}
}

func TestRedisCarriesUsageOverWhenAKeysLimitsChange(t *testing.T) {
	s := redisstore.New(redisstore.Config{Client: redistest.Shared(t), Prefix: redistest.Prefix(t), Timeout: liveTimeout})
	small := []ratelimit.Limit{{Name: "plan", Events: 5, Per: time.Hour}}
	large := []ratelimit.Limit{{Name: "plan", Events: 100, Per: time.Hour}}
	for range 5 {
		s.Allow(context.Background(), "acct", small)
	}
	d, err := s.Allow(context.Background(), "acct", large)
	if err != nil || !d.Allowed || d.Remaining != 94 {
		t.Fatalf("after an upgrade from 5 to 100 with 5 used: %+v, %v; want allowed with 94 left", d, err)
	}
}

func TestMiddlewareOverRedisSendsTheSameHeaders(t *testing.T) {
	limit := ratelimit.New(ratelimit.Config{
		Limits:      []ratelimit.Limit{{Name: "minute", Events: 2, Per: time.Minute}},
		Store:       redisstore.New(redisstore.Config{Client: redistest.Shared(t), Prefix: redistest.Prefix(t), Timeout: liveTimeout}),
		IETFHeaders: true,
	})
	reached := 0
	h := errors.Use(errors.Problem)(limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ })))
	type want struct {
		status               int
		remaining, rl, retry string
	}
	for i, w := range []want{
		{200, "1", `"minute";r=1;t=30`, ""},
		{200, "0", `"minute";r=0;t=60`, ""},
		{429, "0", `"minute";r=0;t=30`, "30"}, // t is when a token is back, as Retry-After
	} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "192.0.2.9:1"
		h.ServeHTTP(rec, r)
		got := want{rec.Code, rec.Header().Get("X-RateLimit-Remaining"), rec.Header().Get("RateLimit"), rec.Header().Get("Retry-After")}
		if got != w {
			t.Errorf("request %d: %+v, want %+v", i+1, got, w)
		}
		if rec.Header().Get("X-RateLimit-Limit") != "2" || rec.Header().Get("RateLimit-Policy") != `"minute";q=2;w=60` {
			t.Errorf("request %d: Limit %q, Policy %q", i+1, rec.Header().Get("X-RateLimit-Limit"), rec.Header().Get("RateLimit-Policy"))
		}
	}
	if reached != 2 {
		t.Errorf("handler reached %d times, want 2", reached)
	}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRedisOutageFollowsThePolicyAndRecovers(t *testing.T) {
	limits := []ratelimit.Limit{{Events: 100, Per: time.Hour}}
	tests := []struct {
		name       string
		failClosed bool
		// while Redis is down
		wantStatus int
		wantLog    string
	}{
		{"fail open: a local limiter decides", false, http.StatusOK, "failing open onto a local limiter"},
		{"fail closed: 503 unavailable", true, http.StatusServiceUnavailable, "failing closed with 503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := redistest.Start(t)
			// One dial per attempt: a dead server is found at once.
			client := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true, DialerRetries: 1})
			t.Cleanup(func() { client.Close() })
			var logs syncBuffer
			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			var clockMu sync.Mutex
			store := redisstore.New(redisstore.Config{
				Client:        client,
				Timeout:       liveTimeout,
				FailClosed:    tt.failClosed,
				RetryInterval: 5 * time.Second,
				Logger:        slog.New(slog.NewTextHandler(&logs, nil)),
				Now: func() time.Time {
					clockMu.Lock()
					defer clockMu.Unlock()
					return now
				},
			})
			advance := func(d time.Duration) { clockMu.Lock(); now = now.Add(d); clockMu.Unlock() }
			reached := 0
			h := errors.Use(errors.Envelope)(ratelimit.New(ratelimit.Config{Limits: limits, Store: store})(
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ })))
			send := func() *httptest.ResponseRecorder {
				rec := httptest.NewRecorder()
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.RemoteAddr = "192.0.2.9:1"
				h.ServeHTTP(rec, r)
				return rec
			}

			if rec := send(); rec.Code != http.StatusOK || store.Stats().Redis != 1 {
				t.Fatalf("with Redis up: status %d, %+v; want 200 from Redis", rec.Code, store.Stats())
			}

			srv.Kill()
			// Each failure follows the policy for its request; the
			// DefaultTripAfter-th in a row trips the switch, and then no
			// request waits on Redis until RetryInterval has passed.
			for i := range redisstore.DefaultTripAfter + 3 {
				reachedBefore := reached
				rec := send()
				if rec.Code != tt.wantStatus {
					t.Fatalf("Redis down, request %d: status %d, want %d; body %s", i+1, rec.Code, tt.wantStatus, rec.Body)
				}
				if rec.Code != http.StatusOK && reached != reachedBefore {
					t.Errorf("Redis down, request %d: refused but the handler was reached", i+1)
				}
				if tt.failClosed && rec.Header().Get("Retry-After") != "5" {
					t.Errorf("Redis down, fail closed: Retry-After %q, want the retry interval, 5", rec.Header().Get("Retry-After"))
				}
				// The local limiter starts from what Redis said (99 left),
				// not from a full bucket.
				if want := strconv.Itoa(98 - i); !tt.failClosed && rec.Header().Get("X-RateLimit-Remaining") != want {
					t.Errorf("Redis down, fail open, request %d: X-RateLimit-Remaining %q, want %s", i+1, rec.Header().Get("X-RateLimit-Remaining"), want)
				}
				st := store.Stats()
				if wantTrips := uint64(min(1, (i+1)/redisstore.DefaultTripAfter)); st.Trips != wantTrips {
					t.Fatalf("Redis down, request %d: %d trips, want %d", i+1, st.Trips, wantTrips)
				}
				if want := uint64(min(i+1, redisstore.DefaultTripAfter)); st.Failed != want {
					t.Errorf("Redis down, request %d: %d decisions asked Redis and failed, want %d", i+1, st.Failed, want)
				}
				advance(time.Second / 2)
			}
			if n := strings.Count(logs.String(), tt.wantLog); n != 1 {
				t.Errorf("log has %q %d times, want once:\n%s", tt.wantLog, n, logs.String())
			}

			srv.StartAgain()
			advance(5 * time.Second) // past RetryInterval
			before := store.Stats()
			if rec := send(); rec.Code != http.StatusOK {
				t.Fatalf("Redis back: status %d, want 200", rec.Code)
			}
			if after := store.Stats(); after.Redis != before.Redis+1 || after.Recoveries != 1 {
				t.Errorf("Redis back and RetryInterval passed: %+v, want the request decided on Redis and one recovery", after)
			}
			if !strings.Contains(logs.String(), "redis is back") {
				t.Errorf("recovery not logged:\n%s", logs.String())
			}
		})
	}
}

// A server that accepts connections and never answers: one decision on it
// fails, alone. It follows the outage policy for its own request and does
// not switch the store off Redis.
func TestOneSlowDecisionFallsBackAloneAndSwitchesNothing(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	client := redis.NewClient(&redis.Options{Addr: l.Addr().String(), ContextTimeoutEnabled: true, MaxRetries: -1, Protocol: 2})
	defer client.Close()
	var logs syncBuffer
	s := redisstore.New(redisstore.Config{
		Client:         client,
		Timeout:        50 * time.Millisecond,
		ConnectTimeout: 50 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
	})
	d, err := s.Allow(context.Background(), "k", []ratelimit.Limit{{Events: 1, Per: time.Minute}})
	if err != nil || !d.Allowed {
		t.Fatalf("Allow = %+v, %v; want allowed by the fallback", d, err)
	}
	if st := s.Stats(); st.Fallback != 1 || st.Failed != 1 || st.Trips != 0 {
		t.Errorf("after one slow decision: %+v; want it alone decided by the fallback, nothing tripped", st)
	}
	if strings.Contains(logs.String(), "redis unavailable") {
		t.Errorf("one slow decision logged as an outage:\n%s", logs.String())
	}
}

// commandCounter is a go-redis hook that records every command sent.
type commandCounter struct {
	mu   sync.Mutex
	cmds []string
}

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		c.cmds = append(c.cmds, cmd.Name())
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.mu.Lock()
		c.cmds = append(c.cmds, "pipeline")
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

func TestEachDecisionIsOneRoundTrip(t *testing.T) {
	client := redistest.Shared(t)
	counter := &commandCounter{}
	client.AddHook(counter)
	s := redisstore.New(redisstore.Config{Client: client, Prefix: redistest.Prefix(t), Timeout: liveTimeout})
	redisstore.WaitWarm(s) // New's own connections and SCRIPT LOAD
	limits := []ratelimit.Limit{
		{Name: "burst", Events: 10, Per: time.Second},
		{Name: "hourly", Events: 1000, Per: time.Hour},
	}
	counter.mu.Lock()
	counter.cmds = nil
	counter.mu.Unlock()
	// New loaded the script: even the first decision is one EVALSHA.
	if _, err := s.Allow(context.Background(), "k", limits); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := s.Allow(context.Background(), "k", limits); err != nil {
			t.Fatal(err)
		}
	}
	counter.mu.Lock()
	defer counter.mu.Unlock()
	if got := strings.Join(counter.cmds, " "); got != "evalsha evalsha evalsha evalsha evalsha" {
		t.Errorf("commands for 5 decisions: %q, want one EVALSHA each", got)
	}
}
