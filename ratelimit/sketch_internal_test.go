package ratelimit

import (
	"hash/maphash"
	"math/rand/v2"
	"strconv"
	"testing"
)

// The sketch's promise: what it reads for a pair is never earlier than the
// latest time written for it, however crowded it is.
func TestSketchNeverAnswersEarlierThanWhatWasWritten(t *testing.T) {
	seed := maphash.MakeSeed()
	for _, pairs := range []int{100, 10_000, 200_000} {
		k := newSketch(sketchLines(1000))
		rng := rand.New(rand.NewPCG(1, uint64(pairs)))
		written := make(map[uint64]int64, pairs)
		for i := range pairs {
			h := pairHash(maphash.String(seed, "key-"+strconv.Itoa(i)), maphash.String(seed, "limit"))
			at := rng.Int64N(1 << 40)
			k.record(h, at)
			written[h] = max(written[h], at)
		}
		for h, at := range written {
			if got := k.fullAt(h); got < at {
				t.Fatalf("%d pairs: read %d for a pair written at %d", pairs, got, at)
			}
		}
	}
	k := newSketch(1024)
	if got := k.fullAt(pairHash(maphash.String(seed, "never"), maphash.String(seed, "written"))); got != 0 {
		t.Errorf("an empty sketch answers %d, want 0 (nothing spent)", got)
	}
	if a, b := pairHash(maphash.String(seed, "a"), maphash.String(seed, "bc")), pairHash(maphash.String(seed, "ab"), maphash.String(seed, "c")); a == b {
		t.Error(`("a", "bc") and ("ab", "c") hash alike`)
	}
}
