package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/issuer"
)

// SessionStore is an issuer.SessionStore on PostgreSQL. Rotate consumes a
// token by a conditional UPDATE … WHERE used_at IS NULL that inserts its
// successor in the same statement (one round trip), so of concurrent
// refreshes of one token (on any replica) exactly one consumes it; the
// others wait on its row lock, then find it consumed, and a transaction
// that locks the token and its session with SELECT … FOR UPDATE ends the
// session: reuse. It is safe for concurrent use.
type SessionStore struct {
	pool *pgxpool.Pool
}

// NewSessionStore returns a SessionStore on pool. The tables must exist:
// call Migrate first.
func NewSessionStore(pool *pgxpool.Pool) *SessionStore { return &SessionStore{pool: pool} }

const (
	createSessionSQL = `INSERT INTO tollgate_issuer_sessions (id, client_id, subject, account, grant_type, scopes, audience, created_at, expires_at, idle_lifetime) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`
	createTokenSQL   = `INSERT INTO tollgate_issuer_refresh_tokens (hash, session_id, expires_at) VALUES ($1, $2, $3)`
	lockTokenSQL     = `SELECT t.expires_at, t.used_at IS NOT NULL,
	s.id, s.client_id, s.subject, s.account, s.grant_type, s.scopes, s.audience, s.created_at, s.expires_at, s.idle_lifetime, s.ended_at
FROM tollgate_issuer_refresh_tokens t JOIN tollgate_issuer_sessions s ON s.id = t.session_id
WHERE t.hash = $1
FOR UPDATE OF t, s`
	lookupTokenSQL = `SELECT t.expires_at, t.used_at IS NOT NULL,
	s.id, s.client_id, s.subject, s.account, s.grant_type, s.scopes, s.audience, s.created_at, s.expires_at, s.idle_lifetime, s.ended_at
FROM tollgate_issuer_refresh_tokens t JOIN tollgate_issuer_sessions s ON s.id = t.session_id
WHERE t.hash = $1`
	// rotateSQL is the common case in one statement and one round trip: a
	// conditional UPDATE consumes the token only if it is unused, live and
	// the client's, and its successor is inserted from what it returns.
	// Concurrent rotations of one token queue on its row lock; once the
	// winner commits, the others re-check used_at and update nothing. When
	// no row comes back, Rotate's transaction finds out why.
	rotateSQL = `WITH used AS (
	UPDATE tollgate_issuer_refresh_tokens t SET used_at = $3
	FROM tollgate_issuer_sessions s
	WHERE t.hash = $1 AND s.id = t.session_id AND t.used_at IS NULL AND s.ended_at IS NULL
		AND s.client_id = $4 AND t.expires_at > $3 AND s.expires_at > $3
	RETURNING s.id, s.client_id, s.subject, s.account, s.grant_type, s.scopes, s.audience, s.created_at, s.expires_at, s.idle_lifetime,
		LEAST($3::timestamptz + s.idle_lifetime * interval '1 microsecond', s.expires_at) AS next_expires
), next AS (
	INSERT INTO tollgate_issuer_refresh_tokens (hash, session_id, expires_at) SELECT $2, id, next_expires FROM used
)
SELECT id, client_id, subject, account, grant_type, scopes, audience, created_at, expires_at, idle_lifetime, next_expires FROM used`
	useTokenSQL      = `UPDATE tollgate_issuer_refresh_tokens SET used_at = $2 WHERE hash = $1`
	endSessionSQL    = `UPDATE tollgate_issuer_sessions SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL`
	getSessionSQL    = `SELECT id, client_id, subject, account, grant_type, scopes, audience, created_at, expires_at, idle_lifetime, ended_at FROM tollgate_issuer_sessions WHERE id = $1`
	sweepSQL         = `DELETE FROM tollgate_issuer_sessions WHERE expires_at <= $1`
	endSessionsOfSQL = `UPDATE tollgate_issuer_sessions SET ended_at = $3 WHERE client_id = $1 AND subject = $2 AND ended_at IS NULL RETURNING id`
)

// Create stores s and its first refresh token in one transaction.
func (st *SessionStore) Create(ctx context.Context, s issuer.Session, first issuer.TokenHash, expires time.Time) error {
	return pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, createSessionSQL, s.ID, s.ClientID, s.Subject, s.Account, s.Grant, nonNil(s.Scopes), nonNil(s.Audience), s.CreatedAt, s.ExpiresAt, s.IdleLifetime.Microseconds())
		if err != nil {
			return fmt.Errorf("pgstore: creating a session: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return issuer.ErrConflict
		}
		if _, err := tx.Exec(ctx, createTokenSQL, first[:], s.ID, expires); err != nil {
			return fmt.Errorf("pgstore: creating a refresh token: %w", err)
		}
		return nil
	})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Rotate implements issuer.SessionStore.Rotate: one statement when the
// token is good, else a transaction that locks the token and its session
// (SELECT … FOR UPDATE) to tell why and, for reuse, end the session.
func (st *SessionStore) Rotate(ctx context.Context, clientID string, used, next issuer.TokenHash, now time.Time) (issuer.Session, time.Time, error) {
	var s issuer.Session
	var idle int64
	var exp time.Time
	err := st.pool.QueryRow(ctx, rotateSQL, used[:], next[:], now, clientID).Scan(
		&s.ID, &s.ClientID, &s.Subject, &s.Account, &s.Grant, &s.Scopes, &s.Audience, &s.CreatedAt, &s.ExpiresAt, &idle, &exp)
	if err == nil {
		s.IdleLifetime = time.Duration(idle) * time.Microsecond
		return s, exp, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return issuer.Session{}, time.Time{}, fmt.Errorf("pgstore: rotating a refresh token: %w", err)
	}
	return st.locked(ctx, clientID, used, next, now)
}

// locked is Rotate in a transaction that locks the token's row and its
// session's: the path of every token rotateSQL did not consume, which it
// refuses with the reason (ending the session on reuse). It consumes a
// token only if it became usable in between, which none does.
func (st *SessionStore) locked(ctx context.Context, clientID string, used, next issuer.TokenHash, now time.Time) (issuer.Session, time.Time, error) {
	var (
		s       issuer.Session
		exp     time.Time
		refusal error
	)
	err := pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
		var tokExp time.Time
		var wasUsed bool
		var idle int64
		var endedAt *time.Time
		err := tx.QueryRow(ctx, lockTokenSQL, used[:]).Scan(&tokExp, &wasUsed,
			&s.ID, &s.ClientID, &s.Subject, &s.Account, &s.Grant, &s.Scopes, &s.Audience, &s.CreatedAt, &s.ExpiresAt, &idle, &endedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			refusal = issuer.ErrRefreshUnknown
			return nil
		}
		if err != nil {
			return fmt.Errorf("pgstore: reading a refresh token: %w", err)
		}
		s.IdleLifetime = time.Duration(idle) * time.Microsecond
		if endedAt != nil {
			s.EndedAt = *endedAt
		}
		switch {
		case s.ClientID != clientID:
			s, refusal = issuer.Session{}, issuer.ErrRefreshUnknown
			return nil
		case wasUsed:
			refusal = issuer.ErrRefreshReused
			if s.EndedAt.IsZero() {
				s.EndedAt = now
				if _, err := tx.Exec(ctx, endSessionSQL, s.ID, now); err != nil {
					return fmt.Errorf("pgstore: ending a session: %w", err)
				}
			}
			return nil
		case !s.EndedAt.IsZero():
			refusal = issuer.ErrSessionEnded
			return nil
		case !now.Before(tokExp) || !now.Before(s.ExpiresAt):
			refusal = issuer.ErrRefreshExpired
			return nil
		}
		if _, err := tx.Exec(ctx, useTokenSQL, used[:], now); err != nil {
			return fmt.Errorf("pgstore: consuming a refresh token: %w", err)
		}
		exp = now.Add(s.IdleLifetime)
		if exp.After(s.ExpiresAt) {
			exp = s.ExpiresAt
		}
		if _, err := tx.Exec(ctx, createTokenSQL, next[:], s.ID, exp); err != nil {
			return fmt.Errorf("pgstore: creating a refresh token: %w", err)
		}
		return nil
	})
	if err != nil {
		return issuer.Session{}, time.Time{}, err
	}
	if refusal != nil {
		return s, time.Time{}, refusal
	}
	return s, exp, nil
}

// Lookup implements issuer.SessionStore.Lookup in one SELECT.
func (st *SessionStore) Lookup(ctx context.Context, clientID string, token issuer.TokenHash, now time.Time) (issuer.Session, error) {
	var s issuer.Session
	var tokExp time.Time
	var wasUsed bool
	var idle int64
	var endedAt *time.Time
	err := st.pool.QueryRow(ctx, lookupTokenSQL, token[:]).Scan(&tokExp, &wasUsed,
		&s.ID, &s.ClientID, &s.Subject, &s.Account, &s.Grant, &s.Scopes, &s.Audience, &s.CreatedAt, &s.ExpiresAt, &idle, &endedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return issuer.Session{}, issuer.ErrRefreshUnknown
	}
	if err != nil {
		return issuer.Session{}, fmt.Errorf("pgstore: reading a refresh token: %w", err)
	}
	if s.ClientID != clientID {
		return issuer.Session{}, issuer.ErrRefreshUnknown
	}
	s.IdleLifetime = time.Duration(idle) * time.Microsecond
	if endedAt != nil {
		s.EndedAt = *endedAt
	}
	switch {
	case wasUsed:
		return s, issuer.ErrRefreshReused
	case !s.EndedAt.IsZero():
		return s, issuer.ErrSessionEnded
	case !now.Before(tokExp) || !now.Before(s.ExpiresAt):
		return s, issuer.ErrRefreshExpired
	}
	return s, nil
}

// End ends session sid at now, if it is live.
func (st *SessionStore) End(ctx context.Context, sid string, now time.Time) (issuer.Session, error) {
	if _, err := st.pool.Exec(ctx, endSessionSQL, sid, now); err != nil {
		return issuer.Session{}, fmt.Errorf("pgstore: ending a session: %w", err)
	}
	var s issuer.Session
	var idle int64
	var endedAt *time.Time
	err := st.pool.QueryRow(ctx, getSessionSQL, sid).Scan(&s.ID, &s.ClientID, &s.Subject, &s.Account, &s.Grant, &s.Scopes, &s.Audience, &s.CreatedAt, &s.ExpiresAt, &idle, &endedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return issuer.Session{}, issuer.ErrNotFound
	}
	if err != nil {
		return issuer.Session{}, fmt.Errorf("pgstore: reading a session: %w", err)
	}
	s.IdleLifetime = time.Duration(idle) * time.Microsecond
	if endedAt != nil {
		s.EndedAt = *endedAt
	}
	return s, nil
}

// EndSessionsOf implements issuer.SessionStore.EndSessionsOf in one
// UPDATE; the ids come back sorted. A client id or subject that is not
// UTF-8 without NUL ends nothing.
func (st *SessionStore) EndSessionsOf(ctx context.Context, clientID, subject string, now time.Time) ([]string, error) {
	if !isText(clientID, subject) {
		return nil, nil // no session's
	}
	rows, err := st.pool.Query(ctx, endSessionsOfSQL, clientID, subject, now)
	if err != nil {
		return nil, fmt.Errorf("pgstore: ending a user's sessions: %w", err)
	}
	sids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("pgstore: ending a user's sessions: %w", err)
	}
	if len(sids) == 0 {
		return nil, nil
	}
	slices.Sort(sids)
	return sids, nil
}

// Sweep deletes the sessions that expired before now, with their refresh
// tokens. Run it now and then (daily); until then an expired session
// costs a row and refuses its tokens all the same.
func (st *SessionStore) Sweep(ctx context.Context, now time.Time) error {
	if _, err := st.pool.Exec(ctx, sweepSQL, now); err != nil {
		return fmt.Errorf("pgstore: sweeping sessions: %w", err)
	}
	return nil
}
