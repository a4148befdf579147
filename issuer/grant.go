package issuer

import (
	"cmp"
	"context"
	stderrors "errors"
	"slices"
	"sync"
	"time"

	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/revocation"
)

// A Grant is a user's consent to one client: the scopes the user let it
// have, recorded when the user approves an authorization request and kept
// until the user revokes it. Every authorization code and refresh session
// of the authorization code grant comes from one.
type Grant struct {
	// ID is the grant's own: a grant revoked and given again is a new one,
	// so codes issued under the old one are refused.
	ID       string
	Subject  string
	ClientID string
	// Scopes is every scope the user approved for the client, over all
	// approvals.
	Scopes    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// GrantStore keeps grants, one per subject and client. It must be safe
// for concurrent use.
type GrantStore interface {
	// AddGrant stores g; if the subject has a grant for the client
	// already, it adds g.Scopes to that grant's and sets its UpdatedAt
	// instead, in one atomic step. Scopes are kept sorted (byte order)
	// without duplicates. It returns the grant as stored.
	AddGrant(ctx context.Context, g Grant) (Grant, error)
	// Grant returns the subject's grant to the client, or ErrNotFound.
	Grant(ctx context.Context, subject, clientID string) (Grant, error)
	// DeleteGrant removes the subject's grant to the client and returns
	// it, or ErrNotFound.
	DeleteGrant(ctx context.Context, subject, clientID string) (Grant, error)
	// GrantsOf returns the subject's grants, oldest first (by client id
	// among equals).
	GrantsOf(ctx context.Context, subject string) ([]Grant, error)
}

// GrantsConfig configures Grants. Sessions is required; the rest has
// defaults.
type GrantsConfig struct {
	// Store keeps the grants; nil means a new MemoryGrantStore.
	Store GrantStore
	// Codes keeps the authorization codes; nil means a new
	// MemoryCodeStore.
	Codes CodeStore
	// Sessions are the refresh sessions codes start, ended when their
	// grant is revoked or their code replayed. Required.
	Sessions *Sessions
	// CodeLifetime is how long a code may wait to be redeemed; default
	// and at most MaxCodeLifetime (60 s).
	CodeLifetime time.Duration
	// OnGrantRevoked, if set, is called when a user revokes a grant, with
	// the time of the revocation, before anything else is changed. Give
	// it to the revocation layer so that the access tokens issued under
	// the grant are refused at once: RevokeGrantTokens for a
	// revocation.Memory; for a fleet, a redisrevocation.Store:
	//
	//	OnGrantRevoked: func(ctx context.Context, g issuer.Grant, at time.Time) error {
	//		return store.RevokeRule(ctx, issuer.GrantRevocationRule(g, at, maxAccessLifetime))
	//	}
	//
	// An error stops the revocation: Revoke returns it and the grant
	// stands, so the user can try again rather than be told the app is
	// gone while its tokens still work.
	//
	// Ending the grant's sessions also tells SessionsConfig.OnSessionEnded
	// of each, which refuses their access tokens by "sid". Set both: the
	// rule covers the tokens of sessions already gone, and the sid
	// covers a token minted while the revocation ran (its "iat" is not
	// before the rule's) and those of the revocation's own second.
	OnGrantRevoked func(ctx context.Context, g Grant, at time.Time) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Grants keeps the state of the authorization code grant (RFC 6749 §4.1):
// the users' consents (Grant) and the codes issued under them. The
// authorization endpoint (NewAuthorizeHandler) records a consent and
// issues a code; the token endpoint (TokenConfig.Grants) redeems it, once.
// Give both the same Grants.
//
// A code is 256 bits from crypto/rand, stored only as its SHA-256, bound
// to its client, redirect URI, PKCE challenge, user, scopes and grant,
// and redeemable once within CodeLifetime. Presenting it again ends the
// refresh session it started, which (through
// SessionsConfig.OnSessionEnded) revokes the access tokens issued from it.
//
// A user revoking an app (Revoke) deletes the grant, ends every refresh
// session of that user and client, and tells OnGrantRevoked, so the
// access tokens already issued are refused too; codes not yet redeemed
// are refused at the token endpoint.
//
// It is safe for concurrent use.
type Grants struct {
	cfg GrantsConfig
}

// NewGrants checks cfg.
func NewGrants(cfg GrantsConfig) (*Grants, error) {
	if cfg.Sessions == nil {
		return nil, stderrors.New("issuer: GrantsConfig needs Sessions")
	}
	if cfg.Store == nil {
		cfg.Store = &MemoryGrantStore{}
	}
	if cfg.Codes == nil {
		cfg.Codes = &MemoryCodeStore{}
	}
	switch {
	case cfg.CodeLifetime == 0:
		cfg.CodeLifetime = MaxCodeLifetime
	case cfg.CodeLifetime < 0 || cfg.CodeLifetime > MaxCodeLifetime:
		return nil, stderrors.New("issuer: GrantsConfig.CodeLifetime must be positive and at most 60s")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Grants{cfg: cfg}, nil
}

// Lookup returns subject's grant to clientID, or ErrNotFound: a consent
// page may skip asking for what Grant.Scopes holds already. It should not
// for a public client whose redirect URI is a private-use scheme or
// loopback (RFC 8252 §8.6): another app on the device can claim it and
// would get codes without the user seeing a page.
func (g *Grants) Lookup(ctx context.Context, subject, clientID string) (Grant, error) {
	return g.cfg.Store.Grant(ctx, subject, clientID)
}

// List returns subject's grants, for a page of the apps a user has
// authorized.
func (g *Grants) List(ctx context.Context, subject string) ([]Grant, error) {
	return g.cfg.Store.GrantsOf(ctx, subject)
}

// Record adds scopes to subject's grant to clientID, creating it if there
// is none, and returns it. The authorization endpoint calls it on
// approval; a provider calls it itself only to import consents.
func (g *Grants) Record(ctx context.Context, subject, clientID string, scopes []string) (Grant, error) {
	if subject == "" || clientID == "" {
		return Grant{}, stderrors.New("issuer: a grant needs a subject and a client")
	}
	now := g.cfg.Now()
	return g.cfg.Store.AddGrant(ctx, Grant{
		ID: randomString(16), Subject: subject, ClientID: clientID,
		Scopes: slices.Compact(slices.Sorted(slices.Values(scopes))), CreatedAt: now, UpdatedAt: now,
	})
}

// Revoke ends subject's grant to clientID: the user revoked the app.
// OnGrantRevoked is told first, to refuse the access tokens already
// issued; then the grant is deleted and every refresh session of the user
// with the client ended (SessionsConfig.OnSessionEnded is told of each).
// The client needs the user to authorize it again. If OnGrantRevoked
// fails, Revoke returns its error having changed nothing. Without a grant,
// the sessions are ended and OnGrantRevoked told all the same, if there
// were any (they may come from before grants were recorded); ErrNotFound
// is returned when there was neither a grant nor a live session.
func (g *Grants) Revoke(ctx context.Context, subject, clientID string) error {
	if subject == "" || clientID == "" {
		return stderrors.New("issuer: Revoke needs a subject and a client")
	}
	now := g.cfg.Now()
	gr, err := g.cfg.Store.Grant(ctx, subject, clientID)
	missing := stderrors.Is(err, ErrNotFound)
	if err != nil && !missing {
		return err
	}
	if !missing {
		if err := g.revoked(ctx, gr, now); err != nil {
			return err
		}
		if _, err := g.cfg.Store.DeleteGrant(ctx, subject, clientID); err != nil && !stderrors.Is(err, ErrNotFound) {
			return err
		}
	}
	// After the delete: a code redeemed concurrently checks its grant
	// after starting its session, so either it finds the grant gone or
	// its session exists by now and ends here.
	ended, err := g.cfg.Sessions.EndAll(ctx, clientID, subject)
	if err != nil {
		return err
	}
	if missing {
		if ended == 0 {
			return ErrNotFound
		}
		return g.revoked(ctx, Grant{Subject: subject, ClientID: clientID}, now)
	}
	return nil
}

func (g *Grants) revoked(ctx context.Context, gr Grant, at time.Time) error {
	if g.cfg.OnGrantRevoked == nil {
		return nil
	}
	return g.cfg.OnGrantRevoked(ctx, gr, at)
}

// RuleRevoker refuses tokens by a revocation.Rule: revocation.Memory is
// one (redisrevocation.Store is too, through a closure that passes a
// context).
type RuleRevoker interface {
	RevokeRule(r revocation.Rule) error
}

// GrantRevocationRule is the revocation.Rule that refuses the tokens of
// grant g revoked at at: the tokens of its subject through its client
// issued before at, kept for maxLifetime (the longest access-token
// lifetime the client gets) plus jwt.MaxLeeway.
//
// Before is at rounded down to the second. A token's "iat" is in whole
// seconds, so a Before inside a second would also refuse a token the user
// got by authorizing the app again later in that second, for its whole
// lifetime; the tokens issued earlier in that second all carry the "sid"
// of a session the revocation ended, and are refused by it.
func GrantRevocationRule(g Grant, at time.Time, maxLifetime time.Duration) revocation.Rule {
	return revocation.Rule{Subject: g.Subject, Client: g.ClientID, Before: at.Truncate(time.Second), Until: at.Add(maxLifetime + jwt.MaxLeeway)}
}

// RevokeGrantTokens returns an OnGrantRevoked that adds
// GrantRevocationRule to r.
func RevokeGrantTokens(r RuleRevoker, maxLifetime time.Duration) func(ctx context.Context, g Grant, at time.Time) error {
	return func(_ context.Context, g Grant, at time.Time) error {
		return r.RevokeRule(GrantRevocationRule(g, at, maxLifetime))
	}
}

// MemoryGrantStore is a GrantStore in memory, for one process and for
// tests. The zero value is ready to use.
type MemoryGrantStore struct {
	mu     sync.Mutex
	grants map[grantKey]Grant
}

type grantKey struct{ subject, client string }

func cloneGrant(g Grant) Grant {
	g.Scopes = slices.Clone(g.Scopes)
	return g
}

// AddGrant implements GrantStore.AddGrant under one lock.
func (m *MemoryGrantStore) AddGrant(_ context.Context, g Grant) (Grant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.grants == nil {
		m.grants = make(map[grantKey]Grant)
	}
	k := grantKey{g.Subject, g.ClientID}
	if old, ok := m.grants[k]; ok {
		old.Scopes = append(slices.Clone(old.Scopes), g.Scopes...)
		old.UpdatedAt = g.UpdatedAt
		g = old
	}
	g.Scopes = slices.Compact(slices.Sorted(slices.Values(g.Scopes)))
	m.grants[k] = cloneGrant(g)
	return cloneGrant(g), nil
}

// Grant returns a copy of the subject's grant to the client.
func (m *MemoryGrantStore) Grant(_ context.Context, subject, clientID string) (Grant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.grants[grantKey{subject, clientID}]
	if !ok {
		return Grant{}, ErrNotFound
	}
	return cloneGrant(g), nil
}

// DeleteGrant removes the subject's grant to the client.
func (m *MemoryGrantStore) DeleteGrant(_ context.Context, subject, clientID string) (Grant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := grantKey{subject, clientID}
	g, ok := m.grants[k]
	if !ok {
		return Grant{}, ErrNotFound
	}
	delete(m.grants, k)
	return g, nil
}

// GrantsOf returns copies of the subject's grants, oldest first.
func (m *MemoryGrantStore) GrantsOf(_ context.Context, subject string) ([]Grant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Grant
	for k, g := range m.grants {
		if k.subject == subject {
			out = append(out, cloneGrant(g))
		}
	}
	slices.SortFunc(out, func(a, b Grant) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ClientID, b.ClientID)
	})
	return out, nil
}
