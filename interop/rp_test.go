package interop

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/tollgate/tollgate/issuer"
)

// These tests drive tollgate's authorization code grant with a second
// client library, zitadel/oidc's relying party (pkg/client/rp), made with
// rp.NewRelyingPartyOAuth: plain OAuth 2.0, so the RP asks for no
// "openid" scope and expects no ID token (verifyTokenResponse hands the
// token response through untouched when IsOAuth2Only). Its login handler
// (rp.AuthURLHandler) makes the state and the PKCE verifier, keeps both in
// its encrypted cookies (pkg/http.CookieHandler) and redirects to
// tollgate's authorization endpoint; its callback (rp.CodeExchangeHandler)
// checks the state against the cookie, exchanges the code with the
// verifier, and hands the tokens to the test. rp.RefreshTokens refreshes.
//
// The RP does not check RFC 9207's "iss" in the callback (pkg/client has
// no reference to it): tollgate sends it, and the tests check that it
// does, but an RP that talks to several servers must compare it itself.

// rpUser is the subject tollgate's page signs in and approves for.
const rpUser = "user-alice"

// codeServer is tollgate's authorization server on httptest, stores in
// memory: metadata, the authorization endpoint whose page approves every
// valid request on GET for rpUser, and the token endpoint for
// authorization_code and refresh_token. It counts the page's calls and
// records how each token request authenticated the client.
type codeServer struct {
	*httptest.Server
	clients *issuer.Clients
	secrets map[string]string
	api     *guardedAPI

	interacted atomic.Int64
	mu         sync.Mutex
	tokenReqs  []tokenRequest
}

// tokenRequest is what the token endpoint saw of one request.
type tokenRequest struct {
	grant string
	// auth is how the client authenticated: "basic" (client_secret_basic),
	// "post" (client_secret_post), "basic, no secret" (Basic with an empty
	// password, as x/oauth2 sends a public client) or "none" (client_id
	// alone).
	auth     string
	verifier bool // a code_verifier was sent
}

func newCodeServer(t *testing.T) *codeServer {
	t.Helper()
	p := newIssuerParts(t)
	srv := p.srv
	cs := &codeServer{Server: srv, clients: p.clients, secrets: map[string]string{}}
	grants, err := issuer.NewGrants(issuer.GrantsConfig{Sessions: p.sessions})
	if err != nil {
		t.Fatal(err)
	}
	authorize, err := issuer.NewAuthorizeHandler(issuer.AuthorizeConfig{
		Issuer: srv.URL, Clients: cs.clients, Grants: grants,
		Interact: func(w http.ResponseWriter, r *http.Request, req *issuer.AuthorizationRequest) {
			// The user is signed in already and allows what is asked.
			cs.interacted.Add(1)
			if err := req.Approve(w, r, rpUser, nil); err != nil {
				t.Errorf("Approve: %v", err)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	codeGrants := []string{issuer.GrantAuthorizationCode, issuer.GrantRefreshToken}
	token, err := issuer.NewTokenHandler(issuer.TokenConfig{
		Clients: cs.clients, Minter: p.minter, Sessions: p.sessions, CodeGrants: grants, Grants: codeGrants,
	})
	if err != nil {
		t.Fatal(err)
	}
	metadata, err := issuer.NewMetadataHandler(issuer.MetadataConfig{
		Issuer: srv.URL, AuthorizationEndpoint: srv.URL + "/authorize", TokenEndpoint: srv.URL + "/oauth/token",
		JWKSURI: srv.URL + "/.well-known/jwks.json", PublicClients: true, GrantTypes: codeGrants,
	})
	if err != nil {
		t.Fatal(err)
	}
	p.mux.Handle("/authorize", authorize)
	p.mux.Handle("POST /oauth/token", cs.recordTokenRequest(token))
	p.mux.Handle("GET /.well-known/oauth-authorization-server", metadata)
	p.mux.Handle("GET /.well-known/jwks.json", issuer.NewJWKSHandler(p.ring, 0))

	cs.api = p.api(t)
	return cs
}

// recordTokenRequest notes how each token request authenticated before
// passing it, body intact, to next.
func (cs *codeServer) recordTokenRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		tr := tokenRequest{grant: form.Get("grant_type"), auth: "none", verifier: form.Get("code_verifier") != ""}
		if _, pass, ok := r.BasicAuth(); ok {
			tr.auth = "basic"
			if pass == "" {
				tr.auth = "basic, no secret"
			}
		} else if form.Has("client_secret") {
			tr.auth = "post"
		}
		cs.mu.Lock()
		cs.tokenReqs = append(cs.tokenReqs, tr)
		cs.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// takeTokenRequests returns the token requests seen since the last call.
func (cs *codeServer) takeTokenRequests() []tokenRequest {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	out := cs.tokenReqs
	cs.tokenReqs = nil
	return out
}

// register adds a client of the code and refresh grants that may get
// scopeRead for the API, sending its users back to redirectURI; a
// confidential one's secret goes to cs.secrets.
func (cs *codeServer) register(t *testing.T, id string, public bool, redirectURI string) {
	t.Helper()
	_, s, err := cs.clients.Create(context.Background(), issuer.Client{
		ID: id, Name: "Orders dashboard", Public: public,
		Grants:       []string{issuer.GrantAuthorizationCode, issuer.GrantRefreshToken},
		Scopes:       []string{scopeRead},
		Audience:     []string{apiAudience},
		RedirectURIs: []string{redirectURI},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !public {
		cs.secrets[id] = s.Reveal()
	}
}

// endpoints reads the server's metadata (RFC 8414), as an RP's operator
// would to configure it, and checks that it announces the "iss"
// authorization response parameter and S256.
func (cs *codeServer) endpoints(t *testing.T) oauth2.Endpoint {
	t.Helper()
	req, _ := http.NewRequestWithContext(testContext(t), http.MethodGet, cs.URL+"/.well-known/oauth-authorization-server", nil)
	resp, err := cs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var md struct {
		Issuer                string   `json:"issuer"`
		AuthorizationEndpoint string   `json:"authorization_endpoint"`
		TokenEndpoint         string   `json:"token_endpoint"`
		CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
		IssParameter          bool     `json:"authorization_response_iss_parameter_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		t.Fatal(err)
	}
	if md.Issuer != cs.URL || !md.IssParameter || !slices.Equal(md.CodeChallengeMethods, []string{"S256"}) {
		t.Fatalf("metadata: %+v", md)
	}
	return oauth2.Endpoint{AuthURL: md.AuthorizationEndpoint, TokenURL: md.TokenEndpoint}
}

// relyingParty is a web app on httptest whose sign-in is zitadel's rp:
// GET /login starts it, the callback finishes it and answers "signed in".
type relyingParty struct {
	*httptest.Server
	rp rp.RelyingParty

	reached atomic.Int64 // requests to the callback
	mu      sync.Mutex
	state   string // the last state the login handler made
	tokens  *oidc.Tokens[*oidc.IDTokenClaims]
	gotFor  string // the state the callback was handed with them
}

// newRelyingParty starts the app for client id, registers the client at
// cs with the app's path registered as its redirect URI, and makes its
// rp with the redirect URI sent (a path and query on the app, normally
// the one registered), the client's secret if it has one, PKCE, and the
// rp's cookies for state and verifier. The callback is served at sent's
// path.
func newRelyingParty(t *testing.T, cs *codeServer, id string, public bool, registered, sent string, opts ...rp.Option) *relyingParty {
	t.Helper()
	mux := http.NewServeMux()
	a := &relyingParty{Server: httptest.NewServer(mux)}
	t.Cleanup(a.Close)
	cs.register(t, id, public, a.URL+registered)

	// The cookies are HMAC'd and AES-encrypted; not Secure, as the app is
	// served over plain http on loopback.
	cookies := httphelper.NewCookieHandler(randomKey(t), randomKey(t), httphelper.WithUnsecure())
	conf := &oauth2.Config{
		ClientID: id, ClientSecret: cs.secrets[id], RedirectURL: a.URL + sent,
		Scopes: []string{scopeRead}, Endpoint: cs.endpoints(t),
	}
	var err error
	a.rp, err = rp.NewRelyingPartyOAuth(conf, append([]rp.Option{rp.WithPKCE(cookies)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !a.rp.IsOAuth2Only() || !a.rp.IsPKCE() {
		t.Fatal("the relying party is not OAuth 2.0 with PKCE")
	}
	mux.Handle("GET /login", rp.AuthURLHandler(func() string {
		s := rand.Text()
		a.mu.Lock()
		a.state = s
		a.mu.Unlock()
		return s
	}, a.rp))
	exchange := rp.CodeExchangeHandler(func(w http.ResponseWriter, _ *http.Request, tokens *oidc.Tokens[*oidc.IDTokenClaims], state string, _ rp.RelyingParty) {
		a.mu.Lock()
		a.tokens, a.gotFor = tokens, state
		a.mu.Unlock()
		io.WriteString(w, "signed in")
	}, a.rp)
	callbackPath, _, _ := strings.Cut(sent, "?")
	mux.Handle("GET "+callbackPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.reached.Add(1)
		exchange(w, r)
	}))
	return a
}

func randomKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// signedIn returns the tokens the callback was handed, checking they came
// with the state the login made.
func (a *relyingParty) signedIn(t *testing.T) *oidc.Tokens[*oidc.IDTokenClaims] {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tokens == nil {
		t.Fatal("the callback got no tokens")
	}
	if a.state == "" || a.gotFor != a.state {
		t.Fatalf("callback state %q, login made %q", a.gotFor, a.state)
	}
	return a.tokens
}

// visit is one page load of the browser: the requests it made, the last
// response's status and body.
type visit struct {
	hops   []*url.URL // every URL requested, the first one included
	status int
	body   string
}

// last returns the URL of the page the browser ended on.
func (v visit) last() *url.URL { return v.hops[len(v.hops)-1] }

// browse loads start in a browser with its own cookie jar that follows
// redirects among loopback servers and nowhere else.
func browse(t *testing.T, start string) visit {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(start)
	if err != nil {
		t.Fatal(err)
	}
	v := visit{hops: []*url.URL{u}}
	browser := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		v.hops = append(v.hops, r.URL)
		if r.URL.Hostname() != "127.0.0.1" || len(via) > 5 {
			return errors.New("redirect to " + r.URL.Redacted() + " not followed")
		}
		return nil
	}}
	req, _ := http.NewRequestWithContext(testContext(t), http.MethodGet, start, nil)
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	v.status, v.body = resp.StatusCode, string(body)
	return v
}

// signIn runs the RP's sign-in in a browser and checks it went the way of
// the code grant: the RP to tollgate's authorization endpoint with an S256
// challenge and a state, tollgate straight back to the callback with a
// code, the state and its iss, and the callback's "signed in".
func signIn(t *testing.T, cs *codeServer, a *relyingParty, callbackPath string) *oidc.Tokens[*oidc.IDTokenClaims] {
	t.Helper()
	v := browse(t, a.URL+"/login")
	if len(v.hops) != 3 {
		t.Fatalf("browser went %v, want login → authorize → callback", v.hops)
	}
	az, cb := v.hops[1], v.hops[2]
	q := az.Query()
	if az.Host != cs.Listener.Addr().String() || az.Path != "/authorize" || q.Get("response_type") != "code" ||
		q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("state") == "" {
		t.Fatalf("the RP sent the browser to %s", az.Redacted())
	}
	q = cb.Query()
	if cb.Host != a.Listener.Addr().String() || cb.Path != callbackPath || q.Get("code") == "" ||
		q.Get("state") != az.Query().Get("state") || q.Get("iss") != cs.URL {
		t.Fatalf("tollgate sent the browser to %s", cb.Redacted())
	}
	if v.status != http.StatusOK || v.body != "signed in" {
		t.Fatalf("callback: %d %q", v.status, v.body)
	}
	return a.signedIn(t)
}

// checkAccessToken calls the API with the access token and checks the
// principal tollgate's jwt.Verifier made of it.
func checkAccessToken(t *testing.T, cs *codeServer, clientID string, tok *oauth2.Token) {
	t.Helper()
	if tok.TokenType != "Bearer" || tok.AccessToken == "" {
		t.Fatalf("token type %q, access token %v", tok.TokenType, tok.AccessToken != "")
	}
	cs.api.call(t, "/orders", tok.AccessToken, wantOK)
	p := cs.api.principal()
	if p.Subject() != rpUser || p.ClientID() != clientID || !slices.Equal(p.Scopes(), []string{scopeRead}) {
		t.Fatalf("principal: subject %q, client %q, scopes %v", p.Subject(), p.ClientID(), p.Scopes())
	}
	cs.api.call(t, "/admin", tok.AccessToken, wantInsufficient)
}

func TestZitadelRPSignsInAndRefreshesThroughTollgatesCodeGrant(t *testing.T) {
	for _, tc := range []struct {
		name   string
		id     string
		public bool
		opts   []rp.Option
		// how the client authenticated on the code and the refresh
		codeAuth, refreshAuth string
	}{
		// rp's default: x/oauth2 probes with Basic on the code, which
		// works; rp.RefreshTokens then puts the secret in the body.
		{name: "confidential client, auth style detected", id: "dash:web +1", codeAuth: "basic", refreshAuth: "post"},
		{name: "confidential client, client_secret_basic", id: "dash:web +1", opts: []rp.Option{rp.WithAuthStyle(oauth2.AuthStyleInHeader)}, codeAuth: "basic", refreshAuth: "basic"},
		{name: "confidential client, client_secret_post", id: "dash:web +1", opts: []rp.Option{rp.WithAuthStyle(oauth2.AuthStyleInParams)}, codeAuth: "post", refreshAuth: "post"},
		{name: "public client, PKCE alone", id: "dash-spa", public: true, codeAuth: "basic, no secret", refreshAuth: "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const callback = "/auth/callback"
			cs := newCodeServer(t)
			a := newRelyingParty(t, cs, tc.id, tc.public, callback, callback, tc.opts...)

			first := signIn(t, cs, a, callback)
			if cs.interacted.Load() != 1 {
				t.Fatalf("the page was called %d times", cs.interacted.Load())
			}
			if got := cs.takeTokenRequests(); !slices.Equal(got, []tokenRequest{{grant: "authorization_code", auth: tc.codeAuth, verifier: true}}) {
				t.Fatalf("token requests %+v", got)
			}
			if first.RefreshToken == "" || first.IDToken != "" {
				t.Fatalf("refresh token %v, ID token %v", first.RefreshToken != "", first.IDToken != "")
			}
			checkAccessToken(t, cs, tc.id, first.Token)

			ctx := testContext(t)
			next, err := rp.RefreshTokens[*oidc.IDTokenClaims](ctx, a.rp, first.RefreshToken, "", "")
			if err != nil {
				t.Fatal(err)
			}
			if next.AccessToken == first.AccessToken || next.RefreshToken == "" || next.RefreshToken == first.RefreshToken {
				t.Fatal("the refresh did not rotate")
			}
			checkAccessToken(t, cs, tc.id, next.Token)
			if got := cs.takeTokenRequests(); !slices.Equal(got, []tokenRequest{{grant: "refresh_token", auth: tc.refreshAuth}}) {
				t.Fatalf("token requests %+v", got)
			}

			// A refresh token is good once: the first again is invalid_grant,
			// and ends the family, so its successor is refused too.
			for _, rt := range []string{first.RefreshToken, next.RefreshToken} {
				_, err := rp.RefreshTokens[*oidc.IDTokenClaims](ctx, a.rp, rt, "", "")
				var oe *oidc.Error
				if !errors.As(err, &oe) || oe.ErrorType != oidc.InvalidGrant {
					t.Fatalf("refresh again: %v", err)
				}
			}
		})
	}
}

func TestZitadelRPWithAnUnregisteredRedirectURIEndsOnTollgatesErrorPage(t *testing.T) {
	for _, tc := range []struct {
		name       string
		registered string // the redirect URI registered, on the RP's server
		sent       string // the one the RP is configured with
	}{
		{name: "another path", registered: "/auth/callback", sent: "/auth/callback2"},
		{name: "a prefix of the registered one", registered: "/auth/callback/web", sent: "/auth/callback"},
		{name: "an added query", registered: "/auth/callback", sent: "/auth/callback?next=/admin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := newCodeServer(t)
			a := newRelyingParty(t, cs, "dash-spa", true, tc.registered, tc.sent)

			v := browse(t, a.URL+"/login")
			if len(v.hops) != 2 || v.last().Host != cs.Listener.Addr().String() || v.last().Path != "/authorize" {
				t.Fatalf("browser went %v, want login → authorize and no further", v.hops)
			}
			if v.status != http.StatusBadRequest || !strings.Contains(v.body, "(invalid_request): redirect_uri is missing, repeated or not registered") {
				t.Fatalf("authorize: %d %q", v.status, v.body)
			}
			if n := a.reached.Load(); n != 0 {
				t.Fatalf("the RP's callback was reached %d times", n)
			}
			if n := cs.interacted.Load(); n != 0 {
				t.Fatalf("the page was called %d times", n)
			}
			if got := cs.takeTokenRequests(); len(got) != 0 {
				t.Fatalf("token requests %+v", got)
			}
		})
	}
}
