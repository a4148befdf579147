package pgstore_test

import (
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/pgtest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/issuer/pgstore"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newSchema is a migrated schema of the test's own (see pgtest.Schema).
func newSchema(t testing.TB) *pgxpool.Pool {
	pool, _ := pgtest.Schema(t, pgstore.Migrate)
	return pool
}

func replicaPool(t testing.TB, of *pgxpool.Pool) *pgxpool.Pool { return pgtest.Replica(t, of) }
