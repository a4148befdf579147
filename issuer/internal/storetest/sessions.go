// Package storetest holds the tests every issuer store must pass, run on
// memory by package issuer and on PostgreSQL by issuer/pgstore.
package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/jwt"
)

// clock is a settable clock.
type clock = authtest.Clock

// ended records OnSessionEnded calls.
type ended struct {
	mu    sync.Mutex
	sids  []string
	until []time.Time
}

func (e *ended) record(_ context.Context, sid string, until time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sids = append(e.sids, sid)
	e.until = append(e.until, until)
}

func (e *ended) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.sids)
}

const accessLife = time.Hour

func setup(t *testing.T, store issuer.SessionStore) (*issuer.Sessions, *clock, *ended) {
	t.Helper()
	c := authtest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	e := &ended{}
	s, err := issuer.NewSessions(issuer.SessionsConfig{
		Store: store, AbsoluteLifetime: 4 * 24 * time.Hour, IdleLifetime: 24 * time.Hour,
		AccessTokenLifetime: accessLife, OnSessionEnded: e.record, Now: c.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, c, e
}

func start(t *testing.T, s *issuer.Sessions) issuer.RefreshToken {
	t.Helper()
	rt, err := s.Start(context.Background(), issuer.SessionRequest{ClientID: "app", Subject: "user-1", Account: "acme", Grant: issuer.GrantPassword, Scopes: []string{"orders:read"}, Audience: []string{"orders-api"}})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func refresh(t *testing.T, s *issuer.Sessions, tok issuer.Token) issuer.RefreshToken {
	t.Helper()
	rt, err := s.Refresh(context.Background(), "app", tok.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) || !errors.Is(err, issuer.ErrInvalidGrant) {
		t.Fatalf("err %v, want %v (an ErrInvalidGrant)", err, want)
	}
}

// Sessions runs the SessionStore tests on stores made by newStore, one per
// test.
func Sessions(t *testing.T, newStore func(t *testing.T) issuer.SessionStore) {
	t.Run("ARefreshRotatesTheTokenAndKeepsTheSession", func(t *testing.T) {
		s, c, _ := setup(t, newStore(t))
		first := start(t, s)
		if len(first.Token.Reveal()) != 43 {
			t.Fatalf("refresh token of %d characters, want 43 (256 bits)", len(first.Token.Reveal()))
		}
		c.Advance(time.Hour)
		next := refresh(t, s, first.Token)
		if next.Token == first.Token {
			t.Fatal("the refresh token was not rotated")
		}
		got := next.Session
		if got.ID != first.Session.ID || got.ClientID != "app" || got.Subject != "user-1" || got.Account != "acme" || got.Grant != issuer.GrantPassword || len(got.Scopes) != 1 || got.Scopes[0] != "orders:read" || len(got.Audience) != 1 {
			t.Fatalf("session %+v, want %+v", got, first.Session)
		}
		if !next.ExpiresAt.Equal(c.Now().Add(24 * time.Hour)) {
			t.Fatalf("next token expires %v, want now + idle", next.ExpiresAt)
		}
		refresh(t, s, next.Token)
	})

	t.Run("PeekTellsATokensSessionAndChangesNothing", func(t *testing.T) {
		s, c, e := setup(t, newStore(t))
		first := start(t, s)
		got, err := s.Peek(context.Background(), "app", first.Token.Reveal())
		if err != nil || got.ID != first.Session.ID || got.Subject != "user-1" || got.Account != "acme" || got.Grant != issuer.GrantPassword || len(got.Scopes) != 1 {
			t.Fatalf("session %+v, err %v", got, err)
		}
		_, err = s.Peek(context.Background(), "other", first.Token.Reveal())
		wantErr(t, err, issuer.ErrRefreshUnknown)
		next := refresh(t, s, first.Token) // Peek consumed nothing
		// A used token is reuse, but Peek ends nothing.
		got, err = s.Peek(context.Background(), "app", first.Token.Reveal())
		wantErr(t, err, issuer.ErrRefreshReused)
		if got.ID != first.Session.ID || e.count() != 0 {
			t.Fatalf("session %+v, %d ended", got, e.count())
		}
		c.Advance(25 * time.Hour)
		_, err = s.Peek(context.Background(), "app", next.Token.Reveal())
		wantErr(t, err, issuer.ErrRefreshExpired)
	})

	t.Run("RevokingARefreshTokenEndsItsSessionForItsClientOnly", func(t *testing.T) {
		s, _, e := setup(t, newStore(t))
		first := start(t, s)
		if err := s.Revoke(context.Background(), "other", first.Token.Reveal()); !errors.Is(err, issuer.ErrRefreshUnknown) || e.count() != 0 {
			t.Fatalf("another client's revocation: %v, %d ended", err, e.count())
		}
		if err := s.Revoke(context.Background(), "app", first.Token.Reveal()); err != nil || e.count() != 1 {
			t.Fatalf("revocation: %v, %d ended", err, e.count())
		}
		if err := s.Revoke(context.Background(), "app", first.Token.Reveal()); err != nil || e.count() != 1 {
			t.Fatalf("second revocation: %v, %d ended", err, e.count())
		}
		_, err := s.Refresh(context.Background(), "app", first.Token.Reveal())
		wantErr(t, err, issuer.ErrSessionEnded)
	})

	t.Run("AReusedTokenEndsTheWholeFamily", func(t *testing.T) {
		s, c, e := setup(t, newStore(t))
		first := start(t, s)
		next := refresh(t, s, first.Token)
		_, err := s.Refresh(context.Background(), "app", first.Token.Reveal())
		wantErr(t, err, issuer.ErrRefreshReused)
		_, err = s.Refresh(context.Background(), "app", next.Token.Reveal())
		wantErr(t, err, issuer.ErrSessionEnded)
		if e.count() != 1 || e.sids[0] != first.Session.ID || !e.until[0].Equal(c.Now().Add(accessLife+jwt.MaxLeeway)) {
			t.Fatalf("OnSessionEnded got %v until %v", e.sids, e.until)
		}
	})

	t.Run("OfConcurrentRefreshesOfOneTokenExactlyOneWinsAndTheRestAreReuse", func(t *testing.T) {
		s, _, e := setup(t, newStore(t))
		first := start(t, s)
		const n = 100
		errs := make([]error, n)
		atOnce(n, func(i int) { _, errs[i] = s.Refresh(context.Background(), "app", first.Token.Reveal()) })
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, issuer.ErrRefreshReused):
				t.Fatalf("a concurrent refresh failed with %v, want reuse", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d refreshes won, want exactly 1", wins)
		}
		if e.count() == 0 || e.sids[0] != first.Session.ID {
			t.Fatalf("OnSessionEnded got %v", e.sids)
		}
	})

	t.Run("ATokenExpiresAfterItsIdleLifetimeAndNoneOutlivesTheSession", func(t *testing.T) {
		s, c, _ := setup(t, newStore(t))
		first := start(t, s)
		c.Advance(24 * time.Hour)
		_, err := s.Refresh(context.Background(), "app", first.Token.Reveal())
		wantErr(t, err, issuer.ErrRefreshExpired)

		second := start(t, s)
		tok := second.Token
		for range 3 {
			c.Advance(23 * time.Hour)
			tok = refresh(t, s, tok).Token
		}
		c.Advance(23 * time.Hour) // 92 h in: the next token is capped at 96 h
		last := refresh(t, s, tok)
		if !last.ExpiresAt.Equal(second.Session.ExpiresAt) {
			t.Fatalf("token expires %v, after its session's end %v", last.ExpiresAt, second.Session.ExpiresAt)
		}
		c.Advance(4 * time.Hour)
		_, err = s.Refresh(context.Background(), "app", last.Token.Reveal())
		wantErr(t, err, issuer.ErrRefreshExpired)
	})

	t.Run("AnotherClientsTokenIsUnknownAndStaysUsable", func(t *testing.T) {
		s, _, e := setup(t, newStore(t))
		first := start(t, s)
		_, err := s.Refresh(context.Background(), "other-app", first.Token.Reveal())
		wantErr(t, err, issuer.ErrRefreshUnknown)
		refresh(t, s, first.Token)
		if e.count() != 0 {
			t.Fatal("a session ended")
		}
	})

	t.Run("AnUnknownOrMalformedTokenIsUnknown", func(t *testing.T) {
		s, _, _ := setup(t, newStore(t))
		start(t, s)
		for _, tok := range []string{"", "x", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", string(make([]byte, 1<<16))} {
			_, err := s.Refresh(context.Background(), "app", tok)
			wantErr(t, err, issuer.ErrRefreshUnknown)
		}
	})

	t.Run("EndingAUsersSessionsWithAClientEndsOnlyThoseThatAreLive", func(t *testing.T) {
		store := newStore(t)
		s, c, e := setup(t, store)
		ctx := context.Background()
		begin := func(client, subject string) issuer.RefreshToken {
			t.Helper()
			rt, err := s.Start(ctx, issuer.SessionRequest{ClientID: client, Subject: subject, Scopes: []string{"orders:read"}})
			if err != nil {
				t.Fatal(err)
			}
			return rt
		}
		mine := []issuer.RefreshToken{begin("app", "user-1"), begin("app", "user-1")}
		already := begin("app", "user-1")
		if err := s.End(ctx, already.Session.ID); err != nil {
			t.Fatal(err)
		}
		others := []issuer.RefreshToken{begin("app", "user-2"), begin("other-app", "user-1")}
		c.Advance(time.Minute)
		sids, err := store.EndSessionsOf(ctx, "app", "user-1", c.Now())
		if err != nil {
			t.Fatal(err)
		}
		want := []string{mine[0].Session.ID, mine[1].Session.ID}
		slices.Sort(want)
		if got := slices.Sorted(slices.Values(sids)); !slices.Equal(got, want) {
			t.Fatalf("ended %v, want %v", sids, want)
		}
		for _, rt := range append(mine, already) {
			_, err := s.Refresh(ctx, "app", rt.Token.Reveal())
			wantErr(t, err, issuer.ErrSessionEnded)
		}
		for _, rt := range others {
			if _, err := s.Refresh(ctx, rt.Session.ClientID, rt.Token.Reveal()); err != nil {
				t.Fatalf("another user's or client's session: %v", err)
			}
		}
		if sids, err := store.EndSessionsOf(ctx, "app", "user-1", c.Now()); err != nil || len(sids) != 0 {
			t.Fatalf("ending them again: %v, %v", sids, err)
		}
		// Through Sessions, each is reported.
		more := begin("app", "user-1")
		before := e.count()
		if n, err := s.EndAll(ctx, "app", "user-1"); err != nil || n != 1 || e.count() != before+1 || e.sids[before] != more.Session.ID {
			t.Fatalf("EndAll: %d, %v; OnSessionEnded got %v", n, err, e.sids)
		}
	})

	t.Run("EndingTheSessionsOfAUserOrClientThatIsNotTextEndsNone", func(t *testing.T) {
		store := newStore(t)
		s, c, _ := setup(t, store)
		ctx := context.Background()
		rt, err := s.Start(ctx, issuer.SessionRequest{ClientID: "app", Subject: "user-1"})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range [][2]string{{"app\xff", "user-1"}, {"app", "user-1\xff"}, {"app\x00", "user-1"}, {"app", "user-1\x00"}} {
			if sids, err := store.EndSessionsOf(ctx, k[0], k[1], c.Now()); err != nil || len(sids) != 0 {
				t.Errorf("EndSessionsOf(%q, %q): %v, %v, want none", k[0], k[1], sids, err)
			}
		}
		refresh(t, s, rt.Token)
	})

	t.Run("AnEndedSessionRefusesItsTokenAndIsReported", func(t *testing.T) {
		s, _, e := setup(t, newStore(t))
		first := start(t, s)
		if err := s.End(context.Background(), first.Session.ID); err != nil {
			t.Fatal(err)
		}
		_, err := s.Refresh(context.Background(), "app", first.Token.Reveal())
		wantErr(t, err, issuer.ErrSessionEnded)
		if e.count() != 1 || e.sids[0] != first.Session.ID {
			t.Fatalf("OnSessionEnded got %v", e.sids)
		}
		if err := s.End(context.Background(), "no-such-session"); !errors.Is(err, issuer.ErrNotFound) {
			t.Fatalf("ending an unknown session: %v", err)
		}
	})
}

// atOnce runs f(0), …, f(n-1) in n goroutines released together, so they
// race for one row, and waits for them.
func atOnce(n int, f func(i int)) {
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-gate
			f(i)
		})
	}
	close(gate)
	wg.Wait()
}
