package issuer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/internal/storetest"
)

func TestMemoryCodeStore(t *testing.T) {
	storetest.Codes(t, func(*testing.T) issuer.CodeStore { return &issuer.MemoryCodeStore{} })
}

// A full MemoryCodeStore drops the records of expired codes first, and
// refuses a new code only while every record is of a code still
// redeemable.
func TestAFullMemoryCodeStoreDropsExpiredCodesThenRefuses(t *testing.T) {
	ctx := context.Background()
	store := &issuer.MemoryCodeStore{MaxCodes: 2}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	code := func(n byte, created time.Time) issuer.AuthorizationCode {
		return issuer.AuthorizationCode{Hash: issuer.TokenHash{n}, ClientID: "shop", CreatedAt: created, ExpiresAt: created.Add(issuer.MaxCodeLifetime)}
	}
	for n := byte(1); n <= 2; n++ {
		if err := store.CreateCode(ctx, code(n, at)); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.CreateCode(ctx, code(3, at.Add(time.Second))); !errors.Is(err, issuer.ErrCodeStoreFull) {
		t.Fatalf("a third live code: %v, want ErrCodeStoreFull", err)
	}
	later := at.Add(issuer.MaxCodeLifetime + time.Second)
	if err := store.CreateCode(ctx, code(3, later)); err != nil {
		t.Fatalf("once the first two expired: %v", err)
	}
	if _, err := store.Code(ctx, issuer.TokenHash{1}); !errors.Is(err, issuer.ErrNotFound) {
		t.Fatalf("an expired record kept: %v", err)
	}
}
