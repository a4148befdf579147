// Package tokencache is the verified-token cache that jwt.Verifier and
// middleware.Cache share: a bounded, sharded LRU keyed by the exact bytes of
// a token, whose entries are never served at or past their expiry.
//
// A hit costs a map lookup under a shard's read lock and allocates nothing.
// Tokens are compared byte for byte (they are the map's keys), so a token
// that differs from a cached one in a single byte is a miss and goes
// through full verification.
package tokencache

import (
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Entry is one cached token: what its cache keeps of it (Value), and the
// instant from which it is no longer served (Expires). Make it with &Entry
// and hand it to Put; it must not be copied once it is in a cache.
type Entry[V any] struct {
	Value   V
	Expires time.Time
	hits    atomic.Uint32
}

// shards spreads the cache over several LRUs, each with its own lock, so
// that concurrent hits on different tokens rarely contend.
const shards = 16

// Cache maps the exact bytes of a token to its entry. It holds at most
// about the size given to New (rounded up to a multiple of the shard
// count), evicting the least recently used. It is safe for concurrent use.
type Cache[V any] struct {
	shards [shards]*lru.Cache[string, *Entry[V]]
}

// New returns a cache of about size entries; a size below one is one per
// shard.
func New[V any](size int) *Cache[V] {
	per := max((size+shards-1)/shards, 1)
	c := &Cache[V]{}
	for i := range c.shards {
		s, err := lru.New[string, *Entry[V]](per)
		if err != nil {
			panic("tokencache: " + err.Error()) // per > 0, so New cannot fail
		}
		c.shards[i] = s
	}
	return c
}

// shard picks a shard from two characters near the end of the token, which
// for a signed token are as random as the signature. The very last
// characters are avoided: they carry only a few bits when the signature
// length is not a multiple of three. Zero allocations.
func (c *Cache[V]) shard(token string) *lru.Cache[string, *Entry[V]] {
	n := len(token)
	if n < 4 {
		return c.shards[0]
	}
	return c.shards[(uint(token[n-3])*31+uint(token[n-4]))%shards]
}

// promoteEvery is how many hits an entry takes between two moves to the
// front of its LRU list. Hits read under the shard's read lock, so that one
// hot token shared by many goroutines does not serialize them on the write
// lock a move needs; a token used often is still moved often enough to stay.
const promoteEvery = 32

// Get returns the entry for token if now is before its Expires, and nil
// otherwise. An entry whose Expires has passed is removed. Zero
// allocations.
func (c *Cache[V]) Get(token string, now time.Time) *Entry[V] {
	s := c.shard(token)
	e, ok := s.Peek(token)
	if !ok {
		return nil
	}
	if !now.Before(e.Expires) {
		// Should another request have just put a fresh entry for the
		// token, this removes it too: that costs one more verification.
		s.Remove(token)
		return nil
	}
	if e.hits.Add(1)%promoteEvery == 0 {
		s.Get(token)
	}
	return e
}

// Put caches e for token, replacing any entry it had.
func (c *Cache[V]) Put(token string, e *Entry[V]) {
	c.shard(token).Add(token, e)
}

// Remove forgets token.
func (c *Cache[V]) Remove(token string) {
	c.shard(token).Remove(token)
}

// Len is the number of entries held, expired ones not yet removed
// included.
func (c *Cache[V]) Len() int {
	n := 0
	for _, s := range c.shards {
		n += s.Len()
	}
	return n
}
