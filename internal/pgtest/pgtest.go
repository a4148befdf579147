// Package pgtest gives tests the PostgreSQL server scripts/with-postgres.sh
// started (TOLLGATE_POSTGRES_URL): a schema of the test's own, migrated and
// dropped at cleanup, and pools on it. Without a server a test skips,
// saying why; under CI=true it fails, so CI never passes by skipping.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// URL returns the server's connection URL, or skips (fails under CI=true).
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TOLLGATE_POSTGRES_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("postgres: TOLLGATE_POSTGRES_URL not set on CI; run the tests through ./scripts/with-postgres.sh (make test)")
		}
		t.Skip("postgres: TOLLGATE_POSTGRES_URL not set; run `make test` to start a real PostgreSQL server")
	}
	return u
}

var schemaCounter atomic.Int64

// Schema creates a schema of the test's own, dropped at cleanup, runs
// migrate on a pool whose search_path is it (nil: none), and returns the
// pool and the schema's name.
func Schema(t testing.TB, migrate func(context.Context, *pgxpool.Pool) error) (*pgxpool.Pool, string) {
	t.Helper()
	base := URL(t)
	schema := fmt.Sprintf("t_%d_%d", time.Now().UnixNano(), schemaCounter.Add(1))
	admin := Pool(t, base, "")
	if _, err := admin.Exec(context.Background(), "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	pool := Pool(t, base, schema)
	if migrate != nil {
		if err := migrate(context.Background(), pool); err != nil {
			t.Fatal(err)
		}
	}
	return pool, schema
}

// Replica is another pool on of's schema, as a second replica would have.
func Replica(t testing.TB, of *pgxpool.Pool) *pgxpool.Pool {
	t.Helper()
	return Pool(t, URL(t), of.Config().ConnConfig.RuntimeParams["search_path"])
}

// Pool opens a pool on rawURL with search_path set to schema (if any),
// closed at cleanup. A test may point rawURL at a fault proxy.
func Pool(t testing.TB, rawURL, schema string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	if schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
	}
	cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	cfg.MaxConns = 20
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
