package bench

import (
	"bufio"
	"context"
	"strconv"
	"strings"
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

// evalshaMicros is the server's own time per EVALSHA since the last
// CONFIG RESETSTAT, from INFO commandstats (usec_per_call): the CPU the
// script and the commands it ran cost Redis, without the network.
func evalshaMicros(tb testing.TB, c *redis.Client) float64 {
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
			if v, ok := strings.CutPrefix(f, "usec_per_call="); ok {
				n, err := strconv.ParseFloat(v, 64)
				if err != nil {
					tb.Fatal(err)
				}
				return n
			}
		}
	}
	tb.Fatalf("no cmdstat_evalsha in INFO commandstats:\n%s", info)
	return 0
}

// BenchmarkLimiterRedisBesidePing is each Redis limiter's decision on one
// key, alternating with a bare PING on the same client so that both see
// the same machine at the same moments (Redis from ./scripts/with-redis.sh;
// skipped without it). It reports the decision's and the PING's mean
// (decide-ns, ping-ns), their ratio (decide/ping; the target: at most 1.2)
// and the server's CPU per decision from INFO commandstats
// (server-µs/decision, EVALSHA's usec_per_call over this sub-benchmark
// alone; the target: at most redis_rate's).
//
//	./scripts/with-redis.sh sh -c 'cd bench && go test -run "^$" -bench LimiterRedis -count=5'
func BenchmarkLimiterRedisBesidePing(b *testing.B) {
	c := redistest.Shared(b)
	for _, d := range redisDeciders {
		b.Run(d.name, func(b *testing.B) {
			decide := d.newDecide(b, c, redistest.Prefix(b))
			ctx := context.Background()
			for range 100 { // the script loaded, the pool warm
				decide(ctx, "client:app-7")
			}
			if err := c.ConfigResetStat(ctx).Err(); err != nil {
				b.Fatal(err)
			}
			var decideTime, pingTime time.Duration
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				if !decide(ctx, "client:app-7") {
					b.Fatal("refused")
				}
				t1 := time.Now()
				if err := c.Ping(ctx).Err(); err != nil {
					b.Fatal(err)
				}
				decideTime += t1.Sub(t0)
				pingTime += time.Since(t1)
			}
			b.ReportMetric(float64(decideTime.Nanoseconds())/float64(b.N), "decide-ns")
			b.ReportMetric(float64(pingTime.Nanoseconds())/float64(b.N), "ping-ns")
			b.ReportMetric(float64(decideTime)/float64(pingTime), "decide/ping")
			b.ReportMetric(evalshaMicros(b, c), "server-µs/decision")
		})
	}
}
