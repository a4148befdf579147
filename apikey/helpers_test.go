package apikey_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/apikey"
	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
)

// pepper returns a test pepper named id whose key is id repeated.
func pepper(t testing.TB, id string) apikey.Pepper {
	t.Helper()
	p, err := apikey.NewPepper(id, bytes.Repeat([]byte(id), 64)[:64])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var testPrefixes = []apikey.Prefix{
	{Name: "mt_live", Type: "merchant"},
	{Name: "mt_test", Type: "merchant"},
}

// start is the fake clock's starting time in every test.
var start = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// newKeys returns Keys on store with the fake clock, closed at cleanup.
func newKeys(t testing.TB, store apikey.Store, clock *authtest.Clock, tweak ...func(*apikey.Config)) *apikey.Keys {
	t.Helper()
	cfg := apikey.Config{
		Store:    store,
		Peppers:  []apikey.Pepper{pepper(t, "p1")},
		Prefixes: testPrefixes,
		Now:      clock.Now,
	}
	for _, f := range tweak {
		f(&cfg)
	}
	k, err := apikey.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k
}

// spec is a merchant's key with both order permissions.
func spec() apikey.Spec {
	return apikey.Spec{
		Name:        "orders integration",
		Owner:       apikey.Owner{ID: "mer_1", OrgID: "org_1", AppID: "app_1"},
		Permissions: []string{"can_read_order", "can_write_order"},
		Metadata:    map[string]string{"plan": "gold"},
	}
}

func create(t testing.TB, k *apikey.Keys, s apikey.Spec) (*apikey.Key, string) {
	t.Helper()
	key, secret, err := k.Create(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return key, secret.Reveal()
}

// kindOf is the tollgate error kind of err, "" for nil.
func kindOf(err error) tgerrors.Kind {
	if err == nil {
		return ""
	}
	return tgerrors.KindOf(err)
}

// countingStore wraps a Store, counting calls and injecting failures.
type countingStore struct {
	apikey.Store
	lookups, consumes, touches, touched atomic.Int64
	fail                                atomic.Bool
	mu                                  sync.Mutex
	gate                                chan struct{} // if set, Lookup waits for it
}

var errStoreDown = errors.New("store down")

func (s *countingStore) Lookup(ctx context.Context, d []apikey.Digest) (*apikey.Key, apikey.Hash, error) {
	s.lookups.Add(1)
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, apikey.Hash{}, ctx.Err()
		}
	}
	if s.fail.Load() {
		return nil, apikey.Hash{}, errStoreDown
	}
	return s.Store.Lookup(ctx, d)
}

func (s *countingStore) Consume(ctx context.Context, id string) (int64, error) {
	s.consumes.Add(1)
	if s.fail.Load() {
		return 0, errStoreDown
	}
	return s.Store.Consume(ctx, id)
}

func (s *countingStore) Touch(ctx context.Context, uses []apikey.Use, every time.Duration) error {
	s.touches.Add(1)
	s.touched.Add(int64(len(uses)))
	if s.fail.Load() {
		return errStoreDown
	}
	return s.Store.Touch(ctx, uses, every)
}

func testingAllocs(f func()) float64 { return testing.AllocsPerRun(1000, f) }
