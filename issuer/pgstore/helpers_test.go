package pgstore_test

import (
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	"github.com/tollgate/tollgate/internal/pgtest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/issuer/pgstore"
)

// clock is a settable clock for tests; no test sleeps.
type clock = authtest.Clock

func newClock() *clock { return authtest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) }

// newSchema is a migrated schema of the test's own (see pgtest.Schema).
func newSchema(t testing.TB) *pgxpool.Pool {
	pool, _ := pgtest.Schema(t, pgstore.Migrate)
	return pool
}

func replicaPool(t testing.TB, of *pgxpool.Pool) *pgxpool.Pool { return pgtest.Replica(t, of) }
