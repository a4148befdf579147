package apikey

import (
	"fmt"
	"testing"
)

// A lookup that read a key before a change to it committed must not put
// the old answer in the cache after the change's invalidation went by.
func TestALookupThatRacedWithAChangeIsNotCached(t *testing.T) {
	d := func(i byte) Digest { return Digest{i, 1} }
	cases := []struct {
		name   string
		change func(c *cache)
		cached bool
	}{
		{"no change", func(*cache) {}, true},
		{"a change to another key", func(c *cache) { c.invalidate("key_b") }, true},
		{"a change to this key", func(c *cache) { c.invalidate("key_a") }, false},
		{"a change to this key among others", func(c *cache) {
			c.invalidate("key_b")
			c.invalidate("key_a")
			c.invalidate("key_c")
		}, false},
		{"a flush", func(c *cache) { c.flush() }, false},
		{"more changes than remembered", func(c *cache) {
			for i := range recentChanges + 1 {
				c.invalidate(fmt.Sprint("key_", i))
			}
		}, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCache(100)
			since := c.begin()
			tc.change(c)
			e := &entry{id: "key_a"}
			put := c.put(d(byte(i)), e, since)
			if got := c.get(d(byte(i))) != nil; put != tc.cached || got != tc.cached {
				t.Fatalf("put reported %v, cached %v; want %v", put, got, tc.cached)
			}
		})
	}
}

func TestInvalidationAndFlushDropEntries(t *testing.T) {
	c := newCache(100)
	a1, a2, b := &entry{id: "key_a"}, &entry{id: "key_a"}, &entry{id: "key_b"}
	neg := &entry{negative: true}
	c.put(Digest{1}, a1, c.begin())
	c.put(Digest{2}, a2, c.begin()) // the key's rotated-out secret
	c.put(Digest{3}, b, c.begin())
	c.put(Digest{4}, neg, c.begin())
	c.invalidate("key_a")
	if c.get(Digest{1}) != nil || c.get(Digest{2}) != nil || c.get(Digest{3}) != b || c.get(Digest{4}) != neg {
		t.Fatal("invalidating key_a did not drop exactly its two entries")
	}
	c.flush()
	if c.get(Digest{3}) != nil || c.get(Digest{4}) != nil {
		t.Fatal("flush left entries, negative ones included")
	}
}

// The id index follows LRU evictions, so it stays as bounded as the cache.
func TestEvictionKeepsTheIndexBounded(t *testing.T) {
	c := newCache(cacheShards) // one entry per shard
	for i := range 1000 {
		c.put(Digest{byte(i), byte(i >> 8)}, &entry{id: fmt.Sprint("key_", i)}, c.begin())
	}
	c.mu.Lock()
	n := len(c.byID)
	c.mu.Unlock()
	if n > cacheShards {
		t.Fatalf("%d ids indexed for a cache of %d entries", n, cacheShards)
	}
}
