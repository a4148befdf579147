package issuer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/issuer"
)

func TestTheRevocationEndpointEndsARefreshFamilyAndRevokesAnAccessTokenByJTI(t *testing.T) {
	g := newGrants(t)
	v := selfVerifier(t, g.c, g.ring)
	rh, err := issuer.NewRevocationHandler(issuer.RevocationConfig{
		Clients: g.clients, Sessions: g.sessions, Verifier: v, Revoker: issuer.RevokeIDs(g.revoked),
	})
	if err != nil {
		t.Fatal(err)
	}
	revoke := func(client, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/oauth/revoke", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if client != "" {
			r.SetBasicAuth(client, url.QueryEscape(g.secrets[client]))
		}
		rec := httptest.NewRecorder()
		rh.ServeHTTP(rec, r)
		return rec
	}
	login := form("grant_type", "password", "username", "bob", "password", "correct horse")
	a := g.ok(g.do(req{body: login, basic: "b2b-app"}))
	b := g.ok(g.do(req{body: login, basic: "b2b-app"}))
	pa, _ := v.Verify(context.Background(), a.AccessToken)
	pb, _ := v.Verify(context.Background(), b.AccessToken)

	for name, tc := range map[string]struct{ client, body string }{
		"unknown token":          {"b2b-app", form("token", "not-a-token")},
		"another client's token": {"other-app", form("token", a.RefreshToken)},
		"another client's JWT":   {"other-app", form("token", b.AccessToken, "token_type_hint", "access_token")},
	} {
		t.Run(name, func(t *testing.T) {
			if rec := revoke(tc.client, tc.body); rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("status %d, body %s", rec.Code, rec.Body)
			}
		})
	}
	// Nothing was revoked by them.
	if r1, _ := g.revoked.Revoked(context.Background(), a.AccessToken, pa); r1 {
		t.Fatal("another client revoked a session")
	}
	if r2, _ := g.revoked.Revoked(context.Background(), b.AccessToken, pb); r2 {
		t.Fatal("another client revoked an access token")
	}

	// The refresh token: its family ends, its access tokens are refused.
	if rec := revoke("b2b-app", form("token", a.RefreshToken, "token_type_hint", "refresh_token")); rec.Code != 200 {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	g.refused(g.do(req{body: form("grant_type", "refresh_token", "refresh_token", a.RefreshToken), basic: "b2b-app"}), 400, "invalid_grant")
	if r1, _ := g.revoked.Revoked(context.Background(), a.AccessToken, pa); !r1 {
		t.Fatal("the session's access token is not revoked")
	}
	// The access token by jti, its session left alive.
	if rec := revoke("b2b-app", form("token", b.AccessToken)); rec.Code != 200 {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	if r2, _ := g.revoked.Revoked(context.Background(), b.AccessToken, pb); !r2 {
		t.Fatal("the access token is not revoked")
	}
	g.ok(g.do(req{body: form("grant_type", "refresh_token", "refresh_token", b.RefreshToken), basic: "b2b-app"}))

	// Client authentication is required, the token too.
	for name, tc := range map[string]struct {
		client, body string
		status       int
		code         string
	}{
		"no client":    {"", form("token", b.RefreshToken), 401, "invalid_client"},
		"wrong secret": {"nobody", form("token", b.RefreshToken), 401, "invalid_client"},
		"no token":     {"b2b-app", "", 400, "invalid_request"},
		"bad hint":     {"b2b-app", form("token", "x", "token_type_hint", "id_token"), 400, "unsupported_token_type"},
	} {
		t.Run(name, func(t *testing.T) {
			rec := revoke(tc.client, tc.body)
			var body struct{ Error string }
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != tc.status || body.Error != tc.code || rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("status %d, headers %v, body %s", rec.Code, rec.Header(), rec.Body)
			}
			if tc.status == 401 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Basic ") {
				t.Fatalf("headers %v", rec.Header())
			}
		})
	}
}

func TestTheMetadataHandlerPublishesRFC8414Metadata(t *testing.T) {
	h, err := issuer.NewMetadataHandler(issuer.MetadataConfig{
		Issuer: testIssuer, TokenEndpoint: testIssuer + "/oauth/token", JWKSURI: testIssuer + "/.well-known/jwks.json",
		RevocationEndpoint: testIssuer + "/oauth/revoke", GrantTypes: []string{issuer.GrantClientCredentials, issuer.GrantRefreshToken},
		Scopes: []string{"orders:read"},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-authorization-server", nil))
	want := `{"issuer":"https://auth.example.com","token_endpoint":"https://auth.example.com/oauth/token","jwks_uri":"https://auth.example.com/.well-known/jwks.json","revocation_endpoint":"https://auth.example.com/oauth/revoke","grant_types_supported":["client_credentials","refresh_token"],"response_types_supported":[],"token_endpoint_auth_methods_supported":["client_secret_basic","client_secret_post"],"revocation_endpoint_auth_methods_supported":["client_secret_basic","client_secret_post"],"scopes_supported":["orders:read"]}`
	if rec.Code != 200 || rec.Body.String() != want || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Cache-Control") != "public, max-age=3600" {
		t.Fatalf("status %d, headers %v, body %s", rec.Code, rec.Header(), rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/.well-known/oauth-authorization-server", nil))
	if rec.Code != 405 || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Fatalf("status %d", rec.Code)
	}
}
