package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tollgate/tollgate/issuer"
)

func grant(id, subject, client string, at time.Time, scopes ...string) issuer.Grant {
	return issuer.Grant{ID: id, Subject: subject, ClientID: client, Scopes: scopes, CreatedAt: at, UpdatedAt: at}
}

// sameGrant fails unless got is want, field by field, times by Equal.
func sameGrant(t *testing.T, got, want issuer.Grant) {
	t.Helper()
	if got.ID != want.ID || got.Subject != want.Subject || got.ClientID != want.ClientID || !slices.Equal(got.Scopes, want.Scopes) ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("grant\n%+v\nwant\n%+v", got, want)
	}
}

func addGrant(t *testing.T, s issuer.GrantStore, g issuer.Grant) issuer.Grant {
	t.Helper()
	got, err := s.AddGrant(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Grants runs the GrantStore tests on stores made by newStore, one per
// test.
func Grants(t *testing.T, newStore func(t *testing.T) issuer.GrantStore) {
	ctx := context.Background()

	t.Run("AGrantRoundTrips", func(t *testing.T) {
		s := newStore(t)
		want := grant("g1", "user-1", "app", codeTime, "orders:read", "profile")
		sameGrant(t, addGrant(t, s, want), want)
		got, err := s.Grant(ctx, "user-1", "app")
		if err != nil {
			t.Fatal(err)
		}
		sameGrant(t, got, want)
	})

	t.Run("AddingToAGrantUnionsTheScopesInByteOrderAndKeepsItsIDAndCreation", func(t *testing.T) {
		s := newStore(t)
		addGrant(t, s, grant("g1", "user-1", "app", codeTime, "Profile", "orders:read"))
		later := codeTime.Add(time.Hour)
		want := issuer.Grant{ID: "g1", Subject: "user-1", ClientID: "app", Scopes: []string{"Profile", "inventory", "orders:read"}, CreatedAt: codeTime, UpdatedAt: later}
		sameGrant(t, addGrant(t, s, grant("g2", "user-1", "app", later, "inventory", "orders:read")), want)
		got, err := s.Grant(ctx, "user-1", "app")
		if err != nil {
			t.Fatal(err)
		}
		sameGrant(t, got, want)
	})

	t.Run("ConcurrentAddsForOneUserAndClientMergeIntoOneGrant", func(t *testing.T) {
		s := newStore(t)
		const n = 8
		got := make([]issuer.Grant, n)
		errs := make([]error, n)
		atOnce(n, func(i int) {
			got[i], errs[i] = s.AddGrant(ctx, grant(fmt.Sprint("g", i), "user-1", "app", codeTime, fmt.Sprint("scope-", i)))
		})
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		final, err := s.Grant(ctx, "user-1", "app")
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for i := range n {
			want = append(want, fmt.Sprint("scope-", i))
		}
		if !slices.Equal(final.Scopes, want) {
			t.Fatalf("scopes %v, want %v", final.Scopes, want)
		}
		for i, g := range got {
			if g.ID != final.ID {
				t.Fatalf("add %d returned grant %q, the stored one is %q", i, g.ID, final.ID)
			}
		}
	})

	t.Run("GrantsOfListsASubjectsGrantsOldestFirst", func(t *testing.T) {
		s := newStore(t)
		b := addGrant(t, s, grant("g1", "user-1", "app-b", codeTime, "x"))
		a := addGrant(t, s, grant("g2", "user-1", "app-a", codeTime.Add(time.Second), "x"))
		c := addGrant(t, s, grant("g3", "user-1", "app-c", codeTime, "x"))
		addGrant(t, s, grant("g4", "user-2", "app-a", codeTime, "x"))
		got, err := s.GrantsOf(ctx, "user-1")
		if err != nil {
			t.Fatal(err)
		}
		want := []issuer.Grant{b, c, a} // ties by client id
		if len(got) != len(want) {
			t.Fatalf("%d grants, want %d: %+v", len(got), len(want), got)
		}
		for i := range want {
			sameGrant(t, got[i], want[i])
		}
		if got, err := s.GrantsOf(ctx, "nobody"); err != nil || len(got) != 0 {
			t.Fatalf("grants of nobody: %+v, %v", got, err)
		}
	})

	t.Run("ADeletedGrantIsGoneAndAGrantGivenAgainIsANewOne", func(t *testing.T) {
		s := newStore(t)
		want := addGrant(t, s, grant("g1", "user-1", "app", codeTime, "x"))
		other := addGrant(t, s, grant("g2", "user-1", "other-app", codeTime, "x"))
		got, err := s.DeleteGrant(ctx, "user-1", "app")
		if err != nil {
			t.Fatal(err)
		}
		sameGrant(t, got, want)
		if _, err := s.Grant(ctx, "user-1", "app"); !errors.Is(err, issuer.ErrNotFound) {
			t.Fatalf("a deleted grant: %v, want ErrNotFound", err)
		}
		if _, err := s.DeleteGrant(ctx, "user-1", "app"); !errors.Is(err, issuer.ErrNotFound) {
			t.Fatalf("deleting it again: %v, want ErrNotFound", err)
		}
		if got, err := s.Grant(ctx, "user-1", "other-app"); err != nil || got.ID != other.ID {
			t.Fatalf("the user's other grant: %+v, %v", got, err)
		}
		again := grant("g3", "user-1", "app", codeTime.Add(time.Hour), "y")
		sameGrant(t, addGrant(t, s, again), again)
	})

	t.Run("AnUnknownGrantIsNotFound", func(t *testing.T) {
		s := newStore(t)
		addGrant(t, s, grant("g1", "user-1", "app", codeTime, "x"))
		for _, k := range [][2]string{{"user-2", "app"}, {"user-1", "other-app"}, {"app", "user-1"}} {
			if _, err := s.Grant(ctx, k[0], k[1]); !errors.Is(err, issuer.ErrNotFound) {
				t.Errorf("Grant(%q, %q): %v, want ErrNotFound", k[0], k[1], err)
			}
			if _, err := s.DeleteGrant(ctx, k[0], k[1]); !errors.Is(err, issuer.ErrNotFound) {
				t.Errorf("DeleteGrant(%q, %q): %v, want ErrNotFound", k[0], k[1], err)
			}
		}
	})

	// A provider's page may pass a client id or username as posted, bytes
	// that are no UTF-8 text included: no one's grant, never a store
	// failure.
	t.Run("ASubjectOrClientThatIsNotTextHasNoGrant", func(t *testing.T) {
		s := newStore(t)
		addGrant(t, s, grant("g1", "user-1", "app", codeTime, "x"))
		for _, k := range [][2]string{{"user-1\xff", "app"}, {"user-1", "app\xff"}, {"user-1\x00", "app"}, {"user-1", "app\x00"}} {
			if _, err := s.Grant(ctx, k[0], k[1]); !errors.Is(err, issuer.ErrNotFound) {
				t.Errorf("Grant(%q, %q): %v, want ErrNotFound", k[0], k[1], err)
			}
			if _, err := s.DeleteGrant(ctx, k[0], k[1]); !errors.Is(err, issuer.ErrNotFound) {
				t.Errorf("DeleteGrant(%q, %q): %v, want ErrNotFound", k[0], k[1], err)
			}
		}
		for _, subject := range []string{"user-1\xff", "user-1\x00"} {
			if got, err := s.GrantsOf(ctx, subject); err != nil || len(got) != 0 {
				t.Errorf("GrantsOf(%q): %v, %v, want none", subject, got, err)
			}
		}
		if _, err := s.Grant(ctx, "user-1", "app"); err != nil {
			t.Fatalf("the grant after: %v", err)
		}
	})
}
