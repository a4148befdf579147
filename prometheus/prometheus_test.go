package prometheus_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/introspect"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/observe"
	"github.com/tollgate/tollgate/principal"
	tgprom "github.com/tollgate/tollgate/prometheus"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/scopes"
)

const audience = "orders-api"

type handler struct{ reached int }

func (h *handler) ServeHTTP(http.ResponseWriter, *http.Request) { h.reached++ }

// setup is a registry fed by one observer, and a chain reporting to it.
type setup struct {
	reg   *prom.Registry
	obs   *observe.Observer
	iss   *authtest.Issuer
	chain http.Handler
	h     *handler
}

func newSetup(t *testing.T) *setup {
	t.Helper()
	s := &setup{reg: prom.NewRegistry(), iss: authtest.NewIssuer(t), h: &handler{}}
	var err error
	if s.obs, err = tgprom.New(s.reg); err != nil {
		t.Fatal(err)
	}
	s.chain = newChain(t, s.iss, s.obs, 2, time.Hour, s.h)
	return s
}

// newChain is Authenticate, a per-caller limit of events per per and
// scopes.Require("orders.read") in front of h, with o as the observer of
// the requests and of the verifier (none if nil).
func newChain(t *testing.T, iss *authtest.Issuer, o *observe.Observer, events int, per time.Duration, h http.Handler) http.Handler {
	t.Helper()
	var opts []tgerrors.UseOption
	if o != nil {
		opts = append(opts, tgerrors.WithObserver(o))
	}
	return middleware.Chain(
		tgerrors.Use(tgerrors.OAuth, opts...),
		middleware.Authenticate(newVerifier(t, iss, o), middleware.OnRefusal(nil)),
		ratelimit.New(ratelimit.Config{Limits: []ratelimit.Limit{{Name: "per-caller", Events: events, Per: per}}, Key: ratelimit.KeyByPrincipal}),
		scopes.Require("orders.read"),
	)(h)
}

func newVerifier(t *testing.T, iss *authtest.Issuer, o *observe.Observer) *jwt.Verifier {
	t.Helper()
	v, err := jwt.NewVerifier(context.Background(), jwt.Config{
		Issuers:  []jwt.Issuer{{Issuer: iss.URL(), JWKSURL: iss.JWKSURL(), Audiences: []string{audience}, Algorithms: []string{"RS256"}}},
		Observer: o,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v
}

func (s *setup) serve(token string) int { return serve(s.chain, token) }

func serve(h http.Handler, token string) int {
	r := httptest.NewRequest("GET", "/orders", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// value returns the value of the series of name whose labels are labels
// ("k=v,k=v"), from the registry's Gather: a counter's or gauge's value, a
// histogram's sample count.
func value(t *testing.T, reg *prom.Registry, name, labels string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if labelString(m) != labels {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
		t.Fatalf("%s has no series {%s}", name, labels)
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// series is a series a test expects.
type series struct {
	name, labels string
	want         float64
}

// expect checks each series of want against reg's Gather.
func expect(t *testing.T, reg *prom.Registry, want []series) {
	t.Helper()
	for _, c := range want {
		if got := value(t, reg, c.name, c.labels); got != c.want {
			t.Errorf("%s{%s} = %g, want %g", c.name, c.labels, got, c.want)
		}
	}
}

func labelString(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}

func TestRequestsThroughTheChainAreCountedByLayerAndKind(t *testing.T) {
	s := newSetup(t)
	good := s.iss.Mint(map[string]any{"sub": "m-1", "aud": audience, "scope": "orders.read"})
	noScope := s.iss.Mint(map[string]any{"sub": "m-2", "aud": audience, "scope": "orders.write"})
	for _, c := range []struct {
		token  string
		status int
	}{
		{"", 401}, {good, 200}, {good, 200}, {good, 429}, {noScope, 403},
	} {
		if got := s.serve(c.token); got != c.status {
			t.Fatalf("status %d, want %d", got, c.status)
		}
	}
	if s.h.reached != 2 {
		t.Errorf("handler reached %d times, want 2", s.h.reached)
	}
	expect(t, s.reg, []series{
		{"tollgate_refusals_total", "kind=missing_token,layer=authenticate", 1},
		{"tollgate_refusals_total", "kind=rate_limited,layer=ratelimit", 1},
		{"tollgate_refusals_total", "kind=insufficient_scope,layer=scopes", 1},
		{"tollgate_token_cache_misses_total", "", 2},
		{"tollgate_token_cache_hits_total", "", 2},
		{"tollgate_ratelimit_decisions_total", "decision=allowed,limit=per-caller", 3},
		{"tollgate_ratelimit_decisions_total", "decision=refused,limit=per-caller", 1},
		{"tollgate_jwks_fetches_total", "issuer=" + s.iss.URL() + ",outcome=ok", 1},
		{"tollgate_jwks_fetch_duration_seconds", "issuer=" + s.iss.URL(), 1},
		{"tollgate_jwks_stale", "issuer=" + s.iss.URL(), 0},
	})
	if got := value(t, s.reg, "tollgate_jwks_keys", "issuer="+s.iss.URL()); got < 1 {
		t.Errorf("tollgate_jwks_keys = %g, want the keys of the set", got)
	}
}

func TestIntrospectionCallsAndStoreStatesAreExported(t *testing.T) {
	reg := prom.NewRegistry()
	obs, err := tgprom.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"active":true,"sub":"merchant-42"}`)
	}))
	defer as.Close()
	ic, err := introspect.New(introspect.Config{Endpoint: as.URL, Auth: introspect.NoClientAuth(), Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := ic.Verify(context.Background(), "opaque-1"); err != nil {
			t.Fatal(err)
		}
	}
	obs.StoreState(observe.StoreState{Store: "ratelimit/redisstore", State: observe.StoreFallback})
	expect(t, reg, []series{
		{"tollgate_introspection_requests_total", "cache=miss,outcome=ok", 1},
		{"tollgate_introspection_requests_total", "cache=hit,outcome=ok", 1},
		{"tollgate_introspection_duration_seconds", "outcome=ok", 1},
		{"tollgate_store_fallback", "store=ratelimit/redisstore", 1},
		{"tollgate_store_state_changes_total", "state=fallback,store=ratelimit/redisstore", 1},
	})
}

// A scrape of promhttp shows the metrics with their conventional names,
// types and units, and no token.
func TestAScrapeShowsTheMetricsAndNoToken(t *testing.T) {
	s := newSetup(t)
	good := s.iss.Mint(map[string]any{"sub": "m-1", "aud": audience, "scope": "orders.read"})
	s.serve(good)
	s.serve(good[:len(good)-4] + "AAAA")
	srv := httptest.NewServer(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	text := string(body)
	for _, want := range []string{
		"# TYPE tollgate_refusals_total counter",
		`tollgate_refusals_total{kind="invalid_token",layer="authenticate"} 1`,
		"# TYPE tollgate_jwks_fetch_duration_seconds histogram",
		"# TYPE tollgate_token_cache_hits_total counter",
		"tollgate_token_cache_misses_total 2",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the scrape has no %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, good[:20]) {
		t.Error("the scrape holds a token")
	}
}

func TestASecondNewOnOneRegistryFails(t *testing.T) {
	reg := prom.NewRegistry()
	if _, err := tgprom.New(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := tgprom.New(reg); err == nil {
		t.Error("a second New registered the same collectors again")
	}
}

// Counting a request that is let through allocates nothing more than not
// observing it.
func TestObservingAnAdmittedRequestAddsNoAllocation(t *testing.T) {
	s := newSetup(t)
	unobserved := newChain(t, s.iss, nil, 1<<30, time.Second, &handler{})
	observed := newChain(t, s.iss, s.obs, 1<<30, time.Second, &handler{})
	r := httptest.NewRequest("GET", "/orders", nil)
	r.Header.Set("Authorization", "Bearer "+s.iss.Mint(map[string]any{"sub": "m-1", "aud": audience, "scope": "orders.read"}))
	allocs := func(h http.Handler) float64 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
		return testing.AllocsPerRun(500, func() { h.ServeHTTP(w, r) })
	}
	if a, b := allocs(unobserved), allocs(observed); a != b {
		t.Errorf("allocations per request: %g unobserved, %g observed", a, b)
	}
	if got := value(t, s.reg, "tollgate_token_cache_hits_total", ""); got < 500 {
		t.Errorf("%g cache hits counted", got)
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
		middleware.Authenticate(newVerifier(t, s.iss, nil), middleware.OnRefusal(nil),
			middleware.WithRevocation(revocationFunc(func() (bool, error) { return revoked, nil }))),
	)(&handler{})
	token := s.iss.Mint(map[string]any{"sub": "m-1", "aud": audience})
	for _, want := range []int{200, 401} {
		if got := serve(chain, token); got != want {
			t.Fatalf("status %d, want %d", got, want)
		}
		revoked = true
	}
	for _, o := range []string{"ok", "revoked"} {
		if got := value(t, s.reg, "tollgate_revocation_checks_total", "outcome="+o); got != 1 {
			t.Errorf("%s checks: %g", o, got)
		}
	}
	if got := value(t, s.reg, "tollgate_refusals_total", "kind=invalid_token,layer=authenticate"); got != 1 {
		t.Errorf("revoked refusals: %g", got)
	}
}
