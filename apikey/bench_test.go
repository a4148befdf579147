package apikey_test

import (
	"context"
	"testing"

	"github.com/tollgate/tollgate/apikey"
	"github.com/tollgate/tollgate/authtest"
)

func TestACachedVerificationAllocatesNothing(t *testing.T) {
	k := newKeys(t, apikey.NewMemoryStore(), authtest.NewClock(start))
	_, token := create(t, k, spec())
	ctx := context.Background()
	if _, err := k.Verify(ctx, token); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = k.Verify(ctx, token) }); n != 0 {
		t.Fatalf("cached Verify: %g allocations, want 0", n)
	}
	bad := token[:len(token)-1] + "x"
	if n := testing.AllocsPerRun(1000, func() { _, _ = k.Verify(ctx, bad) }); n != 0 {
		t.Fatalf("malformed token: %g allocations, want 0", n)
	}
}

// BenchmarkVerify: a cached key (checksum, HMAC-SHA-256, cache hit) and a
// malformed one (refused by its checksum).
func BenchmarkVerify(b *testing.B) {
	k := newKeys(b, apikey.NewMemoryStore(), authtest.NewClock(start))
	_, token := create(b, k, spec())
	ctx := context.Background()
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := k.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached_parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := k.Verify(ctx, token); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("malformed", func(b *testing.B) {
		bad := token[:len(token)-1] + "x"
		b.ReportAllocs()
		for b.Loop() {
			_, _ = k.Verify(ctx, bad)
		}
	})
	b.Run("wellformed_check", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !apikey.WellFormed(token) {
				b.Fatal("refused")
			}
		}
	})
}
