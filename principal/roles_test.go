package principal_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/tollgate/tollgate/principal"
)

// Each identity provider's shape of roles or groups is read from its path,
// and what cannot be read with certainty is refused.
func TestParseRoles(t *testing.T) {
	tests := []struct {
		name    string
		claims  string
		paths   []string
		want    []string
		wantErr bool
	}{
		{"no paths: no roles, whatever the token carries", `{"roles":["admin"],"groups":["ops"]}`, nil, nil, false},
		{"Entra ID roles: an array", `{"roles":["Orders.Read","Orders.Write"]}`, []string{"roles"}, []string{"Orders.Read", "Orders.Write"}, false},
		{"Okta groups", `{"groups":["Everyone","ops"]}`, []string{"groups"}, []string{"Everyone", "ops"}, false},
		{"Cognito groups: a colon in the name", `{"cognito:groups":["admins"]}`, []string{"cognito:groups"}, []string{"admins"}, false},
		{"Keycloak realm roles: nested", `{"realm_access":{"roles":["offline_access","manager"]}}`, []string{"realm_access.roles"}, []string{"offline_access", "manager"}, false},
		{"Keycloak client roles", `{"resource_access":{"orders-api":{"roles":["refunder"]},"other":{"roles":["x"]}}}`, []string{"resource_access.orders-api.roles"}, []string{"refunder"}, false},
		{"Keycloak client ID with a dot", `{"resource_access":{"orders.api":{"roles":["refunder"]}}}`, []string{"resource_access.orders.api.roles"}, []string{"refunder"}, false},
		{"custom nested claim", `{"ext":{"roles":["a"]}}`, []string{"ext.roles"}, []string{"a"}, false},
		{"ZITADEL: the keys of an object are the roles, sorted", `{"urn:zitadel:iam:org:project:roles":{"writer":{"123":"acme.zitadel.cloud"},"admin":{"123":"acme.zitadel.cloud"}}}`, []string{"urn:zitadel:iam:org:project:roles"}, []string{"admin", "writer"}, false},
		{"Auth0 namespaced claim: the dotted name is one claim", `{"https://example.com/roles":["editor"]}`, []string{"https://example.com/roles"}, []string{"editor"}, false},
		{"a whole dotted name and a nested path together: ambiguous, refused", `{"a.b":["top"],"a":{"b":["nested"]}}`, []string{"a.b"}, nil, true},
		{"a single string is one role, not split at spaces", `{"groups":"Domain Admins"}`, []string{"groups"}, []string{"Domain Admins"}, false},
		{"several paths: merged in order, duplicates dropped", `{"roles":["a","b"],"groups":["b","c"]}`, []string{"roles", "groups"}, []string{"a", "b", "c"}, false},
		{"absent claim: no roles", `{"sub":"x"}`, []string{"roles", "realm_access.roles"}, nil, false},
		{"null claim: no roles", `{"groups":null}`, []string{"groups"}, nil, false},
		{"path through a non-object: no roles", `{"realm_access":"roles"}`, []string{"realm_access.roles"}, nil, false},
		{"empty strings are dropped", `{"roles":["","a"]}`, []string{"roles"}, []string{"a"}, false},
		{"a number in the array refuses the token", `{"roles":["admin",1]}`, []string{"roles"}, nil, true},
		{"a nested array refuses the token", `{"roles":[["admin"]]}`, []string{"roles"}, nil, true},
		{"an object in the array refuses the token", `{"groups":[{"name":"admin"}]}`, []string{"groups"}, nil, true},
		{"a number refuses the token", `{"roles":7}`, []string{"roles"}, nil, true},
		{"a boolean refuses the token", `{"roles":true}`, []string{"roles"}, nil, true},
		{"two ways to split the path: ambiguous, refused", `{"a":{"b.c":["x"]},"a.b":{"c":["y"]}}`, []string{"a.b.c"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := principal.ParseRoles(claims(t, tt.claims), tt.paths...)
			if tt.wantErr {
				if !errors.Is(err, principal.ErrRoleClaim) {
					t.Fatalf("err = %v, roles %q; want ErrRoleClaim", err, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("roles %q, want %q", got, tt.want)
			}
		})
	}
}

// A role is never a scope and a scope never a role, even with the same name.
func TestRolesAndScopesAreKeptApart(t *testing.T) {
	p := principal.New(principal.Fields{Scopes: []string{"orders:read"}, Roles: []string{"admin"}})
	tests := []struct {
		name string
		got  bool
	}{
		{"a role is not a scope", p.HasScope("admin")},
		{"a scope is not a role", p.HasRole("orders:read")},
		{"role names are exact", p.HasRole("Admin")},
	}
	for _, tt := range tests {
		if tt.got {
			t.Error(tt.name)
		}
	}
	if !p.HasRole("admin") || !p.HasScope("orders:read") {
		t.Error("the principal lost its role or scope")
	}
}

func TestRolesReturnsACopy(t *testing.T) {
	p := principal.New(principal.Fields{Roles: []string{"viewer"}})
	p.Roles()[0] = "admin"
	f := p.Fields()
	f.Roles[0] = "admin"
	if !slices.Equal(p.Roles(), []string{"viewer"}) || p.HasRole("admin") {
		t.Errorf("roles changed: %q", p.Roles())
	}
	var none *principal.Principal
	if none.Roles() != nil || none.HasRole("viewer") {
		t.Error("nil principal has roles")
	}
}

func TestHasRoleDoesNotAllocate(t *testing.T) {
	p := principal.New(principal.Fields{Roles: []string{"viewer", "admin"}})
	if n := testing.AllocsPerRun(100, func() { p.HasRole("admin") }); n != 0 {
		t.Errorf("HasRole allocates %v times", n)
	}
}
