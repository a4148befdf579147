package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tollgate/tollgate/issuer"
)

// codeTime is a time with microseconds, the precision every store keeps.
var codeTime = time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)

func code(name string, created time.Time) issuer.AuthorizationCode {
	return issuer.AuthorizationCode{
		Hash: issuer.HashCode(name), ClientID: "app", RedirectURI: "https://app.example/cb", RedirectURIGiven: true,
		Challenge: issuer.S256Challenge("verifier-of-" + name), Subject: "user-1", Scopes: []string{"orders:read", "profile"},
		GrantID: "grant-1", CreatedAt: created, ExpiresAt: created.Add(issuer.MaxCodeLifetime),
	}
}

func createCode(t *testing.T, s issuer.CodeStore, c issuer.AuthorizationCode) {
	t.Helper()
	if err := s.CreateCode(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}

// sameCode fails unless got is want, field by field, times by Equal.
func sameCode(t *testing.T, got, want issuer.AuthorizationCode) {
	t.Helper()
	if got.Hash != want.Hash || got.ClientID != want.ClientID || got.RedirectURI != want.RedirectURI ||
		got.RedirectURIGiven != want.RedirectURIGiven || got.Challenge != want.Challenge || got.Subject != want.Subject ||
		!slices.Equal(got.Scopes, want.Scopes) || got.GrantID != want.GrantID || !got.CreatedAt.Equal(want.CreatedAt) ||
		!got.ExpiresAt.Equal(want.ExpiresAt) || !got.RedeemedAt.Equal(want.RedeemedAt) || got.SessionID != want.SessionID ||
		got.Replayed != want.Replayed {
		t.Fatalf("code\n%+v\nwant\n%+v", got, want)
	}
}

// Codes runs the CodeStore tests on stores made by newStore, one per test.
func Codes(t *testing.T, newStore func(t *testing.T) issuer.CodeStore) {
	ctx := context.Background()

	t.Run("ACodeRoundTripsEveryFieldAndItsHashIsTakenOnce", func(t *testing.T) {
		s := newStore(t)
		want := code("a", codeTime)
		createCode(t, s, want)
		got, err := s.Code(ctx, want.Hash)
		if err != nil {
			t.Fatal(err)
		}
		sameCode(t, got, want)
		other := code("a", codeTime.Add(time.Second))
		other.ClientID = "intruder"
		if err := s.CreateCode(ctx, other); !errors.Is(err, issuer.ErrConflict) {
			t.Fatalf("a second code of one hash: %v, want ErrConflict", err)
		}
		if got, _ := s.Code(ctx, want.Hash); got.ClientID != "app" {
			t.Fatalf("the second code replaced the first: %+v", got)
		}
		bare := issuer.AuthorizationCode{Hash: issuer.HashCode("bare"), ClientID: "app", CreatedAt: codeTime, ExpiresAt: codeTime.Add(time.Minute)}
		createCode(t, s, bare)
		got, err = s.Code(ctx, bare.Hash)
		if err != nil {
			t.Fatal(err)
		}
		sameCode(t, got, bare)
	})

	t.Run("ACodeRedeemsOnceAndAgainIsReplayThatTellsItsSession", func(t *testing.T) {
		s := newStore(t)
		c := code("a", codeTime)
		createCode(t, s, c)
		redeemed := codeTime.Add(2 * time.Second)
		got, err := s.RedeemCode(ctx, c.Hash, redeemed)
		if err != nil {
			t.Fatal(err)
		}
		c.RedeemedAt = redeemed
		sameCode(t, got, c)
		if err := s.BindCode(ctx, c.Hash, "session-1"); err != nil {
			t.Fatal(err)
		}
		got, err = s.RedeemCode(ctx, c.Hash, redeemed.Add(time.Second))
		if !errors.Is(err, issuer.ErrCodeReused) {
			t.Fatalf("the second redemption: %v, want ErrCodeReused", err)
		}
		c.SessionID, c.Replayed = "session-1", true
		sameCode(t, got, c) // as stored: first RedeemedAt, the session to end
		got, err = s.Code(ctx, c.Hash)
		if err != nil {
			t.Fatal(err)
		}
		sameCode(t, got, c)
	})

	t.Run("RedeemCodeDoesNotLookAtExpiry", func(t *testing.T) {
		s := newStore(t)
		c := code("a", codeTime)
		createCode(t, s, c)
		if _, err := s.RedeemCode(ctx, c.Hash, c.ExpiresAt.Add(time.Hour)); err != nil {
			t.Fatalf("redeeming an expired code: %v", err)
		}
	})

	t.Run("OfConcurrentRedemptionsOfOneCodeExactlyOneWins", func(t *testing.T) {
		s := newStore(t)
		c := code("a", codeTime)
		createCode(t, s, c)
		const n = 16
		got := make([]issuer.AuthorizationCode, n)
		errs := make([]error, n)
		atOnce(n, func(i int) {
			got[i], errs[i] = s.RedeemCode(ctx, c.Hash, codeTime.Add(time.Duration(i+1)*time.Millisecond))
		})
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("redemptions %d and %d both won", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, issuer.ErrCodeReused):
				t.Fatalf("a concurrent redemption failed with %v, want ErrCodeReused", err)
			}
		}
		if winner < 0 {
			t.Fatal("no redemption won")
		}
		for i, g := range got {
			if !g.RedeemedAt.Equal(got[winner].RedeemedAt) || g.Replayed != (i != winner) {
				t.Fatalf("redemption %d saw redeemed at %v, replayed %v; the winner's is %v", i, g.RedeemedAt, g.Replayed, got[winner].RedeemedAt)
			}
		}
	})

	t.Run("BindingACodeReplayedMeanwhileIsReuse", func(t *testing.T) {
		s := newStore(t)
		c := code("a", codeTime)
		createCode(t, s, c)
		if _, err := s.RedeemCode(ctx, c.Hash, codeTime); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RedeemCode(ctx, c.Hash, codeTime); !errors.Is(err, issuer.ErrCodeReused) {
			t.Fatalf("the replay: %v", err)
		}
		if err := s.BindCode(ctx, c.Hash, "session-1"); !errors.Is(err, issuer.ErrCodeReused) {
			t.Fatalf("binding after a replay: %v, want ErrCodeReused", err)
		}
	})

	t.Run("AnUnknownCodeIsNotFound", func(t *testing.T) {
		s := newStore(t)
		createCode(t, s, code("a", codeTime))
		h := issuer.HashCode("b")
		if _, err := s.Code(ctx, h); !errors.Is(err, issuer.ErrNotFound) {
			t.Fatalf("Code: %v", err)
		}
		if _, err := s.RedeemCode(ctx, h, codeTime); !errors.Is(err, issuer.ErrNotFound) {
			t.Fatalf("RedeemCode: %v", err)
		}
		if err := s.BindCode(ctx, h, "session-1"); !errors.Is(err, issuer.ErrNotFound) {
			t.Fatalf("BindCode: %v", err)
		}
		if _, err := s.Code(ctx, h); !errors.Is(err, issuer.ErrNotFound) {
			t.Fatalf("after RedeemCode and BindCode, Code: %v", err)
		}
	})

	t.Run("ARecordIsKeptForTheReplayWindowAfterItsCodeExpiresAndDroppedAfter", func(t *testing.T) {
		s := newStore(t)
		old := code("old", codeTime)
		createCode(t, s, old)
		if _, err := s.RedeemCode(ctx, old.Hash, codeTime); err != nil {
			t.Fatal(err)
		}
		within := code("within", old.ExpiresAt.Add(issuer.CodeReplayWindow-time.Second))
		createCode(t, s, within)
		if _, err := s.Code(ctx, old.Hash); err != nil {
			t.Fatalf("a record within its replay window: %v", err)
		}
		// Past old's window (and a minute later, however often the store
		// sweeps), within's is not.
		past := code("past", old.ExpiresAt.Add(issuer.CodeReplayWindow+time.Minute+time.Second))
		createCode(t, s, past)
		if _, err := s.Code(ctx, old.Hash); !errors.Is(err, issuer.ErrNotFound) {
			t.Fatalf("a record past its replay window: %v, want ErrNotFound", err)
		}
		for _, c := range []issuer.AuthorizationCode{within, past} {
			got, err := s.Code(ctx, c.Hash)
			if err != nil {
				t.Fatal(err)
			}
			sameCode(t, got, c)
		}
	})
}
