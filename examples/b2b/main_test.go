package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	"github.com/tollgate/tollgate/examples/internal/demo"
	"github.com/tollgate/tollgate/ipfilter"
	"github.com/tollgate/tollgate/issuer"
)

// Addresses: acme may call only from officeIP's /24; strangerIP is on no
// list; deniedIP is on the static deny list.
const (
	officeIP   = "203.0.113.7"
	strangerIP = "192.0.2.7"
	deniedIP   = "198.51.100.7"
	proxyIP    = "10.0.0.1"
)

func TestMain(m *testing.M) {
	// Hashes cheap enough for tests; the format and the check are the same.
	argon2Params = issuer.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltBytes: 16, KeyBytes: 32}
	os.Exit(m.Run())
}

// clock is the injected clock: no test sleeps.
type clock = authtest.Clock

// countingSessions counts the rotations of the session store, to show
// that a refused refresh rotated nothing.
type countingSessions struct {
	issuer.SessionStore
	creates, rotations atomic.Int64
}

func (s *countingSessions) Create(ctx context.Context, sess issuer.Session, first issuer.TokenHash, exp time.Time) error {
	s.creates.Add(1)
	return s.SessionStore.Create(ctx, sess, first, exp)
}

func (s *countingSessions) Rotate(ctx context.Context, clientID string, used, next issuer.TokenHash, now time.Time) (issuer.Session, time.Time, error) {
	sess, exp, err := s.SessionStore.Rotate(ctx, clientID, used, next, now)
	if err == nil {
		s.rotations.Add(1)
	}
	return sess, exp, err
}

type env struct {
	t        *testing.T
	clock    *clock
	api      *api
	sessions *countingSessions
	reached  atomic.Int64 // requests that got to an API handler
	logins   atomic.Int64 // passwords checked
}

var passwords = map[string]string{"acme": "acme-password", "globex": "globex-password"}

// testConfig is the API's configuration on memory stores: acme may call
// only from 203.0.113.0/24, globex from anywhere.
func testConfig(t *testing.T, e *env, store issuer.SessionStore) config {
	t.Helper()
	accounts := &ipfilter.MemoryAccounts{}
	if err := accounts.Set("acme", "203.0.113.0/24"); err != nil {
		t.Fatal(err)
	}
	users := map[string]string{}
	for u, p := range passwords {
		users[u] = hashPassword(p)
	}
	check := passwordChecker(users)
	if store == nil {
		store = &issuer.MemorySessionStore{}
	}
	e.sessions = &countingSessions{SessionStore: store}
	return config{
		Login: func(ctx context.Context, username, password string) (string, error) {
			e.logins.Add(1)
			return check(ctx, username, password)
		},
		Accounts:       accounts,
		Sessions:       e.sessions,
		TrustedProxies: []string{"10.0.0.0/24"},
		Deny:           []string{"198.51.100.0/24"},
		Now:            e.clock.Now,
		Instrument: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/auth/logout" {
					e.reached.Add(1)
				}
				h.ServeHTTP(w, r)
			})
		},
	}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, clock: authtest.NewClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))}
	e.build(testConfig(t, e, nil))
	return e
}

func (e *env) build(cfg config) {
	e.t.Helper()
	a, err := newAPI(e.t.Context(), cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = a.verifier.Close() })
	e.api = a
}

type request struct {
	method, path string
	from         string // the client IP (RemoteAddr)
	forwardedFor string // X-Forwarded-For, when from is a trusted proxy
	token        string // bearer token
	contentType  string // default application/json when there is a body
	body         string
}

func (e *env) do(q request) *httptest.ResponseRecorder {
	r := httptest.NewRequest(q.method, q.path, strings.NewReader(q.body))
	if q.from == "" {
		q.from = strangerIP
	}
	r.RemoteAddr = q.from + ":40000"
	if q.forwardedFor != "" {
		r.Header.Set("X-Forwarded-For", q.forwardedFor)
	}
	if q.token != "" {
		r.Header.Set("Authorization", "Bearer "+q.token)
	}
	if q.contentType != "" {
		r.Header.Set("Content-Type", q.contentType)
	} else if q.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	return w
}

func loginBody(account string) string {
	return `{"username":"` + account + `","password":"` + passwords[account] + `"}`
}

func refreshBody(token string) string { return `{"refresh_token":"` + token + `"}` }

func loginReq(account, from string) request {
	return request{method: "POST", path: "/auth/login", from: from, body: loginBody(account)}
}

func refreshReq(token, from string) request {
	return request{method: "POST", path: "/auth/refresh", from: from, body: refreshBody(token)}
}

func productsReq(token, from string) request {
	return request{method: "GET", path: "/api/v1/products", from: from, token: token}
}

type pair struct {
	Access, Refresh string
}

// tokens checks a login or refresh answer exactly, issued at issuedAt for
// a session that began at began, and returns the tokens.
func (e *env) tokens(w *httptest.ResponseRecorder, issuedAt, began time.Time) pair {
	e.t.Helper()
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" {
		e.t.Fatalf("status %d, headers %v, body %s", w.Code, w.Header(), w.Body)
	}
	var body struct {
		Success bool                       `json:"success"`
		Data    map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || !body.Success {
		e.t.Fatalf("body %s (%v)", w.Body, err)
	}
	var keys []string
	for k := range body.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if strings.Join(keys, ",") != "access_expires_at,access_token,client_id,refresh_expires_at,refresh_token" {
		e.t.Fatalf("data members %v", keys)
	}
	var d tokenData
	_ = json.Unmarshal(w.Body.Bytes()[len(`{"success":true,"data":`):len(w.Body.Bytes())-2], &d)
	want := tokenData{
		AccessToken: d.AccessToken, RefreshToken: d.RefreshToken, ClientID: "b2b-web",
		AccessExpiresAt:  issuedAt.Add(time.Hour).Format(time.RFC3339),
		RefreshExpiresAt: began.Add(7 * 24 * time.Hour).Format(time.RFC3339),
	}
	if d != want || strings.Count(d.AccessToken, ".") != 2 || len(d.RefreshToken) != 43 {
		e.t.Fatalf("data %+v, want %+v", d, want)
	}
	return pair{d.AccessToken, d.RefreshToken}
}

func (e *env) login(account, from string) pair {
	e.t.Helper()
	now := e.clock.Now()
	return e.tokens(e.do(loginReq(account, from)), now, now)
}

const productsBody = `{"success":true,"data":[{"id":"prod_1","name":"Pallet of widgets","price_cents":129900},{"id":"prod_2","name":"Crate of gadgets","price_cents":45000}]}` + "\n"

func refusal(name, code, message string) string {
	return `{"success":false,"error":{"name":"` + name + `","code":"` + code + `","message":"` + message + `"}}` + "\n"
}

// refused checks a refusal: status, the envelope exactly, no-store, the
// challenge, and that no API handler ran.
func (e *env) refused(w *httptest.ResponseRecorder, status int, body, challenge string) {
	e.t.Helper()
	if w.Code != status || w.Body.String() != body || w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Content-Type") != "application/json" {
		e.t.Fatalf("status %d, headers %v, body %s; want %d %s", w.Code, w.Header(), w.Body, status, body)
	}
	if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, challenge) || (challenge == "") != (got == "") {
		e.t.Fatalf("challenge %q, want %q…", got, challenge)
	}
}

const (
	basic  = `Basic realm="b2b"`
	bearer = `Bearer realm="api"`
)

var (
	badRefresh   = refusal("UnauthorizedError", "UNAUTHORIZED", "the grant is invalid, expired or revoked")
	badLogin     = refusal("UnauthorizedError", "UNAUTHORIZED", "wrong username or password")
	signInDenied = refusal("ForbiddenError", "FORBIDDEN", "sign-in is not allowed from this address")
	ipDenied     = refusal("ForbiddenError", "FORBIDDEN", "Access from this address is not allowed")
)

func TestLoginAPIRefreshAndAReusedRefreshTokenEndsTheSession(t *testing.T) {
	e := newEnv(t)
	began := e.clock.Now()
	first := e.login("globex", strangerIP)
	w := e.do(productsReq(first.Access, strangerIP))
	if w.Code != http.StatusOK || w.Body.String() != productsBody {
		t.Fatalf("products: %d %s", w.Code, w.Body)
	}

	e.clock.Advance(10 * time.Minute)
	second := e.tokens(e.do(refreshReq(first.Refresh, strangerIP)), e.clock.Now(), began)
	if second.Refresh == first.Refresh || second.Access == first.Access {
		t.Fatal("refresh did not rotate the pair")
	}
	if w := e.do(productsReq(second.Access, strangerIP)); w.Code != http.StatusOK {
		t.Fatalf("the new access token: %d %s", w.Code, w.Body)
	}

	// The spent refresh token again: refused, and the whole session ends.
	reached := e.reached.Load()
	e.refused(e.do(refreshReq(first.Refresh, strangerIP)), 401, badRefresh, basic)
	e.refused(e.do(refreshReq(second.Refresh, strangerIP)), 401, badRefresh, basic)
	for _, access := range []string{first.Access, second.Access} {
		e.refused(e.do(productsReq(access, strangerIP)), 401, refusal("UnauthorizedError", "UNAUTHORIZED", "The access token is invalid"), bearer)
	}
	if e.reached.Load() != reached {
		t.Fatal("a refused request reached the API")
	}
	// Another login is a new session, unaffected.
	third := e.login("globex", strangerIP)
	if w := e.do(productsReq(third.Access, strangerIP)); w.Code != http.StatusOK {
		t.Fatalf("a new session: %d %s", w.Code, w.Body)
	}
}

func TestLogoutEndsTheSessionItsAccessAndRefreshTokensAreRefused(t *testing.T) {
	e := newEnv(t)
	tk := e.login("globex", strangerIP)
	w := e.do(request{method: "POST", path: "/auth/logout", from: strangerIP, token: tk.Access})
	if w.Code != http.StatusOK || w.Body.String() != `{"success":true,"data":{"logged_out":true}}`+"\n" {
		t.Fatalf("logout: %d %s", w.Code, w.Body)
	}
	reached := e.reached.Load()
	e.refused(e.do(productsReq(tk.Access, strangerIP)), 401, refusal("UnauthorizedError", "UNAUTHORIZED", "The access token is invalid"), bearer)
	e.refused(e.do(refreshReq(tk.Refresh, strangerIP)), 401, badRefresh, basic)
	if e.reached.Load() != reached || e.sessions.rotations.Load() != 0 {
		t.Fatal("a refused request reached the API or rotated")
	}
}

func TestTheAccountsAllowListGuardsLoginRefreshAndTheAPI(t *testing.T) {
	e := newEnv(t)
	// Login from outside: 403 before the password is looked at.
	e.refused(e.do(loginReq("acme", strangerIP)), 403, signInDenied, "")
	e.refused(e.do(request{method: "POST", path: "/auth/login", from: strangerIP, body: `{"username":"acme","password":"wrong"}`}), 403, signInDenied, "")
	if e.logins.Load() != 0 || e.sessions.creates.Load() != 0 {
		t.Fatalf("%d passwords checked, %d sessions started from a refused address", e.logins.Load(), e.sessions.creates.Load())
	}
	// Behind the trusted proxy, the forwarded address is the client's.
	e.refused(e.do(request{method: "POST", path: "/auth/login", from: proxyIP, forwardedFor: strangerIP, body: loginBody("acme")}), 403, signInDenied, "")
	began := e.clock.Now()
	tk := e.tokens(e.do(request{method: "POST", path: "/auth/login", from: proxyIP, forwardedFor: officeIP, body: loginBody("acme")}), began, began)

	// Refresh from outside: 403, and the token does not rotate ...
	e.refused(e.do(refreshReq(tk.Refresh, strangerIP)), 403, signInDenied, "")
	if e.sessions.rotations.Load() != 0 {
		t.Fatal("rotated from a refused address")
	}
	// ... the API from outside: 403, after the token, before the handler.
	e.refused(e.do(productsReq(tk.Access, strangerIP)), 403, ipDenied, "")
	if e.reached.Load() != 0 {
		t.Fatal("a refused request reached the API")
	}
	// From the office all of it works, the refresh token still unspent.
	if w := e.do(productsReq(tk.Access, officeIP)); w.Code != http.StatusOK || w.Body.String() != productsBody {
		t.Fatalf("products from the office: %d %s", w.Code, w.Body)
	}
	e.tokens(e.do(refreshReq(tk.Refresh, officeIP)), began, began)
}

func TestTheStaticDenyListComesBeforeEverything(t *testing.T) {
	e := newEnv(t)
	tk := e.login("globex", strangerIP)
	denied := refusal("ForbiddenError", "FORBIDDEN", "Access from this address is not allowed")
	for name, q := range map[string]request{
		"login":    loginReq("globex", deniedIP),
		"bad body": {method: "POST", path: "/auth/login", from: deniedIP, body: "{"},
		"refresh":  refreshReq(tk.Refresh, deniedIP),
		"api":      productsReq(tk.Access, deniedIP),
		"no token": productsReq("", deniedIP),
		"no route": {method: "GET", path: "/nothing", from: deniedIP},
	} {
		t.Run(name, func(t *testing.T) {
			e.t = t
			e.refused(e.do(q), 403, denied, "")
		})
	}
	if e.logins.Load() != 1 || e.sessions.rotations.Load() != 0 || e.reached.Load() != 0 {
		t.Fatalf("%d logins, %d rotations, %d reached", e.logins.Load(), e.sessions.rotations.Load(), e.reached.Load())
	}
}

func TestExpiry(t *testing.T) {
	e := newEnv(t)
	began := e.clock.Now()
	tk := e.login("globex", strangerIP)
	e.clock.Advance(time.Hour + 6*time.Minute) // past exp and the verifier's leeway
	e.refused(e.do(productsReq(tk.Access, strangerIP)), 401, refusal("UnauthorizedError", "UNAUTHORIZED", "The access token expired"), bearer)
	// The refresh token lives on: a new pair, its end still the session's.
	next := e.tokens(e.do(refreshReq(tk.Refresh, strangerIP)), e.clock.Now(), began)
	if w := e.do(productsReq(next.Access, strangerIP)); w.Code != http.StatusOK {
		t.Fatalf("after refresh: %d %s", w.Code, w.Body)
	}
	// Seven days after the login the session is over.
	e.clock.Advance(7*24*time.Hour - time.Hour - 6*time.Minute)
	e.refused(e.do(refreshReq(next.Refresh, strangerIP)), 401, badRefresh, basic)
	if e.reached.Load() != 1 {
		t.Fatalf("%d requests reached the API, want 1", e.reached.Load())
	}
}

func TestBadRequestsAreRefusedInTheEnvelope(t *testing.T) {
	e := newEnv(t)
	tk := e.login("globex", strangerIP)
	validation := func(m string) string { return refusal("ValidationException", "VALIDATION_FAILURE", m) }
	syntax := refusal("SyntaxError", "SYNTAX_ERROR", "The request body is not valid JSON")
	for _, tt := range []struct {
		name      string
		q         request
		status    int
		body      string
		challenge string
	}{
		{"wrong password", request{method: "POST", path: "/auth/login", body: `{"username":"globex","password":"nope"}`}, 401, badLogin, basic},
		{"unknown user", request{method: "POST", path: "/auth/login", body: `{"username":"initech","password":"nope"}`}, 401, badLogin, basic},
		{"no password", request{method: "POST", path: "/auth/login", body: `{"username":"globex"}`}, 400, validation("username and password are required"), ""},
		{"empty password", request{method: "POST", path: "/auth/login", body: `{"username":"globex","password":""}`}, 400, validation("username and password are required"), ""},
		{"a number", request{method: "POST", path: "/auth/login", body: `{"username":"globex","password":7}`}, 400, validation("password must be a string"), ""},
		{"client credentials", request{method: "POST", path: "/auth/login", body: `{"username":"globex","password":"x","client_secret":"s"}`}, 400, validation("The request body may hold only username, password"), ""},
		{"a grant type", request{method: "POST", path: "/auth/refresh", body: `{"refresh_token":"x","grant_type":"password"}`}, 400, validation("The request body may hold only refresh_token"), ""},
		{"not JSON", request{method: "POST", path: "/auth/login", body: `username=globex`}, 400, syntax, ""},
		{"two objects", request{method: "POST", path: "/auth/login", body: loginBody("globex") + loginBody("globex")}, 400, syntax, ""},
		{"an array", request{method: "POST", path: "/auth/login", body: `[]`}, 400, syntax, ""},
		{"null", request{method: "POST", path: "/auth/login", body: `null`}, 400, syntax, ""},
		{"a form", request{method: "POST", path: "/auth/login", contentType: "application/x-www-form-urlencoded", body: "username=globex"}, 415, refusal("UnsupportedMediaTypeError", "UNSUPPORTED_MEDIA_TYPE", "The request body must be application/json"), ""},
		{"too large", request{method: "POST", path: "/auth/login", body: `{"username":"` + strings.Repeat("a", 17<<10) + `"}`}, 413, refusal("PayloadTooLargeError", "PAYLOAD_TOO_LARGE", "The request body is too large"), ""},
		{"no refresh token", request{method: "POST", path: "/auth/refresh", body: `{}`}, 400, validation("refresh_token is required"), ""},
		{"unknown refresh token", refreshReq("nope", strangerIP), 401, badRefresh, basic},
		{"an access token as refresh token", refreshReq(tk.Access, strangerIP), 401, badRefresh, basic},
		{"a refresh token as access token", productsReq(tk.Refresh, strangerIP), 401, refusal("UnauthorizedError", "UNAUTHORIZED", "The access token is invalid"), bearer},
		{"no token", productsReq("", strangerIP), 401, refusal("UnauthorizedError", "UNAUTHORIZED", "Authentication is required"), bearer},
		{"logout without a token", request{method: "POST", path: "/auth/logout"}, 401, refusal("UnauthorizedError", "UNAUTHORIZED", "Authentication is required"), bearer},
		{"old path", request{method: "POST", path: "/login", body: loginBody("globex")}, 404, refusal("NotFoundError", "NOT_FOUND", "The resource does not exist"), ""},
		{"GET login", request{method: "GET", path: "/auth/login"}, 405, refusal("MethodNotAllowedError", "METHOD_NOT_ALLOWED", "The resource does not answer this method"), ""},
		{"POST products", request{method: "POST", path: "/api/v1/products", token: tk.Access}, 405, refusal("MethodNotAllowedError", "METHOD_NOT_ALLOWED", "The resource does not answer this method"), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			reached, logins := e.reached.Load(), e.logins.Load()
			e.refused(e.do(tt.q), tt.status, tt.body, tt.challenge)
			if e.reached.Load() != reached || e.sessions.rotations.Load() != 0 {
				t.Fatal("a refused request reached the API or rotated a token")
			}
			if strings.Contains(tt.name, "password") || strings.Contains(tt.name, "user") {
				return
			}
			if e.logins.Load() != logins {
				t.Fatal("a bad request had its password checked")
			}
		})
	}
}

func TestPasswordsAreStoredAsArgon2idHashes(t *testing.T) {
	h := hashPassword("acme-password")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(h, "acme-password") {
		t.Fatalf("hash %q", h)
	}
	if h == hashPassword("acme-password") {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, tt := range []struct {
		phc, password string
		want          bool
	}{
		{h, "acme-password", true},
		{h, "acme-passwore", false},
		{h, "", false},
		{"acme-password", "acme-password", false},
		{strings.Replace(h, "argon2id", "argon2i", 1), "acme-password", false},
		{strings.Replace(h, "m=64", "m=0", 1), "acme-password", false},
		{h[:len(h)-4], "acme-password", false},
	} {
		if got := demo.CheckPassword(tt.phc, tt.password); got != tt.want {
			t.Errorf("demo.CheckPassword(%q, %q) = %v", tt.phc, tt.password, got)
		}
	}
}

// The printed guide: passwords that log in, and the commands of the whole
// flow, against the server start built on memory stores.
func TestTheGuidePrintsPasswordsThatLogInAndTheWholeFlow(t *testing.T) {
	var out strings.Builder
	s, err := start(t.Context(), "127.0.0.1:0", "", "", &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	go func() { _ = http.Serve(s.ln, s.api) }()
	base := "http://" + s.ln.Addr().String()
	guide := out.String()
	for _, want := range []string{base + "/auth/login", base + "/auth/refresh", base + "/auth/logout", base + "/api/v1/products", "state in memory"} {
		if !strings.Contains(guide, want) {
			t.Fatalf("the guide does not mention %q:\n%s", want, guide)
		}
	}
	var globex, acme string
	for _, line := range strings.Split(guide, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && (f[0] == "globex" || f[0] == "acme") {
			if f[0] == "globex" {
				globex = f[1]
			} else {
				acme = f[1]
			}
		}
	}
	if len(globex) < 20 || len(acme) < 20 || globex == acme {
		t.Fatalf("passwords %q %q:\n%s", globex, acme, guide)
	}
	post := func(body string) *http.Response {
		t.Helper()
		resp, err := http.Post(base+"/auth/login", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp
	}
	if resp := post(`{"username":"globex","password":"` + globex + `"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("globex with the printed password: %d", resp.StatusCode)
	}
	if resp := post(`{"username":"acme","password":"` + acme + `"}`); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("acme from this machine: %d, want 403", resp.StatusCode)
	}
	if strings.Count(guide, globex) != 3 {
		t.Fatalf("globex's password appears %d times in the guide, want 3 (the list and two logins)", strings.Count(guide, globex))
	}
}
