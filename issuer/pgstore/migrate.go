package pgstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock Migrate holds, so that replicas
// starting together apply each migration once.
const migrationLock = 0x746f6c6c697373 // "tolliss"

const (
	createMigrationsSQL = `CREATE TABLE IF NOT EXISTS tollgate_issuer_migrations (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`
	lockSQL            = `SELECT pg_advisory_xact_lock($1)`
	appliedSQL         = `SELECT version FROM tollgate_issuer_migrations`
	recordMigrationSQL = `INSERT INTO tollgate_issuer_migrations (version, name) VALUES ($1, $2)`
)

// Migrate creates or upgrades the tables in the first schema of the
// connection's search_path, applying the embedded migrations
// (migrations/NNNN_name.sql) not applied yet, in order, in one
// transaction under an advisory lock: safe to call from every replica at
// start-up, and a no-op once the schema is current. Nothing is applied at
// import time or by New.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(files)
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockSQL, int64(migrationLock)); err != nil {
			return fmt.Errorf("pgstore: migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, createMigrationsSQL); err != nil {
			return fmt.Errorf("pgstore: migrations table: %w", err)
		}
		rows, err := tx.Query(ctx, appliedSQL)
		if err != nil {
			return fmt.Errorf("pgstore: reading applied migrations: %w", err)
		}
		applied, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return fmt.Errorf("pgstore: reading applied migrations: %w", err)
		}
		for _, f := range files {
			name := strings.TrimSuffix(strings.TrimPrefix(f, "migrations/"), ".sql")
			num, _, _ := strings.Cut(name, "_")
			v, err := strconv.Atoi(num)
			if err != nil {
				return fmt.Errorf("pgstore: migration %s: no version number", f)
			}
			if slices.Contains(applied, int32(v)) {
				continue
			}
			sql, err := migrations.ReadFile(f)
			if err != nil {
				return err
			}
			// The simple protocol, so a file may hold several statements;
			// the files are this package's own, never user input.
			if _, err := tx.Exec(ctx, string(sql), pgx.QueryExecModeSimpleProtocol); err != nil {
				return fmt.Errorf("pgstore: migration %s: %w", name, err)
			}
			if _, err := tx.Exec(ctx, recordMigrationSQL, v, name); err != nil {
				return fmt.Errorf("pgstore: recording migration %s: %w", name, err)
			}
		}
		return nil
	})
}
