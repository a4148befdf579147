package redisstore_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
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

// Each fault a Redis has, under each policy, with the defaults: every
// request answered by the policy (the fallback's 200, or 503, never a 500
// or a request reaching the handler on a refusal), within Timeout +
// ConnectTimeout, one outage line in the log however many requests fail,
// and the store back on Redis by itself once the fault ends. It prints the
// longest request during the fault and the time from the end of the fault
// to the first decision on Redis again:
//
//	./scripts/with-redis.sh go test -race -count=1 -run FaultsAre -v ./ratelimit/redisstore/
func TestFaultsAreAnsweredByThePolicyAndRecover(t *testing.T) {
	type fault struct {
		name       string
		start, end func(*redistest.Server, *redistest.Proxy)
	}
	faults := []fault{
		{"pause (SIGSTOP, then SIGCONT)",
			func(s *redistest.Server, _ *redistest.Proxy) { s.Pause() },
			func(s *redistest.Server, _ *redistest.Proxy) { s.Resume() }},
		{"kill (then a restart, empty)",
			func(s *redistest.Server, _ *redistest.Proxy) { s.Kill() },
			func(s *redistest.Server, _ *redistest.Proxy) { s.StartAgain() }},
		// Past Timeout + ConnectTimeout: under 8 concurrent requests a
		// decision may wait for a connection, and has both.
		{"latency (400 ms each way)",
			func(_ *redistest.Server, p *redistest.Proxy) { p.SetLatency(400 * time.Millisecond) },
			func(_ *redistest.Server, p *redistest.Proxy) { p.SetLatency(0) }},
		{"black hole",
			func(_ *redistest.Server, p *redistest.Proxy) { p.BlackHole(true) },
			func(_ *redistest.Server, p *redistest.Proxy) { p.BlackHole(false) }},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			for _, failClosed := range []bool{false, true} {
				policy := map[bool]string{false: "fail open", true: "fail closed"}[failClosed]
				t.Run(policy, func(t *testing.T) {
					t.Parallel() // the two policies, each on a server of its own
					testFault(t, f.start, f.end, failClosed, f.name+", "+policy)
				})
			}
		})
	}
}

func testFault(t *testing.T, start, stop func(*redistest.Server, *redistest.Proxy), failClosed bool, name string) {
	limits := []ratelimit.Limit{{Events: 1 << 20, Per: time.Second}}
	bound := redisstore.DefaultTimeout + redisstore.DefaultConnectTimeout
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	client := redis.NewClient(&redis.Options{Addr: proxy.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	var logs syncBuffer
	store := redisstore.New(redisstore.Config{Client: client, FailClosed: failClosed, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	redisstore.WaitWarm(store)
	var mu sync.Mutex
	reached := 0
	h := errors.Use(errors.Problem)(ratelimit.New(ratelimit.Config{Limits: limits, Store: store})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { mu.Lock(); reached++; mu.Unlock() })))
	send := func() (int, time.Duration) {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "192.0.2.9:1"
		start := time.Now()
		h.ServeHTTP(rec, r)
		return rec.Code, time.Since(start)
	}
	for range 3 {
		if code, _ := send(); code != http.StatusOK {
			t.Fatalf("before the fault: status %d", code)
		}
	}

	start(srv, proxy)
	want := map[bool]int{false: http.StatusOK, true: http.StatusServiceUnavailable}[failClosed]
	var longest time.Duration
	statuses := map[int]int{}
	var wg sync.WaitGroup
	end := time.Now().Add(400 * time.Millisecond)
	for range 8 {
		wg.Go(func() {
			for i := 0; i < 200 && time.Now().Before(end); i++ {
				code, took := send()
				mu.Lock()
				statuses[code]++
				longest = max(longest, took)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	during := store.Stats()
	mu.Lock()
	reachedDuring := reached
	mu.Unlock()
	stop(srv, proxy)
	ended := time.Now()
	var recovered time.Duration
	for i := 0; i < 2000 && time.Since(ended) < 10*time.Second; i++ {
		before := store.Stats().Redis
		send()
		if store.Stats().Redis > before {
			recovered = time.Since(ended)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("%s: longest request %v (bound %v); statuses %v; %+v; on Redis again %v after the fault ended",
		name, longest.Round(time.Millisecond), bound, statuses, during, recovered.Round(time.Millisecond))

	if len(statuses) != 1 || statuses[want] == 0 {
		t.Errorf("statuses during the fault %v, want every one %d", statuses, want)
	}
	if failClosed && reachedDuring != 3 {
		t.Errorf("fail closed: the handler was reached %d times, want only the 3 before the fault", reachedDuring)
	}
	// A hang detector, not a measurement: a bound well above
	// Timeout + ConnectTimeout, far below go-redis's own
	// timeouts, holds on the most loaded machine.
	if longest > 4*bound {
		t.Errorf("longest request %v during the fault, want about %v at most", longest, bound)
	}
	if during.Trips != 1 {
		t.Errorf("during the fault: %+v, want the switch tripped once", during)
	}
	if n := strings.Count(logs.String(), "redis unavailable"); n != 1 {
		t.Errorf("%d outage lines for %d failed decisions, want 1:\n%s", n, during.Failed, logs.String())
	}
	if recovered == 0 {
		t.Fatalf("10 s after the fault ended, nothing decided on Redis: %+v", store.Stats())
	}
	if !strings.Contains(logs.String(), "redis is back") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
}
