package observe_test

import (
	"context"
	stderrors "errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/introspect"
	"github.com/tollgate/tollgate/ipfilter"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/observe"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/scopes"
)

const audience = "orders-api"

func newVerifier(t *testing.T, iss *authtest.Issuer, o *observe.Observer) *jwt.Verifier {
	t.Helper()
	v, err := jwt.NewVerifier(context.Background(), jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer: iss.URL(), JWKSURL: iss.JWKSURL(), Audiences: []string{audience},
			Algorithms: []string{"RS256"}, TokenType: "customer",
		}},
		Observer: o,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v
}

func mint(iss *authtest.Issuer, jti string) string {
	return iss.Mint(map[string]any{"sub": "merchant-42", "aud": audience, "jti": jti, "scope": "orders.read", "org": "acme"})
}

// serve sends h a request bearing token.
func serve(h http.Handler, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// handler fails the test if a refused request reaches it.
type handler struct{ reached int }

func (h *handler) ServeHTTP(http.ResponseWriter, *http.Request) { h.reached++ }

// opaqueKeys stands in for apikey.Keys: a verifier that names its layer.
type opaqueKeys struct{}

func (opaqueKeys) Verify(context.Context, string) (*principal.Principal, error) {
	return nil, tgerrors.New(tgerrors.InvalidToken, "")
}
func (opaqueKeys) ObservedLayer(string) string { return observe.LayerAPIKey }

func TestEveryLayerReportsItsRefusalWithItsLayerAndKind(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := newVerifier(t, iss, nil)
	good := mint(iss, "t-1")
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"active":false}`)
	}))
	defer as.Close()
	ic, err := introspect.New(introspect.Config{Endpoint: as.URL, Auth: introspect.NoClientAuth(), TokenType: "merchant"})
	if err != nil {
		t.Fatal(err)
	}
	auth := middleware.Authenticate(v, middleware.OnRefusal(nil))
	cases := []struct {
		name   string
		chain  []func(http.Handler) http.Handler
		token  string
		remote string
		status int
		want   observe.Refusal
	}{
		{"no token is authenticate's missing_token", []func(http.Handler) http.Handler{auth}, "", "", 401,
			observe.Refusal{Layer: observe.LayerAuthenticate, Kind: "missing_token"}},
		{"a forged JWT is authenticate's invalid_token", []func(http.Handler) http.Handler{auth}, good[:len(good)-4] + "AAAA", "", 401,
			observe.Refusal{Layer: observe.LayerAuthenticate, Kind: "invalid_token"}},
		{"an inactive opaque token is introspect's", []func(http.Handler) http.Handler{
			middleware.Authenticate(middleware.JWTOrOpaque(v, ic), middleware.OnRefusal(nil))}, "opaque-token-1", "", 401,
			observe.Refusal{Layer: observe.LayerIntrospect, Kind: "invalid_token"}},
		{"an unknown API key is apikey's", []func(http.Handler) http.Handler{
			middleware.Authenticate(middleware.JWTOrOpaque(v, opaqueKeys{}), middleware.OnRefusal(nil))}, "tg_key_1", "", 401,
			observe.Refusal{Layer: observe.LayerAPIKey, Kind: "invalid_token"}},
		{"a missing scope is scopes'", []func(http.Handler) http.Handler{auth, scopes.Require("orders.write")}, good, "", 403,
			observe.Refusal{Layer: observe.LayerScopes, Kind: "insufficient_scope"}},
		{"another token type is require_type's", []func(http.Handler) http.Handler{auth, middleware.RequireType("merchant")}, good, "", 403,
			observe.Refusal{Layer: observe.LayerRequireType, Kind: "wrong_token_type"}},
		{"a missing tenant header is require_tenant's", []func(http.Handler) http.Handler{auth, middleware.RequireTenant("X-Org", "org")}, good, "", 400,
			observe.Refusal{Layer: observe.LayerRequireTenant, Kind: "validation"}},
		{"a denied address is ipfilter's", []func(http.Handler) http.Handler{ipfilter.New(ipfilter.Config{Allow: []string{"10.0.0.0/8"}}), auth}, good, "192.0.2.9:1", 403,
			observe.Refusal{Layer: observe.LayerIPFilter, Kind: "ip_denied"}},
		{"a spent limit is ratelimit's", []func(http.Handler) http.Handler{auth, ratelimit.New(ratelimit.Config{
			Limits: []ratelimit.Limit{{Name: "per-caller", Events: 1, Per: time.Hour, Burst: 0}}})}, good, "", 429,
			observe.Refusal{Layer: observe.LayerRateLimit, Kind: "rate_limited"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{}
			h := &handler{}
			mws := append([]func(http.Handler) http.Handler{tgerrors.Use(tgerrors.OAuth, tgerrors.WithObserver(rec.observer()))}, c.chain...)
			chain := middleware.Chain(mws...)(h)
			var w *httptest.ResponseRecorder
			// The rate limit admits one request; the refusal is the second.
			for range 2 {
				r := httptest.NewRequest("GET", "/orders", nil)
				if c.token != "" {
					r.Header.Set("Authorization", "Bearer "+c.token)
				}
				if c.remote != "" {
					r.RemoteAddr = c.remote
				}
				w = httptest.NewRecorder()
				chain.ServeHTTP(w, r)
				if c.status != 429 {
					break
				}
			}
			if w.Code != c.status {
				t.Errorf("status %d, want %d; body %s", w.Code, c.status, w.Body)
			}
			if c.status != 429 && h.reached != 0 || c.status == 429 && h.reached != 1 {
				t.Errorf("the handler was reached %d times", h.reached)
			}
			if !slices.Equal(rec.refusals, []observe.Refusal{c.want}) {
				t.Errorf("refusals %v, want [%v]", rec.refusals, c.want)
			}
		})
	}
}

func TestAuthenticateReportsATokenCacheMissThenAHit(t *testing.T) {
	iss := authtest.NewIssuer(t)
	rec := &recorder{}
	chain := middleware.Chain(tgerrors.Use(tgerrors.OAuth, tgerrors.WithObserver(rec.observer())),
		middleware.Authenticate(newVerifier(t, iss, nil)))(&handler{})
	token := mint(iss, "t-2")
	for range 2 {
		if w := serve(chain, token); w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
	}
	if !slices.Equal(rec.cache, []bool{false, true}) {
		t.Errorf("cache lookups %v, want [miss hit]", rec.cache)
	}
	if len(rec.refusals) != 0 {
		t.Errorf("an admitted request reported refusals %v", rec.refusals)
	}
}

type revocationFunc func() (bool, error)

func (f revocationFunc) Revoked(context.Context, string, *principal.Principal) (bool, error) {
	return f()
}

func TestAuthenticateReportsEachRevocationCheckWithItsOutcome(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := newVerifier(t, iss, nil)
	token := mint(iss, "t-3")
	cases := []struct {
		name    string
		check   revocationFunc
		status  int
		outcome string
		refusal []observe.Refusal
	}{
		{"not revoked", func() (bool, error) { return false, nil }, 200, observe.OutcomeOK, nil},
		{"revoked", func() (bool, error) { return true, nil }, 401, observe.OutcomeRevoked,
			[]observe.Refusal{{Layer: observe.LayerAuthenticate, Kind: "invalid_token"}}},
		{"check failed", func() (bool, error) { return false, stderrors.New("redis down") }, 503, observe.OutcomeError,
			[]observe.Refusal{{Layer: observe.LayerAuthenticate, Kind: "unavailable"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{}
			chain := middleware.Chain(tgerrors.Use(tgerrors.OAuth, tgerrors.WithObserver(rec.observer())),
				middleware.Authenticate(v, middleware.WithRevocation(c.check), middleware.OnRefusal(nil)))(&handler{})
			if w := serve(chain, token); w.Code != c.status {
				t.Errorf("status %d, want %d", w.Code, c.status)
			}
			if !slices.Equal(rec.revocations, []string{c.outcome}) {
				t.Errorf("revocation checks %v, want [%s]", rec.revocations, c.outcome)
			}
			if !slices.Equal(rec.refusals, c.refusal) {
				t.Errorf("refusals %v, want %v", rec.refusals, c.refusal)
			}
		})
	}
}

func TestRateLimitReportsTheLimitNameNeverTheKey(t *testing.T) {
	rec := &recorder{}
	chain := middleware.Chain(tgerrors.Use(tgerrors.OAuth, tgerrors.WithObserver(rec.observer())),
		ratelimit.New(ratelimit.Config{Limits: []ratelimit.Limit{{Name: "per-ip", Events: 1, Per: time.Hour}}, Key: ratelimit.KeyByIP}))(&handler{})
	for range 2 {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "192.0.2.44:1234"
		chain.ServeHTTP(httptest.NewRecorder(), r)
	}
	want := []observe.RateLimitDecision{{Limit: "per-ip", Allowed: true}, {Limit: "per-ip", Allowed: false}}
	if !slices.Equal(rec.limits, want) {
		t.Errorf("decisions %v, want %v", rec.limits, want)
	}
}

func TestIntrospectionReportsCallsAndCacheHits(t *testing.T) {
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.PostFormValue("token") {
		case "good-token":
			fmt.Fprint(w, `{"active":true,"sub":"merchant-42"}`)
		case "broken-token":
			w.WriteHeader(http.StatusBadGateway)
		default:
			fmt.Fprint(w, `{"active":false}`)
		}
	}))
	defer as.Close()
	rec := &recorder{}
	now := time.Unix(1_800_000_000, 0)
	ic, err := introspect.New(introspect.Config{Endpoint: as.URL, Auth: introspect.NoClientAuth(), Observer: rec.observer(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tok := range []string{"good-token", "good-token", "gone-token", "gone-token", "broken-token"} {
		_, _ = ic.Verify(ctx, tok)
	}
	want := []observe.IntrospectionCall{
		{Outcome: observe.OutcomeOK}, {Outcome: observe.OutcomeOK, CacheHit: true},
		{Outcome: observe.OutcomeInactive}, {Outcome: observe.OutcomeInactive, CacheHit: true},
		{Outcome: observe.OutcomeError},
	}
	if !slices.Equal(rec.introspection, want) {
		t.Errorf("introspection events %v, want %v", rec.introspection, want)
	}
}
