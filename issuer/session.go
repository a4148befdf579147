package issuer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	stderrors "errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/tollgate/tollgate/jwt"
)

// Defaults of SessionsConfig.
const (
	DefaultSessionLifetime = 7 * 24 * time.Hour
	// refreshTokenBytes is the entropy of a refresh token: 256 bits.
	refreshTokenBytes = 32
)

// ErrInvalidGrant is what every refused refresh token is (errors.Is): RFC
// 6749's invalid_grant. The specific errors below say why, for logs; a
// client is told only invalid_grant.
var ErrInvalidGrant = stderrors.New("issuer: invalid grant")

// Why a refresh token was refused; each is an ErrInvalidGrant.
var (
	// ErrRefreshUnknown: no such refresh token, or it belongs to another
	// client.
	ErrRefreshUnknown = fmt.Errorf("%w: unknown refresh token", ErrInvalidGrant)
	// ErrRefreshReused: the token was used before, so someone else holds
	// a copy of it (RFC 9700 §4.14.2); its whole session has been ended.
	ErrRefreshReused = fmt.Errorf("%w: refresh token used before; its session is ended", ErrInvalidGrant)
	// ErrRefreshExpired: past the token's idle lifetime or the session's
	// absolute one.
	ErrRefreshExpired = fmt.Errorf("%w: refresh token expired", ErrInvalidGrant)
	// ErrSessionEnded: the session was ended (logout, revocation, reuse).
	ErrSessionEnded = fmt.Errorf("%w: session ended", ErrInvalidGrant)
)

// TokenHash is the SHA-256 of a refresh token: all a SessionStore keeps of
// it.
type TokenHash [sha256.Size]byte

// HashRefreshToken returns the TokenHash of token.
func HashRefreshToken(token string) TokenHash { return sha256.Sum256([]byte(token)) }

// Session is a refresh session: the family of refresh tokens that grew,
// one rotation at a time, from one login or grant. Its ID is the "sid" of
// the access tokens minted from it.
type Session struct {
	ID       string
	ClientID string
	Subject  string
	// Account is the account name the login used (the username of the
	// password grant), kept because the subject Login returns may differ
	// from it: a refresh checks the account's IP allow-list by it. Every
	// rotation keeps it. Empty for a session not started by a login.
	Account string
	// Grant is the grant that started the session (GrantPassword,
	// GrantAuthorizationCode): a refresh carries on only the scopes the
	// client's registration still gives through it (Client.GrantScopes).
	// Empty for a session started without one.
	Grant    string
	Scopes   []string
	Audience []string
	// CreatedAt is when the first refresh token was issued; ExpiresAt is
	// the absolute end: no refresh token of the session outlives it.
	CreatedAt time.Time
	ExpiresAt time.Time
	// IdleLifetime is how long each refresh token lives unused.
	IdleLifetime time.Duration
	// EndedAt is when the session was ended, zero while it lives.
	EndedAt time.Time
}

// SessionStore keeps refresh sessions and the hashes of their refresh
// tokens. It must be safe for concurrent use, and Rotate must be atomic:
// of concurrent calls with one token, exactly one may succeed.
type SessionStore interface {
	// Create stores s with its first refresh token, valid until expires.
	Create(ctx context.Context, s Session, first TokenHash, expires time.Time) error
	// Rotate consumes the refresh token used for clientID and stores next
	// in its place, valid until min(now + IdleLifetime, ExpiresAt); it
	// returns the session and that time. In one atomic step, it returns
	// ErrRefreshUnknown, changing nothing, for a hash it does not hold or
	// one of another client's session; ErrRefreshReused for a token
	// already consumed, with its session, after ending the session
	// (EndedAt = now) if it was live; ErrSessionEnded for an unused token
	// of an ended session; and ErrRefreshExpired for a token past its
	// expiry or the session's.
	Rotate(ctx context.Context, clientID string, used, next TokenHash, now time.Time) (Session, time.Time, error)
	// End ends session sid at now, if it is live, and returns it;
	// ErrNotFound if there is none.
	End(ctx context.Context, sid string, now time.Time) (Session, error)
	// Lookup returns the session of the refresh token hashed as token,
	// presented for clientID at now, changing nothing: Rotate's refusals
	// (ErrRefreshUnknown for another client's token), except that a used
	// token's session is not ended here.
	Lookup(ctx context.Context, clientID string, token TokenHash, now time.Time) (Session, error)
	// EndSessionsOf ends, at now, every live session of subject with
	// clientID (a user revoking an app) and returns their ids.
	EndSessionsOf(ctx context.Context, clientID, subject string, now time.Time) ([]string, error)
}

// SessionsConfig configures Sessions. The zero value keeps sessions in
// memory for seven days, each refresh token living as long.
type SessionsConfig struct {
	// Store keeps the sessions. Nil means a new MemorySessionStore.
	Store SessionStore
	// AbsoluteLifetime bounds a session: default DefaultSessionLifetime
	// (7 days). SessionRequest.AbsoluteLifetime overrides it per client.
	AbsoluteLifetime time.Duration
	// IdleLifetime is how long a refresh token lives unused; zero means
	// as long as the session. SessionRequest.IdleLifetime overrides it.
	IdleLifetime time.Duration
	// OnSessionEnded, if set, is called when a session ends (End, or a
	// reused refresh token), with until: the time after which no access
	// token minted from it can still verify. Give it to the revocation
	// layer so that those access tokens are refused by their "sid" (see
	// RevokeSessions for a revocation.Memory; for a fleet, a
	// redisrevocation.Store:
	//
	//	OnSessionEnded: func(ctx context.Context, sid string, until time.Time) {
	//		if err := store.RevokeSession(ctx, sid, until); err != nil { … log it }
	//	}
	OnSessionEnded func(ctx context.Context, sid string, until time.Time)
	// AccessTokenLifetime bounds the access tokens minted from sessions,
	// for OnSessionEnded's until; default DefaultMaxTokenLifetime (24 h),
	// plus jwt.MaxLeeway.
	AccessTokenLifetime time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// SessionRequest starts a session.
type SessionRequest struct {
	ClientID string
	Subject  string
	// Account is the account name the login used (Session.Account).
	Account string
	// Grant is the grant starting the session (Session.Grant).
	Grant    string
	Scopes   []string
	Audience []string
	// AbsoluteLifetime and IdleLifetime, if set, are the client's and
	// override SessionsConfig's.
	AbsoluteLifetime time.Duration
	IdleLifetime     time.Duration
}

// Sessions issues and rotates opaque refresh tokens: 256 bits from
// crypto/rand, base64url, stored only as their SHA-256 (a leaked table
// gives no usable token). Each is single use: Refresh consumes it and
// returns its successor. Presenting a consumed one again is reuse (RFC
// 9700 §4.14.2): someone holds a copy, so the whole session is ended, its
// successor too, and OnSessionEnded is told, so that the session's access
// tokens can be refused. Two concurrent refreshes of one token are reuse
// as well: one wins, the other ends the session.
//
// It is safe for concurrent use.
type Sessions struct {
	cfg SessionsConfig
}

// NewSessions checks cfg.
func NewSessions(cfg SessionsConfig) (*Sessions, error) {
	if cfg.Store == nil {
		cfg.Store = &MemorySessionStore{}
	}
	if cfg.AbsoluteLifetime == 0 {
		cfg.AbsoluteLifetime = DefaultSessionLifetime
	}
	if cfg.AccessTokenLifetime == 0 {
		cfg.AccessTokenLifetime = DefaultMaxTokenLifetime
	}
	if cfg.AbsoluteLifetime < 0 || cfg.IdleLifetime < 0 || cfg.AccessTokenLifetime < 0 {
		return nil, stderrors.New("issuer: a SessionsConfig lifetime is negative")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sessions{cfg: cfg}, nil
}

func newRefreshToken() (Token, TokenHash) {
	b := make([]byte, refreshTokenBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	t := b64.EncodeToString(b)
	return Token(t), HashRefreshToken(t)
}

// RefreshToken is a refresh token issued by Sessions, with its session.
type RefreshToken struct {
	Token Token
	// ExpiresAt is when the token stops being accepted unused.
	ExpiresAt time.Time
	Session   Session
}

// Start begins a session and returns its first refresh token.
func (s *Sessions) Start(ctx context.Context, req SessionRequest) (RefreshToken, error) {
	if req.ClientID == "" {
		return RefreshToken{}, stderrors.New("issuer: SessionRequest.ClientID is empty")
	}
	abs, idle := req.AbsoluteLifetime, req.IdleLifetime
	if abs <= 0 {
		abs = s.cfg.AbsoluteLifetime
	}
	if idle <= 0 {
		idle = s.cfg.IdleLifetime
	}
	if idle <= 0 || idle > abs {
		idle = abs
	}
	now := s.cfg.Now()
	sess := Session{
		ID: randomString(16), ClientID: req.ClientID, Subject: req.Subject, Account: req.Account, Grant: req.Grant,
		Scopes: slices.Clone(req.Scopes), Audience: slices.Clone(req.Audience),
		CreatedAt: now, ExpiresAt: now.Add(abs), IdleLifetime: idle,
	}
	tok, h := newRefreshToken()
	if err := s.cfg.Store.Create(ctx, sess, h, now.Add(idle)); err != nil {
		return RefreshToken{}, err
	}
	return RefreshToken{Token: tok, ExpiresAt: now.Add(idle), Session: sess}, nil
}

// Refresh consumes refreshToken, presented by the authenticated client
// clientID, and returns its successor and the session, or an error that
// is an ErrInvalidGrant (or the store's). On reuse the session has been
// ended when Refresh returns.
func (s *Sessions) Refresh(ctx context.Context, clientID, refreshToken string) (RefreshToken, error) {
	if len(refreshToken) != b64.EncodedLen(refreshTokenBytes) {
		return RefreshToken{}, ErrRefreshUnknown
	}
	next, h := newRefreshToken()
	now := s.cfg.Now()
	sess, exp, err := s.cfg.Store.Rotate(ctx, clientID, HashRefreshToken(refreshToken), h, now)
	if stderrors.Is(err, ErrRefreshReused) {
		s.ended(ctx, sess.ID, now)
	}
	if err != nil {
		return RefreshToken{}, err
	}
	return RefreshToken{Token: next, ExpiresAt: exp, Session: sess}, nil
}

// Peek returns the session of refreshToken, presented by clientID,
// without consuming the token or ending anything: the refusals of Refresh
// (each an ErrInvalidGrant), for checks a token endpoint makes before it
// rotates (the scope asked for, the account's IP allow-list).
func (s *Sessions) Peek(ctx context.Context, clientID, refreshToken string) (Session, error) {
	if len(refreshToken) != b64.EncodedLen(refreshTokenBytes) {
		return Session{}, ErrRefreshUnknown
	}
	return s.cfg.Store.Lookup(ctx, clientID, HashRefreshToken(refreshToken), s.cfg.Now())
}

// Revoke ends the session of refreshToken if it is clientID's (RFC 7009:
// revoking a refresh token ends its family), telling OnSessionEnded. It
// returns ErrRefreshUnknown for a token it does not know or another
// client's, and nil for a token of a session already ended or expired.
func (s *Sessions) Revoke(ctx context.Context, clientID, refreshToken string) error {
	sess, err := s.Peek(ctx, clientID, refreshToken)
	if stderrors.Is(err, ErrRefreshUnknown) || err != nil && !stderrors.Is(err, ErrInvalidGrant) {
		return err
	}
	if sess.ID == "" || !sess.EndedAt.IsZero() {
		return nil
	}
	return s.End(ctx, sess.ID)
}

// End ends session sid (logout, a user revoking an app): its refresh
// tokens are refused from now on, and OnSessionEnded is told.
func (s *Sessions) End(ctx context.Context, sid string) error {
	now := s.cfg.Now()
	if _, err := s.cfg.Store.End(ctx, sid, now); err != nil {
		return err
	}
	s.ended(ctx, sid, now)
	return nil
}

// EndAll ends every live session of subject with clientID (a user
// revoking the app; Grants.Revoke calls it), telling OnSessionEnded of
// each, and returns how many it ended.
func (s *Sessions) EndAll(ctx context.Context, clientID, subject string) (int, error) {
	now := s.cfg.Now()
	sids, err := s.cfg.Store.EndSessionsOf(ctx, clientID, subject, now)
	for _, sid := range sids {
		s.ended(ctx, sid, now)
	}
	return len(sids), err
}

func (s *Sessions) ended(ctx context.Context, sid string, now time.Time) {
	if s.cfg.OnSessionEnded != nil && sid != "" {
		s.cfg.OnSessionEnded(ctx, sid, now.Add(s.cfg.AccessTokenLifetime+jwt.MaxLeeway))
	}
}

// MemorySessionStore is a SessionStore in memory, for one process and for
// tests. The zero value is ready to use. Consumed tokens are kept (to
// detect their reuse) until their session expires; Sweep drops expired
// sessions.
type MemorySessionStore struct {
	mu       sync.Mutex
	sessions map[string]*Session
	tokens   map[TokenHash]*memRefresh
}

type memRefresh struct {
	sid     string
	expires time.Time
	used    bool
}

// Create stores s and its first token.
func (m *MemorySessionStore) Create(_ context.Context, s Session, first TokenHash, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sessions == nil {
		m.sessions = make(map[string]*Session)
		m.tokens = make(map[TokenHash]*memRefresh)
	}
	if _, dup := m.sessions[s.ID]; dup {
		return ErrConflict
	}
	m.sessions[s.ID] = &s
	m.tokens[first] = &memRefresh{sid: s.ID, expires: expires}
	return nil
}

// Rotate implements SessionStore.Rotate under one lock.
func (m *MemorySessionStore) Rotate(_ context.Context, clientID string, used, next TokenHash, now time.Time) (Session, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rt := m.tokens[used]
	if rt == nil {
		return Session{}, time.Time{}, ErrRefreshUnknown
	}
	s := m.sessions[rt.sid]
	if s == nil || s.ClientID != clientID {
		return Session{}, time.Time{}, ErrRefreshUnknown
	}
	switch {
	case rt.used:
		if s.EndedAt.IsZero() {
			s.EndedAt = now
		}
		return *s, time.Time{}, ErrRefreshReused
	case !s.EndedAt.IsZero():
		return *s, time.Time{}, ErrSessionEnded
	case !now.Before(rt.expires) || !now.Before(s.ExpiresAt):
		return *s, time.Time{}, ErrRefreshExpired
	}
	rt.used = true
	exp := now.Add(s.IdleLifetime)
	if exp.After(s.ExpiresAt) {
		exp = s.ExpiresAt
	}
	m.tokens[next] = &memRefresh{sid: s.ID, expires: exp}
	return *s, exp, nil
}

// Lookup implements SessionStore.Lookup.
func (m *MemorySessionStore) Lookup(_ context.Context, clientID string, token TokenHash, now time.Time) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rt := m.tokens[token]
	if rt == nil {
		return Session{}, ErrRefreshUnknown
	}
	s := m.sessions[rt.sid]
	if s == nil || s.ClientID != clientID {
		return Session{}, ErrRefreshUnknown
	}
	switch {
	case rt.used:
		return *s, ErrRefreshReused
	case !s.EndedAt.IsZero():
		return *s, ErrSessionEnded
	case !now.Before(rt.expires) || !now.Before(s.ExpiresAt):
		return *s, ErrRefreshExpired
	}
	return *s, nil
}

// End ends session sid.
func (m *MemorySessionStore) End(_ context.Context, sid string, now time.Time) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sessions[sid]
	if s == nil {
		return Session{}, ErrNotFound
	}
	if s.EndedAt.IsZero() {
		s.EndedAt = now
	}
	return *s, nil
}

// EndSessionsOf ends the live sessions of subject with clientID.
func (m *MemorySessionStore) EndSessionsOf(_ context.Context, clientID, subject string, now time.Time) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var sids []string
	for _, s := range m.sessions {
		if s.ClientID == clientID && s.Subject == subject && s.EndedAt.IsZero() {
			s.EndedAt = now
			sids = append(sids, s.ID)
		}
	}
	slices.Sort(sids)
	return sids, nil
}

// Sweep drops the sessions that expired before now, with their tokens.
func (m *MemorySessionStore) Sweep(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h, rt := range m.tokens {
		if s := m.sessions[rt.sid]; s == nil || !now.Before(s.ExpiresAt) {
			delete(m.tokens, h)
		}
	}
	for id, s := range m.sessions {
		if !now.Before(s.ExpiresAt) {
			delete(m.sessions, id)
		}
	}
}

// SessionRevoker refuses the access tokens of ended sessions by their
// "sid": revocation.Memory is one.
type SessionRevoker interface {
	RevokeSession(sid string, until time.Time) error
}

// RevokeSessions returns an OnSessionEnded that revokes each ended
// session's access tokens in r, logging a failure (a full list, say)
// through slog.Default() at error level, with the sid.
func RevokeSessions(r SessionRevoker) func(ctx context.Context, sid string, until time.Time) {
	return func(ctx context.Context, sid string, until time.Time) {
		if err := r.RevokeSession(sid, until); err != nil {
			slog.Default().ErrorContext(ctx, "tollgate: access tokens of an ended session not revoked", "sid", sid, "error", err)
		}
	}
}
