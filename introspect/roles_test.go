package introspect

import (
	"context"
	"slices"
	"testing"

	tgerrors "github.com/tollgate/tollgate/errors"
)

// Roles are read from Config.RoleClaims into the principal's roles, never
// its scopes; none by default.
func TestRoleClaims(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		roleClaims []string
		wantRoles  []string
		wantScopes []string
	}{
		{"no RoleClaims: no roles", `{"active":true,"roles":["admin"]}`, nil, nil, nil},
		{"Keycloak realm roles", `{"active":true,"realm_access":{"roles":["manager"]}}`, []string{"realm_access.roles"}, []string{"manager"}, nil},
		{"a group named like a scope grants no scope", `{"active":true,"groups":["can_read_order"],"scope":"x"}`, []string{"groups"}, []string{"can_read_order"}, []string{"x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := newEndpoint(t, answer(tt.body))
			c := newClient(t, ep, newClock(), func(cfg *Config) { cfg.RoleClaims = tt.roleClaims })
			p, err := c.Verify(context.Background(), goodToken)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !slices.Equal(p.Roles(), tt.wantRoles) || !slices.Equal(p.Scopes(), tt.wantScopes) {
				t.Errorf("roles %q scopes %q, want %q %q", p.Roles(), p.Scopes(), tt.wantRoles, tt.wantScopes)
			}
		})
	}
}

// An answer whose role claim cannot be read is malformed, refused as an
// unusable answer is.
func TestAMalformedRoleClaimRefusesTheAnswer(t *testing.T) {
	ep := newEndpoint(t, answer(`{"active":true,"roles":["admin",1]}`))
	c := newClient(t, ep, newClock(), func(cfg *Config) { cfg.RoleClaims = []string{"roles"} })
	_, err := c.Verify(context.Background(), goodToken)
	wantRefusal(t, err, tgerrors.Unavailable)
}
