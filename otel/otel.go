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
// instruments' attribute sets of the cached path (cache hits, allowed
// decisions, revocation checks) are built ahead, so that recording a request
// that is let through allocates no more than the SDK does for a bound
// measurement.
package otel

import (
	"context"
	"sync"
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
	cacheLookups   metric.Int64Counter
	decisions      metric.Int64Counter
	revocations    metric.Int64Counter
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

	// Options built ahead for the events of an admitted request.
	hit, miss   []metric.AddOption
	revocation  map[string][]metric.AddOption
	mu          sync.RWMutex
	allowedOpts map[string][]metric.AddOption
	refusedOpts map[string][]metric.AddOption
}

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
	r := &recorder{
		tracer: tp.Tracer(ScopeName), now: cfg.Now,
		hit:         addOptions(KeyCacheResult.String("hit")),
		miss:        addOptions(KeyCacheResult.String("miss")),
		revocation:  map[string][]metric.AddOption{},
		allowedOpts: map[string][]metric.AddOption{},
		refusedOpts: map[string][]metric.AddOption{},
	}
	if r.now == nil {
		r.now = time.Now
	}
	for _, o := range []string{observe.OutcomeOK, observe.OutcomeRevoked, observe.OutcomeError} {
		r.revocation[o] = addOptions(KeyOutcome.String(o))
	}
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
	r.cacheLookups = counter("tollgate.token_cache.lookups", "{lookup}", "Look-ups in the verifier's cache of verified tokens.")
	r.decisions = counter("tollgate.ratelimit.decisions", "{request}", "Rate-limit decisions, by configured limit name.")
	r.revocations = counter("tollgate.revocation.checks", "{check}", "Revocation checks, by outcome.")
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

func addOptions(kvs ...attribute.KeyValue) []metric.AddOption {
	return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}
}

func (r *recorder) refused(ctx context.Context, ref observe.Refusal) {
	attrs := []attribute.KeyValue{KeyLayer.String(ref.Layer), KeyKind.String(ref.Kind)}
	r.refusals.Add(ctx, 1, metric.WithAttributes(attrs...))
	_, span := r.tracer.Start(ctx, "tollgate.refusal", trace.WithAttributes(attrs...), trace.WithSpanKind(trace.SpanKindInternal))
	span.SetStatus(codes.Error, ref.Kind)
	span.End()
}

func (r *recorder) tokenCache(ctx context.Context, hit bool) {
	if hit {
		r.cacheLookups.Add(ctx, 1, r.hit...)
	} else {
		r.cacheLookups.Add(ctx, 1, r.miss...)
	}
}

func (r *recorder) rateLimit(ctx context.Context, d observe.RateLimitDecision) {
	byName, decision := r.allowedOpts, "allowed"
	if !d.Allowed {
		byName, decision = r.refusedOpts, "refused"
	}
	r.mu.RLock()
	opts, ok := byName[d.Limit]
	r.mu.RUnlock()
	if !ok {
		r.mu.Lock()
		if opts, ok = byName[d.Limit]; !ok {
			opts = addOptions(KeyLimit.String(d.Limit), KeyDecision.String(decision))
			byName[d.Limit] = opts
		}
		r.mu.Unlock()
	}
	r.decisions.Add(ctx, 1, opts...)
}

func (r *recorder) revocationCheck(ctx context.Context, c observe.RevocationCheck) {
	if opts, ok := r.revocation[c.Outcome]; ok {
		r.revocations.Add(ctx, 1, opts...)
		return
	}
	r.revocations.Add(ctx, 1, metric.WithAttributes(KeyOutcome.String(c.Outcome)))
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
