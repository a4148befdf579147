package observe_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/ipfilter"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/observe"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/scopes"
)

// counting is an observer whose funcs count and allocate nothing, as a
// metrics adapter with bound instruments does.
func counting(n *atomic.Int64) *observe.Observer {
	return &observe.Observer{
		Refused:    func(context.Context, observe.Refusal) { n.Add(1) },
		TokenCache: func(context.Context, bool) { n.Add(1) },
		RateLimit:  func(context.Context, observe.RateLimitDecision) { n.Add(1) },
		Revocation: func(context.Context, observe.RevocationCheck) { n.Add(1) },
	}
}

// An observer adds no allocation to a cached token's way through the whole
// chain (ipfilter, Authenticate with revocation, ratelimit, scopes), set or
// not: the layers find it in the node errors.Use made and pass events by
// value.
func TestObservingTheCachedChainAddsNoAllocation(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := newVerifier(t, iss, nil)
	notRevoked := revocationFunc(func() (bool, error) { return false, nil })
	chain := func(opts ...tgerrors.UseOption) http.Handler {
		return middleware.Chain(
			tgerrors.Use(tgerrors.OAuth, opts...),
			ipfilter.New(ipfilter.Config{Allow: []string{"192.0.2.0/24"}}),
			middleware.Authenticate(v, middleware.OnRefusal(nil), middleware.WithRevocation(notRevoked)),
			ratelimit.New(ratelimit.Config{Limits: []ratelimit.Limit{{Events: 1 << 30, Per: time.Second}}, Key: ratelimit.KeyByPrincipal}),
			scopes.Require("orders.read"),
		)(&handler{})
	}
	r := httptest.NewRequest("GET", "/orders", nil)
	r.RemoteAddr = "192.0.2.10:5000"
	r.Header.Set("Authorization", "Bearer "+mint(iss, "a-1"))
	allocs := func(h http.Handler) float64 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		return testing.AllocsPerRun(500, func() { h.ServeHTTP(w, r) })
	}
	var n atomic.Int64
	unset := allocs(chain())
	nilObserver := allocs(chain(tgerrors.WithObserver(nil)))
	set := allocs(chain(tgerrors.WithObserver(counting(&n))))
	if nilObserver != unset || set != unset {
		t.Errorf("allocations per request: unset %g, nil observer %g, observer set %g", unset, nilObserver, set)
	}
	// token cache, revocation, rate limit: three events a request.
	if n.Load() < 3*500 {
		t.Errorf("the observer saw %d events over 500 requests", n.Load())
	}
}

func TestReportingToNoObserverDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	var o *observe.Observer
	if n := testing.AllocsPerRun(100, func() {
		observe.Refuse(ctx, observe.LayerScopes, "insufficient_scope")
		o.ReportTokenCache(ctx, true)
		o.ReportRateLimit(ctx, "default", true)
		o.ReportJWKSFetch(observe.JWKSFetch{Issuer: "https://issuer.example"})
	}); n != 0 {
		t.Errorf("%g allocations", n)
	}
}
