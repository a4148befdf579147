package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/middleware"
)

const audience = "https://api.marketplace.example"

// countingHandlers returns the API's handlers, recording which ran.
func countingHandlers(reached *[]string) handlers {
	var mu sync.Mutex
	count := func(name string, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			*reached = append(*reached, name)
			mu.Unlock()
			h.ServeHTTP(w, r)
		})
	}
	return handlers{
		getStore:     count("getStore", marketplace.getStore),
		listOrders:   count("listOrders", marketplace.listOrders),
		getInventory: count("getInventory", marketplace.getInventory),
		setInventory: count("setInventory", marketplace.setInventory),
	}
}

// fixture is an issuer that mints two-day tokens, and the API trusting it,
// on one clock.
type fixture struct {
	start time.Time
	clk   *authtest.Clock
	iss   *authtest.Issuer
	v     *jwt.Verifier
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{start: time.Now().Truncate(time.Second)}
	f.clk = authtest.NewClock(f.start)
	f.iss = authtest.NewIssuer(t, authtest.WithClock(f.clk.Now), authtest.WithLifetime(48*time.Hour))
	v, err := newVerifier(t.Context(), config{Issuer: f.iss.URL(), JWKSURL: f.iss.JWKSURL(), Audience: audience, Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	f.v = v
	return f
}

// userToken is a token a store owner granted the integration.
func (f *fixture) userToken(scopes ...string) string {
	return f.iss.Mint(map[string]any{"sub": "owner-5", "client_id": "app-9", "aud": audience,
		"grant_type": "authorization_code", "scope": scopes})
}

// appToken is the integration's own client-credentials token.
func (f *fixture) appToken(scopes ...string) string {
	return f.iss.Mint(map[string]any{"sub": "app-9", "client_id": "app-9", "aud": audience,
		"grant_type": "client_credentials", "scope": scopes})
}

// response is what the client saw, and which handler ran.
type response struct {
	status          int
	challenge, body string
	reached         string
}

// do sends one request through a fresh API and reports what came back and
// which handler ran.
func do(t *testing.T, v middleware.Verifier, method, path string, header http.Header, body string) response {
	t.Helper()
	var reached []string
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header = header
	w := httptest.NewRecorder()
	newAPI(v, countingHandlers(&reached)).ServeHTTP(w, r)
	return response{
		status:    w.Code,
		challenge: w.Header().Get("WWW-Authenticate"),
		body:      strings.TrimSuffix(w.Body.String(), "\n"),
		reached:   strings.Join(reached, ","),
	}
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

const (
	invalidChallenge = `Bearer realm="marketplace", error="invalid_token", error_description="The access token is invalid"`
	invalidBody      = `{"error":"invalid_token","error_description":"The access token is invalid"}`
	scopeBody        = `{"error":"insufficient_scope","error_description":"The access token does not grant the required scope"}`
)

func scopeChallenge(scope string) string {
	return `Bearer realm="marketplace", error="insufficient_scope", error_description="The access token does not grant the required scope", scope="` + scope + `"`
}

func TestMarketplace(t *testing.T) {
	f := newFixture(t)
	owner := f.userToken("integration.store", "integration.order", "integration.inventory")
	app := f.appToken("integration.store", "integration.inventory")

	tests := []struct {
		name         string
		method, path string
		header       http.Header
		body         string
		at           time.Duration // since the tokens were minted
		want         response
	}{
		{name: "an owner-granted token reads a store",
			method: "GET", path: "/v1/stores/12", header: bearer(owner),
			want: response{status: 200, body: `{"store":"12"}`, reached: "getStore"}},
		{name: "an owner-granted token lists orders",
			method: "GET", path: "/v1/orders", header: bearer(owner),
			want: response{status: 200, body: `{"client_id":"app-9","orders":[]}`, reached: "listOrders"}},
		{name: "the scheme may be written bearer",
			method: "GET", path: "/v1/stores/12", header: http.Header{"Authorization": {"bearer " + owner}},
			want: response{status: 200, body: `{"store":"12"}`, reached: "getStore"}},
		{name: "the scheme may be written BEARER",
			method: "GET", path: "/v1/stores/12", header: http.Header{"Authorization": {"BEARER " + owner}},
			want: response{status: 200, body: `{"store":"12"}`, reached: "getStore"}},
		{name: "an owner-granted token reads inventory",
			method: "GET", path: "/v1/inventory/sku-3", header: bearer(owner),
			want: response{status: 200, body: `{"quantity":7,"sku":"sku-3"}`, reached: "getInventory"}},
		{name: "a client-credentials token changes inventory",
			method: "PUT", path: "/v1/inventory/sku-3", header: bearer(app), body: `{"quantity":4}`,
			want: response{status: 200, body: `{"quantity":4,"sku":"sku-3"}`, reached: "setInventory"}},
		{name: "a two-day token is good after 47 hours",
			method: "GET", path: "/v1/orders", header: bearer(owner), at: 47 * time.Hour,
			want: response{status: 200, body: `{"client_id":"app-9","orders":[]}`, reached: "listOrders"}},

		{name: "no token is refused with 401 and a challenge naming only the realm",
			method: "GET", path: "/v1/orders", header: http.Header{},
			want: response{status: 401, challenge: `Bearer realm="marketplace"`,
				body: `{"error":"missing_token","error_description":"Authentication is required"}`}},
		{name: "a two-day token is refused after 48 hours and a minute with 401: it expired",
			method: "GET", path: "/v1/orders", header: bearer(owner), at: 48*time.Hour + time.Minute,
			want: response{status: 401,
				challenge: `Bearer realm="marketplace", error="invalid_token", error_description="The access token expired"`,
				body:      `{"error":"invalid_token","error_description":"The access token expired"}`}},
		{name: "an ES256 token is refused with 401 though its key is in the JWKS",
			method: "GET", path: "/v1/orders", header: bearer(f.iss.Mint(map[string]any{"aud": audience, "scope": []string{"integration.order"}}, authtest.WithAlg(authtest.ES256))),
			want: response{status: 401, challenge: invalidChallenge, body: invalidBody}},
		{name: "a token whose kid names no key is refused with 401",
			method: "GET", path: "/v1/orders", header: bearer(f.iss.Mint(map[string]any{"aud": audience, "scope": []string{"integration.order"}}, authtest.WithKID("no-such-key"))),
			want: response{status: 401, challenge: invalidChallenge, body: invalidBody}},
		{name: "Bearer without a token is refused with 400 invalid_request",
			method: "GET", path: "/v1/orders", header: http.Header{"Authorization": {"Bearer "}},
			want: response{status: 400, challenge: `Bearer realm="marketplace", error="invalid_request", error_description="The Authorization header is malformed"`,
				body: `{"error":"invalid_request","error_description":"The Authorization header is malformed"}`}},
		{name: "two Authorization headers are refused with 400 invalid_request",
			method: "GET", path: "/v1/orders", header: http.Header{"Authorization": {"Bearer " + owner, "Bearer " + app}},
			want: response{status: 400, challenge: `Bearer realm="marketplace", error="invalid_request", error_description="The request carries more than one credential"`,
				body: `{"error":"invalid_request","error_description":"The request carries more than one credential"}`}},
		{name: "a token without integration.order is refused with 403 insufficient_scope",
			method: "GET", path: "/v1/orders", header: bearer(app),
			want: response{status: 403, challenge: scopeChallenge("integration.order"), body: scopeBody}},
		{name: "an owner-granted token may not change inventory: 403 wrong_token_type",
			method: "PUT", path: "/v1/inventory/sku-3", header: bearer(owner), body: `{"quantity":4}`,
			want: response{status: 403,
				body: `{"error":"wrong_token_type","error_description":"The access token is of a type this resource does not accept"}`}},
		{name: "a client-credentials token without integration.inventory may not change inventory: 403 insufficient_scope",
			method: "PUT", path: "/v1/inventory/sku-3", header: bearer(f.appToken("integration.store")), body: `{"quantity":4}`,
			want: response{status: 403, challenge: scopeChallenge("integration.inventory"), body: scopeBody}},
		{name: "a token without a grant_type is no client-credentials token",
			method: "PUT", path: "/v1/inventory/sku-3", body: `{"quantity":4}`,
			header: bearer(f.iss.Mint(map[string]any{"sub": "app-9", "aud": audience, "scope": []string{"integration.inventory"}})),
			want: response{status: 403,
				body: `{"error":"wrong_token_type","error_description":"The access token is of a type this resource does not accept"}`}},
		{name: "the handler's own refusal is written as RFC 6750 too",
			method: "PUT", path: "/v1/inventory/sku-3", header: bearer(app), body: `{"quantity":"many"}`,
			want: response{status: 400, reached: "setInventory",
				body: `{"error":"validation","error_description":"quantity must be a whole number, 0 or more"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.clk.Set(f.start.Add(tt.at))
			got := do(t, f.v, tt.method, tt.path, tt.header, tt.body)
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// The scope claim is a JSON array: each element is one scope, compared
// exactly; elements that are not strings are ignored. A space-delimited
// string (RFC 8693) is read too; scopes in other claims are not.
func TestScopeClaim(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name                   string
		scope                  any    // the scope claim; nil leaves it out
		scp                    any    // the scp claim; nil leaves it out
		store, orders, inspect int    // statuses of GET /v1/stores/1, GET /v1/orders, GET /v1/inventory/x
		missing                string // the scope the orders refusal names
	}{
		{name: "an array grants each of its elements",
			scope: []string{"integration.store", "integration.order"},
			store: 200, orders: 200, inspect: 403},
		{name: "an array with a single element",
			scope: []string{"integration.inventory"},
			store: 403, orders: 403, inspect: 200, missing: "integration.order"},
		{name: "an empty array grants nothing",
			scope: []string{},
			store: 403, orders: 403, inspect: 403, missing: "integration.order"},
		{name: "elements that are not strings are ignored",
			scope: []any{"integration.store", 42, true, map[string]any{"integration.order": true}, []any{"integration.order"}},
			store: 200, orders: 403, inspect: 403, missing: "integration.order"},
		{name: "an element with a space is one scope, not two",
			scope: []string{"integration.store integration.order"},
			store: 403, orders: 403, inspect: 403, missing: "integration.order"},
		{name: "scopes are compared exactly",
			scope: []string{"Integration.Order", "integration.order.read", "integration"},
			store: 403, orders: 403, inspect: 403, missing: "integration.order"},
		{name: "a space-delimited string is read too",
			scope: "integration.store integration.order",
			store: 200, orders: 200, inspect: 403},
		{name: "a number is no scope",
			scope: 7,
			store: 403, orders: 403, inspect: 403, missing: "integration.order"},
		{name: "the scp claim is not read",
			scp:   []string{"integration.store", "integration.order"},
			store: 403, orders: 403, inspect: 403, missing: "integration.order"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims := map[string]any{"sub": "owner-5", "aud": audience}
			if tt.scope != nil {
				claims["scope"] = tt.scope
			}
			if tt.scp != nil {
				claims["scp"] = tt.scp
			}
			token := f.iss.Mint(claims)
			for _, c := range []struct {
				path, handler string
				want          int
			}{
				{"/v1/stores/1", "getStore", tt.store},
				{"/v1/orders", "listOrders", tt.orders},
				{"/v1/inventory/x", "getInventory", tt.inspect},
			} {
				got := do(t, f.v, "GET", c.path, bearer(token), "")
				if got.status != c.want {
					t.Errorf("GET %s: status %d, want %d (%s)", c.path, got.status, c.want, got.body)
				}
				if wantReached := map[bool]string{true: c.handler}[c.want == 200]; got.reached != wantReached {
					t.Errorf("GET %s: handlers reached %q, want %q", c.path, got.reached, wantReached)
				}
			}
			if tt.missing != "" {
				if got := do(t, f.v, "GET", "/v1/orders", bearer(token), ""); got.challenge != scopeChallenge(tt.missing) {
					t.Errorf("challenge %q, want %q", got.challenge, scopeChallenge(tt.missing))
				}
			}
		})
	}
}

// After the issuer rotates its keys, the first token signed with the new
// kid makes the verifier fetch the JWKS once and is accepted; tokens signed
// with the retired key are refused from then on. Tokens with yet another
// unknown kid cause no further fetch until the cooldown has passed on the
// verifier's clock.
func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	get := func(token string) response {
		return do(t, f.v, "GET", "/v1/orders", bearer(token), "")
	}
	wantFetches := func(n int64) {
		t.Helper()
		if got := f.iss.FetchCount(); got != n {
			t.Fatalf("JWKS fetched %d times, want %d", got, n)
		}
	}
	ok := response{status: 200, body: `{"client_id":"app-9","orders":[]}`, reached: "listOrders"}
	refused := response{status: 401, challenge: invalidChallenge, body: invalidBody}

	before := f.userToken("integration.order")
	oldKID := f.iss.KID(authtest.RS256)
	if got := get(before); got != ok {
		t.Fatalf("token before the rotation: %+v", got)
	}
	wantFetches(1)

	f.iss.Rotate()
	after := f.userToken("integration.order")
	if f.iss.KID(authtest.RS256) == oldKID {
		t.Fatal("Rotate kept the key ID")
	}

	// Many requests arrive at once with the new kid: one fetch serves all.
	const concurrent = 50
	results := make(chan response, concurrent)
	var wg sync.WaitGroup
	for range concurrent {
		wg.Go(func() { results <- get(after) })
	}
	wg.Wait()
	close(results)
	for got := range results {
		if got != ok {
			t.Fatalf("token with the new kid: %+v", got)
		}
	}
	wantFetches(2)

	if got := get(before); got != refused {
		t.Errorf("token signed with the retired key: %+v, want %+v", got, refused)
	}
	wantFetches(2)

	// A second rotation within the cooldown: the new kid is refused, without
	// a fetch, until the cooldown has passed.
	f.iss.Rotate()
	third := f.userToken("integration.order")
	if got := get(third); got != refused {
		t.Errorf("new kid within the cooldown: %+v, want %+v", got, refused)
	}
	wantFetches(2)
	f.clk.Advance(31 * time.Second)
	if got := get(third); got != ok {
		t.Errorf("new kid after the cooldown: %+v, want %+v", got, ok)
	}
	wantFetches(3)
}
