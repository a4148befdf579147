// Package prometheus exports tollgate's events (package observe) as
// Prometheus metrics. New registers the collectors and returns the
// *observe.Observer that feeds them; give it to errors.WithObserver for
// the per-request events and to jwt.Config, introspect.Config and
// redisstore.Config for the background ones:
//
//	obs, err := tgprom.New(prometheus.DefaultRegisterer)
//	chain := errors.Use(errors.OAuth, errors.WithObserver(obs))
//	verifier, err := jwt.NewVerifier(ctx, jwt.Config{Issuers: issuers, Observer: obs})
//
// The metrics, each under the tollgate_ prefix:
//
//   - refusals_total{layer,kind}: requests refused, by layer and kind;
//   - token_cache_hits_total, token_cache_misses_total: Authenticate's
//     look-ups in the verifier's cache of verified tokens;
//   - ratelimit_decisions_total{limit,decision}: decision "allowed" or
//     "refused", limit the configured name (never the key);
//   - revocation_checks_total{outcome}: "ok", "revoked" or "error";
//   - introspection_requests_total{outcome,cache}: cache "hit" or "miss";
//   - introspection_duration_seconds{outcome}: calls to the endpoint;
//   - jwks_fetches_total{issuer,outcome}, jwks_fetch_duration_seconds{issuer};
//   - jwks_keys{issuer}, jwks_age_seconds{issuer}, jwks_stale{issuer}: the
//     set in use after the last fetch (age 0 after a success, stale 1 while
//     an old set serves past its refresh time);
//   - jwks_recoveries_total{issuer}: sets that loaded again after failures;
//   - store_fallback{store}: 1 while a store answers from its fallback;
//   - store_state_changes_total{store,state}.
//
// No label carries a token, a key, an IP or a rate-limit key. The counters
// of the cached path are bound ahead (cache hits, revocation checks) or on
// a limit's first decision (allowed decisions), so observing a request
// that is let through allocates nothing.
package prometheus

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"

	prom "github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate/observe"
)

const namespace = "tollgate"

// collectors are the metrics one New registered.
type collectors struct {
	refusals               *prom.CounterVec
	cacheHits, cacheMisses prom.Counter
	decisions              *prom.CounterVec
	revocations            *prom.CounterVec
	revocationByOutcome    map[string]prom.Counter
	introspections         *prom.CounterVec
	introspectionDuration  *prom.HistogramVec
	jwksFetches            *prom.CounterVec
	jwksDuration           *prom.HistogramVec
	jwksKeys, jwksAge      *prom.GaugeVec
	jwksStale              *prom.GaugeVec
	jwksRecoveries         *prom.CounterVec
	storeFallback          *prom.GaugeVec
	storeChanges           *prom.CounterVec

	// allowed and refused are the decision counters bound by limit name,
	// so that the decision of a request allocates nothing once its
	// limit's counter exists. They are read with an atomic load and no
	// lock; mu serialises the copies that add a limit.
	mu               sync.Mutex
	allowed, refused atomic.Pointer[map[string]prom.Counter]
}

// counter, counterVec, gaugeVec and histogramVec make the collectors of
// New under the tollgate_ prefix; histograms have the default buckets.
func counter(name, help string) prom.Counter {
	return prom.NewCounter(prom.CounterOpts{Namespace: namespace, Name: name, Help: help})
}

func counterVec(name, help string, labels ...string) *prom.CounterVec {
	return prom.NewCounterVec(prom.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
}

func gaugeVec(name, help string, labels ...string) *prom.GaugeVec {
	return prom.NewGaugeVec(prom.GaugeOpts{Namespace: namespace, Name: name, Help: help}, labels)
}

func histogramVec(name, help string, labels ...string) *prom.HistogramVec {
	return prom.NewHistogramVec(prom.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: prom.DefBuckets}, labels)
}

// New registers tollgate's collectors with reg and returns the Observer
// that feeds them. It fails if reg already holds a collector of the same
// name (a second New on one registry).
func New(reg prom.Registerer) (*observe.Observer, error) {
	c := &collectors{
		refusals: counterVec("refusals_total",
			"Requests refused, by the layer that refused them and the kind of refusal.", "layer", "kind"),
		cacheHits: counter("token_cache_hits_total",
			"Tokens found in the verifier's cache of verified tokens."),
		cacheMisses: counter("token_cache_misses_total",
			"Tokens not found in the verifier's cache of verified tokens."),
		decisions: counterVec("ratelimit_decisions_total",
			"Rate-limit decisions, by configured limit name and decision (allowed, refused).", "limit", "decision"),
		revocations: counterVec("revocation_checks_total",
			"Revocation checks, by outcome (ok, revoked, error).", "outcome"),
		introspections: counterVec("introspection_requests_total",
			"Introspection look-ups, by outcome (ok, inactive, error) and cache (hit, miss).", "outcome", "cache"),
		introspectionDuration: histogramVec("introspection_duration_seconds",
			"Latency of calls to the introspection endpoint, by outcome.", "outcome"),
		jwksFetches: counterVec("jwks_fetches_total",
			"Key-set fetches, by issuer and outcome (ok, error).", "issuer", "outcome"),
		jwksDuration: histogramVec("jwks_fetch_duration_seconds",
			"Duration of key-set fetches, by issuer.", "issuer"),
		jwksKeys: gaugeVec("jwks_keys",
			"Usable keys in the key set in use, by issuer.", "issuer"),
		jwksAge: gaugeVec("jwks_age_seconds",
			"Age of the key set in use at the last fetch: 0 after a success, the time since the last success after a failure.", "issuer"),
		jwksStale: gaugeVec("jwks_stale",
			"1 while the key set in use is past its refresh time because fetches fail.", "issuer"),
		jwksRecoveries: counterVec("jwks_recoveries_total",
			"Key sets that loaded again after failed fetches, by issuer.", "issuer"),
		storeFallback: gaugeVec("store_fallback",
			"1 while a store cannot reach its server and follows its outage policy.", "store"),
		storeChanges: counterVec("store_state_changes_total",
			"Store state changes, by store and state entered (remote, fallback).", "store", "state"),
	}
	c.allowed.Store(&map[string]prom.Counter{})
	c.refused.Store(&map[string]prom.Counter{})
	for _, col := range []prom.Collector{c.refusals, c.cacheHits, c.cacheMisses, c.decisions, c.revocations,
		c.introspections, c.introspectionDuration, c.jwksFetches, c.jwksDuration, c.jwksKeys, c.jwksAge,
		c.jwksStale, c.jwksRecoveries, c.storeFallback, c.storeChanges} {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	c.revocationByOutcome = map[string]prom.Counter{}
	for _, o := range []string{observe.OutcomeOK, observe.OutcomeRevoked, observe.OutcomeError} {
		c.revocationByOutcome[o] = c.revocations.WithLabelValues(o)
	}
	return &observe.Observer{
		Refused:       c.countRefusal,
		TokenCache:    c.tokenCache,
		RateLimit:     c.rateLimit,
		Revocation:    c.revocation,
		Introspection: c.introspection,
		JWKSFetch:     c.jwksFetch,
		JWKSRecovered: c.jwksRecovered,
		StoreState:    c.storeState,
	}, nil
}

func (c *collectors) countRefusal(_ context.Context, r observe.Refusal) {
	c.refusals.WithLabelValues(r.Layer, r.Kind).Inc()
}

func (c *collectors) tokenCache(_ context.Context, hit bool) {
	if hit {
		c.cacheHits.Inc()
	} else {
		c.cacheMisses.Inc()
	}
}

func (c *collectors) rateLimit(_ context.Context, d observe.RateLimitDecision) {
	byName, decision := &c.allowed, "allowed"
	if !d.Allowed {
		byName, decision = &c.refused, "refused"
	}
	counter, ok := (*byName.Load())[d.Limit]
	if !ok {
		counter = c.bind(byName, d.Limit, decision)
	}
	counter.Inc()
}

// bind adds limit's counter of decision to the map byName points to, in a
// copy that replaces it, unless another decision added it first.
func (c *collectors) bind(byName *atomic.Pointer[map[string]prom.Counter], limit, decision string) prom.Counter {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := *byName.Load()
	if counter, ok := cur[limit]; ok {
		return counter
	}
	next := maps.Clone(cur)
	next[limit] = c.decisions.WithLabelValues(limit, decision)
	byName.Store(&next)
	return next[limit]
}

func (c *collectors) revocation(_ context.Context, rc observe.RevocationCheck) {
	if counter, ok := c.revocationByOutcome[rc.Outcome]; ok {
		counter.Inc()
		return
	}
	c.revocations.WithLabelValues(rc.Outcome).Inc()
}

func (c *collectors) introspection(_ context.Context, ic observe.IntrospectionCall) {
	cache := "miss"
	if ic.CacheHit {
		cache = "hit"
	}
	c.introspections.WithLabelValues(ic.Outcome, cache).Inc()
	if !ic.CacheHit {
		c.introspectionDuration.WithLabelValues(ic.Outcome).Observe(ic.Latency.Seconds())
	}
}

func (c *collectors) jwksFetch(f observe.JWKSFetch) {
	c.jwksFetches.WithLabelValues(f.Issuer, f.Outcome).Inc()
	c.jwksDuration.WithLabelValues(f.Issuer).Observe(f.Duration.Seconds())
	c.jwksKeys.WithLabelValues(f.Issuer).Set(float64(f.Keys))
	c.jwksAge.WithLabelValues(f.Issuer).Set(f.Age.Seconds())
	stale := 0.0
	if f.Stale {
		stale = 1
	}
	c.jwksStale.WithLabelValues(f.Issuer).Set(stale)
}

func (c *collectors) jwksRecovered(r observe.JWKSRecovery) {
	c.jwksRecoveries.WithLabelValues(r.Issuer).Inc()
}

func (c *collectors) storeState(s observe.StoreState) {
	c.storeChanges.WithLabelValues(s.Store, s.State).Inc()
	fallback := 0.0
	if s.State == observe.StoreFallback {
		fallback = 1
	}
	c.storeFallback.WithLabelValues(s.Store).Set(fallback)
}
