package observe_test

import (
	"context"
	"sync"

	"github.com/tollgate/tollgate/observe"
)

// recorder is an Observer that keeps every event it is given.
type recorder struct {
	mu            sync.Mutex
	refusals      []observe.Refusal
	cache         []bool
	limits        []observe.RateLimitDecision
	revocations   []string
	introspection []observe.IntrospectionCall
	fetches       []observe.JWKSFetch
	recoveries    []observe.JWKSRecovery
	states        []observe.StoreState
}

func (rec *recorder) observer() *observe.Observer {
	return &observe.Observer{
		Refused: func(_ context.Context, r observe.Refusal) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.refusals = append(rec.refusals, r)
		},
		TokenCache: func(_ context.Context, hit bool) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.cache = append(rec.cache, hit)
		},
		RateLimit: func(_ context.Context, d observe.RateLimitDecision) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.limits = append(rec.limits, d)
		},
		Revocation: func(_ context.Context, c observe.RevocationCheck) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.revocations = append(rec.revocations, c.Outcome)
		},
		Introspection: func(_ context.Context, c observe.IntrospectionCall) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.introspection = append(rec.introspection, c)
		},
		JWKSFetch: func(f observe.JWKSFetch) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.fetches = append(rec.fetches, f)
		},
		JWKSRecovered: func(r observe.JWKSRecovery) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.recoveries = append(rec.recoveries, r)
		},
		StoreState: func(s observe.StoreState) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.states = append(rec.states, s)
		},
	}
}
