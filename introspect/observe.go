package introspect

import (
	"context"
	"time"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/observe"
)

// ObservedLayer names introspection as the layer that refused a token, for
// the observer of middleware.Authenticate.
func (c *Client) ObservedLayer(string) string { return observe.LayerIntrospect }

// observeCached reports an answer from the cache.
func (c *Client) observeCached(ctx context.Context, err *tgerrors.Error) {
	c.observer.ReportIntrospection(ctx, observe.IntrospectionCall{Outcome: outcomeOf(err), CacheHit: true})
}

// observeCall reports a call to the endpoint that took took.
func (c *Client) observeCall(ctx context.Context, err *tgerrors.Error, took time.Duration) {
	c.observer.ReportIntrospection(ctx, observe.IntrospectionCall{Outcome: outcomeOf(err), Latency: took})
}

// outcomeOf is the observed outcome of an answer: a token refused by the
// server's answer is inactive, a call that gave no usable answer an error.
func outcomeOf(err *tgerrors.Error) string {
	switch {
	case err == nil:
		return observe.OutcomeOK
	case err.Kind == tgerrors.Unavailable:
		return observe.OutcomeError
	}
	return observe.OutcomeInactive
}
