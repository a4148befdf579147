package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"

	"github.com/tollgate/tollgate/ipfilter"
)

// Addresses: acme may call only from officeIP's /24; strangerIP is on no
// list; deniedIP is on the static deny list.
const (
	officeIP   = "203.0.113.7"
	strangerIP = "192.0.2.7"
	deniedIP   = "198.51.100.7"
	proxyIP    = "10.0.0.1"
)

type env struct {
	t       *testing.T
	clock   *authtest.Clock
	api     http.Handler
	reached atomic.Int64 // requests that got to an application handler
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, clock: authtest.NewClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))}
	accounts := &ipfilter.MemoryAccounts{}
	if err := accounts.Set("acme", "203.0.113.0/24"); err != nil {
		t.Fatal(err)
	}
	api, err := newAPI(t.Context(), config{
		Secret:         []byte("0123456789abcdef0123456789abcdef"),
		Passwords:      map[string]string{"acme": "acme-password", "globex": "globex-password"},
		Accounts:       accounts,
		TrustedProxies: []string{"10.0.0.0/24"},
		Deny:           []string{"198.51.100.0/24"},
		Now:            e.clock.Now,
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

type request struct {
	method, path string
	from         string // the client IP (RemoteAddr)
	forwardedFor string // X-Forwarded-For, when from is a trusted proxy
	token        string // bearer token
	body         string
}

func (e *env) do(q request) *httptest.ResponseRecorder {
	r := httptest.NewRequest(q.method, q.path, strings.NewReader(q.body))
	r.RemoteAddr = q.from + ":40000"
	if q.forwardedFor != "" {
		r.Header.Set("X-Forwarded-For", q.forwardedFor)
	}
	if q.token != "" {
		r.Header.Set("Authorization", "Bearer "+q.token)
	}
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	return w
}

type tokens struct {
	Access    string `json:"access_token"`
	Refresh   string `json:"refresh_token"`
	Type      string `json:"token_type"`
	ExpiresIn int    `json:"expires_in"`
}

func decodeTokens(t *testing.T, w *httptest.ResponseRecorder) tokens {
	t.Helper()
	var tk tokens
	if err := json.Unmarshal(w.Body.Bytes(), &tk); err != nil || tk.Access == "" || tk.Type != "Bearer" || tk.ExpiresIn != 3600 {
		t.Fatalf("token response %s (%v)", w.Body, err)
	}
	return tk
}

// login logs account in from addr and returns its tokens.
func (e *env) login(account, addr string) tokens {
	e.t.Helper()
	w := e.do(request{method: "POST", path: "/login", from: addr, body: `{"username":"` + account + `","password":"` + account + `-password"}`})
	if w.Code != http.StatusOK {
		e.t.Fatalf("login %s from %s: %d %s", account, addr, w.Code, w.Body)
	}
	tk := decodeTokens(e.t, w)
	if tk.Refresh == "" {
		e.t.Fatalf("login gave no refresh token: %s", w.Body)
	}
	return tk
}

func refreshBody(token string) string { return `{"refresh_token":"` + token + `"}` }

// envelope is the body of every refusal.
type envelope struct {
	Error struct {
		Name    string `json:"name"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func TestB2B(t *testing.T) {
	const (
		unauthorized = "UnauthorizedError/UNAUTHORIZED"
		forbidden    = "ForbiddenError/FORBIDDEN"
		validation   = "ValidationException/VALIDATION_FAILURE"
		syntax       = "SyntaxError/SYNTAX_ERROR"
	)
	tests := []struct {
		name string
		// prepare performs any earlier steps (logins, time passing) and
		// returns the request under test.
		prepare func(e *env) request
		status  int
		refusal string // envelope name/code; "" for an admitted request
		message string // the envelope's message, when it matters
		reached bool   // whether the request under test got to its handler
		body    string // for an admitted request, a fragment of the body
	}{
		{
			name: "restricted account logs in from its allowed range",
			prepare: func(*env) request {
				return request{method: "POST", path: "/login", from: officeIP, body: `{"username":"acme","password":"acme-password"}`}
			},
			status: 200, reached: true, body: `"refresh_token":`,
		},
		{
			name: "unrestricted account logs in from anywhere",
			prepare: func(*env) request {
				return request{method: "POST", path: "/login", from: strangerIP, body: `{"username":"globex","password":"globex-password"}`}
			},
			status: 200, reached: true, body: `"access_token":`,
		},
		{
			name: "login for a restricted account from a denied IP is refused with 403 before the password is checked",
			prepare: func(*env) request {
				return request{method: "POST", path: "/login", from: strangerIP, body: `{"username":"acme","password":"wrong"}`}
			},
			status: 403, refusal: forbidden, message: "Access from this address is not allowed",
		},
		{
			name: "login with the right password from a denied IP is refused with 403",
			prepare: func(*env) request {
				return request{method: "POST", path: "/login", from: strangerIP, body: `{"username":"acme","password":"acme-password"}`}
			},
			status: 403, refusal: forbidden,
		},
		{
			name: "behind a trusted proxy, the forwarded address is the one checked: allowed",
			prepare: func(*env) request {
				return request{method: "POST", path: "/login", from: proxyIP, forwardedFor: officeIP, body: `{"username":"acme","password":"acme-password"}`}
			},
			status: 200, reached: true, body: `"access_token":`,
		},
		{
			name: "behind a trusted proxy, the forwarded address is the one checked: denied",
			prepare: func(*env) request {
				return request{method: "POST", path: "/login", from: proxyIP, forwardedFor: strangerIP, body: `{"username":"acme","password":"acme-password"}`}
			},
			status: 403, refusal: forbidden,
		},
		{
			name: "X-Forwarded-For from a client that is not a trusted proxy is ignored",
			prepare: func(*env) request {
				return request{method: "POST", path: "/login", from: strangerIP, forwardedFor: officeIP, body: `{"username":"acme","password":"acme-password"}`}
			},
			status: 403, refusal: forbidden,
		},
		{
			name: "wrong password from an allowed IP is refused with 401",
			prepare: func(*env) request {
				return request{method: "POST", path: "/login", from: officeIP, body: `{"username":"acme","password":"wrong"}`}
			},
			status: 401, refusal: unauthorized, message: "The username or password is wrong", reached: true,
		},
		{
			name: "unknown user is refused with 401 like a wrong password",
			prepare: func(*env) request {
				return request{method: "POST", path: "/login", from: strangerIP, body: `{"username":"initech","password":"x"}`}
			},
			status: 401, refusal: unauthorized, message: "The username or password is wrong", reached: true,
		},
		{
			name: "login body that is not JSON is refused with 400 SyntaxError",
			prepare: func(*env) request {
				return request{method: "POST", path: "/login", from: officeIP, body: `username=acme&password=acme-password`}
			},
			status: 400, refusal: syntax, message: "The request body is not valid JSON", reached: true,
		},
		{
			name: "login body without a password is refused with 400 ValidationException",
			prepare: func(*env) request {
				return request{method: "POST", path: "/login", from: officeIP, body: `{"username":"acme"}`}
			},
			status: 400, refusal: validation, message: "username and password are required", reached: true,
		},
		{
			name: "login body with a field of the wrong type is refused with 400 ValidationException",
			prepare: func(*env) request {
				return request{method: "POST", path: "/login", from: officeIP, body: `{"username":"acme","password":42}`}
			},
			status: 400, refusal: validation, reached: true,
		},
		{
			name: "address on the static deny list is refused with 403 before authentication",
			prepare: func(*env) request {
				return request{method: "GET", path: "/invoices", from: deniedIP}
			},
			status: 403, refusal: forbidden,
		},
		{
			name: "address on the static deny list cannot log in, even to an unrestricted account",
			prepare: func(*env) request {
				return request{method: "POST", path: "/login", from: deniedIP, body: `{"username":"globex","password":"globex-password"}`}
			},
			status: 403, refusal: forbidden,
		},
		{
			name: "access token of a restricted account reads invoices from its range",
			prepare: func(e *env) request {
				return request{method: "GET", path: "/invoices", from: "203.0.113.99", token: e.login("acme", officeIP).Access}
			},
			status: 200, reached: true, body: `"account":"acme"`,
		},
		{
			name: "access token of a restricted account used from another address is refused with 403",
			prepare: func(e *env) request {
				return request{method: "GET", path: "/invoices", from: strangerIP, token: e.login("acme", officeIP).Access}
			},
			status: 403, refusal: forbidden,
		},
		{
			name: "request without a token is refused with 401",
			prepare: func(*env) request {
				return request{method: "GET", path: "/invoices", from: officeIP}
			},
			status: 401, refusal: unauthorized, message: "Authentication is required",
		},
		{
			name: "refresh token used as an access token is refused with 401",
			prepare: func(e *env) request {
				return request{method: "GET", path: "/invoices", from: strangerIP, token: e.login("globex", strangerIP).Refresh}
			},
			status: 401, refusal: unauthorized, message: "The access token is invalid",
		},
		{
			name: "refresh token gives a new access token",
			prepare: func(e *env) request {
				return request{method: "POST", path: "/token/refresh", from: officeIP, body: refreshBody(e.login("acme", officeIP).Refresh)}
			},
			status: 200, reached: true, body: `"access_token":`,
		},
		{
			name: "refresh for a restricted account from a denied IP is refused with 403",
			prepare: func(e *env) request {
				return request{method: "POST", path: "/token/refresh", from: strangerIP, body: refreshBody(e.login("acme", officeIP).Refresh)}
			},
			status: 403, refusal: forbidden,
		},
		{
			name: "access token used on refresh is refused with 401",
			prepare: func(e *env) request {
				return request{method: "POST", path: "/token/refresh", from: officeIP, body: refreshBody(e.login("acme", officeIP).Access)}
			},
			status: 401, refusal: unauthorized, message: "The refresh token is invalid", reached: true,
		},
		{
			name: "refresh body without a refresh token is refused with 400 ValidationException",
			prepare: func(*env) request {
				return request{method: "POST", path: "/token/refresh", from: officeIP, body: `{}`}
			},
			status: 400, refusal: validation, reached: true,
		},
		{
			name: "expired access token is refused with 401 saying so",
			prepare: func(e *env) request {
				tk := e.login("globex", strangerIP)
				e.clock.Advance(time.Hour + time.Minute)
				return request{method: "GET", path: "/invoices", from: strangerIP, token: tk.Access}
			},
			status: 401, refusal: unauthorized, message: "The access token expired",
		},
		{
			name: "refresh token still works after its access token expired",
			prepare: func(e *env) request {
				tk := e.login("globex", strangerIP)
				e.clock.Advance(6 * 24 * time.Hour)
				return request{method: "POST", path: "/token/refresh", from: strangerIP, body: refreshBody(tk.Refresh)}
			},
			status: 200, reached: true, body: `"access_token":`,
		},
		{
			name: "refresh token older than seven days is refused with 401",
			prepare: func(e *env) request {
				tk := e.login("globex", strangerIP)
				e.clock.Advance(7*24*time.Hour + time.Minute)
				return request{method: "POST", path: "/token/refresh", from: strangerIP, body: refreshBody(tk.Refresh)}
			},
			status: 401, refusal: unauthorized, message: "The refresh token expired", reached: true,
		},
		{
			name: "logout revokes the access token: the next request with it is refused with 401",
			prepare: func(e *env) request {
				tk := e.login("globex", strangerIP)
				if w := e.do(request{method: "POST", path: "/logout", from: strangerIP, token: tk.Access}); w.Code != http.StatusNoContent {
					e.t.Fatalf("logout: %d %s", w.Code, w.Body)
				}
				return request{method: "GET", path: "/invoices", from: strangerIP, token: tk.Access}
			},
			status: 401, refusal: unauthorized, message: "The access token is invalid",
		},
		{
			name: "logout revokes the session's refresh token too",
			prepare: func(e *env) request {
				tk := e.login("globex", strangerIP)
				if w := e.do(request{method: "POST", path: "/logout", from: strangerIP, token: tk.Access}); w.Code != http.StatusNoContent {
					e.t.Fatalf("logout: %d %s", w.Code, w.Body)
				}
				return request{method: "POST", path: "/token/refresh", from: strangerIP, body: refreshBody(tk.Refresh)}
			},
			status: 401, refusal: unauthorized, message: "The refresh token was revoked", reached: true,
		},
		{
			name: "logout of one session leaves the account's other sessions working",
			prepare: func(e *env) request {
				first, second := e.login("globex", strangerIP), e.login("globex", strangerIP)
				if w := e.do(request{method: "POST", path: "/logout", from: strangerIP, token: first.Access}); w.Code != http.StatusNoContent {
					e.t.Fatalf("logout: %d %s", w.Code, w.Body)
				}
				return request{method: "GET", path: "/invoices", from: strangerIP, token: second.Access}
			},
			status: 200, reached: true, body: `"account":"globex"`,
		},
		{
			name: "access token from a refresh reads invoices",
			prepare: func(e *env) request {
				w := e.do(request{method: "POST", path: "/token/refresh", from: officeIP, body: refreshBody(e.login("acme", officeIP).Refresh)})
				if w.Code != http.StatusOK {
					e.t.Fatalf("refresh: %d %s", w.Code, w.Body)
				}
				return request{method: "GET", path: "/invoices", from: officeIP, token: decodeTokens(e.t, w).Access}
			},
			status: 200, reached: true, body: `"account":"acme"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			q := tt.prepare(e)
			before := e.reached.Load()
			w := e.do(q)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if reached := e.reached.Load() > before; reached != tt.reached {
				t.Errorf("handler reached = %v, want %v", reached, tt.reached)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			if tt.refusal == "" {
				if !json.Valid(w.Body.Bytes()) || !strings.Contains(w.Body.String(), tt.body) {
					t.Errorf("body = %s, want it to contain %s", w.Body, tt.body)
				}
				return
			}
			var env envelope
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
				t.Fatalf("body %s: %v", w.Body, err)
			}
			if got := env.Error.Name + "/" + env.Error.Code; got != tt.refusal {
				t.Errorf("error name/code = %s, want %s", got, tt.refusal)
			}
			if env.Error.Message == "" || tt.message != "" && env.Error.Message != tt.message {
				t.Errorf("error message = %q, want %q", env.Error.Message, tt.message)
			}
			if challenge := w.Header().Get("WWW-Authenticate"); (w.Code == 401) != strings.HasPrefix(challenge, "Bearer") {
				t.Errorf("status %d with WWW-Authenticate %q", w.Code, challenge)
			}
			for _, leak := range []string{q.from, q.forwardedFor, "acme-password"} {
				if leak != "" && strings.Contains(w.Body.String(), leak) {
					t.Errorf("refusal echoes %q: %s", leak, w.Body)
				}
			}
		})
	}
}
