package bench

import (
	"context"
	"net/http"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/observe"
	tgotel "github.com/tollgate/tollgate/otel"
)

// newOTelObserver is the OpenTelemetry adapter on the SDK's own meter and
// tracer providers, aggregating into a manual reader as an exporter's
// periodic reader would.
func newOTelObserver(tb testing.TB) *observe.Observer {
	tb.Helper()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider()
	tb.Cleanup(func() { _ = mp.Shutdown(context.Background()); _ = tp.Shutdown(context.Background()) })
	o, err := tgotel.New(tgotel.Config{MeterProvider: mp, TracerProvider: tp})
	if err != nil {
		tb.Fatal(err)
	}
	return o
}

// newObservedChain is newChain with o given to errors.Use.
func newObservedChain(v middleware.Verifier, o *observe.Observer, h http.Handler) http.Handler {
	layers := chainLayers(v)
	layers[0].mw = tgerrors.Use(tgerrors.OAuth, tgerrors.WithObserver(o))
	var mws []func(http.Handler) http.Handler
	for _, l := range layers {
		mws = append(mws, l.mw)
	}
	return middleware.Chain(mws...)(h)
}

// BenchmarkCachedTokenObserved is tollgate_chain of BenchmarkCachedToken
// with no observer (unset) and with the OpenTelemetry adapter (otel), which
// records a token-cache hit and a rate-limit decision per request.
func BenchmarkCachedTokenObserved(b *testing.B) {
	token := theToken()
	for _, c := range []struct {
		name string
		obs  func(testing.TB) *observe.Observer
	}{
		{"unset", func(testing.TB) *observe.Observer { return nil }},
		{"otel", newOTelObserver},
	} {
		b.Run(c.name, func(b *testing.B) {
			reached := &counter{}
			h := newObservedChain(newVerifier(b, 0), c.obs(b), reached)
			r, w := newRequest(token), newDiscard()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
			mustReach(b, reached, w)
		})
	}
}

// The chain observed by the OpenTelemetry adapter stays within the budget
// and allocates no more than the chain unobserved.
func TestTheChainObservedThroughOpenTelemetryStaysWithinTheAllocationBudget(t *testing.T) {
	v := newVerifier(t, 0)
	r := newRequest(theToken())
	unset := allocsPerRequest(newChain(v, &counter{}), r)
	c := &counter{}
	observed := allocsPerRequest(newObservedChain(v, newOTelObserver(t), c), r)
	if c.n == 0 {
		t.Fatal("the handler was never reached")
	}
	if observed > chainAllocBudget || observed != unset {
		t.Errorf("observed chain: %g allocations per request, unobserved %g, budget %d", observed, unset, chainAllocBudget)
	}
}
