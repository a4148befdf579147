package issuer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/internal/storetest"
)

func TestMemoryClientStore(t *testing.T) {
	storetest.Clients(t, func(*testing.T) issuer.ClientStore { return &issuer.MemoryClientStore{} })
}

func TestSecretsAreHashedWithTheDefaultArgon2idParameters(t *testing.T) {
	c, err := issuer.NewClients(issuer.ClientsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	cl, secret, err := c.Create(context.Background(), issuer.Client{ID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cl.SecretHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", cl.SecretHash)
	}
	if _, err := c.Authenticate(context.Background(), "a", secret.Reveal()); err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(secret); strings.Contains(s, secret.Reveal()) {
		t.Fatalf("secret printed: %q", s)
	}
}

func TestAHashMadeUnderOtherParametersStillVerifies(t *testing.T) {
	store := &issuer.MemoryClientStore{}
	old, _ := issuer.NewClients(issuer.ClientsConfig{Store: store, Argon2: storetest.FastArgon2})
	_, secret, err := old.Create(context.Background(), issuer.Client{ID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	p := storetest.FastArgon2
	p.Time, p.MemoryKiB = 2, 128
	now, _ := issuer.NewClients(issuer.ClientsConfig{Store: store, Argon2: p})
	if _, err := now.Authenticate(context.Background(), "a", secret.Reveal()); err != nil {
		t.Fatal(err)
	}
}

func TestATamperedHashRefusesEveryone(t *testing.T) {
	store := &issuer.MemoryClientStore{}
	c, _ := issuer.NewClients(issuer.ClientsConfig{Store: store, Argon2: storetest.FastArgon2})
	cl, secret, _ := c.Create(context.Background(), issuer.Client{ID: "a"})
	for _, h := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43), "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43)} {
		cl.SecretHash = h
		_ = store.UpdateClient(context.Background(), cl)
		if _, err := c.Authenticate(context.Background(), "a", secret.Reveal()); !errors.Is(err, issuer.ErrInvalidClient) {
			t.Fatalf("hash %q: %v", h, err)
		}
	}
}

func TestArgon2ParametersAreChecked(t *testing.T) {
	for _, p := range []issuer.Argon2Params{{Time: 1}, {Time: 1, MemoryKiB: 64, Threads: 1, SaltBytes: 8, KeyBytes: 32}, {MemoryKiB: 64, Threads: 1, SaltBytes: 16, KeyBytes: 32}} {
		if _, err := issuer.NewClients(issuer.ClientsConfig{Argon2: p}); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}

func TestGrantedScopesAreTheRequestedOnesIfAllAreTheClients(t *testing.T) {
	cl := issuer.Client{Scopes: []string{"a", "b"}}
	for _, tc := range []struct {
		req  []string
		want []string
		err  bool
	}{
		{nil, []string{"a", "b"}, false},
		{[]string{"b"}, []string{"b"}, false},
		{[]string{"a", "c"}, nil, true},
	} {
		got, err := cl.GrantedScopes(tc.req)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) || tc.err && !errors.Is(err, issuer.ErrInvalidScope) {
			t.Errorf("%v: %v, %v", tc.req, got, err)
		}
	}
}

func TestAnAuthenticationWhoseContextEndedIsRefusedWithoutHashing(t *testing.T) {
	c, _ := issuer.NewClients(issuer.ClientsConfig{Argon2: storetest.FastArgon2, MaxConcurrentHashes: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Authenticate(ctx, "a", "b"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

// A scope asked for twice, adjacent or not, is granted once.
func TestARepeatedScopeIsGrantedOnce(t *testing.T) {
	c := issuer.Client{Scopes: []string{"orders:read", "orders:write"}}
	for _, got := range [][]string{
		must(c.GrantedScopes([]string{"orders:read", "orders:write", "orders:read"})),
		must(c.GrantScopesFor(issuer.GrantClientCredentials, []string{"orders:write", "orders:read", "orders:write"})),
	} {
		if len(got) != 2 || got[0] == got[1] {
			t.Errorf("granted %v", got)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
