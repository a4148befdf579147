// Vendorportal guards a vendor-portal style API: vendors call it with an
// OAuth 2.0 client-credentials JWT (RS256, one hour), as a bearer token on
// every call, and every refusal is {"message":"Unauthorized"} with 401 or
// {"message":"Forbidden"} with 403.
//
//	go run ./examples/vendorportal \
//		-issuer https://auth.example.com/ \
//		-jwks https://auth.example.com/.well-known/jwks.json \
//		-audience https://api.vendorportal.example
//
// GET /v1/products needs the scope products:read, PUT /v1/products/{id}/stock
// the scope stock:write. The handlers answer their own bad requests through
// the same format ({"message":"Bad Request"}).
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

// config is what the portal must know about its token issuer.
type config struct {
	Issuer   string           // the "iss" of the tokens
	JWKSURL  string           // the issuer's public keys
	Audience string           // this API, as the tokens' "aud" names it
	Now      func() time.Time // the clock; nil means time.Now
}

// newVerifier accepts the issuer's RS256 tokens meant for this API. Every
// one of them is a client-credentials token: vendors are OAuth clients.
func newVerifier(ctx context.Context, c config) (*jwt.Verifier, error) {
	return jwt.NewVerifier(ctx, jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer:     c.Issuer,
			JWKSURL:    c.JWKSURL,
			Audiences:  []string{c.Audience},
			Algorithms: []string{"RS256"},
			TokenType:  "client_credentials",
		}},
		Now: c.Now,
	})
}

// handlers are the portal's own handlers; newAPI puts each behind its scope.
type handlers struct {
	listProducts, updateStock http.Handler
}

var portal = handlers{
	listProducts: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := principal.From(r.Context())
		writeJSON(w, map[string]any{"vendor": p.ClientID(), "products": []string{"sku-1", "sku-2"}})
	}),
	updateStock: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Quantity *int `json:"quantity"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Quantity == nil || *body.Quantity < 0 {
			tgerrors.Write(w, r, tgerrors.New(tgerrors.Validation, "quantity must be a whole number, 0 or more"))
			return
		}
		writeJSON(w, map[string]any{"id": r.PathValue("id"), "quantity": *body.Quantity})
	}),
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// newAPI guards h: a bearer token v accepts on every call, and the scope
// each route names. Every refusal, the handlers' own included, is written
// as {"message": status text}.
func newAPI(v middleware.Verifier, h handlers) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /v1/products", scopes.Require("products:read")(h.listProducts))
	mux.Handle("PUT /v1/products/{id}/stock", scopes.Require("stock:write")(h.updateStock))

	return middleware.Chain(
		tgerrors.Use(tgerrors.Message),
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

	srv := &http.Server{Addr: *addr, Handler: newAPI(v, portal), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("vendor portal API on http://%s", *addr)
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
