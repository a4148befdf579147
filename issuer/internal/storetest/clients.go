package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/issuer"
)

// FastArgon2 keeps tests quick; production uses issuer.DefaultArgon2Params.
var FastArgon2 = issuer.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltBytes: 16, KeyBytes: 32}

func newClients(t *testing.T, store issuer.ClientStore) *issuer.Clients {
	t.Helper()
	c, err := issuer.NewClients(issuer.ClientsConfig{Store: store, Argon2: FastArgon2})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func vendor() issuer.Client {
	return issuer.Client{
		ID: "vendor-1", Name: "Vendor", Grants: []string{issuer.GrantClientCredentials},
		Scopes: []string{"orders:read", "inventory"}, Audience: []string{"orders-api"},
		AccessTokenLifetime: time.Hour, RefreshIdleLifetime: 2 * time.Hour, RefreshAbsoluteLifetime: 96 * time.Hour,
		GrantScopes: map[string][]string{issuer.GrantClientCredentials: {"inventory"}},
	}
}

// Clients runs the ClientStore tests on stores made by newStore.
func Clients(t *testing.T, newStore func(t *testing.T) issuer.ClientStore) {
	ctx := context.Background()

	t.Run("AClientAuthenticatesWithItsSecretAndRoundTrips", func(t *testing.T) {
		c := newClients(t, newStore(t))
		created, secret, err := c.Create(ctx, vendor())
		if err != nil {
			t.Fatal(err)
		}
		if len(secret.Reveal()) != 43 || strings.Contains(created.SecretHash, secret.Reveal()) || !strings.HasPrefix(created.SecretHash, "$argon2id$v=19$m=64,t=1,p=1$") {
			t.Fatalf("secret %d chars, hash %q", len(secret.Reveal()), created.SecretHash)
		}
		got, err := c.Authenticate(ctx, "vendor-1", secret.Reveal())
		if err != nil {
			t.Fatal(err)
		}
		want := vendor()
		if got.ID != want.ID || got.Name != want.Name || !got.AllowsGrant(issuer.GrantClientCredentials) || got.AllowsGrant(issuer.GrantPassword) ||
			len(got.Scopes) != 2 || got.Audience[0] != "orders-api" || got.AccessTokenLifetime != time.Hour ||
			got.RefreshIdleLifetime != 2*time.Hour || got.RefreshAbsoluteLifetime != 96*time.Hour || got.CreatedAt.IsZero() ||
			len(got.GrantScopes) != 1 || len(got.GrantScopes[issuer.GrantClientCredentials]) != 1 || got.GrantScopes[issuer.GrantClientCredentials][0] != "inventory" {
			t.Fatalf("client %+v", got)
		}
		if _, _, err := c.Create(ctx, vendor()); !errors.Is(err, issuer.ErrConflict) {
			t.Fatalf("a second client of one id: %v", err)
		}
	})

	t.Run("RedirectURIsAndPublicRoundTrip", func(t *testing.T) {
		store := newStore(t)
		c := newClients(t, store)
		app := issuer.Client{
			ID: "spa", Name: "App", Grants: []string{issuer.GrantAuthorizationCode, issuer.GrantRefreshToken}, Scopes: []string{"orders:read"},
			RedirectURIs: []string{"https://app.example/cb", "http://127.0.0.1:8080/cb"}, Public: true,
		}
		if _, _, err := c.Create(ctx, app); err != nil {
			t.Fatal(err)
		}
		got, err := c.Client(ctx, "spa")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Public || !slices.Equal(got.RedirectURIs, app.RedirectURIs) || got.SecretHash != "" {
			t.Fatalf("client %+v", got)
		}
		app.RedirectURIs = app.RedirectURIs[1:]
		if err := c.Update(ctx, app); err != nil {
			t.Fatal(err)
		}
		if got, err = c.Client(ctx, "spa"); err != nil || !got.Public || !slices.Equal(got.RedirectURIs, app.RedirectURIs) {
			t.Fatalf("after Update: %+v, %v", got, err)
		}
		// A confidential client without redirect URIs reads back without.
		if _, _, err := c.Create(ctx, vendor()); err != nil {
			t.Fatal(err)
		}
		if got, err = store.Client(ctx, "vendor-1"); err != nil || got.Public || got.RedirectURIs != nil {
			t.Fatalf("a confidential client: public %v, redirect URIs %#v, %v", got.Public, got.RedirectURIs, err)
		}
	})

	t.Run("AWrongSecretAnUnknownClientAndADisabledOneAreInvalidClient", func(t *testing.T) {
		c := newClients(t, newStore(t))
		_, secret, err := c.Create(ctx, vendor())
		if err != nil {
			t.Fatal(err)
		}
		for name, try := range map[string][2]string{
			"wrong secret":          {"vendor-1", secret.Reveal()[:42] + "x"},
			"empty secret":          {"vendor-1", ""},
			"unknown client":        {"vendor-2", secret.Reveal()},
			"empty id":              {"", secret.Reveal()},
			"another client's form": {"VENDOR-1", secret.Reveal()},
		} {
			if _, err := c.Authenticate(ctx, try[0], try[1]); !errors.Is(err, issuer.ErrInvalidClient) {
				t.Errorf("%s: %v, want ErrInvalidClient", name, err)
			}
		}
		cl := vendor()
		cl.Disabled = true
		if err := c.Update(ctx, cl); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Authenticate(ctx, "vendor-1", secret.Reveal()); !errors.Is(err, issuer.ErrInvalidClient) {
			t.Fatalf("disabled client: %v", err)
		}
	})

	t.Run("ARegeneratedSecretReplacesTheOld", func(t *testing.T) {
		c := newClients(t, newStore(t))
		_, old, err := c.Create(ctx, vendor())
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := c.RegenerateSecret(ctx, "vendor-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Authenticate(ctx, "vendor-1", old.Reveal()); !errors.Is(err, issuer.ErrInvalidClient) {
			t.Fatalf("the old secret: %v", err)
		}
		if _, err := c.Authenticate(ctx, "vendor-1", fresh.Reveal()); err != nil {
			t.Fatalf("the new secret: %v", err)
		}
		if _, err := c.RegenerateSecret(ctx, "nobody"); !errors.Is(err, issuer.ErrNotFound) {
			t.Fatalf("an unknown client: %v", err)
		}
	})

	t.Run("UpdateKeepsTheSecret", func(t *testing.T) {
		c := newClients(t, newStore(t))
		_, secret, err := c.Create(ctx, vendor())
		if err != nil {
			t.Fatal(err)
		}
		cl := vendor()
		cl.Scopes = []string{"orders:read"}
		if err := c.Update(ctx, cl); err != nil {
			t.Fatal(err)
		}
		got, err := c.Authenticate(ctx, "vendor-1", secret.Reveal())
		if err != nil || len(got.Scopes) != 1 {
			t.Fatalf("after Update: %+v, %v", got, err)
		}
		if err := c.Update(ctx, issuer.Client{ID: "nobody"}); !errors.Is(err, issuer.ErrNotFound) {
			t.Fatalf("an unknown client: %v", err)
		}
	})
}
