package issuer

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	stderrors "errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Authorization codes (RFC 6749 §4.1).
const (
	// MaxCodeLifetime bounds an authorization code's life: 60 seconds, the
	// default too. RFC 6749 §4.1.2 allows ten minutes; a code is redeemed
	// by the client's back end within a second of the redirect, and every
	// second more is time for a leaked one.
	MaxCodeLifetime = 60 * time.Second
	// CodeReplayWindow is how long a code's record outlives the code, so
	// that a code presented again within it, even after it expired,
	// still ends the tokens issued from it (RFC 6749 §4.1.2).
	CodeReplayWindow = 24 * time.Hour
	// codeBytes is an authorization code's entropy: 256 bits.
	codeBytes = 32
)

// Why an authorization code was refused; each is an ErrInvalidGrant, and
// a client is told only invalid_grant.
var (
	// ErrCodeUnknown: no such code, or it was issued to another client,
	// for another redirect URI, or its PKCE verifier does not match.
	ErrCodeUnknown = fmt.Errorf("%w: unknown authorization code", ErrInvalidGrant)
	// ErrCodeExpired: the code is past its lifetime.
	ErrCodeExpired = fmt.Errorf("%w: authorization code expired", ErrInvalidGrant)
	// ErrCodeReused: the code was presented before. The tokens issued from
	// it have been revoked (its refresh session ended).
	ErrCodeReused = fmt.Errorf("%w: authorization code used before; its tokens are revoked", ErrInvalidGrant)
	// ErrGrantRevoked: the user revoked the grant the code was issued
	// under, after it was issued.
	ErrGrantRevoked = fmt.Errorf("%w: the grant was revoked", ErrInvalidGrant)
)

// AuthorizationCode is what a CodeStore keeps of one authorization code:
// its hash, never the code, and everything the code is bound to.
type AuthorizationCode struct {
	// Hash is the SHA-256 of the code.
	Hash TokenHash
	// ClientID, RedirectURI and Challenge bind the code: only that client
	// redeems it, presenting the same redirect URI when the authorization
	// request named one (RedirectURIGiven), and a PKCE verifier whose
	// S256 hash is Challenge when Challenge is set.
	ClientID         string
	RedirectURI      string
	RedirectURIGiven bool
	Challenge        string
	// Subject is the user who approved; Scopes what they approved; GrantID
	// the Grant that records it.
	Subject string
	Scopes  []string
	GrantID string
	// CreatedAt is when the code was issued and ExpiresAt when it stops
	// being redeemable; the store may forget the record after
	// ExpiresAt + CodeReplayWindow.
	CreatedAt time.Time
	ExpiresAt time.Time
	// RedeemedAt is when the code was first redeemed; SessionID the
	// refresh session started then; Replayed whether it was presented
	// again after that. The store sets them.
	RedeemedAt time.Time
	SessionID  string
	Replayed   bool
}

// CodeStore keeps authorization codes. It must be safe for concurrent
// use, and RedeemCode must be atomic: of concurrent calls for one code,
// exactly one may succeed.
type CodeStore interface {
	// CreateCode stores c, or returns ErrConflict if its hash is taken. It
	// may drop records past ExpiresAt + CodeReplayWindow.
	CreateCode(ctx context.Context, c AuthorizationCode) error
	// Code returns the code hashed as h, changing nothing, or ErrNotFound.
	Code(ctx context.Context, h TokenHash) (AuthorizationCode, error)
	// RedeemCode marks the code hashed as h redeemed at now and returns
	// it, in one atomic step. A code redeemed before is marked Replayed and
	// returned, as stored, with ErrCodeReused; an unknown one is
	// ErrNotFound. RedeemCode does not look at expiry.
	RedeemCode(ctx context.Context, h TokenHash, now time.Time) (AuthorizationCode, error)
	// BindCode records sid as the refresh session started from the code
	// hashed as h. If the code was replayed in the meantime it records sid
	// all the same and returns ErrCodeReused, and the caller ends the
	// session.
	BindCode(ctx context.Context, h TokenHash, sid string) error
}

// HashCode returns the hash a CodeStore keeps of an authorization code.
func HashCode(code string) TokenHash { return sha256.Sum256([]byte(code)) }

// newCode returns a new authorization code: 256 bits from crypto/rand,
// base64url.
func newCode() (Token, TokenHash) {
	t := randomString(codeBytes)
	return Token(t), HashCode(t)
}

// is256Bits reports whether s is 32 bytes in unpadded base64url: the
// shape of a code newCode made, and of an S256 code_challenge.
func is256Bits(s string) bool {
	if len(s) != b64.EncodedLen(codeBytes) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isB64URL(s[i]) {
			return false
		}
	}
	return true
}

func isB64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// PKCE (RFC 7636). Only S256 is accepted: "plain" protects nothing
// against an attacker who reads the authorization request.
const PKCEMethodS256 = "S256"

// validVerifier reports whether v is a code_verifier of RFC 7636 §4.1: 43
// to 128 characters of [A-Za-z0-9-._~].
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !isB64URL(c) && c != '.' && c != '~' {
			return false
		}
	}
	return true
}

// S256Challenge returns the S256 code_challenge of verifier: the
// unpadded base64url of its SHA-256 (RFC 7636 §4.2).
func S256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return b64.EncodeToString(sum[:])
}

// verifierMatches compares verifier's S256 challenge with challenge in
// constant time.
func verifierMatches(verifier, challenge string) bool {
	return subtle.ConstantTimeCompare([]byte(S256Challenge(verifier)), []byte(challenge)) == 1
}

// DefaultMaxCodes bounds a MemoryCodeStore: 100,000 records, some 30
// MB.
const DefaultMaxCodes = 100_000

// ErrCodeStoreFull refuses a code when a MemoryCodeStore holds MaxCodes
// records of codes still redeemable; the authorization endpoint answers
// temporarily_unavailable.
var ErrCodeStoreFull = stderrors.New("issuer: the code store is full")

// MemoryCodeStore is a CodeStore in memory, for one process and for
// tests. The zero value is ready to use. Records are dropped
// CodeReplayWindow after their code expires, as new codes are stored.
// At MaxCodes records, the records of expired codes go first (a replay
// of one is then refused without revoking its tokens); with none left to
// drop, CreateCode returns ErrCodeStoreFull.
type MemoryCodeStore struct {
	// MaxCodes bounds the records kept; zero means DefaultMaxCodes.
	MaxCodes int

	mu        sync.Mutex
	codes     map[TokenHash]*AuthorizationCode
	nextSweep time.Time
}

func cloneCode(c AuthorizationCode) AuthorizationCode {
	c.Scopes = slices.Clone(c.Scopes)
	return c
}

// CreateCode stores a copy of c.
func (m *MemoryCodeStore) CreateCode(_ context.Context, c AuthorizationCode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.codes == nil {
		m.codes = make(map[TokenHash]*AuthorizationCode)
	}
	if _, dup := m.codes[c.Hash]; dup {
		return ErrConflict
	}
	now := c.CreatedAt
	if !now.Before(m.nextSweep) {
		m.drop(now.Add(-CodeReplayWindow))
		m.nextSweep = now.Add(time.Minute)
	}
	max := m.MaxCodes
	if max <= 0 {
		max = DefaultMaxCodes
	}
	if len(m.codes) >= max {
		m.drop(now)
		if len(m.codes) >= max {
			return ErrCodeStoreFull
		}
	}
	cc := cloneCode(c)
	m.codes[c.Hash] = &cc
	return nil
}

// drop deletes the records of codes that expired before cutoff.
func (m *MemoryCodeStore) drop(cutoff time.Time) {
	for h, c := range m.codes {
		if c.ExpiresAt.Before(cutoff) {
			delete(m.codes, h)
		}
	}
}

// Code returns a copy of the code hashed as h.
func (m *MemoryCodeStore) Code(_ context.Context, h TokenHash) (AuthorizationCode, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.codes[h]
	if c == nil {
		return AuthorizationCode{}, ErrNotFound
	}
	return cloneCode(*c), nil
}

// RedeemCode implements CodeStore.RedeemCode under one lock.
func (m *MemoryCodeStore) RedeemCode(_ context.Context, h TokenHash, now time.Time) (AuthorizationCode, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.codes[h]
	if c == nil {
		return AuthorizationCode{}, ErrNotFound
	}
	if !c.RedeemedAt.IsZero() {
		c.Replayed = true
		return cloneCode(*c), ErrCodeReused
	}
	c.RedeemedAt = now
	return cloneCode(*c), nil
}

// BindCode implements CodeStore.BindCode.
func (m *MemoryCodeStore) BindCode(_ context.Context, h TokenHash, sid string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.codes[h]
	if c == nil {
		return ErrNotFound
	}
	c.SessionID = sid
	if c.Replayed {
		return ErrCodeReused
	}
	return nil
}
