package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/tollgate/tollgate/apikey"
	tgerrors "github.com/tollgate/tollgate/errors"
	exdemo "github.com/tollgate/tollgate/examples/internal/demo"
	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/revocation"
	"github.com/tollgate/tollgate/scopes"
)

// The permissions a merchant may give its tokens in the portal.
var permissions = []string{"can_read_order", "can_write_order", "can_retrieve_app_config", "can_update_app_config"}

// The issuer's names: the customers' tokens and the portal's sessions
// are both minted here, by package issuer, each under its own "iss".
const (
	customerIssuer = "https://merchant.example/customers"
	portalIssuer   = "https://merchant.example/portal"
	// storefront is the provider's own shop front: the public client (no
	// secret) the customers log in through.
	storefront = "storefront"
	// portalLifetime is a dashboard session's.
	portalLifetime = 8 * time.Hour
)

// customer is a customer's account: its id (the tokens' subject) and its
// password's argon2id hash.
type customer struct {
	ID, PasswordHash string
}

// merchant is a merchant's organization and app, which its portal
// session carries as org_id and app_id.
type merchant struct {
	OrgID, AppID string
}

// revocationList refuses access tokens by their session: a
// revocation.Memory or a redisrevocation.Store.
type revocationList = exdemo.SessionRevocations

// config is what the API needs to know. Nil stores are memory ones.
type config struct {
	// Store keeps the merchants' API tokens (memory, or pgstore).
	Store apikey.Store
	// Peppers hash the tokens at rest (apikey.ParsePeppers).
	Peppers []apikey.Pepper
	// Keys keeps the signing keys of the customers' and the portal's
	// tokens (issuer/pgstore.KeyStore with -postgres); Sessions the
	// customers' refresh sessions (issuer/pgstore.SessionStore).
	Keys     issuer.KeyStore
	Sessions issuer.SessionStore
	// Revoked refuses the access tokens of ended customer sessions; nil
	// means a revocation.Memory.
	Revoked revocationList
	// Customers are the customers' accounts by username (their email).
	Customers map[string]customer
	// Merchants are the merchants' organizations and apps by id.
	Merchants map[string]merchant
	// Audience is this API's name in the customers' tokens.
	Audience string
	// RateLimit is every token's own bucket, unless the token or its
	// merchant has a limit of its own. LoginLimit bounds the logins of
	// one customer account (or, without a username, of one address).
	RateLimit, LoginLimit ratelimit.Limit
	// MerchantLimits are custom limits agreed with some merchants, for
	// each of their tokens.
	MerchantLimits map[string]ratelimit.Limit
	// RateLimits holds the buckets (ratelimit/redisstore with -redis); nil
	// means memory.
	RateLimits ratelimit.Store
	// Now is the clock of every layer; nil means time.Now.
	Now func() time.Time
	// Instrument, if set, wraps each application handler below every guard.
	Instrument func(http.Handler) http.Handler
}

// api is the guarded API and what main and the tests reach behind it.
type api struct {
	http.Handler
	keys   *apikey.Keys
	jwt    *jwt.Verifier
	ring   *issuer.KeyRing
	portal *issuer.Minter
	token  http.Handler
}

func (a *api) Close() {
	_ = a.keys.Close()
	_ = a.jwt.Close()
}

// portalSession mints the dashboard session of merchant id: what the
// provider's own portal login would hand a signed-in merchant.
func (a *api) portalSession(ctx context.Context, id string) (string, error) {
	at, err := a.portal.Mint(ctx, issuer.AccessRequest{
		Subject: id, ClientID: "portal", Audience: []string{"portal"}, Lifetime: portalLifetime,
	})
	return at.Token.Reveal(), err
}

// tokenResponse is RFC 6749 §5.1's answer of the token endpoint.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
}

// login logs a customer in through the token endpoint, in-process, as a
// storefront would over HTTP.
func (a *api) login(ctx context.Context, username, password string) (tokenResponse, error) {
	body := url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}.Encode()
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/oauth/token", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	a.token.ServeHTTP(w, r)
	var tr tokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &tr); err != nil || w.Code != http.StatusOK {
		return tokenResponse{}, fmt.Errorf("merchant: the demo customer's login answered %d", w.Code)
	}
	return tr, nil
}

// newAPI builds the guarded API. The JWT verifier runs until ctx is done.
func newAPI(ctx context.Context, cfg config) (*api, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Revoked == nil {
		cfg.Revoked = exdemo.MemorySessions{Memory: revocation.NewMemory(revocation.MemoryConfig{Now: cfg.Now})}
	}
	if cfg.LoginLimit.Events == 0 {
		cfg.LoginLimit = ratelimit.Limit{Events: 10, Per: time.Minute}
	}
	cfg.LoginLimit.Name = "login"
	ring, err := issuer.NewKeyRing(ctx, issuer.KeyRingConfig{Store: cfg.Keys, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	customers, err := issuer.NewMinter(issuer.MinterConfig{Issuer: customerIssuer, Keys: ring, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	portal, err := issuer.NewMinter(issuer.MinterConfig{
		Issuer: portalIssuer, Keys: ring, Now: cfg.Now,
		ExtraClaims: func(_ context.Context, req *issuer.AccessRequest) (map[string]any, error) {
			m, ok := cfg.Merchants[req.Subject]
			if !ok {
				return nil, errors.New("merchant: no such merchant")
			}
			return map[string]any{"org_id": m.OrgID, "app_id": m.AppID}, nil
		},
	})
	if err != nil {
		return nil, err
	}
	clients, err := issuer.NewClients(issuer.ClientsConfig{Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	if _, _, err := clients.Create(ctx, issuer.Client{
		ID: storefront, Name: "Storefront", Grants: []string{issuer.GrantPassword, issuer.GrantRefreshToken},
		Audience: []string{cfg.Audience},
	}); err != nil {
		return nil, err
	}
	revoked := cfg.Revoked
	sessions, err := issuer.NewSessions(issuer.SessionsConfig{
		Store: cfg.Sessions, Now: cfg.Now,
		// A reused refresh token ends its session; the session's access
		// tokens are refused from then on, by their "sid".
		OnSessionEnded: func(ctx context.Context, sid string, until time.Time) {
			if err := revoked.RevokeSession(ctx, sid, until); err != nil {
				slog.Default().ErrorContext(ctx, "merchant: the access tokens of an ended session are not revoked", "sid", sid, "error", err)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	token, err := issuer.NewTokenHandler(issuer.TokenConfig{
		Clients: clients, Minter: customers, Sessions: sessions,
		Grants:           []string{issuer.GrantPassword, issuer.GrantRefreshToken},
		Login:            customerLogin(cfg.Customers),
		FirstPartyClient: storefront,
	})
	if err != nil {
		return nil, err
	}
	keys, err := apikey.New(apikey.Config{
		Store:    cfg.Store,
		Peppers:  cfg.Peppers,
		Prefixes: []apikey.Prefix{{Name: "mt_live", Type: "merchant"}, {Name: "mt_test", Type: "merchant"}},
		Now:      cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	// Both kinds of JWT are this process's own: verified against the key
	// ring directly, no JWKS over HTTP.
	tokens, err := jwt.NewVerifier(ctx, jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer:      customerIssuer,
			KeySource:   ring,
			Audiences:   []string{cfg.Audience},
			Algorithms:  []string{"ES256"},
			TokenType:   "customer",
			RequiredTyp: "at+jwt",
		}, {
			Issuer:      portalIssuer,
			KeySource:   ring,
			Audiences:   []string{"portal"},
			Algorithms:  []string{"ES256"},
			TokenType:   "portal",
			RequiredTyp: "at+jwt",
		}},
		Now: cfg.Now,
	})
	if err != nil {
		keys.Close()
		return nil, err
	}

	app := func(h http.HandlerFunc) http.Handler {
		if cfg.Instrument != nil {
			return cfg.Instrument(h)
		}
		return h
	}
	merchantRoute := func(permission string, h http.HandlerFunc) http.Handler {
		return middleware.Chain(
			middleware.RequireType("merchant"),
			middleware.RequireTenant("X-Organization-Id", "org_id"),
			middleware.RequireTenant("X-App-Id", "app_id"),
			scopes.Require(permission),
		)(app(h))
	}
	mux := http.NewServeMux()
	mux.Handle("GET /orders", merchantRoute("can_read_order", listOrders))
	mux.Handle("POST /orders", merchantRoute("can_write_order", createOrder))
	mux.Handle("GET /app/config", merchantRoute("can_retrieve_app_config", getAppConfig))
	mux.Handle("PUT /app/config", merchantRoute("can_update_app_config", putAppConfig))
	mux.Handle("GET /me/orders", middleware.RequireType("customer")(app(myOrders)))
	// The portal's token API, for merchants signed in to the dashboard:
	// each manages its own tokens only, and may not set their limits.
	mux.Handle("/portal/", middleware.RequireType("portal")(http.StripPrefix("/portal",
		keys.Handler(apikey.HandlerConfig{Permissions: permissions}))))

	merchantLimits := make(map[string][]ratelimit.Limit, len(cfg.MerchantLimits))
	for id, l := range cfg.MerchantLimits {
		if l.Name == "" {
			l.Name = "merchant"
		}
		merchantLimits[id] = []ratelimit.Limit{l}
	}
	limitFor := func(r *http.Request, p *principal.Principal) []ratelimit.Limit {
		if own := keys.LimitFor(r, p); own != nil {
			return own // a token's own limit, set by the provider
		}
		if p.Type() == "merchant" {
			return merchantLimits[p.Subject()]
		}
		return nil
	}
	guarded := middleware.Chain(
		// mt_live_/mt_test_ tokens go to the key verifier, JWTs to the JWT
		// verifier; a token of any other shape or prefix is refused
		// without a lookup. A customer token of an ended session is
		// refused by its sid.
		middleware.Authenticate(middleware.JWTOrOpaque(tokens, keys), middleware.WithRevocation(cfg.Revoked)),
		// Keyed by the caller: an API token's own id, a customer's or a
		// portal user's subject. X-RateLimit-* on every response.
		ratelimit.New(ratelimit.Config{Limits: []ratelimit.Limit{cfg.RateLimit}, LimitFor: limitFor, Store: cfg.RateLimits, Now: cfg.Now}),
	)(mux)

	root := http.NewServeMux()
	// The customers' login and refresh (RFC 6749: the password and
	// refresh_token grants), before any bearer token is asked for; logins
	// of one account are rate-limited, read without consuming the body.
	root.Handle("POST /oauth/token", ratelimit.New(ratelimit.Config{
		Limits: []ratelimit.Limit{cfg.LoginLimit}, Store: cfg.RateLimits, Now: cfg.Now,
		Key: ratelimit.FirstKey(issuer.KeyByTokenAccount, ratelimit.KeyByIP),
	})(token))
	root.Handle("/oauth/token", tgerrors.MethodNotAllowed(http.MethodPost))
	root.Handle("/", guarded)
	handler := tgerrors.Use(tgerrors.Problem)(root) // every refusal is RFC 9457
	return &api{Handler: handler, keys: keys, jwt: tokens, ring: ring, portal: portal, token: token}, nil
}

func listOrders(w http.ResponseWriter, r *http.Request) {
	p, _ := principal.From(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"org_id": p.StringClaim("org_id"), "orders": []string{"ord_1", "ord_2"}})
}

func createOrder(w http.ResponseWriter, r *http.Request) {
	p, _ := principal.From(r.Context())
	writeJSON(w, http.StatusCreated, map[string]any{"org_id": p.StringClaim("org_id"), "order": "ord_3"})
}

func getAppConfig(w http.ResponseWriter, r *http.Request) {
	p, _ := principal.From(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"app_id": p.StringClaim("app_id"), "webhook_url": "https://merchant.example/hooks"})
}

func putAppConfig(w http.ResponseWriter, r *http.Request) {
	p, _ := principal.From(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"app_id": p.StringClaim("app_id"), "updated": true})
}

func myOrders(w http.ResponseWriter, r *http.Request) {
	p, _ := principal.From(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"customer": p.Subject(), "orders": []string{"ord_2"}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
