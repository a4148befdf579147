package jwt_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/scopes"
)

// providerCase is a token shaped exactly as one identity provider documents
// its access tokens (or, for Google, the ID tokens its services accept), the
// issuer configuration that trusts it, and what it must be allowed to do.
type providerCase struct {
	name     string
	issuer   jwt.Issuer // JWKSURL is filled with the test issuer's
	claims   map[string]any
	header   map[string]any
	scope    string // a scope the token grants ("" when it carries none)
	role     string // a role the token grants ("" when it carries none)
	clientID string // the principal's client id
	refused  bool   // the token is not an access token this API accepts
}

const (
	entraTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	otherTenant = "9188040d-6c67-4c5b-b112-36a304b66dad"
)

func providerCases() []providerCase {
	return []providerCase{
		{
			name: "Auth0 access token (RFC 9068 profile, RBAC permissions, namespaced roles)",
			issuer: jwt.Issuer{Issuer: "https://shop.us.auth0.com/", Audiences: []string{"https://api.shop.example"},
				Algorithms: []string{"RS256"}, RoleClaims: []string{"https://api.shop.example/roles"}},
			header: map[string]any{"typ": "at+jwt"},
			claims: map[string]any{"iss": "https://shop.us.auth0.com/", "sub": "auth0|5f7c8ec7c33c6c004bbafe82",
				"aud": []string{"https://api.shop.example", "https://shop.us.auth0.com/userinfo"},
				"azp": "tmfJ3Kct0kZdeVvHa7Y4Ofl8rTQhZ2rm", "scope": "openid profile read:orders",
				"permissions": []string{"read:orders"}, "https://api.shop.example/roles": []string{"order-admin"},
				"jti": "fd7a3e0b6b1d4c2f", "client_id": "tmfJ3Kct0kZdeVvHa7Y4Ofl8rTQhZ2rm"},
			scope: "read:orders", role: "order-admin", clientID: "tmfJ3Kct0kZdeVvHa7Y4Ofl8rTQhZ2rm",
		},
		{
			name: "Auth0 client-credentials token",
			issuer: jwt.Issuer{Issuer: "https://shop.us.auth0.com/", Audiences: []string{"https://api.shop.example"},
				Algorithms: []string{"RS256"}},
			claims: map[string]any{"iss": "https://shop.us.auth0.com/", "sub": "tmfJ3Kct0kZdeVvHa7Y4Ofl8rTQhZ2rm@clients",
				"aud": "https://api.shop.example", "azp": "tmfJ3Kct0kZdeVvHa7Y4Ofl8rTQhZ2rm", "gty": "client-credentials",
				"scope": "read:orders write:orders"},
			scope: "write:orders", clientID: "tmfJ3Kct0kZdeVvHa7Y4Ofl8rTQhZ2rm",
		},
		{
			name: "Cognito access token (no aud, client_id pinned, groups as roles)",
			issuer: jwt.Issuer{Issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI",
				ClientIDs: []string{"3n4b5urk1ft4fl3mg5e62d9ado"}, Algorithms: []string{"RS256"},
				RoleClaims: []string{"cognito:groups"}},
			claims: map[string]any{"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI",
				"sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "cognito:groups": []string{"admins"},
				"token_use": "access", "scope": "orders/read aws.cognito.signin.user.admin", "auth_time": 1733000000,
				"client_id": "3n4b5urk1ft4fl3mg5e62d9ado", "username": "jane", "origin_jti": "d4e5f6",
				"event_id": "b1c2d3", "version": 2, "jti": "a1b2c3"},
			scope: "orders/read", role: "admins", clientID: "3n4b5urk1ft4fl3mg5e62d9ado",
		},
		{
			name: "Cognito ID token presented as a bearer token",
			issuer: jwt.Issuer{Issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI",
				ClientIDs: []string{"3n4b5urk1ft4fl3mg5e62d9ado"}, Algorithms: []string{"RS256"},
				RoleClaims: []string{"cognito:groups"}},
			claims: map[string]any{"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI",
				"sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "aud": "3n4b5urk1ft4fl3mg5e62d9ado",
				"cognito:groups": []string{"admins"}, "token_use": "id", "auth_time": 1733000000,
				"cognito:username": "jane", "email": "jane@example.com", "email_verified": true,
				"at_hash": "Qm1fC4gOaW9VtNQ1UT8tQw", "origin_jti": "d4e5f6", "event_id": "b1c2d3", "jti": "a1b2c4"},
			refused: true,
		},
		{
			name: "Entra ID v2 access token (scp delegated, app roles)",
			issuer: jwt.Issuer{Issuer: "https://login.microsoftonline.com/" + entraTenant + "/v2.0",
				Audiences: []string{"6e74172b-be56-4843-9ff4-e66a39bb12e3"}, Algorithms: []string{"RS256"},
				RoleClaims: []string{"roles"}},
			claims: map[string]any{"iss": "https://login.microsoftonline.com/" + entraTenant + "/v2.0",
				"aud": "6e74172b-be56-4843-9ff4-e66a39bb12e3", "azp": "1950a258-227b-4e31-a9cf-717495945fc2",
				"azpacr": "0", "scp": "Orders.Read", "roles": []string{"Orders.Admin"}, "tid": entraTenant,
				"oid": "00000000-0000-0000-0000-000000000001", "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
				"ver": "2.0", "uti": "AbCdEf", "rh": "0.AAAA"},
			scope: "Orders.Read", role: "Orders.Admin", clientID: "1950a258-227b-4e31-a9cf-717495945fc2",
		},
		{
			name: "Entra ID v1 access token (appid is the client)",
			issuer: jwt.Issuer{Issuer: "https://sts.windows.net/" + entraTenant + "/",
				Audiences: []string{"api://orders-api"}, Algorithms: []string{"RS256"}, RoleClaims: []string{"roles"}},
			claims: map[string]any{"iss": "https://sts.windows.net/" + entraTenant + "/", "aud": "api://orders-api",
				"appid": "1950a258-227b-4e31-a9cf-717495945fc2", "appidacr": "1", "scp": "Orders.Read",
				"roles": []string{"Orders.Admin"}, "tid": entraTenant, "ver": "1.0",
				"oid": "00000000-0000-0000-0000-000000000001", "sub": "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA"},
			scope: "Orders.Read", role: "Orders.Admin", clientID: "1950a258-227b-4e31-a9cf-717495945fc2",
		},
		{
			name: "Entra ID multi-tenant: a listed tenant",
			issuer: jwt.Issuer{Issuer: "https://login.microsoftonline.com/{tenantid}/v2.0",
				Tenants:   []string{entraTenant, otherTenant},
				Audiences: []string{"6e74172b-be56-4843-9ff4-e66a39bb12e3"}, Algorithms: []string{"RS256"}, RoleClaims: []string{"roles"}},
			claims: map[string]any{"iss": "https://login.microsoftonline.com/" + otherTenant + "/v2.0",
				"aud": "6e74172b-be56-4843-9ff4-e66a39bb12e3", "azp": "1950a258-227b-4e31-a9cf-717495945fc2",
				"scp": "Orders.Read", "roles": []string{"Orders.Admin"}, "tid": otherTenant, "ver": "2.0", "sub": "x"},
			scope: "Orders.Read", role: "Orders.Admin", clientID: "1950a258-227b-4e31-a9cf-717495945fc2",
		},
		{
			name: "Entra ID multi-tenant: iss of one tenant, tid of another",
			issuer: jwt.Issuer{Issuer: "https://login.microsoftonline.com/{tenantid}/v2.0",
				Audiences: []string{"6e74172b-be56-4843-9ff4-e66a39bb12e3"}, Algorithms: []string{"RS256"}},
			claims: map[string]any{"iss": "https://login.microsoftonline.com/" + entraTenant + "/v2.0",
				"aud": "6e74172b-be56-4843-9ff4-e66a39bb12e3", "scp": "Orders.Read", "tid": otherTenant, "ver": "2.0", "sub": "x"},
			refused: true,
		},
		{
			name: "Entra ID multi-tenant: a tenant not on the list",
			issuer: jwt.Issuer{Issuer: "https://login.microsoftonline.com/{tenantid}/v2.0", Tenants: []string{entraTenant},
				Audiences: []string{"6e74172b-be56-4843-9ff4-e66a39bb12e3"}, Algorithms: []string{"RS256"}},
			claims: map[string]any{"iss": "https://login.microsoftonline.com/" + otherTenant + "/v2.0",
				"aud": "6e74172b-be56-4843-9ff4-e66a39bb12e3", "scp": "Orders.Read", "tid": otherTenant, "ver": "2.0", "sub": "x"},
			refused: true,
		},
		{
			name: "Keycloak access token (aud account, azp pinned, realm and client roles)",
			issuer: jwt.Issuer{Issuer: "https://kc.shop.example/realms/shop", ClientIDs: []string{"orders-client"},
				Algorithms: []string{"RS256"},
				RoleClaims: []string{"realm_access.roles", "resource_access.orders-client.roles"}},
			claims: map[string]any{"iss": "https://kc.shop.example/realms/shop", "aud": "account", "azp": "orders-client",
				"typ": "Bearer", "sub": "f1e2d3c4-0000-0000-0000-000000000000", "session_state": "s1", "sid": "s1",
				"realm_access":    map[string]any{"roles": []string{"offline_access", "uma_authorization", "order-admin"}},
				"resource_access": map[string]any{"orders-client": map[string]any{"roles": []string{"reader"}}, "account": map[string]any{"roles": []string{"manage-account"}}},
				"scope":           "openid email profile orders:read", "preferred_username": "jane", "jti": "k1"},
			scope: "orders:read", role: "reader", clientID: "orders-client",
		},
		{
			name: "Keycloak ID token presented as a bearer token",
			issuer: jwt.Issuer{Issuer: "https://kc.shop.example/realms/shop", ClientIDs: []string{"orders-client"},
				Algorithms: []string{"RS256"}},
			claims: map[string]any{"iss": "https://kc.shop.example/realms/shop", "aud": "orders-client", "azp": "orders-client",
				"typ": "ID", "sub": "f1e2d3c4-0000-0000-0000-000000000000", "sid": "s1", "at_hash": "x1"},
			refused: true,
		},
		{
			name: "Okta access token (cid, scp array, groups)",
			issuer: jwt.Issuer{Issuer: "https://dev-123456.okta.com/oauth2/default", Audiences: []string{"api://default"},
				Algorithms: []string{"RS256"}, RoleClaims: []string{"groups"}},
			claims: map[string]any{"iss": "https://dev-123456.okta.com/oauth2/default", "aud": "api://default",
				"cid": "0oa1bcd2EFGhiJKl3d4", "uid": "00u1abcd", "scp": []string{"orders:read", "openid"},
				"groups": []string{"Everyone", "OrderAdmins"}, "ver": 1, "jti": "AT.abc", "sub": "jane@example.com", "auth_time": 1733000000},
			scope: "orders:read", role: "OrderAdmins", clientID: "0oa1bcd2EFGhiJKl3d4",
		},
		{
			name: "Google ID token for a service (https issuer)",
			issuer: jwt.Issuer{Issuer: "https://accounts.google.com", Aliases: []string{"accounts.google.com"},
				Audiences: []string{"https://orders.shop.example"}, Algorithms: []string{"RS256"}, AcceptIDTokens: true},
			claims: map[string]any{"iss": "https://accounts.google.com", "aud": "https://orders.shop.example",
				"azp": "107245629830291234567", "sub": "107245629830291234567", "email": "svc@shop.iam.gserviceaccount.com",
				"email_verified": true},
			clientID: "107245629830291234567",
		},
		{
			name: "Google ID token for a service (bare issuer spelling)",
			issuer: jwt.Issuer{Issuer: "https://accounts.google.com", Aliases: []string{"accounts.google.com"},
				Audiences: []string{"https://orders.shop.example"}, Algorithms: []string{"RS256"}, AcceptIDTokens: true},
			claims: map[string]any{"iss": "accounts.google.com", "aud": "https://orders.shop.example",
				"azp": "107245629830291234567", "sub": "107245629830291234567", "email": "svc@shop.iam.gserviceaccount.com"},
			clientID: "107245629830291234567",
		},
		{
			name: "ZITADEL access token (project roles as object keys)",
			issuer: jwt.Issuer{Issuer: "https://shop-abc.zitadel.cloud", Audiences: []string{"170086824411201793"},
				Algorithms: []string{"RS256"}, RoleClaims: []string{"urn:zitadel:iam:org:project:roles"}},
			claims: map[string]any{"iss": "https://shop-abc.zitadel.cloud",
				"aud":       []string{"170086824411201793", "170086774599581953@shop"},
				"client_id": "170086774599581953@shop", "sub": "170086363054473473", "scope": "openid orders:read",
				"urn:zitadel:iam:org:project:roles": map[string]any{"order-admin": map[string]any{"170086363054473473": "shop-abc.zitadel.cloud"}},
				"jti":                               "z1"},
			scope: "orders:read", role: "order-admin", clientID: "170086774599581953@shop",
		},
	}
}

// Each provider's token, with its configuration alone, is authorized by
// scope and by role through Authenticate, and a role never passes for a scope.
func TestProviderTokensAreAuthorizedByConfigurationAlone(t *testing.T) {
	idp := authtest.NewIssuer(t)
	for _, c := range providerCases() {
		t.Run(c.name, func(t *testing.T) {
			is := c.issuer
			is.JWKSURL = idp.JWKSURL()
			v, err := jwt.NewVerifier(context.Background(), jwt.Config{Issuers: []jwt.Issuer{is}})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			var opts []authtest.MintOption
			for k, val := range c.header {
				opts = append(opts, authtest.WithHeader(k, val))
			}
			token := idp.Mint(c.claims, opts...)

			call := func(guard func(http.Handler) http.Handler) (int, *principal.Principal) {
				var got *principal.Principal
				h := tgerrors.Use(tgerrors.OAuth)(middleware.Authenticate(v, middleware.OnRefusal(nil))(guard(
					http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got, _ = principal.From(r.Context()) }))))
				req := httptest.NewRequest("GET", "/orders", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 && got != nil {
					t.Fatalf("status %d but the handler ran", rec.Code)
				}
				return rec.Code, got
			}
			none := func(h http.Handler) http.Handler { return h }

			code, p := call(none)
			if c.refused {
				if code != 401 {
					t.Fatalf("status %d, want 401", code)
				}
				return
			}
			if code != 200 {
				t.Fatalf("status %d, want 200", code)
			}
			if p.ClientID() != c.clientID {
				t.Fatalf("client id %q, want %q", p.ClientID(), c.clientID)
			}
			if c.scope != "" {
				if code, _ := call(scopes.Require(c.scope)); code != 200 {
					t.Fatalf("scope %q: status %d", c.scope, code)
				}
			}
			if c.role != "" {
				if code, _ := call(scopes.RequireRole(c.role)); code != 200 {
					t.Fatalf("role %q: status %d; roles %v", c.role, code, p.Roles())
				}
				if code, _ := call(scopes.Require(c.role)); code != 403 {
					t.Fatalf("the role %q passed for a scope: status %d", c.role, code)
				}
			}
			if c.scope != "" {
				if code, _ := call(scopes.RequireRole(c.scope)); code != 403 {
					t.Fatalf("the scope %q passed for a role: status %d", c.scope, code)
				}
			}
			if code, _ := call(scopes.Require("orders:delete")); code != 403 {
				t.Fatalf("an ungranted scope: status %d", code)
			}
		})
	}
}
