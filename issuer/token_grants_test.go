package issuer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/ipfilter"
	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/internal/storetest"
	"github.com/tollgate/tollgate/revocation"
)

// countingStore counts the session store's writes, to show that a
// refused request changed nothing.
type countingStore struct {
	issuer.MemorySessionStore
	creates, rotations atomic.Int64
}

func (s *countingStore) Create(ctx context.Context, sess issuer.Session, first issuer.TokenHash, exp time.Time) error {
	s.creates.Add(1)
	return s.MemorySessionStore.Create(ctx, sess, first, exp)
}

func (s *countingStore) Rotate(ctx context.Context, clientID string, used, next issuer.TokenHash, now time.Time) (issuer.Session, time.Time, error) {
	sess, exp, err := s.MemorySessionStore.Rotate(ctx, clientID, used, next, now)
	if err == nil {
		s.rotations.Add(1)
	}
	return sess, exp, err
}

type grants struct {
	t        *testing.T
	c        *clock
	ring     *issuer.KeyRing
	minter   *issuer.Minter
	clients  *issuer.Clients
	sessions *issuer.Sessions
	store    *countingStore
	accounts *ipfilter.MemoryAccounts
	revoked  *revocation.Memory
	secrets  map[string]string
	logins   atomic.Int64
	cfg      issuer.TokenConfig
	h        http.Handler
}

func newGrants(t *testing.T, tweak ...func(*issuer.TokenConfig)) *grants {
	t.Helper()
	g := &grants{t: t, c: newClock(), store: &countingStore{}, accounts: &ipfilter.MemoryAccounts{}, secrets: map[string]string{}}
	g.revoked = revocation.NewMemory(revocation.MemoryConfig{Now: g.c.Now})
	g.ring = newRing(t, g.c, nil, "")
	g.minter = newMinter(t, g.c, g.ring)
	var err error
	g.clients, err = issuer.NewClients(issuer.ClientsConfig{Argon2: storetest.FastArgon2, Now: g.c.Now})
	if err != nil {
		t.Fatal(err)
	}
	g.sessions, err = issuer.NewSessions(issuer.SessionsConfig{Store: g.store, Now: g.c.Now, OnSessionEnded: issuer.RevokeSessions(g.revoked)})
	if err != nil {
		t.Fatal(err)
	}
	all := []string{issuer.GrantClientCredentials, issuer.GrantPassword, issuer.GrantRefreshToken}
	for _, cl := range []issuer.Client{
		{ID: "vendor-1", Grants: []string{issuer.GrantClientCredentials}, Scopes: []string{"orders:read"}, Audience: []string{"orders-api"}},
		{ID: "b2b-app", Grants: []string{issuer.GrantPassword, issuer.GrantRefreshToken}, Scopes: []string{"orders:read", "orders:write"}, Audience: []string{"orders-api"}},
		{ID: "other-app", Grants: []string{issuer.GrantPassword, issuer.GrantRefreshToken}, Scopes: []string{"orders:read"}, Audience: []string{"orders-api"}},
		{ID: "web", Grants: []string{issuer.GrantPassword, issuer.GrantRefreshToken}, Scopes: []string{"orders:read"}, Audience: []string{"orders-api"}},
		{ID: "market", Grants: all, Scopes: []string{"catalog", "integration.order", "integration.inventory"}, Audience: []string{"orders-api"},
			GrantScopes: map[string][]string{issuer.GrantClientCredentials: {"integration.order", "integration.inventory"}}},
	} {
		_, s, err := g.clients.Create(context.Background(), cl)
		if err != nil {
			t.Fatal(err)
		}
		g.secrets[cl.ID] = s.Reveal()
	}
	// The account is the username, at login and at refresh; Login
	// returns another subject ("user-alice"), which has no list.
	if err := g.accounts.Set("alice", "203.0.113.0/24"); err != nil {
		t.Fatal(err)
	}
	g.cfg = issuer.TokenConfig{
		Clients: g.clients, Minter: g.minter, Sessions: g.sessions, Grants: all, Accounts: g.accounts,
		FirstPartyClient: "web",
		Login: func(_ context.Context, username, password string) (string, error) {
			g.logins.Add(1)
			if (username == "alice" || username == "bob") && password == "correct horse" {
				return "user-" + username, nil
			}
			return "", issuer.ErrBadCredentials
		},
	}
	for _, f := range tweak {
		f(&g.cfg)
	}
	g.h, err = issuer.NewTokenHandler(g.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

type req struct {
	contentType, body string
	basic             string // client id whose secret goes in Basic
	remote            string
	mw                func(http.Handler) http.Handler
}

func (g *grants) do(rq req) *httptest.ResponseRecorder { return postToken(g.h, g.secrets, rq) }

// postToken posts rq to the token endpoint h, with the Basic secret of
// rq.basic from secrets.
func postToken(h http.Handler, secrets map[string]string, rq req) *httptest.ResponseRecorder {
	if rq.contentType == "" {
		rq.contentType = "application/x-www-form-urlencoded"
	}
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(rq.body))
	r.Header.Set("Content-Type", rq.contentType)
	if rq.basic != "" {
		r.SetBasicAuth(url.QueryEscape(rq.basic), url.QueryEscape(secrets[rq.basic]))
	}
	r.RemoteAddr = "198.51.100.7:1234"
	if rq.remote != "" {
		r.RemoteAddr = rq.remote
	}
	if rq.mw != nil {
		h = rq.mw(h)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

type tokenBody struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	Error        string `json:"error"`
}

func (g *grants) ok(rec *httptest.ResponseRecorder) tokenBody {
	g.t.Helper()
	return tokenOK(g.t, rec)
}

// tokenOK checks a token response of RFC 6749 §5.1 and returns its body.
func tokenOK(t testing.TB, rec *httptest.ResponseRecorder) tokenBody {
	t.Helper()
	var b tokenBody
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Pragma") != "no-cache" || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, headers %v, body %s", rec.Code, rec.Header(), rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b.AccessToken == "" || b.TokenType != "Bearer" {
		t.Fatalf("body %s (%v)", rec.Body, err)
	}
	return b
}

// refused checks a refusal in §5.2's JSON.
func (g *grants) refused(rec *httptest.ResponseRecorder, status int, code string) {
	g.t.Helper()
	tokenRefused(g.t, rec, status, code)
}

// tokenRefused checks a refusal in §5.2's JSON: status, error code,
// no-store, no token, and a Basic challenge exactly on a 401.
func tokenRefused(t testing.TB, rec *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	var b tokenBody
	_ = json.Unmarshal(rec.Body.Bytes(), &b)
	if rec.Code != status || b.Error != code || rec.Header().Get("Cache-Control") != "no-store" || b.AccessToken != "" || b.RefreshToken != "" {
		t.Fatalf("status %d, headers %v, body %s; want %d %s", rec.Code, rec.Header(), rec.Body, status, code)
	}
	if ch := rec.Header().Get("WWW-Authenticate"); (status == 401) != strings.HasPrefix(ch, "Basic ") {
		t.Fatalf("status %d with challenge %q", status, ch)
	}
}

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

func multipartBody(t *testing.T, kv ...string) (string, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i < len(kv); i += 2 {
		if err := mw.WriteField(kv[i], kv[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	_ = mw.Close()
	return mw.FormDataContentType(), buf.String()
}

func TestTheLoginGrantIssuesAnAccessTokenAndStartsARefreshSession(t *testing.T) {
	g := newGrants(t)
	ct, mp := multipartBody(t, "grant_type", "password", "username", "bob", "password", "correct horse")
	for name, rq := range map[string]req{
		"form, Basic":           {body: form("grant_type", "password", "username", "bob", "password", "correct horse"), basic: "b2b-app"},
		"multipart, Basic":      {contentType: ct, body: mp, basic: "b2b-app"},
		"B2B JSON, first party": {contentType: "application/json", body: `{"username":"bob","password":"correct horse"}`},
	} {
		t.Run(name, func(t *testing.T) {
			before := g.store.creates.Load()
			b := g.ok(g.do(rq))
			if b.RefreshToken == "" || b.ExpiresIn != 3600 || g.store.creates.Load() != before+1 {
				t.Fatalf("body %+v", b)
			}
			p, err := selfVerifier(t, g.c, g.ring).Verify(context.Background(), b.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			wantClient := "b2b-app"
			if rq.basic == "" {
				wantClient = "web"
			}
			if p.Subject() != "user-bob" || p.ClientID() != wantClient || p.StringClaim("sid") == "" || !p.HasScope("orders:read") {
				t.Fatalf("principal %+v", p.Fields())
			}
		})
	}
}

func TestALoginWithAWrongPasswordIsInvalidGrantAndStartsNothing(t *testing.T) {
	g := newGrants(t)
	for name, rq := range map[string]req{
		"wrong password": {body: form("grant_type", "password", "username", "bob", "password", "nope"), basic: "b2b-app"},
		"unknown user":   {body: form("grant_type", "password", "username", "zed", "password", "correct horse"), basic: "b2b-app"},
	} {
		t.Run(name, func(t *testing.T) {
			g.refused(g.do(rq), 400, "invalid_grant")
		})
	}
	g.refused(g.do(req{body: form("grant_type", "password", "username", "bob"), basic: "b2b-app"}), 400, "invalid_request")
	// A client not allowed the grant never reaches Login.
	n := g.logins.Load()
	g.refused(g.do(req{body: form("grant_type", "password", "username", "bob", "password", "correct horse"), basic: "vendor-1"}), 400, "unauthorized_client")
	if g.store.creates.Load() != 0 || g.logins.Load() != n {
		t.Fatalf("%d sessions, %d logins", g.store.creates.Load(), g.logins.Load())
	}
}

func TestTheAccountsAllowListIsCheckedBeforeThePasswordOnLoginAndOnRefresh(t *testing.T) {
	g := newGrants(t)
	login := form("grant_type", "password", "username", "alice", "password", "correct horse")
	g.refused(g.do(req{body: login, basic: "b2b-app", remote: "198.51.100.7:1"}), 400, "invalid_grant")
	if g.logins.Load() != 0 || g.store.creates.Load() != 0 {
		t.Fatalf("the password was checked from a refused address: %d logins", g.logins.Load())
	}
	b := g.ok(g.do(req{body: login, basic: "b2b-app", remote: "203.0.113.9:1"}))
	// From outside the list the refresh token does not rotate ...
	refresh := form("grant_type", "refresh_token", "refresh_token", b.RefreshToken)
	g.refused(g.do(req{body: refresh, basic: "b2b-app", remote: "198.51.100.7:1"}), 400, "invalid_grant")
	if g.store.rotations.Load() != 0 {
		t.Fatal("rotated from a refused address")
	}
	// ... and from inside it still does.
	g.ok(g.do(req{body: refresh, basic: "b2b-app", remote: "203.0.113.9:1"}))
	// In a provider's format the refusal is ip_denied, 403.
	rec := g.do(req{body: login, basic: "b2b-app", remote: "198.51.100.7:1", mw: tgerrors.Use(tgerrors.Envelope)})
	if rec.Code != 403 || !strings.Contains(rec.Body.String(), `"FORBIDDEN"`) || rec.Header().Get("WWW-Authenticate") != "" {
		t.Fatalf("status %d, headers %v, body %s", rec.Code, rec.Header(), rec.Body)
	}
}

func TestTheRefreshGrantRotatesAndAReusedTokenEndsTheFamily(t *testing.T) {
	g := newGrants(t)
	first := g.ok(g.do(req{body: form("grant_type", "password", "username", "bob", "password", "correct horse"), basic: "b2b-app"}))
	second := g.ok(g.do(req{body: form("grant_type", "refresh_token", "refresh_token", first.RefreshToken), basic: "b2b-app"}))
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatalf("not rotated: %+v", second)
	}
	v := selfVerifier(t, g.c, g.ring)
	p1, _ := v.Verify(context.Background(), first.AccessToken)
	p2, err := v.Verify(context.Background(), second.AccessToken)
	if err != nil || p2.StringClaim("sid") != p1.StringClaim("sid") || p2.Subject() != "user-bob" || strings.Join(p2.Scopes(), " ") != "orders:read orders:write" {
		t.Fatalf("refreshed token %v %+v", err, p2)
	}
	// The first token again: reuse ends the family, the successor too.
	g.refused(g.do(req{body: form("grant_type", "refresh_token", "refresh_token", first.RefreshToken), basic: "b2b-app"}), 400, "invalid_grant")
	g.refused(g.do(req{body: form("grant_type", "refresh_token", "refresh_token", second.RefreshToken), basic: "b2b-app"}), 400, "invalid_grant")
	if revoked, _ := g.revoked.Revoked(context.Background(), second.AccessToken, p2); !revoked {
		t.Fatal("the family's access tokens are not revoked")
	}
}

func TestARefreshTokenOfAnotherClientIsInvalidGrantAndDoesNotRotate(t *testing.T) {
	g := newGrants(t)
	b := g.ok(g.do(req{body: form("grant_type", "password", "username", "bob", "password", "correct horse"), basic: "b2b-app"}))
	refresh := form("grant_type", "refresh_token", "refresh_token", b.RefreshToken)
	g.refused(g.do(req{body: refresh, basic: "other-app"}), 400, "invalid_grant")
	g.refused(g.do(req{contentType: "application/json", body: `{"refresh_token":"` + b.RefreshToken + `"}`}), 400, "invalid_grant") // the first-party client
	if g.store.rotations.Load() != 0 {
		t.Fatal("another client's request rotated the token")
	}
	g.ok(g.do(req{body: refresh, basic: "b2b-app"}))
}

func TestARefreshMayNarrowTheScopeButNeverWidenIt(t *testing.T) {
	g := newGrants(t)
	b := g.ok(g.do(req{body: form("grant_type", "password", "username", "bob", "password", "correct horse", "scope", "orders:read"), basic: "b2b-app"}))
	if b.Scope != "orders:read" {
		t.Fatalf("scope %q", b.Scope)
	}
	g.refused(g.do(req{body: form("grant_type", "refresh_token", "refresh_token", b.RefreshToken, "scope", "orders:read orders:write"), basic: "b2b-app"}), 400, "invalid_scope")
	if g.store.rotations.Load() != 0 {
		t.Fatal("a widening request rotated the token")
	}
	n := g.ok(g.do(req{body: form("grant_type", "refresh_token", "refresh_token", b.RefreshToken, "scope", "orders:read"), basic: "b2b-app"}))
	if n.Scope != "orders:read" {
		t.Fatalf("scope %q", n.Scope)
	}
	// Narrowing one refresh does not shrink the session.
	m := g.ok(g.do(req{body: form("grant_type", "refresh_token", "refresh_token", n.RefreshToken), basic: "b2b-app"}))
	if m.Scope != "orders:read" {
		t.Fatalf("scope %q", m.Scope)
	}
}

func TestAScopeRestrictedToAGrantIsGivenOnlyThroughIt(t *testing.T) {
	g := newGrants(t)
	cc := g.ok(g.do(req{body: form("grant_type", "client_credentials", "scope", "integration.order integration.inventory"), basic: "market"}))
	if cc.Scope != "integration.order integration.inventory" {
		t.Fatalf("scope %q", cc.Scope)
	}
	g.refused(g.do(req{body: form("grant_type", "password", "username", "bob", "password", "correct horse", "scope", "integration.order"), basic: "market"}), 400, "invalid_scope")
	if g.logins.Load() != 0 || g.store.creates.Load() != 0 {
		t.Fatal("an invalid scope reached Login")
	}
	// Without scope, a login gets what its grant gives.
	pw := g.ok(g.do(req{body: form("grant_type", "password", "username", "bob", "password", "correct horse"), basic: "market"}))
	if pw.Scope != "catalog" {
		t.Fatalf("scope %q", pw.Scope)
	}
}

func TestTheEndpointReadsFormsMultipartAndJSONAndRefusesTheRest(t *testing.T) {
	g := newGrants(t)
	ct, mp := multipartBody(t, "grant_type", "client_credentials")
	g.ok(g.do(req{contentType: ct, body: mp, basic: "vendor-1"}))
	g.ok(g.do(req{contentType: "application/json", body: `{"client_id":"vendor-1","client_secret":"` + g.secrets["vendor-1"] + `"}`}))
	g.ok(g.do(req{contentType: "application/json; charset=utf-8", body: `{"grant_type":"client_credentials"}`, basic: "vendor-1"}))

	var file bytes.Buffer
	fw := multipart.NewWriter(&file)
	w, _ := fw.CreateFormFile("grant_type", "x.txt")
	_, _ = w.Write([]byte("client_credentials"))
	_ = fw.Close()
	big := form("grant_type", "client_credentials", "pad", strings.Repeat("a", issuer.DefaultTokenBodyBytes))
	for _, tc := range []struct {
		name   string
		rq     req
		status int
		code   string
	}{
		{"Basic and body", req{body: form("grant_type", "client_credentials", "client_id", "vendor-1", "client_secret", g.secrets["vendor-1"]), basic: "vendor-1"}, 400, "invalid_request"},
		{"JSON Basic and body", req{contentType: "application/json", body: `{"client_id":"vendor-1","client_secret":"x"}`, basic: "vendor-1"}, 400, "invalid_request"},
		{"JSON member twice", req{contentType: "application/json", body: `{"grant_type":"client_credentials","grant_type":"password"}`, basic: "vendor-1"}, 400, "invalid_request"},
		{"JSON number", req{contentType: "application/json", body: `{"grant_type":1}`, basic: "vendor-1"}, 400, "invalid_request"},
		{"JSON array", req{contentType: "application/json", body: `["grant_type"]`, basic: "vendor-1"}, 400, "invalid_request"},
		{"JSON trailing", req{contentType: "application/json", body: `{"grant_type":"client_credentials"}{}`, basic: "vendor-1"}, 400, "invalid_request"},
		{"multipart file", req{contentType: fw.FormDataContentType(), body: file.String(), basic: "vendor-1"}, 400, "invalid_request"},
		{"multipart field twice", req{contentType: ct, body: strings.Replace(mp, "--"+strings.TrimPrefix(ct, "multipart/form-data; boundary=")+"--", "", 1), basic: "vendor-1"}, 400, "invalid_request"},
		{"text/plain", req{contentType: "text/plain", body: "grant_type=client_credentials", basic: "vendor-1"}, 415, "invalid_request"},
		{"over 64 KiB", req{body: big, basic: "vendor-1"}, 413, "invalid_request"},
		{"unsupported grant", req{body: form("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), basic: "vendor-1"}, 400, "unsupported_grant_type"},
		{"client_credentials without a secret", req{body: form("grant_type", "client_credentials", "client_id", "web")}, 401, "invalid_client"},
		{"another client_id without a secret", req{body: form("grant_type", "password", "client_id", "b2b-app", "username", "bob", "password", "correct horse")}, 401, "invalid_client"},
		{"wrong Basic secret", req{body: form("grant_type", "password", "username", "bob", "password", "correct horse"), basic: "nobody"}, 401, "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g.refused(g.do(tc.rq), tc.status, tc.code)
		})
	}
	if g.store.creates.Load() != 0 || g.logins.Load() != 0 {
		t.Fatal("a refused request started a session")
	}
}

// b2bFormat is the B2B API's envelope.
var b2bFormat = tgerrors.FormatFunc(func(w http.ResponseWriter, r *http.Request, e *tgerrors.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.HTTPStatus())
	_ = json.NewEncoder(w).Encode(map[string]any{"success": false, "error": map[string]any{"code": e.Kind, "message": e.Message}})
})

func TestRefusalsAreWrittenInTheProvidersFormatWhenItAsks(t *testing.T) {
	wrongSecret := req{body: form("grant_type", "client_credentials"), basic: "nobody"}
	tooLarge := req{body: form("grant_type", "client_credentials", "pad", strings.Repeat("a", issuer.DefaultTokenBodyBytes)), basic: "vendor-1"}
	badLogin := req{contentType: "application/json", body: `{"username":"bob","password":"nope"}`}
	for _, tc := range []struct {
		name   string
		format tgerrors.Format // TokenConfig.ErrorFormat
		mw     func(http.Handler) http.Handler
		rq     req
		status int
		body   string
	}{
		{"vendor portal, option", tgerrors.Message, nil, wrongSecret, 401, `{"message":"Unauthorized"}`},
		{"vendor portal, errors.Use", nil, tgerrors.Use(tgerrors.Message), wrongSecret, 401, `{"message":"Unauthorized"}`},
		{"B2B, bad login", b2bFormat, nil, badLogin, 400, `{"error":{"code":"invalid_grant","message":"wrong username or password"},"success":false}`},
		{"B2B, too large", b2bFormat, nil, tooLarge, 413, `{"error":{"code":"payload_too_large","message":"the body is too large"},"success":false}`},
		{"the option wins over errors.Use", b2bFormat, tgerrors.Use(tgerrors.Message), wrongSecret, 401, `{"error":{"code":"invalid_client","message":"client authentication failed"},"success":false}`},
		{"a format that writes only a body", tgerrors.FormatFunc(func(w http.ResponseWriter, _ *http.Request, e *tgerrors.Error) {
			_, _ = w.Write([]byte(`{"err":"` + string(e.Kind) + `"}`))
		}), nil, wrongSecret, 401, `{"err":"invalid_client"}`},
		{"errors.OAuth is RFC 6749 §5.2", nil, tgerrors.Use(tgerrors.OAuth), wrongSecret, 401, `{"error":"invalid_client","error_description":"client authentication failed"}`},
		{"no format is RFC 6749 §5.2", nil, nil, badLogin, 400, `{"error":"invalid_grant","error_description":"wrong username or password"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGrants(t, func(c *issuer.TokenConfig) { c.ErrorFormat = tc.format })
			tc.rq.mw = tc.mw
			rec := g.do(tc.rq)
			if rec.Code != tc.status || strings.TrimSpace(rec.Body.String()) != tc.body || rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("status %d, headers %v, body %s", rec.Code, rec.Header(), rec.Body)
			}
			if ch := rec.Header().Get("WWW-Authenticate"); (tc.status == 401) != strings.HasPrefix(ch, `Basic realm="token"`) {
				t.Fatalf("challenge %q", ch)
			}
			if g.store.creates.Load() != 0 {
				t.Fatal("a refused login started a session")
			}
		})
	}
}

// A refresh never carries a scope the client may get through
// client_credentials alone, even from a session that was started with it.
func TestARefreshDropsScopesOnlyClientCredentialsMayGive(t *testing.T) {
	g := newGrants(t)
	rt, err := g.sessions.Start(context.Background(), issuer.SessionRequest{
		ClientID: "market", Subject: "owner-1", Audience: []string{"orders-api"},
		Scopes: []string{"catalog", "integration.order"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := g.ok(g.do(req{body: form("grant_type", "refresh_token", "refresh_token", rt.Token.Reveal()), basic: "market"}))
	if got.Scope != "catalog" {
		t.Fatalf("a refreshed user token carries scope %q; integration.order is for client_credentials alone", got.Scope)
	}
	g.refused(g.do(req{body: form("grant_type", "refresh_token", "refresh_token", got.RefreshToken, "scope", "integration.order"), basic: "market"}), 400, "invalid_scope")
}

// The account whose allow-list guards a refresh is the one the login
// named, not the subject Login returned: no list is kept by subject here.
func TestARefreshIsCheckedAgainstTheLoginsAccountAllowListNotTheSubjects(t *testing.T) {
	accounts := &ipfilter.MemoryAccounts{}
	if err := accounts.Set("acme", "203.0.113.0/24"); err != nil {
		t.Fatal(err)
	}
	g := newGrants(t, func(c *issuer.TokenConfig) {
		c.Accounts = accounts
		c.Login = func(_ context.Context, username, password string) (string, error) {
			if username == "acme" && password == "correct horse" {
				return "user-42", nil
			}
			return "", issuer.ErrBadCredentials
		}
	})
	login := form("grant_type", "password", "username", "acme", "password", "correct horse")
	b := g.ok(g.do(req{body: login, basic: "b2b-app", remote: "203.0.113.9:1"}))
	refresh := form("grant_type", "refresh_token", "refresh_token", b.RefreshToken)
	g.refused(g.do(req{body: refresh, basic: "b2b-app", remote: "198.51.100.7:1"}), 400, "invalid_grant")
	if g.store.rotations.Load() != 0 {
		t.Fatal("rotated from an address outside the account's list")
	}
	// From inside the list it rotates, and its successor keeps the account.
	n := g.ok(g.do(req{body: refresh, basic: "b2b-app", remote: "203.0.113.9:1"}))
	g.refused(g.do(req{body: form("grant_type", "refresh_token", "refresh_token", n.RefreshToken), basic: "b2b-app", remote: "198.51.100.7:1"}), 400, "invalid_grant")
	if g.store.rotations.Load() != 1 {
		t.Fatalf("%d rotations, want 1", g.store.rotations.Load())
	}
	g.ok(g.do(req{body: form("grant_type", "refresh_token", "refresh_token", n.RefreshToken), basic: "b2b-app", remote: "203.0.113.9:1"}))
}

// Regenerating a client's secret ends the tokens issued under the old one,
// through the revocation layer; a token issued after it is good.
func TestRegeneratingASecretEndsTheTokensOfTheOldOne(t *testing.T) {
	g := newGrants(t)
	clients, err := issuer.NewClients(issuer.ClientsConfig{Argon2: storetest.FastArgon2, Now: g.c.Now,
		OnSecretRegenerated: issuer.RevokeClientTokens(g.revoked, time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	_, old, err := clients.Create(context.Background(), issuer.Client{ID: "svc", Grants: []string{issuer.GrantClientCredentials},
		Scopes: []string{"orders:read"}, Audience: []string{"orders-api"}})
	if err != nil {
		t.Fatal(err)
	}
	g.cfg.Clients = clients
	if g.h, err = issuer.NewTokenHandler(g.cfg); err != nil {
		t.Fatal(err)
	}
	g.secrets["svc"] = old.Reveal()
	before := g.ok(g.do(req{body: form("grant_type", "client_credentials"), basic: "svc"}))
	g.c.Set(g.c.Now().Add(time.Minute))
	fresh, err := clients.RegenerateSecret(context.Background(), "svc")
	if err != nil {
		t.Fatal(err)
	}
	g.refused(g.do(req{body: form("grant_type", "client_credentials"), basic: "svc"}), 401, "invalid_client")
	g.secrets["svc"] = fresh.Reveal()
	g.c.Set(g.c.Now().Add(time.Second))
	after := g.ok(g.do(req{body: form("grant_type", "client_credentials"), basic: "svc"}))
	v := selfVerifier(t, g.c, g.ring)
	for name, tc := range map[string]struct {
		token string
		want  bool
	}{"issued under the old secret": {before.AccessToken, true}, "issued under the new one": {after.AccessToken, false}} {
		p, err := v.Verify(context.Background(), tc.token)
		if err != nil {
			t.Fatal(err)
		}
		if revoked, _ := g.revoked.Revoked(context.Background(), tc.token, p); revoked != tc.want {
			t.Errorf("a token %s: revoked %v, want %v", name, revoked, tc.want)
		}
	}
}
