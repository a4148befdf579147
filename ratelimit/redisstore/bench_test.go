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
