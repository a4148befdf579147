// Package pgmigrate applies a package's embedded SQL migrations to
// PostgreSQL: the files NNNN_name.sql of a directory, in order, each once,
// recorded in a table of the package's own, in one transaction under an
// advisory lock, so that replicas starting together apply each migration
// once. apikey/pgstore and issuer/pgstore use it.
package pgmigrate

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Set is one package's migrations.
type Set struct {
	// Files holds the migrations in Dir as NNNN_name.sql.
	Files fs.FS
	Dir   string
	// Table records the applied versions; it is created if missing. It is
	// a constant of the package, never user input.
	Table string
	// Lock is the advisory lock key held while migrating.
	Lock int64
	// Errors start with Prefix ("pgstore").
	Prefix string
}

// Apply applies the migrations of s not applied yet, in order, in one
// transaction under s.Lock. A no-op once the schema is current.
func (s Set) Apply(ctx context.Context, pool *pgxpool.Pool) error {
	files, err := fs.Glob(s.Files, s.Dir+"/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(files)
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.Lock); err != nil {
			return fmt.Errorf("%s: migration lock: %w", s.Prefix, err)
		}
		create := `CREATE TABLE IF NOT EXISTS ` + s.Table + ` (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`
		if _, err := tx.Exec(ctx, create); err != nil {
			return fmt.Errorf("%s: migrations table: %w", s.Prefix, err)
		}
		rows, err := tx.Query(ctx, `SELECT version FROM `+s.Table)
		if err != nil {
			return fmt.Errorf("%s: reading applied migrations: %w", s.Prefix, err)
		}
		applied, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return fmt.Errorf("%s: reading applied migrations: %w", s.Prefix, err)
		}
		for _, f := range files {
			name := strings.TrimSuffix(strings.TrimPrefix(f, s.Dir+"/"), ".sql")
			num, _, _ := strings.Cut(name, "_")
			v, err := strconv.Atoi(num)
			if err != nil {
				return fmt.Errorf("%s: migration %s: no version number", s.Prefix, f)
			}
			if slices.Contains(applied, int32(v)) {
				continue
			}
			sql, err := fs.ReadFile(s.Files, f)
			if err != nil {
				return err
			}
			// The simple protocol, so a file may hold several statements;
			// the files are the package's own, never user input.
			if _, err := tx.Exec(ctx, string(sql), pgx.QueryExecModeSimpleProtocol); err != nil {
				return fmt.Errorf("%s: migration %s: %w", s.Prefix, name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+s.Table+` (version, name) VALUES ($1, $2)`, v, name); err != nil {
				return fmt.Errorf("%s: recording migration %s: %w", s.Prefix, name, err)
			}
		}
		return nil
	})
}
