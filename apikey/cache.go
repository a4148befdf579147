package apikey

import (
	"sync"
	"sync/atomic"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
)

// entry is what the cache knows of one digest: the key it belongs to, as
// read from the store (with the principal built once for it), or that no
// key has it (negative). Entries are immutable but for the atomics.
type entry struct {
	id        string
	principal *principal.Principal
	// refusal is set for a key that is not active: every request with it
	// gets this error (invalid_token, with the reason for the log).
	refusal *tgerrors.Error
	// expired is the error once expNano has passed, graceOver once
	// untilNano has: made once, so a refusal allocates nothing either.
	expired, graceOver *tgerrors.Error
	// expNano is the key's ExpiresAt, untilNano the rotated-out secret's
	// Until, staleAt when the entry must be read again from the store;
	// Unix nanoseconds, 0 for never.
	expNano, untilNano, staleAt int64
	negative                    bool
	limitedUses                 bool
	// epoch is the cache's epoch when the entry was made: a flush bumps
	// the epoch and every older entry is a miss.
	epoch uint64
	dead  atomic.Bool // the key changed since: a miss
	hits  atomic.Uint32
	// lastUse is when a last-used write for the key was last queued.
	lastUse atomic.Int64
}

// cacheShards spreads the cache over several LRUs, each with its own lock.
const cacheShards = 16

// promoteEvery is how many hits an entry takes between two moves to the
// front of its LRU list (a move needs the write lock; hits take the read
// lock), as in the JWT verifier's cache.
const promoteEvery = 32

// recentChanges is how many key changes the cache remembers, to refuse
// caching the result of a lookup that raced with one of them.
const recentChanges = 256

// cache maps the digest of a token under the newest pepper to its entry.
// It is never keyed by the token itself, so the cache holds no secret.
//
// Invalidation is by key id: invalidate marks the key's entries dead and
// records the change, and put refuses an entry whose lookup began before a
// change to its key (the lookup read the old row while the change was
// committing), so a change can never be overwritten by a slower read.
type cache struct {
	shards [cacheShards]cacheShard
	epoch  atomic.Uint64

	mu     sync.Mutex // guards everything below
	byID   map[string][]*entry
	seq    uint64 // changes so far
	flushS uint64 // seq of the last flush
	ring   [recentChanges]change
}

type cacheShard struct {
	mu  sync.RWMutex
	lru *simplelru.LRU[Digest, *entry]
}

type change struct {
	id  string
	seq uint64
}

func newCache(size int) *cache {
	c := &cache{byID: map[string][]*entry{}}
	per := max((size+cacheShards-1)/cacheShards, 1)
	for i := range c.shards {
		l, err := simplelru.NewLRU[Digest, *entry](per, c.evicted)
		if err != nil {
			panic("apikey: cache: " + err.Error()) // per > 0, so NewLRU cannot fail
		}
		c.shards[i].lru = l
	}
	return c
}

func (c *cache) shard(d Digest) *cacheShard { return &c.shards[d[0]%cacheShards] }

// get returns the live entry for d, or nil. Zero allocations.
func (c *cache) get(d Digest) *entry {
	s := c.shard(d)
	s.mu.RLock()
	e, ok := s.lru.Peek(d)
	s.mu.RUnlock()
	if !ok || e.dead.Load() || e.epoch != c.epoch.Load() {
		return nil
	}
	if e.hits.Add(1)%promoteEvery == 0 {
		s.mu.Lock()
		s.lru.Get(d)
		s.mu.Unlock()
	}
	return e
}

// begin returns the change sequence before a store lookup, for put.
func (c *cache) begin() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq
}

// put caches e under d, unless its key (or everything) changed since
// begin returned since; it reports whether it did.
func (c *cache) put(d Digest, e *entry, since uint64) bool {
	e.epoch = c.epoch.Load()
	c.mu.Lock()
	if c.changedSince(e.id, since) {
		c.mu.Unlock()
		return false
	}
	if !e.negative {
		c.byID[e.id] = append(c.byID[e.id], e)
	}
	c.mu.Unlock()
	s := c.shard(d)
	s.mu.Lock()
	s.lru.Remove(d)
	s.lru.Add(d, e)
	s.mu.Unlock()
	return true
}

// changedSince reports whether key id, or every key, changed after
// sequence since, or may have (the change was forgotten). c.mu is held.
func (c *cache) changedSince(id string, since uint64) bool {
	if c.seq == since {
		return false
	}
	if c.flushS > since || c.seq-since > recentChanges {
		return true
	}
	if id == "" {
		return false
	}
	for s := since + 1; s <= c.seq; s++ {
		if ch := c.ring[s%recentChanges]; ch.seq == s && ch.id == id {
			return true
		}
	}
	return false
}

// invalidate drops the entries of key id; later lookups read the store.
func (c *cache) invalidate(id string) {
	c.mu.Lock()
	c.seq++
	c.ring[c.seq%recentChanges] = change{id: id, seq: c.seq}
	for _, e := range c.byID[id] {
		e.dead.Store(true)
	}
	delete(c.byID, id)
	c.mu.Unlock()
}

// flush drops every entry, negative ones included.
func (c *cache) flush() {
	c.mu.Lock()
	c.seq++
	c.flushS = c.seq
	c.epoch.Add(1)
	for _, es := range c.byID {
		for _, e := range es {
			e.dead.Store(true)
		}
	}
	clear(c.byID)
	c.mu.Unlock()
}

// evicted is the LRUs' eviction callback (a shard's lock is held).
func (c *cache) evicted(_ Digest, e *entry) {
	if e.negative {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	es := c.byID[e.id]
	for i, x := range es {
		if x == e {
			es = append(es[:i], es[i+1:]...)
			break
		}
	}
	if len(es) == 0 {
		delete(c.byID, e.id)
	} else {
		c.byID[e.id] = es
	}
}
