// Marketplace is an OAuth marketplace style API, token side included:
// third-party developers' integrations (OAuth clients) act for a store
// owner, who authorizes them on the marketplace's page, or for
// themselves, and call the store, order and inventory APIs with the
// tokens of POST /auth/v2/token.
//
//	go run ./examples/marketplace
//
// starts it on memory stores, registers a demo integration (its redirect
// URI -redirect, http://127.0.0.1:8081/callback by default) and a demo
// store owner, owner-5, with a password made at start; prints the
// integration's secret and the owner's password once, and the curl
// commands of the whole flow.
//
// # The flow
//
//  1. The integration sends the store owner's browser to
//     GET /auth/v2/authorize?response_type=code&client_id=…&redirect_uri=…&scope=integration.store&state=…&code_challenge=…&code_challenge_method=S256
//     (issuer.NewAuthorizeHandler). The redirect URI must be one the
//     integration registered, byte for byte; any other is shown as an
//     error page and never redirected to. PKCE (S256) is required of every
//     integration, secret or not.
//  2. The page asks for the owner's username and password and shows the
//     integration's name and the scopes it asks for, with Allow and Deny.
//     The form posts back to the same URL. Allow with the right password
//     records the owner's grant and answers 303 See Other to the redirect
//     URI with code, state and iss (RFC 9207); Deny answers it with
//     error=access_denied (no password needed: refusing gives nobody
//     anything). A wrong password shows the page again with a message, with
//     status 200: 401 would need a WWW-Authenticate challenge, which a form
//     has none of.
//  3. The integration trades the code, within 60 seconds and once, at POST
//     /auth/v2/token with grant_type=authorization_code, the redirect URI
//     and the PKCE verifier, for an access token and a refresh token. A
//     code presented twice is refused, and the tokens its first exchange
//     gave are revoked.
//  4. It refreshes with grant_type=refresh_token: each refresh token is
//     single use and must be used within four days.
//  5. The owner revokes the app at /account/apps: GET is a sign-in form;
//     its POST (username, password) lists the apps the owner authorized,
//     each with a Revoke button that posts username, password and
//     client_id to /account/apps/revoke (issuer.Grants.Revoke). The app's
//     refresh tokens are refused at once, and so are the access tokens it
//     was given: their sessions end (refused by "sid"), and a revocation
//     rule refuses every token of the owner and the app issued before
//     (OnGrantRevoked, for two days and the leeway). To act for the owner
//     again, the integration runs through the flow again.
//
// Neither form carries a CSRF token: each asks for the owner's password,
// which a page of another site that posts it cannot know, the marketplace
// keeps no login session a forged request could ride on, and
// net/http.CrossOriginProtection refuses (403) a POST the browser marks
// as from another site (Sec-Fetch-Site, Origin). That last check matters
// for one forgery the password does not stop: an attacker's page posting
// the consent form with the attacker's own username and password, so the
// owner's browser lands on the integration's callback with a code for the
// attacker's store (a login CSRF); the integration's own state check and
// PKCE, which the marketplace requires, refuse that code too. A real
// provider signs its users in once and keeps a session cookie (SameSite,
// HttpOnly, Secure); its forms then carry a CSRF token tied to that
// session as well, and it may skip the consent for scopes the user
// granted before (issuer.Grants.Lookup). Every page forbids framing
// (X-Frame-Options: DENY, CSP frame-ancestors 'none'), so the Allow and
// Revoke buttons cannot be clicked through another site; html/template
// escapes every value shown (the integration's name is its developer's
// choice, the request's URL an attacker's); the password forms are rate
// limited per IP and per username, and the passwords stored as argon2id hashes
// (issuer.HashSecret).
//
// # Tokens
//
// The token endpoint serves three grants, with form or multipart (curl -F)
// bodies, the client authenticating by Basic or client_id and
// client_secret in the body:
//
//   - authorization_code and refresh_token: the integration acting for a
//     store owner. The owner's grant holds integration.store alone:
//     integration.order and integration.inventory are given only through
//     client_credentials (issuer.Client.GrantScopes), so the consent page
//     never offers them (an authorization request for them goes back with
//     invalid_scope), a refresh asking for them is invalid_scope, and a
//     user token never reads orders or inventory. The API checks the token
//     type as well (the "grant_type" claim the minter adds): a user token
//     is refused there even if it carried the scope.
//   - client_credentials: the integration acting for itself. It may get
//     every scope of its registration: integration.store,
//     integration.order and integration.inventory. An owner revoking the
//     app does not touch these tokens.
//
// Access tokens are RS256 JWTs with a "kid" and the "scope" claim as a
// JSON array, and live two days. A refresh token is single use: each
// refresh returns its successor, which must be used within four days (the
// idle lifetime); the session ends after issuer's default seven days. A
// refresh token presented twice ends its whole family, and the access
// tokens minted from it are refused from the next request on.
//
// The marketplace publishes RFC 8414 metadata at
// /.well-known/oauth-authorization-server (the authorization endpoint,
// response type code, S256), its keys at /.well-known/jwks.json, and RFC
// 7009 revocation at /auth/v2/revoke; it verifies its own tokens in this
// process through jwt.Issuer.KeySource.
//
// # Refusals
//
// The API's are RFC 6750: a WWW-Authenticate challenge in the realm
// "marketplace" and {"error","error_description"}:
//
//	WWW-Authenticate: Bearer realm="marketplace", error="insufficient_scope", error_description="…", scope="integration.order"
//
// The scheme may be written "Bearer" or "bearer". The token endpoint's are
// RFC 6749 §5.2's JSON (invalid_client with a Basic challenge,
// invalid_grant, invalid_scope, …).
//
// # Stores
//
// With -postgres URL the keys, sessions, clients, authorization codes and
// the owners' grants live in PostgreSQL (issuer/pgstore; the private keys
// sealed under the 32-byte key-encryption key in $TOLLGATE_KEK, base64),
// so tokens, sessions and consents survive restarts and replicas share
// them: a code issued by one replica is redeemed, once, by another, and an
// app revoked on one is refused by all (with -redis for the access
// tokens' revocations). With -redis ADDR the
// revocations (ended sessions, revoked tokens, revoked grants) and the
// rate limits are shared through Redis (revocation/redisrevocation,
// ratelimit/redisstore).
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	stderrors "errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
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
	"github.com/tollgate/tollgate/revocation"
	"github.com/tollgate/tollgate/revocation/redisrevocation"
	"github.com/tollgate/tollgate/scopes"
)

// The marketplace's scopes.
const (
	scopeStore     = "integration.store"
	scopeOrder     = "integration.order"
	scopeInventory = "integration.inventory"
)

// The lifetimes the marketplace's documentation gives.
const (
	accessLifetime = 48 * time.Hour     // every access token
	refreshIdle    = 4 * 24 * time.Hour // a refresh token, unused
)

// The demo integration and store owner registered at start.
const (
	demoApp   = "app-9"
	demoOwner = "owner-5"
)

// tokenType is the "grant_type" claim's value of client-credentials tokens,
// and the principal type they get; every other token is a user's.
const (
	typeApp  = "client_credentials"
	typeUser = "user"
)

// config is the marketplace's configuration; the zero value of every store
// is memory.
type config struct {
	Issuer   string // the tokens' "iss" and the base of the endpoints' URLs
	Audience string // the tokens' "aud": this API

	// Algorithm of the signing keys; empty means RS256.
	Algorithm    string
	KeyStore     issuer.KeyStore     // nil: memory
	SessionStore issuer.SessionStore // nil: memory
	ClientStore  issuer.ClientStore  // nil: memory
	GrantStore   issuer.GrantStore   // nil: memory
	CodeStore    issuer.CodeStore    // nil: memory
	Argon2       issuer.Argon2Params

	// Owners are the store owners who sign in on the consent and account
	// pages: username (the tokens' subject) → the password's argon2id
	// hash (issuer.HashSecret).
	Owners map[string]string

	// Revocations refuses the access tokens of ended sessions, revoked
	// tokens and revoked grants; nil means a revocation.Memory.
	// RevokeSession, RevokeID and RevokeRule write to it.
	Revocations revocationStore

	RateStore ratelimit.Store // nil: memory
	// TokenRate limits the token and revocation endpoints per client (or
	// IP), LoginRate the password forms per IP and per username, APIRate
	// the API.
	TokenRate, LoginRate, APIRate ratelimit.Limit

	Now func() time.Time // nil: time.Now
}

// revocationStore is what the marketplace needs of a revocation list:
// redisrevocation.Store is one, memoryRevocations adapts a
// revocation.Memory.
type revocationStore interface {
	middleware.RevocationChecker
	issuer.AccessTokenRevoker
	RevokeSession(ctx context.Context, sid string, until time.Time) error
	RevokeRule(ctx context.Context, r revocation.Rule) error
}

// memoryRevocations is a revocation.Memory as a revocationStore.
type memoryRevocations struct{ *revocation.Memory }

func (m memoryRevocations) RevokeSession(_ context.Context, sid string, until time.Time) error {
	return m.Memory.RevokeSession(sid, until)
}

func (m memoryRevocations) RevokeID(_ context.Context, jti string, until time.Time) error {
	return m.Memory.RevokeID(jti, until)
}

func (m memoryRevocations) RevokeRule(_ context.Context, r revocation.Rule) error {
	return m.Memory.RevokeRule(r)
}

// marketplace is the API and what it was built from.
type marketplace struct {
	Handler  http.Handler
	Ring     *issuer.KeyRing
	Minter   *issuer.Minter
	Clients  *issuer.Clients
	Sessions *issuer.Sessions
	Grants   *issuer.Grants
	Verifier *jwt.Verifier
}

// Close releases the verifier.
func (m *marketplace) Close() { m.Verifier.Close() }

// handlers are the API's own handlers; newMarketplace puts each behind its
// guards.
type handlers struct {
	getStore, listOrders, getInventory, setInventory http.Handler
}

var apiHandlers = handlers{
	getStore: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := principal.From(r.Context())
		writeJSON(w, map[string]any{"store": r.PathValue("id"), "client_id": p.ClientID(), "subject": p.Subject()})
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
		if err := json.NewDecoder(io.LimitReader(r.Body, 4<<10)).Decode(&body); err != nil || body.Quantity == nil || *body.Quantity < 0 {
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

// newMarketplace builds the token side (keys, minter, sessions, clients,
// grants, the authorization, token, revocation, metadata and JWKS
// endpoints, the account pages) and the API that checks its tokens
// in-process.
func newMarketplace(ctx context.Context, c config, h handlers) (*marketplace, error) {
	if c.Algorithm == "" {
		c.Algorithm = issuer.RS256
	}
	if c.Revocations == nil {
		c.Revocations = memoryRevocations{revocation.NewMemory(revocation.MemoryConfig{Now: c.Now})}
	}
	ring, err := issuer.NewKeyRing(ctx, issuer.KeyRingConfig{
		Store: c.KeyStore, Algorithm: c.Algorithm, MaxTokenLifetime: accessLifetime, Now: c.Now,
	})
	if err != nil {
		return nil, err
	}
	minter, err := issuer.NewMinter(issuer.MinterConfig{
		Issuer: c.Issuer, Keys: ring, Lifetime: accessLifetime, ScopeArray: true, Now: c.Now,
		// The grant, so the API tells the integration's own tokens from
		// the ones a store owner granted.
		ExtraClaims: func(_ context.Context, req *issuer.AccessRequest) (map[string]any, error) {
			return map[string]any{"grant_type": req.Grant}, nil
		},
	})
	if err != nil {
		return nil, err
	}
	revocations := c.Revocations
	sessions, err := issuer.NewSessions(issuer.SessionsConfig{
		Store: c.SessionStore, IdleLifetime: refreshIdle, AccessTokenLifetime: accessLifetime, Now: c.Now,
		OnSessionEnded: func(ctx context.Context, sid string, until time.Time) {
			if err := revocations.RevokeSession(ctx, sid, until); err != nil {
				slog.ErrorContext(ctx, "marketplace: revoking an ended session's tokens failed", "sid", sid, "error", err)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	grants, err := issuer.NewGrants(issuer.GrantsConfig{
		Store: c.GrantStore, Codes: c.CodeStore, Sessions: sessions, Now: c.Now,
		// Ending the grant's sessions refuses their access tokens by
		// "sid"; the rule refuses every token of the owner and the app
		// issued before, on every replica, whatever session it came from.
		// If the rule cannot be written, nothing is revoked and the owner
		// is asked to try again.
		OnGrantRevoked: func(ctx context.Context, g issuer.Grant, at time.Time) error {
			return revocations.RevokeRule(ctx, issuer.GrantRevocationRule(g, at, accessLifetime))
		},
	})
	if err != nil {
		return nil, err
	}
	clients, err := issuer.NewClients(issuer.ClientsConfig{Store: c.ClientStore, Argon2: c.Argon2, Now: c.Now})
	if err != nil {
		return nil, err
	}
	v, err := jwt.NewVerifier(ctx, jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer:      c.Issuer,
			KeySource:   ring,
			Audiences:   []string{c.Audience},
			Algorithms:  []string{c.Algorithm},
			RequiredTyp: "at+jwt",
			ScopeClaims: []string{"scope"},
			TokenType:   typeUser,
			TypeClaim:   "grant_type",
			TypeValues:  map[string]string{issuer.GrantClientCredentials: typeApp},
		}},
		Now: c.Now,
	})
	if err != nil {
		return nil, err
	}

	grantTypes := []string{issuer.GrantAuthorizationCode, issuer.GrantClientCredentials, issuer.GrantRefreshToken}
	token, err := issuer.NewTokenHandler(issuer.TokenConfig{
		Clients: clients, Minter: minter, Sessions: sessions, Grants: grantTypes, CodeGrants: grants, Realm: "marketplace",
	})
	if err != nil {
		return nil, err
	}
	pg := &pages{owners: newOwners(c.Owners, c.Argon2), clients: clients, grants: grants}
	authorize, err := issuer.NewAuthorizeHandler(issuer.AuthorizeConfig{
		Issuer: c.Issuer, Clients: clients, Grants: grants,
		Interact: pg.consent, ErrorPage: authorizeError,
		RequirePKCE: true, // of the integrations too, which have a secret
	})
	if err != nil {
		return nil, err
	}
	revoke, err := issuer.NewRevocationHandler(issuer.RevocationConfig{
		Clients: clients, Sessions: sessions, Verifier: v, Revoker: revocations, Realm: "marketplace",
	})
	if err != nil {
		return nil, err
	}
	metadata, err := issuer.NewMetadataHandler(issuer.MetadataConfig{
		Issuer:                c.Issuer,
		AuthorizationEndpoint: c.Issuer + "/auth/v2/authorize",
		TokenEndpoint:         c.Issuer + "/auth/v2/token",
		RevocationEndpoint:    c.Issuer + "/auth/v2/revoke",
		JWKSURI:               c.Issuer + "/.well-known/jwks.json",
		GrantTypes:            grantTypes,
		Scopes:                []string{scopeStore, scopeOrder, scopeInventory},
	})
	if err != nil {
		return nil, err
	}

	tokenLimit := ratelimit.New(ratelimit.Config{
		Limits: []ratelimit.Limit{c.TokenRate},
		Key:    ratelimit.FirstKey(issuer.KeyByTokenClient, ratelimit.KeyByIP),
		Store:  c.RateStore, Now: c.Now,
	})
	// The password forms are limited per IP (a password is guessed one
	// post at a time, and each costs an argon2id hash), and per username
	// as well, so guessing one owner's password from many addresses gains
	// nothing.
	perIP := ratelimit.New(ratelimit.Config{
		Limits: []ratelimit.Limit{c.LoginRate}, Key: ratelimit.KeyByIP, Store: c.RateStore, Now: c.Now,
	})
	accountRate := c.LoginRate
	accountRate.Name += "-account"
	perAccount := ratelimit.New(ratelimit.Config{
		Limits: []ratelimit.Limit{accountRate}, Key: ratelimit.FirstKey(issuer.KeyByTokenAccount, ratelimit.KeyByIP),
		Store: c.RateStore, Now: c.Now,
	})
	loginLimit := func(h http.Handler) http.Handler { return perIP(perAccount(h)) }
	apiLimit := ratelimit.New(ratelimit.Config{Limits: []ratelimit.Limit{c.APIRate}, Store: c.RateStore, Now: c.Now})
	authenticate := middleware.Authenticate(v, middleware.WithRevocation(revocations))
	// store routes take any token with the scope; order and inventory
	// routes the integration's own token (client_credentials) as well.
	store := func(h http.Handler) http.Handler {
		return middleware.Chain(authenticate, apiLimit, scopes.Require(scopeStore))(h)
	}
	integration := func(scope string, h http.Handler) http.Handler {
		return middleware.Chain(authenticate, apiLimit, scopes.Require(scope), middleware.RequireType(typeApp))(h)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /auth/v2/authorize", authorize)
	// The pages' forms are posted only from the marketplace's own pages:
	// a POST a browser says came from another site is refused (403).
	sameOrigin := http.NewCrossOriginProtection().Handler
	mux.Handle("/auth/v2/authorize", sameOrigin(loginLimit(authorize))) // POST; 405 for other methods, by the handler
	mux.Handle("GET /account/apps", http.HandlerFunc(pg.signIn))
	mux.Handle("POST /account/apps", sameOrigin(loginLimit(http.HandlerFunc(pg.apps))))
	mux.Handle("POST /account/apps/revoke", sameOrigin(loginLimit(http.HandlerFunc(pg.revoke))))
	mux.Handle("/auth/v2/token", tokenLimit(token)) // 405 for other methods, by the handler
	mux.Handle("/auth/v2/revoke", tokenLimit(revoke))
	mux.Handle("GET /.well-known/oauth-authorization-server", metadata)
	mux.Handle("GET /.well-known/jwks.json", issuer.NewJWKSHandler(ring, ring.CacheMaxAge()))
	mux.Handle("GET /v1/stores/{id}", store(h.getStore))
	mux.Handle("/v1/stores/{id}", tgerrors.MethodNotAllowed(http.MethodGet))
	mux.Handle("GET /v1/orders", integration(scopeOrder, h.listOrders))
	mux.Handle("/v1/orders", tgerrors.MethodNotAllowed(http.MethodGet))
	mux.Handle("GET /v1/inventory/{sku}", integration(scopeInventory, h.getInventory))
	mux.Handle("PUT /v1/inventory/{sku}", integration(scopeInventory, h.setInventory))
	mux.Handle("/v1/inventory/{sku}", tgerrors.MethodNotAllowed(http.MethodGet, http.MethodPut))
	mux.Handle("/", tgerrors.NotFound)

	return &marketplace{
		Handler:  tgerrors.Use(tgerrors.OAuthFormat{Realm: "marketplace"})(mux),
		Ring:     ring,
		Minter:   minter,
		Clients:  clients,
		Sessions: sessions,
		Grants:   grants,
		Verifier: v,
	}, nil
}

// integrationClient is the registration of an integration that sends store
// owners back to redirectURI: every scope, the order and inventory ones
// through client_credentials only (a store owner's consent gives
// integration.store); refresh tokens live four days unused.
func integrationClient(id, audience, redirectURI string) issuer.Client {
	return issuer.Client{
		ID: id, Name: "Demo integration",
		Grants:              []string{issuer.GrantAuthorizationCode, issuer.GrantRefreshToken, issuer.GrantClientCredentials},
		RedirectURIs:        []string{redirectURI},
		Scopes:              []string{scopeStore, scopeOrder, scopeInventory},
		GrantScopes:         map[string][]string{issuer.GrantClientCredentials: {scopeOrder, scopeInventory}},
		Audience:            []string{audience},
		RefreshIdleLifetime: refreshIdle,
	}
}

// registerIntegration registers cl, or gives it a new secret if it is
// registered already (a restart on PostgreSQL), and returns the secret:
// the one time it is seen.
func registerIntegration(ctx context.Context, clients *issuer.Clients, cl issuer.Client) (issuer.Token, error) {
	_, secret, err := clients.Create(ctx, cl)
	if stderrors.Is(err, issuer.ErrConflict) {
		if err := clients.Update(ctx, cl); err != nil {
			return "", err
		}
		return clients.RegenerateSecret(ctx, cl.ID)
	}
	return secret, err
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to serve the API on")
	iss := flag.String("issuer", "", "the tokens' iss and the endpoints' base URL (default: http://<addr>)")
	audience := flag.String("audience", "https://api.marketplace.example", "the tokens' aud")
	pgURL := flag.String("postgres", "", "PostgreSQL URL for the keys, sessions, clients, codes and grants (default: memory)")
	kek := flag.String("kek", "", "key-encryption key for -postgres, 32 bytes base64 (default: $TOLLGATE_KEK)")
	redisAddr := flag.String("redis", "", "Redis address for the revocations and rate limits (default: memory)")
	redirect := flag.String("redirect", "http://127.0.0.1:8081/callback", "the demo integration's redirect URI")
	flag.Parse()
	if *iss == "" {
		*iss = "http://" + *addr
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The demo store owner's password, made here and printed once; only
	// its hash is kept.
	password := rand.Text()
	c := config{
		Issuer: *iss, Audience: *audience,
		Owners:    map[string]string{demoOwner: issuer.HashSecret(issuer.DefaultArgon2Params, password)},
		TokenRate: ratelimit.Limit{Name: "token", Events: 10, Per: time.Minute},
		LoginRate: ratelimit.Limit{Name: "login", Events: 10, Per: time.Minute},
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
		c.SessionStore, c.ClientStore = pgstore.NewSessionStore(pool), pgstore.NewClientStore(pool)
		c.GrantStore, c.CodeStore = pgstore.NewGrantStore(pool), pgstore.NewCodeStore(pool)
	}
	if *redisAddr != "" {
		rdb := redis.NewClient(&redis.Options{Addr: *redisAddr, ContextTimeoutEnabled: true})
		defer rdb.Close()
		revoked := redisrevocation.New(rdb, redisrevocation.Config{})
		// A new Redis holds no list yet: start one. (A fleet whose Redis
		// may lose its data sets Config.Republish from its own records.)
		if err := revoked.Restore(ctx); err != nil {
			log.Fatal("redis: ", err)
		}
		c.Revocations = revoked
		c.RateStore = redisstore.New(redisstore.Config{Client: rdb})
	}

	m, err := newMarketplace(ctx, c, apiHandlers)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	go m.Ring.Run(ctx)

	secret, err := registerIntegration(ctx, m.Clients, integrationClient(demoApp, *audience, *redirect))
	if err != nil {
		log.Fatal(err)
	}
	printWalkthrough(os.Stdout, walkthrough{
		Base: "http://" + *addr, Client: demoApp, Secret: secret.Reveal(), Redirect: *redirect,
		Owner: demoOwner, Password: password,
	})

	srv := &http.Server{Addr: *addr, Handler: m.Handler, ReadHeaderTimeout: 10 * time.Second}
	if err := demo.ListenAndServe(ctx, srv); err != nil {
		log.Fatal(err)
	}
}

// walkthrough is what the printed walkthrough names.
type walkthrough struct {
	Base, Client, Secret, Redirect string
	Owner, Password                string
}

// printWalkthrough prints the demo integration's secret and the store
// owner's password (this once) and the flow as curl commands.
func printWalkthrough(w io.Writer, d walkthrough) {
	fmt.Fprintf(w, `marketplace API on %[1]s

demo integration %[2]s, secret (shown once): %[3]s, redirect URI %[4]s
store owner %[5]s, password (shown once): %[6]s

BASE=%[1]s CLIENT=%[2]s SECRET=%[3]s REDIRECT=%[4]s
pick() { sed -E "s/.*\"$1\":\"([^\"]+)\".*/\\1/"; }
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
# a PKCE pair: a random verifier, its challenge the base64url SHA-256 of it
pkce() { VERIFIER=$(openssl rand 32 | b64url); CHALLENGE=$(printf %%s "$VERIFIER" | openssl dgst -sha256 -binary | b64url); }

# 1. the store owner authorizes the integration: open the URL in a browser
#    (sign in as %[5]s, Allow) and it sends you to $REDIRECT?code=…&state=…&iss=…
pkce; STATE=$(openssl rand -hex 8)
AUTH="$BASE/auth/v2/authorize?response_type=code&client_id=$CLIENT&redirect_uri=$REDIRECT&scope=integration.store&state=$STATE&code_challenge=$CHALLENGE&code_challenge_method=S256"
echo "$AUTH"
#    or post the page's form as the browser does: 303 See Other, Location: $REDIRECT?code=…&state=…&iss=…
authorize() { curl -s -o /dev/null -w '%%{redirect_url}' "$AUTH" -d username=%[5]s -d password=%[6]s -d decision=allow; }
LOCATION=$(authorize); echo "$LOCATION"
CODE=$(echo "$LOCATION" | sed -E 's/.*[?&]code=([^&]+).*/\1/')

# 2. the integration trades the code for the owner's tokens (once, within 60 s)
RESP=$(curl -s $BASE/auth/v2/token -d grant_type=authorization_code -d code=$CODE \
  -d redirect_uri=$REDIRECT -d code_verifier=$VERIFIER -u $CLIENT:$SECRET)
OWNER=$(echo "$RESP" | pick access_token); RT=$(echo "$RESP" | pick refresh_token)
curl -s $BASE/v1/stores/12 -H "Authorization: bearer $OWNER"
curl -si $BASE/v1/orders -H "Authorization: Bearer $OWNER"        # 403 insufficient_scope: integration.order is the integration's own

# 3. refresh (multipart like curl -F): single use, each gives the next, within 4 days
RESP=$(curl -s $BASE/auth/v2/token -F grant_type=refresh_token -F refresh_token=$RT \
  -F client_id=$CLIENT -F client_secret=$SECRET)
OWNER=$(echo "$RESP" | pick access_token); NEXT=$(echo "$RESP" | pick refresh_token)

# 4. a code replayed is refused and ends the tokens it gave
curl -s $BASE/auth/v2/token -d grant_type=authorization_code -d code=$CODE \
  -d redirect_uri=$REDIRECT -d code_verifier=$VERIFIER -u $CLIENT:$SECRET   # 400 invalid_grant
curl -s $BASE/auth/v2/token -d grant_type=refresh_token -d refresh_token=$NEXT -u $CLIENT:$SECRET  # 400 invalid_grant
curl -si $BASE/v1/stores/12 -H "Authorization: Bearer $OWNER"     # 401 invalid_token: revoked

# 5. the owner revokes the app (the page: $BASE/account/apps); authorize first again
pkce; AUTH="$BASE/auth/v2/authorize?response_type=code&client_id=$CLIENT&redirect_uri=$REDIRECT&scope=integration.store&state=$STATE&code_challenge=$CHALLENGE&code_challenge_method=S256"
CODE=$(authorize | sed -E 's/.*[?&]code=([^&]+).*/\1/')
RESP=$(curl -s $BASE/auth/v2/token -d grant_type=authorization_code -d code=$CODE \
  -d redirect_uri=$REDIRECT -d code_verifier=$VERIFIER -u $CLIENT:$SECRET)
OWNER=$(echo "$RESP" | pick access_token); RT=$(echo "$RESP" | pick refresh_token)
curl -s $BASE/account/apps/revoke -d username=%[5]s -d password=%[6]s -d client_id=$CLIENT >/dev/null
curl -s $BASE/auth/v2/token -d grant_type=refresh_token -d refresh_token=$RT -u $CLIENT:$SECRET    # 400 invalid_grant
curl -si $BASE/v1/stores/12 -H "Authorization: Bearer $OWNER"     # 401 invalid_token: revoked

# 6. the integration's own token (client_credentials, 2 days): every scope
APP=$(curl -s $BASE/auth/v2/token -d grant_type=client_credentials \
  -d client_id=$CLIENT -d client_secret=$SECRET | pick access_token)
curl -s $BASE/v1/orders -H "Authorization: Bearer $APP"
curl -s $BASE/v1/inventory/sku-3 -H "Authorization: Bearer $APP"
curl -s -X PUT $BASE/v1/inventory/sku-3 -H "Authorization: Bearer $APP" -d '{"quantity":4}'
curl -s $BASE/auth/v2/token -d grant_type=client_credentials -d scope=integration.store -u $CLIENT:$SECRET

# the authorization server's metadata and keys
curl -s $BASE/.well-known/oauth-authorization-server
curl -s $BASE/.well-known/jwks.json
`, d.Base, d.Client, d.Secret, d.Redirect, d.Owner, d.Password)
}
