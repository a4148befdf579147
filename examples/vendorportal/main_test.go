package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/pgtest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/authtest"
	"github.com/tollgate/tollgate/examples/internal/demotest"
	"github.com/tollgate/tollgate/internal/redistest"
	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/pgstore"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/ratelimit/redisstore"
)

const (
	testIssuer   = "https://vendorportal.example"
	testAudience = "https://api.vendorportal.example"

	unauthorized     = `{"message":"Unauthorized"}`
	forbidden        = `{"message":"Forbidden"}`
	badRequest       = `{"message":"Bad Request"}`
	notFound         = `{"message":"Not Found"}`
	methodNotAllowed = `{"message":"Method Not Allowed"}`
)

// fastArgon2 keeps the tests quick; main uses issuer.DefaultArgon2Params.
var fastArgon2 = issuer.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltBytes: 16, KeyBytes: 32}

// fixture is a portal on memory stores (or c's), on a clock the test
// moves, recording which handlers ran.
type fixture struct {
	start   time.Time
	clk     *authtest.Clock
	p       *portal
	reached demotest.Reached
}

func newFixture(t *testing.T, change func(*config)) *fixture {
	t.Helper()
	f := &fixture{start: time.Now().Truncate(time.Second)}
	f.clk = authtest.NewClock(f.start)
	c := config{
		Issuer: testIssuer, Audience: testAudience, Argon2: fastArgon2,
		TokenRate: ratelimit.Limit{Name: "token", Events: 100, Per: time.Minute},
		APIRate:   ratelimit.Limit{Name: "api", Events: 100, Per: time.Minute},
		Now:       f.clk.Now,
	}
	if change != nil {
		change(&c)
	}
	count := f.reached.Count
	p, err := newPortal(t.Context(), c, handlers{
		getVendor:    count("getVendor", portalHandlers.getVendor),
		listProducts: count("listProducts", portalHandlers.listProducts),
		updateStock:  count("updateStock", portalHandlers.updateStock),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	f.p = p
	return f
}

// vendor registers a vendor with scopes and returns its secret.
func (f *fixture) vendor(t *testing.T, id string, scopes ...string) string {
	t.Helper()
	secret, err := registerVendor(t.Context(), f.p.Clients, testAudience, id, scopes...)
	if err != nil {
		t.Fatal(err)
	}
	return secret.Reveal()
}

// response is what the client saw, and which handlers ran.
type response struct {
	status                    int
	challenge, allow, body    string
	contentType, cacheControl string
	reached                   string
}

func (f *fixture) do(t *testing.T, method, path string, header http.Header, body string) response {
	t.Helper()
	w, reached := f.reached.Serve(f.p.Handler, method, path, header, body)
	return response{
		status:       w.Code,
		challenge:    w.Header().Get("WWW-Authenticate"),
		allow:        w.Header().Get("Allow"),
		body:         strings.TrimSuffix(w.Body.String(), "\n"),
		contentType:  w.Header().Get("Content-Type"),
		cacheControl: w.Header().Get("Cache-Control"),
		reached:      reached,
	}
}

var jsonBody = http.Header{"Content-Type": {"application/json"}}

// token trades id and secret for a bearer token, as a vendor does.
func (f *fixture) token(t *testing.T, id, secret string) string {
	t.Helper()
	got := f.do(t, "POST", "/v1/bearer-token", jsonBody, fmt.Sprintf(`{"client_id":%q,"client_secret":%q}`, id, secret))
	if got.status != 200 {
		t.Fatalf("token: %+v", got)
	}
	var resp struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(got.body), &resp); err != nil || resp.AccessToken == "" {
		t.Fatalf("token response %s: %v", got.body, err)
	}
	return resp.AccessToken
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

// The token endpoint answers {"access_token","token_type":"Bearer",
// "expires_in":3600} for a JSON body with the vendor's id and secret.
func TestTheTokenEndpointTradesIDAndSecretForAnHourToken(t *testing.T) {
	f := newFixture(t, nil)
	secret := f.vendor(t, demoVendor, scopeVendor, scopeProducts)
	got := f.do(t, "POST", "/v1/bearer-token", jsonBody, `{"client_id":"`+demoVendor+`","client_secret":"`+secret+`"}`)
	if got.status != 200 || got.contentType != "application/json" || got.cacheControl != "no-store" || got.reached != "" {
		t.Fatalf("got %+v", got)
	}
	var resp map[string]any
	if err := json.Unmarshal([]byte(got.body), &resp); err != nil {
		t.Fatal(err)
	}
	token, _ := resp["access_token"].(string)
	if strings.Count(token, ".") != 2 || resp["token_type"] != "Bearer" || resp["expires_in"] != 3600.0 ||
		resp["scope"] != scopeVendor+" "+scopeProducts || len(resp) != 4 {
		t.Fatalf("token response %s", got.body)
	}
	p, err := f.p.Verifier.Verify(t.Context(), token)
	if err != nil {
		t.Fatal(err)
	}
	if p.ClientID() != demoVendor || p.Type() != "client_credentials" || p.Issuer() != testIssuer {
		t.Errorf("principal client %q type %q issuer %q", p.ClientID(), p.Type(), p.Issuer())
	}
}

func TestVendorPortal(t *testing.T) {
	f := newFixture(t, nil)
	secret := f.vendor(t, demoVendor, scopeVendor, scopeProducts, scopeStock)
	readOnlySecret := f.vendor(t, "vendor-read-only", scopeProducts)
	vendor := f.token(t, demoVendor, secret)
	readOnly := f.token(t, "vendor-read-only", readOnlySecret)

	// A portal with keys of its own, same issuer and audience: its tokens
	// are not this portal's.
	other := newFixture(t, nil)
	foreign := other.token(t, "stranger", other.vendor(t, "stranger", scopeVendor))

	const (
		tokenChallenge = `Basic realm="vendorportal", charset="UTF-8"`
		expired        = `Bearer realm="api", error="invalid_token", error_description="The access token expired"`
		invalid        = `Bearer realm="api", error="invalid_token", error_description="The access token is invalid"`
	)
	scopeChallenge := func(scope string) string {
		return `Bearer realm="api", error="insufficient_scope", error_description="The access token does not grant the required scope", scope="` + scope + `"`
	}
	vendorBody := `{"scopes":["vendor:read","products:read","stock:write"],"vendor":"vendor-17"}`

	tests := []struct {
		name         string
		method, path string
		header       http.Header
		body         string
		at           time.Duration // since the tokens were issued
		want         response
	}{
		{name: "the vendor reads itself",
			method: "GET", path: "/v1/vendor", header: bearer(vendor),
			want: response{status: 200, body: vendorBody, reached: "getVendor"}},
		{name: "the vendor lists its products",
			method: "GET", path: "/v1/products", header: bearer(vendor),
			want: response{status: 200, body: `{"products":["sku-1","sku-2"],"vendor":"vendor-17"}`, reached: "listProducts"}},
		{name: "the vendor updates a stock",
			method: "PUT", path: "/v1/products/sku-1/stock", header: bearer(vendor), body: `{"quantity":12}`,
			want: response{status: 200, body: `{"id":"sku-1","quantity":12}`, reached: "updateStock"}},
		{name: "a token is good 59 minutes after it was issued",
			method: "GET", path: "/v1/vendor", header: bearer(vendor), at: 59 * time.Minute,
			want: response{status: 200, body: vendorBody, reached: "getVendor"}},
		{name: "the handler's own refusal is written in the same format",
			method: "PUT", path: "/v1/products/sku-1/stock", header: bearer(vendor), body: `{"quantity":-1}`,
			want: response{status: 400, body: badRequest, reached: "updateStock"}},

		{name: "a wrong secret gets no token: 401",
			method: "POST", path: "/v1/bearer-token", header: jsonBody, body: `{"client_id":"vendor-17","client_secret":"wrong"}`,
			want: response{status: 401, challenge: tokenChallenge, body: unauthorized}},
		{name: "an unknown vendor gets no token: 401",
			method: "POST", path: "/v1/bearer-token", header: jsonBody, body: `{"client_id":"vendor-99","client_secret":"` + secret + `"}`,
			want: response{status: 401, challenge: tokenChallenge, body: unauthorized}},
		{name: "no credentials get no token: 401",
			method: "POST", path: "/v1/bearer-token", header: jsonBody, body: `{}`,
			want: response{status: 401, challenge: tokenChallenge, body: unauthorized}},
		{name: "a scope the vendor lacks gets no token: 400",
			method: "POST", path: "/v1/bearer-token", header: jsonBody, body: `{"client_id":"vendor-read-only","client_secret":"` + readOnlySecret + `","scope":"stock:write"}`,
			want: response{status: 400, body: badRequest}},
		{name: "a body that is not JSON gets no token: 400",
			method: "POST", path: "/v1/bearer-token", header: jsonBody, body: `{"client_id":`,
			want: response{status: 400, body: badRequest}},
		{name: "GET on the token endpoint: 405",
			method: "GET", path: "/v1/bearer-token",
			want: response{status: 405, allow: "POST", body: methodNotAllowed}},

		{name: "no token: 401",
			method: "GET", path: "/v1/vendor",
			want: response{status: 401, challenge: `Bearer realm="api"`, body: unauthorized}},
		{name: "basic credentials are no bearer token: 401",
			method: "GET", path: "/v1/vendor", header: http.Header{"Authorization": {"Basic dmVuZG9yOnNlY3JldA=="}},
			want: response{status: 401, challenge: `Bearer realm="api"`, body: unauthorized}},
		{name: "the client secret is no bearer token: 401",
			method: "GET", path: "/v1/vendor", header: bearer(secret),
			want: response{status: 401, challenge: invalid, body: unauthorized}},
		{name: "a token an hour and a minute old has expired: 401",
			method: "GET", path: "/v1/vendor", header: bearer(vendor), at: time.Hour + time.Minute,
			want: response{status: 401, challenge: expired, body: unauthorized}},
		{name: "another portal's token: 401",
			method: "GET", path: "/v1/vendor", header: bearer(foreign),
			want: response{status: 401, challenge: invalid, body: unauthorized}},
		{name: "a token with a forged signature: 401",
			method: "GET", path: "/v1/vendor", header: bearer(vendor[:strings.LastIndexByte(vendor, '.')] + ".Zm9yZ2Vk"),
			want: response{status: 401, challenge: invalid, body: unauthorized}},
		{name: "a token without vendor:read may not read the vendor: 403",
			method: "GET", path: "/v1/vendor", header: bearer(readOnly),
			want: response{status: 403, challenge: scopeChallenge(scopeVendor), body: forbidden}},
		{name: "a token without stock:write may not update a stock: 403",
			method: "PUT", path: "/v1/products/sku-1/stock", header: bearer(readOnly), body: `{"quantity":12}`,
			want: response{status: 403, challenge: scopeChallenge(scopeStock), body: forbidden}},
		{name: "a path the API does not serve: 404",
			method: "GET", path: "/v1/orders", header: bearer(vendor),
			want: response{status: 404, body: notFound}},
		{name: "another method on the vendor: 405",
			method: "DELETE", path: "/v1/vendor", header: bearer(vendor),
			want: response{status: 405, allow: "GET", body: methodNotAllowed}},
		{name: "another method on a stock: 405",
			method: "GET", path: "/v1/products/sku-1/stock", header: bearer(vendor),
			want: response{status: 405, allow: "PUT", body: methodNotAllowed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.clk.Set(f.start.Add(tt.at))
			got := f.do(t, tt.method, tt.path, tt.header, tt.body)
			tt.want.contentType = "application/json"
			if tt.want.status >= 400 {
				tt.want.cacheControl = "no-store" // every refusal
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// The portal publishes its keys, and a token verifies against them.
func TestTheJWKSIsPublished(t *testing.T) {
	f := newFixture(t, nil)
	got := f.do(t, "GET", "/.well-known/jwks.json", nil, "")
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
			Alg string `json:"alg"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(got.body), &set); err != nil || got.status != 200 || len(set.Keys) != 1 {
		t.Fatalf("JWKS %+v: %v", got, err)
	}
	if k := set.Keys[0]; k.Alg != issuer.ES256 || k.KID == "" || k.D != "" {
		t.Errorf("key %+v", k)
	}
}

// The token endpoint is rate-limited per client: the one over the limit
// gets 429 in the same format, and no token.
func TestTokenRequestsAreRateLimitedPerClient(t *testing.T) {
	f := newFixture(t, func(c *config) { c.TokenRate = ratelimit.Limit{Name: "token", Events: 2, Per: time.Minute} })
	body := `{"client_id":"vendor-17","client_secret":"wrong"}`
	for range 2 {
		if got := f.do(t, "POST", "/v1/bearer-token", jsonBody, body); got.status != 401 {
			t.Fatalf("got %+v", got)
		}
	}
	got := f.do(t, "POST", "/v1/bearer-token", jsonBody, body)
	if got.status != 429 || got.body != `{"message":"Too Many Requests"}` {
		t.Errorf("got %+v", got)
	}
	// Another client has its own budget.
	if got := f.do(t, "POST", "/v1/bearer-token", jsonBody, `{"client_id":"vendor-18","client_secret":"wrong"}`); got.status != 401 {
		t.Errorf("another client: %+v", got)
	}
}

// The walkthrough names the secret once and every step of the flow.
func TestTheWalkthroughHasTheWholeFlow(t *testing.T) {
	var b strings.Builder
	printWalkthrough(&b, "http://127.0.0.1:8080", demoVendor, "s3cret")
	out := b.String()
	if strings.Count(out, "s3cret") != 2 { // the line that shows it, the curl that uses it
		t.Errorf("secret appears %d times", strings.Count(out, "s3cret"))
	}
	for _, want := range []string{"/v1/bearer-token", "/v1/vendor", "/v1/products", "/v1/products/sku-1/stock", "/.well-known/jwks.json"} {
		if !strings.Contains(out, "http://127.0.0.1:8080"+want) {
			t.Errorf("walkthrough lacks %s", want)
		}
	}
}

// On PostgreSQL, a second portal (a replica, or the same after a restart)
// accepts the first one's tokens and knows its vendors.
func TestOnPostgresTokensSurviveARestart(t *testing.T) {
	pool := newSchema(t)
	kek := make([]byte, pgstore.KEKSize)
	for i := range kek {
		kek[i] = byte(i)
	}
	onPostgres := func(c *config) {
		ks, err := pgstore.NewKeyStore(pool, kek)
		if err != nil {
			t.Fatal(err)
		}
		c.KeyStore, c.ClientStore = ks, pgstore.NewClientStore(pool)
	}
	first := newFixture(t, onPostgres)
	secret := first.vendor(t, demoVendor, scopeVendor)
	token := first.token(t, demoVendor, secret)

	second := newFixture(t, onPostgres)
	if got := second.do(t, "GET", "/v1/vendor", bearer(token), ""); got.status != 200 || got.reached != "getVendor" {
		t.Errorf("the first portal's token on the second: %+v", got)
	}
	second.token(t, demoVendor, secret)

	// Registering the vendor again (a restart) gives it a new secret; the
	// old one stops working.
	renewed := second.vendor(t, demoVendor, scopeVendor)
	if got := second.do(t, "POST", "/v1/bearer-token", jsonBody, `{"client_id":"vendor-17","client_secret":"`+secret+`"}`); got.status != 401 || got.body != unauthorized {
		t.Errorf("old secret after re-registration: %+v", got)
	}
	first.token(t, demoVendor, renewed)
}

// On Redis, two portals share one token-endpoint budget per client.
func TestOnRedisRateLimitsAreShared(t *testing.T) {
	rdb := redistest.Shared(t)
	store := redisstore.New(redisstore.Config{Client: rdb, Prefix: redistest.Prefix(t)})
	onRedis := func(c *config) {
		c.RateStore = store
		c.TokenRate = ratelimit.Limit{Name: "token", Events: 2, Per: time.Minute}
	}
	a, b := newFixture(t, onRedis), newFixture(t, onRedis)
	body := `{"client_id":"vendor-17","client_secret":"wrong"}`
	for _, f := range []*fixture{a, b} {
		if got := f.do(t, "POST", "/v1/bearer-token", jsonBody, body); got.status != 401 {
			t.Fatalf("got %+v", got)
		}
	}
	if got := a.do(t, "POST", "/v1/bearer-token", jsonBody, body); got.status != 429 || got.body != `{"message":"Too Many Requests"}` {
		t.Errorf("third request over two portals: %+v", got)
	}
}

// newSchema returns a pool on a migrated schema of the test's own,
// dropped at cleanup (see internal/pgtest).
func newSchema(t testing.TB) *pgxpool.Pool {
	pool, _ := pgtest.Schema(t, pgstore.Migrate)
	return pool
}
