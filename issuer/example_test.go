package issuer_test

import (
	"context"
	"fmt"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/jwt"
)

// A service mints access tokens and verifies them in the same process,
// its verifier reading the key ring directly.
func Example() {
	ctx := context.Background()
	ring, err := issuer.NewKeyRing(ctx, issuer.KeyRingConfig{}) // ES256, keys in memory
	if err != nil {
		panic(err)
	}
	minter, err := issuer.NewMinter(issuer.MinterConfig{Issuer: "https://auth.example.com", Keys: ring})
	if err != nil {
		panic(err)
	}
	verifier, err := jwt.NewVerifier(ctx, jwt.Config{Issuers: []jwt.Issuer{{
		Issuer:      "https://auth.example.com",
		KeySource:   ring,
		Audiences:   []string{"orders-api"},
		Algorithms:  []string{"ES256"},
		RequiredTyp: "at+jwt",
	}}})
	if err != nil {
		panic(err)
	}
	defer verifier.Close()

	at, err := minter.Mint(ctx, issuer.AccessRequest{
		ClientID: "vendor-portal",
		Audience: []string{"orders-api"},
		Scopes:   []string{"orders:read"},
		Grant:    issuer.GrantClientCredentials,
	})
	if err != nil {
		panic(err)
	}
	p, err := verifier.Verify(ctx, at.Token.Reveal())
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Subject(), p.ClientID(), p.Scopes(), at.Lifetime)
	fmt.Println(at.Token) // redacted
	// Output:
	// vendor-portal vendor-portal [orders:read] 1h0m0s
	// [REDACTED]
}
