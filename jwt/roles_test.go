package jwt

import (
	"context"
	stderrors "errors"
	"slices"
	"strings"
	"testing"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
)

// Each identity provider's roles are read from its own claim path into the
// principal's roles, and never into its scopes.
func TestRoleClaims(t *testing.T) {
	tests := []struct {
		name       string
		roleClaims []string
		claims     map[string]any
		wantRoles  []string
		wantScopes []string
	}{
		{"no RoleClaims (the default): no roles", nil, map[string]any{"roles": []any{"admin"}, "groups": []any{"ops"}}, nil, nil},
		{"Entra ID roles", []string{"roles"}, map[string]any{"roles": []any{"Orders.Read"}}, []string{"Orders.Read"}, nil},
		{"Okta groups", []string{"groups"}, map[string]any{"groups": []any{"Everyone", "ops"}}, []string{"Everyone", "ops"}, nil},
		{"Cognito groups", []string{"cognito:groups"}, map[string]any{"cognito:groups": []any{"admins"}}, []string{"admins"}, nil},
		{"Keycloak realm and client roles", []string{"realm_access.roles", "resource_access.orders-api.roles"},
			map[string]any{"realm_access": map[string]any{"roles": []any{"manager"}}, "resource_access": map[string]any{"orders-api": map[string]any{"roles": []any{"refunder"}}}},
			[]string{"manager", "refunder"}, nil},
		{"ZITADEL project roles: the keys", []string{"urn:zitadel:iam:org:project:roles"},
			map[string]any{"urn:zitadel:iam:org:project:roles": map[string]any{"admin": map[string]any{"1": "acme"}}}, []string{"admin"}, nil},
		{"Auth0 namespaced claim", []string{"https://example.com/roles"}, map[string]any{"https://example.com/roles": []any{"editor"}}, []string{"editor"}, nil},
		{"a group named like a scope grants no scope", []string{"groups"},
			map[string]any{"groups": []any{"can_refund_order"}, "scope": "can_read_order"}, []string{"can_refund_order"}, []string{"can_read_order"}},
		{"a scope grants no role", []string{"roles"}, map[string]any{"scope": "admin"}, nil, []string{"admin"}},
	}
	clock := newTestClock()
	iss := newIssuer(t, clock)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := jwksIssuer(iss)
			is.RoleClaims = tt.roleClaims
			v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{is}})
			p := mustVerify(t, v, iss.Mint(claims(tt.claims)))
			if !slices.Equal(p.Roles(), tt.wantRoles) {
				t.Errorf("roles %q, want %q", p.Roles(), tt.wantRoles)
			}
			if !slices.Equal(p.Scopes(), tt.wantScopes) {
				t.Errorf("scopes %q, want %q", p.Scopes(), tt.wantScopes)
			}
		})
	}
}

// A role claim that cannot be read with certainty refuses the token.
func TestAMalformedRoleClaimRefusesTheToken(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	is := jwksIssuer(iss)
	is.RoleClaims = []string{"roles", "a.b.c"}
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{is}})
	for name, c := range map[string]map[string]any{
		"a number among the roles":     {"roles": []any{"admin", 1}},
		"an object among the roles":    {"roles": []any{map[string]any{"name": "admin"}}},
		"a boolean":                    {"roles": true},
		"a path that names two claims": {"a": map[string]any{"b.c": []any{"x"}}, "a.b": map[string]any{"c": []any{"y"}}},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), iss.Mint(claims(c)))
			wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTClaim)
			if !stderrors.Is(err.(*tgerrors.Error).Err, principal.ErrRoleClaim) {
				t.Errorf("cause %v does not wrap principal.ErrRoleClaim", err)
			}
		})
	}
}

func TestAnEmptyRoleClaimPathIsRefusedAtStartUp(t *testing.T) {
	iss := newIssuer(t, newTestClock())
	is := jwksIssuer(iss)
	is.RoleClaims = []string{"roles", ""}
	_, err := NewVerifier(context.Background(), Config{Issuers: []Issuer{is}})
	if err == nil || !strings.Contains(err.Error(), "RoleClaims") {
		t.Fatalf("NewVerifier: %v, want an error naming RoleClaims", err)
	}
}
