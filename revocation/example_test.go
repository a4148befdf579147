package revocation_test

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/revocation"
)

// A Memory is consulted after the verifier on every request; a revocation
// holds from the next request on, until the token would have expired anyway.
func Example() {
	revoked := revocation.NewMemory(revocation.MemoryConfig{})
	ctx := context.Background()

	// A JWT, verified (and cached) by its verifier, carries a jti.
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJqdGkiOiJqdGktNyJ9.c2ln"
	p := principal.New(principal.Fields{Subject: "user-7", TokenID: "jti-7", ExpiresAt: time.Now().Add(time.Hour)})

	ok, err := revoked.Revoked(ctx, jwt, p)
	fmt.Println("before logout:", ok, err)

	// On logout, revoke it until its exp; the entry is dropped after.
	if err := revoked.RevokeID(p.TokenID(), p.ExpiresAt()); err != nil {
		panic(err)
	}
	ok, err = revoked.Revoked(ctx, jwt, p)
	fmt.Println("after logout:", ok, err)

	// An opaque token has no jti: it is revoked by its hash.
	opaque := "2YotnFZFEjr1zCsicMWpAA"
	if err := revoked.RevokeToken(opaque, time.Now().Add(time.Hour)); err != nil {
		panic(err)
	}
	ok, err = revoked.Revoked(ctx, opaque, principal.New(principal.Fields{Subject: "merchant-42"}))
	fmt.Println("opaque token:", ok, err)
	// Output:
	// before logout: false <nil>
	// after logout: true <nil>
	// opaque token: true <nil>
}
