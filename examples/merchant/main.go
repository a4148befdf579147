// Command merchant is a merchant/customer SaaS API guarded by tollgate,
// with the portal's token API that issues and manages the merchants' API
// tokens, and the customers' login and refresh.
//
// Merchants create API tokens in the portal, each with a name, named
// permissions and an optional expiry; the token is shown once, in the
// answer to its creation, and stored only as a keyed hash (package
// apikey). A token can be listed (by its hint, mt_test_…a1b2), deactivated,
// reactivated and deleted. The API verifies a token in memory, in well
// under a microsecond; a deactivation is seen at once (and by every
// replica within a second, on Postgres, through LISTEN/NOTIFY).
//
// Customers log in at POST /oauth/token (RFC 6749's password grant, for
// the provider's storefront, a public client) and get an ES256 access
// token (1 hour) and an opaque refresh token (7 days), minted by package
// issuer; the refresh_token grant rotates the refresh token, and a spent
// one presented again ends the whole session, whose access tokens are
// then refused by their "sid". Passwords are argon2id hashes; logins of
// one account are limited to 10 a minute. The portal's dashboard sessions
// are this process's own JWTs too. Both kinds are verified in-process,
// through jwt.Issuer.KeySource, and one middleware.Authenticate serves
// them and the API tokens through middleware.JWTOrOpaque.
//
// Routes:
//
//	POST /oauth/token  the customers' login (grant_type=password) and refresh
//	GET  /orders       merchant token with can_read_order
//	POST /orders       merchant token with can_write_order
//	GET  /app/config   merchant token with can_retrieve_app_config
//	PUT  /app/config   merchant token with can_update_app_config
//	GET  /me/orders    customer token
//	/portal/keys…      the portal's token API (see apikey.Keys.Handler), for
//	                   a merchant signed in to the dashboard (a portal JWT)
//
// Merchant routes require X-Organization-Id and X-App-Id headers naming
// the organization and app the token was issued for: a missing header is
// 400, another value 403. Every token has its own rate limit (60 requests
// a minute; merchant mer_2 has a custom 600), reported in X-RateLimit-*
// headers, and 429 with Retry-After when spent. Refusals are RFC 9457
// problem details whose "code" says why: 401 invalid_token for an unknown,
// inactive or deleted token, 401 expired_token for an expired one, 403
// insufficient_scope, forbidden or wrong_token_type, 400 validation, 429
// rate_limited, and at the token endpoint 400 invalid_grant for a wrong
// password or a bad refresh token.
//
// Run it with
//
//	go run ./examples/merchant                                  # everything in memory
//	APIKEY_PEPPERS="p1:$(head -c32 /dev/urandom | base64)" \
//	MERCHANT_KEY_ENCRYPTION_KEY="$(head -c32 /dev/urandom | base64)" \
//	  go run ./examples/merchant -postgres "$DATABASE_URL" -redis 127.0.0.1:6379
//
// With -postgres the API tokens, the signing keys (sealed under the
// key-encryption key) and the customers' sessions are in PostgreSQL, so
// every token survives a restart; with -redis the rate limits and the
// revocation list are shared by every replica. It creates a demo API
// token and logs a demo customer in, and prints curl commands that walk
// through create, call, deactivate, 401, reactivate, 200, and the
// customer's login, refresh and reuse.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/apikey"
	"github.com/tollgate/tollgate/apikey/pgstore"
	issuerpg "github.com/tollgate/tollgate/issuer/pgstore"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/ratelimit/redisstore"
	"github.com/tollgate/tollgate/revocation/redisrevocation"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	postgres := flag.String("postgres", os.Getenv("MERCHANT_POSTGRES_URL"),
		"PostgreSQL URL for the API tokens (default $MERCHANT_POSTGRES_URL; empty: in memory)")
	redisAddr := flag.String("redis", os.Getenv("MERCHANT_REDIS_ADDR"),
		"Redis address for the rate limits and the revocation list (default $MERCHANT_REDIS_ADDR; empty: in memory)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, stores{postgresURL: *postgres, redisAddr: *redisAddr}, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// stores are where the state goes: PostgreSQL (API tokens, signing keys,
// customer sessions) and Redis (rate limits, revocations); empty is
// memory.
type stores struct {
	postgresURL, redisAddr string
	// redisPrefix starts the Redis keys; empty means "merchant:".
	redisPrefix string
}

// demo is the running example: the API, its listener and its stores.
type demo struct {
	api      *api
	pool     *pgxpool.Pool
	redis    *redis.Client
	listener net.Listener
}

// demoMerchants are the merchants start knows.
var demoMerchants = map[string]merchant{"mer_1": {"org_1", "app_1"}, "mer_2": {"org_2", "app_2"}}

// demoCustomer is the customer start creates, with a password printed
// once.
const demoCustomer = "alice@example.com"

// start builds the API on memory stores, or on PostgreSQL and Redis,
// listens on addr and prints the commands to try to out.
func start(ctx context.Context, addr string, st stores, out io.Writer) (*demo, error) {
	postgresURL := st.postgresURL
	d := &demo{}
	ok := false
	defer func() {
		if !ok {
			d.close()
		}
	}()
	var store apikey.Store = apikey.NewMemoryStore()
	peppers, err := peppersFromEnv(postgresURL != "")
	if err != nil {
		return nil, err
	}
	password := rand.Text()
	cfg := config{
		Store:          store,
		Peppers:        peppers,
		Customers:      map[string]customer{demoCustomer: {ID: "cus_1", PasswordHash: hashPassword(password)}},
		Merchants:      demoMerchants,
		Audience:       "orders-api",
		RateLimit:      ratelimit.Limit{Events: 60, Per: time.Minute},
		MerchantLimits: map[string]ratelimit.Limit{"mer_2": {Events: 600, Per: time.Minute}},
	}
	if postgresURL != "" {
		kek, err := base64.StdEncoding.DecodeString(os.Getenv("MERCHANT_KEY_ENCRYPTION_KEY"))
		if err != nil || len(kek) != 32 {
			return nil, errors.New(`MERCHANT_KEY_ENCRYPTION_KEY must be 32 bytes in base64 with -postgres, e.g. MERCHANT_KEY_ENCRYPTION_KEY="$(head -c32 /dev/urandom | base64)"; the signing keys are sealed under it`)
		}
		if d.pool, err = pgxpool.New(ctx, postgresURL); err != nil {
			return nil, err
		}
		if err := pgstore.Migrate(ctx, d.pool); err != nil {
			return nil, err
		}
		if err := issuerpg.Migrate(ctx, d.pool); err != nil {
			return nil, err
		}
		cfg.Store = pgstore.New(d.pool)
		if cfg.Keys, err = issuerpg.NewKeyStore(d.pool, kek); err != nil {
			return nil, err
		}
		cfg.Sessions = issuerpg.NewSessionStore(d.pool)
	}
	if st.redisAddr != "" {
		prefix := st.redisPrefix
		if prefix == "" {
			prefix = "merchant:"
		}
		d.redis = redis.NewClient(&redis.Options{Addr: st.redisAddr, ContextTimeoutEnabled: true})
		cfg.RateLimits = redisstore.New(redisstore.Config{Client: d.redis, Prefix: prefix + "ratelimit:"})
		list := redisrevocation.New(d.redis, redisrevocation.Config{Prefix: prefix + "revoked:"})
		if err := list.Restore(ctx); err != nil {
			return nil, err
		}
		cfg.Revoked = list
	}
	if d.api, err = newAPI(ctx, cfg); err != nil {
		return nil, err
	}
	go d.api.ring.Run(ctx)
	if d.listener, err = net.Listen("tcp", addr); err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w (choose another address with -addr)", addr, err)
	}
	key, secret, err := d.api.keys.Create(ctx, apikey.Spec{
		Prefix:      "mt_test",
		Name:        "demo",
		Owner:       apikey.Owner{ID: "mer_1", OrgID: "org_1", AppID: "app_1"},
		Permissions: []string{"can_read_order", "can_write_order", "can_retrieve_app_config"},
	})
	if err != nil {
		return nil, err
	}
	portal, err := d.api.portalSession(ctx, "mer_1")
	if err != nil {
		return nil, err
	}
	// The demo customer logs in once, through the token endpoint itself.
	login, err := d.api.login(ctx, demoCustomer, password)
	if err != nil {
		return nil, err
	}
	where := "in memory (restarting forgets them)"
	if postgresURL != "" {
		where = "in PostgreSQL"
	}
	fmt.Fprintf(out, usage, "http://"+d.listener.Addr().String(), where, portal, secret.Reveal(), key.ID, login.AccessToken, login.RefreshToken, password, demoCustomer)
	ok = true
	return d, nil
}

// peppersFromEnv reads APIKEY_PEPPERS; without it, a random pepper is made
// for the memory store, and a store that outlives the process refuses to
// start (its tokens would not verify after a restart).
func peppersFromEnv(persistent bool) ([]apikey.Pepper, error) {
	if s := os.Getenv("APIKEY_PEPPERS"); s != "" {
		return apikey.ParsePeppers(s)
	}
	if persistent {
		return nil, errors.New(`APIKEY_PEPPERS is required with -postgres, e.g. APIKEY_PEPPERS="p1:$(head -c32 /dev/urandom | base64)"`)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return apikey.ParsePeppers("demo:" + base64.StdEncoding.EncodeToString(key))
}

// serve answers requests until ctx is done, then lets requests in flight
// finish (up to 5 seconds).
func (d *demo) serve(ctx context.Context) error {
	srv := &http.Server{Handler: d.api, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(d.listener) }()
	select {
	case err := <-errc:
		d.close()
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	d.close()
	return err
}

func (d *demo) close() {
	if d.api != nil {
		d.api.Close()
	}
	if d.pool != nil {
		d.pool.Close()
	}
	if d.redis != nil {
		_ = d.redis.Close()
	}
	if d.listener != nil {
		d.listener.Close()
	}
}

func run(ctx context.Context, addr string, st stores, out io.Writer) error {
	d, err := start(ctx, addr, st, out)
	if err != nil {
		return err
	}
	return d.serve(ctx)
}

// usage is printed at start: %[1]s is the API's URL, %[2]s where tokens
// are kept, then the portal session, the demo token, its key id, the demo
// customer's access and refresh tokens, its password and username.
const usage = `The merchant API is serving on %[1]s; API tokens are kept %[2]s.

Paste these lines into your shell first: a portal session of merchant mer_1
(org_1, app_1), the demo API token the server made for it (shown once, like
every token), that token's id, the access and refresh tokens of the demo
customer %[9]s from its login, and its password (shown only now):

PORTAL=%[3]s
TOKEN=%[4]s
KEY=%[5]s
CUSTOMER=%[6]s
REFRESH=%[7]s
PASSWORD=%[8]s

Then walk through it:

# 201 Created: the portal creates a token; the answer shows it once, in "token"
curl -i -X POST %[1]s/portal/keys -H "Authorization: Bearer $PORTAL" -d '{"name":"reporting","permissions":["can_read_order"],"expires_at":"2030-01-01T00:00:00Z"}'

# 200 OK: the portal lists mer_1's tokens, each by its hint, never the token
curl -i %[1]s/portal/keys -H "Authorization: Bearer $PORTAL"

# 200 OK: the merchant calls the API with its token
curl -i %[1]s/orders -H "Authorization: Bearer $TOKEN" -H "X-Organization-Id: org_1" -H "X-App-Id: app_1"

# 200 OK: the portal deactivates the token
curl -i -X POST %[1]s/portal/keys/$KEY/deactivate -H "Authorization: Bearer $PORTAL"

# 401 Unauthorized, invalid_token: the inactive token is refused
curl -i %[1]s/orders -H "Authorization: Bearer $TOKEN" -H "X-Organization-Id: org_1" -H "X-App-Id: app_1"

# 200 OK: the portal reactivates it
curl -i -X POST %[1]s/portal/keys/$KEY/reactivate -H "Authorization: Bearer $PORTAL"

# 200 OK: and the token works again
curl -i %[1]s/orders -H "Authorization: Bearer $TOKEN" -H "X-Organization-Id: org_1" -H "X-App-Id: app_1"

# 403 Forbidden, insufficient_scope: the token lacks can_update_app_config
curl -i -X PUT %[1]s/app/config -H "Authorization: Bearer $TOKEN" -H "X-Organization-Id: org_1" -H "X-App-Id: app_1"

# 400 Bad Request, validation: the X-App-Id header is missing
curl -i %[1]s/app/config -H "Authorization: Bearer $TOKEN" -H "X-Organization-Id: org_1"

# 403 Forbidden, forbidden: the X-Organization-Id of another organization
curl -i %[1]s/app/config -H "Authorization: Bearer $TOKEN" -H "X-Organization-Id: org_2" -H "X-App-Id: app_1"

# 200 OK: a customer reads their orders with a customer access token
curl -i %[1]s/me/orders -H "Authorization: Bearer $CUSTOMER"

# 403 Forbidden, wrong_token_type: a merchant token on a customer route
curl -i %[1]s/me/orders -H "Authorization: Bearer $TOKEN"

# 200 OK: the customer logs in again (RFC 6749 password grant): access token (1 h) and refresh token (7 d)
curl -i -X POST %[1]s/oauth/token -H "Content-Type: application/x-www-form-urlencoded" -d "grant_type=password&username=%[9]s&password=$PASSWORD"

# 400 Bad Request, invalid_grant: a wrong password
curl -i -X POST %[1]s/oauth/token -H "Content-Type: application/x-www-form-urlencoded" -d "grant_type=password&username=%[9]s&password=wrong"

# 200 OK: the storefront refreshes: a new access token and a new refresh token
curl -i -X POST %[1]s/oauth/token -H "Content-Type: application/x-www-form-urlencoded" -d "grant_type=refresh_token&refresh_token=$REFRESH"

# 400 Bad Request, invalid_grant: the spent refresh token again ends the whole session
curl -i -X POST %[1]s/oauth/token -H "Content-Type: application/x-www-form-urlencoded" -d "grant_type=refresh_token&refresh_token=$REFRESH"

# 401 Unauthorized, invalid_token: so that session's access token is refused too
curl -i %[1]s/me/orders -H "Authorization: Bearer $CUSTOMER"

# 200 OK: the portal deletes the token, for good
curl -i -X DELETE %[1]s/portal/keys/$KEY -H "Authorization: Bearer $PORTAL"

# 401 Unauthorized, invalid_token: a deleted token is refused
curl -i %[1]s/orders -H "Authorization: Bearer $TOKEN" -H "X-Organization-Id: org_1" -H "X-App-Id: app_1"

Every answer to a token carries X-RateLimit-Limit, X-RateLimit-Remaining and
X-RateLimit-Reset: each token has its own 60 requests a minute (merchant
mer_2's tokens a custom 600), and the 61st gets 429 with Retry-After.

Press Ctrl+C to stop.
`
