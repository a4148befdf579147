package principal

import (
	"errors"
	"testing"
)

// A path that names a flat claim and a nested one is ambiguous, not read
// one way.
func TestAFlatDottedNameAndANestedPathTogetherAreAmbiguous(t *testing.T) {
	claims := map[string]any{
		"realm_access.roles": []any{"admin"},
		"realm_access":       map[string]any{"roles": []any{"user"}},
	}
	if roles, err := ParseRoles(claims, "realm_access.roles"); !errors.Is(err, ErrRoleClaim) {
		t.Fatalf("roles %v, err %v", roles, err)
	}
	if roles, err := ParseRoles(map[string]any{"https://example.com/roles": []any{"admin"}}, "https://example.com/roles"); err != nil || len(roles) != 1 {
		t.Fatalf("a namespaced claim alone: %v, %v", roles, err)
	}
}
