package interop

import (
	"context"
	"crypto/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tollgate/tollgate/introspect"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/revocation"
)

// Clients registered at the zitadel provider.
const (
	zJWTClient    = "svc-jwt"                         // client_credentials, JWT access tokens
	zOpaqueClient = "svc-opaque"                      // client_credentials, opaque access tokens
	zWebClient    = "web"                             // authorization code + refresh, JWT access tokens
	zSecret       = "s3cret:with/odd+chars é"         // survives form-encoding in Basic
	apiSecret     = "api:introspection/secret+é"      // form-encoded by tollgate, decoded by the server
	zRedirectURI  = "https://client.example/callback" // never fetched
)

// zitadelServer is zitadel/oidc's OpenID Provider on a loopback port.
type zitadelServer struct {
	issuer     string
	storage    *zStorage
	jwksServed atomic.Int64 // requests for the key set
}

func startZitadel(t *testing.T) *zitadelServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	st := newZStorage(apiAudience)
	for _, c := range []*zClient{
		{id: zJWTClient, grants: []oidc.GrantType{oidc.GrantTypeClientCredentials}, tokenType: op.AccessTokenTypeJWT},
		{id: zOpaqueClient, grants: []oidc.GrantType{oidc.GrantTypeClientCredentials}, tokenType: op.AccessTokenTypeBearer},
		{id: zWebClient, grants: []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}, tokenType: op.AccessTokenTypeJWT,
			redirectURIs: []string{zRedirectURI}, loginURL: issuer + "/login"},
	} {
		c.secret = zSecret
		st.addClient(c)
	}
	// The API authenticates itself to the introspection endpoint.
	st.addClient(&zClient{id: apiAudience, secret: apiSecret})

	var key [32]byte
	rand.Read(key[:])
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:             key,
		CodeMethodS256:        true,
		GrantTypeRefreshToken: true,
	}, st, op.StaticIssuer(issuer), op.WithAllowInsecure())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	// The login page: the user "alice" signs in at once.
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		if err := st.login(id, "alice"); err != nil {
			http.Error(w, "unknown request", http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, issuer+"/authorize/callback?id="+url.QueryEscape(id), http.StatusFound)
	})
	z := &zitadelServer{issuer: issuer, storage: st}
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/keys" {
			z.jwksServed.Add(1)
		}
		provider.ServeHTTP(w, r)
	}))
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return z
}

// clientCredentials gets an access token for clientID with golang.org/x/oauth2.
func (z *zitadelServer) clientCredentials(t *testing.T, clientID string, scopes ...string) *oauth2.Token {
	t.Helper()
	cfg := clientcredentials.Config{
		ClientID: clientID, ClientSecret: zSecret,
		TokenURL: z.issuer + "/oauth/token", Scopes: scopes,
		AuthStyle: oauth2.AuthStyleInHeader,
	}
	tok, err := cfg.Token(testContext(t))
	if err != nil {
		t.Fatalf("client_credentials for %s: %v", clientID, err)
	}
	return tok
}

// authorizationCode runs the authorization code flow with PKCE for the web
// client, the user signing in at the provider's login page, and returns the
// token response: access, refresh and ID token.
func (z *zitadelServer) authorizationCode(t *testing.T, scopes ...string) *oauth2.Token {
	t.Helper()
	ctx := testContext(t)
	cfg := oauth2.Config{
		ClientID: zWebClient, ClientSecret: zSecret, RedirectURL: zRedirectURI, Scopes: scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL: z.issuer + "/authorize", TokenURL: z.issuer + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", "nonce-1"))

	// The browser: follow the provider's redirects, stop at the client's.
	browser := &http.Client{CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), zRedirectURI) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("authorize: status %d, no redirect to the client: %v", resp.StatusCode, err)
	}
	if loc.Query().Get("state") != "state-1" || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: redirect without code or state: %s", loc.Query())
	}
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	return tok
}

// revoke calls the provider's RFC 7009 endpoint as clientID.
func (z *zitadelServer) revoke(t *testing.T, clientID, token, hint string) {
	t.Helper()
	revokeAt(t, z.issuer+"/revoke", clientID, zSecret, token, hint)
}

func revokeAt(t *testing.T, endpoint, clientID, secret, token, hint string) {
	t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	req, _ := http.NewRequestWithContext(testContext(t), http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revocation: status %d", resp.StatusCode)
	}
}

// jwtVerifier is tollgate's verifier for the provider's JWT access tokens,
// keys from its JWKS.
func (z *zitadelServer) jwtVerifier(t *testing.T, cfg jwt.Config) *jwt.Verifier {
	t.Helper()
	cfg.Issuers = []jwt.Issuer{{
		Issuer: z.issuer, JWKSURL: z.issuer + "/keys",
		Audiences: []string{apiAudience}, Algorithms: []string{"RS256"},
		TokenType: "service",
	}}
	v, err := jwt.NewVerifier(testContext(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// introspector is tollgate's RFC 7662 client for the provider, authenticating
// with client_secret_basic.
func (z *zitadelServer) introspector(t *testing.T, now func() time.Time) *introspect.Client {
	t.Helper()
	// The endpoint comes from the OP's discovery document.
	c, err := introspect.Discover(context.Background(), z.issuer, introspect.Config{
		Auth:      introspect.ClientSecretBasic(apiAudience, apiSecret),
		TokenType: "service", Audiences: []string{apiAudience},
		Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestZitadelClientCredentialsJWTIsVerifiedAndScopeChecked(t *testing.T) {
	z := startZitadel(t)
	api := newAPI(t, z.jwtVerifier(t, jwt.Config{}))
	tok := z.clientCredentials(t, zJWTClient, scopeRead)
	if strings.Count(tok.AccessToken, ".") != 2 {
		t.Fatalf("access token is not a JWT")
	}

	tests := []struct {
		name, path, token string
		want              want
	}{
		{"granted scope is served", "/orders", tok.AccessToken, wantOK},
		{"scope not granted is 403 insufficient_scope", "/admin", tok.AccessToken, wantInsufficient},
		{"no token is 401", "/orders", "", wantMissingToken},
		{"a token with a changed signature is 401 invalid_token", "/orders", tamper(tok.AccessToken), wantInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { api.call(t, tt.path, tt.token, tt.want) })
	}
	t.Run("the principal is the client", func(t *testing.T) {
		api.call(t, "/orders", tok.AccessToken, wantOK)
		p := api.principal()
		if p.Issuer() != z.issuer || p.ClientID() != zJWTClient || p.Subject() != zJWTClient || p.Type() != "service" || !p.HasScope(scopeRead) {
			t.Errorf("principal: iss %q client %q sub %q type %q scopes %v", p.Issuer(), p.ClientID(), p.Subject(), p.Type(), p.Scopes())
		}
	})
}

// tamper flips the last character of a JWT's signature.
func tamper(token string) string {
	last := token[len(token)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'Q'
	}
	return token[:len(token)-1] + string(repl)
}

func TestZitadelOpaqueTokenIsIntrospected(t *testing.T) {
	z := startZitadel(t)
	api := newAPI(t, middleware.JWTOrOpaque(z.jwtVerifier(t, jwt.Config{}), z.introspector(t, nil)))
	tok := z.clientCredentials(t, zOpaqueClient, scopeRead)
	if strings.Count(tok.AccessToken, ".") == 2 {
		t.Fatalf("access token is shaped as a JWT, not opaque")
	}

	tests := []struct {
		name, path, token string
		want              want
	}{
		{"introspected token with the scope is served", "/orders", tok.AccessToken, wantOK},
		{"introspected token without the scope is 403", "/admin", tok.AccessToken, wantInsufficient},
		{"a bogus token the server calls inactive is 401", "/orders", "bogus-" + randomID(), wantInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { api.call(t, tt.path, tt.token, tt.want) })
	}
	t.Run("the principal comes from the introspection answer", func(t *testing.T) {
		api.call(t, "/orders", tok.AccessToken, wantOK)
		p := api.principal()
		if p.ClientID() != zOpaqueClient || p.Subject() != zOpaqueClient || p.Type() != "service" || p.TokenID() == "" {
			t.Errorf("principal: client %q sub %q type %q jti %q", p.ClientID(), p.Subject(), p.Type(), p.TokenID())
		}
	})
}

func TestZitadelIDAndRefreshTokensAreRefusedAsBearerTokens(t *testing.T) {
	z := startZitadel(t)
	api := newAPI(t, middleware.JWTOrOpaque(z.jwtVerifier(t, jwt.Config{}), z.introspector(t, nil)))
	tok := z.authorizationCode(t, oidc.ScopeOpenID, oidc.ScopeOfflineAccess, scopeRead)
	idToken, _ := tok.Extra("id_token").(string)
	if idToken == "" || tok.RefreshToken == "" {
		t.Fatalf("the provider issued no ID token or no refresh token")
	}

	// The access token of the same response is served: the refusals below
	// are for what the tokens are, not for where they came from. The ID
	// token carries the API in its audience too, so only its being an ID
	// token (nonce, at_hash) refuses it.
	api.call(t, "/orders", tok.AccessToken, wantOK)
	t.Run("ID token is 401 invalid_token", func(t *testing.T) { api.call(t, "/orders", idToken, wantInvalidToken) })
	t.Run("refresh token is 401 invalid_token", func(t *testing.T) { api.call(t, "/orders", tok.RefreshToken, wantInvalidToken) })
}

func TestZitadelKeyRotation(t *testing.T) {
	z := startZitadel(t)
	clk := newClock()
	// No background refresh during the test: the refetches below are the
	// ones an unknown kid causes, spaced by the cooldown on the test clock.
	api := newAPI(t, z.jwtVerifier(t, jwt.Config{Now: clk.Now, RefreshInterval: time.Hour, MinRefreshInterval: time.Hour}))
	first := z.storage.keys[0].id
	oldTok := z.clientCredentials(t, zJWTClient, scopeRead).AccessToken
	api.call(t, "/orders", oldTok, wantOK)

	// The server rotates: a new key signs, the old one is still published.
	z.storage.rotate()
	newTok := z.clientCredentials(t, zJWTClient, scopeRead).AccessToken
	fetches := func() int64 { return z.jwksServed.Load() }
	if got := fetches(); got != 1 {
		t.Fatalf("key set fetched %d times at start-up, want 1", got)
	}
	t.Run("a token signed by the new key verifies after one refetch", func(t *testing.T) {
		api.call(t, "/orders", newTok, wantOK)
		api.call(t, "/orders", oldTok, wantOK)
		if got := fetches(); got != 2 {
			t.Errorf("key set fetched %d times, want 2", got)
		}
	})

	// The server removes the first key and rotates again; a token of the
	// third key, once the cooldown has passed, makes the verifier refetch
	// the set, which no longer holds the first key.
	z.storage.unpublish(first)
	z.storage.rotate()
	thirdTok := z.clientCredentials(t, zJWTClient, scopeRead).AccessToken
	t.Run("during the cooldown an unknown kid is refused without a fetch", func(t *testing.T) {
		api.call(t, "/orders", thirdTok, wantInvalidToken)
		api.call(t, "/orders", oldTok, wantOK)
		if got := fetches(); got != 2 {
			t.Errorf("key set fetched %d times, want still 2", got)
		}
	})
	clk.Advance(31 * time.Second) // past the default UnknownKIDCooldown (30 s)
	t.Run("a token signed by a removed key stops verifying after the refresh", func(t *testing.T) {
		api.call(t, "/orders", thirdTok, wantOK)
		api.call(t, "/orders", oldTok, wantInvalidToken)
		api.call(t, "/orders", newTok, wantOK)
		if got := fetches(); got != 3 {
			t.Errorf("key set fetched %d times, want 3", got)
		}
	})
}

func TestZitadelRevocation(t *testing.T) {
	t.Run("opaque token is refused once the introspection cache entry expires", func(t *testing.T) {
		z := startZitadel(t)
		clk := newClock()
		api := newAPI(t, z.introspector(t, clk.Now))
		tok := z.clientCredentials(t, zOpaqueClient, scopeRead).AccessToken
		api.call(t, "/orders", tok, wantOK) // introspected and cached now

		z.revoke(t, zOpaqueClient, tok, "access_token")
		// The server has forgotten it: a fresh client sees it inactive.
		fresh := newAPI(t, z.introspector(t, nil))
		fresh.call(t, "/orders", tok, wantInvalidToken)

		// tollgate keeps serving its cached answer until MaxTTL after the
		// introspection, then asks again and is told inactive.
		api.call(t, "/orders", tok, wantOK)
		clk.Advance(introspect.DefaultMaxTTL - time.Second)
		api.call(t, "/orders", tok, wantOK)
		clk.Advance(time.Second)
		api.call(t, "/orders", tok, wantInvalidToken)
	})

	t.Run("opaque token is refused at once by tollgate's revocation layer", func(t *testing.T) {
		z := startZitadel(t)
		revoked := revocation.NewMemory(revocation.MemoryConfig{})
		api := newAPI(t, z.introspector(t, nil), middleware.WithRevocation(revoked))
		tok := z.clientCredentials(t, zOpaqueClient, scopeRead)
		api.call(t, "/orders", tok.AccessToken, wantOK)
		z.revoke(t, zOpaqueClient, tok.AccessToken, "access_token")
		if err := revoked.RevokeToken(tok.AccessToken, tok.Expiry); err != nil {
			t.Fatal(err)
		}
		api.call(t, "/orders", tok.AccessToken, wantInvalidToken)
	})

	t.Run("JWT stays valid until exp after revocation at the server", func(t *testing.T) {
		z := startZitadel(t)
		clk := newClock()
		api := newAPI(t, z.jwtVerifier(t, jwt.Config{Now: clk.Now}))
		tok := z.clientCredentials(t, zJWTClient, scopeRead)
		api.call(t, "/orders", tok.AccessToken, wantOK)

		z.revoke(t, zJWTClient, tok.AccessToken, "access_token")
		api.call(t, "/orders", tok.AccessToken, wantOK)
		exp := api.principal().ExpiresAt()
		clk.Advance(exp.Sub(clk.Now()) - time.Second)
		api.call(t, "/orders", tok.AccessToken, wantOK)
		clk.Advance(time.Second + 30*time.Second) // exp plus the default leeway
		api.call(t, "/orders", tok.AccessToken, wantExpiredToken)
	})

	t.Run("JWT is refused at once when tollgate's revocation layer is told its jti", func(t *testing.T) {
		z := startZitadel(t)
		revoked := revocation.NewMemory(revocation.MemoryConfig{})
		api := newAPI(t, z.jwtVerifier(t, jwt.Config{}), middleware.WithRevocation(revoked))
		tok := z.clientCredentials(t, zJWTClient, scopeRead)
		api.call(t, "/orders", tok.AccessToken, wantOK)
		p := api.principal()
		if p.TokenID() == "" {
			t.Fatal("the JWT has no jti")
		}
		if err := revoked.RevokeID(p.TokenID(), p.ExpiresAt()); err != nil {
			t.Fatal(err)
		}
		api.call(t, "/orders", tok.AccessToken, wantInvalidToken)
	})
}

func TestZitadelDiscoveryFromTheIssuerURLAlone(t *testing.T) {
	z := startZitadel(t)
	// No JWKSURL: the verifier reads the provider's
	// /.well-known/openid-configuration for its jwks_uri.
	v, err := jwt.NewVerifier(testContext(t), jwt.Config{Issuers: []jwt.Issuer{{
		Issuer:    z.issuer,
		Audiences: []string{apiAudience}, Algorithms: []string{"RS256"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	api := newAPI(t, v)
	tok := z.clientCredentials(t, zJWTClient, scopeRead).AccessToken
	t.Run("a token verifies by the discovered key set", func(t *testing.T) { api.call(t, "/orders", tok, wantOK) })
	t.Run("scopes are checked as with a configured JWKS URL", func(t *testing.T) { api.call(t, "/admin", tok, wantInsufficient) })

	z.storage.rotate()
	rotated := z.clientCredentials(t, zJWTClient, scopeRead).AccessToken
	t.Run("a rotated key is fetched from the discovered jwks_uri", func(t *testing.T) { api.call(t, "/orders", rotated, wantOK) })
}
