package pgstore_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/pgstore"
)

// BenchmarkRefreshRound is one refresh on PostgreSQL: the transaction that
// locks the token and its session, consumes the token and stores its
// successor. BenchmarkSelect1 beside it is the floor: one round trip.
func BenchmarkRefreshRound(b *testing.B) {
	pool := newSchema(b)
	s, err := issuer.NewSessions(issuer.SessionsConfig{Store: pgstore.NewSessionStore(pool)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	rt, err := s.Start(ctx, issuer.SessionRequest{ClientID: "app", Subject: "u", Scopes: []string{"a"}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if rt, err = s.Refresh(ctx, "app", rt.Token.Reveal()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCodeRound is one authorization code's life on PostgreSQL, as
// the endpoints use the store: stored at approval (with its share of the
// sweep), read, redeemed and bound to its session at the token endpoint:
// four round trips.
func BenchmarkCodeRound(b *testing.B) {
	pool := newSchema(b)
	s := pgstore.NewCodeStore(pool)
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		h := issuer.HashCode(rand.Text())
		c := issuer.AuthorizationCode{Hash: h, ClientID: "app", RedirectURI: "https://app.example/cb", Subject: "u",
			Scopes: []string{"a"}, GrantID: "g", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
		if err := s.CreateCode(ctx, c); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Code(ctx, h); err != nil {
			b.Fatal(err)
		}
		if _, err := s.RedeemCode(ctx, h, now); err != nil {
			b.Fatal(err)
		}
		if err := s.BindCode(ctx, h, "sid"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSelect1(b *testing.B) {
	pool := newSchema(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		var one int
		if err := pool.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
			b.Fatal(err)
		}
	}
}
