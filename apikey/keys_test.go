package apikey_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/apikey"
	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/ratelimit"
)

func TestAnActiveKeyBecomesItsPrincipal(t *testing.T) {
	k := newKeys(t, apikey.NewMemoryStore(), authtest.NewClock(start))
	s := spec()
	s.ExpiresAt = start.Add(time.Hour)
	key, token := create(t, k, s)
	p, err := k.Verify(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Type", p.Type(), "merchant"},
		{"Subject", p.Subject(), "mer_1"},
		{"ClientID", p.ClientID(), key.ID},
		{"TokenID", p.TokenID(), key.ID},
		{"Issuer", p.Issuer(), ""},
		{"Scopes", p.Scopes(), []string{"can_read_order", "can_write_order"}},
		{"ExpiresAt", p.ExpiresAt(), start.Add(time.Hour)},
		{"IssuedAt", p.IssuedAt(), start},
		{"org_id", p.StringClaim("org_id"), "org_1"},
		{"app_id", p.StringClaim("app_id"), "app_1"},
		{"key_id", p.StringClaim("key_id"), key.ID},
		{"key_name", p.StringClaim("key_name"), "orders integration"},
		{"metadata", p.StringClaim("plan"), "gold"},
	}
	for _, c := range checks {
		if !equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !strings.HasPrefix(key.ID, "key_") || key.Status != apikey.Active || key.Version != 1 || !key.CreatedAt.Equal(start) {
		t.Errorf("key = %+v", key)
	}
}

func equal(a, b any) bool {
	switch a := a.(type) {
	case []string:
		return slices.Equal(a, b.([]string))
	case time.Time:
		return a.Equal(b.(time.Time))
	}
	return a == b
}

func TestTheStoreKeepsOnlyAKeyedHash(t *testing.T) {
	store := apikey.NewMemoryStore()
	k := newKeys(t, store, authtest.NewClock(start))
	key, token := create(t, k, spec())
	mac := hmac.New(sha256.New, []byte(strings.Repeat("p1", 32)))
	mac.Write([]byte(token))
	var want apikey.Digest
	copy(want[:], mac.Sum(nil))
	got, h, err := store.Lookup(context.Background(), []apikey.Digest{want})
	if err != nil || got.ID != key.ID || h.Pepper != "p1" || !h.Until.IsZero() {
		t.Fatalf("Lookup(HMAC-SHA-256(pepper, token)) = %v, %+v, %v", got, h, err)
	}
	if _, _, err := store.Lookup(context.Background(), []apikey.Digest{sha256.Sum256([]byte(token))}); !errors.Is(err, apikey.ErrNotFound) {
		t.Fatalf("the unkeyed SHA-256 finds the key: %v", err)
	}
	if strings.Contains(strings.Join([]string{key.ID, key.Hint, key.Name}, " "), token[8:]) {
		t.Fatal("the record carries the token")
	}
}

func TestLifecycle(t *testing.T) {
	clock := authtest.NewClock(start)
	k := newKeys(t, apikey.NewMemoryStore(), clock)
	ctx := context.Background()
	key, token := create(t, k, spec())
	verify := func(want tgerrors.Kind) {
		t.Helper()
		p, err := k.Verify(ctx, token)
		if kindOf(err) != want || (want == "") != (p != nil) {
			t.Fatalf("Verify = %v, %v; want kind %q", p, err, want)
		}
	}
	verify("")
	if _, err := k.Deactivate(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	verify(tgerrors.InvalidToken)
	if got, _ := k.Get(ctx, key.ID); got.Status != apikey.Inactive || got.Version != 2 {
		t.Fatalf("after Deactivate: %+v", got)
	}
	if _, err := k.Reactivate(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	verify("")
	if _, err := k.Update(ctx, key.ID, func(key *apikey.Key) error {
		key.Permissions = []string{"can_read_order"}
		key.ExpiresAt = start.Add(time.Minute)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	p, _ := k.Verify(ctx, token)
	if p.HasScope("can_write_order") || !p.HasScope("can_read_order") {
		t.Fatalf("after Update scopes = %v", p.Scopes())
	}
	clock.Advance(time.Minute)
	verify(tgerrors.ExpiredToken)
	if got, _ := k.Get(ctx, key.ID); got.StatusAt(clock.Now()) != apikey.Expired {
		t.Fatalf("StatusAt = %s, want expired", got.StatusAt(clock.Now()))
	}
	if _, err := k.Update(ctx, key.ID, func(key *apikey.Key) error { key.ExpiresAt = time.Time{}; return nil }); err != nil {
		t.Fatal(err)
	}
	verify("")
	if _, err := k.Revoke(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	verify(tgerrors.InvalidToken)
	for name, op := range map[string]func() error{
		"Reactivate": func() error { _, err := k.Reactivate(ctx, key.ID); return err },
		"Deactivate": func() error { _, err := k.Deactivate(ctx, key.ID); return err },
		"Update":     func() error { _, err := k.Update(ctx, key.ID, func(*apikey.Key) error { return nil }); return err },
		"Rotate":     func() error { _, _, err := k.Rotate(ctx, key.ID, 0); return err },
	} {
		if err := op(); !errors.Is(err, apikey.ErrRevoked) {
			t.Errorf("%s of a revoked key: %v, want ErrRevoked", name, err)
		}
	}
	if _, err := k.Revoke(ctx, key.ID); err != nil {
		t.Errorf("revoking twice: %v", err)
	}
	verify(tgerrors.InvalidToken)
	for name, op := range map[string]func() error{
		"Get":        func() error { _, err := k.Get(ctx, "key_nope"); return err },
		"Deactivate": func() error { _, err := k.Deactivate(ctx, "key_nope"); return err },
		"Rotate":     func() error { _, _, err := k.Rotate(ctx, "key_nope", 0); return err },
	} {
		if err := op(); !errors.Is(err, apikey.ErrNotFound) {
			t.Errorf("%s of an unknown key: %v, want ErrNotFound", name, err)
		}
	}
}

func TestCreateAndUpdateRefuseInvalidKeys(t *testing.T) {
	k := newKeys(t, apikey.NewMemoryStore(), authtest.NewClock(start))
	ctx := context.Background()
	cases := map[string]func(*apikey.Spec){
		"no owner":              func(s *apikey.Spec) { s.Owner.ID = "" },
		"an unknown prefix":     func(s *apikey.Spec) { s.Prefix = "xx_live" },
		"a past expiry":         func(s *apikey.Spec) { s.ExpiresAt = start.Add(-time.Second) },
		"a permission w/ space": func(s *apikey.Spec) { s.Permissions = []string{"can read"} },
		"an empty permission":   func(s *apikey.Spec) { s.Permissions = []string{""} },
		"a duplicate perm":      func(s *apikey.Spec) { s.Permissions = []string{"a", "a"} },
		"a reserved metadata":   func(s *apikey.Spec) { s.Metadata = map[string]string{"org_id": "org_2"} },
		"a bad rate limit":      func(s *apikey.Spec) { s.RateLimit = &ratelimit.Limit{Events: 0, Per: time.Second} },
		"negative uses":         func(s *apikey.Spec) { s.RemainingUses = apikey.Uses(-1) },
		"a control character":   func(s *apikey.Spec) { s.Name = "a\nb" },
		"invalid UTF-8":         func(s *apikey.Spec) { s.Owner.OrgID = "\xff" },
		"a huge name":           func(s *apikey.Spec) { s.Name = strings.Repeat("n", 201) },
	}
	for name, change := range cases {
		s := spec()
		change(&s)
		if _, _, err := k.Create(ctx, s); !errors.Is(err, apikey.ErrInvalid) {
			t.Errorf("Create with %s: %v, want ErrInvalid", name, err)
		}
	}
	key, _ := create(t, k, spec())
	updates := map[string]func(*apikey.Key){
		"the owner":           func(k *apikey.Key) { k.Owner.ID = "mer_2" },
		"the status":          func(k *apikey.Key) { k.Status = apikey.Active + "x" },
		"the id":              func(k *apikey.Key) { k.ID = "key_other" },
		"the hint":            func(k *apikey.Key) { k.Hint = "x" },
		"a past expiry":       func(k *apikey.Key) { k.ExpiresAt = start.Add(-time.Hour) },
		"a reserved metadata": func(k *apikey.Key) { k.Metadata = map[string]string{"sub": "mer_2"} },
	}
	for name, change := range updates {
		if _, err := k.Update(ctx, key.ID, func(k *apikey.Key) error { change(k); return nil }); !errors.Is(err, apikey.ErrInvalid) {
			t.Errorf("Update of %s: %v, want ErrInvalid", name, err)
		}
	}
	if got, _ := k.Get(ctx, key.ID); got.Version != 1 || got.Owner.ID != "mer_1" {
		t.Fatalf("a refused Update wrote: %+v", got)
	}
}

func TestRotateKeepsTheOldSecretForTheGracePeriod(t *testing.T) {
	clock := authtest.NewClock(start)
	k := newKeys(t, apikey.NewMemoryStore(), clock)
	ctx := context.Background()
	key, old := create(t, k, spec())
	if _, err := k.Verify(ctx, old); err != nil {
		t.Fatal(err)
	}
	rotated, secret, err := k.Rotate(ctx, key.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	fresh := secret.Reveal()
	if fresh == old || rotated.ID != key.ID || rotated.Hint != apikey.Hint(fresh) {
		t.Fatalf("Rotate = %+v, new token equal to old: %v", rotated, fresh == old)
	}
	for _, tok := range []string{old, fresh} {
		if p, err := k.Verify(ctx, tok); err != nil || p.TokenID() != key.ID {
			t.Fatalf("within the grace period: %v, %v", p, err)
		}
	}
	clock.Advance(time.Hour)
	if _, err := k.Verify(ctx, old); kindOf(err) != tgerrors.InvalidToken {
		t.Fatalf("old token after the grace period: %v, want invalid_token", err)
	}
	if _, err := k.Verify(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	// Without a grace period the old token stops at once, and a second
	// rotation drops the first one's old secret.
	_, s2, _ := k.Rotate(ctx, key.ID, time.Hour)
	_, s3, _ := k.Rotate(ctx, key.ID, 0)
	for _, tok := range []string{fresh, s2.Reveal()} {
		if _, err := k.Verify(ctx, tok); kindOf(err) != tgerrors.InvalidToken {
			t.Fatalf("a rotated-out token after Rotate(0): %v, want invalid_token", err)
		}
	}
	if _, err := k.Verify(ctx, s3.Reveal()); err != nil {
		t.Fatal(err)
	}
}

func TestRemainingUsesAreTakenOnePerVerification(t *testing.T) {
	store := &countingStore{Store: apikey.NewMemoryStore()}
	k := newKeys(t, store, authtest.NewClock(start))
	s := spec()
	s.RemainingUses = apikey.Uses(3)
	_, token := create(t, k, s)
	for i := range 3 {
		if _, err := k.Verify(context.Background(), token); err != nil {
			t.Fatalf("use %d: %v", i+1, err)
		}
	}
	if _, err := k.Verify(context.Background(), token); kindOf(err) != tgerrors.InvalidToken {
		t.Fatalf("fourth use: %v, want invalid_token", err)
	}
	if n := store.lookups.Load(); n != 1 {
		t.Fatalf("%d lookups, want 1: the key itself is cached", n)
	}
	_, unlimited := create(t, k, spec())
	_, _ = k.Verify(context.Background(), unlimited)
	_, _ = k.Verify(context.Background(), unlimited)
	if n := store.consumes.Load(); n != 4 {
		t.Fatalf("%d Consume calls, want 4 (none for a key without RemainingUses)", n)
	}
}

func TestListPagesByOwnerInCreationOrder(t *testing.T) {
	clock := authtest.NewClock(start)
	k := newKeys(t, apikey.NewMemoryStore(), clock)
	var want []string
	for i := range 7 {
		clock.Advance(time.Millisecond)
		key, _ := create(t, k, spec())
		want = append(want, key.ID)
		other := spec()
		other.Owner.ID = "mer_2"
		create(t, k, other)
		_ = i
	}
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		keys, next, err := k.List(context.Background(), "mer_1", after, 3)
		if err != nil || pages > 3 {
			t.Fatal(err, pages)
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
	if _, _, err := k.List(context.Background(), "", "", 10); !errors.Is(err, apikey.ErrInvalid) {
		t.Fatalf("List without owner: %v", err)
	}
}

func TestAVerifiedKeyIsAnsweredFromMemoryUntilCacheTTL(t *testing.T) {
	clock := authtest.NewClock(start)
	store := &countingStore{Store: apikey.NewMemoryStore()}
	k := newKeys(t, store, clock, func(c *apikey.Config) { c.CacheTTL = time.Minute; c.NegativeTTL = time.Second })
	_, token := create(t, k, spec())
	for range 10 {
		if _, err := k.Verify(context.Background(), token); err != nil {
			t.Fatal(err)
		}
	}
	if n := store.lookups.Load(); n != 1 {
		t.Fatalf("%d lookups for 10 verifications, want 1", n)
	}
	clock.Advance(time.Minute)
	_, _ = k.Verify(context.Background(), token)
	if n := store.lookups.Load(); n != 2 {
		t.Fatalf("%d lookups after CacheTTL, want 2", n)
	}
	// An unknown token is remembered for NegativeTTL.
	other := newKeys(t, apikey.NewMemoryStore(), clock)
	_, unknown := create(t, other, spec())
	for range 3 {
		if _, err := k.Verify(context.Background(), unknown); kindOf(err) != tgerrors.InvalidToken {
			t.Fatalf("unknown token: %v", err)
		}
	}
	if n := store.lookups.Load(); n != 3 {
		t.Fatalf("%d lookups, want 3: the unknown token once", n)
	}
	clock.Advance(time.Second)
	_, _ = k.Verify(context.Background(), unknown)
	if n := store.lookups.Load(); n != 4 {
		t.Fatalf("%d lookups after NegativeTTL, want 4", n)
	}
}

func TestAStoreThatCannotAnswerIsUnavailableAndNothingIsCached(t *testing.T) {
	clock := authtest.NewClock(start)
	store := &countingStore{Store: apikey.NewMemoryStore()}
	k := newKeys(t, store, clock)
	_, token := create(t, k, spec())
	store.fail.Store(true)
	for range 2 {
		p, err := k.Verify(context.Background(), token)
		if p != nil || kindOf(err) != tgerrors.Unavailable || !errors.Is(err, errStoreDown) {
			t.Fatalf("Verify with the store down = %v, %v; want unavailable", p, err)
		}
	}
	if n := store.lookups.Load(); n != 2 {
		t.Fatalf("%d lookups, want 2: a failure is not cached", n)
	}
	store.fail.Store(false)
	if _, err := k.Verify(context.Background(), token); err != nil {
		t.Fatalf("after the store came back: %v", err)
	}
	// A lookup that outlives LookupTimeout is refused, not waited for.
	slow := &countingStore{Store: apikey.NewMemoryStore(), gate: make(chan struct{})}
	k2 := newKeys(t, slow, clock, func(c *apikey.Config) { c.LookupTimeout = 20 * time.Millisecond })
	_, token2 := create(t, k2, spec())
	if _, err := k2.Verify(context.Background(), token2); kindOf(err) != tgerrors.Unavailable || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a hung store: %v, want unavailable after LookupTimeout", err)
	}
}

func TestConcurrentMissesForOneTokenShareOneLookup(t *testing.T) {
	store := &countingStore{Store: apikey.NewMemoryStore(), gate: make(chan struct{})}
	k := newKeys(t, store, authtest.NewClock(start))
	_, token := create(t, k, spec())
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			_, err := k.Verify(context.Background(), token)
			errs <- err
		})
	}
	for store.lookups.Load() == 0 {
		time.Sleep(time.Millisecond) // until the first miss reaches the store
	}
	time.Sleep(20 * time.Millisecond) // the others queue behind it
	close(store.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := store.lookups.Load(); n != 1 {
		t.Fatalf("%d lookups for 50 concurrent misses, want 1", n)
	}
}

func TestLastUsedIsWrittenAtMostOncePerInterval(t *testing.T) {
	clock := authtest.NewClock(start)
	store := &countingStore{Store: apikey.NewMemoryStore()}
	k := newKeys(t, store, clock, func(c *apikey.Config) { c.LastUsedInterval = time.Minute; c.CacheTTL = time.Hour })
	ctx := context.Background()
	key, token := create(t, k, spec())
	for range 100 {
		if _, err := k.Verify(ctx, token); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := store.touched.Load(); n != 1 {
		t.Fatalf("%d last-used writes for 100 verifications, want 1", n)
	}
	got, _ := k.Get(ctx, key.ID)
	if !got.LastUsedAt.Equal(start) {
		t.Fatalf("LastUsedAt = %v, want %v", got.LastUsedAt, start)
	}
	clock.Advance(59 * time.Second)
	_, _ = k.Verify(ctx, token)
	_ = k.Flush(ctx)
	if n := store.touched.Load(); n != 1 {
		t.Fatalf("%d writes within the interval, want 1", n)
	}
	clock.Advance(time.Second)
	_, _ = k.Verify(ctx, token)
	_ = k.Flush(ctx)
	if got, _ := k.Get(ctx, key.ID); store.touched.Load() != 2 || !got.LastUsedAt.Equal(start.Add(time.Minute)) {
		t.Fatalf("after the interval: %d writes, LastUsedAt %v", store.touched.Load(), got.LastUsedAt)
	}
}

func TestTwoReplicasOnOneStoreSeeEachOthersChanges(t *testing.T) {
	clock := authtest.NewClock(start)
	store := apikey.NewMemoryStore()
	a := newKeys(t, store, clock, func(c *apikey.Config) { c.CacheTTL = time.Hour })
	b := newKeys(t, store, clock, func(c *apikey.Config) { c.CacheTTL = time.Hour })
	ctx := context.Background()
	key, token := create(t, a, spec())
	if _, err := b.Verify(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Deactivate(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(ctx, token); kindOf(err) != tgerrors.InvalidToken {
		t.Fatalf("replica b after a deactivated: %v, want invalid_token", err)
	}
	if _, err := b.Reactivate(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(ctx, token); err != nil {
		t.Fatalf("replica a after b reactivated: %v", err)
	}
}

func TestPepperRotationKeepsOldTokensAndRehashesThem(t *testing.T) {
	clock := authtest.NewClock(start)
	store := apikey.NewMemoryStore()
	old := newKeys(t, store, clock)
	_, token := create(t, old, spec())
	p1, p2 := pepper(t, "p1"), pepper(t, "p2")
	both := newKeys(t, store, clock, func(c *apikey.Config) { c.Peppers = []apikey.Pepper{p2, p1} })
	if _, err := both.Verify(context.Background(), token); err != nil {
		t.Fatalf("a token hashed with the older pepper: %v", err)
	}
	if err := both.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	onlyNew := newKeys(t, store, clock, func(c *apikey.Config) { c.Peppers = []apikey.Pepper{p2} })
	if _, err := onlyNew.Verify(context.Background(), token); err != nil {
		t.Fatalf("after rehashing, the newest pepper alone: %v", err)
	}
	_, fresh := create(t, both, spec())
	if _, err := onlyNew.Verify(context.Background(), fresh); err != nil {
		t.Fatalf("a new token is hashed with the newest pepper: %v", err)
	}
}

func TestLimitForGivesAKeyItsOwnLimit(t *testing.T) {
	k := newKeys(t, apikey.NewMemoryStore(), authtest.NewClock(start))
	s := spec()
	s.RateLimit = &ratelimit.Limit{Events: 500, Per: time.Minute, Burst: 50}
	_, custom := create(t, k, s)
	_, plain := create(t, k, spec())
	p, _ := k.Verify(context.Background(), custom)
	got := k.LimitFor(nil, p)
	want := []ratelimit.Limit{{Name: "rate_limit", Events: 500, Per: time.Minute, Burst: 50}}
	if !slices.Equal(got, want) {
		t.Fatalf("LimitFor = %v, want %v", got, want)
	}
	if n := testingAllocs(func() { k.LimitFor(nil, p) }); n != 0 {
		t.Fatalf("LimitFor: %g allocations, want 0", n)
	}
	q, _ := k.Verify(context.Background(), plain)
	if l := k.LimitFor(nil, q); l != nil {
		t.Fatalf("a key without a limit: %v, want nil", l)
	}
	if l := k.LimitFor(nil, nil); l != nil {
		t.Fatalf("no principal: %v", l)
	}
}

func TestCloseWritesThePendingLastUsedTimes(t *testing.T) {
	store := apikey.NewMemoryStore()
	k, err := apikey.New(apikey.Config{Store: store, Peppers: []apikey.Pepper{pepper(t, "p1")}, Prefixes: testPrefixes, Now: authtest.NewClock(start).Now})
	if err != nil {
		t.Fatal(err)
	}
	key, token := create(t, k, spec())
	if _, err := k.Verify(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := store.Get(context.Background(), key.ID)
	if !got.LastUsedAt.Equal(start) {
		t.Fatalf("LastUsedAt after Close = %v, want %v", got.LastUsedAt, start)
	}
	if err := k.Flush(context.Background()); err != nil {
		t.Fatalf("Flush after Close: %v", err)
	}
	if _, err := k.Verify(context.Background(), token); err != nil {
		t.Fatalf("Verify after Close: %v", err)
	}
}
