// Package otel exports tollgate's events (package observe) as
// OpenTelemetry metrics and spans. New returns the *observe.Observer that
// records them; give it to errors.WithObserver for the per-request events
// and to jwt.Config, introspect.Config and redisstore.Config for the
// background ones:
//
//	obs, err := tgotel.New(tgotel.Config{}) // the global providers
//	chain := errors.Use(errors.OAuth, errors.WithObserver(obs))
//	verifier, err := jwt.NewVerifier(ctx, jwt.Config{Issuers: issuers, Observer: obs})
//
// Metrics, from the meter "github.com/tollgate/tollgate/otel":
//
//   - tollgate.refusals {tollgate.layer, tollgate.kind}: requests refused;
//   - tollgate.token_cache.lookups {tollgate.cache.result: hit, miss};
//   - tollgate.ratelimit.decisions {tollgate.ratelimit.limit,
//     tollgate.ratelimit.decision: allowed, refused};
//   - tollgate.revocation.checks {tollgate.outcome};
//   - tollgate.introspection.lookups {tollgate.outcome,
//     tollgate.cache.result} and tollgate.introspection.duration (s, calls
//     only);
//   - tollgate.jwks.fetches {tollgate.issuer, tollgate.outcome},
//     tollgate.jwks.fetch.duration (s), and the gauges tollgate.jwks.keys,
//     tollgate.jwks.age (s) and tollgate.jwks.stale (0 or 1), by issuer;
//   - tollgate.jwks.recoveries {tollgate.issuer};
//   - tollgate.store.state_changes {tollgate.store, tollgate.store.state}
//     and the gauge tollgate.store.fallback (0 or 1).
//
// Spans, from the tracer of the same name: one per refused request
// ("tollgate.refusal", a child of the request's span when there is one,
// status Error), one per key-set fetch ("tollgate.jwks.fetch") and one per
// introspection call ("tollgate.introspect"), each timed as the call was
// and marked Error when it failed.
//
// No attribute carries a token, a key, an IP or a rate-limit key. The
// events of a request that is let through (a token-cache look-up, a
// revocation check, a rate-limit decision) cost an atomic add each and no
// allocation: their counters are observable ones, read when the metric
// reader collects. A limit's allowed and refused counts appear once it has
// decided a request; refused ones once one was refused.
package otel

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	gotel "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/observe"
)

// ScopeName is the name of the meter and the tracer New uses.
const ScopeName = "github.com/tollgate/tollgate/otel"

// Config says where New records. Its zero value uses the global providers.
type Config struct {
	// MeterProvider makes the instruments. Nil means otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// TracerProvider makes the spans. Nil means otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// Now is the clock a span's end is read from, its start being that end
	// less the duration the event reports. Nil means time.Now.
	Now func() time.Time
}

// Attribute keys of the metrics and spans.
const (
	KeyLayer       = attribute.Key("tollgate.layer")
	KeyKind        = attribute.Key("tollgate.kind")
	KeyCacheResult = attribute.Key("tollgate.cache.result")
	KeyLimit       = attribute.Key("tollgate.ratelimit.limit")
	KeyDecision    = attribute.Key("tollgate.ratelimit.decision")
	KeyOutcome     = attribute.Key("tollgate.outcome")
	KeyIssuer      = attribute.Key("tollgate.issuer")
	KeyStore       = attribute.Key("tollgate.store")
	KeyStoreState  = attribute.Key("tollgate.store.state")
)

type recorder struct {
	tracer trace.Tracer
	now    func() time.Time

	refusals       metric.Int64Counter
	introspections metric.Int64Counter
	introDuration  metric.Float64Histogram
	jwksFetches    metric.Int64Counter
	jwksDuration   metric.Float64Histogram
	jwksKeys       metric.Int64Gauge
	jwksAge        metric.Float64Gauge
	jwksStale      metric.Int64Gauge
	jwksRecoveries metric.Int64Counter
	storeChanges   metric.Int64Counter
	storeFallback  metric.Int64Gauge

	// The events of an admitted request (a token-cache look-up, a
	// revocation check, a rate-limit decision) are counted here, with an
	// atomic add each, and reported by observable counters when the
	// reader collects: the SDK's own bookkeeping of a measurement then
	// stays off the request path.
	// The maps by outcome and by limit name are read with an atomic load
	// and no lock; mu serialises the copies that add a key.
	hits, misses atomic.Int64
	mu           sync.Mutex
	revocations  atomic.Pointer[map[string]*atomic.Int64]  // by outcome
	decisions    atomic.Pointer[map[string]*decisionCount] // by limit name
}

// decisionCount is one limit's decisions.
type decisionCount struct{ allowed, refused atomic.Int64 }

// New makes the instruments and returns the Observer that records to them.
func New(cfg Config) (*observe.Observer, error) {
	mp, tp := cfg.MeterProvider, cfg.TracerProvider
	if mp == nil {
		mp = gotel.GetMeterProvider()
	}
	if tp == nil {
		tp = gotel.GetTracerProvider()
	}
	m := mp.Meter(ScopeName)
	r := &recorder{tracer: tp.Tracer(ScopeName), now: cfg.Now}
	if r.now == nil {
		r.now = time.Now
	}
	revocations := map[string]*atomic.Int64{}
	for _, o := range []string{observe.OutcomeOK, observe.OutcomeRevoked, observe.OutcomeError} {
		revocations[o] = new(atomic.Int64)
	}
	r.revocations.Store(&revocations)
	r.decisions.Store(&map[string]*decisionCount{})
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	histogram := func(name, desc string) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc))
		errs = append(errs, err)
		return h
	}
	intGauge := func(name, unit, desc string) metric.Int64Gauge {
		g, err := m.Int64Gauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	r.refusals = counter("tollgate.refusals", "{request}", "Requests refused, by layer and kind.")
	observable := func(name, unit, desc string, cb metric.Int64Callback) {
		_, err := m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc), metric.WithInt64Callback(cb))
		errs = append(errs, err)
	}
	observable("tollgate.token_cache.lookups", "{lookup}", "Look-ups in the verifier's cache of verified tokens.", r.observeCache)
	observable("tollgate.ratelimit.decisions", "{request}", "Rate-limit decisions, by configured limit name.", r.observeDecisions)
	observable("tollgate.revocation.checks", "{check}", "Revocation checks, by outcome.", r.observeRevocations)
	r.introspections = counter("tollgate.introspection.lookups", "{lookup}", "Introspection look-ups, by outcome and cache result.")
	r.introDuration = histogram("tollgate.introspection.duration", "Latency of calls to the introspection endpoint.")
	r.jwksFetches = counter("tollgate.jwks.fetches", "{fetch}", "Key-set fetches, by issuer and outcome.")
	r.jwksDuration = histogram("tollgate.jwks.fetch.duration", "Duration of key-set fetches.")
	r.jwksKeys = intGauge("tollgate.jwks.keys", "{key}", "Usable keys in the key set in use.")
	ag, err := m.Float64Gauge("tollgate.jwks.age", metric.WithUnit("s"), metric.WithDescription("Age of the key set in use at the last fetch."))
	errs = append(errs, err)
	r.jwksAge = ag
	r.jwksStale = intGauge("tollgate.jwks.stale", "1", "1 while the key set in use is past its refresh time.")
	r.jwksRecoveries = counter("tollgate.jwks.recoveries", "{recovery}", "Key sets that loaded again after failed fetches.")
	r.storeChanges = counter("tollgate.store.state_changes", "{change}", "Store state changes, by state entered.")
	r.storeFallback = intGauge("tollgate.store.fallback", "1", "1 while a store follows its outage policy.")
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return &observe.Observer{
		Refused:       r.refused,
		TokenCache:    r.tokenCache,
		RateLimit:     r.rateLimit,
		Revocation:    r.revocationCheck,
		Introspection: r.introspection,
		JWKSFetch:     r.jwksFetch,
		JWKSRecovered: r.jwksRecovered,
		StoreState:    r.storeState,
	}, nil
}

func (r *recorder) refused(ctx context.Context, ref observe.Refusal) {
	attrs := []attribute.KeyValue{KeyLayer.String(ref.Layer), KeyKind.String(ref.Kind)}
	r.refusals.Add(ctx, 1, metric.WithAttributes(attrs...))
	_, span := r.tracer.Start(ctx, "tollgate.refusal", trace.WithAttributes(attrs...), trace.WithSpanKind(trace.SpanKindInternal))
	span.SetStatus(codes.Error, ref.Kind)
	span.End()
}

func (r *recorder) tokenCache(_ context.Context, hit bool) {
	if hit {
		r.hits.Add(1)
	} else {
		r.misses.Add(1)
	}
}

func (r *recorder) rateLimit(_ context.Context, d observe.RateLimitDecision) {
	c := counterFor(&r.mu, &r.decisions, d.Limit)
	if d.Allowed {
		c.allowed.Add(1)
	} else {
		c.refused.Add(1)
	}
}

func (r *recorder) revocationCheck(_ context.Context, c observe.RevocationCheck) {
	counterFor(&r.mu, &r.revocations, c.Outcome).Add(1)
}

// counterFor returns the counter for key in the map m points to, adding a
// zero one the first time key is seen, in a copy of the map that replaces
// it: once the key is there, an atomic load and a map look-up, no lock.
func counterFor[C any](mu *sync.Mutex, m *atomic.Pointer[map[string]*C], key string) *C {
	if c, ok := (*m.Load())[key]; ok {
		return c
	}
	mu.Lock()
	defer mu.Unlock()
	cur := *m.Load()
	if c, ok := cur[key]; ok {
		return c
	}
	next := maps.Clone(cur)
	c := new(C)
	next[key] = c
	m.Store(&next)
	return c
}

var (
	hitSet  = attribute.NewSet(KeyCacheResult.String("hit"))
	missSet = attribute.NewSet(KeyCacheResult.String("miss"))
)

func (r *recorder) observeCache(_ context.Context, o metric.Int64Observer) error {
	o.Observe(r.hits.Load(), metric.WithAttributeSet(hitSet))
	o.Observe(r.misses.Load(), metric.WithAttributeSet(missSet))
	return nil
}

func (r *recorder) observeDecisions(_ context.Context, o metric.Int64Observer) error {
	for name, c := range *r.decisions.Load() {
		o.Observe(c.allowed.Load(), metric.WithAttributes(KeyLimit.String(name), KeyDecision.String("allowed")))
		if n := c.refused.Load(); n > 0 {
			o.Observe(n, metric.WithAttributes(KeyLimit.String(name), KeyDecision.String("refused")))
		}
	}
	return nil
}

func (r *recorder) observeRevocations(_ context.Context, o metric.Int64Observer) error {
	for outcome, n := range *r.revocations.Load() {
		if v := n.Load(); v > 0 {
			o.Observe(v, metric.WithAttributes(KeyOutcome.String(outcome)))
		}
	}
	return nil
}

func (r *recorder) introspection(ctx context.Context, c observe.IntrospectionCall) {
	result := "miss"
	if c.CacheHit {
		result = "hit"
	}
	r.introspections.Add(ctx, 1, metric.WithAttributes(KeyOutcome.String(c.Outcome), KeyCacheResult.String(result)))
	if c.CacheHit {
		return
	}
	outcome := metric.WithAttributes(KeyOutcome.String(c.Outcome))
	r.introDuration.Record(ctx, c.Latency.Seconds(), outcome)
	r.span(ctx, "tollgate.introspect", c.Latency, c.Outcome, trace.SpanKindClient, KeyOutcome.String(c.Outcome))
}

func (r *recorder) jwksFetch(f observe.JWKSFetch) {
	ctx := context.Background()
	issuer := metric.WithAttributes(KeyIssuer.String(f.Issuer))
	r.jwksFetches.Add(ctx, 1, metric.WithAttributes(KeyIssuer.String(f.Issuer), KeyOutcome.String(f.Outcome)))
	r.jwksDuration.Record(ctx, f.Duration.Seconds(), issuer)
	r.jwksKeys.Record(ctx, int64(f.Keys), issuer)
	r.jwksAge.Record(ctx, f.Age.Seconds(), issuer)
	var stale int64
	if f.Stale {
		stale = 1
	}
	r.jwksStale.Record(ctx, stale, issuer)
	r.span(ctx, "tollgate.jwks.fetch", f.Duration, f.Outcome, trace.SpanKindClient, KeyIssuer.String(f.Issuer), KeyOutcome.String(f.Outcome))
}

func (r *recorder) jwksRecovered(rec observe.JWKSRecovery) {
	r.jwksRecoveries.Add(context.Background(), 1, metric.WithAttributes(KeyIssuer.String(rec.Issuer)))
}

func (r *recorder) storeState(s observe.StoreState) {
	ctx := context.Background()
	r.storeChanges.Add(ctx, 1, metric.WithAttributes(KeyStore.String(s.Store), KeyStoreState.String(s.State)))
	var fallback int64
	if s.State == observe.StoreFallback {
		fallback = 1
	}
	r.storeFallback.Record(ctx, fallback, metric.WithAttributes(KeyStore.String(s.Store)))
}

// span records a span for a call that took took and ended now.
func (r *recorder) span(ctx context.Context, name string, took time.Duration, outcome string, kind trace.SpanKind, attrs ...attribute.KeyValue) {
	end := r.now()
	_, span := r.tracer.Start(ctx, name, trace.WithTimestamp(end.Add(-took)), trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
	if outcome == observe.OutcomeError {
		span.SetStatus(codes.Error, outcome)
	}
	span.End(trace.WithTimestamp(end))
}
