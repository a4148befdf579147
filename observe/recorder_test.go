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
	revocation := keep(&rec.mu, &rec.revocations)
	return &observe.Observer{
		Refused:       withContext(keep(&rec.mu, &rec.refusals)),
		TokenCache:    withContext(keep(&rec.mu, &rec.cache)),
		RateLimit:     withContext(keep(&rec.mu, &rec.limits)),
		Revocation:    func(_ context.Context, c observe.RevocationCheck) { revocation(c.Outcome) },
		Introspection: withContext(keep(&rec.mu, &rec.introspection)),
		JWKSFetch:     keep(&rec.mu, &rec.fetches),
		JWKSRecovered: keep(&rec.mu, &rec.recoveries),
		StoreState:    keep(&rec.mu, &rec.states),
	}
}

// keep returns a func that appends its event to list under mu.
func keep[E any](mu *sync.Mutex, list *[]E) func(E) {
	return func(e E) {
		mu.Lock()
		defer mu.Unlock()
		*list = append(*list, e)
	}
}

// withContext is f for an Observer field that is given the request's
// context too.
func withContext[E any](f func(E)) func(context.Context, E) {
	return func(_ context.Context, e E) { f(e) }
}
