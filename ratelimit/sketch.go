package ratelimit

import (
	"hash/maphash"
	"math"
	"sync/atomic"
	"time"
)

// spentSketch remembers, in a fixed amount of memory, when buckets the
// store no longer holds would be full again: a count-min sketch whose
// cells hold times instead of counts. A (key, limit name) pair hashes to
// one cell in each of sketchDepth rows; writing it raises each of its cells
// to its full-again time (a cell keeps the latest time written to it), and
// reading it takes the earliest of its cells.
//
// The answer is never earlier than the pair's own time, since every cell it
// was written to holds at least that, so a bucket rebuilt from it never
// holds more than the one forgotten: the sketch errs toward refusing. It is
// later only when each of the pair's cells was also written by a pair
// spent for longer, which costs that key tokens it had, until the time read
// has passed. Times in the past mean a full bucket, so the sketch needs no
// clearing: a cell forgets by itself once its bucket would be full.
//
// The cells are laid out in 64-byte lines of eight, and a pair's four
// cells are in one line, one of each of its four pairs of cells: one cache
// line touched per read or write rather than four. That is four rows of
// two cells per line, the same load per cell as four unblocked rows of the
// same memory. Cells are atomics, so evictions and misses on different
// shards never wait for one another.
type spentSketch struct {
	seed  maphash.Seed
	lines uint64         // a power of two
	cells []atomic.Int64 // lines × 8; nanoseconds since the store's epoch
}

// sketchDepth is the number of cells a pair has: a key is misjudged only
// when all of them collide.
const sketchDepth = 4

// newSketch returns a sketch of lines 64-byte lines, lines a power of two.
func newSketch(seed maphash.Seed, lines int) *spentSketch {
	return &spentSketch{seed: seed, lines: uint64(lines), cells: make([]atomic.Int64, 8*lines)}
}

// sketchLines is the size of the sketch of a store of maxKeys, which it
// makes the first time it has something to record: a power of two
// of lines of eight cells, so that about as many cells as maxKeys/2 sit in
// each of the four rows (evicted keys then rarely share all their cells
// while there are about as many of them as the store holds), between
// 1,024 lines (64 KiB, so that a small store's sketch is not crowded by a
// few thousand evictions) and 2^19. At the default 100,000 keys: 32,768
// lines, 2 MiB.
func sketchLines(maxKeys int) int {
	l := 1024
	for l < maxKeys/4 && l < 1<<19 {
		l <<= 1
	}
	return l
}

// pairHash is the hash of one limit name of one key.
func (k *spentSketch) pairHash(key, name string) uint64 {
	h := maphash.String(k.seed, key)
	// Mixing the name's own hash in keeps (key, name) pairs apart even when
	// one key's hash and another name's cancel out under a plain xor.
	return h ^ (maphash.String(k.seed, name)*0x9e3779b97f4a7c15 + 0x632be59bd9b4e019)
}

// cell is the pair's i-th cell: in the line its hash picks, cell 2i or
// 2i+1 as one of its high bits says.
func (k *spentSketch) cell(h uint64, i int) *atomic.Int64 {
	line := h & (k.lines - 1)
	return &k.cells[line*8+uint64(2*i)+(h>>(60-i))&1]
}

// record notes that the pair hashed to h is full again at fullAt.
func (k *spentSketch) record(h uint64, fullAt int64) {
	for i := range sketchDepth {
		c := k.cell(h, i)
		for {
			old := c.Load()
			if old >= fullAt || c.CompareAndSwap(old, fullAt) {
				break
			}
		}
	}
}

// fullAt is when the pair hashed to h would be full again at the earliest,
// as far as the sketch knows (0 if it knows nothing).
func (k *spentSketch) fullAt(h uint64) int64 {
	t := int64(math.MaxInt64)
	for i := range sketchDepth {
		t = min(t, k.cell(h, i).Load())
	}
	return t
}

// fullIn is how long c, counting l, takes to be full again at time at (0 if
// it is full), rounded up to the nanosecond.
func (c *counter) fullIn(at time.Time) time.Duration {
	burst := float64(c.lim.Burst())
	tokens := c.lim.TokensAt(at)
	if tokens >= burst {
		return 0
	}
	r := float64(c.lim.Limit())
	if r <= 0 {
		return math.MaxInt64
	}
	return ceilDuration((burst - tokens) / r * float64(time.Second))
}

// fullAfter makes c, counting l, hold no more than a bucket of l that is
// full again d after time at: if it holds more, it is emptied at the moment
// that makes it so (a bucket refills at l's rate, so one full at at+d was
// empty Window before that). A d of a whole Window or more leaves it empty.
func (c *counter) fullAfter(l Limit, at time.Time, d time.Duration) {
	if d <= 0 {
		return
	}
	if d <= c.fullIn(at) {
		return // already at most that full
	}
	emptied := at.Add(d).Add(-l.Window())
	if emptied.After(at) {
		emptied = at
	}
	// A burst of 0 caps the tokens to none at that moment, and the limiter
	// refills from then; emptied may be before the limiter's last time,
	// which x/time/rate takes as the new last time.
	c.lim.SetBurstAt(emptied, 0)
	c.lim.SetBurstAt(emptied, l.Capacity())
	c.lim.SetLimitAt(emptied, limiterRate(l))
}
