package jwt_test

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/jwt"
)

// A verifier for one issuer with a JWKS endpoint. Its tokens must be meant
// for this API (aud) and signed with RS256 or ES256 by a key in the set.
func ExampleNewVerifier() {
	idp, err := authtest.NewLocalIssuer()
	if err != nil {
		panic(err)
	}
	defer idp.Close()

	ctx := context.Background()
	v, err := jwt.NewVerifier(ctx, jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer:     idp.URL(),
			JWKSURL:    idp.JWKSURL(),
			Audiences:  []string{"orders-api"},
			Algorithms: []string{"RS256", "ES256"},
			TokenType:  "customer",
		}},
	})
	if err != nil {
		panic(err)
	}
	defer v.Close()

	token := idp.Mint(map[string]any{"sub": "user-1", "aud": "orders-api", "scope": "orders:read orders:write"})
	p, err := v.Verify(ctx, token)
	fmt.Println(p.Subject(), p.Type(), p.Scopes(), err)

	_, err = v.Verify(ctx, idp.Mint(map[string]any{"sub": "user-1", "aud": "billing-api"}))
	fmt.Println(tgerrors.KindOf(err))

	_, err = v.Verify(ctx, idp.Mint(map[string]any{"sub": "user-1", "aud": "orders-api", "exp": 1}))
	fmt.Println(tgerrors.KindOf(err))
	// Output:
	// user-1 customer [orders:read orders:write] <nil>
	// invalid_token
	// expired_token
}

// An issuer configured by its identifier alone, as for Auth0, Okta, Google
// or Keycloak: the key set's URL comes from its OpenID Connect Discovery
// document. ClientIDs accepts the tokens of a client whose access tokens
// carry no audience of this API, such as Cognito's.
func ExampleIssuer_discovery() {
	idp, err := authtest.NewLocalIssuer()
	if err != nil {
		panic(err)
	}
	defer idp.Close()

	ctx := context.Background()
	v, err := jwt.NewVerifier(ctx, jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer:      idp.URL(),
			ClientIDs:   []string{"orders-app"},
			Algorithms:  []string{"RS256"},
			MaxLifetime: 24 * time.Hour,
		}},
	})
	if err != nil {
		panic(err)
	}
	defer v.Close()

	p, err := v.Verify(ctx, idp.Mint(map[string]any{"sub": "user-1", "client_id": "orders-app", "token_use": "access"}))
	fmt.Println(p.Subject(), p.ClientID(), err)

	_, err = v.Verify(ctx, idp.Mint(map[string]any{"sub": "user-1", "client_id": "other-app"}))
	fmt.Println(tgerrors.KindOf(err))
	// Output:
	// user-1 orders-app <nil>
	// invalid_token
}
