package ratelimit_test

import (
	"context"
	"fmt"
	"math/big"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tgerrors "github.com/tollgate/tollgate/errors"

	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/ratelimit"
)

func TestMemoryStoreIsExactUnderContention(t *testing.T) {
	clocks := map[string]func() time.Time{
		"frozen fake clock": newClock().Now,
		// A real clock with a refill slow enough that no token comes
		// back during the test: the case x/time/rate's Allow gets wrong.
		"real clock": time.Now,
	}
	for name, now := range clocks {
		t.Run(name, func(t *testing.T) {
			s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: now})
			limits := []ratelimit.Limit{{Events: 100, Per: time.Hour}}
			var allowed atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range 1000 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					d, err := s.Allow(context.Background(), "one-key", limits)
					if err != nil {
						t.Error(err)
					}
					if d.Allowed {
						allowed.Add(1)
					}
				}()
			}
			close(start)
			wg.Wait()
			if got := allowed.Load(); got != 100 {
				t.Fatalf("1,000 concurrent requests on a bucket of 100: %d allowed, want exactly 100", got)
			}
		})
	}
}

func TestMemoryStoreDecisions(t *testing.T) {
	perSecond := []ratelimit.Limit{{Name: "s", Events: 1, Per: time.Second, Burst: 3}}
	type step struct {
		advance time.Duration
		want    ratelimit.Decision
	}
	tests := []struct {
		name   string
		limits []ratelimit.Limit
		steps  []step
	}{
		{
			name:   "a full bucket allows Burst requests, then refuses until a token is back",
			limits: perSecond,
			steps: []step{
				{want: ratelimit.Decision{Allowed: true, Limit: 3, Remaining: 2, Reset: time.Second}},
				{want: ratelimit.Decision{Allowed: true, Limit: 3, Remaining: 1, Reset: 2 * time.Second}},
				{want: ratelimit.Decision{Allowed: true, Limit: 3, Remaining: 0, Reset: 3 * time.Second}},
				{want: ratelimit.Decision{Limit: 3, Remaining: 0, Reset: 3 * time.Second, RetryAfter: time.Second}},
				{advance: 400 * time.Millisecond, want: ratelimit.Decision{Limit: 3, Remaining: 0, Reset: 2600 * time.Millisecond, RetryAfter: 600 * time.Millisecond}},
				{advance: 600 * time.Millisecond, want: ratelimit.Decision{Allowed: true, Limit: 3, Remaining: 0, Reset: 3 * time.Second}},
			},
		},
		{
			name:   "the bucket refills up to its capacity and no further",
			limits: perSecond,
			steps: []step{
				{want: ratelimit.Decision{Allowed: true, Limit: 3, Remaining: 2, Reset: time.Second}},
				{advance: time.Hour, want: ratelimit.Decision{Allowed: true, Limit: 3, Remaining: 2, Reset: time.Second}},
			},
		},
		{
			name:   "a clock that goes backwards refills nothing",
			limits: perSecond,
			steps: []step{
				{want: ratelimit.Decision{Allowed: true, Limit: 3, Remaining: 2, Reset: time.Second}},
				{advance: -time.Hour, want: ratelimit.Decision{Allowed: true, Limit: 3, Remaining: 1, Reset: 2 * time.Second}},
				{advance: time.Hour, want: ratelimit.Decision{Allowed: true, Limit: 3, Remaining: 0, Reset: 3 * time.Second}},
			},
		},
		{
			name: "with several limits the one with fewest tokens left is reported",
			limits: []ratelimit.Limit{
				{Name: "burst", Events: 3, Per: time.Second},
				{Name: "quota", Events: 2, Per: time.Hour},
			},
			steps: []step{
				{want: ratelimit.Decision{Allowed: true, Index: 1, Limit: 2, Remaining: 1, Reset: 30 * time.Minute}},
				{want: ratelimit.Decision{Allowed: true, Index: 1, Limit: 2, Remaining: 0, Reset: time.Hour}},
				{want: ratelimit.Decision{Index: 1, Limit: 2, Remaining: 0, Reset: time.Hour, RetryAfter: 30 * time.Minute}},
			},
		},
		{
			name: "a refusal reports the limit that refused with the longest wait",
			limits: []ratelimit.Limit{
				{Name: "burst", Events: 1, Per: time.Second},
				{Name: "quota", Events: 1, Per: time.Hour},
			},
			steps: []step{
				{want: ratelimit.Decision{Allowed: true, Index: 1, Limit: 1, Remaining: 0, Reset: time.Hour}},
				{want: ratelimit.Decision{Index: 1, Limit: 1, Remaining: 0, Reset: time.Hour, RetryAfter: time.Hour}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: clock.Now})
			for i, st := range tt.steps {
				clock.Advance(st.advance)
				got, err := s.Allow(context.Background(), "k", tt.limits)
				if err != nil {
					t.Fatal(err)
				}
				got.At = time.Time{} // the clock is checked in TestMemoryStoreDecisionCarriesItsTime
				if got != st.want {
					t.Fatalf("request %d: got %+v, want %+v", i+1, got, st.want)
				}
			}
		})
	}
}

func TestMemoryStoreKeysHaveTheirOwnBuckets(t *testing.T) {
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: newClock().Now})
	limits := []ratelimit.Limit{{Events: 1, Per: time.Minute}}
	for _, key := range []string{"a", "b"} {
		if d, _ := s.Allow(context.Background(), key, limits); !d.Allowed {
			t.Fatalf("first request for %q refused", key)
		}
	}
	if d, _ := s.Allow(context.Background(), "a", limits); d.Allowed {
		t.Fatal(`second request for "a" allowed`)
	}
}

func TestMemoryStoreIsBoundedAndCountsEvictions(t *testing.T) {
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{MaxKeys: 10, Shards: 1, Now: newClock().Now})
	limits := []ratelimit.Limit{{Events: 1, Per: time.Minute}}
	for i := range 25 {
		s.Allow(context.Background(), fmt.Sprint("key", i), limits)
	}
	if got := s.Len(); got != 10 {
		t.Errorf("Len() = %d, want MaxKeys = 10", got)
	}
	if got := s.Evictions(); got != 15 {
		t.Errorf("Evictions() = %d, want 15", got)
	}
	// The least recently used key went first, and its spent bucket with it,
	// but not what it had spent: key0 is still refused.
	if d, _ := s.Allow(context.Background(), "key0", limits); d.Allowed {
		t.Error("evicted key0 was allowed a second request; eviction handed its quota back")
	}
	if d, _ := s.Allow(context.Background(), "key24", limits); d.Allowed {
		t.Error("key24, still held, was allowed a second request")
	}
}

func TestMemoryStoreRefusalByOneLimitTakesNothingFromTheOthers(t *testing.T) {
	clock := newClock()
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: clock.Now})
	limits := []ratelimit.Limit{
		{Name: "burst", Events: 10, Per: time.Second, Burst: 1},
		{Name: "quota", Events: 3, Per: 24 * time.Hour},
	}
	// 100 ms apart, the burst bucket always has its token back; the quota
	// allows 3. Refusals by the burst limit in between must not count.
	want := []bool{true, false, false, false}
	for i, w := range want {
		if d, _ := s.Allow(context.Background(), "k", limits); d.Allowed != w {
			t.Fatalf("request %d at once: allowed = %v, want %v", i+1, d.Allowed, w)
		}
	}
	for i, w := range []bool{true, true, false} {
		clock.Advance(100 * time.Millisecond)
		d, _ := s.Allow(context.Background(), "k", limits)
		if d.Allowed != w {
			t.Fatalf("request %d later: allowed = %v, want %v (%+v)", i+1, d.Allowed, w, d)
		}
		if !w && d.Index != 1 {
			t.Errorf("refusal reported limit %d, want the quota (1)", d.Index)
		}
	}
}

func TestMemoryStoreCarriesUsageOverWhenAKeysLimitsChange(t *testing.T) {
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: newClock().Now})
	small := []ratelimit.Limit{{Name: "plan", Events: 5, Per: time.Hour}}
	large := []ratelimit.Limit{{Name: "plan", Events: 100, Per: time.Hour}}
	for range 5 {
		s.Allow(context.Background(), "acct", small)
	}
	d, _ := s.Allow(context.Background(), "acct", large)
	d.At = time.Time{}
	if want := (ratelimit.Decision{Allowed: true, Limit: 100, Remaining: 94, Reset: 6 * 36 * time.Second}); d != want {
		t.Fatalf("after an upgrade from 5 to 100 with 5 used: %+v, want %+v", d, want)
	}
	d, _ = s.Allow(context.Background(), "acct", small)
	if d.Allowed {
		t.Errorf("after a downgrade back to 5 with 6 used: %+v, want refused", d)
	}
}

func TestMemoryStoreDecisionCarriesItsTime(t *testing.T) {
	clock := newClock()
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: clock.Now})
	limits := []ratelimit.Limit{{Events: 1, Per: time.Second}}
	clock.Advance(time.Minute)
	d, _ := s.Allow(context.Background(), "k", limits)
	if !d.At.Equal(clock.Now()) {
		t.Errorf("At = %v, want the clock's %v", d.At, clock.Now())
	}
	clock.Advance(-time.Minute)
	d, _ = s.Allow(context.Background(), "k", limits)
	if want := clock.Now().Add(time.Minute); !d.At.Equal(want) {
		t.Errorf("after the clock went back: At = %v, want the bucket's last time %v", d.At, want)
	}
}

func TestMemoryStoreStaysWithinMaxKeysAcrossShards(t *testing.T) {
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{MaxKeys: 1000, Shards: 64, Now: newClock().Now})
	limits := []ratelimit.Limit{{Events: 1, Per: time.Minute}}
	for i := range 5000 {
		s.Allow(context.Background(), fmt.Sprint("key", i), limits)
	}
	if got := s.Len(); got > 1000 || got < 900 {
		t.Errorf("Len() = %d, want at most MaxKeys = 1000 (and not far below)", got)
	}
	if got, want := s.Evictions(), uint64(5000-s.Len()); got != want {
		t.Errorf("Evictions() = %d, want %d", got, want)
	}
}

func TestMemoryStoreAllowsAClientThatWaitedRetryAfter(t *testing.T) {
	// Every rate, not only round ones: at some (625 an hour is one) a
	// float refill computed without care falls a hair short of the token
	// that RetryAfter promised.
	for _, per := range []time.Duration{time.Second, time.Minute, time.Hour, 7 * time.Second} {
		for events := 1; events <= 1000; events++ {
			clock := newClock()
			s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: clock.Now})
			limits := []ratelimit.Limit{{Events: events, Per: per, Burst: 1}}
			s.Allow(context.Background(), "k", limits)
			for i := range 5 {
				d, _ := s.Allow(context.Background(), "k", limits)
				if d.Allowed {
					t.Fatalf("%d per %v, wait %d: allowed before RetryAfter", events, per, i+1)
				}
				clock.Advance(d.RetryAfter)
				if d, _ := s.Allow(context.Background(), "k", limits); !d.Allowed {
					t.Fatalf("%d per %v, wait %d: refused after waiting RetryAfter: %+v", events, per, i+1, d)
				}
			}
		}
	}
}

func TestMemoryStoreRefusalsUnderContentionTakeNothingFromTheOtherLimits(t *testing.T) {
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: newClock().Now})
	burst := ratelimit.Limit{Name: "burst", Events: 100, Per: time.Hour}
	quota := ratelimit.Limit{Name: "quota", Events: 50, Per: time.Hour}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if d, _ := s.Allow(context.Background(), "k", []ratelimit.Limit{burst, quota}); d.Allowed {
				allowed.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if got := allowed.Load(); got != 50 {
		t.Fatalf("1,000 concurrent requests under a quota of 50: %d allowed, want exactly 50", got)
	}
	// The 950 refused by the quota took nothing from the burst limit.
	d, _ := s.Allow(context.Background(), "k", []ratelimit.Limit{burst})
	if !d.Allowed || d.Remaining != 49 {
		t.Errorf("the burst limit alone afterwards: %+v, want allowed with 49 left of 100", d)
	}
}

func TestMemoryStoreCarriesUsageOverByLimitName(t *testing.T) {
	burst := ratelimit.Limit{Name: "burst", Events: 10, Per: time.Hour}
	quota := ratelimit.Limit{Name: "quota", Events: 20, Per: time.Hour}
	daily := ratelimit.Limit{Name: "daily", Events: 30, Per: 24 * time.Hour}
	tests := []struct {
		name          string
		before, after []ratelimit.Limit
		// left is the tokens of each limit of after once five requests
		// were allowed under before.
		left []int
	}{
		{"the same limits in another order keep what was used", []ratelimit.Limit{burst, quota}, []ratelimit.Limit{quota, burst}, []int{15, 5}},
		{"a limit added starts full, the others keep what was used", []ratelimit.Limit{burst, quota}, []ratelimit.Limit{burst, quota, daily}, []int{5, 15, 30}},
		{"a limit removed leaves the others what was used", []ratelimit.Limit{burst, quota, daily}, []ratelimit.Limit{daily, quota}, []int{25, 15}},
		{"a raised burst keeps what was used", []ratelimit.Limit{burst}, []ratelimit.Limit{{Name: "burst", Events: 10, Per: time.Hour, Burst: 15}}, []int{10}},
		{"a lowered rate keeps what was used", []ratelimit.Limit{quota}, []ratelimit.Limit{{Name: "quota", Events: 20, Per: 24 * time.Hour}}, []int{15}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: newClock().Now})
			for range 5 {
				if d, _ := s.Allow(context.Background(), "k", tt.before); !d.Allowed {
					t.Fatalf("setting up: refused %+v", d)
				}
			}
			// Each probe takes a token from every limit.
			for i := range tt.after {
				if got, want := probe(t, s, tt.after, i), tt.left[i]-1-i; got != want {
					t.Errorf("%s: %d left, want %d", tt.after[i].Name, got, want)
				}
			}
		})
	}
}

func TestMemoryStoreEmptiesABucketWhoseNewCapacityIsBelowWhatWasUsed(t *testing.T) {
	clock := newClock()
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: clock.Now})
	for range 5 {
		s.Allow(context.Background(), "k", []ratelimit.Limit{{Name: "plan", Events: 20, Per: time.Hour}})
	}
	lower := []ratelimit.Limit{{Name: "plan", Events: 3, Per: time.Hour}}
	d, _ := s.Allow(context.Background(), "k", lower)
	if d.Allowed || d.RetryAfter != 20*time.Minute {
		t.Fatalf("5 used, capacity now 3: %+v, want refused until one token is back in 20m", d)
	}
	// Empty, not in debt: one token's time later a request goes through.
	clock.Advance(d.RetryAfter)
	if d, _ := s.Allow(context.Background(), "k", lower); !d.Allowed {
		t.Errorf("after RetryAfter: %+v, want allowed", d)
	}
}

// probe reports how many tokens limits[i] of key "k" has left after one
// more request, which takes a token from every limit. It raises every
// other limit's Burst by 1,000 for that request, so that limits[i] is
// reported; both that change and the next probe's undoing it carry the
// tokens over exactly.
func probe(t *testing.T, s *ratelimit.MemoryStore, limits []ratelimit.Limit, i int) int {
	t.Helper()
	raised := make([]ratelimit.Limit, len(limits))
	for j, l := range limits {
		if j != i {
			l.Burst = l.Capacity() + 1000
		}
		raised[j] = l
	}
	d, _ := s.Allow(context.Background(), "k", raised)
	if !d.Allowed || d.Index != i {
		t.Fatalf("probing %s: %+v, want allowed and reported", limits[i].Name, d)
	}
	return d.Remaining
}

// Float arithmetic must not push a wait over a whole second: a client
// told Retry-After: 1 comes back in one second and is admitted.
func TestRetryAfterIsNotInflatedByRounding(t *testing.T) {
	clk := newClock()
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: clk.Now})
	limits := []ratelimit.Limit{{Events: 3, Per: time.Minute}}
	for range 3 {
		if d, _ := s.Allow(context.Background(), "k", limits); !d.Allowed {
			t.Fatal("a full bucket refused")
		}
	}
	clk.Advance(19 * time.Second) // 0.95 of a token back: one second to go
	d, _ := s.Allow(context.Background(), "k", limits)
	if d.Allowed {
		t.Fatal("admitted before a token was back")
	}
	if got := tgerrors.RetryAfterSeconds(d.RetryAfter); got != 1 {
		t.Errorf("Retry-After %d (from %v), want 1", got, d.RetryAfter)
	}
	clk.Advance(time.Duration(tgerrors.RetryAfterSeconds(d.RetryAfter)) * time.Second)
	if d, _ := s.Allow(context.Background(), "k", limits); !d.Allowed {
		t.Error("refused after waiting the Retry-After it was given")
	}
}

// Across many rates, the Retry-After a refused client is given is the exact
// wait rounded up to whole seconds: never a second more through float noise.
func TestRetryAfterIsTheExactWaitRoundedUp(t *testing.T) {
	for _, per := range []time.Duration{time.Second, 7 * time.Second, time.Minute, time.Hour} {
		for events := 1; events <= 200; events++ {
			clk := newClock()
			s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: clk.Now})
			limits := []ratelimit.Limit{{Events: events, Per: per, Burst: 1}}
			s.Allow(context.Background(), "k", limits)
			perToken := new(big.Rat).SetFrac64(int64(per), int64(events)) // ns per token
			for elapsed := time.Duration(0); ; elapsed += time.Second {
				wait := new(big.Rat).Sub(perToken, new(big.Rat).SetInt64(int64(elapsed)))
				if wait.Sign() <= 0 || elapsed > 5*time.Second {
					break
				}
				clk.Set(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(elapsed))
				d, _ := s.Allow(context.Background(), "k", limits)
				if d.Allowed {
					t.Fatalf("%d/%v: admitted %v after the last token, %v early", events, per, elapsed, wait)
				}
				secs := new(big.Rat).Quo(wait, new(big.Rat).SetInt64(int64(time.Second)))
				want := new(big.Int).Quo(new(big.Int).Add(secs.Num(), new(big.Int).Sub(secs.Denom(), big.NewInt(1))), secs.Denom()).Int64()
				if got := tgerrors.RetryAfterSeconds(d.RetryAfter); got != max(want, 1) {
					t.Fatalf("%d/%v, %v after the last token: Retry-After %d (from %v), want %d", events, per, elapsed, got, d.RetryAfter, want)
				}
			}
		}
	}
}

// Two limiters share one MemoryStore, as
// Config.Store recommends, with limits of their own names. One client
// alternating between them must meet each limit separately: 2 + 2 of 20.
func TestMemoryStoreSharedByLimitersWithDifferentLimitNamesEnforcesEachLimit(t *testing.T) {
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: newClock().Now})
	search := ratelimit.New(ratelimit.Config{Store: s, Limits: []ratelimit.Limit{{Name: "search", Events: 2, Per: time.Minute}}})
	orders := ratelimit.New(ratelimit.Config{Store: s, Limits: []ratelimit.Limit{{Name: "orders", Events: 2, Per: time.Minute}}})
	client := principal.New(principal.Fields{Subject: "alice", ClientID: "app-1"})
	admitted := map[string]int{}
	for i := range 20 {
		mw, name := search, "search"
		if i%2 == 1 {
			mw, name = orders, "orders"
		}
		if _, reached := serve(mw, request(client)); reached {
			admitted[name]++
		}
	}
	if admitted["search"] != 2 || admitted["orders"] != 2 {
		t.Fatalf("20 requests alternating between two limiters of 2 a minute: admitted %v, want 2 by each (4 in all)", admitted)
	}
}

// One client holds two tokens, one carrying the claim LimitFor reads and
// one without it, so its key is counted alternately against its own limit
// and the configured one: neither may refill the other.
func TestMemoryStoreLimitForClaimAndDefaultOfOneClientDoNotRefillEachOther(t *testing.T) {
	mw := ratelimit.New(ratelimit.Config{
		Store:    ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: newClock().Now}),
		Limits:   []ratelimit.Limit{{Events: 2, Per: time.Minute}},
		LimitFor: ratelimit.LimitFromClaim("rate_limit", time.Minute),
	})
	withClaim := principal.New(principal.Fields{Subject: "alice", ClientID: "app-1", Claims: map[string]any{"rate_limit": float64(3)}})
	without := principal.New(principal.Fields{Subject: "alice", ClientID: "app-1"})
	var claimed, byDefault int
	for i := range 20 {
		p, n := withClaim, &claimed
		if i%2 == 1 {
			p, n = without, &byDefault
		}
		if _, reached := serve(mw, request(p)); reached {
			*n++
		}
	}
	if claimed != 3 || byDefault != 2 {
		t.Fatalf("20 requests alternating between a token with rate_limit=3 and one without (default 2): admitted %d and %d, want 3 and 2", claimed, byDefault)
	}
}

func TestMemoryStoreKeepsALimitNotInUseAndCarriesItsPlanOverWhenItComesBack(t *testing.T) {
	clock := newClock()
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: clock.Now})
	search := []ratelimit.Limit{{Name: "search", Events: 2, Per: time.Minute}}
	orders := []ratelimit.Limit{{Name: "orders", Events: 2, Per: time.Minute}}
	both := []ratelimit.Limit{search[0], orders[0]}
	for range 2 {
		if d, _ := s.Allow(context.Background(), "k", search); !d.Allowed {
			t.Fatalf("setting up: %+v", d)
		}
	}
	if d, _ := s.Allow(context.Background(), "k", orders); !d.Allowed || d.Remaining != 1 {
		t.Fatalf("orders, new to the key: %+v, want allowed with 1 left", d)
	}
	if d, _ := s.Allow(context.Background(), "k", both); d.Allowed || d.Index != 0 {
		t.Fatalf("search and orders together, search spent: %+v, want refused by search", d)
	}
	// Refused by search, so orders still has its token.
	if d, _ := s.Allow(context.Background(), "k", orders); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("orders after a refusal by search: %+v, want allowed with 0 left", d)
	}
	// Kept while not in use, search refills with time as any bucket does.
	clock.Advance(30 * time.Second)
	if d, _ := s.Allow(context.Background(), "k", search); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("search, a token later: %+v, want allowed with 0 left", d)
	}
	// It comes back on a larger plan: what it used carries over.
	larger := []ratelimit.Limit{{Name: "search", Events: 2, Per: time.Minute, Burst: 5}}
	d, _ := s.Allow(context.Background(), "k", larger)
	d.At = time.Time{}
	if want := (ratelimit.Decision{Allowed: true, Limit: 5, Remaining: 2, Reset: 90 * time.Second}); d != want {
		t.Fatalf("search raised to a burst of 5 with 2 used: %+v, want %+v", d, want)
	}
}

func TestMemoryStoreDecisionOnAKnownKeyDoesNotAllocate(t *testing.T) {
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: newClock().Now})
	one := []ratelimit.Limit{{Name: "a", Events: 1 << 30, Per: time.Second}}
	two := []ratelimit.Limit{{Name: "b", Events: 1 << 30, Per: time.Second}, {Name: "c", Events: 1 << 30, Per: time.Hour}}
	ctx := context.Background()
	s.Allow(ctx, "k", one)
	if n := testing.AllocsPerRun(100, func() { s.Allow(ctx, "k", one) }); n != 0 {
		t.Errorf("the same limits: %v allocations, want 0", n)
	}
	s.Allow(ctx, "k", two)
	s.Allow(ctx, "k", one)
	if n := testing.AllocsPerRun(100, func() {
		s.Allow(ctx, "k", two)
		s.Allow(ctx, "k", one)
	}); n != 0 {
		t.Errorf("alternating between limits the key has had: %v allocations, want 0", n)
	}
	// Slower, so that each limit is full again when the other comes back.
	clock := newClock()
	s = ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: clock.Now})
	s.Allow(ctx, "k", two)
	s.Allow(ctx, "k", one)
	if n := testing.AllocsPerRun(100, func() {
		clock.Advance(time.Second)
		s.Allow(ctx, "k", two)
		clock.Advance(time.Second)
		s.Allow(ctx, "k", one)
	}); n != 0 {
		t.Errorf("alternating between limits full again by the time they come back: %v allocations, want 0", n)
	}
}

// Anyone who can mint keys (a header, an IPv6 /48) can push a spent key out
// of a bounded store. Eviction must not hand its quota back: a full bucket
// is the same as no state, and a spent one's deficit outlives it.
func TestMemoryStoreAKeyFloodCannotRefillASpentBucket(t *testing.T) {
	quota := []ratelimit.Limit{{Name: "hourly", Events: 20, Per: time.Hour}}
	tests := []struct {
		name    string
		maxKeys int
		flood   int
		// per flooding key
		floodRequests int
	}{
		{"a flood of one request per key, 10 times the bound", 1000, 10_000, 1},
		{"a flood of keys that spend their whole quota", 1000, 5_000, 20},
		{"the default bound and 150,000 keys", 0, 150_000, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if testing.Short() && tt.flood > 10_000 {
				t.Skip("-short")
			}
			clock := newClock()
			s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{MaxKeys: tt.maxKeys, Now: clock.Now})
			ctx := context.Background()
			for i := range 20 {
				if d, _ := s.Allow(ctx, "victim", quota); !d.Allowed {
					t.Fatalf("setting up: request %d refused", i+1)
				}
			}
			for i := range tt.flood {
				k := fmt.Sprint("minted-", i)
				for range tt.floodRequests {
					s.Allow(ctx, k, quota)
				}
			}
			if s.Evictions() == 0 {
				t.Fatal("the flood evicted nothing; the test proves nothing")
			}
			d, _ := s.Allow(ctx, "victim", quota)
			if d.Allowed {
				t.Fatalf("after %d minted keys the spent key was allowed again: %+v", tt.flood, d)
			}
			if want := 3 * time.Minute; d.RetryAfter < want-time.Second || d.RetryAfter > want {
				t.Errorf("RetryAfter = %v, want about one token's time, %v", d.RetryAfter, want)
			}
			// Time still refills it: one token's time later, one request.
			clock.Advance(d.RetryAfter)
			if d, _ := s.Allow(ctx, "victim", quota); !d.Allowed {
				t.Errorf("a token's time later: %+v, want allowed", d)
			}
			if d, _ := s.Allow(ctx, "victim", quota); d.Allowed {
				t.Errorf("and then: %+v, want refused", d)
			}
		})
	}
}

// What an evicted key had left comes back with it, no more: 5 of 20 left
// before the flood, at most 5 after. (The sketch may cost it a token: a
// minted key sharing all four of its cells inherits its deficit and, when
// evicted in turn, writes it back one token deeper. With one shard and 150
// keys that is rare, and never more than that.)
func TestMemoryStoreAnEvictedKeyKeepsWhatItHadLeft(t *testing.T) {
	clock := newClock()
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{MaxKeys: 100, Shards: 1, Now: clock.Now})
	quota := []ratelimit.Limit{{Name: "q", Events: 20, Per: 20 * time.Second}} // a token a second
	ctx := context.Background()
	for range 15 {
		s.Allow(ctx, "victim", quota)
	}
	for i := range 150 {
		s.Allow(ctx, fmt.Sprint("minted-", i), quota)
	}
	if s.Evictions() < 50 {
		t.Fatalf("%d evictions; the victim was not pushed out", s.Evictions())
	}
	allowed := 0
	for range 20 {
		if d, _ := s.Allow(ctx, "victim", quota); d.Allowed {
			allowed++
		}
	}
	if allowed > 5 || allowed < 4 {
		t.Errorf("5 left before eviction: %d allowed after, want 5 (4 at worst, never more)", allowed)
	}
}

// A full bucket is the same as no state: keys whose buckets filled again
// leave nothing behind, so the keys after them start full.
func TestMemoryStoreKeysWhoseBucketsFilledAgainLeaveNothingBehind(t *testing.T) {
	clock := newClock()
	// One shard: the oldest key goes first, so the new keys push out only
	// old ones, and never one another.
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{MaxKeys: 100, Shards: 1, Now: clock.Now})
	limits := []ratelimit.Limit{{Events: 10, Per: time.Second}}
	ctx := context.Background()
	for i := range 1000 {
		s.Allow(ctx, fmt.Sprint("old-", i), limits)
	}
	clock.Advance(time.Second) // every old key is full again
	for i := range 100 {
		d, _ := s.Allow(ctx, fmt.Sprint("new-", i), limits)
		if !d.Allowed || d.Remaining != 9 {
			t.Fatalf("new key %d: %+v, want a full bucket (9 left after the request)", i, d)
		}
	}
}

// A key rebuilt after eviction may come back naming only some of its
// limits; a name it brings back later is as spent as it was.
func TestMemoryStoreALimitNameBroughtBackAfterEvictionIsStillSpent(t *testing.T) {
	clock := newClock()
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{MaxKeys: 100, Now: clock.Now})
	burst := ratelimit.Limit{Name: "burst", Events: 100, Per: time.Second}
	quota := ratelimit.Limit{Name: "quota", Events: 3, Per: time.Hour}
	ctx := context.Background()
	for range 3 {
		s.Allow(ctx, "victim", []ratelimit.Limit{burst, quota})
	}
	for i := range 1000 {
		s.Allow(ctx, fmt.Sprint("minted-", i), []ratelimit.Limit{burst})
	}
	if d, _ := s.Allow(ctx, "victim", []ratelimit.Limit{burst}); !d.Allowed {
		t.Fatalf("the burst alone, rebuilt: %+v, want allowed", d)
	}
	if d, _ := s.Allow(ctx, "victim", []ratelimit.Limit{burst, quota}); d.Allowed || d.Index != 1 {
		t.Fatalf("the quota back: %+v, want refused by the quota, still spent", d)
	}
}

// TestMemoryStoreHeapUnderAKeyFlood is the figure for memory bounded at any
// number of keys: the heap a store with the default bound holds after 1 M
// and after 10 M distinct keys. It takes a minute or so, so it runs only
// with TOLLGATE_FLOOD=1:
//
//	TOLLGATE_FLOOD=1 go test -run HeapUnderAKeyFlood -v ./ratelimit/
func TestMemoryStoreHeapUnderAKeyFlood(t *testing.T) {
	if os.Getenv("TOLLGATE_FLOOD") == "" {
		t.Skip("set TOLLGATE_FLOOD=1 to flood a store with 10 M keys and report its heap")
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	base := heap()
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	limits := []ratelimit.Limit{{Events: 20, Per: time.Hour}}
	ctx := context.Background()
	for range 20 {
		s.Allow(ctx, "victim", limits)
	}
	buf := make([]byte, 0, 32)
	for i := 1; i <= 10_000_000; i++ {
		buf = strconv.AppendInt(append(buf[:0], "minted-"...), int64(i), 10)
		s.Allow(ctx, string(buf), limits)
		if i == 100_000 || i == 1_000_000 || i == 10_000_000 {
			t.Logf("after %10d keys: heap %6.1f MiB, %d held, %d evicted", i, float64(heap()-base)/(1<<20), s.Len(), s.Evictions())
		}
	}
	if d, _ := s.Allow(ctx, "victim", limits); d.Allowed {
		t.Errorf("after 10 M minted keys the spent key was allowed again: %+v", d)
	}
	runtime.KeepAlive(s)
}

// Observe lowers what the store holds for a key to what another store
// (Redis, for redisstore's fallback) said, and never raises it.
func TestMemoryStoreObserveNeverHoldsMoreThanTheOtherStoreSaid(t *testing.T) {
	quota := []ratelimit.Limit{{Name: "q", Events: 3, Per: 3 * time.Minute}} // a token a minute
	spent := func(n int) []ratelimit.LimitState {
		return []ratelimit.LimitState{{Limit: 3, Remaining: 3 - n, Reset: time.Duration(n) * time.Minute}}
	}
	quota10 := []ratelimit.Limit{{Name: "q", Events: 10, Per: 10 * time.Minute}}
	spentOf10 := func(n int) []ratelimit.LimitState {
		return []ratelimit.LimitState{{Limit: 10, Remaining: 10 - n, Reset: time.Duration(n) * time.Minute}}
	}
	tests := []struct {
		name     string
		before   int // requests allowed locally first
		observed []ratelimit.LimitState
		want     int // requests then allowed
	}{
		{"a key the store does not hold starts from what was observed", 0, spent(3), 0},
		{"a key the store does not hold, partly spent", 0, spent(1), 2},
		{"a held bucket takes what was spent there on top of its own", 1, spent(1), 1},
		{"a held bucket lower than observed is not raised", 3, spent(1), 0},
		{"a full bucket observed changes nothing", 1, spent(0), 2},
		{"more than a window observed leaves it empty", 0, []ratelimit.LimitState{{Reset: time.Hour}}, 0},
		// The store's own admissions and the other store's are both taken
		// from one budget: 3 here and 2 there since the bucket was made
		// leave 5 of 10, not the 7 this store alone knows of, nor the 8
		// the other does.
		{"what the other store spent since is taken on top of what this one admitted", 3, spentOf10(2), 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: newClock().Now})
			ctx := context.Background()
			limits := quota
			if tt.observed[0].Limit == 10 {
				limits = quota10
			}
			for range tt.before {
				s.Allow(ctx, "k", limits)
			}
			s.Observe("k", limits, tt.observed)
			got := 0
			for range 12 {
				if d, _ := s.Allow(ctx, "k", limits); d.Allowed {
					got++
				}
			}
			if got != tt.want {
				t.Errorf("%d allowed after Observe, want %d", got, tt.want)
			}
			if tt.before == 0 && s.Len() != 1 {
				t.Errorf("Len = %d", s.Len())
			}
		})
	}
	t.Run("each observation takes what was spent there since the last", func(t *testing.T) {
		s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: newClock().Now})
		ctx := context.Background()
		s.Allow(ctx, "k", quota10) // 9 left here
		s.Observe("k", quota10, spentOf10(2))
		s.Observe("k", quota10, spentOf10(4)) // 4 spent there in all
		got := 0
		for range 12 {
			if d, _ := s.Allow(ctx, "k", quota10); d.Allowed {
				got++
			}
		}
		if got != 5 {
			t.Errorf("1 admitted here and 4 there of 10: %d allowed then, want 5", got)
		}
	})
	t.Run("observing makes no bucket", func(t *testing.T) {
		s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: newClock().Now})
		for i := range 1000 {
			s.Observe(fmt.Sprint("k", i), quota, spent(1))
		}
		if s.Len() != 0 {
			t.Errorf("Len = %d after observing 1,000 keys, want 0", s.Len())
		}
		if n := testing.AllocsPerRun(100, func() { s.Observe("k", quota, spent(1)) }); n != 0 {
			t.Errorf("Observe allocates %v times, want 0", n)
		}
	})
}
