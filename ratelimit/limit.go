package ratelimit

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/tollgate/tollgate/principal"
)

// Limit is one token bucket: it holds up to Burst tokens, starts full, and
// refills at Events per Per. Each request takes one token; a request that
// finds less than one token is refused.
//
// {Events: 10, Per: time.Second} allows a steady 10 requests a second with
// bursts of 10; {Events: 1000, Per: time.Hour, Burst: 100} allows 1,000 an
// hour, at most 100 of them back to back.
type Limit struct {
	// Name identifies the limit in the RateLimit-Policy and RateLimit
	// headers. It must be printable ASCII without '"' or '\'. Default:
	// "default" for a lone limit, "limit0", "limit1", … by position when
	// there are several.
	Name string
	// Events is how many tokens the bucket regains every Per. Required,
	// positive.
	Events int
	// Per is the period over which Events tokens are regained. Required,
	// positive.
	Per time.Duration
	// Burst is the bucket's capacity: how many requests may arrive back to
	// back. Default (0): Events.
	Burst int
}

// Capacity is the bucket's size: Burst, or Events when Burst is 0. It is
// what X-RateLimit-Limit reports.
func (l Limit) Capacity() int {
	if l.Burst > 0 {
		return l.Burst
	}
	return l.Events
}

// Window is how long an empty bucket takes to fill up again; the
// RateLimit-Policy header reports it as w.
func (l Limit) Window() time.Duration {
	return time.Duration(float64(l.Per) * float64(l.Capacity()) / float64(l.Events))
}

// Validate reports what is wrong with l, or nil.
func (l Limit) Validate() error {
	if l.Events <= 0 {
		return fmt.Errorf("ratelimit: limit %q: Events must be positive, got %d", l.Name, l.Events)
	}
	if l.Per <= 0 {
		return fmt.Errorf("ratelimit: limit %q: Per must be positive, got %v", l.Name, l.Per)
	}
	if l.Burst < 0 {
		return fmt.Errorf("ratelimit: limit %q: Burst must not be negative, got %d", l.Name, l.Burst)
	}
	for i := 0; i < len(l.Name); i++ {
		if c := l.Name[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return fmt.Errorf("ratelimit: limit name %q: only printable ASCII without '\"' or '\\'", l.Name)
		}
	}
	return nil
}

// normalize validates limits, fills in default names (see Limit.Name) and
// checks that no two share a name. It returns limits itself when nothing
// had to be filled in, so a store can recognise the same limits by their
// backing array.
func normalize(limits []Limit) ([]Limit, error) {
	if len(limits) == 0 {
		return nil, fmt.Errorf("ratelimit: no limits")
	}
	out := limits
	for i, l := range limits {
		if err := l.Validate(); err != nil {
			return nil, err
		}
		if l.Name == "" {
			if &out[0] == &limits[0] {
				out = append([]Limit(nil), limits...)
			}
			if len(limits) == 1 {
				out[i].Name = "default"
			} else {
				out[i].Name = "limit" + strconv.Itoa(i)
			}
		}
	}
	for i := 1; i < len(out); i++ {
		for _, prev := range out[:i] {
			if prev.Name == out[i].Name {
				return nil, fmt.Errorf("ratelimit: two limits named %q", prev.Name)
			}
		}
	}
	return out, nil
}

// Store decides, for one key, whether a request is within all of its limits,
// and takes one token from every limit if it is. A refused request takes
// nothing. Implementations must be safe for concurrent use and exact: N
// concurrent requests on a full bucket of Burst B let exactly min(N, B)
// through.
//
// The MemoryStore in this package keeps buckets in the process;
// ratelimit/redisstore shares them between replicas. A store keeps state
// per (key, limit name): a call that names only some of a key's limits
// leaves the others as they are, so limiters with different limits may
// share one store. The limits passed under one name may change between
// calls (a principal's own limit changed); the store then applies the new
// rate and capacity to the tokens that name holds.
type Store interface {
	Allow(ctx context.Context, key string, limits []Limit) (Decision, error)
}

// WeightedStore is a Store that can charge a request more than one token
// (Config.Cost): AllowN admits the request if every limit holds cost
// tokens, and takes cost from each, or nothing. Allow is AllowN with a cost
// of 1. MemoryStore and redisstore.Store implement it.
type WeightedStore interface {
	Store
	AllowN(ctx context.Context, key string, limits []Limit, cost int) (Decision, error)
}

// Decision is a store's answer for one request, reported for the most
// restrictive of the key's limits: when refused, the limit that refused with
// the longest wait; when allowed, the one with the fewest tokens left (on a
// tie, the one that takes longest to fill).
type Decision struct {
	// Allowed reports whether the request may proceed.
	Allowed bool
	// Index is the position, in the limits passed to Allow, of the limit
	// reported.
	Index int
	// Limit is the reported bucket's capacity (Limit.Capacity).
	Limit int
	// Remaining is the whole tokens left in the reported bucket after this
	// request: how many more requests would be allowed right now.
	Remaining int
	// Reset is how long the reported bucket takes to be full again.
	Reset time.Duration
	// RetryAfter is, for a refused request, how long until one token is
	// back in every refusing bucket. Zero when allowed.
	RetryAfter time.Duration
	// At is the store's time of the decision (for Redis, the server's
	// clock). X-RateLimit-Reset is written as At+Reset. The zero Time
	// means the middleware reads its own clock.
	At time.Time
}

// LimitState is one limit's bucket after a decision, as a Store computes
// it; Combine folds several into a Decision.
type LimitState struct {
	// Limit is the bucket's capacity.
	Limit int
	// Remaining is the whole tokens left (after taking one, if the request
	// was allowed).
	Remaining int
	// Reset is how long the bucket takes to be full again.
	Reset time.Duration
	// RetryAfter is zero if this bucket had a token for the request, and
	// otherwise how long until it will.
	RetryAfter time.Duration
}

// Combine folds the states of all of a key's limits, in the order of the
// limits, into the Decision reported for the request (see Decision for which
// limit is reported). The request is allowed if no state has a RetryAfter.
func Combine(states []LimitState) Decision {
	d := Decision{Allowed: true, Index: -1}
	for i, s := range states {
		if s.RetryAfter > 0 {
			if d.Allowed || s.RetryAfter > d.RetryAfter {
				d = Decision{Index: i, Limit: s.Limit, Remaining: 0, Reset: s.Reset, RetryAfter: s.RetryAfter}
			}
			continue
		}
		if !d.Allowed {
			continue
		}
		if d.Index < 0 || s.Remaining < d.Remaining || (s.Remaining == d.Remaining && s.Reset > d.Reset) {
			d = Decision{Allowed: true, Index: i, Limit: s.Limit, Remaining: s.Remaining, Reset: s.Reset}
		}
	}
	if d.Index < 0 {
		d.Index = 0
	}
	return d
}

// ceilDuration converts a float number of nanoseconds to a Duration,
// rounding up so a client told to wait never comes back too early.
func ceilDuration(ns float64) time.Duration {
	if ns <= 0 {
		return 0
	}
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(math.Ceil(ns))
}

// LimitFromClaim returns a Config.LimitFor that reads an account's own
// limit from a numeric claim of its token: claim=N gives {Events: N, Per:
// per}, with Burst N, named after the claim. A principal without the claim, or with a claim that is
// not a positive whole number, gets the configured Limits. It panics if
// per is not positive or claim is not a valid Limit.Name. The returned
// function allocates one small slice per request that carries the claim.
func LimitFromClaim(claim string, per time.Duration) func(*http.Request, *principal.Principal) []Limit {
	if err := (Limit{Name: claim, Events: 1, Per: per}).Validate(); err != nil {
		panic("ratelimit.LimitFromClaim: " + err.Error())
	}
	return func(_ *http.Request, p *principal.Principal) []Limit {
		v, ok := p.Claim(claim)
		if !ok {
			return nil
		}
		var n int64
		switch v := v.(type) {
		case float64:
			if v != math.Trunc(v) || v < 1 || v > math.MaxInt32 {
				return nil
			}
			n = int64(v)
		case int:
			n = int64(v)
		case int64:
			n = v
		case json.Number:
			var err error
			if n, err = v.Int64(); err != nil {
				return nil
			}
		case string:
			var err error
			if n, err = strconv.ParseInt(v, 10, 32); err != nil {
				return nil
			}
		default:
			return nil
		}
		if n < 1 || n > math.MaxInt32 {
			return nil
		}
		return []Limit{{Name: claim, Events: int(n), Per: per}}
	}
}
