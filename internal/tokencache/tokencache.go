// Package tokencache is the verified-token cache that jwt.Verifier and
// middleware.Cache share: a bounded cache keyed by the exact bytes of a
// token, whose entries are never served at or past their expiry.
//
// A hit takes no lock and writes no memory shared with other hits: it
// hashes the token, walks one bucket's chain of atomic pointers, compares
// the token byte for byte and sets the entry's referenced bit only if it is
// clear. So one hot token read from every core at once scales with the
// cores, and a hit allocates nothing. Inserts and removals, which follow a
// full verification, take the cache's one mutex.
//
// A cache of size N holds N entries exactly, evicting by the CLOCK
// algorithm (second chance): the hand sweeps the entries in insertion
// slots, clearing referenced bits, and evicts the first entry found with
// its bit clear, one not read since the hand last passed it. That keeps
// the tokens in use and drops the ones that are not, as an LRU would,
// without moving anything on a hit.
//
// Tokens are compared byte for byte, so a token that differs from a cached
// one in a single byte is a miss and goes through full verification.
package tokencache

import (
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// Entry is one cached token: what its cache keeps of it (Value), and the
// instant from which it is no longer served (Expires). Make it with &Entry
// and hand it to Put; neither it nor its Value may be changed or copied
// once it is in a cache.
type Entry[V any] struct {
	Value   V
	Expires time.Time

	token string                   // the key, set by Put
	next  atomic.Pointer[Entry[V]] // the bucket's chain
	slot  int32                    // index in ring while cached, -1 after
	ref   atomic.Uint32            // CLOCK's referenced bit
}

// Cache maps the exact bytes of a token to its entry. It holds at most the
// size given to New, evicting the entry the CLOCK hand finds unused. It is
// safe for concurrent use.
type Cache[V any] struct {
	seed    maphash.Seed
	buckets []atomic.Pointer[Entry[V]] // a power of two, at least size
	mask    uint64

	mu   sync.Mutex
	size int
	ring []*Entry[V] // the entries by slot, grown up to size; nil: free
	free []int32     // free slots
	hand int32
	n    int
}

// New returns a cache of size entries; a size below one is one. Its hash
// table, 8 bytes per entry of size rounded up to a power of two, is
// allocated here; the rest grows with the entries.
func New[V any](size int) *Cache[V] {
	size = min(max(size, 1), 1<<30)
	nb := 1 << bits.Len(uint(size-1))
	return &Cache[V]{
		seed:    maphash.MakeSeed(),
		buckets: make([]atomic.Pointer[Entry[V]], nb),
		mask:    uint64(nb - 1),
		size:    size,
	}
}

// hashEdge is how many bytes at each end of a long token are hashed.
const hashEdge = 32

// bucket is token's bucket. A long token is hashed by its length and its
// first and last hashEdge bytes, not whole: hashing 700 bytes took most of
// a hit's time, and those bytes are as random as the token (a JWT ends
// with its signature). Two tokens that agree there share a bucket, which
// costs a longer walk, never a wrong answer: a hit compares every byte.
func (c *Cache[V]) bucket(token string) *atomic.Pointer[Entry[V]] {
	var h uint64
	if n := len(token); n <= 2*hashEdge {
		h = maphash.String(c.seed, token)
	} else {
		h = maphash.String(c.seed, token[:hashEdge]) ^
			bits.RotateLeft64(maphash.String(c.seed, token[n-hashEdge:]), 29) ^
			uint64(n)*0x9e3779b97f4a7c15
	}
	return &c.buckets[h&c.mask]
}

// Get returns the entry for token if now is before its Expires, and nil
// otherwise. An entry whose Expires has passed is removed. It takes no
// lock and does not allocate.
func (c *Cache[V]) Get(token string, now time.Time) *Entry[V] {
	for e := c.bucket(token).Load(); e != nil; e = e.next.Load() {
		if e.token != token {
			continue
		}
		if !now.Before(e.Expires) {
			c.mu.Lock()
			c.unlink(e)
			c.mu.Unlock()
			return nil
		}
		if e.ref.Load() == 0 {
			e.ref.Store(1)
		}
		return e
	}
	return nil
}

// Put caches e for token, replacing any entry it had.
func (c *Cache[V]) Put(token string, e *Entry[V]) {
	e.token = token
	b := c.bucket(token)
	c.mu.Lock()
	defer c.mu.Unlock()
	for old := b.Load(); old != nil; old = old.next.Load() {
		if old.token == token {
			c.unlink(old)
			break
		}
	}
	e.slot = c.takeSlot()
	c.ring[e.slot] = e
	c.n++
	e.next.Store(b.Load())
	b.Store(e)
}

// takeSlot returns a free slot, evicting an entry if there is none. It
// needs c.mu.
func (c *Cache[V]) takeSlot() int32 {
	if n := len(c.free); n > 0 {
		s := c.free[n-1]
		c.free = c.free[:n-1]
		return s
	}
	if len(c.ring) < c.size {
		c.ring = append(c.ring, nil)
		return int32(len(c.ring) - 1)
	}
	// Full: every slot holds an entry. The hand clears each referenced
	// bit it passes, so it finds an entry to evict within two sweeps.
	for {
		e := c.ring[c.hand]
		c.hand = (c.hand + 1) % int32(len(c.ring))
		if e.ref.Load() != 0 {
			e.ref.Store(0)
			continue
		}
		s := e.slot
		c.unlink(e)
		c.free = c.free[:len(c.free)-1] // unlink freed s; it is taken here
		return s
	}
}

// unlink removes e from its bucket and frees its slot, if it is still
// cached. It needs c.mu. A Get walking the chain at that moment may still
// return e, as it would had it run just before.
func (c *Cache[V]) unlink(e *Entry[V]) {
	if e.slot < 0 {
		return
	}
	p := c.bucket(e.token)
	for x := p.Load(); x != nil; x = x.next.Load() {
		if x == e {
			p.Store(e.next.Load())
			break
		}
		p = &x.next
	}
	c.ring[e.slot] = nil
	c.free = append(c.free, e.slot)
	e.slot = -1
	c.n--
}

// Remove forgets token.
func (c *Cache[V]) Remove(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.bucket(token).Load(); e != nil; e = e.next.Load() {
		if e.token == token {
			c.unlink(e)
			return
		}
	}
}

// Len is the number of entries held, expired ones not yet removed
// included.
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
