package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/internal/storetest"
	"github.com/tollgate/tollgate/issuer/pgstore"
)

func TestPostgresSessionStore(t *testing.T) {
	storetest.Sessions(t, func(t *testing.T) issuer.SessionStore {
		pool := newSchema(t)
		return pgstore.NewSessionStore(pool)
	})
}

func TestOnlyTheHashOfARefreshTokenIsStored(t *testing.T) {
	pool := newSchema(t)
	s, err := issuer.NewSessions(issuer.SessionsConfig{Store: pgstore.NewSessionStore(pool)})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := s.Start(context.Background(), issuer.SessionRequest{ClientID: "app", Subject: "u"})
	if err != nil {
		t.Fatal(err)
	}
	var hash []byte
	if err := pool.QueryRow(context.Background(), `SELECT hash FROM tollgate_issuer_refresh_tokens`).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if want := issuer.HashRefreshToken(rt.Token.Reveal()); string(hash) != string(want[:]) {
		t.Fatal("the stored value is not the token's SHA-256")
	}
}

func TestSweepDropsExpiredSessions(t *testing.T) {
	pool := newSchema(t)
	store := pgstore.NewSessionStore(pool)
	c := newClock()
	s, _ := issuer.NewSessions(issuer.SessionsConfig{Store: store, AbsoluteLifetime: time.Hour, Now: c.Now})
	if _, err := s.Start(context.Background(), issuer.SessionRequest{ClientID: "app"}); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Hour)
	if err := store.Sweep(context.Background(), c.Now()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM tollgate_issuer_sessions) + (SELECT count(*) FROM tollgate_issuer_refresh_tokens)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d rows left", n)
	}
}
