package apikey_test

import (
	"context"
	"testing"
	"time"

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
	bad := token[:len(token)-1] + otherThan(token[len(token)-1])
	if n := testing.AllocsPerRun(1000, func() { _, _ = k.Verify(ctx, bad) }); n != 0 {
		t.Fatalf("malformed token: %g allocations, want 0", n)
	}
	// Refusals of cached keys allocate nothing either: a client retrying
	// a dead key in a loop costs no garbage.
	clock := authtest.NewClock(start)
	k2 := newKeys(t, apikey.NewMemoryStore(), clock)
	inactiveKey, inactive := create(t, k2, spec())
	k2.Deactivate(ctx, inactiveKey.ID)
	s := spec()
	s.ExpiresAt = start.Add(time.Minute)
	_, expired := create(t, k2, s)
	rotatedKey, rotated := create(t, k2, spec())
	k2.Rotate(ctx, rotatedKey.ID, time.Minute)
	for _, tok := range []string{inactive, expired, rotated} {
		_, _ = k2.Verify(ctx, tok)
	}
	clock.Advance(time.Minute)
	for name, tok := range map[string]string{"inactive": inactive, "expired": expired, "rotated out": rotated} {
		if _, err := k2.Verify(ctx, tok); err == nil {
			t.Fatalf("%s token admitted", name)
		}
		if n := testing.AllocsPerRun(1000, func() { _, _ = k2.Verify(ctx, tok) }); n != 0 {
			t.Errorf("%s token: %g allocations, want 0", name, n)
		}
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
		bad := token[:len(token)-1] + otherThan(token[len(token)-1])
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
