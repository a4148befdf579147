package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/scopes"
)

func request(method, target string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func TestRoutingOptionsAdmitOnlyWhatTheyName(t *testing.T) {
	preflight := []string{"Origin", "https://shop.example", "Access-Control-Request-Method", "POST"}
	cases := []struct {
		name      string
		opts      []middleware.Option
		req       *http.Request
		status    int
		reached   bool
		principal bool
	}{
		{"a skipped path needs no token", []middleware.Option{middleware.SkipPaths("/healthz")},
			request("GET", "/healthz"), 200, true, false},
		{"a skipped path is matched exactly, not as a prefix", []middleware.Option{middleware.SkipPaths("/healthz")},
			request("GET", "/healthz/x"), 401, false, false},
		{"a skipped path is not matched with a trailing slash", []middleware.Option{middleware.SkipPaths("/healthz")},
			request("GET", "/healthz/"), 401, false, false},
		{"a dot-dot path is not the skipped path", []middleware.Option{middleware.SkipPaths("/healthz")},
			request("GET", "/healthz/../orders"), 401, false, false},
		{"a skipped path ignores even a bad token", []middleware.Option{middleware.SkipPaths("/healthz")},
			request("GET", "/healthz", "Authorization", "Bearer bad"), 200, true, false},
		{"a predicate skips", []middleware.Option{middleware.SkipIf(func(r *http.Request) bool { return r.Method == "HEAD" })},
			request("HEAD", "/orders"), 200, true, false},
		{"a predicate that does not match skips nothing", []middleware.Option{middleware.SkipIf(func(r *http.Request) bool { return r.Method == "HEAD" })},
			request("GET", "/orders"), 401, false, false},
		{"a CORS preflight is answered when allowed, never reaching the handler", []middleware.Option{middleware.AllowCORSPreflight(nil)},
			request("OPTIONS", "/orders", preflight...), 204, false, false},
		{"a CORS preflight needs a token by default", nil,
			request("OPTIONS", "/orders", preflight...), 401, false, false},
		{"an OPTIONS request without the preflight headers needs a token", []middleware.Option{middleware.AllowCORSPreflight(nil)},
			request("OPTIONS", "/orders", "Origin", "https://shop.example"), 401, false, false},
		{"a GET with preflight headers is no preflight", []middleware.Option{middleware.AllowCORSPreflight(nil)},
			request("GET", "/orders", preflight...), 401, false, false},
		{"optional admits a request without any credential", []middleware.Option{middleware.Optional()},
			request("GET", "/orders"), 200, true, false},
		{"optional admits a good token with its principal", []middleware.Option{middleware.Optional()},
			request("GET", "/orders", "Authorization", "Bearer good-token"), 200, true, true},
		{"optional still refuses a bad token", []middleware.Option{middleware.Optional()},
			request("GET", "/orders", "Authorization", "Bearer bad-token"), 401, false, false},
		{"optional still refuses an empty bearer", []middleware.Option{middleware.Optional()},
			request("GET", "/orders", "Authorization", "Bearer "), 400, false, false},
		{"optional still refuses two credentials", []middleware.Option{middleware.Optional(), middleware.FromHeader("X-API-Key")},
			request("GET", "/orders", "Authorization", "Bearer good-token", "X-API-Key", "good-token"), 400, false, false},
		{"a token from a named header", []middleware.Option{middleware.FromHeader("x-api-key")},
			request("GET", "/orders", "X-API-Key", "good-token"), 200, true, true},
		{"a bad token from a named header", []middleware.Option{middleware.FromHeader("X-API-Key")},
			request("GET", "/orders", "X-API-Key", "bad-token"), 401, false, false},
		{"two named headers", []middleware.Option{middleware.FromHeader("X-API-Key")},
			request("GET", "/orders", "X-API-Key", "good-token", "X-API-Key", "good-token"), 400, false, false},
		{"an empty named header", []middleware.Option{middleware.FromHeader("X-API-Key")},
			request("GET", "/orders", "X-API-Key", ""), 400, false, false},
		{"a named header and a bearer token", []middleware.Option{middleware.FromHeader("X-API-Key")},
			request("GET", "/orders", "X-API-Key", "good-token", "Authorization", "Bearer good-token"), 400, false, false},
		{"a named header's token outside the charset", []middleware.Option{middleware.FromHeader("X-API-Key")},
			request("GET", "/orders", "X-API-Key", "good token"), 401, false, false},
		{"a custom extractor", []middleware.Option{middleware.WithExtractor(func(r *http.Request) (string, bool, error) {
			v := r.Header.Get("X-Token")
			return v, v != "", nil
		})}, request("GET", "/orders", "X-Token", "good-token", "Authorization", "Bearer bad-token"), 200, true, true},
		{"a custom extractor's error is invalid_request", []middleware.Option{middleware.WithExtractor(func(r *http.Request) (string, bool, error) {
			return "", false, fmt.Errorf("internal detail 10.0.0.1")
		})}, request("GET", "/orders"), 400, false, false},
		{"a custom extractor's own refusal keeps its kind", []middleware.Option{middleware.WithExtractor(func(r *http.Request) (string, bool, error) {
			return "", false, tgerrors.New(tgerrors.InvalidToken, "")
		})}, request("GET", "/orders"), 401, false, false},
		{"a named header's token over the size cap", []middleware.Option{middleware.FromHeader("X-API-Key"), middleware.WithMaxTokenBytes(8)},
			request("GET", "/orders", "X-API-Key", "good-token"), 401, false, false},
		{"a custom extractor's token over the size cap", []middleware.Option{middleware.WithMaxTokenBytes(8), middleware.WithExtractor(func(r *http.Request) (string, bool, error) {
			return "good-token", true, nil
		})}, request("GET", "/orders"), 401, false, false},
		{"a custom extractor that finds nothing", []middleware.Option{middleware.WithExtractor(func(r *http.Request) (string, bool, error) {
			return "", false, nil
		})}, request("GET", "/orders", "Authorization", "Bearer good-token"), 401, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := run(t, middleware.Authenticate(newFake(), append(c.opts, middleware.OnRefusal(nil))...), c.req)
			if o.rec.Code != c.status || o.reached != c.reached || (o.principal != nil) != c.principal {
				t.Fatalf("status %d reached %v principal %v, want %d %v %v; body %s",
					o.rec.Code, o.reached, o.principal != nil, c.status, c.reached, c.principal, o.rec.Body)
			}
			if c.status >= 400 && o.rec.Header().Get("WWW-Authenticate") == "" {
				t.Fatalf("a refusal without a challenge")
			}
			if b := o.rec.Body.String(); c.status >= 400 && (strings.Contains(b, "10.0.0.1") || strings.Contains(b, "internal")) {
				t.Fatalf("the body leaks the extractor's error: %s", b)
			}
		})
	}
}

// A skipped or anonymous request has no principal, so a route that asks for
// a scope still refuses it: the options cannot open a guarded route.
func TestSkippedAndAnonymousRequestsStillFailAScopeCheck(t *testing.T) {
	for name, opt := range map[string]middleware.Option{
		"skip":     middleware.SkipPaths("/orders"),
		"optional": middleware.Optional(),
	} {
		t.Run(name, func(t *testing.T) {
			o := run(t, func(h http.Handler) http.Handler {
				return middleware.Authenticate(newFake(), opt)(scopes.Require("can_read_order")(h))
			}, request("GET", "/orders"))
			if o.rec.Code != 401 || o.reached {
				t.Fatalf("status %d reached %v", o.rec.Code, o.reached)
			}
		})
	}
}

// A token sent in a header other than Authorization is not protected from
// shared caches by RFC 9111 §3.5, so its response is made private.
func TestATokenFromANamedHeaderGetsAPrivateResponse(t *testing.T) {
	h := tgerrors.Use(tgerrors.OAuth)(middleware.Authenticate(newFake(), middleware.FromHeader("X-API-Key"))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "public, max-age=60")
			w.WriteHeader(200)
		})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, request("GET", "/orders", "X-API-Key", "good-token"))
	if cc := rec.Header().Get("Cache-Control"); rec.Code != 200 || strings.Contains(cc, "public") || !strings.Contains(cc, "private") {
		t.Fatalf("status %d Cache-Control %q", rec.Code, cc)
	}
}

// A logging middleware placed between errors.Use and Authenticate, as the
// README shows, reads the caller's principal after its next handler returns.
func TestALoggingLayerBelowErrorsUseSeesThePrincipalAfterNextReturns(t *testing.T) {
	var logged string
	logging := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			if p, ok := principal.From(r.Context()); ok {
				logged = p.Subject()
			}
		})
	}
	h := middleware.Chain(tgerrors.Use(tgerrors.OAuth), logging, middleware.Authenticate(newFake()))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), request("GET", "/orders", "Authorization", "Bearer good-token"))
	if logged != "m1" {
		t.Fatalf("the logging layer saw subject %q", logged)
	}
}

// A percent-encoded path is not the skipped path: ServeMux routes
// "/docs%2Fopenapi.json" to a "/{resource}" pattern, which must stay guarded.
func TestSkipPathsMatchesThePathAsRoutersSeeIt(t *testing.T) {
	mux := http.NewServeMux()
	reachedGuarded := false
	mux.HandleFunc("GET /docs/openapi.json", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	mux.HandleFunc("GET /{resource}", func(w http.ResponseWriter, r *http.Request) { reachedGuarded = true })
	h := middleware.Authenticate(newFake(), middleware.SkipPaths("/docs/openapi.json"), middleware.OnRefusal(nil))(mux)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/docs/openapi.json", nil))
	if rec.Code != 200 {
		t.Fatalf("the skipped path: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/docs%2Fopenapi.json", nil))
	if reachedGuarded || rec.Code != 401 {
		t.Fatalf("an encoded slash reached the guarded route without a token: %d", rec.Code)
	}
}

// Optional makes only a request without any credential anonymous: a verifier
// that answers missing_token for a token it was given does not.
func TestOptionalDoesNotDowngradeAVerifiersRefusal(t *testing.T) {
	v := middleware.VerifierFunc(func(ctx context.Context, token string) (*principal.Principal, error) {
		return nil, tgerrors.New(tgerrors.MissingToken, "no such key")
	})
	o := run(t, middleware.Authenticate(v, middleware.Optional(), middleware.OnRefusal(nil)),
		request("GET", "/orders", "Authorization", "Bearer forged-token"))
	if o.reached {
		t.Fatalf("a refused token reached the handler as anonymous (%d)", o.rec.Code)
	}
}

// A preflight never reaches a handler registered for every method.
func TestAPreflightNeverReachesAMethodAgnosticHandler(t *testing.T) {
	mux := http.NewServeMux()
	ran := false
	mux.HandleFunc("/admin/purge", func(w http.ResponseWriter, r *http.Request) { ran = true })
	cors := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "https://shop.example")
		w.WriteHeader(http.StatusNoContent)
	})
	h := middleware.Authenticate(newFake(), middleware.AllowCORSPreflight(cors), middleware.OnRefusal(nil))(mux)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, request("OPTIONS", "/admin/purge", "Origin", "https://shop.example", "Access-Control-Request-Method", "POST"))
	if ran || rec.Code != 204 || rec.Header().Get("Access-Control-Allow-Origin") == "" {
		t.Fatalf("ran %v status %d headers %v", ran, rec.Code, rec.Header())
	}
}
