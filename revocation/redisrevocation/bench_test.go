package redisrevocation

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/internal/redistest"
)

// BenchmarkCheck measures a check on the loopback redis-server beside a
// bare PING on the same client, in the same run: one MGET of the epoch and
// the token's keys against one round trip's floor.
//
//	./scripts/with-redis.sh go test -run '^$' -bench Check ./revocation/redisrevocation/
func BenchmarkCheck(b *testing.B) {
	addr := redistest.SharedAddr(b)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		opt  redis.Options
	}{
		{"ContextTimeoutEnabled", redis.Options{Addr: addr, ContextTimeoutEnabled: true}},
		{"go-redis defaults", redis.Options{Addr: addr}},
	} {
		client := redis.NewClient(&c.opt)
		b.Cleanup(func() { client.Close() })
		// A roomy Timeout: this measures latency, not the bound, and a
		// loaded machine can overrun DefaultTimeout.
		s := New(client, Config{Prefix: redistest.Prefix(b), Timeout: time.Second, Logger: discard})
		if err := s.Restore(ctx); err != nil {
			b.Fatal(err)
		}
		if err := s.RevokeID(ctx, "jti-2", time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { client.Del(ctx, s.epochKey, s.idKey("jti-2")) })
		// PING and a check in turn, each timed: the two medians come from
		// the same moments, so a noisy machine moves both alike.
		b.Run(c.name+"/interleaved", func(b *testing.B) {
			var pings, checks []time.Duration
			for b.Loop() {
				t0 := time.Now()
				if err := client.Ping(ctx).Err(); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if revoked, err := s.Revoked(ctx, jwt, jwtPrincipal); err != nil || revoked {
					b.Fatal(revoked, err)
				}
				pings, checks = append(pings, t1.Sub(t0)), append(checks, time.Since(t1))
			}
			p, c := median(pings), median(checks)
			b.ReportMetric(float64(p.Nanoseconds())/1e3, "ping-µs")
			b.ReportMetric(float64(c.Nanoseconds())/1e3, "check-µs")
			b.ReportMetric(float64(c)/float64(p), "check/ping")
		})
		b.Run(c.name+"/PING", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := client.Ping(ctx).Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/JWT with jti", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if revoked, err := s.Revoked(ctx, jwt, jwtPrincipal); err != nil || revoked {
					b.Fatal(revoked, err)
				}
			}
		})
		b.Run(c.name+"/opaque token", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if revoked, err := s.Revoked(ctx, opaque, opaquePrincipal); err != nil || revoked {
					b.Fatal(revoked, err)
				}
			}
		})
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)/2]
}
