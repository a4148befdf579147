package ratelimit

import (
	"context"
	"hash/maphash"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// MemoryConfig configures a MemoryStore. The zero value is ready to use.
type MemoryConfig struct {
	// MaxKeys bounds how many keys the store holds buckets for (give or
	// take one per shard). When it is full, the least recently used key of
	// the new key's shard is evicted; its next request starts with a full
	// bucket, so size MaxKeys above the number of keys active within the
	// longest limit's Window, and watch Evictions. Default: 100,000 (about
	// 21 MB with one limit per key: some 215 bytes a key).
	MaxKeys int
	// Shards is how many independently locked parts the keys are spread
	// over, so concurrent requests on different keys rarely wait for one
	// another. Rounded up to a power of two. Default: 16 × GOMAXPROCS,
	// at least 64, and never more than MaxKeys.
	Shards int
	// Now is the clock. Default: time.Now. Tests inject a fake one.
	Now func() time.Time
}

// MemoryStore is the in-process Store: token buckets per key, held in
// sharded least-recently-used caches bounded by MaxKeys. It is safe for
// concurrent use.
//
// It is exact under contention. The clock is read after the shard's lock is
// taken, and a bucket's clock never moves backwards, so concurrent requests
// on one key are decided one after another against a consistent time: 1,000
// goroutines on a full bucket of 100 let exactly 100 through. (x/time/rate's
// Limiter.Allow reads the clock before taking its lock, which lets a
// goroutine with an older time refill a bucket twice under load.)
//
// The buckets are x/time/rate's token bucket, computed inline under the
// shard lock rather than held as rate.Limiter values: 8 bytes per limit
// instead of 80 with a mutex of its own, one lock per decision instead of
// one per limit, and all of a key's limits decided atomically. A decision
// on a known key does not allocate.
type MemoryStore struct {
	shards []memShard
	mask   uint64
	seed   maphash.Seed
	epoch  time.Time
	// elapsed is the clock, as nanoseconds since epoch. With the default
	// clock it reads only the monotonic clock, which costs less than
	// time.Now.
	elapsed func() int64

	maxKeys int64
	keys    atomic.Int64
}

type memShard struct {
	mu        sync.Mutex // held while the clock is read and a bucket decided
	lru       *simplelru.LRU[string, *bucket]
	evictions atomic.Uint64
	_         [64]byte // keeps neighbouring shards' locks off one cache line
}

// bucket is all of one key's limits. The common single-limit case needs no
// second allocation.
type bucket struct {
	limits []Limit // the limits the tokens were computed for
	last   int64   // nanoseconds since the store's epoch
	tokens float64
	more   []float64 // tokens of limits[1:]
}

// NewMemoryStore returns an empty MemoryStore. It panics if MaxKeys or
// Shards is negative.
func NewMemoryStore(cfg MemoryConfig) *MemoryStore {
	if cfg.MaxKeys < 0 || cfg.Shards < 0 {
		panic("ratelimit.NewMemoryStore: MaxKeys and Shards must not be negative")
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = 100_000
	}
	if cfg.Shards == 0 {
		cfg.Shards = max(64, 16*runtime.GOMAXPROCS(0))
	}
	cfg.Shards = min(cfg.Shards, cfg.MaxKeys)
	n := 1
	for n < cfg.Shards {
		n <<= 1
	}
	s := &MemoryStore{
		shards:  make([]memShard, n),
		mask:    uint64(n - 1),
		seed:    maphash.MakeSeed(),
		maxKeys: int64(cfg.MaxKeys),
	}
	if cfg.Now == nil {
		s.epoch = time.Now()
		s.elapsed = func() int64 { return int64(time.Since(s.epoch)) }
	} else {
		now := cfg.Now
		s.epoch = now()
		s.elapsed = func() int64 { return int64(now().Sub(s.epoch)) }
	}
	// Keys do not hash perfectly evenly, so a shard may hold up to twice
	// its share; the store-wide count keeps the total at MaxKeys.
	per := 2*((cfg.MaxKeys+n-1)/n) + 8
	for i := range s.shards {
		sh := &s.shards[i]
		sh.lru, _ = simplelru.NewLRU[string, *bucket](per, func(string, *bucket) {
			sh.evictions.Add(1)
			s.keys.Add(-1)
		})
	}
	return s
}

// Evictions is how many keys were evicted because the store was full. A
// growing count means MaxKeys is too small for the traffic: evicted keys
// start again with full buckets.
func (s *MemoryStore) Evictions() uint64 {
	var n uint64
	for i := range s.shards {
		n += s.shards[i].evictions.Load()
	}
	return n
}

// Len is how many keys the store holds buckets for.
func (s *MemoryStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.lru.Len()
		sh.mu.Unlock()
	}
	return n
}

// Allow implements Store. limits must be valid (see Limit.Validate); it
// never returns an error.
func (s *MemoryStore) Allow(_ context.Context, key string, limits []Limit) (Decision, error) {
	var buf [4]LimitState
	states := buf[:0]
	if len(limits) > len(buf) {
		states = make([]LimitState, 0, len(limits))
	}
	sh := &s.shards[maphash.String(s.seed, key)&s.mask]

	sh.mu.Lock()
	now := s.elapsed()
	b, ok := sh.lru.Get(key)
	if !ok {
		if s.keys.Add(1) > s.maxKeys && sh.lru.Len() > 0 {
			sh.lru.RemoveOldest()
		}
		b = newBucket(limits, now)
		sh.lru.Add(key, b)
	} else if !sameLimits(b.limits, limits) {
		b.adapt(limits)
	}
	if now < b.last {
		now = b.last
	}
	elapsed := float64(now - b.last)
	b.last = now
	allowed := true
	for i, l := range limits {
		t := b.tokenPtr(i)
		capacity := l.Capacity()
		perToken := float64(l.Per) / float64(l.Events) // nanoseconds per token
		*t = math.Min(float64(capacity), *t+elapsed/perToken)
		// Written as if the request is allowed; fixed below if not.
		st := LimitState{
			Limit:     capacity,
			Remaining: int(*t - 1),
			Reset:     ceilDuration((float64(capacity) - *t + 1) * perToken),
		}
		if *t < 1 {
			allowed = false
			st.RetryAfter = ceilDuration((1 - *t) * perToken)
		}
		states = append(states, st)
	}
	if allowed {
		for i := range limits {
			*b.tokenPtr(i) -= 1
		}
	} else {
		for i, l := range limits {
			t := *b.tokenPtr(i)
			states[i].Remaining = int(t)
			states[i].Reset = ceilDuration((float64(l.Capacity()) - t) * float64(l.Per) / float64(l.Events))
		}
	}
	sh.mu.Unlock()
	var d Decision
	if len(states) == 1 {
		st := &states[0]
		d = Decision{Allowed: allowed, Limit: st.Limit, Remaining: st.Remaining, Reset: st.Reset, RetryAfter: st.RetryAfter}
	} else {
		d = Combine(states)
	}
	d.At = s.epoch.Add(time.Duration(now))
	return d, nil
}

func newBucket(limits []Limit, now int64) *bucket {
	b := &bucket{limits: limits, last: now, tokens: float64(limits[0].Capacity())}
	if len(limits) > 1 {
		b.more = make([]float64, len(limits)-1)
		for i, l := range limits[1:] {
			b.more[i] = float64(l.Capacity())
		}
	}
	return b
}

func (b *bucket) tokenPtr(i int) *float64 {
	if i == 0 {
		return &b.tokens
	}
	return &b.more[i-1]
}

// adapt carries a key's usage over to a new set of limits (an account's
// plan changed): limits are matched by name, and what the key had used of
// the old capacity stays used of the new one, so an upgrade from 5 to 100
// after 5 requests leaves 95, and a downgrade never refills. A limit the key
// did not have before starts full.
func (b *bucket) adapt(limits []Limit) {
	used := make(map[string]float64, len(b.limits))
	for i, l := range b.limits {
		used[l.Name] = float64(l.Capacity()) - *b.tokenPtr(i)
	}
	if n := len(limits) - 1; cap(b.more) >= n {
		b.more = b.more[:n]
	} else {
		b.more = make([]float64, n)
	}
	for i, l := range limits {
		*b.tokenPtr(i) = max(0, float64(l.Capacity())-used[l.Name])
	}
	b.limits = limits
}

// sameLimits is true when a and b are the same limits; the configured
// limits share one backing array, which makes the common case one pointer
// comparison.
func sameLimits(a, b []Limit) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
