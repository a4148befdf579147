package redisrevocation_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/revocation/redisrevocation"
)

// liveRevocations stands for the application's own record of what it has
// revoked (its sessions table, say), from which a lost list is rebuilt.
func liveRevocations(ctx context.Context) (map[string]time.Time, error) {
	return map[string]time.Time{"jti-7": time.Now().Add(time.Hour)}, nil
}

// Every replica builds a Store on the same Redis; a token revoked through
// one of them is refused by all from the next request on. Republish lets
// the store rebuild the list by itself if Redis loses it. (Not run: it
// needs a Redis server.)
func Example() {
	client := redis.NewClient(&redis.Options{
		Addr:                  "127.0.0.1:6379",
		ContextTimeoutEnabled: true, // Config.Timeout (50 ms) bounds each check
	})
	revoked := redisrevocation.New(client, redisrevocation.Config{
		Prefix: "orders-api:revoked:",
		Republish: func(ctx context.Context, s *redisrevocation.Store) error {
			live, err := liveRevocations(ctx)
			if err != nil {
				return err
			}
			for jti, exp := range live {
				if err := s.RevokeID(ctx, jti, exp); err != nil {
					return err
				}
			}
			return nil
		},
	})
	ctx := context.Background()
	if err := revoked.CheckServer(ctx); err != nil {
		log.Print(err) // e.g. appendonly is off: a restart would lose the list
	}
	// At start-up: publish the list if this Redis has none, before the
	// first request finds it missing.
	if err := revoked.Restore(ctx); err != nil {
		log.Print(err)
	}

	// On logout: revoke the JWT's jti until the token's own exp (the store
	// keeps it a Leeway longer, as the verifier admits the token).
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

// A revocation list that cannot answer within its Timeout fails closed:
// Revoked returns an unavailable error, and middleware.Authenticate refuses
// the request with 503 rather than letting a possibly revoked token
// through.
func Example_failClosed() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer client.Close()
	revoked := redisrevocation.New(client, redisrevocation.Config{
		Logger: slog.New(slog.DiscardHandler), // the outage line; nil logs to slog.Default()
	})

	p := principal.New(principal.Fields{Subject: "user-7", TokenID: "jti-7"})
	isRevoked, err := revoked.Revoked(context.Background(), "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", p)
	fmt.Println(isRevoked, tgerrors.KindOf(err))
	// Output: false unavailable
}
