package middleware

import (
	"context"
	"time"

	"github.com/tollgate/tollgate/internal/bearer"
	"github.com/tollgate/tollgate/internal/tokencache"
	"github.com/tollgate/tollgate/principal"
)

// Defaults for the zero fields of CacheConfig.
const (
	// DefaultCacheSize is how many tokens Cache remembers when
	// CacheConfig.Size is zero.
	DefaultCacheSize = 10_000
	// DefaultCacheMaxAge is how long Cache serves a principal at most when
	// CacheConfig.MaxAge is zero.
	DefaultCacheMaxAge = time.Minute
)

// CacheConfig configures Cache. The zero value is ready to use: 10,000
// tokens, each served for at most a minute and never past its expiry.
type CacheConfig struct {
	// Size bounds the cache, in tokens, exactly; a token not read lately
	// is evicted first (CLOCK, see internal/tokencache). Zero means DefaultCacheSize; a negative value disables the
	// cache, so that every request reaches the wrapped verifier.
	Size int

	// MaxAge is the longest a principal is served from the cache after the
	// wrapped verifier accepted its token: an entry is served until the
	// principal's ExpiresAt or MaxAge, whichever comes first, and a
	// principal without ExpiresAt until MaxAge. Zero means
	// DefaultCacheMaxAge (one minute). It bounds how long what the wrapped
	// verifier decided from outside the token (roles read from a database,
	// a key set since rotated) is served unchanged: keep it short.
	MaxAge time.Duration

	// Now is the clock for every expiry. Nil means time.Now.
	Now func() time.Time
}

// CachingVerifier is the Verifier that Cache returns: the wrapped verifier
// with a verified-token cache in front of it. It implements Remembering, so
// Authenticate answers a cached token before scanning it.
type CachingVerifier struct {
	next   Verifier
	cache  *tokencache.Cache[*principal.Principal]
	maxAge time.Duration
	now    func() time.Time
}

// Cache wraps v, a verifier of your own (one that adds roles from a
// database to jwt.Verifier's principal, say), with the cache jwt.Verifier
// keeps, so that a repeated token costs Authenticate a map lookup again
// instead of a call to v:
//
//	withRoles := middleware.VerifierFunc(func(ctx context.Context, token string) (*principal.Principal, error) {
//		p, err := tokens.Verify(ctx, token)
//		if err != nil {
//			return nil, err
//		}
//		f := p.Fields()
//		f.Roles, err = rolesOf(ctx, p.Subject())
//		…
//		return principal.New(f), nil
//	})
//	api := middleware.Authenticate(middleware.Cache(withRoles, middleware.CacheConfig{}))
//
// What is cached, and for how long:
//
//   - only principals v accepted, by the exact bytes of the token: a token
//     that differs in one byte is a miss and goes to v;
//   - never at or past the principal's ExpiresAt (no leeway: a token past
//     its exp goes to v, which decides), and never longer than MaxAge
//     after v accepted it (see CacheConfig.MaxAge);
//   - refusals are not cached: every refused token goes to v again. Caching
//     refusals would let a flood of made-up tokens evict the good ones, and
//     would keep serving an outage (unavailable) after it ended; v refuses
//     garbage cheaply (jwt.Verifier before any signature check);
//   - a token outside the b64token charset that v nonetheless accepted is
//     not cached, so that what Remembered answers always passed the check
//     Authenticate skips for it.
//
// Revocation (WithRevocation) is checked on every request, cache hits
// included, so a revoked token is refused from the next request on. A
// cached hit allocates nothing. Two requests with a new token at the same
// time both reach v. The principal is shared by every request that
// presents the token: treat it as read-only, as principal.Principal is.
//
// Cache panics if v is nil or cfg.MaxAge is negative.
func Cache(v Verifier, cfg CacheConfig) *CachingVerifier {
	if v == nil {
		panic("middleware.Cache: nil Verifier")
	}
	if cfg.MaxAge < 0 {
		panic("middleware.Cache: negative MaxAge")
	}
	c := &CachingVerifier{next: v, maxAge: cfg.MaxAge, now: cfg.Now}
	if c.maxAge == 0 {
		c.maxAge = DefaultCacheMaxAge
	}
	if c.now == nil {
		c.now = time.Now
	}
	switch {
	case cfg.Size == 0:
		c.cache = tokencache.New[*principal.Principal](DefaultCacheSize)
	case cfg.Size > 0:
		c.cache = tokencache.New[*principal.Principal](cfg.Size)
	}
	return c
}

// Verify answers token from the cache, or asks the wrapped verifier and
// caches the principal it accepts (see Cache). A refusal is the wrapped
// verifier's, unchanged.
func (c *CachingVerifier) Verify(ctx context.Context, token string) (*principal.Principal, error) {
	if p := c.Remembered(token); p != nil {
		return p, nil
	}
	p, err := c.next.Verify(ctx, token)
	if err != nil || p == nil {
		return p, err
	}
	if c.cache != nil && bearer.Valid(token) {
		now := c.now()
		expires := now.Add(c.maxAge)
		if exp := p.ExpiresAt(); !exp.IsZero() && exp.Before(expires) {
			expires = exp
		}
		if now.Before(expires) {
			c.cache.Put(token, &tokencache.Entry[*principal.Principal]{Value: p, Expires: expires})
		}
	}
	return p, nil
}

// Remembered answers token from the cache only: the principal the wrapped
// verifier accepted for exactly this token, while its entry lasts, or nil.
// It never calls the wrapped verifier. It implements Remembering.
func (c *CachingVerifier) Remembered(token string) *principal.Principal {
	if c.cache == nil {
		return nil
	}
	if e := c.cache.Get(token, c.now()); e != nil {
		return e.Value
	}
	return nil
}
