package bench

import (
	"bufio"
	"context"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/internal/redistest"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/ratelimit/redisstore"
)

// redisDecider is one Redis-backed limiter's decision on one key.
type redisDecider struct {
	name string
	// newDecide builds the limiter on c, its keys under prefix.
	newDecide func(tb testing.TB, c *redis.Client, prefix string) decideFunc
}

var redisDeciders = []redisDecider{
	{"tollgate_redisstore", func(tb testing.TB, c *redis.Client, prefix string) decideFunc {
		s := redisstore.New(redisstore.Config{Client: c, Prefix: prefix})
		limits := []ratelimit.Limit{{Events: limiterEvents, Per: time.Second}}
		return func(ctx context.Context, key string) bool {
			d, err := s.Allow(ctx, key, limits)
			if err != nil {
				tb.Fatal(err)
			}
			return d.Allowed
		}
	}},
	{"redis_rate", func(tb testing.TB, c *redis.Client, prefix string) decideFunc {
		l := redis_rate.NewLimiter(c)
		limit := redis_rate.Limit{Rate: limiterEvents, Burst: limiterEvents, Period: time.Second}
		return func(ctx context.Context, key string) bool {
			res, err := l.Allow(ctx, prefix+key, limit)
			if err != nil {
				tb.Fatal(err)
			}
			return res.Allowed > 0
		}
	}},
}

// evalshaStats is the server's own time and count of EVALSHA since the
// last CONFIG RESETSTAT, from INFO commandstats: the CPU the script and the
// commands it ran cost Redis, without the network.
func evalshaStats(tb testing.TB, c *redis.Client) (usec, calls float64) {
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		tb.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "cmdstat_evalsha:")
		if !ok {
			continue
		}
		for _, f := range strings.Split(line, ",") {
			k, v, _ := strings.Cut(f, "=")
			n, _ := strconv.ParseFloat(v, 64)
			switch k {
			case "usec":
				usec = n
			case "calls":
				calls = n
			}
		}
		return usec, calls
	}
	tb.Fatalf("no cmdstat_evalsha in INFO commandstats:\n%s", info)
	return 0, 0
}

// BenchmarkLimiterRedisBesidePing compares the Redis limiters on one key
// (Redis from ./scripts/with-redis.sh; skipped without it), in turns of
// 200 decisions each, round after round, so that both see the machine at
// the same moments. Every decision alternates with a bare PING on the same
// client. For each it reports the decision's and the PING's mean
// (<name>-decide-ns, <name>-ping-ns), their ratio (<name>-decide/ping; the
// target: at most 1.2) and the server's CPU per decision
// (<name>-server-µs: EVALSHA's usec over its calls in INFO commandstats,
// reset before each turn; the target: at most redis_rate's), then
// tollgate's server time over redis_rate's (server-tollgate/redis_rate).
// ns/op is one round.
//
//	./scripts/with-redis.sh sh -c 'cd bench && go test -run "^$" -bench LimiterRedis -count=5'
func BenchmarkLimiterRedisBesidePing(b *testing.B) {
	const turn = 200
	c := redistest.Shared(b)
	ctx := context.Background()
	decides := make([]decideFunc, len(redisDeciders))
	for i, d := range redisDeciders {
		decides[i] = d.newDecide(b, c, redistest.Prefix(b))
		for range 100 { // the script loaded, the pool warm
			decides[i](ctx, "client:app-7")
		}
	}
	n := len(redisDeciders)
	decideTime, pingTime := make([]time.Duration, n), make([]time.Duration, n)
	usec, calls := make([]float64, n), make([]float64, n)
	for b.Loop() {
		for i, decide := range decides {
			if err := c.ConfigResetStat(ctx).Err(); err != nil {
				b.Fatal(err)
			}
			for range turn {
				t0 := time.Now()
				if !decide(ctx, "client:app-7") {
					b.Fatal("refused")
				}
				t1 := time.Now()
				if err := c.Ping(ctx).Err(); err != nil {
					b.Fatal(err)
				}
				decideTime[i] += t1.Sub(t0)
				pingTime[i] += time.Since(t1)
			}
			u, k := evalshaStats(b, c)
			usec[i] += u
			calls[i] += k
		}
	}
	for i, d := range redisDeciders {
		b.ReportMetric(float64(decideTime[i].Nanoseconds())/float64(b.N*turn), d.name+"-decide-ns")
		b.ReportMetric(float64(pingTime[i].Nanoseconds())/float64(b.N*turn), d.name+"-ping-ns")
		b.ReportMetric(float64(decideTime[i])/float64(pingTime[i]), d.name+"-decide/ping")
		b.ReportMetric(usec[i]/calls[i], d.name+"-server-µs")
	}
	b.ReportMetric((usec[0]/calls[0])/(usec[1]/calls[1]), "server-tollgate/redis_rate")
}

// BenchmarkLimiterRedisAutoPipelined runs decisions from 64 goroutines on
// distinct keys through go-redis's AutoPipeliner, which batches concurrent
// commands into one write, beside the same on a plain client. ns/op is the
// wall time per decision across all goroutines (the target: at most 20 µs
// on the AutoPipeliner).
//
//	./scripts/with-redis.sh sh -c 'cd bench && go test -run "^$" -bench LimiterRedisAutoPipelined -count=3'
func BenchmarkLimiterRedisAutoPipelined(b *testing.B) {
	c := redistest.Shared(b)
	ap, err := c.AutoPipeline()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ap.Close() })
	limits := []ratelimit.Limit{{Events: 1_000_000, Per: time.Second}}
	for _, tc := range []struct {
		name   string
		client redis.Scripter
	}{{"client", c}, {"autopipeliner", ap}} {
		b.Run(tc.name, func(b *testing.B) {
			s := redisstore.New(redisstore.Config{Client: tc.client, Prefix: redistest.Prefix(b), Timeout: time.Second})
			var next atomic.Int64
			b.SetParallelism(64 / max(1, runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				key := "client:" + strconv.FormatInt(next.Add(1), 10)
				for pb.Next() {
					if _, err := s.Allow(context.Background(), key, limits); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
