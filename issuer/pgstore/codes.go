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

// CodeStore is an issuer.CodeStore on PostgreSQL. RedeemCode is one
// UPDATE whose row lock orders concurrent redemptions of a code, on any
// replica: exactly one finds it unredeemed; the others, re-reading the row
// once the winner commits, mark it replayed and get issuer.ErrCodeReused.
// It is safe for concurrent use.
//
// Records are deleted issuer.CodeReplayWindow after their code expired:
// each CreateCode deletes up to four of them in the same statement as its
// insert, skipping rows another replica is deleting or a redemption
// holds. An insert never waits on a backlog, and since each removes more
// than it adds, a backlog (after a pause, or a burst) drains while codes
// are issued.
type CodeStore struct {
	pool *pgxpool.Pool
}

// NewCodeStore returns a CodeStore on pool. The tables must exist: call
// Migrate first.
func NewCodeStore(pool *pgxpool.Pool) *CodeStore { return &CodeStore{pool: pool} }

const (
	// createCodeSQL inserts a code after deleting up to four records whose
	// code expired before $14 (CreatedAt - CodeReplayWindow). Both see one
	// snapshot, so the insert does not wait for the delete.
	createCodeSQL = `WITH swept AS (
	DELETE FROM tollgate_issuer_codes WHERE hash IN (
		SELECT hash FROM tollgate_issuer_codes WHERE expires_at < $14 LIMIT 4 FOR UPDATE SKIP LOCKED)
)
INSERT INTO tollgate_issuer_codes (hash, client_id, redirect_uri, redirect_uri_given, challenge, subject, scopes, grant_id, created_at, expires_at, redeemed_at, session_id, replayed)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING`
	getCodeSQL = `SELECT client_id, redirect_uri, redirect_uri_given, challenge, subject, scopes, grant_id, created_at, expires_at, redeemed_at, session_id, replayed FROM tollgate_issuer_codes WHERE hash = $1`
	// redeemCodeSQL sets redeemed_at if it is NULL, and replayed to
	// whether it was not: the returned replayed tells whether the code was
	// redeemed before this statement. Concurrent redemptions queue on the
	// row lock, and READ COMMITTED evaluates each SET on the row as the one
	// before it committed it, so exactly one returns replayed false.
	redeemCodeSQL = `UPDATE tollgate_issuer_codes
SET redeemed_at = COALESCE(redeemed_at, $2), replayed = redeemed_at IS NOT NULL
WHERE hash = $1
RETURNING client_id, redirect_uri, redirect_uri_given, challenge, subject, scopes, grant_id, created_at, expires_at, redeemed_at, session_id, replayed`
	bindCodeSQL = `UPDATE tollgate_issuer_codes SET session_id = $2 WHERE hash = $1 RETURNING replayed`
)

// CreateCode stores c, or returns issuer.ErrConflict if its hash is
// taken, deleting up to four records past the replay window (see
// CodeStore).
func (s *CodeStore) CreateCode(ctx context.Context, c issuer.AuthorizationCode) error {
	tag, err := s.pool.Exec(ctx, createCodeSQL, c.Hash[:], c.ClientID, c.RedirectURI, c.RedirectURIGiven, c.Challenge, c.Subject,
		nonNil(c.Scopes), c.GrantID, c.CreatedAt, c.ExpiresAt, nullTime(c.RedeemedAt), c.SessionID, c.Replayed,
		c.CreatedAt.Add(-issuer.CodeReplayWindow))
	if err != nil {
		return fmt.Errorf("pgstore: creating an authorization code: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return issuer.ErrConflict
	}
	return nil
}

// Code returns the code hashed as h, or issuer.ErrNotFound.
func (s *CodeStore) Code(ctx context.Context, h issuer.TokenHash) (issuer.AuthorizationCode, error) {
	c, err := scanCode(s.pool.QueryRow(ctx, getCodeSQL, h[:]), h)
	if err != nil {
		return issuer.AuthorizationCode{}, wrapCodeErr("reading", err)
	}
	return c, nil
}

// RedeemCode implements issuer.CodeStore.RedeemCode in one UPDATE (see
// CodeStore).
func (s *CodeStore) RedeemCode(ctx context.Context, h issuer.TokenHash, now time.Time) (issuer.AuthorizationCode, error) {
	c, err := scanCode(s.pool.QueryRow(ctx, redeemCodeSQL, h[:], now), h)
	if err != nil {
		return issuer.AuthorizationCode{}, wrapCodeErr("redeeming", err)
	}
	if c.Replayed {
		return c, issuer.ErrCodeReused
	}
	return c, nil
}

// BindCode implements issuer.CodeStore.BindCode in one UPDATE: it records
// sid whether or not the code was replayed, so that a replay after it
// ends the session and one before it is reported.
func (s *CodeStore) BindCode(ctx context.Context, h issuer.TokenHash, sid string) error {
	var replayed bool
	if err := s.pool.QueryRow(ctx, bindCodeSQL, h[:], sid).Scan(&replayed); err != nil {
		return wrapCodeErr("binding", err)
	}
	if replayed {
		return issuer.ErrCodeReused
	}
	return nil
}

func scanCode(row pgx.Row, h issuer.TokenHash) (issuer.AuthorizationCode, error) {
	c := issuer.AuthorizationCode{Hash: h}
	var redeemed *time.Time
	err := row.Scan(&c.ClientID, &c.RedirectURI, &c.RedirectURIGiven, &c.Challenge, &c.Subject, &c.Scopes, &c.GrantID,
		&c.CreatedAt, &c.ExpiresAt, &redeemed, &c.SessionID, &c.Replayed)
	if err != nil {
		return issuer.AuthorizationCode{}, err
	}
	if len(c.Scopes) == 0 {
		c.Scopes = nil
	}
	if redeemed != nil {
		c.RedeemedAt = *redeemed
	}
	return c, nil
}

func wrapCodeErr(doing string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return issuer.ErrNotFound
	}
	return fmt.Errorf("pgstore: %s an authorization code: %w", doing, err)
}

// nullTime is t, or NULL for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
