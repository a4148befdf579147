package ratelimit

import (
	"math"
	"sync/atomic"
)

// spentSketch remembers, in a fixed amount of memory, when buckets the
// store no longer holds would be full again: a count-min sketch whose
// cells hold times instead of counts. A (key, limit name) pair's hash (see
// pairHash) picks one cell in each of sketchDepth rows; writing it raises
// each of its cells to its full-again time (a cell keeps the latest time
// written to it), and reading it takes the earliest of its cells.
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
// shards never wait for one another. The cells hold no pointers, so the
// garbage collector does not scan them.
type spentSketch struct {
	lines uint64         // a power of two
	cells []atomic.Int64 // lines × 8; nanoseconds since the store's epoch
}

// sketchDepth is the number of cells a pair has: a key is misjudged only
// when all of them collide.
const sketchDepth = 4

// newSketch returns a sketch of lines 64-byte lines, lines a power of two.
func newSketch(lines int) *spentSketch {
	return &spentSketch{lines: uint64(lines), cells: make([]atomic.Int64, 8*lines)}
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

// cell is the pair's i-th cell: in the line its hash picks, cell 2i or
// 2i+1 as one of its bits says. The bits used are the hash's middle ones,
// apart from the low ones that place a bucket in its table and the top
// one that pairHash sets.
func (k *spentSketch) cell(h uint64, i int) *atomic.Int64 {
	line := (h >> 32) & (k.lines - 1)
	return &k.cells[line*8+uint64(2*i)+(h>>(58-i))&1]
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
