package ratelimit

import (
	"context"
	"hash/maphash"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// MemoryConfig configures a MemoryStore. The zero value is ready to use.
type MemoryConfig struct {
	// MaxKeys bounds how many keys the store holds buckets for (give or
	// take one per shard). When it is full, the least recently used key of
	// the new key's shard is evicted. Eviction never hands out quota: what
	// an evicted bucket had spent is kept, approximately and erring toward
	// refusing, in a fixed-size sketch, so its next request finds no more
	// than it left (see MemoryStore). The sketch can cost a new key tokens
	// when it collides with keys spent for longer, so still size MaxKeys
	// above the number of keys active within the longest limit's Window,
	// and watch Evictions. Default: 100,000 (about 31 MB with one limit
	// per key: some 310 bytes a key, 110 more per further limit name the
	// key holds, and a 2 MiB sketch; see MemoryStore).
	MaxKeys int
	// Shards is how many independently locked parts the keys are spread
	// over, so concurrent requests on different keys rarely wait for one
	// another. Capped at MaxKeys, then rounded up to a power of two.
	// Default: 16 × GOMAXPROCS, at least 64.
	Shards int
	// Now is the clock. Default: time.Now. Tests inject a fake one.
	Now func() time.Time
}

// MemoryStore is the in-process Store: for every key, one x/time/rate token
// bucket (a rate.Limiter) per limit, held in sharded least-recently-used
// caches bounded by MaxKeys. It is safe for concurrent use.
//
// A decision is made under the key's shard lock, against a time read under
// that lock, and a shard's time never runs backwards: concurrent requests on
// one key are decided one after another, each at a time no earlier than the
// last, so 1,000 goroutines on a full bucket of 100 let exactly 100 through.
// This is what a bare Limiter.Allow cannot promise: it reads time.Now before
// taking the limiter's lock, so under load a goroutine holding an older time
// moves the limiter's clock back and the time in between is refilled twice
// (golang/go#56287). Here the limiters are only ever given that locked,
// monotonic time, through their *At and *N(t) methods.
//
// A key's limits are decided atomically: the request is allowed only if
// every limiter has a whole token at that time (TokensAt), and only then
// does it take one from each (AllowN); a refusal by one limit takes nothing
// from the others. The headers are computed from the same TokensAt and the
// limit's own Events per Per. Each limiter's rate is rounded up by two
// units in the last place, so that float rounding never leaves a client
// that waited exactly RetryAfter a hair short of its token.
//
// A key's state is kept per limit name: the key holds one limiter for
// every limit name it has been counted against, whichever of them a request
// names, in whatever order. A request that names only some of them leaves
// the others counting (and refilling with time) as they were, so limiters
// with different limit names that share a store, or a LimitFor that answers
// for some of a client's requests and falls back to Config.Limits for the
// others, never refill one another. A limit name the key has not had starts
// full. A limiter that is full again holds nothing a fresh one would not,
// so one that the latest request did not name is reused for a new name: a
// key holds no more limiters than the most names it used within about one
// Window, usually just the few names configured.
//
// When a limit name comes back with another plan (an account's Events, Per
// or Burst changed), what the key had used of it carries over exactly,
// through x/time/rate's API, which has no setter for the tokens: SetLimitAt
// and SetBurstAt give the limiter the new rate and burst, and the
// difference in capacity is taken with AllowN or, on an upgrade, given back
// with a negative AllowN (a negative count returns tokens;
// golang/go#54082). An upgrade from 5 to 100 after 5 requests leaves 95, and
// a downgrade never refills.
//
// # Eviction
//
// Memory is bounded at any number of keys (MaxKeys), and eviction is
// unable to hand out quota. A full bucket is the same as no state: one the
// store evicts leaves nothing behind, and a new bucket for its key starts
// full as it would have been. An evicted bucket that is not full leaves,
// per limit name, the time it will be full again in a count-min-style
// sketch over key hashes (four rows of a fixed width; 2 MiB at the
// default MaxKeys): each cell keeps the latest time written to it, and a
// bucket made for a key and name the store does not hold starts from the
// earliest of its cells. That time is never earlier than the evicted
// bucket's own, so a client who spent its quota, went idle and was pushed
// out by a flood of minted keys comes back to the bucket it left, refilled
// only by the time that passed.
//
// What is approximate: a new key whose cells were all written by keys that
// were spent for longer (a flood of spent keys, far more evicted keys than
// cells) starts with less than a full bucket, until those times pass; the
// sketch errs toward refusing, never toward admitting. A key whose plan
// (Events, Per, Burst) changed while it was evicted comes back with the
// time it would be full again under its old plan, applied at its new rate.
//
// A decision on a known key does not allocate.
type MemoryStore struct {
	shards []memShard
	mask   uint64
	seed   maphash.Seed
	epoch  time.Time
	now    func() time.Time // nil: the default clock (see elapsed)
	// spent outlives the buckets evicted while not full (see MemoryStore),
	// made the first time something is recorded, of spentLines lines.
	spent      atomic.Pointer[spentSketch]
	spentLines int

	maxKeys int64
	keys    atomic.Int64
}

type memShard struct {
	mu sync.Mutex // held while the clock is read and a bucket decided
	// last is the shard's latest time, nanoseconds since the store's
	// epoch: a clock that goes back finds the shard's time standing still.
	last      int64
	lru       *simplelru.LRU[string, *bucket]
	evictions atomic.Uint64
	_         [64]byte // keeps neighbouring shards' locks off one cache line
}

// bucket is all of one key's limiters, one per limit name: held[i] counts
// limits[i], the limits of the key's latest request, and held[len(limits):]
// are the names that request did not name, still counting. A counter never
// moves, so its state is never copied; only the pointers are reordered. The
// common single-limit case needs no second allocation. A bucket is only
// touched under its shard's lock, so the limiters' own mutexes are never
// contended.
type bucket struct {
	limits []Limit // of the latest request
	held   []*counter
	one    [1]*counter // held's first backing array
	first  counter
}

// counter is one limit name's limiter. Its plan, the limit it was last set
// for, is its burst (the capacity) and its rate (limiterRate).
type counter struct {
	name string
	lim  rate.Limiter
	// seen is when another store last said this bucket is full again
	// (see Observe), in nanoseconds since the store's epoch; at first, when
	// the bucket made was full again.
	seen int64
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
	} else {
		s.now = cfg.Now
		s.epoch = s.now()
	}
	s.spentLines = sketchLines(cfg.MaxKeys)
	// Keys do not hash perfectly evenly, so a shard may hold up to twice
	// its share; the store-wide count keeps the total at MaxKeys.
	per := 2*((cfg.MaxKeys+n-1)/n) + 8
	for i := range s.shards {
		sh := &s.shards[i]
		sh.lru, _ = simplelru.NewLRU[string, *bucket](per, func(key string, b *bucket) {
			sh.evictions.Add(1)
			s.keys.Add(-1)
			s.forget(key, b, sh.last)
		})
	}
	return s
}

// forget keeps what an evicted bucket had spent: every limit name of it
// that is not full at now (the shard's time, under its lock) is recorded in
// the sketch with the time it will be full again. A full one leaves
// nothing: it holds no more than a bucket made new.
func (s *MemoryStore) forget(key string, b *bucket, now int64) {
	at := s.epoch.Add(time.Duration(now))
	for _, c := range b.held {
		if d := c.fullIn(at); d > 0 {
			s.remember(key, c.name, now, d)
		}
	}
}

// recall makes c, just set to count l of key at time at (now, in the
// shard's nanoseconds), no fuller than the sketch says a forgotten bucket
// of that name was.
func (s *MemoryStore) recall(key string, c *counter, l Limit, at time.Time, now int64) {
	c.seen = now
	sk := s.spent.Load()
	if sk == nil {
		return // nothing was ever forgotten or observed
	}
	if fullAt := sk.fullAt(sk.pairHash(key, l.Name)); fullAt > now {
		c.fullAfter(l, at, time.Duration(fullAt-now))
		c.seen = fullAt
	}
}

// remember records in the sketch that key's limit name is full again d
// after now (the shard's nanoseconds), making the sketch if there is none.
func (s *MemoryStore) remember(key, name string, now int64, d time.Duration) {
	sk := s.spent.Load()
	if sk == nil {
		s.spent.CompareAndSwap(nil, newSketch(s.seed, s.spentLines))
		sk = s.spent.Load()
	}
	sk.record(sk.pairHash(key, name), now+int64(min(d, math.MaxInt64-time.Duration(now))))
}

// Evictions is how many keys were evicted because the store was full. A
// growing count means MaxKeys is too small for the traffic: an evicted key
// gets no quota back, but new keys may start short while the sketch of
// evicted buckets is crowded (see MemoryStore).
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

// elapsed is the clock, as nanoseconds since epoch. The default clock reads
// only the monotonic clock, which costs less than time.Now.
func (s *MemoryStore) elapsed() int64 {
	if s.now == nil {
		return int64(time.Since(s.epoch))
	}
	return int64(s.now().Sub(s.epoch))
}

// Allow implements Store. limits must be valid (see Limit.Validate); it
// never returns an error.
func (s *MemoryStore) Allow(_ context.Context, key string, limits []Limit) (Decision, error) {
	var buf [4]float64
	tokens := buf[:0] // per limit, after this request
	if len(limits) > len(buf) {
		tokens = make([]float64, 0, len(limits))
	}
	sh := &s.shards[maphash.String(s.seed, key)&s.mask]

	sh.mu.Lock()
	now := max(s.elapsed(), sh.last)
	sh.last = now
	at := s.epoch.Add(time.Duration(now))
	b, ok := sh.lru.Get(key)
	if !ok {
		if s.keys.Add(1) > s.maxKeys && sh.lru.Len() > 0 {
			sh.lru.RemoveOldest()
		}
		b = s.newBucket(key, limits, at, now)
		sh.lru.Add(key, b)
	} else if !sameLimits(b.limits, limits) {
		s.adapt(key, b, limits, at, now)
	}
	allowed := true
	held := b.held[:len(limits)]
	for _, c := range held {
		t := c.lim.TokensAt(at)
		if t < 1 {
			allowed = false
		}
		tokens = append(tokens, t)
	}
	if allowed {
		for i, c := range held {
			c.lim.AllowN(at, 1)
			tokens[i]--
		}
	}
	sh.mu.Unlock()

	if len(limits) == 1 {
		st := limitState(limits[0], tokens[0], allowed)
		return Decision{Allowed: allowed, Limit: st.Limit, Remaining: st.Remaining, Reset: st.Reset, RetryAfter: st.RetryAfter, At: at}, nil
	}
	var sbuf [4]LimitState
	states := sbuf[:0]
	if len(limits) > len(sbuf) {
		states = make([]LimitState, 0, len(limits))
	}
	for i, l := range limits {
		states = append(states, limitState(l, tokens[i], allowed))
	}
	d := Combine(states)
	d.At = at
	return d, nil
}

// Observe tells the store how another store that draws on the same budget
// left key's buckets: states[i] is limits[i]'s bucket as the other store
// computed it, of which Observe reads Reset, the time until it is full
// again.
//
// A bucket the store holds for one of the limit names, on the same plan,
// then holds no more than the other store said, and on top of what it
// admitted itself it gives up what the other store spent since it last
// heard from it (or since it made the bucket): the two stores' requests are
// taken from one budget. It is never raised. For a name it does not hold,
// the time is remembered in the same fixed-size structure that outlives
// evicted buckets (see MemoryStore), and a bucket it makes for that name
// later starts no fuller. Observe makes no bucket and, once that structure
// exists, allocates nothing, so observing any number of keys leaves the
// store's size as it was.
//
// ratelimit/redisstore calls it on its fallback after every decision made
// on Redis: when Redis fails, the fallback starts from what Redis last
// said, not from a full bucket.
func (s *MemoryStore) Observe(key string, limits []Limit, states []LimitState) {
	sh := &s.shards[maphash.String(s.seed, key)&s.mask]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := max(s.elapsed(), sh.last)
	sh.last = now
	at := s.epoch.Add(time.Duration(now))
	b, held := sh.lru.Peek(key)
	for i, l := range limits[:min(len(limits), len(states))] {
		d := states[i].Reset
		if d <= 0 {
			continue
		}
		var c *counter
		if held {
			for _, h := range b.held {
				if h.name == l.Name {
					c = h
					break
				}
			}
		}
		if c != nil && c.lim.Burst() == l.Capacity() && c.lim.Limit() == limiterRate(l) {
			// Time is the measure of both stores' buckets, so a share of
			// a budget (a slower rate, a smaller capacity) gives up its
			// share of what the other spent: a full-again time pushed on
			// by the same span.
			fullAt := now + int64(min(d, math.MaxInt64-time.Duration(now)))
			want := d
			if spentThere := fullAt - c.seen; spentThere > 0 {
				want = max(want, c.fullIn(at)+time.Duration(spentThere))
			}
			c.fullAfter(l, at, want)
			c.seen = max(c.seen, fullAt)
			continue
		}
		s.remember(key, l.Name, now, d)
	}
}

// limitState reports a limit that holds tokens after the decision: taken
// from if the request was allowed, untouched if it was refused.
func limitState(l Limit, tokens float64, allowed bool) LimitState {
	capacity := l.Capacity()
	perToken := float64(l.Per) / float64(l.Events) // nanoseconds per token
	st := LimitState{
		Limit:     capacity,
		Remaining: int(tokens),
		Reset:     ceilDuration((float64(capacity) - tokens) * perToken),
	}
	if !allowed && tokens < 1 {
		st.RetryAfter = ceilDuration((1 - tokens) * perToken)
	}
	return st
}

// newBucket makes key's bucket for limits at time at (now in the shard's
// nanoseconds): full, or as spent as the sketch remembers it.
func (s *MemoryStore) newBucket(key string, limits []Limit, at time.Time, now int64) *bucket {
	b := &bucket{limits: limits}
	b.held = b.one[:0]
	var more []counter
	if len(limits) > 1 {
		more = make([]counter, len(limits)-1)
		b.held = make([]*counter, 0, len(limits))
	}
	for i, l := range limits {
		c := &b.first
		if i > 0 {
			c = &more[i-1]
		}
		c.set(l, at)
		s.recall(key, c, l, at, now)
		b.held = append(b.held, c)
	}
	return b
}

// limiterRate is l's refill rate in tokens per second, for x/time/rate,
// rounded up by two units in the last place: float rounding in the
// limiter's refill (elapsed seconds × rate) then never falls short of the
// whole token that a wait of RetryAfter promised.
func limiterRate(l Limit) rate.Limit {
	r := float64(l.Events) / l.Per.Seconds()
	return rate.Limit(math.Nextafter(math.Nextafter(r, math.Inf(1)), math.Inf(1)))
}

// set makes c, whatever it held, l's limiter, full at time at.
func (c *counter) set(l Limit, at time.Time) {
	c.name = l.Name
	// A burst of 0 caps whatever tokens lim held to none.
	c.lim.SetBurstAt(at, 0)
	c.lim.SetBurstAt(at, l.Capacity())
	c.lim.SetLimitAt(at, limiterRate(l))
	c.lim.AllowN(at, -l.Capacity()) // a negative count returns tokens
}

// full reports whether c's bucket is full at time at: it then holds
// nothing a fresh limiter would not.
func (c *counter) full(at time.Time) bool {
	return c.lim.TokensAt(at) >= float64(c.lim.Burst())
}

// carryOver moves c to count l at time at, if it counted another plan,
// keeping what the key had used of the old capacity as used of l's: an
// upgrade from 5 to 100 after 5 requests leaves 95, and a downgrade never
// refills.
func (c *counter) carryOver(l Limit, at time.Time) {
	lim := &c.lim
	oldCap, newCap, r := lim.Burst(), l.Capacity(), limiterRate(l)
	if oldCap == newCap && lim.Limit() == r {
		return
	}
	if newCap > oldCap {
		lim.SetBurstAt(at, newCap) // so the tokens given back fit
	}
	if lim.TokensAt(at) > float64(oldCap-newCap) {
		// Takes the capacity lost, or with a negative count gives the
		// capacity gained; a burst of at least oldCap holds either.
		lim.AllowN(at, oldCap-newCap)
	} else {
		// Used more than the new capacity: empty, as a burst of 0
		// caps the tokens to none.
		lim.SetBurstAt(at, 0)
	}
	lim.SetBurstAt(at, newCap)
	lim.SetLimitAt(at, r)
}

// adapt moves key's bucket b to a new set of limits: each limit is counted
// by the limiter of its name, carried over to its plan, or by a fresh one
// (as spent as the sketch remembers) if the key has none; the limiters of
// the names left out keep counting (see MemoryStore).
func (s *MemoryStore) adapt(key string, b *bucket, limits []Limit, at time.Time, now int64) {
	var buf [8]*counter
	next := buf[:0] // the new held
	if n := len(limits) + len(b.held); n > len(buf) {
		next = make([]*counter, 0, n)
	}
	missing := 0
	for _, l := range limits {
		var c *counter
		for j, h := range b.held {
			if h != nil && h.name == l.Name {
				c, b.held[j] = h, nil
				c.carryOver(l, at)
				break
			}
		}
		if c == nil {
			missing++
		}
		next = append(next, c) // nil: a name the key has not had, filled below
	}
	// The names left out keep counting, but one whose limiter is full
	// again holds nothing a fresh limiter would not: it is reused for a
	// missing name.
	for _, h := range b.held {
		switch {
		case h == nil:
		case missing > 0 && h.full(at):
			i := slices.Index(next, nil)
			next[i] = h
			h.set(limits[i], at)
			s.recall(key, h, limits[i], at, now)
			missing--
		default:
			next = append(next, h)
		}
	}
	for i := 0; missing > 0; i++ {
		if next[i] == nil {
			next[i] = new(counter)
			next[i].set(limits[i], at)
			s.recall(key, next[i], limits[i], at, now)
			missing--
		}
	}
	clear(b.held)
	b.held = append(b.held[:0], next...)
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
