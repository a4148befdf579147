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

// A session ended through one replica is refused by another from its next
// check, matched in memory: one reload, then one round trip a check, as
// before the session ended.
func TestAnEndedSessionIsRefusedOnEveryReplica(t *testing.T) {
	a, _, _ := testStore(t, Config{})
	b, _, rtB := testStore(t, Config{Prefix: a.tag[1 : len(a.tag)-1]})
	ctx := context.Background()
	tok := func(sid string) *principal.Principal {
		return principal.New(principal.Fields{Subject: "u1", Claims: map[string]any{"sid": sid}})
	}
	if got, err := b.Revoked(ctx, opaque, tok("s1")); err != nil || got {
		t.Fatalf("before: %v %v", got, err)
	}
	if err := a.RevokeSession(ctx, "s1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	before := rtB.n.Load()
	if got, err := b.Revoked(ctx, opaque, tok("s1")); err != nil || !got {
		t.Fatalf("the other replica: %v %v", got, err)
	}
	// The check and the reload; a server that has not run the reload
	// script yet answers NOSCRIPT first, one round trip more.
	if n := rtB.n.Load() - before; n != 2 && n != 3 {
		t.Fatalf("the check that found the change took %d round trips, want 2 (3 the first time the script runs)", n)
	}
	before = rtB.n.Load()
	if got, err := b.Revoked(ctx, opaque, tok("s2")); err != nil || got {
		t.Fatalf("another session: %v %v", got, err)
	}
	if n := rtB.n.Load() - before; n != 1 {
		t.Fatalf("a later check took %d round trips, want 1", n)
	}
}
