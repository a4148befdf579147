package jwt

import (
	"github.com/tollgate/tollgate/internal/tokencache"
	"github.com/tollgate/tollgate/principal"
)

// cachedToken is what the verified-token cache keeps of a token besides its
// exp (the entry's Expires): its principal, and the generation of the
// issuer's key set that verified it.
type cachedToken struct {
	principal *principal.Principal
	issuer    *jwtIssuer
	remote    *jwksSource // the key source that verified it; nil for static keys
	gen       uint64
}

type (
	tokenCache = tokencache.Cache[cachedToken]
	cacheEntry = tokencache.Entry[cachedToken]
)

func newTokenCache(size int) *tokenCache { return tokencache.New[cachedToken](size) }
