package issuer_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/internal/storetest"
)

// RFC 6749 §3.2.1, §4.1.3: a confidential client authenticates to redeem
// its code. TokenConfig.FirstPartyClient stands in for a request that
// authenticates no client on the password and refresh_token grants only;
// when the first-party client is a confidential one that also has the
// code grant, whoever holds one of its codes (leaked through a log, a
// Referer, the browser's history) must still need its secret, and the
// code must stay redeemable by the client itself.
func TestAFirstPartyConfidentialClientRedeemsItsCodesOnlyWithItsSecret(t *testing.T) {
	f := newCodeFlow(t)
	token := f.firstPartyEndpoint(t, "shop") // confidential: it has a secret
	for _, tc := range []struct {
		name        string
		contentType string
		body        func(code string) string
	}{
		{"no client_id", "", func(code string) string {
			return form("grant_type", "authorization_code", "code", code, "redirect_uri", shopCallback)
		}},
		{"its client_id alone", "", func(code string) string {
			return form("grant_type", "authorization_code", "code", code, "redirect_uri", shopCallback, "client_id", "shop")
		}},
		{"a JSON body with the code alone", "application/json", func(code string) string {
			return `{"code":"` + code + `","redirect_uri":"` + shopCallback + `"}`
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := f.approved(shopQuery(), shopCallback) // no PKCE: shop is confidential
			before := f.store.creates.Load()
			tokenRefused(t, postToken(token, f.secrets, req{contentType: tc.contentType, body: tc.body(code)}), 401, "invalid_client")
			if f.store.creates.Load() != before {
				t.Fatal("a request without the client's secret started a session")
			}
			tokenOK(t, postToken(token, f.secrets, redeemShop(code)))
		})
	}
}

// firstPartyEndpoint is f's token endpoint for the code and refresh
// grants with client id standing in as TokenConfig.FirstPartyClient.
func (f *codeFlow) firstPartyEndpoint(t *testing.T, id string) http.Handler {
	t.Helper()
	token, err := issuer.NewTokenHandler(issuer.TokenConfig{
		Clients: f.clients, Minter: newMinter(t, f.c, f.ring), Sessions: f.sessions, CodeGrants: f.grants,
		Grants:           []string{issuer.GrantAuthorizationCode, issuer.GrantRefreshToken},
		FirstPartyClient: id,
		Log:              slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// RFC 8252 §7.3, RFC 9700 §4.1.3: a native app's loopback redirect URI is
// matched exactly except for the port, which the app gets from the OS at
// the time of the request; the code is then bound to the URI with that
// port. Host, path and scheme still match exactly.
func TestALoopbackRedirectURIMatchesOnAnyPortAndNothingElse(t *testing.T) {
	f := newCodeFlow(t)
	if _, _, err := f.clients.Create(context.Background(), issuer.Client{
		ID: "cli", Name: "CLI", Public: true, Grants: []string{issuer.GrantAuthorizationCode, issuer.GrantRefreshToken},
		Audience: []string{"orders-api"}, Scopes: []string{"orders:read"},
		RedirectURIs: []string{"http://127.0.0.1/cb", "http://[::1]:8080/cb"},
	}); err != nil {
		t.Fatal(err)
	}
	cli := func(redirectURI string) string {
		return query("response_type", "code", "client_id", "cli", "redirect_uri", redirectURI, "state", "xyz",
			"code_challenge", testChallenge, "code_challenge_method", "S256")
	}
	for _, uri := range []string{"http://127.0.0.1:51004/cb", "http://[::1]:61023/cb", "http://127.0.0.1/cb"} {
		t.Run("accepted "+uri, func(t *testing.T) {
			q := redirected(t, f.visit(http.MethodGet, cli(uri)), http.StatusFound, uri, "xyz")
			code := q.Get("code")
			if q.Has("error") || len(code) != 43 {
				t.Fatalf("Location %v", q)
			}
			tokenOK(t, f.exchange(req{body: form("grant_type", "authorization_code", "code", code, "client_id", "cli",
				"code_verifier", testVerifier, "redirect_uri", uri)}))
		})
	}
	for _, uri := range []string{
		"http://127.0.0.1:51004/other",  // another path
		"http://127.0.0.2:51004/cb",     // another loopback address
		"http://localhost:51004/cb",     // another host name for it
		"https://127.0.0.1:51004/cb",    // another scheme
		"http://127.0.0.1:51004/cb?x=1", // an added query
	} {
		t.Run("refused "+uri, func(t *testing.T) {
			calls := f.interactCalls()
			rec := f.visit(http.MethodGet, cli(uri))
			if rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "" || f.interactCalls() != calls {
				t.Fatalf("status %d, Location %q", rec.Code, rec.Header().Get("Location"))
			}
		})
	}
	// Only loopback URIs: a registered https URI's port still matches
	// exactly.
	if rec := f.visit(http.MethodGet, query("response_type", "code", "client_id", "shop",
		"redirect_uri", "https://app.example:8443/cb", "state", "xyz")); rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "" {
		t.Fatalf("https port: status %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
}

// A state longer than issuer.MaxStateBytes is refused back to the client
// without being echoed: the redirect would outgrow the header limits of
// the proxies it passes.
func TestAnOverlongStateIsRefusedWithoutBeingEchoed(t *testing.T) {
	f := newCodeFlow(t)
	long := strings.Repeat("s", issuer.MaxStateBytes+1)
	rec := f.visit(http.MethodGet, query("response_type", "code", "client_id", "shop", "redirect_uri", shopCallback, "state", long))
	redirectedError(t, rec, shopCallback, "", "invalid_request")
	if f.interactCalls() != 0 {
		t.Fatal("the page was shown")
	}
	ok := strings.Repeat("s", issuer.MaxStateBytes)
	redirected(t, f.visit(http.MethodGet, query("response_type", "code", "client_id", "shop", "redirect_uri", shopCallback, "state", ok)),
		http.StatusFound, shopCallback, ok)
}

// The authorization response is not cached by HTTP/1.0 caches either, and
// a scope asked for twice is asked for once.
func TestTheAuthorizationResponseIsUncachedAndScopesAreDistinct(t *testing.T) {
	f := newCodeFlow(t)
	rec := f.visit(http.MethodGet, shopQuery("scope", "orders:read orders:write orders:read"))
	redirected(t, rec, http.StatusFound, shopCallback, "xyz")
	if rec.Header().Get("Pragma") != "no-cache" {
		t.Fatalf("Pragma %q", rec.Header().Get("Pragma"))
	}
	if got := f.last.Scopes; !slices.Equal(got, []string{"orders:read", "orders:write"}) {
		t.Fatalf("Scopes %v", got)
	}
}

// A public client named by Basic with an empty password (as
// golang.org/x/oauth2's AuthStyleInHeader sends it) is a public client
// at the token and revocation endpoints; a confidential client named so
// is refused.
func TestAPublicClientMayNameItselfByBasicWithAnEmptyPassword(t *testing.T) {
	f := newCodeFlow(t)
	post := func(h http.Handler, id, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(id, "")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	code := f.approved(mobileQuery(), mobileCallback)
	tok := tokenOK(t, post(f.token, "mobile", form("grant_type", "authorization_code", "code", code, "code_verifier", testVerifier)))
	revoke, err := issuer.NewRevocationHandler(issuer.RevocationConfig{Clients: f.clients, Sessions: f.sessions})
	if err != nil {
		t.Fatal(err)
	}
	if rec := post(revoke, "mobile", form("token", tok.RefreshToken)); rec.Code != http.StatusOK {
		t.Fatalf("revocation: %d %s", rec.Code, rec.Body)
	}
	tokenRefused(t, f.exchange(refreshAs("mobile", tok.RefreshToken)), 400, "invalid_grant")

	shop := f.approved(shopQuery(), shopCallback)
	tokenRefused(t, post(f.token, "shop", form("grant_type", "authorization_code", "code", shop, "redirect_uri", shopCallback)), 401, "invalid_client")
	tokenOK(t, f.exchange(redeemShop(shop)))
}

// Registration keeps out redirect URIs that cannot be matched safely: a
// raw IDN host (a homograph of another) and an https URI without a host.
func TestRegistrationRefusesNonASCIIAndHostlessRedirectURIs(t *testing.T) {
	clients, err := issuer.NewClients(issuer.ClientsConfig{Argon2: storetest.FastArgon2})
	if err != nil {
		t.Fatal(err)
	}
	for _, uri := range []string{"https://\u0430pple.com/cb", "https://app.example/caf\u00e9", "https://:443/cb"} {
		_, _, err := clients.Create(context.Background(), issuer.Client{Grants: []string{issuer.GrantAuthorizationCode}, RedirectURIs: []string{uri}})
		if err == nil {
			t.Errorf("%q registered", uri)
		}
	}
	if _, _, err := clients.Create(context.Background(), issuer.Client{Grants: []string{issuer.GrantAuthorizationCode},
		RedirectURIs: []string{"https://xn--pple-43d.com/caf%C3%A9"}}); err != nil {
		t.Errorf("punycode and percent-encoding refused: %v", err)
	}
}

// Metadata that names an authorization endpoint without the
// authorization_code grant, or the grant without the endpoint, is refused
// at start: a client would follow it to an endpoint that is not there.
func TestMetadataRefusesAnAuthorizationEndpointWithoutItsGrant(t *testing.T) {
	base := issuer.MetadataConfig{Issuer: testIssuer, TokenEndpoint: testIssuer + "/token", JWKSURI: testIssuer + "/jwks"}
	endpointAlone, grantAlone := base, base
	endpointAlone.AuthorizationEndpoint = testIssuer + "/authorize"
	grantAlone.GrantTypes = []string{issuer.GrantAuthorizationCode}
	for name, cfg := range map[string]issuer.MetadataConfig{"the endpoint alone": endpointAlone, "the grant alone": grantAlone} {
		if _, err := issuer.NewMetadataHandler(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A confidential client's loopback redirect URI keeps its port: the
// leeway is for native apps, and another local process on another port
// must not get a server's codes.
func TestAConfidentialClientsLoopbackRedirectURIKeepsItsPort(t *testing.T) {
	f := newCodeFlow(t)
	if _, _, err := f.clients.Create(context.Background(), issuer.Client{
		ID: "devserver", Name: "Dev server", Grants: []string{issuer.GrantAuthorizationCode},
		Audience: []string{"orders-api"}, Scopes: []string{"orders:read"}, RedirectURIs: []string{"http://127.0.0.1:8080/cb"},
	}); err != nil {
		t.Fatal(err)
	}
	rec := f.visit(http.MethodGet, query("response_type", "code", "client_id", "devserver", "redirect_uri", "http://127.0.0.1:9999/cb", "state", "xyz"))
	if rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "" {
		t.Fatalf("another port: %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
	f.approved(query("response_type", "code", "client_id", "devserver", "redirect_uri", "http://127.0.0.1:8080/cb", "state", "xyz"), "http://127.0.0.1:8080/cb")
}

// When the code cannot be stored, the user goes back to the client with
// temporarily_unavailable (and state and iss), and no code.
func TestAnApprovalWhoseCodeCannotBeStoredSendsTemporarilyUnavailable(t *testing.T) {
	f := newCodeFlowWith(t, &issuer.MemoryCodeStore{MaxCodes: 1})
	var approveErr error
	f.interact = func(w http.ResponseWriter, r *http.Request, req *issuer.AuthorizationRequest) {
		approveErr = req.Approve(w, r, testSubject, nil)
	}
	f.approved(shopQuery(), shopCallback)
	redirectedError(t, f.visit(http.MethodGet, shopQuery()), shopCallback, "xyz", "temporarily_unavailable")
	if !errors.Is(approveErr, issuer.ErrCodeStoreFull) {
		t.Fatalf("Approve returned %v, want ErrCodeStoreFull", approveErr)
	}
}
