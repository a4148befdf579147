// Command merchant is a merchant/customer SaaS API guarded by tollgate.
//
// Merchants call with opaque API tokens that carry named permissions
// (can_read_order, can_write_order); the API asks the provider's
// authorization server about them (RFC 7662 introspection) and caches the
// answers. Customers call with JWT access tokens, verified locally against
// their issuer's keys; a customer's refresh token, or any JWT whose "typ"
// is not "at+jwt" (RFC 9068), is not an access token and is refused. One
// middleware.Authenticate serves both kinds through middleware.JWTOrOpaque,
// and each kind gets its own principal type, "merchant" or "customer".
//
// Routes:
//
//	GET  /orders     merchant, can_read_order, X-Organization-Id and X-App-Id
//	POST /orders     merchant, can_write_order, X-Organization-Id and X-App-Id
//	GET  /me/orders  customer
//
// The X-Organization-Id and X-App-Id headers must name the organization and
// app the merchant token was issued for: a missing header is 400, another
// value 403. Every authenticated caller is rate limited; every response to
// one carries X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset,
// and a refused request gets 429 with Retry-After.
//
// Refusals are RFC 9457 problem details (errors.Problem): 401 for a missing,
// invalid, inactive or expired token (with a WWW-Authenticate challenge), 403
// for a missing permission (the "scopes" member names it), a wrong token
// type or a tenant mismatch, 400 for a missing tenant header, and 429. The
// "code" member says which.
//
// Run it with
//
//	go run ./examples/merchant
//
// It starts a stand-in introspection endpoint and a stand-in customer
// issuer in the same process, and prints curl commands to try.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/introspect"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/scopes"
)

// config is what the API needs to know about its token issuers.
type config struct {
	// IntrospectionURL is the RFC 7662 endpoint merchant tokens are checked
	// at; ClientID and ClientSecret are this API's credentials there.
	IntrospectionURL, ClientID, ClientSecret string
	// CustomerIssuer is the "iss" of customer tokens, CustomerJWKSURL its
	// keys, and Audience this API's name in their "aud".
	CustomerIssuer, CustomerJWKSURL, Audience string
	// RateLimit is every caller's own token bucket.
	RateLimit ratelimit.Limit
	// Now is the clock of every layer; nil means time.Now.
	Now func() time.Time
	// Instrument, if set, wraps each application handler below every guard
	// (metrics, tracing).
	Instrument func(http.Handler) http.Handler
}

// newAPI builds the guarded API. The JWT verifier refreshes its keys in the
// background until ctx is done.
func newAPI(ctx context.Context, cfg config) (http.Handler, error) {
	merchants, err := introspect.New(introspect.Config{
		Endpoint:     cfg.IntrospectionURL,
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		TokenType:    "merchant",
		Now:          cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	customers, err := middleware.NewJWTVerifier(ctx, middleware.JWTConfig{
		Issuers: []middleware.Issuer{{
			Issuer:      cfg.CustomerIssuer,
			JWKSURL:     cfg.CustomerJWKSURL,
			Audiences:   []string{cfg.Audience},
			Algorithms:  []string{"RS256"},
			TokenType:   "customer",
			RequiredTyp: "at+jwt", // refresh and ID tokens are not access tokens
		}},
		Now: cfg.Now,
	})
	if err != nil {
		return nil, err
	}

	app := func(h http.HandlerFunc) http.Handler {
		if cfg.Instrument != nil {
			return cfg.Instrument(h)
		}
		return h
	}
	merchantOnly := middleware.Chain(
		middleware.RequireType("merchant"),
		middleware.RequireTenant("X-Organization-Id", "org_id"),
		middleware.RequireTenant("X-App-Id", "app_id"),
	)
	mux := http.NewServeMux()
	mux.Handle("GET /orders", merchantOnly(scopes.Require("can_read_order")(app(listOrders))))
	mux.Handle("POST /orders", merchantOnly(scopes.Require("can_write_order")(app(createOrder))))
	mux.Handle("GET /me/orders", middleware.RequireType("customer")(app(myOrders)))

	return middleware.Chain(
		tgerrors.Use(tgerrors.Problem), // every refusal below is RFC 9457
		middleware.Authenticate(middleware.JWTOrOpaque(customers, merchants)),
		// Keyed by the caller: a merchant token's client id (its app), a
		// customer's subject. Requests refused by the routes' checks count.
		ratelimit.New(ratelimit.Config{Limits: []ratelimit.Limit{cfg.RateLimit}, Now: cfg.Now}),
	)(mux), nil
}

func listOrders(w http.ResponseWriter, r *http.Request) {
	p, _ := principal.From(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"org_id": p.StringClaim("org_id"), "orders": []string{"ord_1", "ord_2"}})
}

func createOrder(w http.ResponseWriter, r *http.Request) {
	p, _ := principal.From(r.Context())
	writeJSON(w, http.StatusCreated, map[string]any{"org_id": p.StringClaim("org_id"), "order": "ord_3"})
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

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	if err := run(*addr); err != nil {
		log.Fatal(err)
	}
}

// run serves the API on addr, with in-process stand-ins for the provider's
// authorization server and the customers' identity provider.
func run(addr string) error {
	auth := &authServer{clientID: "orders-api", clientSecret: "demo-secret", now: time.Now, tokens: demoMerchantTokens(time.Now())}
	introspection := httptest.NewServer(auth)
	defer introspection.Close()
	customerIssuer, err := authtest.NewLocalIssuer()
	if err != nil {
		return err
	}
	defer customerIssuer.Close()

	api, err := newAPI(context.Background(), config{
		IntrospectionURL: introspection.URL,
		ClientID:         auth.clientID,
		ClientSecret:     auth.clientSecret,
		CustomerIssuer:   customerIssuer.URL(),
		CustomerJWKSURL:  customerIssuer.JWKSURL(),
		Audience:         "orders-api",
		RateLimit:        ratelimit.Limit{Events: 60, Per: time.Minute},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	customer := customerIssuer.Mint(map[string]any{"sub": "cus_1", "aud": "orders-api"}, authtest.WithHeader("typ", "at+jwt"))
	refresh := customerIssuer.Mint(map[string]any{"sub": "cus_1", "aud": "orders-api"})
	fmt.Printf(`merchant API on %[1]s; try:

  # 200; then 403 insufficient_scope (a read-only token), 401 (an inactive token)
  curl -i -H "Authorization: Bearer mt_live_readwrite" %[2]s %[1]s/orders
  curl -i -X POST -H "Authorization: Bearer mt_live_readonly" %[2]s %[1]s/orders
  curl -i -H "Authorization: Bearer mt_live_inactive" %[2]s %[1]s/orders

  # 400 without the tenant headers, 403 with another organization's
  curl -i -H "Authorization: Bearer mt_live_readwrite" %[1]s/orders
  curl -i -H "Authorization: Bearer mt_live_readwrite" -H "X-Organization-Id: org_2" -H "X-App-Id: app_1" %[1]s/orders

  # a customer: 200 with the access token, 401 with the refresh token,
  # 403 wrong_token_type for a merchant token
  curl -i -H "Authorization: Bearer %[3]s" %[1]s/me/orders
  curl -i -H "Authorization: Bearer %[4]s" %[1]s/me/orders
  curl -i -H "Authorization: Bearer mt_live_readwrite" %[1]s/me/orders

`, "http://"+ln.Addr().String(), `-H "X-Organization-Id: org_1" -H "X-App-Id: app_1"`, customer, refresh)
	return http.Serve(ln, api)
}
