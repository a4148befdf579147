package redisstore_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/internal/redistest"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/ratelimit/redisstore"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// proxied is a Redis of the test's own behind a fault proxy, and a client
// built as the package doc shows.
func proxied(t *testing.T) (*redistest.Server, *redistest.Proxy, *redis.Client) {
	t.Helper()
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	client := redis.NewClient(&redis.Options{Addr: proxy.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	return srv, proxy, client
}

// A client that spent its quota on Redis must not get it again because one
// reply came too late: before, that one reply switched every key to a
// local limiter with full buckets for a second.
func TestASpentQuotaIsNotRefilledByOneSlowReply(t *testing.T) {
	for _, failClosed := range []bool{false, true} {
		name := map[bool]string{false: "fail open", true: "fail closed"}[failClosed]
		t.Run(name, func(t *testing.T) {
			_, proxy, client := proxied(t)
			s := redisstore.New(redisstore.Config{Client: client, FailClosed: failClosed, Logger: quiet})
			redisstore.WaitWarm(s) // idle connections: the slow reply has Timeout alone
			quota := []ratelimit.Limit{{Name: "hourly", Events: 20, Per: time.Hour}}
			ctx := context.Background()
			allowed := func(n int) (yes int, errs int) {
				for range n {
					d, err := s.Allow(ctx, "client:spent", quota)
					if err != nil {
						errs++
					} else if d.Allowed {
						yes++
					}
				}
				return yes, errs
			}
			if got, errs := allowed(20); got != 20 || errs != 0 {
				t.Fatalf("spending the quota on Redis: %d allowed, %d errors; want 20, 0", got, errs)
			}
			proxy.SetLatency(75 * time.Millisecond) // a 150 ms reply, past the 100 ms Timeout
			got, errs := allowed(1)
			proxy.SetLatency(0)
			if got != 0 {
				t.Errorf("the slow reply's request was allowed: the fallback refilled a spent quota")
			}
			if failClosed && errs != 1 {
				t.Errorf("fail closed: the slow reply's request got no error")
			}
			if got, errs := allowed(20); got != 0 || errs != 0 {
				t.Errorf("after one slow reply: %d of 20 allowed, %d errors; want none allowed, by Redis", got, errs)
			}
		})
	}
}

// Redis 25 ms away: setting up a connection takes round trips of its own
// (TCP, HELLO, CLIENT SETINFO, the script's first load), more than the
// 100 ms Timeout allows one decision. Before, that tripped the first
// decision of every new connection, and a fail-closed store answered 503
// while Redis was healthy. A soak of concurrent requests, more than the
// connections New opens, must get no 503.
func TestAFarRedisAnswersEveryRequestOfASoakOnNewConnections(t *testing.T) {
	_, proxy, client := proxied(t)
	proxy.SetLatency(25 * time.Millisecond)
	s := redisstore.New(redisstore.Config{Client: client, FailClosed: true, Logger: quiet})
	limits := []ratelimit.Limit{{Events: 1 << 20, Per: time.Second}}
	var refused, decided atomic.Int64
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Go(func() {
			for i := range 6 {
				_, err := s.Allow(context.Background(), "client:"+string(rune('a'+g))+string(rune('a'+i)), limits)
				if err != nil {
					refused.Add(1)
				} else {
					decided.Add(1)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("Redis 25 ms away, fail closed, 12 goroutines × 6 requests: %d decided, %d refused with 503; %+v", decided.Load(), refused.Load(), s.Stats())
	if refused.Load() != 0 {
		t.Errorf("%d of %d requests refused with 503 on a healthy Redis", refused.Load(), refused.Load()+decided.Load())
	}
}

// A reply about one key (here WRONGTYPE: something else wrote a string
// where its bucket lives) is that key's error. The request follows the
// outage policy; every other key stays on Redis, however many times the
// bad key fails.
func TestAReplyAboutOneKeyLeavesTheOthersOnRedis(t *testing.T) {
	client := redistest.Shared(t)
	p := redistest.Prefix(t)
	limits := []ratelimit.Limit{{Name: "hourly", Events: 1000, Per: time.Hour}}
	if err := client.Set(context.Background(), p+hashTag("client:bad")+":hourly", "not a bucket", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	for _, failClosed := range []bool{false, true} {
		s := redisstore.New(redisstore.Config{Client: client, Prefix: p, Timeout: liveTimeout, FailClosed: failClosed, Logger: quiet})
		ctx := context.Background()
		for i := range 3 * redisstore.DefaultTripAfter {
			d, err := s.Allow(ctx, "client:bad", limits)
			if failClosed != (err != nil) || (!failClosed && !d.Allowed) {
				t.Fatalf("fail closed %v, the bad key, request %d: %+v, %v; want the outage policy", failClosed, i+1, d, err)
			}
		}
		for i := range 5 {
			d, err := s.Allow(ctx, "client:good-"+strconv.FormatBool(failClosed), limits)
			if err != nil || !d.Allowed || d.Remaining != 999-i {
				t.Fatalf("fail closed %v, another key after the bad one's errors: %+v, %v; want it decided on Redis", failClosed, d, err)
			}
		}
		if st := s.Stats(); st.Trips != 0 || st.Redis != 5 {
			t.Errorf("fail closed %v: %+v; want no trip and the good key on Redis", failClosed, st)
		}
	}
}

// What the fallback admitted while Redis was away is charged to Redis when
// it is back, so over the outage and after it a key gets its limit, not
// its limit and the fallback's share again.
func TestRequestsAdmittedWithoutRedisAreChargedToItWhenItIsBack(t *testing.T) {
	_, proxy, client := proxied(t)
	var clockMu sync.Mutex
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := redisstore.New(redisstore.Config{Client: client, TripAfter: 1, Logger: quiet, Now: func() time.Time {
		clockMu.Lock()
		defer clockMu.Unlock()
		return now
	}})
	redisstore.WaitWarm(s)
	quota := []ratelimit.Limit{{Name: "hourly", Events: 10, Per: time.Hour}}
	ctx := context.Background()
	admitted := 0
	allow := func() ratelimit.Decision {
		d, err := s.Allow(ctx, "client:outage", quota)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			admitted++
		}
		return d
	}
	allow()
	allow()
	proxy.BlackHole(true)
	for range 6 {
		allow() // the first fails and trips the switch; all six are the fallback's
	}
	proxy.BlackHole(false)
	proxy.DropConnections() // what was sent into the hole is lost
	clockMu.Lock()
	now = now.Add(redisstore.DefaultRetryInterval)
	clockMu.Unlock()
	redis := s.Stats().Redis
	d := allow()
	if s.Stats().Redis != redis+1 {
		t.Fatalf("after RetryInterval the decision was not Redis's: %+v", s.Stats())
	}
	if d.Remaining != 1 {
		t.Errorf("2 admitted on Redis, 6 by the fallback, 1 now: Redis says %d left, want 1", d.Remaining)
	}
	for range 5 {
		allow()
	}
	if admitted != 10 {
		t.Errorf("%d admitted over the outage and after, want the limit, 10", admitted)
	}
}
