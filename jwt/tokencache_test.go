package jwt

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
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

func TestCachedPrincipalReadsEveryClaimOfItsToken(t *testing.T) {
	// A principal keeps its token's claims encoded and decodes them on the
	// first read; what it reads must be what the token carried, from every
	// goroutine sharing the cached principal.
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}})
	token := iss.Mint(claims(map[string]any{
		"org_id": "org-9",
		"nested": map[string]any{"tier": "gold", "seats": 5},
		"tags":   []string{"a", "b"},
	}))
	first := mustVerify(t, v, token)
	p := v.Remembered(token)
	if p != first {
		t.Fatal("the token was not answered from the cache")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := p.StringClaim("org_id"); got != "org-9" {
				t.Errorf("StringClaim(org_id) = %q", got)
			}
			nested, _ := p.Claim("nested")
			if m, ok := nested.(map[string]any); !ok || m["tier"] != "gold" || m["seats"] != 5.0 {
				t.Errorf("nested = %#v", nested)
			}
		}()
	}
	wg.Wait()
	all := p.Claims()
	for _, name := range []string{"sub", "aud", "iss", "exp", "iat", "org_id", "nested", "tags"} {
		if _, ok := all[name]; !ok {
			t.Errorf("claim %q missing from Claims (%v)", name, all)
		}
	}
	if got := p.Subject(); got != "user-1" {
		t.Errorf("Subject = %q", got)
	}
	if allocs := testing.AllocsPerRun(100, func() { p.StringClaim("org_id") }); allocs != 0 {
		t.Errorf("StringClaim allocates %v times once the claims are decoded", allocs)
	}
}

// firstReadMallocs is the fewest heap allocations the first
// StringClaim("org_id") of a principal made, over five principals from
// verify: other goroutines can only add to a count, never take from it.
func firstReadMallocs(t *testing.T, verify func(i int) *principal.Principal) uint64 {
	t.Helper()
	fewest := ^uint64(0)
	var before, after runtime.MemStats
	for i := range 5 {
		p := verify(i)
		runtime.ReadMemStats(&before)
		got := p.StringClaim("org_id")
		runtime.ReadMemStats(&after)
		if got != "org-9" {
			t.Fatalf("StringClaim(org_id) = %q", got)
		}
		fewest = min(fewest, after.Mallocs-before.Mallocs)
	}
	return fewest
}

func TestAPrincipalTheCacheDoesNotKeepHasItsClaimsDecodedOnce(t *testing.T) {
	// Only a cached principal keeps its claims encoded (they cost the
	// cache nothing then); any other has them decoded already, so its
	// first claim read decodes nothing again.
	cases := []struct {
		name    string
		cfg     Config
		advance time.Duration // after minting, before verifying
	}{
		{"cache disabled", Config{CacheSize: -1}, 0},
		{"token past exp, within the leeway", Config{Leeway: time.Minute}, time.Hour + time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := newTestClock()
			iss := newIssuer(t, clock)
			c.cfg.Issuers = []Issuer{jwksIssuer(iss)}
			v, _ := newVerifier(t, clock, c.cfg)
			allocs := firstReadMallocs(t, func(i int) *principal.Principal {
				token := iss.Mint(claims(map[string]any{"org_id": "org-9", "jti": fmt.Sprint(i), "exp": clock.Now().Add(time.Hour).Unix()}))
				clock.Advance(c.advance)
				p := mustVerify(t, v, token)
				if v.Remembered(token) != nil {
					t.Fatal("the token was cached")
				}
				return p
			})
			if allocs != 0 {
				t.Errorf("the first claim read allocates %d times: the claims were decoded again", allocs)
			}
		})
	}
}
