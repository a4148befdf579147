// Marketplace guards an OAuth marketplace style API: integrations call it
// with RS256 JWTs whose "kid" names a key in the marketplace's JWKS, whose
// "scope" claim is a JSON array (integration.store, integration.order,
// integration.inventory), and which live two days. Refusals are RFC 6750:
//
//	WWW-Authenticate: Bearer realm="marketplace", error="insufficient_scope", error_description="…", scope="integration.order"
//
// Run it against the marketplace's issuer:
//
//	go run ./examples/marketplace \
//		-issuer https://auth.marketplace.example \
//		-jwks https://auth.marketplace.example/.well-known/jwks.json \
//		-audience https://api.marketplace.example
//
// Each route needs its scope. Changing inventory also needs a
// client-credentials token (the integration acting for itself, with the
// claim "grant_type": "client_credentials"): a token a store owner granted
// may read inventory but not change it. The scheme may be written "Bearer"
// or "bearer". A key rotation needs no restart: a token signed with a new
// kid makes the verifier fetch the JWKS again, at most once per cooldown.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/scopes"
)

// config is what the API must know about the marketplace's token issuer.
type config struct {
	Issuer   string           // the "iss" of the tokens
	JWKSURL  string           // the issuer's public keys, looked up by kid
	Audience string           // this API, as the tokens' "aud" names it
	Now      func() time.Time // the clock; nil means time.Now
}

// newVerifier accepts the issuer's RS256 tokens meant for this API. Scopes
// are read from the "scope" claim only; the "grant_type" claim tells a
// client-credentials token from one a user granted (any other, or none).
func newVerifier(ctx context.Context, c config) (*jwt.Verifier, error) {
	return jwt.NewVerifier(ctx, jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer:      c.Issuer,
			JWKSURL:     c.JWKSURL,
			Audiences:   []string{c.Audience},
			Algorithms:  []string{"RS256"},
			ScopeClaims: []string{"scope"},
			TokenType:   "user",
			TypeClaim:   "grant_type",
			TypeValues:  map[string]string{"client_credentials": "client_credentials"},
		}},
		Now: c.Now,
	})
}

// handlers are the API's own handlers; newAPI puts each behind its guards.
type handlers struct {
	getStore, listOrders, getInventory, setInventory http.Handler
}

var marketplace = handlers{
	getStore: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"store": r.PathValue("id")})
	}),
	listOrders: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := principal.From(r.Context())
		writeJSON(w, map[string]any{"orders": []string{}, "client_id": p.ClientID()})
	}),
	getInventory: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"sku": r.PathValue("sku"), "quantity": 7})
	}),
	setInventory: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Quantity *int `json:"quantity"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Quantity == nil || *body.Quantity < 0 {
			tgerrors.Write(w, r, tgerrors.New(tgerrors.Validation, "quantity must be a whole number, 0 or more"))
			return
		}
		writeJSON(w, map[string]any{"sku": r.PathValue("sku"), "quantity": *body.Quantity})
	}),
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// newAPI guards h: a bearer token v accepts, the scope each route names,
// and a client-credentials token to change inventory. Refusals are RFC 6750
// challenges in the realm "marketplace".
func newAPI(v middleware.Verifier, h handlers) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /v1/stores/{id}", scopes.Require("integration.store")(h.getStore))
	mux.Handle("GET /v1/orders", scopes.Require("integration.order")(h.listOrders))
	mux.Handle("GET /v1/inventory/{sku}", scopes.Require("integration.inventory")(h.getInventory))
	mux.Handle("PUT /v1/inventory/{sku}", middleware.Chain(
		middleware.RequireType("client_credentials"),
		scopes.Require("integration.inventory"),
	)(h.setInventory))

	return middleware.Chain(
		tgerrors.Use(tgerrors.OAuthFormat{Realm: "marketplace"}),
		middleware.Authenticate(v),
	)(mux)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to serve the API on")
	issuer := flag.String("issuer", "", "token issuer, exactly as the tokens' iss claim (required)")
	jwks := flag.String("jwks", "", "the issuer's JWKS URL (default: <issuer>/.well-known/jwks.json)")
	audience := flag.String("audience", "", "this API's audience, as the tokens' aud claim (required)")
	flag.Parse()
	if *issuer == "" || *audience == "" {
		flag.Usage()
		os.Exit(2)
	}
	if *jwks == "" {
		*jwks = strings.TrimSuffix(*issuer, "/") + "/.well-known/jwks.json"
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	v, err := newVerifier(ctx, config{Issuer: *issuer, JWKSURL: *jwks, Audience: *audience})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	srv := &http.Server{Addr: *addr, Handler: newAPI(v, marketplace), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("marketplace API on http://%s", *addr)
	select {
	case err := <-errc:
		log.Fatal(err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		log.Print(err)
	}
}
