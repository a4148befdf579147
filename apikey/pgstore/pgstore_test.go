package pgstore_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/apikey"
	"github.com/tollgate/tollgate/apikey/pgstore"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/ratelimit"
)

func TestMigrateIsIdempotentAndSafeFromSeveralReplicasAtOnce(t *testing.T) {
	pool, _ := newSchema(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() { errs <- pgstore.Migrate(context.Background(), pool) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM tollgate_apikey_migrations").Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d migrations recorded (%v), want 1", n, err)
	}
	var indexed bool
	if err := pool.QueryRow(context.Background(),
		`SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
		 WHERE i.indrelid = 'tollgate_apikey_hashes'::regclass AND a.attname = 'digest' AND i.indisunique)`).Scan(&indexed); err != nil || !indexed {
		t.Fatalf("no unique index on the digest (%v)", err)
	}
}

// A key reads back from PostgreSQL exactly as Create and each management
// call returned it, every field included.
func TestAKeyRoundTripsThroughPostgres(t *testing.T) {
	pool, _ := newSchema(t)
	k, _ := replica(t, pool)
	ctx := context.Background()
	s := spec()
	s.ExpiresAt = time.Now().Add(time.Hour)
	s.RateLimit = &ratelimit.Limit{Name: "custom", Events: 500, Per: 1500 * time.Millisecond, Burst: 20}
	s.RemainingUses = apikey.Uses(42)
	created, token := create(t, k, s)
	same := func(step string, want *apikey.Key) {
		t.Helper()
		got, err := k.Get(ctx, want.ID)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: read back\n%+v\nwant\n%+v", step, got, want)
		}
	}
	same("Create", created)
	updated, err := k.Update(ctx, created.ID, func(key *apikey.Key) error {
		key.Name = "renamed"
		key.Permissions = []string{"can_read_order"}
		key.Metadata = nil
		key.RateLimit = nil
		key.RemainingUses = nil
		key.ExpiresAt = time.Time{}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	same("Update", updated)
	if updated.Version != 2 {
		t.Fatalf("version %d after one update, want 2", updated.Version)
	}
	deactivated, _ := k.Deactivate(ctx, created.ID)
	same("Deactivate", deactivated)
	rotated, _, err := k.Rotate(ctx, created.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	same("Rotate", rotated)
	if _, err := k.Verify(ctx, token); tgerrors.KindOf(err) != tgerrors.InvalidToken {
		t.Fatalf("an inactive key's old token: %v", err)
	}
	if _, err := k.Get(ctx, "key_missing"); !errors.Is(err, apikey.ErrNotFound) {
		t.Fatalf("Get of a missing key: %v", err)
	}
}

func TestHostileNamesAndMetadataRoundTripAsData(t *testing.T) {
	pool, _ := newSchema(t)
	k, _ := replica(t, pool)
	ctx := context.Background()
	hostile := []string{
		`'; DROP TABLE tollgate_apikey_keys; --`,
		`" OR 1=1 --`,
		`$1 $2 ?`,
		`\x00\\ \'`,
		`{"json": ["in", "a", "name"]}`,
		`ключ 🔑 キー`,
		`Robert'); DELETE FROM tollgate_apikey_hashes;--`,
	}
	for i, h := range hostile {
		s := spec()
		s.Name = h
		s.Owner = apikey.Owner{ID: h, OrgID: h + "org", AppID: h + "app"}
		s.Metadata = map[string]string{h: h, "q'uote\"": `"},{"sub":"mer_2`}
		s.Permissions = []string{`can_read_'order'`, `a;b`}
		key, token := create(t, k, s)
		got, err := k.Get(ctx, key.ID)
		if err != nil || !reflect.DeepEqual(got, key) {
			t.Fatalf("case %d: read back %+v, %v; want %+v", i, got, err, key)
		}
		p, err := k.Verify(ctx, token)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if p.Subject() != h || p.StringClaim(h) != h || p.StringClaim("q'uote\"") != `"},{"sub":"mer_2` || !p.HasScope(`can_read_'order'`) {
			t.Fatalf("case %d: principal %v %v", i, p.Subject(), p.Claims())
		}
		keys, _, err := k.List(ctx, h, "", 10)
		if err != nil || len(keys) != 1 || keys[0].ID != key.ID {
			t.Fatalf("case %d: List by a hostile owner: %v, %v", i, keys, err)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM tollgate_apikey_keys").Scan(&n); err != nil || n != len(hostile) {
		t.Fatalf("%d keys stored (%v), want %d", n, err, len(hostile))
	}
}

func TestListPagesInPostgres(t *testing.T) {
	pool, _ := newSchema(t)
	k, _ := replica(t, pool)
	var want []string
	for range 5 {
		key, _ := create(t, k, spec())
		want = append(want, key.ID)
		time.Sleep(2 * time.Millisecond) // ids carry the creation millisecond
	}
	other := spec()
	other.Owner.ID = "mer_2"
	create(t, k, other)
	var got []string
	after := ""
	for {
		keys, next, err := k.List(context.Background(), "mer_1", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range keys {
			got = append(got, key.ID)
		}
		if next == "" {
			break
		}
		after = next
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
}

// Rotations and a revocation of one key racing from two replicas end in
// one consistent state: the key revoked, every token refused, each
// successful call one version, and at most two hashes left.
func TestConcurrentRotateAndRevokeKeepOneConsistentState(t *testing.T) {
	pool, schema := newSchema(t)
	a, _ := replica(t, pool)
	b, _ := replica(t, newPool(t, serverURL(t), schema))
	ctx := context.Background()
	key, first := create(t, a, spec())
	var mu sync.Mutex
	tokens := []string{first}
	succeeded := 0
	var wg sync.WaitGroup
	for i := range 20 {
		k := a
		if i%2 == 1 {
			k = b
		}
		wg.Go(func() {
			if i == 10 {
				if _, err := k.Revoke(ctx, key.ID); err != nil {
					t.Error(err)
				}
				mu.Lock()
				succeeded++
				mu.Unlock()
				return
			}
			_, secret, err := k.Rotate(ctx, key.ID, time.Hour)
			switch {
			case err == nil:
				mu.Lock()
				tokens = append(tokens, secret.Reveal())
				succeeded++
				mu.Unlock()
			case !errors.Is(err, apikey.ErrRevoked):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := a.Get(ctx, key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != apikey.Revoked || got.Version != int64(1+succeeded) {
		t.Fatalf("status %s version %d after %d successful changes", got.Status, got.Version, succeeded)
	}
	var hashes int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM tollgate_apikey_hashes WHERE key_id = $1", key.ID).Scan(&hashes); err != nil || hashes > 2 || hashes < 1 {
		t.Fatalf("%d hashes left (%v), want 1 or 2", hashes, err)
	}
	for _, tok := range tokens {
		for _, k := range []*apikey.Keys{a, b} {
			if _, err := k.Verify(ctx, tok); tgerrors.KindOf(err) != tgerrors.InvalidToken {
				t.Fatalf("a token of the revoked key: %v, want invalid_token", err)
			}
		}
	}
}

func TestRemainingUsesAreExactAcrossReplicas(t *testing.T) {
	pool, schema := newSchema(t)
	a, _ := replica(t, pool)
	b, _ := replica(t, newPool(t, serverURL(t), schema))
	s := spec()
	s.RemainingUses = apikey.Uses(10)
	_, token := create(t, a, s)
	var ok sync.WaitGroup
	var mu sync.Mutex
	admitted := 0
	for i := range 30 {
		k := a
		if i%2 == 1 {
			k = b
		}
		ok.Go(func() {
			_, err := k.Verify(context.Background(), token)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				admitted++
			case tgerrors.KindOf(err) != tgerrors.InvalidToken:
				t.Error(err)
			}
		})
	}
	ok.Wait()
	if admitted != 10 {
		t.Fatalf("%d verifications admitted, want exactly 10", admitted)
	}
}

func TestLastUsedIsWrittenOncePerIntervalAcrossReplicas(t *testing.T) {
	pool, _ := newSchema(t)
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	store := pgstore.New(pool)
	k, _ := replica(t, pool)
	key, _ := create(t, k, spec())
	ctx := context.Background()
	for _, step := range []struct {
		at   time.Time
		want time.Time
	}{
		{at, at},
		{at.Add(30 * time.Second), at}, // another replica, within the interval
		{at.Add(time.Minute), at.Add(time.Minute)}, // the interval has passed
	} {
		if err := store.Touch(ctx, []apikey.Use{{ID: key.ID, At: step.at}, {ID: "key_gone", At: step.at}}, time.Minute); err != nil {
			t.Fatal(err)
		}
		got, _ := k.Get(ctx, key.ID)
		if !got.LastUsedAt.Equal(step.want) {
			t.Fatalf("after a use at %v: LastUsedAt %v, want %v", step.at, got.LastUsedAt, step.want)
		}
	}
}
