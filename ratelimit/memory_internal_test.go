package ratelimit

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// A key keeps a bucket for every limit name it has had, but one that is
// full again holds nothing a fresh bucket would not, so it is what goes
// when the store is full: a key whose limit names keep changing stays
// within MaxKeys, its full buckets leave nothing in the sketch, and the
// bucket it still spends from is never the one evicted.
func TestMemoryStoreEvictsTheBucketsOfNamesThatAreFullAgainFirst(t *testing.T) {
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := NewMemoryStore(MemoryConfig{MaxKeys: 16, Shards: 1, Now: func() time.Time { return clock }})
	for i := range 1000 {
		limits := []Limit{
			{Name: "fixed", Events: 1 << 20, Per: 1000 * time.Hour},
			{Name: "n" + strconv.Itoa(i), Events: 1, Per: time.Millisecond},
		}
		d, _ := s.Allow(context.Background(), "k", limits)
		if !d.Allowed {
			t.Fatalf("request %d: %+v", i, d)
		}
		clock = clock.Add(time.Millisecond)
	}
	d, _ := s.Allow(context.Background(), "k", []Limit{{Name: "fixed", Events: 1 << 20, Per: 1000 * time.Hour}})
	if want := 1<<20 - 1001; d.Remaining != want {
		t.Errorf("the fixed limit after 1,001 requests: %d left, want %d: its bucket was evicted", d.Remaining, want)
	}
	if got := s.Len(); got > 16 {
		t.Errorf("after 1,000 limit names the store holds %d buckets, want at most MaxKeys = 16", got)
	}
	if s.Evictions() == 0 {
		t.Fatal("nothing was evicted; the test proves nothing")
	}
	if s.spent.Load() != nil {
		t.Error("evicting buckets that were full again recorded something in the sketch")
	}
}
