package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/ipfilter"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/scopes"
)

// audience is what every token is minted for and every verifier expects.
const audience = "orders-api"

// requiredScope is the scope the chain's route requires; the token grants it.
const requiredScope = "integration.order"

// issuer is the one token issuer of the whole run: an authtest issuer whose
// JWKS is served by an httptest server on loopback. Every library under test
// fetches its keys from there, and verifies tokens it minted.
var issuer *authtest.Issuer

func TestMain(m *testing.M) {
	if os.Getenv(loadGenEnv) != "" {
		os.Exit(runLoadGenerator())
	}
	var err error
	issuer, err = authtest.NewLocalIssuer()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: starting the test issuer:", err)
		os.Exit(1)
	}
	code := m.Run()
	issuer.Close()
	os.Exit(code)
}

// mintToken returns an RS256 access token shaped like an OAuth marketplace
// token: kid, aud, client id, jti, and a scope claim as a JSON array.
func mintToken(jti string) string {
	return issuer.Mint(map[string]any{
		"sub":       "merchant-42",
		"aud":       audience,
		"client_id": "app-7",
		"jti":       jti,
		"scope":     []string{"integration.store", requiredScope, "integration.inventory"},
	})
}

// theToken is the token a client reuses for its lifetime: the cached case.
var theToken = sync.OnceValue(func() string { return mintToken("0f8e6a3c-1d2b") })

// newVerifier returns a tollgate JWT verifier for issuer, RS256 only, with a
// verified-token cache of cacheSize entries (see jwt.Config).
func newVerifier(tb testing.TB, cacheSize int) *jwt.Verifier {
	tb.Helper()
	v, err := jwt.NewVerifier(context.Background(), jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer:     issuer.URL(),
			JWKSURL:    issuer.JWKSURL(),
			Audiences:  []string{audience},
			Algorithms: []string{"RS256"},
			TokenType:  "customer",
		}},
		CacheSize: cacheSize,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = v.Close() })
	return v
}

// layer is one middleware of the chain, named for reports.
type layer struct {
	name string
	mw   func(http.Handler) http.Handler
}

// chainLayers is the whole tollgate chain, top first: the error
// format, a small static allow-list, JWT authentication, a rate limit keyed
// by principal that is never reached, and a scope check.
func chainLayers(v middleware.Verifier) []layer {
	return []layer{
		{"errors.Use", tgerrors.Use(tgerrors.OAuth)},
		{"ipfilter.New", ipfilter.New(ipfilter.Config{
			Allow: []string{"10.0.0.0/8", "192.0.2.0/24", "198.51.100.7", "2001:db8::/32"},
		})},
		{"middleware.Authenticate", middleware.Authenticate(v, middleware.OnRefusal(nil))},
		{"ratelimit.New", ratelimit.New(ratelimit.Config{
			Limits: []ratelimit.Limit{{Events: 1 << 30, Per: time.Second}},
			Key:    ratelimit.KeyByPrincipal,
		})},
		{"scopes.Require", scopes.Require(requiredScope)},
	}
}

// newChain is chainLayers(v) around h.
func newChain(v middleware.Verifier, h http.Handler) http.Handler {
	var mws []func(http.Handler) http.Handler
	for _, l := range chainLayers(v) {
		mws = append(mws, l.mw)
	}
	return middleware.Chain(mws...)(h)
}

// newRequest is the request every iteration reuses: a GET from an allowed
// address carrying token.
func newRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://api.example.com/orders/1", nil)
	r.RemoteAddr = "192.0.2.10:51234"
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// counter is a no-op handler that counts the requests it was reached by, so
// that a benchmark can tell it measured the admitted path, not a refusal.
type counter struct{ n int }

func (c *counter) ServeHTTP(http.ResponseWriter, *http.Request) { c.n++ }

// discard is a ResponseWriter that keeps headers and drops the body, so the
// cost of a real connection stays out of the figures. One is reused across
// iterations: the server's own cost of a fresh header map per request is the
// same for every library and is not what is compared.
type discard struct {
	h      http.Header
	status int
}

func newDiscard() *discard { return &discard{h: make(http.Header, 8)} }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(status int)      { d.status = status }

// mustReach fails b if the handler was never reached or a refusal was
// written: the figures would then be those of an error path.
func mustReach(tb testing.TB, c *counter, w *discard) {
	tb.Helper()
	if c.n == 0 || (w.status != 0 && w.status != http.StatusOK) {
		tb.Fatalf("handler reached %d times, status %d: the benchmark measured a refusal", c.n, w.status)
	}
}
