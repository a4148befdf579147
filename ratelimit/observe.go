package ratelimit

import (
	"context"

	"github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/observe"
)

// observeDecision reports d to obs: the decision with the name of the limit
// it reports (never the key, which is an IP or a token digest), and a
// refusal when it refused.
func observeDecision(ctx context.Context, obs *observe.Observer, d Decision, limits []Limit) {
	var name string
	if d.Index >= 0 && d.Index < len(limits) {
		name = limits[d.Index].Name
	}
	obs.ReportRateLimit(ctx, name, d.Allowed)
	if !d.Allowed {
		obs.ReportRefusal(ctx, observe.LayerRateLimit, string(errors.RateLimited))
	}
}
