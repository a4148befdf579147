// Command merchant is a merchant/customer SaaS API guarded by tollgate,
// with the portal's token API that issues and manages the merchants' API
// tokens.
//
// Merchants create API tokens in the portal, each with a name, named
// permissions and an optional expiry; the token is shown once, in the
// answer to its creation, and stored only as a keyed hash (package
// apikey). A token can be listed (by its hint, mt_test_…a1b2), deactivated,
// reactivated and deleted. The API verifies a token in memory, in well
// under a microsecond; a deactivation is seen at once (and by every
// replica within a second, on Postgres, through LISTEN/NOTIFY).
// Customers call with JWT access tokens of their identity provider. One
// middleware.Authenticate serves both through middleware.JWTOrOpaque.
//
// Routes:
//
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
// rate_limited.
//
// Run it with
//
//	go run ./examples/merchant                                  # tokens in memory
//	APIKEY_PEPPERS="p1:$(head -c32 /dev/urandom | base64)" \
//	  go run ./examples/merchant -postgres "$DATABASE_URL"      # tokens in PostgreSQL
//
// It starts a stand-in portal login and a stand-in customer issuer in the
// same process, creates a demo token, and prints curl commands that walk
// through create, call, deactivate, 401, reactivate, 200.
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

	"github.com/tollgate/tollgate/apikey"
	"github.com/tollgate/tollgate/apikey/pgstore"
	"github.com/tollgate/tollgate/authtest"
	"github.com/tollgate/tollgate/ratelimit"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	postgres := flag.String("postgres", os.Getenv("MERCHANT_POSTGRES_URL"),
		"PostgreSQL URL for the API tokens (default $MERCHANT_POSTGRES_URL; empty: in memory)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *postgres, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// demo is the running example: its stand-in issuers, the API and its
// listener.
type demo struct {
	portal, customers *authtest.Issuer
	api               *api
	pool              *pgxpool.Pool
	listener          net.Listener
}

// start builds the API on the memory store, or on PostgreSQL at
// postgresURL, listens on addr and prints the commands to try to out.
func start(ctx context.Context, addr, postgresURL string, out io.Writer) (*demo, error) {
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
	if postgresURL != "" {
		if d.pool, err = pgxpool.New(ctx, postgresURL); err != nil {
			return nil, err
		}
		if err := pgstore.Migrate(ctx, d.pool); err != nil {
			return nil, err
		}
		store = pgstore.New(d.pool)
	}
	if d.portal, err = authtest.NewLocalIssuer(authtest.WithLifetime(24 * time.Hour)); err != nil {
		return nil, err
	}
	if d.customers, err = authtest.NewLocalIssuer(authtest.WithLifetime(24 * time.Hour)); err != nil {
		return nil, err
	}
	d.api, err = newAPI(ctx, config{
		Store:           store,
		Peppers:         peppers,
		PortalIssuer:    d.portal.URL(),
		PortalJWKSURL:   d.portal.JWKSURL(),
		CustomerIssuer:  d.customers.URL(),
		CustomerJWKSURL: d.customers.JWKSURL(),
		Audience:        "orders-api",
		RateLimit:       ratelimit.Limit{Events: 60, Per: time.Minute},
		MerchantLimits:  map[string]ratelimit.Limit{"mer_2": {Events: 600, Per: time.Minute}},
	})
	if err != nil {
		return nil, err
	}
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
	portal := d.portal.Mint(map[string]any{"sub": "mer_1", "aud": "portal", "org_id": "org_1", "app_id": "app_1"})
	customer := d.customers.Mint(map[string]any{"sub": "cus_1", "aud": "orders-api"}, authtest.WithHeader("typ", "at+jwt"))
	where := "in memory (restarting forgets them)"
	if postgresURL != "" {
		where = "in PostgreSQL"
	}
	fmt.Fprintf(out, usage, "http://"+d.listener.Addr().String(), where, portal, secret.Reveal(), key.ID, customer)
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
	if d.portal != nil {
		d.portal.Close()
	}
	if d.customers != nil {
		d.customers.Close()
	}
	if d.listener != nil {
		d.listener.Close()
	}
}

func run(ctx context.Context, addr, postgresURL string, out io.Writer) error {
	d, err := start(ctx, addr, postgresURL, out)
	if err != nil {
		return err
	}
	return d.serve(ctx)
}

// usage is printed at start: %[1]s is the API's URL, %[2]s where tokens
// are kept, then the portal session, the demo token, its key id and a
// customer token.
const usage = `The merchant API is serving on %[1]s; API tokens are kept %[2]s.

Paste these lines into your shell first: a portal session of merchant mer_1
(org_1, app_1), the demo API token the server made for it (shown once, like
every token), that token's id, and a customer's access token:

PORTAL=%[3]s
TOKEN=%[4]s
KEY=%[5]s
CUSTOMER=%[6]s

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

# 200 OK: the portal deletes the token, for good
curl -i -X DELETE %[1]s/portal/keys/$KEY -H "Authorization: Bearer $PORTAL"

# 401 Unauthorized, invalid_token: a deleted token is refused
curl -i %[1]s/orders -H "Authorization: Bearer $TOKEN" -H "X-Organization-Id: org_1" -H "X-App-Id: app_1"

Every answer to a token carries X-RateLimit-Limit, X-RateLimit-Remaining and
X-RateLimit-Reset: each token has its own 60 requests a minute (merchant
mer_2's tokens a custom 600), and the 61st gets 429 with Retry-After.

Press Ctrl+C to stop.
`
