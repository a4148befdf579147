package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/issuer"
)

// ClientStore is an issuer.ClientStore on PostgreSQL. It is safe for
// concurrent use.
type ClientStore struct {
	pool *pgxpool.Pool
}

// NewClientStore returns a ClientStore on pool. The tables must exist:
// call Migrate first.
func NewClientStore(pool *pgxpool.Pool) *ClientStore { return &ClientStore{pool: pool} }

const (
	getClientSQL = `SELECT id, name, secret_hash, grants, scopes, audience, access_lifetime, refresh_idle, refresh_absolute, disabled, created_at, secret_rotated_at, grant_scopes, redirect_uris, public
FROM tollgate_issuer_clients WHERE id = $1`
	createClientSQL = `INSERT INTO tollgate_issuer_clients (id, name, secret_hash, grants, scopes, audience, access_lifetime, refresh_idle, refresh_absolute, disabled, created_at, secret_rotated_at, grant_scopes, redirect_uris, public)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING`
	updateClientSQL = `UPDATE tollgate_issuer_clients SET name = $2, secret_hash = $3, grants = $4, scopes = $5, audience = $6,
	access_lifetime = $7, refresh_idle = $8, refresh_absolute = $9, disabled = $10, created_at = $11, secret_rotated_at = $12, grant_scopes = $13,
	redirect_uris = $14, public = $15
WHERE id = $1`
)

// Client returns the client with this id, or issuer.ErrNotFound.
func (s *ClientStore) Client(ctx context.Context, id string) (issuer.Client, error) {
	if !isText(id) {
		return issuer.Client{}, issuer.ErrNotFound // a query with it would fail
	}
	var c issuer.Client
	var access, idle, abs int64
	err := s.pool.QueryRow(ctx, getClientSQL, id).Scan(&c.ID, &c.Name, &c.SecretHash, &c.Grants, &c.Scopes, &c.Audience,
		&access, &idle, &abs, &c.Disabled, &c.CreatedAt, &c.SecretRotatedAt, &c.GrantScopes, &c.RedirectURIs, &c.Public)
	if errors.Is(err, pgx.ErrNoRows) {
		return issuer.Client{}, issuer.ErrNotFound
	}
	if err != nil {
		return issuer.Client{}, fmt.Errorf("pgstore: reading a client: %w", err)
	}
	if len(c.GrantScopes) == 0 {
		c.GrantScopes = nil
	}
	if len(c.RedirectURIs) == 0 {
		c.RedirectURIs = nil
	}
	c.AccessTokenLifetime = time.Duration(access) * time.Microsecond
	c.RefreshIdleLifetime = time.Duration(idle) * time.Microsecond
	c.RefreshAbsoluteLifetime = time.Duration(abs) * time.Microsecond
	return c, nil
}

func clientArgs(c issuer.Client) []any {
	return []any{c.ID, c.Name, c.SecretHash, nonNil(c.Grants), nonNil(c.Scopes), nonNil(c.Audience),
		c.AccessTokenLifetime.Microseconds(), c.RefreshIdleLifetime.Microseconds(), c.RefreshAbsoluteLifetime.Microseconds(),
		c.Disabled, c.CreatedAt, c.SecretRotatedAt, grantScopes(c.GrantScopes), nonNil(c.RedirectURIs), c.Public}
}

func grantScopes(m map[string][]string) map[string][]string {
	if m == nil {
		return map[string][]string{}
	}
	return m
}

// CreateClient stores c, or returns issuer.ErrConflict if its id is taken.
func (s *ClientStore) CreateClient(ctx context.Context, c issuer.Client) error {
	tag, err := s.pool.Exec(ctx, createClientSQL, clientArgs(c)...)
	if err != nil {
		return fmt.Errorf("pgstore: creating a client: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return issuer.ErrConflict
	}
	return nil
}

// UpdateClient replaces the client of c.ID, or returns issuer.ErrNotFound.
func (s *ClientStore) UpdateClient(ctx context.Context, c issuer.Client) error {
	tag, err := s.pool.Exec(ctx, updateClientSQL, clientArgs(c)...)
	if err != nil {
		return fmt.Errorf("pgstore: updating a client: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return issuer.ErrNotFound
	}
	return nil
}
