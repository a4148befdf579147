package ratelimit

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// A key keeps a limiter for every limit name it has had, but one that is
// full again holds nothing a fresh limiter would not, so it is reused for a
// new name: a key whose limit names keep changing does not grow without
// bound.
func TestMemoryStoreReusesTheLimitersOfNamesWhoseBucketsAreFullAgain(t *testing.T) {
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := NewMemoryStore(MemoryConfig{Now: func() time.Time { return clock }})
	for i := range 1000 {
		limits := []Limit{
			{Name: "fixed", Events: 1 << 20, Per: time.Hour},
			{Name: "n" + strconv.Itoa(i), Events: 1, Per: time.Millisecond},
		}
		if d, _ := s.Allow(context.Background(), "k", limits); !d.Allowed {
			t.Fatalf("request %d: %+v", i, d)
		}
		clock = clock.Add(time.Millisecond)
	}
	var b *bucket
	for i := range s.shards {
		if bb, ok := s.shards[i].lru.Get("k"); ok {
			b = bb
		}
	}
	if got := len(b.held); got > 3 {
		t.Errorf("after 1,000 limit names each full again a millisecond later, the key holds %d limiters, want at most 3", got)
	}
}
