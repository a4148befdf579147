package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/redistest"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/ratelimit/redisstore"
)

// BenchmarkRedisDecide and BenchmarkRedisPing run against the same server in
// the same run: a decision should cost about one PING, being one round trip.

func BenchmarkRedisDecide(b *testing.B) {
	s := redisstore.New(redisstore.Config{Client: redistest.Shared(b), Prefix: redistest.Prefix(b)})
	limits := []ratelimit.Limit{{Events: 1 << 30, Per: time.Second}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Allow(ctx, "client:app-1", limits); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRedisDecideTwoLimits(b *testing.B) {
	s := redisstore.New(redisstore.Config{Client: redistest.Shared(b), Prefix: redistest.Prefix(b)})
	limits := []ratelimit.Limit{
		{Name: "burst", Events: 1 << 30, Per: time.Second},
		{Name: "quota", Events: 1 << 30, Per: time.Hour},
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Allow(ctx, "client:app-1", limits); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRedisPing(b *testing.B) {
	c := redistest.Shared(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedisDecideBesidePing alternates a decision and a bare PING on
// one server, so that both see the same machine at the same moments, and
// reports each one's mean and their ratio (the target: at most 1.5).
func BenchmarkRedisDecideBesidePing(b *testing.B) {
	c := redistest.Shared(b)
	s := redisstore.New(redisstore.Config{Client: c, Prefix: redistest.Prefix(b)})
	redisstore.WaitWarm(s)
	limits := []ratelimit.Limit{{Events: 1 << 30, Per: time.Second}}
	ctx := context.Background()
	var decide, ping time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		if _, err := s.Allow(ctx, "client:app-1", limits); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := c.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		decide += t1.Sub(t0)
		ping += time.Since(t1)
	}
	b.ReportMetric(float64(decide.Nanoseconds())/float64(b.N), "decide-ns")
	b.ReportMetric(float64(ping.Nanoseconds())/float64(b.N), "ping-ns")
	b.ReportMetric(float64(decide)/float64(ping), "decide/ping")
}
