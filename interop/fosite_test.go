package interop

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/storage"
	fjwt "github.com/ory/fosite/token/jwt"
	"golang.org/x/crypto/bcrypt"
	xoauth2 "golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tollgate/tollgate/introspect"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/middleware"
)

const (
	fClient   = "svc"
	fSecret   = "fosite-client-secret"
	fUser     = "peter"
	fPassword = "peter-password"
)

// fositeServer is an authorization server composed from Ory fosite on a
// loopback port: token endpoint (client_credentials, password, refresh),
// RFC 7662 introspection, RFC 7009 revocation, and a JWKS of its own (fosite
// signs JWTs but leaves publishing the key to the server).
type fositeServer struct {
	issuer string
}

// startFosite starts the server; with jwtTokens its access tokens are JWTs
// (fosite's DefaultJWTStrategy), otherwise opaque HMAC tokens.
func startFosite(t *testing.T, jwtTokens bool) *fositeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()

	secret := make([]byte, 32)
	rand.Read(secret)
	cfg := &fosite.Config{
		AccessTokenLifespan: accessTokenLifetime,
		AccessTokenIssuer:   issuer,
		GlobalSecret:        secret,
	}
	store := storage.NewMemoryStore()
	hash := func(s string) []byte {
		h, err := bcrypt.GenerateFromPassword([]byte(s), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	store.Clients[fClient] = &fosite.DefaultClient{
		ID: fClient, Secret: hash(fSecret),
		GrantTypes: []string{"client_credentials", "password", "refresh_token"},
		Scopes:     []string{scopeRead, "offline"},
		Audience:   []string{apiAudience},
	}
	store.Clients[apiAudience] = &fosite.DefaultClient{ID: apiAudience, Secret: hash(apiSecret)}
	store.Users[fUser] = storage.MemoryUserRelation{Username: fUser, Password: fPassword}

	key := rsaKey()
	kid := randomID()
	var core oauth2.CoreStrategy = compose.NewOAuth2HMACStrategy(cfg)
	if jwtTokens {
		core = compose.NewOAuth2JWTStrategy(func(context.Context) (any, error) { return key, nil }, core.(*oauth2.HMACSHAStrategy), cfg)
	}
	provider := compose.Compose(cfg, store, &compose.CommonStrategy{CoreStrategy: core},
		compose.OAuth2ClientCredentialsGrantFactory,
		// The password grant is deprecated (OAuth 2.1 drops it); here it is
		// the shortest way to a refresh token from fosite.
		//lint:ignore SA1019 used only to obtain a refresh token in a test
		compose.OAuth2ResourceOwnerPasswordCredentialsFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
	)
	newSession := func() *oauth2.JWTSession {
		return &oauth2.JWTSession{
			JWTClaims: &fjwt.JWTClaims{Extra: map[string]any{}},
			JWTHeader: &fjwt.Headers{Extra: map[string]any{"kid": kid}},
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		session := newSession()
		ar, err := provider.NewAccessRequest(ctx, r, session)
		if err != nil {
			provider.WriteAccessError(ctx, w, ar, err)
			return
		}
		// fosite has checked the client may ask for these; the server grants
		// them, and the client's audiences when it names none.
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s)
		}
		aud := ar.GetRequestedAudience()
		if len(aud) == 0 {
			aud = ar.GetClient().GetAudience()
		}
		for _, a := range aud {
			ar.GrantAudience(a)
		}
		subject := ar.GetClient().GetID()
		if u := r.PostForm.Get("username"); u != "" {
			subject = u
		}
		session.JWTClaims.Subject = subject
		session.Subject = subject
		session.JWTClaims.Extra["client_id"] = ar.GetClient().GetID()
		resp, err := provider.NewAccessResponse(ctx, ar)
		if err != nil {
			provider.WriteAccessError(ctx, w, ar, err)
			return
		}
		provider.WriteAccessResponse(ctx, w, ar, resp)
	})
	// Introspection as Ory Hydra answers it: fosite's response plus
	// token_use, which says whether the token is an access or a refresh
	// token. fosite's own writer leaves that out.
	mux.HandleFunc("POST /oauth2/introspect", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ir, err := provider.NewIntrospectionRequest(ctx, r, newSession())
		if err != nil {
			provider.WriteIntrospectionError(ctx, w, err)
			return
		}
		rec := httptest.NewRecorder()
		provider.WriteIntrospectionResponse(ctx, rec, ir)
		var answer map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			http.Error(w, "server error", http.StatusInternalServerError)
			return
		}
		if ir.IsActive() {
			answer["token_use"] = string(ir.GetTokenUse())
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(answer)
	})
	mux.HandleFunc("POST /oauth2/revoke", func(w http.ResponseWriter, r *http.Request) {
		provider.WriteRevocationResponse(r.Context(), w, provider.NewRevocationRequest(r.Context(), r))
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
			Key: &key.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig",
		}}})
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return &fositeServer{issuer: issuer}
}

func (f *fositeServer) clientCredentials(t *testing.T, scopes ...string) *xoauth2.Token {
	t.Helper()
	cfg := clientcredentials.Config{
		ClientID: fClient, ClientSecret: fSecret, TokenURL: f.issuer + "/oauth2/token",
		Scopes: scopes, EndpointParams: url.Values{"audience": {apiAudience}},
		AuthStyle: xoauth2.AuthStyleInHeader,
	}
	tok, err := cfg.Token(testContext(t))
	if err != nil {
		t.Fatalf("client_credentials: %v", err)
	}
	return tok
}

func (f *fositeServer) password(t *testing.T, scopes ...string) *xoauth2.Token {
	t.Helper()
	cfg := xoauth2.Config{
		ClientID: fClient, ClientSecret: fSecret, Scopes: scopes,
		Endpoint: xoauth2.Endpoint{TokenURL: f.issuer + "/oauth2/token", AuthStyle: xoauth2.AuthStyleInHeader},
	}
	tok, err := cfg.PasswordCredentialsToken(testContext(t), fUser, fPassword)
	if err != nil {
		t.Fatalf("password grant: %v", err)
	}
	return tok
}

func (f *fositeServer) jwtVerifier(t *testing.T) *jwt.Verifier {
	t.Helper()
	v, err := jwt.NewVerifier(testContext(t), jwt.Config{Issuers: []jwt.Issuer{{
		Issuer: f.issuer, JWKSURL: f.issuer + "/.well-known/jwks.json",
		Audiences: []string{apiAudience}, Algorithms: []string{"RS256"},
		TokenType: "service",
	}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func (f *fositeServer) introspector(t *testing.T, now func() time.Time) *introspect.Client {
	t.Helper()
	c, err := introspect.New(introspect.Config{
		Endpoint:  f.issuer + "/oauth2/introspect",
		Auth:      introspect.ClientSecretBasic(apiAudience, apiSecret),
		TokenType: "service", Audiences: []string{apiAudience},
		Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFositeClientCredentialsJWTIsVerifiedAndScopeChecked(t *testing.T) {
	f := startFosite(t, true)
	api := newAPI(t, f.jwtVerifier(t))
	tok := f.clientCredentials(t, scopeRead)
	if strings.Count(tok.AccessToken, ".") != 2 {
		t.Fatalf("access token is not a JWT")
	}
	tests := []struct {
		name, path, token string
		want              want
	}{
		{"granted scope (scp array) is served", "/orders", tok.AccessToken, wantOK},
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
		if p.Issuer() != f.issuer || p.ClientID() != fClient || p.Subject() != fClient || !p.HasScope(scopeRead) {
			t.Errorf("principal: iss %q client %q sub %q scopes %v", p.Issuer(), p.ClientID(), p.Subject(), p.Scopes())
		}
	})
}

func TestFositeOpaqueTokenIsIntrospected(t *testing.T) {
	f := startFosite(t, false)
	api := newAPI(t, middleware.JWTOrOpaque(nil, f.introspector(t, nil)))
	tok := f.clientCredentials(t, scopeRead)
	tests := []struct {
		name, path, token string
		want              want
	}{
		{"introspected token with the scope is served", "/orders", tok.AccessToken, wantOK},
		{"introspected token without the scope is 403", "/admin", tok.AccessToken, wantInsufficient},
		{"a bogus token the server calls inactive is 401", "/orders", "ory_at_bogus." + randomID(), wantInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { api.call(t, tt.path, tt.token, tt.want) })
	}
}

func TestFositeRefreshTokenIsRefusedAsBearerToken(t *testing.T) {
	f := startFosite(t, false)
	api := newAPI(t, f.introspector(t, nil))
	tok := f.password(t, scopeRead, "offline")
	if tok.RefreshToken == "" {
		t.Fatal("the server issued no refresh token")
	}
	// The access token of the same response is served; the refresh token,
	// which the server introspects as active with token_use refresh_token,
	// is not.
	api.call(t, "/orders", tok.AccessToken, wantOK)
	api.call(t, "/orders", tok.RefreshToken, wantInvalidToken)
}

func TestFositeRevokedOpaqueTokenIsRefusedOnceTheCacheEntryExpires(t *testing.T) {
	f := startFosite(t, false)
	clk := newClock()
	api := newAPI(t, f.introspector(t, clk.Now))
	tok := f.clientCredentials(t, scopeRead).AccessToken
	api.call(t, "/orders", tok, wantOK)

	revokeAt(t, f.issuer+"/oauth2/revoke", fClient, fSecret, tok, "access_token")
	newAPI(t, f.introspector(t, nil)).call(t, "/orders", tok, wantInvalidToken)

	clk.Advance(introspect.DefaultMaxTTL - time.Second)
	api.call(t, "/orders", tok, wantOK)
	clk.Advance(time.Second)
	api.call(t, "/orders", tok, wantInvalidToken)
}
