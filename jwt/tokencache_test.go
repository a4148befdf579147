package jwt

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
)

func TestCacheNeverServesPastExp(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}, Leeway: 30 * time.Second})
	exp := clock.Now().Add(10 * time.Minute)
	token := iss.Mint(claims(map[string]any{"exp": exp.Unix()}))
	first := mustVerify(t, v, token)

	clock.Advance(10*time.Minute - time.Nanosecond)
	if p := mustVerify(t, v, token); p != first {
		t.Error("a token before its exp was not answered from the cache")
	}

	clock.Advance(time.Nanosecond) // exactly exp
	if v.Remembered(token) != nil {
		t.Fatal("the cache answered at exp")
	}
	p := mustVerify(t, v, token) // within the leeway: verified again, not cached
	if p == first {
		t.Error("the cache served the token at exp")
	}
	if v.cache.Get(token, clock.Now().Add(-time.Minute)) != nil {
		t.Error("a token past its exp was cached")
	}

	clock.Advance(30 * time.Second)
	p, err := v.Verify(context.Background(), token)
	wantRefusal(t, p, err, tgerrors.ExpiredToken, errJWTExpired)
}

func TestCacheIsKeyedByTheExactToken(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}})
	token := iss.Mint(claims(nil))
	first := mustVerify(t, v, token)
	// The same claims signed again: another token, verified on its own.
	if p := mustVerify(t, v, iss.Mint(claims(nil), authtest.WithAlg(authtest.ES256))); p == first {
		t.Error("a different token was answered with the cached principal")
	}
	// A token that differs from the cached one in a single byte is checked
	// in full, and refused.
	p, err := v.Verify(context.Background(), forge(token))
	wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTSignature)
}

func TestCacheIsBounded(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}, CacheSize: 32})
	for i := range 500 {
		mustVerify(t, v, iss.Mint(claims(map[string]any{"jti": fmt.Sprint(i)}), authtest.WithAlg(authtest.EdDSA)))
	}
	n := v.cache.Len()
	if n > 32 {
		t.Errorf("cache holds %d entries, bound is 32", n)
	}
	if n == 0 {
		t.Error("cache holds nothing")
	}
}

func TestCacheCanBeDisabled(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}, CacheSize: -1})
	token := iss.Mint(claims(nil))
	first := mustVerify(t, v, token)
	if mustVerify(t, v, token) == first {
		t.Error("a disabled cache answered")
	}
}

func TestCacheHitAllocatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are checked in full runs")
	}
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}})
	token := iss.Mint(claims(nil))
	mustVerify(t, v, token)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := v.Verify(ctx, token); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a cache hit allocates %.1f times, want 0", allocs)
	}
}
