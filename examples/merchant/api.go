package main

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/tollgate/tollgate/apikey"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/scopes"
)

// The permissions a merchant may give its tokens in the portal.
var permissions = []string{"can_read_order", "can_write_order", "can_retrieve_app_config", "can_update_app_config"}

// config is what the API needs to know.
type config struct {
	// Store keeps the merchants' API tokens (memory, or pgstore).
	Store apikey.Store
	// Peppers hash the tokens at rest (apikey.ParsePeppers).
	Peppers []apikey.Pepper
	// PortalIssuer and PortalJWKSURL are the provider's own login for the
	// portal: a merchant signed in to the dashboard holds a JWT of it,
	// with its merchant id as sub and its org_id and app_id claims.
	PortalIssuer, PortalJWKSURL string
	// CustomerIssuer and CustomerJWKSURL are the customers' identity
	// provider; Audience is this API's name in their tokens.
	CustomerIssuer, CustomerJWKSURL, Audience string
	// RateLimit is every token's own bucket, unless the token or its
	// merchant has a limit of its own.
	RateLimit ratelimit.Limit
	// MerchantLimits are custom limits agreed with some merchants, for
	// each of their tokens.
	MerchantLimits map[string]ratelimit.Limit
	// Now is the clock of every layer; nil means time.Now.
	Now func() time.Time
	// Instrument, if set, wraps each application handler below every guard.
	Instrument func(http.Handler) http.Handler
}

// api is the guarded API and the key manager behind it.
type api struct {
	http.Handler
	keys *apikey.Keys
	jwt  *jwt.Verifier
}

func (a *api) Close() {
	_ = a.keys.Close()
	_ = a.jwt.Close()
}

// newAPI builds the guarded API. The JWT verifier refreshes its keys in
// the background until ctx is done.
func newAPI(ctx context.Context, cfg config) (*api, error) {
	keys, err := apikey.New(apikey.Config{
		Store:    cfg.Store,
		Peppers:  cfg.Peppers,
		Prefixes: []apikey.Prefix{{Name: "mt_live", Type: "merchant"}, {Name: "mt_test", Type: "merchant"}},
		Now:      cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	tokens, err := jwt.NewVerifier(ctx, jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer:      cfg.CustomerIssuer,
			JWKSURL:     cfg.CustomerJWKSURL,
			Audiences:   []string{cfg.Audience},
			Algorithms:  []string{"RS256"},
			TokenType:   "customer",
			RequiredTyp: "at+jwt", // refresh and ID tokens are not access tokens
		}, {
			Issuer:     cfg.PortalIssuer,
			JWKSURL:    cfg.PortalJWKSURL,
			Audiences:  []string{"portal"},
			Algorithms: []string{"RS256"},
			TokenType:  "portal",
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
	merchant := func(permission string, h http.HandlerFunc) http.Handler {
		return middleware.Chain(
			middleware.RequireType("merchant"),
			middleware.RequireTenant("X-Organization-Id", "org_id"),
			middleware.RequireTenant("X-App-Id", "app_id"),
			scopes.Require(permission),
		)(app(h))
	}
	mux := http.NewServeMux()
	mux.Handle("GET /orders", merchant("can_read_order", listOrders))
	mux.Handle("POST /orders", merchant("can_write_order", createOrder))
	mux.Handle("GET /app/config", merchant("can_retrieve_app_config", getAppConfig))
	mux.Handle("PUT /app/config", merchant("can_update_app_config", putAppConfig))
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

	handler := middleware.Chain(
		tgerrors.Use(tgerrors.Problem), // every refusal below is RFC 9457
		// mt_live_/mt_test_ tokens go to the key verifier, JWTs to the JWT
		// verifier; a token of any other shape or prefix is refused
		// without a lookup.
		middleware.Authenticate(middleware.JWTOrOpaque(tokens, keys)),
		// Keyed by the caller: an API token's own id, a customer's or a
		// portal user's subject. X-RateLimit-* on every response.
		ratelimit.New(ratelimit.Config{Limits: []ratelimit.Limit{cfg.RateLimit}, LimitFor: limitFor, Now: cfg.Now}),
	)(mux)
	return &api{Handler: handler, keys: keys, jwt: tokens}, nil
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
