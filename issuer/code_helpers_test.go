package issuer_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/internal/storetest"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/revocation"
)

// The PKCE example of RFC 7636 Appendix B.
const (
	testVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	testChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	// otherVerifier is well formed but not testChallenge's.
	otherVerifier = "aBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

// The clients of the authorization code grant's tests: the redirect URI
// every variation is tried against is shopCallback.
const (
	shopCallback   = "https://app.example/cb"
	shopTenant     = "https://app.example/cb?tenant=7"
	mobileCallback = "com.example.app:/cb"
	otherCallback  = "https://other.example/cb"
	testSubject    = "user-1"
)

// codeFlow is an authorization server serving the authorization code
// grant: the authorization endpoint, and a token endpoint with
// authorization_code, refresh_token and client_credentials, over one
// Grants and one Sessions, with a clock the tests move.
type codeFlow struct {
	t        testing.TB
	c        *clock
	ring     *issuer.KeyRing
	clients  *issuer.Clients
	secrets  map[string]string
	store    *countingStore
	sessions *issuer.Sessions
	grants   *issuer.Grants
	// sidRevoked gets the ended sessions (OnSessionEnded through
	// RevokeSessions); grantRevoked the grant rules (OnGrantRevoked
	// through RevokeGrantTokens), apart, so each is seen on its own.
	sidRevoked, grantRevoked *revocation.Memory
	authorize, token         http.Handler

	mu            sync.Mutex
	ended         []string       // sids told to OnSessionEnded
	revokedGrants []issuer.Grant // grants told to OnGrantRevoked
	// interact is the provider's page; nil approves every request as
	// testSubject with all its scopes. interactions counts the calls and
	// last is the request of the latest.
	interact     func(w http.ResponseWriter, r *http.Request, req *issuer.AuthorizationRequest)
	interactions int
	last         *issuer.AuthorizationRequest
}

func newCodeFlow(t testing.TB, tweak ...func(*issuer.AuthorizeConfig)) *codeFlow {
	t.Helper()
	return newCodeFlowWith(t, nil, tweak...)
}

// newCodeFlowWith is newCodeFlow with codes as the Grants' CodeStore (nil:
// a MemoryCodeStore).
func newCodeFlowWith(t testing.TB, codes issuer.CodeStore, tweak ...func(*issuer.AuthorizeConfig)) *codeFlow {
	t.Helper()
	f := &codeFlow{t: t, c: newClock(), secrets: map[string]string{}, store: &countingStore{}}
	f.sidRevoked = revocation.NewMemory(revocation.MemoryConfig{Now: f.c.Now})
	f.grantRevoked = revocation.NewMemory(revocation.MemoryConfig{Now: f.c.Now})
	f.ring = newRing(t, f.c, nil, "")
	var err error
	if f.clients, err = issuer.NewClients(issuer.ClientsConfig{Argon2: storetest.FastArgon2, Now: f.c.Now}); err != nil {
		t.Fatal(err)
	}
	toSids := issuer.RevokeSessions(f.sidRevoked)
	f.sessions, err = issuer.NewSessions(issuer.SessionsConfig{Store: f.store, Now: f.c.Now,
		OnSessionEnded: func(ctx context.Context, sid string, until time.Time) {
			f.mu.Lock()
			f.ended = append(f.ended, sid)
			f.mu.Unlock()
			toSids(ctx, sid, until)
		}})
	if err != nil {
		t.Fatal(err)
	}
	toRules := issuer.RevokeGrantTokens(f.grantRevoked, time.Hour)
	f.grants, err = issuer.NewGrants(issuer.GrantsConfig{Sessions: f.sessions, Codes: codes, Now: f.c.Now,
		OnGrantRevoked: func(ctx context.Context, g issuer.Grant, at time.Time) error {
			f.mu.Lock()
			f.revokedGrants = append(f.revokedGrants, g)
			f.mu.Unlock()
			return toRules(ctx, g, at)
		}})
	if err != nil {
		t.Fatal(err)
	}
	code := []string{issuer.GrantAuthorizationCode, issuer.GrantRefreshToken}
	aud := []string{"orders-api"}
	for _, cl := range []issuer.Client{
		// A web app's back end, which also calls the API as itself: its
		// integration scope is for client_credentials alone.
		{ID: "shop", Name: "Shop", Grants: append(slices.Clone(code), issuer.GrantClientCredentials), Audience: aud,
			Scopes: []string{"orders:read", "orders:write", "integration.order"}, RedirectURIs: []string{shopCallback, shopTenant},
			GrantScopes: map[string][]string{issuer.GrantClientCredentials: {"integration.order"}}},
		{ID: "mobile", Name: "Mobile", Public: true, Grants: code, Audience: aud, Scopes: []string{"orders:read"}, RedirectURIs: []string{mobileCallback}},
		{ID: "other", Name: "Other", Grants: code, Audience: aud, Scopes: []string{"orders:read"}, RedirectURIs: []string{otherCallback}},
		{ID: "vendor", Name: "Vendor", Grants: []string{issuer.GrantClientCredentials}, Audience: aud, Scopes: []string{"orders:read"},
			RedirectURIs: []string{"https://vendor.example/cb"}},
		{ID: "gone", Name: "Gone", Disabled: true, Grants: code, Audience: aud, Scopes: []string{"orders:read"}, RedirectURIs: []string{shopCallback}},
	} {
		_, secret, err := f.clients.Create(context.Background(), cl)
		if err != nil {
			t.Fatal(err)
		}
		f.secrets[cl.ID] = secret.Reveal()
	}
	acfg := issuer.AuthorizeConfig{Issuer: testIssuer, Clients: f.clients, Grants: f.grants, Log: slog.New(slog.DiscardHandler),
		Interact: func(w http.ResponseWriter, r *http.Request, req *issuer.AuthorizationRequest) {
			f.mu.Lock()
			f.interactions++
			f.last = req
			interact := f.interact
			f.mu.Unlock()
			if interact != nil {
				interact(w, r, req)
				return
			}
			if err := req.Approve(w, r, testSubject, nil); err != nil {
				t.Errorf("Approve: %v", err)
			}
		}}
	for _, tw := range tweak {
		tw(&acfg)
	}
	if f.authorize, err = issuer.NewAuthorizeHandler(acfg); err != nil {
		t.Fatal(err)
	}
	f.token, err = issuer.NewTokenHandler(issuer.TokenConfig{
		Clients: f.clients, Minter: newMinter(t, f.c, f.ring), Sessions: f.sessions, CodeGrants: f.grants,
		Grants: []string{issuer.GrantAuthorizationCode, issuer.GrantRefreshToken, issuer.GrantClientCredentials},
		Log:    slog.New(slog.DiscardHandler), // replays are logged, by design
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// query builds an authorization request's query from name, value pairs;
// a name may repeat.
func query(kv ...string) string {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

// shopQuery is a valid authorization request of shop for shopCallback,
// without PKCE, with kv added.
func shopQuery(kv ...string) string {
	return query(append([]string{"response_type", "code", "client_id", "shop", "redirect_uri", shopCallback, "state", "xyz"}, kv...)...)
}

// mobileQuery is a valid authorization request of the public client,
// with PKCE and without redirect_uri (it has one), with kv added.
func mobileQuery(kv ...string) string {
	return query(append([]string{"response_type", "code", "client_id", "mobile", "state", "xyz",
		"code_challenge", testChallenge, "code_challenge_method", "S256"}, kv...)...)
}

// visit sends the user's browser to the authorization endpoint with
// rawQuery.
func (f *codeFlow) visit(method, rawQuery string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/authorize", nil)
	r.URL.RawQuery = rawQuery
	if method == http.MethodPost {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	rec := httptest.NewRecorder()
	f.authorize.ServeHTTP(rec, r)
	return rec
}

func (f *codeFlow) interactCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.interactions
}

// redirected checks that rec sends the user back to redirectURI with a
// 302 (or status), the endpoint's anti-framing and no-store headers, and
// state and iss; it returns the parameters added to the redirect URI.
func redirected(t testing.TB, rec *httptest.ResponseRecorder, status int, redirectURI, state string) url.Values {
	t.Helper()
	loc := rec.Header().Get("Location")
	if rec.Code != status || loc == "" {
		t.Fatalf("status %d, Location %q, body %s; want %d to %s", rec.Code, loc, rec.Body, status, redirectURI)
	}
	sep := "?"
	if strings.Contains(redirectURI, "?") {
		sep = "&"
	}
	if !strings.HasPrefix(loc, redirectURI+sep) {
		t.Fatalf("Location %q is not under %q", loc, redirectURI)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	q, err := url.ParseQuery(strings.TrimPrefix(loc, redirectURI+sep))
	if err != nil || u.Fragment != "" {
		t.Fatalf("Location %q: %v", loc, err)
	}
	if len(q["state"]) > 1 || q.Get("state") != state || len(q["iss"]) != 1 || q.Get("iss") != testIssuer {
		t.Fatalf("Location %q: want state %q and iss %q once", loc, state, testIssuer)
	}
	h := rec.Header()
	if h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "DENY" || h.Get("Content-Security-Policy") != "frame-ancestors 'none'" {
		t.Fatalf("headers %v", h)
	}
	return q
}

// redirectedError checks a refusal sent back to the client: error code,
// a description, state and iss, and no code.
func redirectedError(t testing.TB, rec *httptest.ResponseRecorder, redirectURI, state, code string) {
	t.Helper()
	q := redirected(t, rec, http.StatusFound, redirectURI, state)
	if q.Get("error") != code || q.Get("error_description") == "" || q.Has("code") {
		t.Fatalf("Location %q: want error %s and no code", rec.Header().Get("Location"), code)
	}
}

// approved runs an authorization request that the page approves and
// returns the code it sends back to redirectURI.
func (f *codeFlow) approved(rawQuery, redirectURI string) string {
	f.t.Helper()
	q := redirected(f.t, f.visit(http.MethodGet, rawQuery), http.StatusFound, redirectURI, mustQuery(f.t, rawQuery).Get("state"))
	if q.Has("error") || len(q.Get("code")) < 43 {
		f.t.Fatalf("authorization response %v", q)
	}
	return q.Get("code")
}

func mustQuery(t testing.TB, raw string) url.Values {
	t.Helper()
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// exchange posts rq to the token endpoint.
func (f *codeFlow) exchange(rq req) *httptest.ResponseRecorder {
	return postToken(f.token, f.secrets, rq)
}

// redeemShop is shop's token request for code issued for shopCallback,
// authenticated by Basic, with kv added.
func redeemShop(code string, kv ...string) req {
	return req{basic: "shop", body: form(append([]string{"grant_type", "authorization_code", "code", code, "redirect_uri", shopCallback}, kv...)...)}
}

// redeemMobile is the public client's token request for code, with its
// verifier and client_id alone.
func redeemMobile(code string) req {
	return req{body: form("grant_type", "authorization_code", "code", code, "client_id", "mobile", "code_verifier", testVerifier)}
}

// refreshAs is client's refresh request for token, with kv added; a
// public client is named by client_id.
func refreshAs(client, token string, kv ...string) req {
	kv = append([]string{"grant_type", "refresh_token", "refresh_token", token}, kv...)
	if client == "mobile" {
		return req{body: form(append(kv, "client_id", client)...)}
	}
	return req{basic: client, body: form(kv...)}
}

// verify verifies an access token the token endpoint issued.
func (f *codeFlow) verify(token string) *principal.Principal {
	f.t.Helper()
	p, err := selfVerifier(f.t, f.c, f.ring).Verify(context.Background(), token)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// endedSessions returns the sids told to OnSessionEnded.
func (f *codeFlow) endedSessions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ended)
}

// revokedBySid reports whether the access token's session has been
// ended in the revocation layer.
func (f *codeFlow) revokedBySid(token string, p *principal.Principal) bool {
	f.t.Helper()
	revoked, err := f.sidRevoked.Revoked(context.Background(), token, p)
	if err != nil {
		f.t.Fatal(err)
	}
	return revoked
}
