package issuer_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"

	"github.com/tollgate/tollgate/issuer"
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
	token, err := issuer.NewTokenHandler(issuer.TokenConfig{
		Clients: f.clients, Minter: newMinter(t, f.c, f.ring), Sessions: f.sessions, CodeGrants: f.grants,
		Grants:           []string{issuer.GrantAuthorizationCode, issuer.GrantRefreshToken},
		FirstPartyClient: "shop", // confidential: it has a secret
		Log:              slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
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
