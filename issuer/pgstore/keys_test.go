package pgstore_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/pgstore"
)

var kek = bytes.Repeat([]byte{7}, pgstore.KEKSize)

func keyStore(t testing.TB, pool *pgxpool.Pool, key []byte) *pgstore.KeyStore {
	t.Helper()
	s, err := pgstore.NewKeyStore(pool, key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ring(t testing.TB, c *clock, store issuer.KeyStore) *issuer.KeyRing {
	t.Helper()
	r, err := issuer.NewKeyRing(context.Background(), issuer.KeyRingConfig{Store: store, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func signer(t testing.TB, r *issuer.KeyRing, now time.Time) string {
	t.Helper()
	s, err := r.Signer(now)
	if err != nil {
		t.Fatal(err)
	}
	return s.KeyID()
}

func TestASigningKeySurvivesARestart(t *testing.T) {
	pool := newSchema(t)
	c := newClock()
	first := signer(t, ring(t, c, keyStore(t, pool, kek)), c.Now())
	again := signer(t, ring(t, c, keyStore(t, replicaPool(t, pool), kek)), c.Now())
	if first != again {
		t.Fatalf("after a restart the ring signs with %q, before with %q", again, first)
	}
}

func TestPrivateKeysAreStoredSealedUnderTheKEK(t *testing.T) {
	pool := newSchema(t)
	c := newClock()
	store := keyStore(t, pool, kek)
	ring(t, c, store)
	keys, err := store.Keys(context.Background())
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v, %v", len(keys), err)
	}
	var sealed []byte
	if err := pool.QueryRow(context.Background(), `SELECT private_enc FROM tollgate_issuer_keys`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, keys[0].Private[len(keys[0].Private)-32:]) {
		t.Fatal("the private key is stored in the clear")
	}
	// Another KEK opens nothing, and says so without key material.
	other := keyStore(t, pool, bytes.Repeat([]byte{8}, pgstore.KEKSize))
	if _, err := other.Keys(context.Background()); err == nil {
		t.Fatal("a key opened under another KEK")
	}
}

func TestASealedKeyMovedToAnotherRowDoesNotOpen(t *testing.T) {
	pool := newSchema(t)
	store := keyStore(t, pool, kek)
	ctx := context.Background()
	for i, id := range []string{"a", "b"} {
		if err := store.Add(ctx, issuer.KeyRecord{ID: id, Generation: int64(i + 1), Algorithm: issuer.ES256, Private: issuer.PrivateKey("secret-" + id)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE tollgate_issuer_keys SET private_enc = (SELECT private_enc FROM tollgate_issuer_keys WHERE id = 'a') WHERE id = 'b'`); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Keys(ctx); err == nil {
		t.Fatal("key a's sealed private key opened as key b's")
	}
}

func TestAKeyOfATakenGenerationIsAConflict(t *testing.T) {
	store := keyStore(t, newSchema(t), kek)
	ctx := context.Background()
	if err := store.Add(ctx, issuer.KeyRecord{ID: "a", Generation: 1, Private: issuer.PrivateKey("x")}); err != nil {
		t.Fatal(err)
	}
	if err := store.Add(ctx, issuer.KeyRecord{ID: "b", Generation: 1, Private: issuer.PrivateKey("y")}); !errors.Is(err, issuer.ErrConflict) {
		t.Fatalf("err %v, want ErrConflict", err)
	}
}

func TestTheKEKMustBe32Bytes(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := pgstore.NewKeyStore(nil, make([]byte, n)); err == nil {
			t.Fatalf("a %d-byte KEK was accepted", n)
		}
	}
}

func TestReplicasOnPostgresStartingTogetherAgreeOnOneKey(t *testing.T) {
	pool := newSchema(t)
	c := newClock()
	const n = 8
	rings := make([]*issuer.KeyRing, n)
	var wg sync.WaitGroup
	for i := range rings {
		p := replicaPool(t, pool)
		wg.Go(func() { rings[i] = ring(t, c, keyStore(t, p, kek)) })
	}
	wg.Wait()
	want := signer(t, rings[0], c.Now())
	for i, r := range rings {
		if got := signer(t, r, c.Now()); got != want {
			t.Fatalf("replica %d signs with %q, replica 0 with %q", i, got, want)
		}
	}
	c.Advance(issuer.DefaultSignPeriod - 2*issuer.DefaultPublishAhead)
	for _, r := range rings {
		wg.Go(func() {
			if err := r.Rotate(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var count int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM tollgate_issuer_keys`).Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 2 {
		t.Fatalf("%d keys after replicas rotated together, want 2", count)
	}
}
