package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	"github.com/tollgate/tollgate/ratelimit"
)

// env is the API with its stand-ins, on a fake clock.
type env struct {
	t         *testing.T
	clock     *authtest.Clock
	auth      *authServer
	customers *authtest.Issuer
	api       http.Handler
	reached   atomic.Int64 // requests that got to an application handler
}

func newEnv(t *testing.T, limit ratelimit.Limit) *env {
	t.Helper()
	e := &env{t: t, clock: authtest.NewClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))}
	e.auth = &authServer{clientID: "orders-api", clientSecret: "s3cret:with/odd chars", now: e.clock.Now, tokens: demoMerchantTokens(e.clock.Now())}
	introspection := httptest.NewServer(e.auth)
	t.Cleanup(introspection.Close)
	e.customers = authtest.NewIssuer(t, authtest.WithClock(e.clock.Now))

	api, err := newAPI(t.Context(), config{
		IntrospectionURL: introspection.URL,
		ClientID:         e.auth.clientID,
		ClientSecret:     e.auth.clientSecret,
		CustomerIssuer:   e.customers.URL(),
		CustomerJWKSURL:  e.customers.JWKSURL(),
		Audience:         "orders-api",
		RateLimit:        limit,
		Now:              e.clock.Now,
		Instrument: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				e.reached.Add(1)
				h.ServeHTTP(w, r)
			})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.api = api
	return e
}

// customerToken is a customer access token (RFC 9068 "at+jwt").
func (e *env) customerToken() string {
	return e.customers.Mint(map[string]any{"sub": "cus_1", "aud": "orders-api"}, authtest.WithHeader("typ", "at+jwt"))
}

// customerRefreshToken is signed by the same issuer for the same audience,
// but is not an access token.
func (e *env) customerRefreshToken() string {
	exp := e.clock.Now().Add(30 * 24 * time.Hour).Unix()
	return e.customers.Mint(map[string]any{"sub": "cus_1", "aud": "orders-api", "token_use": "refresh", "exp": exp},
		authtest.WithHeader("typ", "JWT"))
}

type call struct {
	method, path string
	token        string
	org, app     string // tenant headers; "" leaves the header out
}

// merchant is a call with a merchant token and the tenant headers of org_1.
func merchant(method, path, token string) call {
	return call{method: method, path: path, token: token, org: "org_1", app: "app_1"}
}

func (e *env) do(c call) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequest(c.method, c.path, nil)
	if c.token != "" {
		r.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.org != "" {
		r.Header.Set("X-Organization-Id", c.org)
	}
	if c.app != "" {
		r.Header.Set("X-App-Id", c.app)
	}
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	return w
}

// problem is the RFC 9457 body of a refusal.
type problem struct {
	Type       string   `json:"type"`
	Title      string   `json:"title"`
	Status     int      `json:"status"`
	Detail     string   `json:"detail"`
	Code       string   `json:"code"`
	Scopes     []string `json:"scopes"`
	RetryAfter int64    `json:"retry_after"`
}

func decodeProblem(t *testing.T, w *httptest.ResponseRecorder) problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json; body %s", ct, w.Body)
	}
	var p problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	if p.Type != "about:blank" || p.Status != w.Code || p.Title != http.StatusText(w.Code) || p.Detail == "" {
		t.Errorf("problem %+v does not describe status %d", p, w.Code)
	}
	return p
}

var defaultLimit = ratelimit.Limit{Events: 100, Per: time.Minute}

func TestMerchantAndCustomerRoutes(t *testing.T) {
	tests := []struct {
		name   string
		call   func(e *env) call
		status int
		// code is the problem's code for a refusal; "" for an admitted call.
		code      string
		scopes    []string
		challenge string // WWW-Authenticate, when one is expected
		body      string // a member the handler writes, for an admitted call
	}{
		{
			name:   "merchant token with can_read_order lists the orders of its organization",
			call:   func(*env) call { return merchant("GET", "/orders", "mt_live_readonly") },
			status: 200, body: `"org_id":"org_1"`,
		},
		{
			name:   "merchant token with can_write_order creates an order",
			call:   func(*env) call { return merchant("POST", "/orders", "mt_live_readwrite") },
			status: 201, body: `"order":"ord_3"`,
		},
		{
			name:   "merchant token without can_write_order is refused with 403 naming the permission",
			call:   func(*env) call { return merchant("POST", "/orders", "mt_live_readonly") },
			status: 403, code: "insufficient_scope", scopes: []string{"can_write_order"},
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="The access token does not grant the required scope", scope="can_write_order"`,
		},
		{
			name:   "request without a token is refused with 401 and a bare challenge",
			call:   func(*env) call { return merchant("GET", "/orders", "") },
			status: 401, code: "missing_token", challenge: `Bearer realm="api"`,
		},
		{
			name:   "unknown merchant token is refused with 401",
			call:   func(*env) call { return merchant("GET", "/orders", "mt_live_made_up") },
			status: 401, code: "invalid_token",
			challenge: `Bearer realm="api", error="invalid_token", error_description="The access token is invalid"`,
		},
		{
			name:   "inactive merchant token is refused with 401",
			call:   func(*env) call { return merchant("GET", "/orders", "mt_live_inactive") },
			status: 401, code: "invalid_token",
			challenge: `Bearer realm="api", error="invalid_token", error_description="The access token is invalid"`,
		},
		{
			name:   "expired merchant token is refused with 401",
			call:   func(*env) call { return merchant("GET", "/orders", "mt_live_expired") },
			status: 401, code: "invalid_token",
			challenge: `Bearer realm="api", error="invalid_token", error_description="The access token is invalid"`,
		},
		{
			name: "merchant token without the organization header is refused with 400",
			call: func(*env) call {
				c := merchant("GET", "/orders", "mt_live_readwrite")
				c.org = ""
				return c
			},
			status: 400, code: "validation",
		},
		{
			name: "merchant token without the app header is refused with 400",
			call: func(*env) call {
				c := merchant("GET", "/orders", "mt_live_readwrite")
				c.app = ""
				return c
			},
			status: 400, code: "validation",
		},
		{
			name: "organization header of another organization is refused with 403",
			call: func(*env) call {
				c := merchant("GET", "/orders", "mt_live_readwrite")
				c.org = "org_2"
				return c
			},
			status: 403, code: "forbidden",
		},
		{
			name: "app header of another app is refused with 403",
			call: func(*env) call {
				c := merchant("GET", "/orders", "mt_live_readwrite")
				c.app = "app_2"
				return c
			},
			status: 403, code: "forbidden",
		},
		{
			name:   "merchant token of another organization is refused with 403 on this organization's headers",
			call:   func(*env) call { return merchant("GET", "/orders", "mt_live_other_org") },
			status: 403, code: "forbidden",
		},
		{
			name:   "merchant token on a customer-only route is refused with 403",
			call:   func(*env) call { return merchant("GET", "/me/orders", "mt_live_readwrite") },
			status: 403, code: "wrong_token_type",
		},
		{
			name:   "customer access token reads the customer's orders",
			call:   func(e *env) call { return call{method: "GET", path: "/me/orders", token: e.customerToken()} },
			status: 200, body: `"customer":"cus_1"`,
		},
		{
			name:   "customer access token on a merchant-only route is refused with 403",
			call:   func(e *env) call { return merchant("GET", "/orders", e.customerToken()) },
			status: 403, code: "wrong_token_type",
		},
		{
			name:   "customer refresh token is not accepted as an access token",
			call:   func(e *env) call { return call{method: "GET", path: "/me/orders", token: e.customerRefreshToken()} },
			status: 401, code: "invalid_token",
			challenge: `Bearer realm="api", error="invalid_token", error_description="The access token is invalid"`,
		},
		{
			name: "customer token for another audience is refused with 401",
			call: func(e *env) call {
				tok := e.customers.Mint(map[string]any{"sub": "cus_1", "aud": "billing-api"}, authtest.WithHeader("typ", "at+jwt"))
				return call{method: "GET", path: "/me/orders", token: tok}
			},
			status: 401, code: "invalid_token",
			challenge: `Bearer realm="api", error="invalid_token", error_description="The access token is invalid"`,
		},
		{
			name: "expired customer token is refused with 401 saying so",
			call: func(e *env) call {
				tok := e.customers.Mint(map[string]any{"sub": "cus_1", "aud": "orders-api", "exp": e.clock.Now().Add(-time.Hour).Unix()},
					authtest.WithHeader("typ", "at+jwt"))
				return call{method: "GET", path: "/me/orders", token: tok}
			},
			status: 401, code: "expired_token",
			challenge: `Bearer realm="api", error="invalid_token", error_description="The access token expired"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, defaultLimit)
			w := e.do(tt.call(e))
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
			if tt.code == "" {
				if e.reached.Load() != 1 {
					t.Errorf("handler reached %d times, want 1", e.reached.Load())
				}
				if !json.Valid(w.Body.Bytes()) || !strings.Contains(w.Body.String(), tt.body) {
					t.Errorf("body = %s, want it to contain %s", w.Body, tt.body)
				}
				return
			}
			if n := e.reached.Load(); n != 0 {
				t.Errorf("a refused request reached the handler (%d times)", n)
			}
			p := decodeProblem(t, w)
			if p.Code != tt.code {
				t.Errorf("code = %q, want %q", p.Code, tt.code)
			}
			if !slices.Equal(p.Scopes, tt.scopes) {
				t.Errorf("scopes = %q, want %q", p.Scopes, tt.scopes)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", w.Header().Get("Cache-Control"))
			}
		})
	}
}

func TestCachedIntrospectionAnswer(t *testing.T) {
	tests := []struct {
		name     string
		token    string
		advance  time.Duration // between the first and the second call
		second   call
		status   int
		code     string
		askedFor int64 // introspection calls over both requests
	}{
		{
			name:   "permission check applies to a cached answer: the read-only token still cannot write",
			token:  "mt_live_readonly",
			second: merchant("POST", "/orders", "mt_live_readonly"),
			status: 403, code: "insufficient_scope", askedFor: 1,
		},
		{
			name:   "tenant check applies to a cached answer",
			token:  "mt_live_readwrite",
			second: call{method: "GET", path: "/orders", token: "mt_live_readwrite", org: "org_2", app: "app_1"},
			status: 403, code: "forbidden", askedFor: 1,
		},
		{
			name:   "token type check applies to a cached answer",
			token:  "mt_live_readwrite",
			second: call{method: "GET", path: "/me/orders", token: "mt_live_readwrite"},
			status: 403, code: "wrong_token_type", askedFor: 1,
		},
		{
			name:    "cached answer is reused within its lifetime",
			token:   "mt_live_readwrite",
			advance: time.Minute,
			second:  merchant("GET", "/orders", "mt_live_readwrite"),
			status:  200, askedFor: 1,
		},
		{
			name:    "merchant token that expires after it was cached is refused with 401",
			token:   "mt_live_readonly",
			advance: time.Hour,
			second:  merchant("GET", "/orders", "mt_live_readonly"),
			status:  401, code: "invalid_token", askedFor: 2,
		},
		{
			name:    "merchant token without expiry is asked about again after the cache lifetime and still admitted",
			token:   "mt_live_readwrite",
			advance: 24 * time.Hour,
			second:  merchant("GET", "/orders", "mt_live_readwrite"),
			status:  200, askedFor: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, defaultLimit)
			if w := e.do(merchant("GET", "/orders", tt.token)); w.Code != 200 {
				t.Fatalf("first call: status %d, body %s", w.Code, w.Body)
			}
			e.clock.Advance(tt.advance)
			w := e.do(tt.second)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if tt.code != "" {
				if p := decodeProblem(t, w); p.Code != tt.code {
					t.Errorf("code = %q, want %q", p.Code, tt.code)
				}
				if n := e.reached.Load(); n != 1 {
					t.Errorf("handler reached %d times, want only by the first call", n)
				}
			}
			if n := e.auth.calls.Load(); n != tt.askedFor {
				t.Errorf("introspection endpoint asked %d times, want %d", n, tt.askedFor)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	limit := ratelimit.Limit{Events: 3, Per: time.Minute} // a token back every 20s
	type step struct {
		advance   time.Duration
		call      func(e *env) call
		status    int
		remaining string
		reset     time.Duration // X-RateLimit-Reset, from the start of the test
		retry     string        // Retry-After; "" for none
	}
	readwrite := func(*env) call { return merchant("GET", "/orders", "mt_live_readwrite") }
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "a caller's fourth request in a burst of three is refused with 429 until a token is back",
			steps: []step{
				{call: readwrite, status: 200, remaining: "2", reset: 20 * time.Second},
				{call: readwrite, status: 200, remaining: "1", reset: 40 * time.Second},
				{call: readwrite, status: 200, remaining: "0", reset: 60 * time.Second},
				{call: readwrite, status: 429, remaining: "0", reset: 60 * time.Second, retry: "20"},
				{advance: 10 * time.Second, call: readwrite, status: 429, remaining: "0", reset: 60 * time.Second, retry: "10"},
				{advance: 10 * time.Second, call: readwrite, status: 200, remaining: "0", reset: 80 * time.Second},
			},
		},
		{
			name: "callers have their own buckets: a spent merchant does not limit a customer",
			steps: []step{
				{call: readwrite, status: 200, remaining: "2", reset: 20 * time.Second},
				{call: readwrite, status: 200, remaining: "1", reset: 40 * time.Second},
				{call: readwrite, status: 200, remaining: "0", reset: 60 * time.Second},
				{call: readwrite, status: 429, remaining: "0", reset: 60 * time.Second, retry: "20"},
				{call: func(e *env) call { return call{method: "GET", path: "/me/orders", token: e.customerToken()} },
					status: 200, remaining: "2", reset: 20 * time.Second},
			},
		},
		{
			name: "refusals after authentication count against the caller's limit",
			steps: []step{
				{call: func(*env) call { return merchant("POST", "/orders", "mt_live_readonly") }, status: 403, remaining: "2", reset: 20 * time.Second},
				{call: func(*env) call { return merchant("GET", "/orders", "mt_live_readonly") }, status: 200, remaining: "1", reset: 40 * time.Second},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, limit)
			start := e.clock.Now()
			var admitted int64
			for i, s := range tt.steps {
				e.clock.Advance(s.advance)
				w := e.do(s.call(e))
				h := w.Header()
				if w.Code != s.status {
					t.Fatalf("step %d: status = %d, want %d; body %s", i, w.Code, s.status, w.Body)
				}
				wantReset := strconv.FormatInt(start.Add(s.reset).Unix(), 10)
				if h.Get("X-RateLimit-Limit") != "3" || h.Get("X-RateLimit-Remaining") != s.remaining || h.Get("X-RateLimit-Reset") != wantReset {
					t.Errorf("step %d: X-RateLimit-Limit/Remaining/Reset = %q/%q/%q, want 3/%s/%s", i,
						h.Get("X-RateLimit-Limit"), h.Get("X-RateLimit-Remaining"), h.Get("X-RateLimit-Reset"), s.remaining, wantReset)
				}
				if h.Get("Retry-After") != s.retry {
					t.Errorf("step %d: Retry-After = %q, want %q", i, h.Get("Retry-After"), s.retry)
				}
				if s.status == 200 {
					admitted++
				}
				if s.status == 429 {
					p := decodeProblem(t, w)
					if p.Code != "rate_limited" || strconv.FormatInt(p.RetryAfter, 10) != s.retry {
						t.Errorf("step %d: problem %+v, want rate_limited with retry_after %s", i, p, s.retry)
					}
				}
				if n := e.reached.Load(); n != admitted {
					t.Errorf("step %d: handler reached %d times, want %d", i, n, admitted)
				}
			}
		})
	}
}
