package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
)

var _ middleware.Remembering = (*middleware.CachingVerifier)(nil)

var cacheT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// rolesVerifier stands for a verifier of an application's own: it accepts
// any token in accept, adds a role to it, and counts its calls.
type rolesVerifier struct {
	calls  atomic.Int64
	accept map[string]principal.Fields
}

func (v *rolesVerifier) Verify(ctx context.Context, token string) (*principal.Principal, error) {
	v.calls.Add(1)
	f, ok := v.accept[token]
	if !ok {
		return nil, tgerrors.New(tgerrors.InvalidToken, "")
	}
	f.Roles = []string{"refunder"}
	return principal.New(f), nil
}

// cachedAPI is Authenticate over Cache over inner, on clock, with a handler
// that counts what it is reached with.
type cachedAPI struct {
	h       http.Handler
	reached int
	last    *principal.Principal
}

func newCachedAPI(inner middleware.Verifier, cfg middleware.CacheConfig, opts ...middleware.Option) *cachedAPI {
	a := &cachedAPI{}
	opts = append([]middleware.Option{middleware.OnRefusal(nil)}, opts...)
	a.h = tgerrors.Use(tgerrors.OAuth)(middleware.Authenticate(middleware.Cache(inner, cfg), opts...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.reached++
		a.last, _ = principal.From(r.Context())
	})))
	return a
}

func (a *cachedAPI) get(token string) int {
	req := httptest.NewRequest("GET", "/refunds", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return rec.Code
}

// A cached token is answered without the wrapped verifier, until the
// earlier of the principal's expiry and MaxAge; then the verifier decides
// again.
func TestCacheServesUntilExpiryOrMaxAge(t *testing.T) {
	tests := []struct {
		name      string
		expiresIn time.Duration // zero: no ExpiresAt
		maxAge    time.Duration // zero: the default
		advance   time.Duration
		wantCalls int64
	}{
		{"before exp: from the cache", 30 * time.Second, 0, 30*time.Second - time.Nanosecond, 1},
		{"at exp: the verifier again", 30 * time.Second, 0, 30 * time.Second, 2},
		{"no expiry, before the default MaxAge: from the cache", 0, 0, middleware.DefaultCacheMaxAge - time.Nanosecond, 1},
		{"no expiry, at the default MaxAge: the verifier again", 0, 0, middleware.DefaultCacheMaxAge, 2},
		{"no expiry, at a configured MaxAge", 0, 5 * time.Second, 5 * time.Second, 2},
		{"exp later than MaxAge: MaxAge wins", time.Hour, 10 * time.Second, 10 * time.Second, 2},
		{"exp later than MaxAge: from the cache before it", time.Hour, 10 * time.Second, 10*time.Second - time.Nanosecond, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := authtest.NewClock(cacheT0)
			f := principal.Fields{Subject: "merchant-42"}
			if tt.expiresIn != 0 {
				f.ExpiresAt = cacheT0.Add(tt.expiresIn)
			}
			inner := &rolesVerifier{accept: map[string]principal.Fields{"tok-abc": f}}
			api := newCachedAPI(inner, middleware.CacheConfig{MaxAge: tt.maxAge, Now: clock.Now})
			for range 3 {
				if code := api.get("tok-abc"); code != 200 {
					t.Fatalf("status %d", code)
				}
			}
			if n := inner.calls.Load(); n != 1 {
				t.Fatalf("three requests reached the verifier %d times, want 1", n)
			}
			clock.Advance(tt.advance)
			if code := api.get("tok-abc"); code != 200 {
				t.Fatalf("status %d", code)
			}
			if n := inner.calls.Load(); n != tt.wantCalls {
				t.Errorf("verifier called %d times, want %d", n, tt.wantCalls)
			}
			if api.reached != 4 || !api.last.HasRole("refunder") {
				t.Errorf("handler reached %d times, with roles %q", api.reached, api.last.Roles())
			}
		})
	}
}

// A principal already past its expiry is never cached, and what the wrapped
// verifier refuses is not cached either.
func TestCacheKeepsNothingButLiveAcceptedPrincipals(t *testing.T) {
	clock := authtest.NewClock(cacheT0)
	inner := &rolesVerifier{accept: map[string]principal.Fields{
		"tok-expired": {Subject: "s", ExpiresAt: cacheT0.Add(-time.Second)},
		"tok-now":     {Subject: "s", ExpiresAt: cacheT0},
	}}
	tests := []struct {
		name       string
		token      string
		wantStatus int
	}{
		{"a principal past its expiry: not cached", "tok-expired", 200},
		{"a principal expiring now: not cached", "tok-now", 200},
		{"a refusal: not cached", "tok-unknown", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newCachedAPI(inner, middleware.CacheConfig{Now: clock.Now})
			before := inner.calls.Load()
			for range 3 {
				if code := api.get(tt.token); code != tt.wantStatus {
					t.Fatalf("status %d, want %d", code, tt.wantStatus)
				}
			}
			if n := inner.calls.Load() - before; n != 3 {
				t.Errorf("three requests reached the verifier %d times, want 3", n)
			}
			if want := 3 * btoi(tt.wantStatus == 200); api.reached != want {
				t.Errorf("handler reached %d times, want %d", api.reached, want)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// The cache is keyed by the exact token: one that differs in a byte is not
// answered with the cached principal.
func TestCacheIsKeyedByTheExactToken(t *testing.T) {
	inner := &rolesVerifier{accept: map[string]principal.Fields{"tok-abcdef": {Subject: "s"}}}
	api := newCachedAPI(inner, middleware.CacheConfig{})
	api.get("tok-abcdef")
	for _, other := range []string{"tok-abcdeF", "tok-abcde", "tok-abcdefg", "TOK-abcdef"} {
		if code := api.get(other); code != 401 {
			t.Errorf("%q: status %d, want 401", other, code)
		}
	}
	if n := inner.calls.Load(); n != 5 {
		t.Errorf("verifier called %d times, want 5 (each other token is its own)", n)
	}
	if api.reached != 1 {
		t.Errorf("handler reached %d times, want 1", api.reached)
	}
}

// The cache holds at most Size tokens: once more were seen, most of the
// first ones have to be verified again.
func TestCacheIsBounded(t *testing.T) {
	const size, tokens = 32, 500
	inner := &rolesVerifier{accept: map[string]principal.Fields{}}
	for i := range tokens {
		inner.accept[fmt.Sprintf("tok-%04d-abc", i)] = principal.Fields{Subject: "s"}
	}
	api := newCachedAPI(inner, middleware.CacheConfig{Size: size})
	for pass := range 2 {
		for i := range tokens {
			if code := api.get(fmt.Sprintf("tok-%04d-abc", i)); code != 200 {
				t.Fatalf("pass %d token %d: status %d", pass, i, code)
			}
		}
	}
	// The second pass finds at most size tokens in the cache.
	if n := inner.calls.Load(); n < 2*tokens-size {
		t.Errorf("verifier called %d times for %d requests: the cache kept more than %d tokens", n, 2*tokens, size)
	}
}

func TestCacheCanBeDisabled(t *testing.T) {
	inner := &rolesVerifier{accept: map[string]principal.Fields{"tok-abc": {Subject: "s"}}}
	api := newCachedAPI(inner, middleware.CacheConfig{Size: -1})
	for range 3 {
		api.get("tok-abc")
	}
	if n := inner.calls.Load(); n != 3 {
		t.Errorf("verifier called %d times with the cache disabled, want 3", n)
	}
}

// A token outside the b64token charset that a verifier accepted when called
// directly is not remembered: Authenticate skips the charset check for what
// Remembered answers.
func TestCacheDoesNotRememberATokenOutsideTheCharset(t *testing.T) {
	inner := &rolesVerifier{accept: map[string]principal.Fields{"bad token": {Subject: "s"}}}
	c := middleware.Cache(inner, middleware.CacheConfig{})
	if _, err := c.Verify(context.Background(), "bad token"); err != nil {
		t.Fatal(err)
	}
	if c.Remembered("bad token") != nil {
		t.Error("a token outside the charset was remembered")
	}
}

// Revocation is checked on cache hits too.
func TestCachedTokenIsStillCheckedForRevocation(t *testing.T) {
	inner := &rolesVerifier{accept: map[string]principal.Fields{"tok-abc": {Subject: "s"}}}
	rev := &flagRevocation{}
	api := newCachedAPI(inner, middleware.CacheConfig{}, middleware.WithRevocation(rev))
	if code := api.get("tok-abc"); code != 200 {
		t.Fatalf("status %d", code)
	}
	rev.revoked.Store(true)
	if code := api.get("tok-abc"); code != 401 {
		t.Errorf("a revoked cached token: status %d, want 401", code)
	}
	if api.reached != 1 {
		t.Errorf("handler reached %d times, want 1", api.reached)
	}
}

type flagRevocation struct{ revoked atomic.Bool }

func (f *flagRevocation) Revoked(context.Context, string, *principal.Principal) (bool, error) {
	return f.revoked.Load(), nil
}

func TestCachePanicsOnProgrammerError(t *testing.T) {
	for name, f := range map[string]func(){
		"nil verifier":    func() { middleware.Cache(nil, middleware.CacheConfig{}) },
		"negative MaxAge": func() { middleware.Cache(&rolesVerifier{}, middleware.CacheConfig{MaxAge: -time.Second}) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		})
	}
}

// Behind errors.Use, a cached hit through Authenticate allocates nothing
// more than the handler alone.
func TestCachedHitThroughAuthenticateDoesNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are checked in full runs")
	}
	inner := &rolesVerifier{accept: map[string]principal.Fields{"tok-abcdef": {Subject: "s"}}}
	use := tgerrors.Use(tgerrors.OAuth)
	noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	auth := middleware.Authenticate(middleware.Cache(inner, middleware.CacheConfig{}), middleware.OnRefusal(nil))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer tok-abcdef")
	w := httptest.NewRecorder()
	count := func(h http.Handler) float64 {
		h.ServeHTTP(w, req)
		return testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, req) })
	}
	if n := count(use(auth(noop))) - count(use(noop)); n != 0 {
		t.Errorf("a cached hit costs Authenticate %v allocations, want 0", n)
	}
	if inner.calls.Load() != 1 {
		t.Errorf("verifier called %d times, want 1", inner.calls.Load())
	}
}
