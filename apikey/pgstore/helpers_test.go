package pgstore_test

import (
	"context"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/pgtest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/apikey"
	"github.com/tollgate/tollgate/apikey/pgstore"
)

// withHost returns rawURL with its host:port replaced by addr.
func withHost(t testing.TB, rawURL, addr string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

// hostOf is rawURL's host:port.
func hostOf(t testing.TB, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

var pepper = func() apikey.Pepper {
	p, err := apikey.NewPepper("p1", []byte(strings.Repeat("pepper-p1-", 4)))
	if err != nil {
		panic(err)
	}
	return p
}()

// replica is one Keys on its own pool, as a replica of the API would be.
func replica(t testing.TB, pool *pgxpool.Pool, tweak ...func(*apikey.Config)) (*apikey.Keys, *countingStore) {
	t.Helper()
	store := &countingStore{Store: pgstore.New(pool)}
	cfg := apikey.Config{
		Store:    store,
		Peppers:  []apikey.Pepper{pepper},
		Prefixes: []apikey.Prefix{{Name: "mt_live", Type: "merchant"}, {Name: "mt_test", Type: "merchant"}},
		CacheTTL: time.Hour, // so only a notification can explain a change seen
	}
	for _, f := range tweak {
		f(&cfg)
	}
	k, err := apikey.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k, store
}

// countingStore is a pgstore.Store (a Watcher too) that counts lookups.
type countingStore struct {
	*pgstore.Store
	lookups atomic.Int64
}

func (s *countingStore) Lookup(ctx context.Context, d []apikey.Digest) (*apikey.Key, apikey.Hash, error) {
	s.lookups.Add(1)
	return s.Store.Lookup(ctx, d)
}

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

func serverURL(t testing.TB) string { return pgtest.URL(t) }

func newPool(t testing.TB, rawURL, schema string) *pgxpool.Pool {
	return pgtest.Pool(t, rawURL, schema)
}

// newSchema is a migrated schema of the test's own (see pgtest.Schema).
func newSchema(t testing.TB) (*pgxpool.Pool, string) { return pgtest.Schema(t, pgstore.Migrate) }
