package otel_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/introspect"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/observe"
	tgotel "github.com/tollgate/tollgate/otel"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/scopes"
)

const audience = "orders-api"

type handler struct{ reached int }

func (h *handler) ServeHTTP(http.ResponseWriter, *http.Request) { h.reached++ }

// setup is an observer recording to an in-memory reader and span recorder.
type setup struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	obs    *observe.Observer
	iss    *authtest.Issuer
}

func newSetup(t *testing.T) *setup {
	t.Helper()
	s := &setup{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder(), iss: authtest.NewIssuer(t)}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(s.reader))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(s.spans))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()); _ = tp.Shutdown(context.Background()) })
	var err error
	if s.obs, err = tgotel.New(tgotel.Config{MeterProvider: mp, TracerProvider: tp}); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *setup) verifier(t *testing.T, o *observe.Observer) *jwt.Verifier {
	t.Helper()
	v, err := jwt.NewVerifier(context.Background(), jwt.Config{
		Issuers:  []jwt.Issuer{{Issuer: s.iss.URL(), JWKSURL: s.iss.JWKSURL(), Audiences: []string{audience}, Algorithms: []string{"RS256"}}},
		Observer: o,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v
}

func (s *setup) chain(t *testing.T, o *observe.Observer, events int, h http.Handler) http.Handler {
	var opts []tgerrors.UseOption
	if o != nil {
		opts = append(opts, tgerrors.WithObserver(o))
	}
	return middleware.Chain(
		tgerrors.Use(tgerrors.OAuth, opts...),
		middleware.Authenticate(s.verifier(t, o), middleware.OnRefusal(nil)),
		ratelimit.New(ratelimit.Config{Limits: []ratelimit.Limit{{Name: "per-caller", Events: events, Per: time.Hour}}, Key: ratelimit.KeyByPrincipal}),
		scopes.Require("orders.read"),
	)(h)
}

func serve(h http.Handler, token string) int {
	r := httptest.NewRequest("GET", "/orders", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// sum returns the value of the data point of name whose attributes are
// attrs ("k=v,k=v", sorted by key): a sum's or gauge's value, a histogram's
// count.
func (s *setup) sum(t *testing.T, name, attrs string) float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := s.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			if v, ok := pointValue(m.Data, attrs); ok {
				return v
			}
			t.Fatalf("%s has no point {%s}", name, attrs)
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// pointValue is the value of data's point whose attributes are attrs.
func pointValue(data metricdata.Aggregation, attrs string) (float64, bool) {
	switch d := data.(type) {
	case metricdata.Sum[int64]:
		return pointOf(d.DataPoints, attrs)
	case metricdata.Gauge[int64]:
		return pointOf(d.DataPoints, attrs)
	case metricdata.Gauge[float64]:
		return pointOf(d.DataPoints, attrs)
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			if attrString(p.Attributes) == attrs {
				return float64(p.Count), true
			}
		}
	}
	return 0, false
}

func pointOf[N int64 | float64](points []metricdata.DataPoint[N], attrs string) (float64, bool) {
	for _, p := range points {
		if attrString(p.Attributes) == attrs {
			return float64(p.Value), true
		}
	}
	return 0, false
}

// point is a data point a test expects.
type point struct {
	name, attrs string
	want        float64
}

// expect checks each point of want against the reader's collection.
func (s *setup) expect(t *testing.T, want []point) {
	t.Helper()
	for _, c := range want {
		if got := s.sum(t, c.name, c.attrs); got != c.want {
			t.Errorf("%s{%s} = %g, want %g", c.name, c.attrs, got, c.want)
		}
	}
}

func attrString(set attribute.Set) string {
	var parts []string
	for _, kv := range set.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	return strings.Join(parts, ",")
}

func TestRequestsThroughTheChainAreRecordedAsMetricsAndRefusalSpans(t *testing.T) {
	s := newSetup(t)
	h := &handler{}
	chain := s.chain(t, s.obs, 2, h)
	good := s.iss.Mint(map[string]any{"sub": "m-1", "aud": audience, "scope": "orders.read"})
	noScope := s.iss.Mint(map[string]any{"sub": "m-2", "aud": audience, "scope": "orders.write"})
	for _, c := range []struct {
		token  string
		status int
	}{
		{"", 401}, {good, 200}, {good, 200}, {good, 429}, {noScope, 403},
	} {
		if got := serve(chain, c.token); got != c.status {
			t.Fatalf("status %d, want %d", got, c.status)
		}
	}
	if h.reached != 2 {
		t.Errorf("handler reached %d times, want 2", h.reached)
	}
	iss := s.iss.URL()
	s.expect(t, []point{
		{"tollgate.refusals", "tollgate.kind=missing_token,tollgate.layer=authenticate", 1},
		{"tollgate.refusals", "tollgate.kind=rate_limited,tollgate.layer=ratelimit", 1},
		{"tollgate.refusals", "tollgate.kind=insufficient_scope,tollgate.layer=scopes", 1},
		{"tollgate.token_cache.lookups", "tollgate.cache.result=miss", 2},
		{"tollgate.token_cache.lookups", "tollgate.cache.result=hit", 2},
		{"tollgate.ratelimit.decisions", "tollgate.ratelimit.decision=allowed,tollgate.ratelimit.limit=per-caller", 3},
		{"tollgate.ratelimit.decisions", "tollgate.ratelimit.decision=refused,tollgate.ratelimit.limit=per-caller", 1},
		{"tollgate.jwks.fetches", "tollgate.issuer=" + iss + ",tollgate.outcome=ok", 1},
		{"tollgate.jwks.fetch.duration", "tollgate.issuer=" + iss, 1},
		{"tollgate.jwks.stale", "tollgate.issuer=" + iss, 0},
	})

	var refusals, fetches int
	for _, sp := range s.spans.Ended() {
		for _, kv := range sp.Attributes() {
			if v := kv.Value.String(); strings.Contains(v, good[:20]) || strings.Contains(v, noScope[:20]) {
				t.Errorf("span %s holds a token in %s", sp.Name(), kv.Key)
			}
		}
		switch sp.Name() {
		case "tollgate.refusal":
			refusals++
			if sp.Status().Code != codes.Error {
				t.Errorf("refusal span status %v", sp.Status())
			}
		case "tollgate.jwks.fetch":
			fetches++
		default:
			t.Errorf("unexpected span %s", sp.Name())
		}
	}
	if refusals != 3 || fetches != 1 {
		t.Errorf("%d refusal spans, %d fetch spans; want 3 and 1", refusals, fetches)
	}
}

func TestIntrospectionCallsGetASpanAndCacheHitsDoNot(t *testing.T) {
	s := newSetup(t)
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.PostFormValue("token") == "broken-1" {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		fmt.Fprint(w, `{"active":true,"sub":"merchant-42"}`)
	}))
	defer as.Close()
	ic, err := introspect.New(introspect.Config{Endpoint: as.URL, Auth: introspect.NoClientAuth(), Observer: s.obs})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"opaque-1", "opaque-1", "broken-1"} {
		_, _ = ic.Verify(context.Background(), tok)
	}
	s.expect(t, []point{
		{"tollgate.introspection.lookups", "tollgate.cache.result=miss,tollgate.outcome=ok", 1},
		{"tollgate.introspection.lookups", "tollgate.cache.result=hit,tollgate.outcome=ok", 1},
		{"tollgate.introspection.lookups", "tollgate.cache.result=miss,tollgate.outcome=error", 1},
		{"tollgate.introspection.duration", "tollgate.outcome=ok", 1},
	})
	spans := s.spans.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want one per call (2)", len(spans))
	}
	if spans[0].Name() != "tollgate.introspect" || spans[0].Status().Code == codes.Error || spans[1].Status().Code != codes.Error {
		t.Errorf("spans %s %v, %s %v", spans[0].Name(), spans[0].Status(), spans[1].Name(), spans[1].Status())
	}
}

func TestStoreStatesAreRecorded(t *testing.T) {
	s := newSetup(t)
	s.obs.StoreState(observe.StoreState{Store: "ratelimit/redisstore", State: observe.StoreFallback})
	if got := s.sum(t, "tollgate.store.fallback", "tollgate.store=ratelimit/redisstore"); got != 1 {
		t.Errorf("tollgate.store.fallback = %g", got)
	}
	s.obs.StoreState(observe.StoreState{Store: "ratelimit/redisstore", State: observe.StoreRemote})
	if got := s.sum(t, "tollgate.store.fallback", "tollgate.store=ratelimit/redisstore"); got != 0 {
		t.Errorf("tollgate.store.fallback = %g after recovery", got)
	}
	if got := s.sum(t, "tollgate.store.state_changes", "tollgate.store=ratelimit/redisstore,tollgate.store.state=remote"); got != 1 {
		t.Errorf("state changes to remote = %g", got)
	}
}

// Recording a request that is let through allocates nothing more than not
// observing it: its events are atomic adds, read when the reader collects.
func TestObservingAnAdmittedRequestAddsNoAllocation(t *testing.T) {
	s := newSetup(t)
	token := s.iss.Mint(map[string]any{"sub": "m-1", "aud": audience, "scope": "orders.read"})
	allocs := func(h http.Handler) float64 {
		r := httptest.NewRequest("GET", "/orders", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
		return testing.AllocsPerRun(500, func() { h.ServeHTTP(w, r) })
	}
	unset := allocs(s.chain(t, nil, 1<<30, &handler{}))
	set := allocs(s.chain(t, s.obs, 1<<30, &handler{}))
	if set != unset {
		t.Errorf("allocations per request: %g unobserved, %g observed", unset, set)
	}
	if got := s.sum(t, "tollgate.token_cache.lookups", "tollgate.cache.result=hit"); got < 500 {
		t.Errorf("%g cache hits recorded", got)
	}
}

type revocationFunc func() (bool, error)

func (f revocationFunc) Revoked(context.Context, string, *principal.Principal) (bool, error) {
	return f()
}

func TestRevocationChecksAreCountedByOutcome(t *testing.T) {
	s := newSetup(t)
	revoked := false
	chain := middleware.Chain(
		tgerrors.Use(tgerrors.OAuth, tgerrors.WithObserver(s.obs)),
		middleware.Authenticate(s.verifier(t, nil), middleware.OnRefusal(nil),
			middleware.WithRevocation(revocationFunc(func() (bool, error) { return revoked, nil }))),
	)(&handler{})
	token := s.iss.Mint(map[string]any{"sub": "m-1", "aud": audience})
	if got := serve(chain, token); got != 200 {
		t.Fatalf("status %d", got)
	}
	revoked = true
	if got := serve(chain, token); got != 401 {
		t.Fatalf("revoked: status %d", got)
	}
	s.expect(t, []point{
		{"tollgate.revocation.checks", "tollgate.outcome=ok", 1},
		{"tollgate.revocation.checks", "tollgate.outcome=revoked", 1},
	})
}
