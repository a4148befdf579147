package issuer_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/internal/storetest"
)

// RFC 6749 §4.1.1–4.1.2: a valid request reaches the provider's page with
// what it must show, and its approval sends the user back with code,
// state and iss (RFC 9207).
func TestAValidAuthorizationRequestReachesThePageAndItsApprovalRedirectsWithACode(t *testing.T) {
	for _, tc := range []struct {
		name        string
		method      string
		query       string
		redirectURI string
		status      int
		client      string
		scopes      []string
	}{
		{"GET, scope defaults to the grant's", http.MethodGet, shopQuery(), shopCallback, http.StatusFound, "Shop", []string{"orders:read", "orders:write"}},
		{"POST of the consent form is 303", http.MethodPost, shopQuery("scope", "orders:read"), shopCallback, http.StatusSeeOther, "Shop", []string{"orders:read"}},
		{"a registered redirect URI's query is kept", http.MethodGet, query("response_type", "code", "client_id", "shop", "redirect_uri", shopTenant, "state", "xyz"), shopTenant, http.StatusFound, "Shop", []string{"orders:read", "orders:write"}},
		{"public client, its only redirect URI by default", http.MethodGet, mobileQuery(), mobileCallback, http.StatusFound, "Mobile", []string{"orders:read"}},
		{"unknown parameters are ignored", http.MethodGet, shopQuery("prompt", "consent", "nonce", "n"), shopCallback, http.StatusFound, "Shop", []string{"orders:read", "orders:write"}},
		{"response_mode=query", http.MethodGet, shopQuery("response_mode", "query"), shopCallback, http.StatusFound, "Shop", []string{"orders:read", "orders:write"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newCodeFlow(t)
			rec := f.visit(tc.method, tc.query)
			if f.interactCalls() != 1 {
				t.Fatalf("Interact called %d times", f.interactCalls())
			}
			req := f.last
			if req.Client.Name != tc.client || req.Client.SecretHash != "" || req.RedirectURI != tc.redirectURI ||
				!slices.Equal(req.Scopes, tc.scopes) || req.State != "xyz" {
				t.Fatalf("the page got %+v", *req)
			}
			q := redirected(t, rec, tc.status, tc.redirectURI, "xyz")
			if q.Has("error") || len(q.Get("code")) != 43 || len(q["code"]) != 1 {
				t.Fatalf("Location %q", rec.Header().Get("Location"))
			}
			if tc.redirectURI == shopTenant && !strings.HasPrefix(rec.Header().Get("Location"), "https://app.example/cb?tenant=7&code=") {
				t.Fatalf("Location %q", rec.Header().Get("Location"))
			}
			// The approval is recorded as the user's grant to the client.
			g, err := f.grants.Lookup(context.Background(), testSubject, req.Client.ID)
			if err != nil || !slices.Equal(g.Scopes, tc.scopes) {
				t.Fatalf("grant %+v, %v", g, err)
			}
		})
	}
}

// The page itself is served with the endpoint's headers: not framed
// (clickjacking of the consent, RFC 9700 §4.16), not cached.
func TestTheConsentPageCannotBeFramedOrCached(t *testing.T) {
	f := newCodeFlow(t)
	f.interact = func(w http.ResponseWriter, _ *http.Request, _ *issuer.AuthorizationRequest) {
		_, _ = w.Write([]byte("<form method=post>Allow Shop?</form>"))
	}
	rec := f.visit(http.MethodGet, shopQuery())
	h := rec.Header()
	if rec.Code != 200 || h.Get("Location") != "" || h.Get("X-Frame-Options") != "DENY" ||
		h.Get("Content-Security-Policy") != "frame-ancestors 'none'" || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d, headers %v", rec.Code, h)
	}
}

// RFC 6749 §4.1.2.1, RFC 9700 §4.1: a request whose client or redirect URI
// cannot be trusted is shown to the user, never redirected (no open
// redirector, no code to an attacker's URI), and never reaches the page.
func TestARequestWithABadClientOrRedirectURIIsShownToTheUserNeverRedirected(t *testing.T) {
	base := func(kv ...string) string {
		return query(append([]string{"response_type", "code", "state", "xyz"}, kv...)...)
	}
	shop := func(redirectURI string) string { return base("client_id", "shop", "redirect_uri", redirectURI) }
	for _, tc := range []struct {
		name, query string
	}{
		{"no client_id", base("redirect_uri", shopCallback)},
		{"empty client_id", base("client_id", "", "redirect_uri", shopCallback)},
		{"unknown client_id", base("client_id", "nobody", "redirect_uri", shopCallback)},
		{"disabled client", base("client_id", "gone", "redirect_uri", shopCallback)},
		{"client_id twice", base("client_id", "shop", "client_id", "shop", "redirect_uri", shopCallback)},
		{"host in another case", shop("https://APP.example/cb")},
		{"path in another case", shop("https://app.example/CB")},
		{"scheme in another case", shop("HTTPS://app.example/cb")},
		{"trailing slash", shop("https://app.example/cb/")},
		{"extra path segment", shop("https://app.example/cb/more")},
		{"dot segments", shop("https://app.example/cb/../evil")},
		{"encoded path", shop("https://app.example/%63b")},
		{"explicit port", shop("https://app.example:443/cb")},
		{"userinfo", shop("https://evil@app.example/cb")},
		{"a longer host", shop("https://app.example.evil.com/cb")},
		{"an added query", shop("https://app.example/cb?next=https://evil")},
		{"a registered query changed", shop("https://app.example/cb?tenant=8")},
		{"a fragment", shop("https://app.example/cb#frag")},
		{"http instead of https", shop("http://app.example/cb")},
		{"another client's redirect URI", shop(otherCallback)},
		{"redirect_uri twice", base("client_id", "shop", "redirect_uri", shopCallback, "redirect_uri", shopCallback)},
		{"no redirect_uri when two are registered", base("client_id", "shop")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newCodeFlow(t)
			rec := f.visit(http.MethodGet, tc.query)
			h := rec.Header()
			if rec.Code != http.StatusBadRequest || h.Get("Location") != "" || f.interactCalls() != 0 {
				t.Fatalf("status %d, Location %q, Interact called %d times", rec.Code, h.Get("Location"), f.interactCalls())
			}
			if !strings.HasPrefix(h.Get("Content-Type"), "text/plain") || !strings.Contains(rec.Body.String(), "invalid_request") ||
				strings.Contains(rec.Body.String(), "evil") || h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" {
				t.Fatalf("headers %v, body %q", h, rec.Body)
			}
			if _, err := f.grants.Lookup(context.Background(), testSubject, "shop"); !errors.Is(err, issuer.ErrNotFound) {
				t.Fatalf("a grant was recorded: %v", err)
			}
		})
	}
}

// AuthorizeConfig.ErrorPage shows those errors in the provider's page.
func TestTheProvidersErrorPageShowsTheErrorsThatCannotBeRedirected(t *testing.T) {
	var got issuer.AuthorizeError
	f := newCodeFlow(t, func(c *issuer.AuthorizeConfig) {
		c.ErrorPage = func(w http.ResponseWriter, _ *http.Request, e issuer.AuthorizeError) {
			got = e
			w.WriteHeader(e.Status)
			_, _ = w.Write([]byte("<h1>Sorry</h1>"))
		}
	})
	rec := f.visit(http.MethodGet, query("response_type", "code", "client_id", "shop", "redirect_uri", "https://evil.example/cb"))
	if rec.Code != 400 || rec.Body.String() != "<h1>Sorry</h1>" || got.Code != "invalid_request" || got.Description == "" ||
		strings.Contains(got.Error(), "evil") || rec.Header().Get("Location") != "" {
		t.Fatalf("status %d, body %q, error %+v", rec.Code, rec.Body, got)
	}
}

// Once the redirect URI is known good, the client is told why its request
// was refused (RFC 6749 §4.1.2.1), with its state and iss, and no code;
// the page is not shown.
func TestAnInvalidRequestToAGoodRedirectURIIsRedirectedWithTheError(t *testing.T) {
	shop := func(kv ...string) string {
		return query(append([]string{"client_id", "shop", "redirect_uri", shopCallback, "state", "xyz"}, kv...)...)
	}
	mobile := func(kv ...string) string {
		return query(append([]string{"response_type", "code", "client_id", "mobile", "state", "xyz"}, kv...)...)
	}
	for _, tc := range []struct {
		name, query, redirectURI, state, code string
		requirePKCE                           bool
	}{
		{"no response_type", shop(), shopCallback, "xyz", "invalid_request", false},
		{"response_type=token", shop("response_type", "token"), shopCallback, "xyz", "unsupported_response_type", false},
		{"response_type twice", shop("response_type", "code", "response_type", "code"), shopCallback, "xyz", "invalid_request", false},
		{"a client not registered for the grant", query("response_type", "code", "client_id", "vendor", "state", "xyz"), "https://vendor.example/cb", "xyz", "unauthorized_client", false},
		{"a public client without PKCE", mobile(), mobileCallback, "xyz", "invalid_request", false},
		{"response_mode=fragment", shop("response_type", "code", "response_mode", "fragment"), shopCallback, "xyz", "invalid_request", false},
		{"code_challenge_method=plain", mobile("code_challenge", testVerifier, "code_challenge_method", "plain"), mobileCallback, "xyz", "invalid_request", false},
		{"code_challenge without a method (plain)", mobile("code_challenge", testChallenge), mobileCallback, "xyz", "invalid_request", false},
		{"a method without code_challenge", mobile("code_challenge_method", "S256"), mobileCallback, "xyz", "invalid_request", false},
		{"a challenge too short", mobile("code_challenge", testChallenge[:42], "code_challenge_method", "S256"), mobileCallback, "xyz", "invalid_request", false},
		{"a padded challenge", mobile("code_challenge", testChallenge[:42]+"=", "code_challenge_method", "S256"), mobileCallback, "xyz", "invalid_request", false},
		{"a challenge in base64, not base64url", mobile("code_challenge", strings.ReplaceAll(testChallenge, "-", "+"), "code_challenge_method", "S256"), mobileCallback, "xyz", "invalid_request", false},
		{"code_challenge twice", mobile("code_challenge", testChallenge, "code_challenge", testChallenge, "code_challenge_method", "S256"), mobileCallback, "xyz", "invalid_request", false},
		{"RequirePKCE, a confidential client without it", shop("response_type", "code"), shopCallback, "xyz", "invalid_request", true},
		{"a scope not registered", shop("response_type", "code", "scope", "orders:read admin"), shopCallback, "xyz", "invalid_scope", false},
		{"a scope only client_credentials gives", shop("response_type", "code", "scope", "integration.order"), shopCallback, "xyz", "invalid_scope", false},
		{"state twice, not echoed", shop("response_type", "code", "state", "abc"), shopCallback, "", "invalid_request", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newCodeFlow(t, func(c *issuer.AuthorizeConfig) { c.RequirePKCE = tc.requirePKCE })
			rec := f.visit(http.MethodGet, tc.query)
			if f.interactCalls() != 0 {
				t.Fatal("an invalid request reached the page")
			}
			redirectedError(t, rec, tc.redirectURI, tc.state, tc.code)
		})
	}
}

// The user refusing, or consenting to nothing, is access_denied: no code,
// no grant.
func TestARefusalOnThePageIsAccessDenied(t *testing.T) {
	for name, interact := range map[string]func(w http.ResponseWriter, r *http.Request, req *issuer.AuthorizationRequest){
		"Deny": func(w http.ResponseWriter, r *http.Request, req *issuer.AuthorizationRequest) { req.Deny(w, r) },
		"Approve of no scope": func(w http.ResponseWriter, r *http.Request, req *issuer.AuthorizationRequest) {
			if err := req.Approve(w, r, testSubject, []string{}); err != nil {
				t.Errorf("Approve: %v", err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newCodeFlow(t)
			f.interact = interact
			redirectedError(t, f.visit(http.MethodGet, shopQuery()), shopCallback, "xyz", "access_denied")
			if _, err := f.grants.Lookup(context.Background(), testSubject, "shop"); !errors.Is(err, issuer.ErrNotFound) {
				t.Fatalf("a grant was recorded: %v", err)
			}
		})
	}
}

// The user may consent to fewer scopes than asked; the code carries
// those, never one that was not asked for.
func TestTheUserMayApproveFewerScopesButNoOther(t *testing.T) {
	f := newCodeFlow(t)
	f.interact = func(w http.ResponseWriter, r *http.Request, req *issuer.AuthorizationRequest) {
		if err := req.Approve(w, r, testSubject, []string{"orders:read"}); err != nil {
			t.Errorf("Approve: %v", err)
		}
	}
	code := f.approved(shopQuery(), shopCallback)
	if b := tokenOK(t, f.exchange(redeemShop(code))); b.Scope != "orders:read" {
		t.Fatalf("scope %q", b.Scope)
	}

	f.interact = func(w http.ResponseWriter, r *http.Request, req *issuer.AuthorizationRequest) {
		if err := req.Approve(w, r, testSubject, []string{"orders:write"}); err == nil {
			t.Error("Approve of a scope not asked for succeeded")
		}
	}
	rec := f.visit(http.MethodGet, shopQuery("scope", "orders:read"))
	if q := redirected(t, rec, http.StatusFound, shopCallback, "xyz"); q.Has("code") || q.Get("error") != "server_error" {
		t.Fatalf("Location %q", rec.Header().Get("Location"))
	}
}

func TestOnlyGETAndPOSTReachTheAuthorizationEndpoint(t *testing.T) {
	for _, method := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
		t.Run(method, func(t *testing.T) {
			f := newCodeFlow(t)
			rec := f.visit(method, shopQuery())
			if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, POST" || rec.Header().Get("Location") != "" || f.interactCalls() != 0 {
				t.Fatalf("status %d, headers %v, Interact called %d times", rec.Code, rec.Header(), f.interactCalls())
			}
		})
	}
}

// RFC 8414 §2, RFC 7636 §6.2, RFC 9207 §3: with an authorization endpoint
// the metadata says so, and what it supports.
func TestTheMetadataAnnouncesTheAuthorizationEndpoint(t *testing.T) {
	h, err := issuer.NewMetadataHandler(issuer.MetadataConfig{
		Issuer: testIssuer, AuthorizationEndpoint: testIssuer + "/authorize", TokenEndpoint: testIssuer + "/oauth/token",
		JWKSURI: testIssuer + "/.well-known/jwks.json", RevocationEndpoint: testIssuer + "/oauth/revoke", PublicClients: true,
		GrantTypes: []string{issuer.GrantAuthorizationCode, issuer.GrantRefreshToken},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-authorization-server", nil))
	var doc struct {
		AuthorizationEndpoint string   `json:"authorization_endpoint"`
		ResponseTypes         []string `json:"response_types_supported"`
		CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
		IssParameter          bool     `json:"authorization_response_iss_parameter_supported"`
		GrantTypes            []string `json:"grant_types_supported"`
		AuthMethods           []string `json:"token_endpoint_auth_methods_supported"`
		RevocationAuthMethods []string `json:"revocation_endpoint_auth_methods_supported"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || rec.Code != 200 {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	if doc.AuthorizationEndpoint != testIssuer+"/authorize" || !slices.Equal(doc.ResponseTypes, []string{"code"}) ||
		!slices.Equal(doc.CodeChallengeMethods, []string{"S256"}) || !doc.IssParameter ||
		!slices.Equal(doc.GrantTypes, []string{"authorization_code", "refresh_token"}) ||
		!slices.Contains(doc.AuthMethods, "none") || !slices.Contains(doc.RevocationAuthMethods, "none") {
		t.Fatalf("metadata %s", rec.Body)
	}
}

// RFC 6749 §3.1.2, RFC 9700 §2.1, §4.1, RFC 8252 §7: a registration is
// refused a redirect URI a code must never go to.
func TestARegistrationIsRefusedRedirectURIsACodeMustNeverGoTo(t *testing.T) {
	clients, err := issuer.NewClients(issuer.ClientsConfig{Argon2: storetest.FastArgon2})
	if err != nil {
		t.Fatal(err)
	}
	codeClient := func(uris ...string) issuer.Client {
		return issuer.Client{Grants: []string{issuer.GrantAuthorizationCode}, RedirectURIs: uris}
	}
	for name, cl := range map[string]issuer.Client{
		"relative":                         codeClient("/cb"),
		"no scheme":                        codeClient("app.example/cb"),
		"a fragment":                       codeClient("https://app.example/cb#x"),
		"an empty fragment":                codeClient("https://app.example/cb#"),
		"userinfo":                         codeClient("https://evil@app.example/cb"),
		"http to a host":                   codeClient("http://app.example/cb"),
		"http to a host named 127.0.0.1…":  codeClient("http://127.0.0.1.evil.com/cb"),
		"javascript:":                      codeClient("javascript:alert(1)"),
		"data:":                            codeClient("data:text/html,<script>alert(1)</script>"),
		"a private scheme not reverse DNS": codeClient("myapp:/cb"),
		"https without a host":             codeClient("https:/cb"),
		"whitespace":                       codeClient("https://app.example/cb x"),
		"one bad among good":               codeClient(shopCallback, "http://app.example/cb"),
		"the code grant without any":       codeClient(),
		"a public client with client_credentials": {Public: true, Grants: []string{issuer.GrantClientCredentials}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := clients.Create(context.Background(), cl); err == nil {
				t.Fatalf("registered %v", cl.RedirectURIs)
			}
		})
	}
	for _, uri := range []string{shopCallback, shopTenant, "http://127.0.0.1:8080/cb", "http://[::1]/cb", "http://localhost:3000/cb", mobileCallback} {
		if _, _, err := clients.Create(context.Background(), codeClient(uri)); err != nil {
			t.Errorf("%s refused: %v", uri, err)
		}
	}
}

// A public client gets no secret, and none authenticates it.
func TestAPublicClientHasNoSecret(t *testing.T) {
	clients, err := issuer.NewClients(issuer.ClientsConfig{Argon2: storetest.FastArgon2})
	if err != nil {
		t.Fatal(err)
	}
	cl, secret, err := clients.Create(context.Background(), issuer.Client{ID: "spa", Public: true,
		Grants: []string{issuer.GrantAuthorizationCode, issuer.GrantRefreshToken}, RedirectURIs: []string{shopCallback}})
	if err != nil || secret.Reveal() != "" || cl.SecretHash != "" {
		t.Fatalf("client %+v, secret %q, %v", cl, secret.Reveal(), err)
	}
	if _, err := clients.Authenticate(context.Background(), "spa", ""); !errors.Is(err, issuer.ErrInvalidClient) {
		t.Fatalf("authenticated with no secret: %v", err)
	}
	if _, err := clients.RegenerateSecret(context.Background(), "spa"); !errors.Is(err, issuer.ErrPublicClient) {
		t.Fatalf("RegenerateSecret: %v", err)
	}
}
