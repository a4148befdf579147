package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/pgtest"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/oauth2"

	"github.com/tollgate/tollgate/authtest"
	"github.com/tollgate/tollgate/examples/internal/demotest"
	"github.com/tollgate/tollgate/internal/redistest"
	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/pgstore"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/revocation/redisrevocation"
)

const (
	testIssuer   = "https://auth.marketplace.example"
	testAudience = "https://api.marketplace.example"
	testRedirect = "http://127.0.0.1:8081/callback" // the demo integration's, unless a test registers its own
	testPassword = "correct horse battery staple"   // the demo store owner's
)

// fastArgon2 keeps the tests quick; main uses issuer.DefaultArgon2Params.
var fastArgon2 = issuer.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltBytes: 16, KeyBytes: 32}

// sharedKeys holds one RS256 key for the tests that need no keys of their
// own: a 3072-bit key takes a second or more to generate under -race.
var sharedKeys = &issuer.MemoryKeyStore{}

// fixture is a marketplace on memory stores (or c's), on a clock the test
// moves, with the demo integration registered, recording which handlers
// ran.
type fixture struct {
	start   time.Time
	clk     *authtest.Clock
	m       *marketplace
	secret  string // the demo integration's
	reached demotest.Reached
}

func newFixture(t *testing.T, change func(*config)) *fixture {
	t.Helper()
	f := &fixture{start: time.Now().Truncate(time.Second)}
	f.clk = authtest.NewClock(f.start)
	c := config{
		Issuer: testIssuer, Audience: testAudience, Argon2: fastArgon2, KeyStore: sharedKeys,
		Owners:    map[string]string{demoOwner: issuer.HashSecret(fastArgon2, testPassword)},
		TokenRate: ratelimit.Limit{Name: "token", Events: 1000, Per: time.Minute},
		LoginRate: ratelimit.Limit{Name: "login", Events: 1000, Per: time.Minute},
		APIRate:   ratelimit.Limit{Name: "api", Events: 1000, Per: time.Minute},
		Now:       f.clk.Now,
	}
	if change != nil {
		change(&c)
	}
	count := f.reached.Count
	m, err := newMarketplace(t.Context(), c, handlers{
		getStore:     count("getStore", apiHandlers.getStore),
		listOrders:   count("listOrders", apiHandlers.listOrders),
		getInventory: count("getInventory", apiHandlers.getInventory),
		setInventory: count("setInventory", apiHandlers.setInventory),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	f.m = m
	secret, err := registerIntegration(t.Context(), m.Clients, integrationClient(demoApp, testAudience, testRedirect))
	if err != nil {
		t.Fatal(err)
	}
	f.secret = secret.Reveal()
	return f
}

// response is what the client saw, and which handlers ran.
type response struct {
	status          int
	challenge, body string
	location        string
	reached         string
}

func (f *fixture) do(t *testing.T, method, path string, header http.Header, body string) response {
	t.Helper()
	w, reached := f.reached.Serve(f.m.Handler, method, path, header, body)
	return response{
		status:    w.Code,
		challenge: w.Header().Get("WWW-Authenticate"),
		body:      strings.TrimSuffix(w.Body.String(), "\n"),
		location:  w.Header().Get("Location"),
		reached:   reached,
	}
}

var formHeader = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

// form posts params to the token endpoint as a form.
func (f *fixture) form(t *testing.T, params ...string) response {
	t.Helper()
	v := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		v.Add(params[i], params[i+1])
	}
	return f.do(t, "POST", "/auth/v2/token", formHeader, v.Encode())
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

func decodeToken(t *testing.T, got response) tokenResponse {
	t.Helper()
	var tr tokenResponse
	if got.status != 200 {
		t.Fatalf("token endpoint: %+v", got)
	}
	if err := json.Unmarshal([]byte(got.body), &tr); err != nil || tr.AccessToken == "" {
		t.Fatalf("token response %s: %v", got.body, err)
	}
	return tr
}

// appToken is the integration's own client-credentials token.
func (f *fixture) appToken(t *testing.T) string {
	t.Helper()
	return decodeToken(t, f.form(t, "grant_type", "client_credentials", "client_id", demoApp, "client_secret", f.secret)).AccessToken
}

// authorizeQuery is the demo integration's authorization request for
// integration.store, with challenge; change, if set, alters it.
func authorizeQuery(challenge string, change func(url.Values)) url.Values {
	q := url.Values{
		"response_type": {"code"}, "client_id": {demoApp}, "redirect_uri": {testRedirect},
		"scope": {scopeStore}, "state": {"st-1"},
		"code_challenge": {challenge}, "code_challenge_method": {issuer.PKCEMethodS256},
	}
	if change != nil {
		change(q)
	}
	return q
}

// consent posts the consent form of the authorization request q as
// params (username, password, decision) would.
func (f *fixture) consent(t *testing.T, q url.Values, params ...string) response {
	t.Helper()
	v := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		v.Add(params[i], params[i+1])
	}
	return f.do(t, "POST", "/auth/v2/authorize?"+q.Encode(), formHeader, v.Encode())
}

// allow is the store owner allowing q with their password.
func (f *fixture) allow(t *testing.T, q url.Values) response {
	t.Helper()
	return f.consent(t, q, "username", demoOwner, "password", testPassword, "decision", "allow")
}

// code is the store owner authorizing the demo integration with a new
// PKCE pair: the code and its verifier.
func (f *fixture) code(t *testing.T) (code, verifier string) {
	t.Helper()
	verifier = oauth2.GenerateVerifier()
	got := f.allow(t, authorizeQuery(oauth2.S256ChallengeFromVerifier(verifier), nil))
	loc, err := url.Parse(got.location)
	if got.status != 303 || err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("consent: %+v", got)
	}
	return loc.Query().Get("code"), verifier
}

// exchange is the demo integration redeeming code with verifier.
func (f *fixture) exchange(t *testing.T, code, verifier string) response {
	t.Helper()
	return f.form(t, "grant_type", "authorization_code", "code", code, "redirect_uri", testRedirect,
		"code_verifier", verifier, "client_id", demoApp, "client_secret", f.secret)
}

// ownerRefreshToken is the first refresh token of a new authorization by
// the store owner.
func (f *fixture) ownerRefreshToken(t *testing.T) string {
	t.Helper()
	code, verifier := f.code(t)
	tr := decodeToken(t, f.exchange(t, code, verifier))
	if tr.RefreshToken == "" {
		t.Fatalf("no refresh token: %+v", tr)
	}
	return tr.RefreshToken
}

// refresh trades refreshToken for a user access token and its successor.
func (f *fixture) refresh(t *testing.T, refreshToken string) (access, next string) {
	t.Helper()
	tr := decodeToken(t, f.form(t, "grant_type", "refresh_token", "refresh_token", refreshToken, "client_id", demoApp, "client_secret", f.secret))
	return tr.AccessToken, tr.RefreshToken
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

func multipartBody(t *testing.T, params ...string) (http.Header, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i := 0; i+1 < len(params); i += 2 {
		if err := mw.WriteField(params[i], params[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return http.Header{"Content-Type": {mw.FormDataContentType()}}, b.String()
}

const (
	invalidChallenge = `Bearer realm="marketplace", error="invalid_token", error_description="The access token is invalid"`
	invalidBody      = `{"error":"invalid_token","error_description":"The access token is invalid"}`
	scopeBody        = `{"error":"insufficient_scope","error_description":"The access token does not grant the required scope"}`
	wrongTypeBody    = `{"error":"wrong_token_type","error_description":"The access token is of a type this resource does not accept"}`
	invalidGrantBody = `{"error":"invalid_grant","error_description":"the grant is invalid, expired or revoked"}`
	basicChallenge   = `Basic realm="marketplace", charset="UTF-8"`
)

func scopeChallenge(scope string) string {
	return `Bearer realm="marketplace", error="insufficient_scope", error_description="The access token does not grant the required scope", scope="` + scope + `"`
}

// The token endpoint gives client_credentials every scope of the
// integration and refresh_token the owner's integration.store alone, both
// for two days, from form and multipart bodies.
func TestTheTokenEndpointGivesScopesPerGrant(t *testing.T) {
	f := newFixture(t, nil)
	all := scopeStore + " " + scopeOrder + " " + scopeInventory
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(demoApp+":"+f.secret))
	mpHeader, mpBody := multipartBody(t, "grant_type", "client_credentials", "client_id", demoApp, "client_secret", f.secret)
	mpRefreshHeader, mpRefreshBody := multipartBody(t, "grant_type", "refresh_token", "refresh_token", f.ownerRefreshToken(t), "client_id", demoApp, "client_secret", f.secret)
	code, verifier := f.code(t)
	codeBody := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {verifier}}.Encode()
	tests := []struct {
		name      string
		header    http.Header
		body      string
		scope     string
		refreshed bool
	}{
		{name: "client_credentials in a form", header: formHeader,
			body:  "grant_type=client_credentials&client_id=" + demoApp + "&client_secret=" + f.secret,
			scope: all},
		{name: "client_credentials in a multipart body (curl -F)", header: mpHeader, body: mpBody, scope: all},
		{name: "client_credentials with Basic and a narrower scope",
			header: http.Header{"Content-Type": formHeader["Content-Type"], "Authorization": {basic}},
			body:   "grant_type=client_credentials&scope=integration.order", scope: scopeOrder},
		{name: "authorization_code with Basic: the owner's integration.store and a refresh token",
			header: http.Header{"Content-Type": formHeader["Content-Type"], "Authorization": {basic}},
			body:   codeBody, scope: scopeStore, refreshed: true},
		{name: "refresh_token in a form", header: formHeader,
			body:  "grant_type=refresh_token&refresh_token=" + f.ownerRefreshToken(t) + "&client_id=" + demoApp + "&client_secret=" + f.secret,
			scope: scopeStore, refreshed: true},
		{name: "refresh_token in a multipart body (curl -F)", header: mpRefreshHeader, body: mpRefreshBody,
			scope: scopeStore, refreshed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := decodeToken(t, f.do(t, "POST", "/auth/v2/token", tt.header, tt.body))
			if tr.TokenType != "Bearer" || tr.ExpiresIn != 2*24*3600 || tr.Scope != tt.scope || (tr.RefreshToken != "") != tt.refreshed {
				t.Errorf("token response %+v; want Bearer, 172800 s, scope %q, refresh token %v", tr, tt.scope, tt.refreshed)
			}
			p, err := f.m.Verifier.Verify(t.Context(), tr.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			wantType := map[bool]string{false: typeApp, true: typeUser}[tt.refreshed]
			if p.Type() != wantType || p.ClientID() != demoApp || strings.Join(p.Scopes(), " ") != tt.scope {
				t.Errorf("principal type %q client %q scopes %q", p.Type(), p.ClientID(), p.Scopes())
			}
		})
	}
}

// The token endpoint's refusals are RFC 6749 §5.2's, and none of them
// mints a token or rotates a refresh token.
func TestTheTokenEndpointRefusals(t *testing.T) {
	f := newFixture(t, nil)
	rt := f.ownerRefreshToken(t)
	tests := []struct {
		name   string
		method string
		params []string
		want   response
	}{
		{name: "a wrong secret is invalid_client with a Basic challenge",
			params: []string{"grant_type", "client_credentials", "client_id", demoApp, "client_secret", "wrong"},
			want: response{status: 401, challenge: basicChallenge,
				body: `{"error":"invalid_client","error_description":"client authentication failed"}`}},
		{name: "a refresh asking for integration.order is invalid_scope",
			params: []string{"grant_type", "refresh_token", "refresh_token", rt, "scope", scopeOrder, "client_id", demoApp, "client_secret", f.secret},
			want:   response{status: 400, body: `{"error":"invalid_scope","error_description":"a requested scope is not granted"}`}},
		{name: "a refresh asking for integration.inventory is invalid_scope",
			params: []string{"grant_type", "refresh_token", "refresh_token", rt, "scope", scopeInventory, "client_id", demoApp, "client_secret", f.secret},
			want:   response{status: 400, body: `{"error":"invalid_scope","error_description":"a requested scope is not granted"}`}},
		{name: "an unknown refresh token is invalid_grant",
			params: []string{"grant_type", "refresh_token", "refresh_token", "no-such-token", "client_id", demoApp, "client_secret", f.secret},
			want:   response{status: 400, body: invalidGrantBody}},
		{name: "the password grant is not served",
			params: []string{"grant_type", "password", "username", "owner-5", "password", "x", "client_id", demoApp, "client_secret", f.secret},
			want:   response{status: 400, body: `{"error":"unsupported_grant_type","error_description":"the grant type is not supported here"}`}},
		{name: "no grant_type is invalid_request",
			params: []string{"client_id", demoApp, "client_secret", f.secret},
			want:   response{status: 400, body: `{"error":"invalid_request","error_description":"grant_type is missing"}`}},
		{name: "GET is refused with 405", method: "GET",
			want: response{status: 405, body: `{"error":"invalid_request","error_description":"use POST"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got response
			if tt.method == "GET" {
				got = f.do(t, "GET", "/auth/v2/token", nil, "")
			} else {
				got = f.form(t, tt.params...)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
	// None of them rotated the owner's refresh token.
	f.refresh(t, rt)
}

func TestMarketplace(t *testing.T) {
	f := newFixture(t, nil)
	app := f.appToken(t)
	owner, _ := f.refresh(t, f.ownerRefreshToken(t))
	storeApp := decodeToken(t, f.form(t, "grant_type", "client_credentials", "scope", scopeStore, "client_id", demoApp, "client_secret", f.secret)).AccessToken

	// Another marketplace, with keys of its own.
	other := newFixture(t, func(c *config) { c.KeyStore = nil; c.Algorithm = issuer.ES256 })
	foreign := other.appToken(t)

	orders := `{"client_id":"app-9","orders":[]}`
	ownerStore := `{"client_id":"app-9","store":"12","subject":"owner-5"}`
	tests := []struct {
		name         string
		method, path string
		header       http.Header
		body         string
		at           time.Duration // since the tokens were issued
		want         response
	}{
		{name: "the integration reads a store",
			method: "GET", path: "/v1/stores/12", header: bearer(app),
			want: response{status: 200, body: `{"client_id":"app-9","store":"12","subject":"app-9"}`, reached: "getStore"}},
		{name: "the integration lists orders",
			method: "GET", path: "/v1/orders", header: bearer(app),
			want: response{status: 200, body: orders, reached: "listOrders"}},
		{name: "the integration reads inventory",
			method: "GET", path: "/v1/inventory/sku-3", header: bearer(app),
			want: response{status: 200, body: `{"quantity":7,"sku":"sku-3"}`, reached: "getInventory"}},
		{name: "the integration changes inventory",
			method: "PUT", path: "/v1/inventory/sku-3", header: bearer(app), body: `{"quantity":4}`,
			want: response{status: 200, body: `{"quantity":4,"sku":"sku-3"}`, reached: "setInventory"}},
		{name: "the owner's token reads the store",
			method: "GET", path: "/v1/stores/12", header: bearer(owner),
			want: response{status: 200, body: ownerStore, reached: "getStore"}},
		{name: "the scheme may be written bearer",
			method: "GET", path: "/v1/stores/12", header: http.Header{"Authorization": {"bearer " + owner}},
			want: response{status: 200, body: ownerStore, reached: "getStore"}},
		{name: "the scheme may be written BEARER",
			method: "GET", path: "/v1/stores/12", header: http.Header{"Authorization": {"BEARER " + owner}},
			want: response{status: 200, body: ownerStore, reached: "getStore"}},
		{name: "a two-day token is good after 47 hours",
			method: "GET", path: "/v1/orders", header: bearer(app), at: 47 * time.Hour,
			want: response{status: 200, body: orders, reached: "listOrders"}},

		{name: "the owner's token may not list orders: 403 insufficient_scope",
			method: "GET", path: "/v1/orders", header: bearer(owner),
			want: response{status: 403, challenge: scopeChallenge(scopeOrder), body: scopeBody}},
		{name: "the owner's token may not read inventory: 403 insufficient_scope",
			method: "GET", path: "/v1/inventory/sku-3", header: bearer(owner),
			want: response{status: 403, challenge: scopeChallenge(scopeInventory), body: scopeBody}},
		{name: "the owner's token may not change inventory: 403 insufficient_scope",
			method: "PUT", path: "/v1/inventory/sku-3", header: bearer(owner), body: `{"quantity":4}`,
			want: response{status: 403, challenge: scopeChallenge(scopeInventory), body: scopeBody}},
		{name: "a token narrowed to integration.store may not list orders",
			method: "GET", path: "/v1/orders", header: bearer(storeApp),
			want: response{status: 403, challenge: scopeChallenge(scopeOrder), body: scopeBody}},
		{name: "no token is refused with 401 and a challenge naming only the realm",
			method: "GET", path: "/v1/orders",
			want: response{status: 401, challenge: `Bearer realm="marketplace"`,
				body: `{"error":"missing_token","error_description":"Authentication is required"}`}},
		{name: "a two-day token is refused after 48 hours and a minute: it expired",
			method: "GET", path: "/v1/orders", header: bearer(app), at: 48*time.Hour + time.Minute,
			want: response{status: 401,
				challenge: `Bearer realm="marketplace", error="invalid_token", error_description="The access token expired"`,
				body:      `{"error":"invalid_token","error_description":"The access token expired"}`}},
		{name: "another marketplace's token is refused with 401",
			method: "GET", path: "/v1/stores/12", header: bearer(foreign),
			want: response{status: 401, challenge: invalidChallenge, body: invalidBody}},
		{name: "a refresh token is no access token",
			method: "GET", path: "/v1/stores/12", header: bearer(f.ownerRefreshToken(t)),
			want: response{status: 401, challenge: invalidChallenge, body: invalidBody}},
		{name: "Bearer without a token is refused with 400 invalid_request",
			method: "GET", path: "/v1/orders", header: http.Header{"Authorization": {"Bearer "}},
			want: response{status: 400, challenge: `Bearer realm="marketplace", error="invalid_request", error_description="The Authorization header is malformed"`,
				body: `{"error":"invalid_request","error_description":"The Authorization header is malformed"}`}},
		{name: "two Authorization headers are refused with 400 invalid_request",
			method: "GET", path: "/v1/orders", header: http.Header{"Authorization": {"Bearer " + owner, "Bearer " + app}},
			want: response{status: 400, challenge: `Bearer realm="marketplace", error="invalid_request", error_description="The request carries more than one credential"`,
				body: `{"error":"invalid_request","error_description":"The request carries more than one credential"}`}},
		{name: "the handler's own refusal is written as RFC 6750 too",
			method: "PUT", path: "/v1/inventory/sku-3", header: bearer(app), body: `{"quantity":"many"}`,
			want: response{status: 400, reached: "setInventory",
				body: `{"error":"validation","error_description":"quantity must be a whole number, 0 or more"}`}},
		{name: "a path the API does not serve: 404",
			method: "GET", path: "/v1/customers", header: bearer(app),
			want: response{status: 404, body: `{"error":"not_found","error_description":"The resource does not exist"}`}},
		{name: "another method on orders: 405",
			method: "DELETE", path: "/v1/orders", header: bearer(app),
			want: response{status: 405, body: `{"error":"method_not_allowed","error_description":"The resource does not answer this method"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.clk.Set(f.start.Add(tt.at))
			got := f.do(t, tt.method, tt.path, tt.header, tt.body)
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// Were a user's session to hold integration.order (a consent that ignored
// the grant rules), its refreshed tokens would not carry it (a refresh gives
// nothing client_credentials alone may give), and are refused on the order
// and inventory routes, never reaching their handlers.
func TestAUserTokenIsRefusedOnIntegrationRoutesWhateverItsScopes(t *testing.T) {
	f := newFixture(t, nil)
	rt, err := f.m.Sessions.Start(t.Context(), issuer.SessionRequest{
		ClientID: demoApp, Subject: demoOwner, Audience: []string{testAudience},
		Scopes: []string{scopeStore, scopeOrder, scopeInventory},
	})
	if err != nil {
		t.Fatal(err)
	}
	owner, _ := f.refresh(t, rt.Token.Reveal())
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/orders"}, {"GET", "/v1/inventory/sku-3"}, {"PUT", "/v1/inventory/sku-3"},
	} {
		got := f.do(t, c.method, c.path, bearer(owner), `{"quantity":1}`)
		if got.status != 403 || got.reached != "" || !strings.Contains(got.challenge+got.body, "insufficient_scope") {
			t.Errorf("%s %s: got %+v, want 403 insufficient_scope, the handler not reached", c.method, c.path, got)
		}
	}
}

// A refresh token is single use: its successor works once, and presenting
// a used one again ends the family: the successor is refused, and so are
// the access tokens minted from the session, from the next request on.
func TestARefreshTokenPresentedTwiceEndsItsFamily(t *testing.T) {
	f := newFixture(t, nil)
	first := f.ownerRefreshToken(t)
	access, second := f.refresh(t, first)
	if got := f.do(t, "GET", "/v1/stores/12", bearer(access), ""); got.status != 200 {
		t.Fatalf("access token before the reuse: %+v", got)
	}

	params := func(rt string) []string {
		return []string{"grant_type", "refresh_token", "refresh_token", rt, "client_id", demoApp, "client_secret", f.secret}
	}
	if got, want := f.form(t, params(first)...), (response{status: 400, body: invalidGrantBody}); got != want {
		t.Fatalf("the used token again: %+v, want %+v", got, want)
	}
	if got, want := f.form(t, params(second)...), (response{status: 400, body: invalidGrantBody}); got != want {
		t.Errorf("its successor after the reuse: %+v, want %+v", got, want)
	}
	if got, want := f.do(t, "GET", "/v1/stores/12", bearer(access), ""), (response{status: 401, challenge: invalidChallenge, body: invalidBody}); got != want {
		t.Errorf("the family's access token after the reuse: %+v, want %+v", got, want)
	}
	// The integration's own tokens are no part of the family.
	if got := f.do(t, "GET", "/v1/orders", bearer(f.appToken(t)), ""); got.status != 200 {
		t.Errorf("a client-credentials token after the reuse: %+v", got)
	}
}

// A refresh token must be used within four days; each use gives four more.
func TestARefreshTokenLivesFourDaysUnused(t *testing.T) {
	f := newFixture(t, nil)
	kept, lapsed := f.ownerRefreshToken(t), f.ownerRefreshToken(t)

	f.clk.Set(f.start.Add(4*24*time.Hour - time.Minute))
	_, next := f.refresh(t, kept)

	f.clk.Set(f.start.Add(4*24*time.Hour + time.Minute))
	if got, want := f.form(t, "grant_type", "refresh_token", "refresh_token", lapsed, "client_id", demoApp, "client_secret", f.secret), (response{status: 400, body: invalidGrantBody}); got != want {
		t.Errorf("a refresh token unused for four days and a minute: %+v, want %+v", got, want)
	}
	f.refresh(t, next) // two minutes old
}

// A refresh token presented by another integration is refused and does not
// rotate: its owner still uses it.
func TestAnotherIntegrationCannotUseTheRefreshToken(t *testing.T) {
	f := newFixture(t, nil)
	rt := f.ownerRefreshToken(t)
	otherSecret, err := registerIntegration(t.Context(), f.m.Clients, integrationClient("app-10", testAudience, testRedirect))
	if err != nil {
		t.Fatal(err)
	}
	got := f.form(t, "grant_type", "refresh_token", "refresh_token", rt, "client_id", "app-10", "client_secret", otherSecret.Reveal())
	if want := (response{status: 400, body: invalidGrantBody}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	f.refresh(t, rt)
}

// Revoking an access token refuses it; revoking a refresh token ends its
// session and refuses the session's access tokens.
func TestRevocation(t *testing.T) {
	f := newFixture(t, nil)
	app := f.appToken(t)
	rt := f.ownerRefreshToken(t)
	owner, next := f.refresh(t, rt)
	revoke := func(token string) {
		t.Helper()
		body := url.Values{"token": {token}, "client_id": {demoApp}, "client_secret": {f.secret}}.Encode()
		if got := f.do(t, "POST", "/auth/v2/revoke", formHeader, body); got.status != 200 {
			t.Fatalf("revoke: %+v", got)
		}
	}
	revoke(app)
	revoke(next)
	refused := response{status: 401, challenge: invalidChallenge, body: invalidBody}
	if got := f.do(t, "GET", "/v1/orders", bearer(app), ""); got != refused {
		t.Errorf("revoked access token: %+v", got)
	}
	if got := f.do(t, "GET", "/v1/stores/12", bearer(owner), ""); got != refused {
		t.Errorf("access token of a revoked session: %+v", got)
	}
	if got := f.form(t, "grant_type", "refresh_token", "refresh_token", next, "client_id", demoApp, "client_secret", f.secret); got.status != 400 {
		t.Errorf("revoked refresh token: %+v", got)
	}
}

// The marketplace publishes RFC 8414 metadata and its keys; a token's kid
// is in the JWKS.
func TestMetadataAndKeysArePublished(t *testing.T) {
	f := newFixture(t, nil)
	got := f.do(t, "GET", "/.well-known/oauth-authorization-server", nil, "")
	var md map[string]any
	if err := json.Unmarshal([]byte(got.body), &md); err != nil || got.status != 200 {
		t.Fatalf("metadata %+v: %v", got, err)
	}
	for k, want := range map[string]string{
		"issuer":                           testIssuer,
		"token_endpoint":                   testIssuer + "/auth/v2/token",
		"revocation_endpoint":              testIssuer + "/auth/v2/revoke",
		"jwks_uri":                         testIssuer + "/.well-known/jwks.json",
		"authorization_endpoint":           testIssuer + "/auth/v2/authorize",
		"grant_types_supported":            "[authorization_code client_credentials refresh_token]",
		"response_types_supported":         "[code]",
		"code_challenge_methods_supported": "[S256]",
		"scopes_supported":                 "[integration.store integration.order integration.inventory]",
	} {
		if got := fmt.Sprint(md[k]); got != want {
			t.Errorf("%s: %s, want %s", k, got, want)
		}
	}

	got = f.do(t, "GET", "/.well-known/jwks.json", nil, "")
	var set struct {
		Keys []struct{ KID, Alg, Kty, D string }
	}
	if err := json.Unmarshal([]byte(got.body), &set); err != nil || got.status != 200 {
		t.Fatalf("JWKS %+v: %v", got, err)
	}
	header, _, _ := strings.Cut(f.appToken(t), ".")
	raw, _ := base64.RawURLEncoding.DecodeString(header)
	var h struct{ Alg, Kid, Typ string }
	_ = json.Unmarshal(raw, &h)
	if h.Alg != issuer.RS256 || h.Typ != "at+jwt" {
		t.Errorf("token header %s", raw)
	}
	found := false
	for _, k := range set.Keys {
		found = found || k.KID == h.Kid && k.Alg == issuer.RS256 && k.Kty == "RSA" && k.D == ""
	}
	if !found {
		t.Errorf("kid %q not in the JWKS %s", h.Kid, got.body)
	}
}

// The scope claim is a JSON array.
func TestTheScopeClaimIsAnArray(t *testing.T) {
	f := newFixture(t, nil)
	_, payload, _ := strings.Cut(f.appToken(t), ".")
	payload, _, _ = strings.Cut(payload, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	var claims struct {
		Scope     []string `json:"scope"`
		GrantType string   `json:"grant_type"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatalf("claims %s: %v", raw, err)
	}
	if strings.Join(claims.Scope, " ") != scopeStore+" "+scopeOrder+" "+scopeInventory || claims.GrantType != issuer.GrantClientCredentials {
		t.Errorf("claims %s", raw)
	}
}

// The walkthrough shows the secret and the owner's password and every
// step of the flow.
func TestTheWalkthroughHasTheWholeFlow(t *testing.T) {
	var b strings.Builder
	printWalkthrough(&b, walkthrough{Base: "http://127.0.0.1:8080", Client: demoApp, Secret: "s3cret",
		Redirect: "http://127.0.0.1:8081/callback", Owner: demoOwner, Password: "pa55word"})
	out := b.String()
	for _, want := range []string{"s3cret", "pa55word", "REDIRECT=http://127.0.0.1:8081/callback",
		"openssl dgst -sha256 -binary", "/auth/v2/authorize?response_type=code&client_id=$CLIENT&redirect_uri=$REDIRECT&scope=integration.store&state=$STATE&code_challenge=$CHALLENGE&code_challenge_method=S256",
		"-d username=owner-5 -d password=pa55word -d decision=allow", "-d grant_type=authorization_code -d code=$CODE",
		"-d code_verifier=$VERIFIER", "-F grant_type=refresh_token", "/account/apps/revoke", "/v1/orders", "/v1/stores/12",
		"/v1/inventory/sku-3", "/.well-known/oauth-authorization-server", "/.well-known/jwks.json"} {
		if !strings.Contains(out, want) {
			t.Errorf("walkthrough lacks %s", want)
		}
	}
}

// On PostgreSQL, a second marketplace (a replica, or the same after a
// restart) accepts the first one's tokens and rotates its refresh tokens,
// and a reuse through either ends the family for both.
func TestOnPostgresReplicasShareKeysSessionsAndClients(t *testing.T) {
	onPostgres := postgresStores(t)
	a := newFixture(t, onPostgres)
	first := a.ownerRefreshToken(t)
	app := a.appToken(t)

	b := newFixture(t, onPostgres) // registering the integration again gave it a new secret
	a.secret = b.secret
	if got := b.do(t, "GET", "/v1/orders", bearer(app), ""); got.status != 200 {
		t.Errorf("a's token on b: %+v", got)
	}
	_, second := b.refresh(t, first)
	if got := a.form(t, "grant_type", "refresh_token", "refresh_token", first, "client_id", demoApp, "client_secret", a.secret); got.status != 400 || got.body != invalidGrantBody {
		t.Errorf("reuse on a: %+v", got)
	}
	if got := b.form(t, "grant_type", "refresh_token", "refresh_token", second, "client_id", demoApp, "client_secret", b.secret); got.status != 400 || got.body != invalidGrantBody {
		t.Errorf("the successor on b after the reuse on a: %+v", got)
	}
}

// On Redis, a family ended through one replica has its access tokens
// refused by every replica.
func TestOnRedisAnEndedFamilyIsRefusedEverywhere(t *testing.T) {
	rdb := redistest.Shared(t)
	revoked := redisrevocation.New(rdb, redisrevocation.Config{Prefix: strings.NewReplacer("/", "-").Replace(redistest.Prefix(t))})
	if err := revoked.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	sessions, clients := &issuer.MemorySessionStore{}, &issuer.MemoryClientStore{}
	shared := func(c *config) { c.Revocations, c.SessionStore, c.ClientStore = revoked, sessions, clients }
	a := newFixture(t, shared)
	first := a.ownerRefreshToken(t)
	b := newFixture(t, shared)
	a.secret = b.secret
	access, _ := a.refresh(t, first)
	if got := b.do(t, "GET", "/v1/stores/12", bearer(access), ""); got.status != 200 {
		t.Fatalf("before the reuse, on b: %+v", got)
	}
	if got := b.form(t, "grant_type", "refresh_token", "refresh_token", first, "client_id", demoApp, "client_secret", b.secret); got.status != 400 {
		t.Fatalf("reuse on b: %+v", got)
	}
	refused := response{status: 401, challenge: invalidChallenge, body: invalidBody}
	for name, f := range map[string]*fixture{"a": a, "b": b} {
		if got := f.do(t, "GET", "/v1/stores/12", bearer(access), ""); got != refused {
			t.Errorf("after the reuse, on %s: %+v", name, got)
		}
	}
}

// postgresStores puts every store of the marketplace in PostgreSQL, on a
// schema of the test's own: the configuration of every replica of one
// marketplace. It skips without a server (see internal/pgtest).
func postgresStores(t *testing.T) func(*config) {
	t.Helper()
	pool := newSchema(t)
	kek := make([]byte, pgstore.KEKSize)
	for i := range kek {
		kek[i] = byte(i)
	}
	keys, err := pgstore.NewKeyStore(pool, kek)
	if err != nil {
		t.Fatal(err)
	}
	return func(c *config) {
		c.KeyStore, c.SessionStore, c.ClientStore = keys, pgstore.NewSessionStore(pool), pgstore.NewClientStore(pool)
		c.GrantStore, c.CodeStore = pgstore.NewGrantStore(pool), pgstore.NewCodeStore(pool)
	}
}

// newSchema returns a pool on a migrated schema of the test's own,
// dropped at cleanup (see internal/pgtest).
func newSchema(t testing.TB) *pgxpool.Pool {
	pool, _ := pgtest.Schema(t, pgstore.Migrate)
	return pool
}

// A key rotation needs no restart and no JWKS fetch: the verifier reads
// the ring in-process, so the next key is published a day after the first
// signed, tokens of both verify, and new tokens carry the new kid.
func TestKeysRotateWithoutARestart(t *testing.T) {
	f := newFixture(t, func(c *config) { c.KeyStore = &issuer.MemoryKeyStore{} })
	kid := func(token string) string {
		header, _, _ := strings.Cut(token, ".")
		raw, _ := base64.RawURLEncoding.DecodeString(header)
		var h struct{ Kid string }
		_ = json.Unmarshal(raw, &h)
		return h.Kid
	}
	jwksKeys := func() int {
		var set struct{ Keys []json.RawMessage }
		_ = json.Unmarshal([]byte(f.do(t, "GET", "/.well-known/jwks.json", nil, "").body), &set)
		return len(set.Keys)
	}
	before := f.appToken(t)

	f.clk.Set(f.start.Add(22*time.Hour + time.Minute)) // the next key is due, published ahead
	if err := f.m.Ring.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := jwksKeys(); n != 2 {
		t.Fatalf("JWKS holds %d keys, want 2", n)
	}
	if kid(f.appToken(t)) != kid(before) {
		t.Fatal("the next key signed before its time")
	}

	f.clk.Set(f.start.Add(24*time.Hour + time.Minute)) // the next key signs
	after := f.appToken(t)
	if kid(after) == kid(before) {
		t.Fatal("the key did not rotate")
	}
	for name, token := range map[string]string{"before": before, "after": after} {
		if got := f.do(t, "GET", "/v1/orders", bearer(token), ""); got.status != 200 {
			t.Errorf("token from %s the rotation: %+v", name, got)
		}
	}
}
