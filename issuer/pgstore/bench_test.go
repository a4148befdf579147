package pgstore_test

import (
	"context"
	"testing"

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
