package tokencache

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestGetServesOnlyBeforeExpires(t *testing.T) {
	tests := []struct {
		name string
		at   time.Time
		want bool
	}{
		{"before Expires: served", t0.Add(time.Minute - time.Nanosecond), true},
		{"at Expires: not served", t0.Add(time.Minute), false},
		{"after Expires: not served", t0.Add(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New[string](10)
			c.Put("token-abcdef", &Entry[string]{Value: "p", Expires: t0.Add(time.Minute)})
			e := c.Get("token-abcdef", tt.at)
			if (e != nil) != tt.want {
				t.Fatalf("Get = %v, want served %v", e, tt.want)
			}
			if !tt.want && c.Len() != 0 {
				t.Error("an expired entry was kept")
			}
		})
	}
}

func TestKeyIsTheExactToken(t *testing.T) {
	c := New[string](10)
	c.Put("abc.def.ghi", &Entry[string]{Value: "p", Expires: t0.Add(time.Hour)})
	for _, other := range []string{"abc.def.gh", "abc.def.ghI", "abc.def.ghi ", "ABC.def.ghi"} {
		if c.Get(other, t0) != nil {
			t.Errorf("%q answered with the entry of another token", other)
		}
	}
	if c.Get("abc.def.ghi", t0) == nil {
		t.Error("the exact token was not answered")
	}
}

func TestSizeIsBounded(t *testing.T) {
	c := New[int](32)
	for i := range 1000 {
		c.Put(fmt.Sprintf("token-%04d-xyz", i), &Entry[int]{Value: i, Expires: t0.Add(time.Hour)})
	}
	if n := c.Len(); n > 32 || n == 0 {
		t.Errorf("cache holds %d entries, bound is 32", n)
	}
}

func TestRemove(t *testing.T) {
	c := New[int](8)
	c.Put("token-1", &Entry[int]{Expires: t0.Add(time.Hour)})
	c.Remove("token-1")
	if c.Get("token-1", t0) != nil {
		t.Error("a removed token was served")
	}
}

func TestGetDoesNotAllocate(t *testing.T) {
	c := New[string](8)
	c.Put("token-abcdef", &Entry[string]{Value: "p", Expires: t0.Add(time.Hour)})
	if n := testing.AllocsPerRun(1000, func() { c.Get("token-abcdef", t0) }); n != 0 {
		t.Errorf("Get allocates %v times", n)
	}
}

func TestConcurrentUse(t *testing.T) {
	c := New[int](64)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				tok := fmt.Sprintf("token-%d-%d", g, i%50)
				c.Put(tok, &Entry[int]{Value: i, Expires: t0.Add(time.Hour)})
				c.Get(tok, t0)
				if i%7 == 0 {
					c.Remove(tok)
				}
			}
		}()
	}
	wg.Wait()
}

func TestSizeNHoldsNEntries(t *testing.T) {
	for _, size := range []int{1, 7, 16, 100, 1000} {
		c := New[int](size)
		for i := range size {
			c.Put(fmt.Sprintf("token-%05d", i), &Entry[int]{Value: i, Expires: t0.Add(time.Hour)})
		}
		if n := c.Len(); n != size {
			t.Errorf("size %d: Len = %d after %d distinct tokens", size, n, size)
		}
		for i := range size {
			if c.Get(fmt.Sprintf("token-%05d", i), t0) == nil {
				t.Errorf("size %d: token %d was evicted while the cache was not full", size, i)
				break
			}
		}
		c.Put("one-more", &Entry[int]{Expires: t0.Add(time.Hour)})
		if n := c.Len(); n != size {
			t.Errorf("size %d: Len = %d after one more, want %d", size, n, size)
		}
	}
}

func TestATokenInUseSurvivesAScanOfNewTokens(t *testing.T) {
	c := New[int](64)
	c.Put("hot-token", &Entry[int]{Expires: t0.Add(time.Hour)})
	for i := range 64 * 20 {
		if c.Get("hot-token", t0) == nil {
			t.Fatalf("the token in use was evicted after %d new tokens", i)
		}
		c.Put(fmt.Sprintf("scan-%05d", i), &Entry[int]{Expires: t0.Add(time.Hour)})
	}
	if c.Get("scan-00000", t0) != nil {
		t.Error("a token never read again outlived 20 sweeps of new tokens")
	}
}

func TestPutReplacesTheTokensEntry(t *testing.T) {
	c := New[string](4)
	c.Put("token-1", &Entry[string]{Value: "old", Expires: t0.Add(time.Hour)})
	c.Put("token-1", &Entry[string]{Value: "new", Expires: t0.Add(time.Hour)})
	if n := c.Len(); n != 1 {
		t.Errorf("Len = %d, want 1", n)
	}
	if e := c.Get("token-1", t0); e == nil || e.Value != "new" {
		t.Errorf("Get = %+v, want the new entry", e)
	}
}

func TestAnExpiredEntryFreesItsSlot(t *testing.T) {
	c := New[int](2)
	c.Put("short", &Entry[int]{Expires: t0.Add(time.Second)})
	c.Put("long", &Entry[int]{Expires: t0.Add(time.Hour)})
	if c.Get("short", t0.Add(time.Minute)) != nil {
		t.Fatal("an expired entry was served")
	}
	c.Put("next", &Entry[int]{Expires: t0.Add(time.Hour)})
	if c.Get("long", t0) == nil || c.Get("next", t0) == nil {
		t.Error("the expired entry's slot was not reused: a live entry was evicted")
	}
}

func TestHitsNeedNoLockAgainstPuts(t *testing.T) {
	// Hits on one token from several goroutines while another goroutine
	// inserts into the same table: run under -race, this checks that the
	// lock-free Get only reads what Put published.
	c := New[int](256)
	c.Put("hot", &Entry[int]{Expires: t0.Add(time.Hour)})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				if c.Get("hot", t0) == nil {
					t.Error("hot token missed")
					return
				}
			}
		}()
	}
	for i := range 200 {
		c.Put(fmt.Sprintf("other-%d", i), &Entry[int]{Expires: t0.Add(time.Hour)})
	}
	wg.Wait()
}

func TestTokensAlikeAtBothEndsAreToldApart(t *testing.T) {
	// Long tokens are bucketed by their ends; ones that differ only in the
	// middle share a bucket and must still each get their own entry.
	head, tail := strings.Repeat("h", 40), strings.Repeat("t", 40)
	c := New[int](64)
	for i := range 20 {
		c.Put(head+fmt.Sprintf("middle-%02d", i)+tail, &Entry[int]{Value: i, Expires: t0.Add(time.Hour)})
	}
	for i := range 20 {
		e := c.Get(head+fmt.Sprintf("middle-%02d", i)+tail, t0)
		if e == nil || e.Value != i {
			t.Fatalf("token %d: got %+v", i, e)
		}
	}
	c.Remove(head + "middle-07" + tail)
	if c.Get(head+"middle-07"+tail, t0) != nil || c.Get(head+"middle-08"+tail, t0) == nil {
		t.Error("removing one token of a shared bucket did not remove exactly it")
	}
	if c.Get(head+"middle-99"+tail, t0) != nil {
		t.Error("a token never put was answered")
	}
}
