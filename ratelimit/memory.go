package ratelimit

import (
	"context"
	"hash/maphash"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryConfig configures a MemoryStore. The zero value is ready to use.
type MemoryConfig struct {
	// MaxKeys bounds how many buckets the store holds: one per key and
	// limit name (give or take a few per shard). When it is full, a
	// bucket of the new one's shard is evicted: of a few near it, the one
	// that will be full again soonest, so a full bucket (which holds
	// nothing) goes first. Eviction never hands out quota: what an evicted
	// bucket had spent is kept, approximately and erring toward refusing,
	// in a fixed-size sketch, so its next request finds no more than it
	// left (see MemoryStore). The sketch can cost a new key tokens when it
	// collides with keys spent for longer, so still size MaxKeys above the
	// number of buckets spent within the longest limit's Window, and
	// watch Evictions. Default: 100,000 (about 8 MB when full: at most 64
	// bytes a bucket and a 2 MiB sketch; see MemoryStore).
	MaxKeys int
	// Shards is how many independently locked parts the keys are spread
	// over, so concurrent requests on different keys rarely wait for one
	// another. Capped at MaxKeys, then rounded up to a power of two.
	// Default: 16 × GOMAXPROCS, at least 64.
	Shards int
	// Now is the clock. Default: time.Now. Tests inject a fake one.
	Now func() time.Time
}

// MemoryStore is the in-process Store. It is safe for concurrent use.
//
// # The model
//
// Each bucket is kept as one number, the time it will be full again (the
// theoretical arrival time of the generic cell rate algorithm): a bucket of
// capacity C whose tokens come back one every T holds C - (full-now)/T
// tokens at now, and all C once full is past. A request is allowed when
// the bucket has a whole token, full-now ≤ (C-1)·T, and then pushes full
// on by T from now or from where it was, whichever is later. This is
// exactly the token bucket of Limit (a fresh key admits C at once, then
// one every T); Remaining, Reset and RetryAfter are read from the same
// number in whole nanoseconds, so a client that waits RetryAfter is
// admitted. T is Per/Events rounded up to the nanosecond: exact for every
// limit whose Per is a whole number of nanoseconds per event, and
// otherwise less than a nanosecond a token slower than configured (a
// thousandth at a million a second on one key), never faster.
//
// A decision is made under the key's shard lock, and a shard's time never
// runs backwards: the clock is read before the lock is taken (so that
// reading it does not hold the others up), and the decision is made at the
// later of that time and the shard's last, so concurrent requests on one
// key are decided one after another, each at a time no earlier than the
// last. 1,000 goroutines on a full bucket of 100 let exactly 100 through,
// and a clock that goes back refills nothing. (A bare x/time/rate
// Limiter.Allow cannot promise this: under load a goroutine holding an
// older time moves its clock back and the time in between is refilled
// twice, golang/go#56287.)
//
// A key's limits are decided atomically: the request is allowed only if
// every limit has a whole token, and only then does it take one from
// each; a refusal by one limit takes nothing from the others.
//
// A key's state is kept per limit name, one bucket for every name it has
// been counted against, whichever of them a request names, in whatever
// order. A request that names only some of them leaves the others
// counting (and refilling with time) as they were, so limiters with
// different limit names that share a store, or a LimitFor that answers for
// some of a client's requests and falls back to Config.Limits for the
// others, never refill one another. A limit name the key has not had
// starts full.
//
// When a limit name comes back with another plan (an account's Events, Per
// or Burst changed), what the key had used of it carries over: the tokens
// it was short of a full bucket under the old plan it is short of under
// the new one, at most the new capacity. An upgrade from 5 to 100 after 5
// requests leaves 95, and a downgrade never refills.
//
// # Layout
//
// The buckets are open-addressed tables (linear probing), one per shard,
// of plain 40-byte records: the bucket's key hash, its full-again time, its
// plan (T and C) and what Observe last heard of it. They hold no pointers,
// so the garbage collector never scans them: a store of a million keys
// adds nothing to a GC cycle's mark work, and decisions keep their tail
// latency at any number of keys. A shard's table grows as keys arrive, to
// at most a fifth more than its share of MaxKeys over a load of 0.8: at
// most 64 bytes a bucket when the store is full, about 50 on average.
//
// A key is never stored, only a 64-bit hash of it and the limit name,
// seeded per store (hash/maphash), so its length costs nothing and no
// client can choose keys that collide. Two (key, name) pairs whose hashes
// agree (about one chance in 10^7 among a million keys) share one bucket:
// each request of either takes its token from it, so a collision only ever
// makes a limit stricter for the two, never looser.
//
// # Eviction
//
// Memory is bounded at any number of keys (MaxKeys), and eviction is
// unable to hand out quota. A full bucket is the same as no state: one the
// store evicts leaves nothing behind, and a new bucket for its key starts
// full as it would have been. An evicted bucket that is not full leaves
// the time it will be full again in a count-min-style sketch over the
// pair hashes (four rows of a fixed width; 2 MiB at the default MaxKeys):
// each cell keeps the latest time written to it, and a bucket made for a
// key and name the store does not hold starts from the earliest of its
// cells. That time is never earlier than the evicted bucket's own, so a
// client who spent its quota, went idle and was pushed out by a flood of
// minted keys comes back to the bucket it left, refilled only by the time
// that passed. The victim is, of the eight buckets nearest the new one's
// place, the one full again soonest, so spent buckets are the last to go.
//
// What is approximate: a new key whose cells were all written by keys that
// were spent for longer (a flood of spent keys, far more evicted keys than
// cells) starts with less than a full bucket, until those times pass; the
// sketch errs toward refusing, never toward admitting. A key whose plan
// changed while it was evicted comes back with the time it would be full
// again under its old plan, at most an empty bucket of its new one.
//
// A decision does not allocate, except that a request naming more than
// four limits allocates its scratch space, and the first four distinct
// limits a store sees are kept once, with their plans and name hashes, so
// that the configured ones cost neither a division nor a hash again.
type MemoryStore struct {
	shards []memShard
	shift  uint // shard index: a key hash's top bits
	seed   maphash.Seed
	epoch  time.Time
	now    func() time.Time // nil: the default clock (see elapsed)
	// spent outlives the buckets evicted while not full (see MemoryStore),
	// made the first time something is recorded, of spentLines lines.
	spent      atomic.Pointer[spentSketch]
	spentLines int

	maxKeys int64
	keys    atomic.Int64
	// known are the first few limits seen, with their plans and name
	// hashes, so the configured limits cost neither a division nor a hash.
	known [4]atomic.Pointer[knownLimit]
}

type knownLimit struct {
	l    Limit
	p    plan
	name uint64 // the name's hash (see nameHash)
}

type memShard struct {
	mu sync.Mutex // held while the clock is read and a bucket decided
	// last is the shard's latest time, nanoseconds since the store's
	// epoch: a clock that goes back finds the shard's time standing still.
	last  int64
	slots []slot // open addressing; nil until the first bucket
	count int    // slots in use
	limit int    // the most buckets the shard holds
	// maxSlots is the table's final size: limit over a load of 0.8, so
	// that a probe always meets an empty slot.
	maxSlots  int
	evictions atomic.Uint64
	_         [64]byte // keeps neighbouring shards' locks off one cache line
}

// slot is one bucket: one limit name of one key. It holds no pointer.
type slot struct {
	h    uint64 // the pair's hash (see pairHash); 0: empty
	full int64  // when the bucket is full again, ns since the store's epoch
	per  int64  // the plan counted: ns a token takes to come back
	cap  int64  // and the capacity
	// seen is when another store last said this bucket is full again
	// (see Observe), in nanoseconds since the store's epoch; at first,
	// when the bucket made was full again.
	seen int64
}

// plan is a Limit as the store counts it, in nanoseconds.
type plan struct {
	per    int64 // per token, rounded up, at least 1
	cap    int64
	tau    int64 // (cap-1)·per: how far behind full a bucket may be and still hold a token
	window int64 // cap·per: an empty bucket's time to fill
}

func planOf(l *Limit) plan {
	ev := int64(l.Events)
	per := int64(l.Per) / ev
	if per*ev != int64(l.Per) || per == 0 {
		per++
	}
	c := int64(l.Capacity())
	return plan{per: per, cap: c, tau: mulSat(c-1, per), window: mulSat(c, per)}
}

// mulSat is a·b for non-negative a and b, or MaxInt64 if that overflows.
func mulSat(a, b int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(lo)
}

// addSat is a+b for non-negative b, or MaxInt64 if that overflows.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
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
	n, shift := 1, uint(64)
	for n < cfg.Shards {
		n <<= 1
		shift--
	}
	s := &MemoryStore{
		shards:  make([]memShard, n),
		shift:   shift,
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
	// Keys do not hash perfectly evenly, so a shard may hold a fifth more
	// than its share (and a few); the store-wide count keeps the total at
	// MaxKeys.
	share := (cfg.MaxKeys + n - 1) / n
	limit := share + share/5 + 8
	for i := range s.shards {
		s.shards[i].limit = limit
		s.shards[i].maxSlots = limit*5/4 + 1
	}
	return s
}

// limit is l's plan and name hash, from known if l is one of them.
func (s *MemoryStore) limit(l *Limit) (plan, uint64) {
	for i := range s.known {
		k := s.known[i].Load()
		if k == nil {
			k = &knownLimit{l: *l, p: planOf(l), name: maphash.String(s.seed, l.Name)}
			if !s.known[i].CompareAndSwap(nil, k) {
				continue
			}
		}
		if k.l == *l {
			return k.p, k.name
		}
	}
	return planOf(l), maphash.String(s.seed, l.Name)
}

// pairHash is the hash of one limit name, whose hash is nh, of the key
// whose hash is kh. It is never 0, which marks an empty slot.
func pairHash(kh, nh uint64) uint64 {
	// Mixing the name's own hash in, then the whole through a finalizer,
	// keeps (key, name) pairs apart even when one key's hash and another
	// name's cancel out under a plain xor, and leaves no bit of the table
	// index tied to the bits that chose the shard.
	h := kh ^ (nh*0x9e3779b97f4a7c15 + 0x632be59bd9b4e019)
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h | 1<<63
}

func (s *MemoryStore) shardOf(kh uint64) *memShard {
	return &s.shards[kh>>s.shift&uint64(len(s.shards)-1)]
}

// home is where the pair hashed to h starts probing.
func (sh *memShard) home(h uint64) int {
	return int(uint64(uint32(h)) * uint64(len(sh.slots)) >> 32)
}

// find returns the index of the slot of h, or -1.
func (sh *memShard) find(h uint64) int {
	n := len(sh.slots)
	if n == 0 {
		return -1
	}
	for i := sh.home(h); ; {
		switch sh.slots[i].h {
		case h:
			return i
		case 0:
			return -1
		}
		if i++; i == n {
			i = 0
		}
	}
}

// put stores v (a bucket the shard does not hold), evicting one if the
// shard or the store is full. now is the shard's time.
func (s *MemoryStore) put(sh *memShard, v slot, now int64) {
	if s.keys.Add(1) > s.maxKeys && sh.count > 0 || sh.count >= sh.limit {
		s.evict(sh, v.h, now)
	}
	if n := len(sh.slots); sh.count+1 > n*4/5 && n < sh.maxSlots {
		sh.grow()
	}
	n := len(sh.slots)
	for i := sh.home(v.h); ; {
		switch sh.slots[i].h {
		case 0:
			sh.slots[i] = v
			sh.count++
			return
		case v.h: // cannot be: v is new
			sh.slots[i].full = max(sh.slots[i].full, v.full)
			s.keys.Add(-1)
			return
		}
		if i++; i == n {
			i = 0
		}
	}
}

// grow doubles the shard's table, up to its final size, and places every
// bucket anew.
func (sh *memShard) grow() {
	old := sh.slots
	sh.slots = make([]slot, min(max(16, 2*len(old)), sh.maxSlots))
	n := len(sh.slots)
	for _, v := range old {
		if v.h == 0 {
			continue
		}
		i := sh.home(v.h)
		for sh.slots[i].h != 0 {
			if i++; i == n {
				i = 0
			}
		}
		sh.slots[i] = v
	}
}

// evict removes one bucket from sh to make room for the pair hashed to h:
// of the eight nearest its place, the one that is full again soonest. One
// that is not full yet is remembered in the sketch (see MemoryStore).
func (s *MemoryStore) evict(sh *memShard, h uint64, now int64) {
	n := len(sh.slots)
	victim, looked := -1, 0
	for i, j := sh.home(h), 0; j < n && looked < 8; j++ {
		if v := &sh.slots[i]; v.h != 0 {
			if victim < 0 || v.full < sh.slots[victim].full {
				victim = i
			}
			looked++
		}
		if i++; i == n {
			i = 0
		}
	}
	if victim < 0 {
		return
	}
	if v := sh.slots[victim]; v.full > now {
		s.remember(v.h, v.full)
	}
	sh.remove(victim)
	sh.evictions.Add(1)
	s.keys.Add(-1)
}

// remove empties slot i, moving the buckets after it back so that each
// stays reachable from its home (backward-shift deletion).
func (sh *memShard) remove(i int) {
	n := len(sh.slots)
	for j := i; ; {
		if j++; j == n {
			j = 0
		}
		if sh.slots[j].h == 0 {
			break
		}
		k := sh.home(sh.slots[j].h)
		// The bucket at j may fill the hole at i unless its home lies
		// cyclically in (i, j].
		if i <= j && (k <= i || k > j) || i > j && k <= i && k > j {
			sh.slots[i] = sh.slots[j]
			i = j
		}
	}
	sh.slots[i] = slot{}
	sh.count--
}

// remember records in the sketch that the pair hashed to h is full again
// at fullAt (the store's nanoseconds), making the sketch if there is none.
func (s *MemoryStore) remember(h uint64, fullAt int64) {
	sk := s.spent.Load()
	if sk == nil {
		s.spent.CompareAndSwap(nil, newSketch(s.spentLines))
		sk = s.spent.Load()
	}
	sk.record(h, fullAt)
}

// recall is a new bucket of p for the pair hashed to h at now: full, or
// no fuller than the sketch says a forgotten bucket of it was.
func (s *MemoryStore) recall(h uint64, p *plan, now int64) slot {
	v := slot{h: h, full: now, per: p.per, cap: p.cap, seen: now}
	if sk := s.spent.Load(); sk != nil {
		if at := sk.fullAt(h); at > now {
			v.full = min(at, addSat(now, p.window))
			v.seen = at
		}
	}
	return v
}

// carryOver moves v to plan p at now, if it counted another plan, keeping
// what the key had used: the tokens it is short of a full bucket, at most
// p's capacity.
func (v *slot) carryOver(p *plan, now int64) {
	if v.per == p.per && v.cap == p.cap {
		return
	}
	if behind := v.full - now; behind > 0 {
		// behind/v.per tokens short, each taking p.per now; rounded up.
		hi, lo := bits.Mul64(uint64(behind), uint64(p.per))
		d := int64(math.MaxInt64)
		if hi < uint64(v.per) {
			q, r := bits.Div64(hi, lo, uint64(v.per))
			if r > 0 {
				q++
			}
			if q <= math.MaxInt64 {
				d = int64(q)
			}
		}
		v.full = addSat(now, min(d, p.window))
	}
	v.per, v.cap = p.per, p.cap
}

// Evictions is how many buckets were evicted because the store was full.
// A growing count means MaxKeys is too small for the traffic: an evicted
// key gets no quota back, but new keys may start short while the sketch of
// evicted buckets is crowded (see MemoryStore).
func (s *MemoryStore) Evictions() uint64 {
	var n uint64
	for i := range s.shards {
		n += s.shards[i].evictions.Load()
	}
	return n
}

// Len is how many buckets the store holds: one per key and limit name.
func (s *MemoryStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.count
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

// tick is the shard's time for a decision, under its lock, given the
// clock's t read before the lock was taken: the later of t and the
// shard's last time. A goroutine that read the clock and then waited for
// the lock is decided at the time of the decision before it, never at an
// earlier one, so no time is refilled twice.
func (sh *memShard) tick(t int64) int64 {
	now := max(t, sh.last)
	sh.last = now
	return now
}

// Allow implements Store. limits must be valid (see Limit.Validate); it
// never returns an error.
func (s *MemoryStore) Allow(_ context.Context, key string, limits []Limit) (Decision, error) {
	return s.allowN(key, limits, 1), nil
}

// AllowN implements WeightedStore: the request takes cost tokens from every
// limit at once, or none. A cost below 1 counts as 1; a cost above a
// limit's capacity is always refused. It never returns an error.
func (s *MemoryStore) AllowN(_ context.Context, key string, limits []Limit, cost int) (Decision, error) {
	return s.allowN(key, limits, int64(max(cost, 1))), nil
}

func (s *MemoryStore) allowN(key string, limits []Limit, cost int64) Decision {
	kh := maphash.String(s.seed, key)
	if len(limits) == 1 {
		return s.allowOne(kh, &limits[0], cost)
	}
	return s.allowMany(kh, limits, cost)
}

// fits reports whether a bucket of p that is behind nanoseconds short of
// full holds cost tokens.
func (p *plan) fits(behind, cost int64) bool {
	if cost == 1 {
		return behind <= p.tau
	}
	return cost <= p.cap && max(behind, 0) <= p.tau-mulSat(cost-1, p.per)
}

// allowOne is Allow for a single limit, the common case.
func (s *MemoryStore) allowOne(kh uint64, l *Limit, cost int64) Decision {
	p, nh := s.limit(l)
	h := pairHash(kh, nh)
	sh := s.shardOf(kh)
	t := s.elapsed()

	sh.mu.Lock()
	now := sh.tick(t)
	var v slot
	i := sh.find(h)
	if i >= 0 {
		sh.slots[i].carryOver(&p, now)
		v = sh.slots[i]
	} else {
		v = s.recall(h, &p, now)
	}
	allowed := p.fits(v.full-now, cost)
	if allowed {
		v.full = addSat(max(v.full, now), p.take(cost))
	}
	switch {
	case i >= 0:
		sh.slots[i].full = v.full
	case allowed || v.full > now:
		// A new bucket is held once it is not full: it was taken from,
		// or the sketch had it spent.
		s.put(sh, v, now)
	}
	sh.mu.Unlock()

	st := p.state(v.full-now, allowed, cost)
	if !allowed {
		st.Remaining = 0 // as Combine reports a refusal
	}
	return Decision{Allowed: allowed, Limit: st.Limit, Remaining: st.Remaining, Reset: st.Reset, RetryAfter: st.RetryAfter, At: s.epoch.Add(time.Duration(now))}
}

// allowMany is Allow for several limits, decided together.
func (s *MemoryStore) allowMany(kh uint64, limits []Limit, cost int64) Decision {
	n := len(limits)
	var (
		pbuf [4]plan
		vbuf [4]slot // each limit's bucket as it is at now
		ibuf [4]int  // and its slot, or -1
		sbuf [4]LimitState
	)
	plans, buckets, at, states := pbuf[:n:n], vbuf[:n:n], ibuf[:n:n], sbuf[:n:n]
	if n > len(pbuf) {
		plans, buckets, at, states = make([]plan, n), make([]slot, n), make([]int, n), make([]LimitState, n)
	}
	for j := range limits {
		var nh uint64
		plans[j], nh = s.limit(&limits[j])
		buckets[j].h = pairHash(kh, nh)
	}
	sh := s.shardOf(kh)
	t := s.elapsed()

	sh.mu.Lock()
	now := sh.tick(t)
	allowed := true
	for j := range buckets {
		p := &plans[j]
		if at[j] = sh.find(buckets[j].h); at[j] >= 0 {
			v := &sh.slots[at[j]]
			v.carryOver(p, now)
			buckets[j] = *v
		} else {
			buckets[j] = s.recall(buckets[j].h, p, now)
		}
		if !p.fits(buckets[j].full-now, cost) {
			allowed = false
		}
	}
	for j := range buckets {
		if allowed {
			buckets[j].full = addSat(max(buckets[j].full, now), plans[j].take(cost))
		}
		if at[j] >= 0 {
			sh.slots[at[j]].full = buckets[j].full
		}
	}
	// New buckets last, as placing one may move the others; each is held
	// once it is not full (see allowOne).
	for j := range buckets {
		if at[j] >= 0 || buckets[j].full <= now {
			continue
		}
		if k := sh.find(buckets[j].h); k >= 0 {
			// Two names of the key share a hash: one bucket.
			sh.slots[k].full = max(sh.slots[k].full, buckets[j].full)
			continue
		}
		s.put(sh, buckets[j], now)
	}
	sh.mu.Unlock()

	for j := range buckets {
		states[j] = plans[j].state(buckets[j].full-now, allowed, cost)
	}
	d := Combine(states)
	d.At = s.epoch.Add(time.Duration(now))
	return d
}

// state reports a bucket of p that is behind nanoseconds short of full
// after the decision: taken from if the request was allowed, untouched if
// it was refused.
// take is the time cost tokens of p take to come back.
func (p *plan) take(cost int64) int64 {
	if cost == 1 {
		return p.per
	}
	return mulSat(cost, p.per)
}

func (p *plan) state(behind int64, allowed bool, cost int64) LimitState {
	st := LimitState{Limit: int(p.cap), Remaining: int(p.cap)}
	if !allowed && cost > p.cap {
		// It never fits; a client told to wait for a full bucket at
		// least does not retry at once.
		st.RetryAfter = time.Duration(p.window)
	}
	if behind <= 0 {
		return st
	}
	short := behind / p.per // whole tokens short, rounded up
	if short*p.per != behind {
		short++
	}
	st.Remaining = int(max(0, p.cap-short))
	st.Reset = time.Duration(behind)
	if tau := p.tau - mulSat(cost-1, p.per); !allowed && cost <= p.cap && behind > tau {
		st.RetryAfter = time.Duration(behind - tau)
	}
	return st
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
	kh := maphash.String(s.seed, key)
	sh := s.shardOf(kh)
	t := s.elapsed()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := sh.tick(t)
	for j := range limits[:min(len(limits), len(states))] {
		d := int64(states[j].Reset)
		if d <= 0 {
			continue
		}
		fullAt := addSat(now, d)
		p, nh := s.limit(&limits[j])
		h := pairHash(kh, nh)
		i := sh.find(h)
		if i < 0 || sh.slots[i].per != p.per || sh.slots[i].cap != p.cap {
			s.remember(h, fullAt)
			continue
		}
		// Time is the measure of both stores' buckets, so a share of a
		// budget (a slower rate, a smaller capacity) gives up its share
		// of what the other spent: a full-again time pushed on by the
		// same span.
		v := &sh.slots[i]
		behind := max(0, v.full-now)
		want := d
		if spentThere := fullAt - v.seen; spentThere > 0 {
			want = max(want, addSat(behind, spentThere))
		}
		if want > behind {
			v.full = addSat(now, min(want, p.window))
		}
		v.seen = max(v.seen, fullAt)
	}
}
