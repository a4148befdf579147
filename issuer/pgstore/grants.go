package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/issuer"
)

// GrantStore is an issuer.GrantStore on PostgreSQL, one row per subject
// and client. AddGrant is one INSERT … ON CONFLICT DO UPDATE, so grants
// added concurrently for one subject and client (on any replica) merge
// into one row, keeping the first one's ID and CreatedAt. Scopes are kept
// sorted in byte order (COLLATE "C", as Go sorts strings) and distinct.
// It is safe for concurrent use.
type GrantStore struct {
	pool *pgxpool.Pool
}

// NewGrantStore returns a GrantStore on pool. The tables must exist: call
// Migrate first.
func NewGrantStore(pool *pgxpool.Pool) *GrantStore { return &GrantStore{pool: pool} }

const (
	addGrantSQL = `INSERT INTO tollgate_issuer_grants AS g (id, subject, client_id, scopes, created_at, updated_at)
VALUES ($1, $2, $3, ARRAY(SELECT DISTINCT s COLLATE "C" FROM unnest($4::text[]) AS u (s) WHERE s IS NOT NULL ORDER BY 1), $5, $6)
ON CONFLICT (subject, client_id) DO UPDATE SET
	scopes = ARRAY(SELECT DISTINCT s COLLATE "C" FROM unnest(g.scopes || EXCLUDED.scopes) AS u (s) ORDER BY 1),
	updated_at = EXCLUDED.updated_at
RETURNING id, subject, client_id, scopes, created_at, updated_at`
	getGrantSQL    = `SELECT id, subject, client_id, scopes, created_at, updated_at FROM tollgate_issuer_grants WHERE subject = $1 AND client_id = $2`
	deleteGrantSQL = `DELETE FROM tollgate_issuer_grants WHERE subject = $1 AND client_id = $2 RETURNING id, subject, client_id, scopes, created_at, updated_at`
	grantsOfSQL    = `SELECT id, subject, client_id, scopes, created_at, updated_at FROM tollgate_issuer_grants WHERE subject = $1 ORDER BY created_at, client_id COLLATE "C"`
)

// AddGrant implements issuer.GrantStore.AddGrant in one statement.
func (s *GrantStore) AddGrant(ctx context.Context, g issuer.Grant) (issuer.Grant, error) {
	got, err := scanGrant(s.pool.QueryRow(ctx, addGrantSQL, g.ID, g.Subject, g.ClientID, nonNil(g.Scopes), g.CreatedAt, g.UpdatedAt))
	if err != nil {
		return issuer.Grant{}, fmt.Errorf("pgstore: adding a grant: %w", err)
	}
	return got, nil
}

// Grant returns the subject's grant to the client, or issuer.ErrNotFound
// (also for a subject or client id that is not UTF-8 without NUL, which
// no row holds).
func (s *GrantStore) Grant(ctx context.Context, subject, clientID string) (issuer.Grant, error) {
	if !isText(subject, clientID) {
		return issuer.Grant{}, issuer.ErrNotFound
	}
	g, err := scanGrant(s.pool.QueryRow(ctx, getGrantSQL, subject, clientID))
	if errors.Is(err, pgx.ErrNoRows) {
		return issuer.Grant{}, issuer.ErrNotFound
	}
	if err != nil {
		return issuer.Grant{}, fmt.Errorf("pgstore: reading a grant: %w", err)
	}
	return g, nil
}

// DeleteGrant removes the subject's grant to the client and returns it,
// or issuer.ErrNotFound.
func (s *GrantStore) DeleteGrant(ctx context.Context, subject, clientID string) (issuer.Grant, error) {
	if !isText(subject, clientID) {
		return issuer.Grant{}, issuer.ErrNotFound
	}
	g, err := scanGrant(s.pool.QueryRow(ctx, deleteGrantSQL, subject, clientID))
	if errors.Is(err, pgx.ErrNoRows) {
		return issuer.Grant{}, issuer.ErrNotFound
	}
	if err != nil {
		return issuer.Grant{}, fmt.Errorf("pgstore: deleting a grant: %w", err)
	}
	return g, nil
}

// GrantsOf returns the subject's grants, oldest first (then by client id).
func (s *GrantStore) GrantsOf(ctx context.Context, subject string) ([]issuer.Grant, error) {
	if !isText(subject) {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, grantsOfSQL, subject)
	if err != nil {
		return nil, fmt.Errorf("pgstore: listing grants: %w", err)
	}
	grants, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (issuer.Grant, error) { return scanGrant(r) })
	if err != nil {
		return nil, fmt.Errorf("pgstore: listing grants: %w", err)
	}
	return grants, nil
}

func scanGrant(row pgx.Row) (issuer.Grant, error) {
	var g issuer.Grant
	if err := row.Scan(&g.ID, &g.Subject, &g.ClientID, &g.Scopes, &g.CreatedAt, &g.UpdatedAt); err != nil {
		return issuer.Grant{}, err
	}
	if len(g.Scopes) == 0 {
		g.Scopes = nil
	}
	return g, nil
}

// isText reports whether every s is one PostgreSQL's text can hold:
// UTF-8 without NUL. Any other string (a client id or username as a form
// posted it) names no row, and a query with it would fail.
func isText(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return false
		}
	}
	return true
}
