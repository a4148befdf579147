package redisrevocation_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/revocation/redisrevocation"
)

// Every replica builds a Store on the same Redis; a token revoked through
// one of them is refused by all from the next request on. (Not run: it
// needs a Redis server.)
func Example() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	revoked := redisrevocation.New(client, redisrevocation.Config{Prefix: "orders-api:revoked:"})
	ctx := context.Background()

	// On logout: revoke the JWT's jti until the token's own exp.
	p := principal.New(principal.Fields{Subject: "user-7", TokenID: "jti-7", ExpiresAt: time.Now().Add(time.Hour)})
	if err := revoked.RevokeID(ctx, p.TokenID(), p.ExpiresAt()); err != nil {
		log.Fatal(err)
	}

	// On every request, after the verifier: an error means refuse (503).
	isRevoked, err := revoked.Revoked(ctx, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", p)
	if err != nil || isRevoked {
		log.Print("refuse the request")
	}
}

// A revocation list that cannot answer fails closed: Revoked returns an
// unavailable error, and middleware.Authenticate refuses the request with
// 503 rather than letting a possibly revoked token through.
func Example_failClosed() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer client.Close()
	revoked := redisrevocation.New(client, redisrevocation.Config{})

	p := principal.New(principal.Fields{Subject: "user-7", TokenID: "jti-7"})
	isRevoked, err := revoked.Revoked(context.Background(), "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", p)
	fmt.Println(isRevoked, tgerrors.KindOf(err))
	// Output: false unavailable
}
