package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/apikey"
	"github.com/tollgate/tollgate/authtest"
	"github.com/tollgate/tollgate/internal/redistest"
	"github.com/tollgate/tollgate/ratelimit"
)

// The program's own start prints a walk through the portal and the API;
// each command, sent in order as the HTTP request it stands for, answers
// the status printed above it, with the refusal code the line names.
func TestPrintedCommandsAnswerThePrintedStatus(t *testing.T) {
	walk(t, stores{})
}

// The same walk with the tokens in PostgreSQL (-postgres).
func TestPrintedCommandsAnswerThePrintedStatusOnPostgres(t *testing.T) {
	u := os.Getenv("TOLLGATE_POSTGRES_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("postgres: TOLLGATE_POSTGRES_URL not set on CI; run the tests through ./scripts/with-postgres.sh (make test)")
		}
		t.Skip("postgres: TOLLGATE_POSTGRES_URL not set; run `make test` to start a real PostgreSQL server")
	}
	t.Setenv("APIKEY_PEPPERS", "p1:"+strings.Repeat("QUJD", 11))
	t.Setenv("MERCHANT_KEY_ENCRYPTION_KEY", base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
	walk(t, stores{postgresURL: u})
}

// The same walk with the rate limits and revocations in Redis as well
// (-postgres and -redis).
func TestPrintedCommandsAnswerThePrintedStatusOnPostgresAndRedis(t *testing.T) {
	u := os.Getenv("TOLLGATE_POSTGRES_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("postgres: TOLLGATE_POSTGRES_URL not set on CI; run the tests through ./scripts/with-postgres.sh (make test)")
		}
		t.Skip("postgres: TOLLGATE_POSTGRES_URL not set; run `make test` to start a real PostgreSQL server")
	}
	addr := redistest.SharedAddr(t)
	t.Setenv("APIKEY_PEPPERS", "p1:"+strings.Repeat("QUJD", 11))
	t.Setenv("MERCHANT_KEY_ENCRYPTION_KEY", base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
	walk(t, stores{postgresURL: u, redisAddr: addr, redisPrefix: redistest.Prefix(t)})
}

func walk(t *testing.T, st stores) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out strings.Builder
	d, err := start(ctx, "127.0.0.1:0", st, &out)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- d.serve(ctx) }()

	cmds, vars := parseUsage(t, out.String())
	if len(cmds) < 10 {
		t.Fatalf("found %d commands in the output, want at least 10:\n%s", len(cmds), out.String())
	}
	if !apikey.WellFormed(vars["TOKEN"]) || !strings.HasPrefix(vars["TOKEN"], "mt_test_") {
		t.Fatalf("TOKEN=%q is not an API token", vars["TOKEN"])
	}
	seen := map[int]bool{}
	for _, c := range cmds {
		req, err := http.NewRequest(c.method, c.url, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range c.header {
			req.Header.Set(name, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Fatalf("%s\n%s\nanswered %d, printed %d; body %s", c.what, c.line, resp.StatusCode, c.status, body)
		}
		if c.kind != "" {
			var p struct{ Code string }
			if err := json.Unmarshal(body, &p); err != nil || p.Code != c.kind {
				t.Fatalf("%s: body %s, want code %q", c.what, body, c.kind)
			}
		}
		if strings.Contains(c.line, "$TOKEN") && resp.StatusCode != 401 && resp.Header.Get("X-RateLimit-Limit") != "60" {
			t.Fatalf("%s: X-RateLimit-Limit %q, want 60", c.what, resp.Header.Get("X-RateLimit-Limit"))
		}
		if strings.Contains(c.what, "creates a token") {
			var created struct {
				Token string
				Key   struct{ Hint string }
			}
			if err := json.Unmarshal(body, &created); err != nil || !apikey.WellFormed(created.Token) || created.Key.Hint != apikey.Hint(created.Token) {
				t.Fatalf("the created token: %s", body)
			}
		}
		if strings.Contains(c.what, "lists") && strings.Contains(string(body), vars["TOKEN"]) {
			t.Fatalf("the list shows a token: %s", body)
		}
		seen[c.status] = true
	}
	for _, status := range []int{200, 201, 400, 401, 403} {
		if !seen[status] {
			t.Errorf("no printed command answers %d", status)
		}
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve after shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after its context was cancelled")
	}
}

// printedCommand is one curl command of the output and the status printed
// with it.
type printedCommand struct {
	line, what  string // the command and its comment line
	status      int
	kind        string // the refusal kind named after the status, if any
	method, url string
	header      map[string]string
	body        string
}

var (
	assignment = regexp.MustCompile(`^([A-Z]+)=(\S+)$`)
	// "# 403 Forbidden, wrong_token_type: what the command does"
	expectation = regexp.MustCompile(`^# (\d{3}) ([A-Za-z ]+)(?:, ([a-z_]+))?: `)
)

// parseUsage reads the printed shell variables and commands, as a shell
// would: each "# <status>" comment line is followed by the curl command it
// describes.
func parseUsage(t *testing.T, out string) (cmds []printedCommand, vars map[string]string) {
	t.Helper()
	vars = map[string]string{}
	var pending *printedCommand
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := assignment.FindStringSubmatch(line); m != nil {
			vars[m[1]] = m[2]
			continue
		}
		if m := expectation.FindStringSubmatch(line); m != nil {
			status, _ := strconv.Atoi(m[1])
			if got := http.StatusText(status); got != m[2] {
				t.Errorf("%q: status text %q, want %q", line, m[2], got)
			}
			pending = &printedCommand{what: strings.TrimPrefix(line, "# "), status: status, kind: m[3], method: http.MethodGet, header: map[string]string{}}
			continue
		}
		if !strings.HasPrefix(line, "curl ") {
			continue
		}
		if pending == nil {
			t.Fatalf("command without a printed status: %s", line)
		}
		c := pending
		pending = nil
		c.line = line
		args := shellWords(t, line, vars)
		for i := 1; i < len(args); i++ {
			switch a := args[i]; {
			case a == "-i":
			case a == "-X" && i+1 < len(args):
				i++
				c.method = args[i]
			case a == "-H" && i+1 < len(args):
				i++
				name, value, ok := strings.Cut(args[i], ": ")
				if !ok {
					t.Fatalf("malformed header %q in %s", args[i], line)
				}
				c.header[name] = value
			case a == "-d" && i+1 < len(args):
				i++
				c.body = args[i]
			case strings.HasPrefix(a, "http://"):
				c.url = a
			default:
				t.Fatalf("argument %q of %s is not understood by this test", a, line)
			}
		}
		if c.url == "" {
			t.Fatalf("no URL in %s", line)
		}
		cmds = append(cmds, *c)
	}
	return cmds, vars
}

// shellWords splits line as a POSIX shell would for the subset the output
// uses: blanks, single quotes, double quotes, and $NAME expanded from vars.
// An unset variable fails the test, since the shell would expand it to "".
func shellWords(t *testing.T, line string, vars map[string]string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inWord := false
	quote := byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'' && c == '\'', quote == '"' && c == '"':
			quote = 0
		case quote == '\'':
			w.WriteByte(c)
		case quote == 0 && (c == '\'' || c == '"'):
			quote, inWord = c, true
		case quote == 0 && c == ' ':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case c == '$':
			j := i + 1
			for j < len(line) && (line[j] == '_' || line[j] >= 'A' && line[j] <= 'Z') {
				j++
			}
			v, ok := vars[line[i+1:j]]
			if !ok {
				t.Fatalf("$%s in %s is not set by the output", line[i+1:j], line)
			}
			w.WriteString(v)
			inWord = true
			i = j - 1
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("unterminated quote in %s", line)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// env is the API on the memory store with stand-in issuers, on a fake clock.
type env struct {
	t       *testing.T
	clock   *authtest.Clock
	api     *api
	reached atomic.Int64 // requests that got to an application handler
}

const customerPassword = "correct horse battery staple"

var defaultLimit = ratelimit.Limit{Events: 60, Per: time.Minute}

func newEnv(t *testing.T, limit ratelimit.Limit) *env {
	t.Helper()
	e := &env{t: t, clock: authtest.NewClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))}
	peppers, err := apikey.ParsePeppers("p1:" + strings.Repeat("QUJD", 11))
	if err != nil {
		t.Fatal(err)
	}
	a, err := newAPI(t.Context(), config{
		Store:          apikey.NewMemoryStore(),
		Peppers:        peppers,
		Customers:      map[string]customer{"alice@example.com": {ID: "cus_1", PasswordHash: hashPassword(customerPassword)}},
		Merchants:      demoMerchants,
		Audience:       "orders-api",
		RateLimit:      limit,
		MerchantLimits: map[string]ratelimit.Limit{"mer_2": {Events: 600, Per: time.Minute}},
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
	t.Cleanup(a.Close)
	e.api = a
	return e
}

// token creates an API token of merchant in org_1/app_1 (or org_2/app_2
// for mer_2) through the management API.
func (e *env) token(merchant string, s apikey.Spec) (string, *apikey.Key) {
	e.t.Helper()
	s.Owner = apikey.Owner{ID: merchant, OrgID: "org_1", AppID: "app_1"}
	if merchant == "mer_2" {
		s.Owner.OrgID, s.Owner.AppID = "org_2", "app_2"
	}
	if s.Name == "" {
		s.Name = "test"
	}
	key, secret, err := e.api.keys.Create(context.Background(), s)
	if err != nil {
		e.t.Fatal(err)
	}
	return secret.Reveal(), key
}

func (e *env) portalSession(merchant string) string {
	e.t.Helper()
	s, err := e.api.portalSession(context.Background(), merchant)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// customerLogin logs the customer in through the token endpoint.
func (e *env) customerLogin() tokenResponse {
	e.t.Helper()
	tr, err := e.api.login(context.Background(), "alice@example.com", customerPassword)
	if err != nil || tr.ExpiresIn != 3600 || tr.RefreshToken == "" {
		e.t.Fatalf("login: %+v %v", tr, err)
	}
	return tr
}

func (e *env) do(method, path, token, org, app, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if org != "" {
		r.Header.Set("X-Organization-Id", org)
	}
	if app != "" {
		r.Header.Set("X-App-Id", app)
	}
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	return w
}

func code(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	if w.Code < 400 {
		return ""
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json; body %s", ct, w.Body)
	}
	var p struct {
		Code   string
		Status int
	}
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != w.Code {
		t.Fatalf("body %s: %v", w.Body, err)
	}
	return p.Code
}

func TestRoutes(t *testing.T) {
	e := newEnv(t, defaultLimit)
	all, _ := e.token("mer_1", apikey.Spec{Permissions: permissions})
	reader, _ := e.token("mer_1", apikey.Spec{Permissions: []string{"can_read_order"}})
	expiring, _ := e.token("mer_1", apikey.Spec{Permissions: permissions, ExpiresAt: e.clock.Now().Add(time.Hour)})
	inactive, inactiveKey := e.token("mer_1", apikey.Spec{Permissions: permissions})
	if _, err := e.api.keys.Deactivate(context.Background(), inactiveKey.ID); err != nil {
		t.Fatal(err)
	}
	other, _ := e.token("mer_2", apikey.Spec{Permissions: permissions})
	e.clock.Advance(2 * time.Hour) // expiring has expired
	login := e.customerLogin()
	customer, refresh := login.AccessToken, login.RefreshToken
	tests := []struct {
		name, method, path, token, org, app string
		status                              int
		code                                string
	}{
		{"can_read_order lists orders", "GET", "/orders", reader, "org_1", "app_1", 200, ""},
		{"can_write_order creates an order", "POST", "/orders", all, "org_1", "app_1", 201, ""},
		{"can_retrieve_app_config reads the config", "GET", "/app/config", all, "org_1", "app_1", 200, ""},
		{"can_update_app_config changes it", "PUT", "/app/config", all, "org_1", "app_1", 200, ""},
		{"a read-only token cannot write", "POST", "/orders", reader, "org_1", "app_1", 403, "insufficient_scope"},
		{"a read-only token cannot read the config", "GET", "/app/config", reader, "org_1", "app_1", 403, "insufficient_scope"},
		{"no token", "GET", "/orders", "", "org_1", "app_1", 401, "missing_token"},
		{"an inactive token", "GET", "/orders", inactive, "org_1", "app_1", 401, "invalid_token"},
		{"an expired token says so", "GET", "/orders", expiring, "org_1", "app_1", 401, "expired_token"},
		{"a mistyped token", "GET", "/orders", mistype(all), "org_1", "app_1", 401, "invalid_token"},
		{"a token of another prefix", "GET", "/orders", "sk_live_" + all[8:], "org_1", "app_1", 401, "invalid_token"},
		{"no organization header", "GET", "/orders", all, "", "app_1", 400, "validation"},
		{"no app header", "GET", "/orders", all, "org_1", "", 400, "validation"},
		{"another organization's header", "GET", "/orders", all, "org_2", "app_1", 403, "forbidden"},
		{"another app's header", "GET", "/orders", all, "org_1", "app_2", 403, "forbidden"},
		{"another merchant's token on this organization", "GET", "/orders", other, "org_1", "app_1", 403, "forbidden"},
		{"that merchant on its own organization", "GET", "/orders", other, "org_2", "app_2", 200, ""},
		{"a merchant token on a customer route", "GET", "/me/orders", all, "", "", 403, "wrong_token_type"},
		{"a customer reads its orders", "GET", "/me/orders", customer, "", "", 200, ""},
		{"a customer on a merchant route", "GET", "/orders", customer, "org_1", "app_1", 403, "wrong_token_type"},
		{"a customer refresh token", "GET", "/me/orders", refresh, "", "", 401, "invalid_token"},
		{"a portal session on a merchant route", "GET", "/orders", e.portalSession("mer_1"), "org_1", "app_1", 403, "wrong_token_type"},
		{"an API token on the portal", "GET", "/portal/keys", all, "", "", 403, "wrong_token_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.reached.Load()
			w := e.do(tt.method, tt.path, tt.token, tt.org, tt.app, "")
			if w.Code != tt.status || code(t, w) != tt.code {
				t.Fatalf("%d %s, want %d %s", w.Code, w.Body, tt.status, tt.code)
			}
			if reached := e.reached.Load() - before; (tt.code == "") != (reached == 1) {
				t.Fatalf("handler reached %d times", reached)
			}
			if w.Code == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("401 without a Bearer challenge")
			}
		})
	}
}

func TestEachTokenHasItsOwnRateLimit(t *testing.T) {
	e := newEnv(t, ratelimit.Limit{Events: 3, Per: time.Minute})
	first, _ := e.token("mer_1", apikey.Spec{Permissions: permissions})
	second, _ := e.token("mer_1", apikey.Spec{Permissions: permissions})
	custom, _ := e.token("mer_2", apikey.Spec{Permissions: permissions})
	own, ownKey := e.token("mer_1", apikey.Spec{Permissions: permissions})
	// The provider grants one token a limit of its own.
	if _, err := e.api.keys.Update(context.Background(), ownKey.ID, func(k *apikey.Key) error {
		k.RateLimit = &ratelimit.Limit{Events: 1000, Per: time.Hour}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	get := func(token, org, app string) *httptest.ResponseRecorder {
		return e.do("GET", "/orders", token, org, app, "")
	}
	for i, want := range []string{"2", "1", "0"} {
		w := get(first, "org_1", "app_1")
		if w.Code != 200 || w.Header().Get("X-RateLimit-Limit") != "3" || w.Header().Get("X-RateLimit-Remaining") != want {
			t.Fatalf("call %d: %d, limit %q remaining %q", i+1, w.Code, w.Header().Get("X-RateLimit-Limit"), w.Header().Get("X-RateLimit-Remaining"))
		}
	}
	w := get(first, "org_1", "app_1")
	if w.Code != 429 || code(t, w) != "rate_limited" || w.Header().Get("Retry-After") != "20" || w.Header().Get("X-RateLimit-Reset") == "" {
		t.Fatalf("the fourth call: %d %s, Retry-After %q", w.Code, w.Body, w.Header().Get("Retry-After"))
	}
	if w := get(second, "org_1", "app_1"); w.Code != 200 || w.Header().Get("X-RateLimit-Remaining") != "2" {
		t.Fatalf("another token of the same merchant: %d, remaining %q", w.Code, w.Header().Get("X-RateLimit-Remaining"))
	}
	if w := get(custom, "org_2", "app_2"); w.Code != 200 || w.Header().Get("X-RateLimit-Limit") != "600" {
		t.Fatalf("mer_2's custom limit: %d, limit %q", w.Code, w.Header().Get("X-RateLimit-Limit"))
	}
	if w := get(own, "org_1", "app_1"); w.Code != 200 || w.Header().Get("X-RateLimit-Limit") != "1000" {
		t.Fatalf("a token's own limit: %d, limit %q", w.Code, w.Header().Get("X-RateLimit-Limit"))
	}
	e.clock.Advance(20 * time.Second)
	if w := get(first, "org_1", "app_1"); w.Code != 200 {
		t.Fatalf("after Retry-After: %d", w.Code)
	}
}

// A merchant manages its own tokens in the portal, never another's, and
// cannot raise its own limits.
func TestThePortal(t *testing.T) {
	e := newEnv(t, defaultLimit)
	session := e.portalSession("mer_1")
	w := e.do("POST", "/portal/keys", session, "", "", `{"name":"ci","permissions":["can_read_order"]}`)
	if w.Code != 201 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var created struct {
		Token string
		Key   struct{ ID string }
	}
	_ = json.Unmarshal(w.Body.Bytes(), &created)
	if w := e.do("GET", "/orders", created.Token, "org_1", "app_1", ""); w.Code != 200 {
		t.Fatalf("the new token: %d %s", w.Code, w.Body)
	}
	for _, body := range []string{
		`{"name":"x","rate_limit":{"events":1000000,"per_seconds":1}}`,
		`{"name":"x","remaining_uses":5}`,
		`{"name":"x","permissions":["admin"]}`,
	} {
		if w := e.do("POST", "/portal/keys", session, "", "", body); w.Code != 400 || code(t, w) != "validation" {
			t.Fatalf("create with %s: %d %s", body, w.Code, w.Body)
		}
	}
	if w := e.do("PATCH", "/portal/keys/"+created.Key.ID, session, "", "", `{"rate_limit":{"events":1000000,"per_seconds":1}}`); w.Code != 400 {
		t.Fatalf("raising its own limit: %d %s", w.Code, w.Body)
	}
	intruder := e.portalSession("mer_2")
	for _, path := range []string{"/portal/keys/" + created.Key.ID, "/portal/keys/" + created.Key.ID + "/deactivate"} {
		method := "GET"
		if strings.HasSuffix(path, "deactivate") {
			method = "POST"
		}
		if w := e.do(method, path, intruder, "", "", ""); w.Code != 404 {
			t.Fatalf("another merchant's %s %s: %d %s", method, path, w.Code, w.Body)
		}
	}
	if w := e.do("GET", "/orders", created.Token, "org_1", "app_1", ""); w.Code != 200 {
		t.Fatalf("after another merchant's attempt: %d", w.Code)
	}
}

func TestMain(m *testing.M) {
	// Hashes cheap enough for tests; the format and the check are the same.
	argon2Params.MemoryKiB, argon2Params.Time = 64, 1
	os.Exit(m.Run())
}

// postToken posts a form to the customers' token endpoint.
func (e *env) postToken(kv ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = "192.0.2.9:4000"
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	return w
}

func (e *env) tokenOK(w *httptest.ResponseRecorder) tokenResponse {
	e.t.Helper()
	var tr tokenResponse
	if w.Code != 200 || w.Header().Get("Cache-Control") != "no-store" || json.Unmarshal(w.Body.Bytes(), &tr) != nil || tr.AccessToken == "" || tr.RefreshToken == "" || tr.ExpiresIn != 3600 {
		e.t.Fatalf("token answer %d %v %s", w.Code, w.Header(), w.Body)
	}
	return tr
}

// problem checks an RFC 9457 refusal exactly, and that no handler ran.
func (e *env) problem(w *httptest.ResponseRecorder, reached int64, status int, body string) {
	e.t.Helper()
	if w.Code != status || w.Body.String() != body || w.Header().Get("Content-Type") != "application/problem+json" || w.Header().Get("Cache-Control") != "no-store" {
		e.t.Fatalf("%d %v %s, want %d %s", w.Code, w.Header(), w.Body, status, body)
	}
	if e.reached.Load() != reached {
		e.t.Fatal("a refused request reached a handler")
	}
}

const (
	invalidGrant = `{"type":"about:blank","title":"Bad Request","status":400,"detail":"the grant is invalid, expired or revoked","code":"invalid_grant"}` + "\n"
	badPassword  = `{"type":"about:blank","title":"Bad Request","status":400,"detail":"wrong username or password","code":"invalid_grant"}` + "\n"
	invalidToken = `{"type":"about:blank","title":"Unauthorized","status":401,"detail":"The access token is invalid","code":"invalid_token"}` + "\n"
	expiredToken = `{"type":"about:blank","title":"Unauthorized","status":401,"detail":"The access token expired","code":"expired_token"}` + "\n"
)

// A customer logs in, calls, refreshes; the spent refresh token presented
// again ends the session, and its access tokens are refused.
func TestCustomerLoginRefreshAndReuse(t *testing.T) {
	e := newEnv(t, defaultLimit)
	first := e.tokenOK(e.postToken("grant_type", "password", "username", "alice@example.com", "password", customerPassword))
	w := e.do("GET", "/me/orders", first.AccessToken, "", "", "")
	if w.Code != 200 || w.Body.String() != `{"customer":"cus_1","orders":["ord_2"]}`+"\n" {
		t.Fatalf("me/orders: %d %s", w.Code, w.Body)
	}
	second := e.tokenOK(e.postToken("grant_type", "refresh_token", "refresh_token", first.RefreshToken))
	if second.RefreshToken == first.RefreshToken {
		t.Fatal("not rotated")
	}
	if w := e.do("GET", "/me/orders", second.AccessToken, "", "", ""); w.Code != 200 {
		t.Fatalf("the refreshed token: %d %s", w.Code, w.Body)
	}
	reached := e.reached.Load()
	e.problem(e.postToken("grant_type", "refresh_token", "refresh_token", first.RefreshToken), reached, 400, invalidGrant)
	e.problem(e.postToken("grant_type", "refresh_token", "refresh_token", second.RefreshToken), reached, 400, invalidGrant)
	e.problem(e.do("GET", "/me/orders", second.AccessToken, "", "", ""), reached, 401, invalidToken)
	e.problem(e.do("GET", "/me/orders", first.AccessToken, "", "", ""), reached, 401, invalidToken)
	// A customer token on a merchant route is the wrong type, a portal
	// route too; the customer's tokens are ES256 from issuer.
	third := e.customerLogin()
	if w := e.do("GET", "/orders", third.AccessToken, "org_1", "app_1", ""); w.Code != 403 || code(t, w) != "wrong_token_type" {
		t.Fatalf("customer on a merchant route: %d %s", w.Code, w.Body)
	}
	if w := e.do("GET", "/portal/keys", third.AccessToken, "", "", ""); w.Code != 403 || code(t, w) != "wrong_token_type" {
		t.Fatalf("customer on the portal: %d %s", w.Code, w.Body)
	}
}

func TestCustomerLoginRefusals(t *testing.T) {
	e := newEnv(t, defaultLimit)
	for name, kv := range map[string][]string{
		"wrong password": {"grant_type", "password", "username", "alice@example.com", "password", "nope"},
		"unknown user":   {"grant_type", "password", "username", "bob@example.com", "password", customerPassword},
	} {
		t.Run(name, func(t *testing.T) {
			e.t = t
			e.problem(e.postToken(kv...), 0, 400, badPassword)
		})
	}
	e.t = t
	e.problem(e.postToken("grant_type", "client_credentials"), 0, 400, `{"type":"about:blank","title":"Bad Request","status":400,"detail":"the grant type is not supported here","code":"unsupported_grant_type"}`+"\n")
	e.problem(e.postToken("grant_type", "refresh_token", "refresh_token", "nope"), 0, 400, invalidGrant)
	r := httptest.NewRequest("GET", "/oauth/token", nil)
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	if w.Code != 405 || w.Header().Get("Allow") != "POST" {
		t.Fatalf("GET /oauth/token: %d %v", w.Code, w.Header())
	}
}

// Logins of one account are limited (10 a minute by default), before
// the password is checked.
func TestCustomerLoginsAreRateLimitedPerAccount(t *testing.T) {
	e := newEnv(t, defaultLimit)
	for i := 0; i < 10; i++ {
		if w := e.postToken("grant_type", "password", "username", "alice@example.com", "password", "guess"); w.Code != 400 {
			t.Fatalf("login %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	w := e.postToken("grant_type", "password", "username", "alice@example.com", "password", customerPassword)
	if w.Code != 429 || code(t, w) != "rate_limited" || w.Header().Get("Retry-After") == "" {
		t.Fatalf("the 11th login: %d %v %s", w.Code, w.Header(), w.Body)
	}
	e.clock.Advance(time.Minute)
	e.tokenOK(e.postToken("grant_type", "password", "username", "alice@example.com", "password", customerPassword))
}

func TestCustomerAccessTokensExpireAfterAnHourAndSessionsAfterSevenDays(t *testing.T) {
	e := newEnv(t, defaultLimit)
	login := e.customerLogin()
	e.clock.Advance(time.Hour + 6*time.Minute) // past exp and the verifier's leeway
	e.problem(e.do("GET", "/me/orders", login.AccessToken, "", "", ""), 0, 401, expiredToken)
	next := e.tokenOK(e.postToken("grant_type", "refresh_token", "refresh_token", login.RefreshToken))
	if w := e.do("GET", "/me/orders", next.AccessToken, "", "", ""); w.Code != 200 {
		t.Fatalf("after refresh: %d %s", w.Code, w.Body)
	}
	e.clock.Advance(7 * 24 * time.Hour)
	e.problem(e.postToken("grant_type", "refresh_token", "refresh_token", next.RefreshToken), 1, 400, invalidGrant)
}

// mistype changes the token's last character to another one (appending
// "x" would leave a token that already ends in x as it was).
func mistype(token string) string {
	last := token[len(token)-1]
	c := byte('x')
	if last == 'x' {
		c = 'y'
	}
	return token[:len(token)-1] + string(c)
}
