package redisrevocation

import (
	"context"
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
