package pgstore

import (
	"context"
	"embed"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/internal/pgmigrate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// schema is this package's migrations, recorded in
// tollgate_issuer_migrations under an advisory lock of its own, so that
// replicas starting together apply each migration once.
var schema = pgmigrate.Set{
	Files:  migrations,
	Dir:    "migrations",
	Table:  "tollgate_issuer_migrations",
	Lock:   0x746f6c6c697373, // "tolliss"
	Prefix: "pgstore",
}

// Migrate creates or upgrades the tables in the first schema of the
// connection's search_path, applying the embedded migrations
// (migrations/NNNN_name.sql) not applied yet, in order, in one
// transaction under an advisory lock: safe to call from every replica at
// start-up, and a no-op once the schema is current. Nothing is applied at
// import time or by New.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return schema.Apply(ctx, pool)
}
