// Vendorportal is a vendor-portal style API, token side included: vendors
// are OAuth clients that trade their client id and secret for a one-hour
// bearer token, and call the API with it.
//
//	go run ./examples/vendorportal
//
// starts it on memory stores, registers a demo vendor, prints its secret
// once, and prints the curl commands of the whole flow. The routes:
//
//	POST /v1/bearer-token             {"client_id","client_secret"} → {"access_token","token_type":"Bearer","expires_in":3600,"scope"}
//	GET  /v1/vendor                   scope vendor:read
//	GET  /v1/products                 scope products:read
//	PUT  /v1/products/{id}/stock      scope stock:write
//
// Every refusal, the token endpoint's and the handlers' own included, is
// {"message": status text}: {"message":"Unauthorized"} with 401,
// {"message":"Forbidden"} with 403, {"message":"Not Found"} for a path the
// API does not serve, {"message":"Method Not Allowed"} with an Allow header.
//
// The tokens are issuer's: ES256 keys in a KeyRing, rotated daily, minted
// by a Minter, verified in this process through jwt.Issuer.KeySource (no
// HTTP fetch of its own JWKS, which it publishes nonetheless at
// /.well-known/jwks.json). With -postgres URL the keys and the clients live
// in PostgreSQL (issuer/pgstore; the private keys sealed under the 32-byte
// key-encryption key in $TOLLGATE_KEK, base64), so tokens survive a restart
// and replicas share them; with -redis ADDR the rate limits are shared
// through Redis (ratelimit/redisstore).
package main

import (
	"context"
	"encoding/json"
	stderrors "errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/examples/internal/demo"
	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/pgstore"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/ratelimit/redisstore"
	"github.com/tollgate/tollgate/scopes"
)

// The portal's scopes.
const (
	scopeVendor   = "vendor:read"
	scopeProducts = "products:read"
	scopeStock    = "stock:write"
)

// demoVendor is the client registered at start.
const demoVendor = "vendor-17"

// config is the portal's configuration; the zero value of every store is
// memory.
type config struct {
	Issuer   string // the tokens' "iss": this server's URL
	Audience string // the tokens' "aud": this API

	KeyStore    issuer.KeyStore    // nil: memory
	ClientStore issuer.ClientStore // nil: memory
	RateStore   ratelimit.Store    // nil: memory
	Argon2      issuer.Argon2Params

	// TokenRate and APIRate are the limits per client on the token
	// endpoint and per vendor on the API.
	TokenRate, APIRate ratelimit.Limit

	Now func() time.Time // nil: time.Now
}

// portal is the API and what it was built from.
type portal struct {
	Handler  http.Handler
	Ring     *issuer.KeyRing
	Clients  *issuer.Clients
	Verifier *jwt.Verifier
}

// Close releases the verifier.
func (p *portal) Close() { p.Verifier.Close() }

// handlers are the portal's own handlers; newPortal puts each behind its
// scope.
type handlers struct {
	getVendor, listProducts, updateStock http.Handler
}

var portalHandlers = handlers{
	getVendor: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := principal.From(r.Context())
		writeJSON(w, map[string]any{"vendor": p.ClientID(), "scopes": p.Scopes()})
	}),
	listProducts: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := principal.From(r.Context())
		writeJSON(w, map[string]any{"vendor": p.ClientID(), "products": []string{"sku-1", "sku-2"}})
	}),
	updateStock: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Quantity *int `json:"quantity"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 4<<10)).Decode(&body); err != nil || body.Quantity == nil || *body.Quantity < 0 {
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

// newPortal builds the token side (keys, minter, clients, the token
// endpoint, the JWKS) and the API that checks its tokens in-process.
func newPortal(ctx context.Context, c config, h handlers) (*portal, error) {
	ring, err := issuer.NewKeyRing(ctx, issuer.KeyRingConfig{Store: c.KeyStore, Now: c.Now})
	if err != nil {
		return nil, err
	}
	minter, err := issuer.NewMinter(issuer.MinterConfig{Issuer: c.Issuer, Keys: ring, Now: c.Now,
		GrantLifetimes: map[string]time.Duration{issuer.GrantClientCredentials: time.Hour}})
	if err != nil {
		return nil, err
	}
	clients, err := issuer.NewClients(issuer.ClientsConfig{Store: c.ClientStore, Argon2: c.Argon2, Now: c.Now})
	if err != nil {
		return nil, err
	}
	token, err := issuer.NewTokenHandler(issuer.TokenConfig{
		Clients: clients, Minter: minter,
		Grants:      []string{issuer.GrantClientCredentials},
		ErrorFormat: tgerrors.Message,
		Realm:       "vendorportal",
	})
	if err != nil {
		return nil, err
	}
	v, err := jwt.NewVerifier(ctx, jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer:      c.Issuer,
			KeySource:   ring,
			Audiences:   []string{c.Audience},
			Algorithms:  []string{issuer.ES256},
			RequiredTyp: "at+jwt",
			TokenType:   "client_credentials",
		}},
		Now: c.Now,
	})
	if err != nil {
		return nil, err
	}

	tokenLimit := ratelimit.New(ratelimit.Config{
		Limits: []ratelimit.Limit{c.TokenRate},
		Key:    ratelimit.FirstKey(issuer.KeyByTokenClient, ratelimit.KeyByIP),
		Store:  c.RateStore, Now: c.Now,
	})
	apiLimit := ratelimit.New(ratelimit.Config{
		Limits: []ratelimit.Limit{c.APIRate},
		Store:  c.RateStore, Now: c.Now,
	})
	guard := func(scope string, h http.Handler) http.Handler {
		return middleware.Chain(
			middleware.Authenticate(v),
			apiLimit,
			scopes.Require(scope),
		)(h)
	}

	mux := http.NewServeMux()
	mux.Handle("/v1/bearer-token", tokenLimit(token)) // 405 for other methods, by the token handler
	mux.Handle("GET /v1/vendor", guard(scopeVendor, h.getVendor))
	mux.Handle("/v1/vendor", tgerrors.MethodNotAllowed(http.MethodGet))
	mux.Handle("GET /v1/products", guard(scopeProducts, h.listProducts))
	mux.Handle("/v1/products", tgerrors.MethodNotAllowed(http.MethodGet))
	mux.Handle("PUT /v1/products/{id}/stock", guard(scopeStock, h.updateStock))
	mux.Handle("/v1/products/{id}/stock", tgerrors.MethodNotAllowed(http.MethodPut))
	mux.Handle("GET /.well-known/jwks.json", issuer.NewJWKSHandler(ring, ring.CacheMaxAge()))
	mux.Handle("/", tgerrors.NotFound)

	return &portal{
		Handler:  tgerrors.Use(tgerrors.Message)(mux),
		Ring:     ring,
		Clients:  clients,
		Verifier: v,
	}, nil
}

// registerVendor registers client id with scopes, or gives it a new
// secret if it is registered already (a restart on PostgreSQL), and
// returns the secret: the one time it is seen.
func registerVendor(ctx context.Context, clients *issuer.Clients, audience, id string, scopes ...string) (issuer.Token, error) {
	cl := issuer.Client{
		ID: id, Name: "Demo vendor",
		Grants:   []string{issuer.GrantClientCredentials},
		Scopes:   scopes,
		Audience: []string{audience},
	}
	_, secret, err := clients.Create(ctx, cl)
	if stderrors.Is(err, issuer.ErrConflict) {
		if err := clients.Update(ctx, cl); err != nil {
			return "", err
		}
		return clients.RegenerateSecret(ctx, id)
	}
	return secret, err
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to serve the API on")
	iss := flag.String("issuer", "", "the tokens' iss (default: http://<addr>)")
	audience := flag.String("audience", "https://api.vendorportal.example", "the tokens' aud")
	pgURL := flag.String("postgres", "", "PostgreSQL URL for the keys and the clients (default: memory)")
	kek := flag.String("kek", "", "key-encryption key for -postgres, 32 bytes base64 (default: $TOLLGATE_KEK)")
	redisAddr := flag.String("redis", "", "Redis address for the rate limits (default: memory)")
	flag.Parse()
	if *iss == "" {
		*iss = "http://" + *addr
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	c := config{
		Issuer: *iss, Audience: *audience,
		TokenRate: ratelimit.Limit{Name: "token", Events: 10, Per: time.Minute},
		APIRate:   ratelimit.Limit{Name: "api", Events: 100, Per: time.Minute},
	}
	if *pgURL != "" {
		pool, key, err := demo.OpenPostgres(ctx, *pgURL, *kek)
		if err != nil {
			log.Fatal(err)
		}
		defer pool.Close()
		if c.KeyStore, err = pgstore.NewKeyStore(pool, key); err != nil {
			log.Fatal(err)
		}
		c.ClientStore = pgstore.NewClientStore(pool)
	}
	if *redisAddr != "" {
		rdb := redis.NewClient(&redis.Options{Addr: *redisAddr, ContextTimeoutEnabled: true})
		defer rdb.Close()
		c.RateStore = redisstore.New(redisstore.Config{Client: rdb})
	}

	p, err := newPortal(ctx, c, portalHandlers)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	go p.Ring.Run(ctx)

	secret, err := registerVendor(ctx, p.Clients, *audience, demoVendor, scopeVendor, scopeProducts, scopeStock)
	if err != nil {
		log.Fatal(err)
	}
	printWalkthrough(os.Stdout, "http://"+*addr, demoVendor, secret.Reveal())

	srv := &http.Server{Addr: *addr, Handler: p.Handler, ReadHeaderTimeout: 10 * time.Second}
	if err := demo.ListenAndServe(ctx, srv); err != nil {
		log.Fatal(err)
	}
}

// printWalkthrough prints the demo vendor's secret (this once) and the
// flow as curl commands.
func printWalkthrough(w io.Writer, base, id, secret string) {
	fmt.Fprintf(w, `vendor portal API on %[1]s

demo vendor %[2]s, secret (shown once): %[3]s

# 1. trade the client id and secret for a bearer token (1 hour)
TOKEN=$(curl -s %[1]s/v1/bearer-token -H 'Content-Type: application/json' \
  -d '{"client_id":"%[2]s","client_secret":"%[3]s"}' | sed -E 's/.*"access_token":"([^"]+)".*/\1/')

# 2. call the API with it: 200
curl -s %[1]s/v1/vendor -H "Authorization: Bearer $TOKEN"
curl -s %[1]s/v1/products -H "Authorization: Bearer $TOKEN"
curl -s -X PUT %[1]s/v1/products/sku-1/stock -H "Authorization: Bearer $TOKEN" -d '{"quantity":12}'

# 3. refusals: 401 {"message":"Unauthorized"}, 400 {"message":"Bad Request"}, 404, 405
curl -s %[1]s/v1/vendor
curl -s %[1]s/v1/bearer-token -H 'Content-Type: application/json' -d '{"client_id":"%[2]s","client_secret":"wrong"}'
curl -s -X PUT %[1]s/v1/products/sku-1/stock -H "Authorization: Bearer $TOKEN" -d '{"quantity":-1}'
curl -s %[1]s/v1/nothing-here
curl -s -X DELETE %[1]s/v1/vendor -H "Authorization: Bearer $TOKEN"

# the public keys, for verifiers elsewhere
curl -s %[1]s/.well-known/jwks.json
`, base, id, secret)
}
