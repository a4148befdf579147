// Quickstart runs a protected API and a local test issuer (authtest, whose
// keys live in memory only), with nothing to configure:
//
//	go run ./examples/quickstart            # serves on 127.0.0.1:8080
//	go run ./examples/quickstart -addr 127.0.0.1:9000
//
// It prints two tokens, one for a merchant and one for a customer, and curl
// commands to try, each with the status it answers: 200 for a granted call,
// 401 without a token, 403 for a customer on a merchant-only route or
// without the scope a route needs. It serves until interrupted.
//
// The API is guarded in newAPI: errors.Use picks the error format (RFC 6750
// here) for every refusal, Authenticate verifies the bearer token, and each
// route states what it needs with scopes.Require and middleware.RequireType.
package main

import (
	"context"
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

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/scopes"
)

const (
	defaultAddr = "127.0.0.1:8080"
	audience    = "orders-api"
)

// handlers are the application's own handlers; newAPI puts each behind the
// guards its route needs.
type handlers struct {
	getOrder, getPayments, refundOrder http.Handler
}

var shop = handlers{
	getOrder: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := principal.From(r.Context())
		fmt.Fprintf(w, "order %s, read by %s %s\n", r.PathValue("id"), p.Type(), p.Subject())
	}),
	getPayments: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "payments of order %s\n", r.PathValue("id"))
	}),
	refundOrder: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := principal.From(r.Context())
		fmt.Fprintf(w, "order %s refunded by merchant %s\n", r.PathValue("id"), p.Subject())
	}),
}

// newAPI guards h: every request needs a token v accepts, and each route
// the scope and token type it names. Refusals are written as RFC 6750.
func newAPI(v middleware.Verifier, h handlers) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /orders/{id}", scopes.Require("can_read_order")(h.getOrder))
	mux.Handle("GET /orders/{id}/payments", scopes.Require("can_read_payment")(h.getPayments))
	mux.Handle("POST /orders/{id}/refund", middleware.Chain(
		middleware.RequireType("merchant"),
		scopes.Require("can_refund_order"),
	)(h.refundOrder))

	return middleware.Chain(
		tgerrors.Use(tgerrors.OAuth),
		middleware.Authenticate(v),
	)(mux)
}

// newVerifier trusts the RS256 tokens of issuer meant for this API, checked
// against the keys published at jwksURL; in production these are your
// identity provider's. The token_type claim says whether a token is a
// merchant's or a customer's; a token without it is neither.
func newVerifier(ctx context.Context, issuer, jwksURL string) (*jwt.Verifier, error) {
	return jwt.NewVerifier(ctx, jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer:     issuer,
			JWKSURL:    jwksURL,
			Audiences:  []string{audience},
			Algorithms: []string{"RS256"},
			TypeClaim:  "token_type",
			TypeValues: map[string]string{"merchant": "merchant", "customer": "customer"},
		}},
	})
}

// quickstart is the running demo: a local issuer, a verifier that trusts
// it, and the API's server and listener.
type quickstart struct {
	issuer   *authtest.Issuer
	verifier *jwt.Verifier
	server   *http.Server
	listener net.Listener
}

// start listens on addr (see listen), starts the issuer and the verifier,
// and prints to out the tokens and the commands to try.
func start(ctx context.Context, addr string, out io.Writer) (*quickstart, error) {
	ln, err := listen(addr, out)
	if err != nil {
		return nil, err
	}
	iss, err := authtest.NewLocalIssuer(authtest.WithLifetime(24 * time.Hour))
	if err != nil {
		ln.Close()
		return nil, err
	}
	v, err := newVerifier(ctx, iss.URL(), iss.JWKSURL())
	if err != nil {
		iss.Close()
		ln.Close()
		return nil, err
	}
	q := &quickstart{
		issuer:   iss,
		verifier: v,
		server:   &http.Server{Handler: newAPI(v, shop), ReadHeaderTimeout: 10 * time.Second},
		listener: ln,
	}
	q.printUsage(out)
	return q, nil
}

// listen listens on addr. If addr is the default and busy, it takes a free
// port instead and says so; any other address that fails is an error.
func listen(addr string, out io.Writer) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	switch {
	case err == nil:
		return ln, nil
	case addr != defaultAddr || !errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("cannot listen on %s: %w (choose another address with -addr)", addr, err)
	}
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "%s is busy; using %s instead.\n\n", addr, ln.Addr())
	return ln, nil
}

// usage is printed at start: %[1]s is the API's URL, %[2]s the issuer's,
// %[3]s and %[4]s the merchant's and the customer's tokens.
const usage = `A protected API is serving on %[1]s; its tokens come from a local test issuer at %[2]s.

Routes:
  GET  /orders/{id}           scope can_read_order, merchant or customer
  GET  /orders/{id}/payments  scope can_read_payment, merchant or customer
  POST /orders/{id}/refund    merchant tokens only, scope can_refund_order

Tokens, valid for 24 hours (paste these two lines into your shell first):

MERCHANT=%[3]s
CUSTOMER=%[4]s

Then try:

# 200 OK: a customer reads an order
curl -i %[1]s/orders/1001 -H "Authorization: Bearer $CUSTOMER"

# 401 Unauthorized: no token
curl -i %[1]s/orders/1001

# 403 Forbidden, insufficient_scope: a customer reads payments without can_read_payment
curl -i %[1]s/orders/1001/payments -H "Authorization: Bearer $CUSTOMER"

# 403 Forbidden, wrong_token_type: a customer asks for a merchant-only refund
curl -i -X POST %[1]s/orders/1001/refund -H "Authorization: Bearer $CUSTOMER"

# 200 OK: the merchant refunds the order
curl -i -X POST %[1]s/orders/1001/refund -H "Authorization: Bearer $MERCHANT"

Press Ctrl+C to stop.
`

func (q *quickstart) printUsage(out io.Writer) {
	merchant := q.issuer.Mint(map[string]any{
		"sub": "merchant-7", "aud": audience, "token_type": "merchant",
		"scope": "can_read_order can_read_payment can_refund_order",
	})
	customer := q.issuer.Mint(map[string]any{
		"sub": "customer-42", "aud": audience, "token_type": "customer",
		"scope": "can_read_order",
	})
	fmt.Fprintf(out, usage, "http://"+q.listener.Addr().String(), q.issuer.URL(), merchant, customer)
}

// serve answers requests until ctx is done, then lets requests in flight
// finish (up to 5 seconds) and stops the issuer.
func (q *quickstart) serve(ctx context.Context) error {
	defer q.issuer.Close()
	defer q.verifier.Close()
	errc := make(chan error, 1)
	go func() { errc <- q.server.Serve(q.listener) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return q.server.Shutdown(shutdown)
}

func main() {
	addr := flag.String("addr", defaultAddr, "address to serve the API on")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	q, err := start(ctx, *addr, os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	if err := q.serve(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("Stopped.")
}
