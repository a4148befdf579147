package jwt

import (
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/tollgate/tollgate/principal"
)

// cacheEntry is a verified token's principal, with what decides whether it
// may still be served: the token's exp, and the generation of the issuer's
// key set that verified it.
type cacheEntry struct {
	principal *principal.Principal
	exp       time.Time
	issuer    *jwtIssuer
	remote    *jwksSource // the key source that verified it; nil for static keys
	gen       uint64
	hits      atomic.Uint32
}

// tokenCacheShards spreads the cache over several LRUs, each with its own
// lock, so that concurrent hits on different tokens rarely contend.
const tokenCacheShards = 16

// tokenCache maps the exact bytes of a verified token to its entry. It holds
// at most about CacheSize entries (rounded up to a multiple of the shard
// count), evicting the least recently used.
type tokenCache struct {
	shards [tokenCacheShards]*lru.Cache[string, *cacheEntry]
}

func newTokenCache(size int) *tokenCache {
	per := max((size+tokenCacheShards-1)/tokenCacheShards, 1)
	c := &tokenCache{}
	for i := range c.shards {
		s, err := lru.New[string, *cacheEntry](per)
		if err != nil {
			panic("middleware: token cache: " + err.Error()) // per > 0, so New cannot fail
		}
		c.shards[i] = s
	}
	return c
}

// shard picks a shard from two characters of the signature, which are as
// random as the signature itself. The very last characters are avoided: they
// carry only a few bits when the signature length is not a multiple of
// three. Zero allocations.
func (c *tokenCache) shard(token string) *lru.Cache[string, *cacheEntry] {
	n := len(token)
	if n < 4 {
		return c.shards[0]
	}
	return c.shards[(uint(token[n-3])*31+uint(token[n-4]))%tokenCacheShards]
}

// promoteEvery is how many hits an entry takes between two moves to the
// front of its LRU list. Hits read under the shard's read lock, so that one
// hot token shared by many goroutines does not serialize them on the write
// lock a move needs; a token used often is still moved often enough to stay.
const promoteEvery = 32

// get returns the entry for token, or nil. Zero allocations.
func (c *tokenCache) get(token string) *cacheEntry {
	s := c.shard(token)
	e, ok := s.Peek(token)
	if ok && e.hits.Add(1)%promoteEvery == 0 {
		s.Get(token)
	}
	return e
}

func (c *tokenCache) put(token string, e *cacheEntry) {
	c.shard(token).Add(token, e)
}

func (c *tokenCache) remove(token string) {
	c.shard(token).Remove(token)
}
