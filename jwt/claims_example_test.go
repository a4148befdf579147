package jwt_test

import (
	"context"
	"fmt"

	"github.com/tollgate/tollgate/authtest"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/principal"
)

// Keycloak roles, read apart from scopes, and the claims the application
// needs, decoded once into its own struct.
func ExampleDecodeClaims() {
	idp, err := authtest.NewLocalIssuer()
	if err != nil {
		panic(err)
	}
	defer idp.Close()

	type orderClaims struct {
		OrgID  string   `json:"org_id"`
		Stores []string `json:"stores"`
	}
	ctx := context.Background()
	v, err := jwt.NewVerifier(ctx, jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer:     idp.URL(),
			JWKSURL:    idp.JWKSURL(),
			Audiences:  []string{"orders-api"},
			Algorithms: []string{"RS256"},
			RoleClaims: []string{"realm_access.roles", "resource_access.orders-api.roles"},
			Claims:     jwt.DecodeClaims[orderClaims](),
		}},
	})
	if err != nil {
		panic(err)
	}
	defer v.Close()

	token := idp.Mint(map[string]any{
		"sub": "user-1", "aud": "orders-api", "scope": "orders:read",
		"realm_access":    map[string]any{"roles": []string{"manager"}},
		"resource_access": map[string]any{"orders-api": map[string]any{"roles": []string{"refunder"}}},
		"org_id":          "org-7", "stores": []string{"s1", "s2"},
	})
	p, err := v.Verify(ctx, token)
	if err != nil {
		panic(err)
	}
	c, _ := principal.ClaimsAs[orderClaims](p)
	fmt.Println(p.Roles(), p.Scopes(), p.HasScope("manager"))
	fmt.Println(c.OrgID, c.Stores)
	// Output:
	// [manager refunder] [orders:read] false
	// org-7 [s1 s2]
}
