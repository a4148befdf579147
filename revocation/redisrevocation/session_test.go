package redisrevocation

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate/tollgate/principal"
)

func TestStoreRevokesTheTokensOfASessionBySidInOneRoundTrip(t *testing.T) {
	withSid := func(sid string) *principal.Principal {
		return principal.New(principal.Fields{Subject: "u1", TokenID: "jti-1", Claims: map[string]any{"sid": sid}})
	}
	for _, tt := range []struct {
		name string
		p    *principal.Principal
		want bool
	}{
		{"a token of the ended session", withSid("s1"), true},
		{"a token of another session", withSid("s2"), false},
		{"a token without a sid", jwtPrincipal, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, _, rt := testStore(t, Config{})
			ctx := context.Background()
			if err := s.RevokeSession(ctx, "s1", time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			before := rt.n.Load()
			if got, err := s.Revoked(ctx, jwt, tt.p); err != nil || got != tt.want {
				t.Fatalf("Revoked = %v, %v; want %v", got, err, tt.want)
			}
			if n := rt.n.Load() - before; n != 1 {
				t.Fatalf("check took %d round trips, want 1", n)
			}
		})
	}
	s, _, _ := testStore(t, Config{})
	if err := s.RevokeSession(context.Background(), "", time.Time{}); err == nil {
		t.Fatal("the empty sid was revoked")
	}
}
