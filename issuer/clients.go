package issuer

import (
	"context"
	stderrors "errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/tollgate/tollgate/revocation"
)

// Grant types a Client may be allowed (RFC 6749).
const (
	GrantClientCredentials = "client_credentials"
	GrantRefreshToken      = "refresh_token"
	GrantAuthorizationCode = "authorization_code"
	GrantPassword          = "password"
)

// ErrInvalidClient is RFC 6749's invalid_client: an unknown client id, a
// wrong secret or a disabled client, told apart only in the wrapped
// message, for logs.
var ErrInvalidClient = stderrors.New("issuer: invalid client")

// ErrInvalidScope is RFC 6749's invalid_scope: a scope the client may not
// request.
var ErrInvalidScope = stderrors.New("issuer: invalid scope")

// ErrUnauthorizedClient is RFC 6749's unauthorized_client: the client may
// not use this grant type.
var ErrUnauthorizedClient = stderrors.New("issuer: client not allowed this grant")

// ErrPublicClient refuses a secret for a public client.
var ErrPublicClient = stderrors.New("issuer: a public client has no secret")

// Client is a registered OAuth client.
type Client struct {
	ID   string
	Name string
	// SecretHash is the client secret's argon2id hash in the PHC string
	// format ($argon2id$v=19$m=…,t=…,p=…$salt$hash): never the secret.
	SecretHash string
	// Grants are the grant types the client may use; Scopes the scopes it
	// may request (a request without scope gets them all); Audience the
	// "aud" of its access tokens.
	Grants   []string
	Scopes   []string
	Audience []string
	// RedirectURIs are where the authorization endpoint may send the
	// user back with a code: absolute URIs without a fragment or
	// userinfo, https, or http on a loopback host, or a native app's
	// private-use scheme (RFC 8252 §7.1), in printable ASCII (hosts in
	// punycode). A request's redirect_uri must equal one of them byte for
	// byte (RFC 9700 §4.1.3): no prefix, pattern or case is matched
	// loosely. The one exception is RFC 8252 §7.3's: for a Public client,
	// on http to a loopback IP literal (127.0.0.1, [::1]; not localhost)
	// the port may differ, since a native app gets its port from the
	// system at each run.
	RedirectURIs []string
	// Public clients hold no secret (RFC 6749 §2.1: a native or browser
	// app): they authenticate with client_id alone, only on the
	// authorization_code and refresh_token grants, and must use PKCE.
	// Create gives them no secret.
	Public bool
	// GrantScopes restricts scopes to grants: a scope listed under one or
	// more grants is given only through those, and a scope listed under
	// none through every grant of the client. The marketplace's
	// integration scopes, for client_credentials only:
	//
	//	GrantScopes: map[string][]string{issuer.GrantClientCredentials: {"integration.order", "integration.inventory"}}
	GrantScopes map[string][]string
	// AccessTokenLifetime, RefreshIdleLifetime and RefreshAbsoluteLifetime
	// override the Minter's and the Sessions' defaults when set.
	AccessTokenLifetime     time.Duration
	RefreshIdleLifetime     time.Duration
	RefreshAbsoluteLifetime time.Duration
	// Disabled clients fail Authenticate.
	Disabled        bool
	CreatedAt       time.Time
	SecretRotatedAt time.Time
}

// AllowsGrant reports whether the client may use grant.
func (c *Client) AllowsGrant(grant string) bool { return slices.Contains(c.Grants, grant) }

// GrantedScopes returns the scopes a request for requested gets: all the
// client's scopes when requested is empty, else requested itself if every
// scope in it is the client's, else ErrInvalidScope.
func (c *Client) GrantedScopes(requested []string) ([]string, error) {
	if len(requested) == 0 {
		return slices.Clone(c.Scopes), nil
	}
	for _, s := range requested {
		if !slices.Contains(c.Scopes, s) {
			return nil, fmt.Errorf("%w: %q", ErrInvalidScope, s)
		}
	}
	return distinct(requested), nil
}

// GrantScopesFor is GrantedScopes for grant, after GrantScopes: without
// requested, every scope the grant gives; else requested, if the grant
// gives each of them, or ErrInvalidScope.
func (c *Client) GrantScopesFor(grant string, requested []string) ([]string, error) {
	if len(requested) == 0 {
		var out []string
		for _, s := range c.Scopes {
			if c.grantGives(grant, s) {
				out = append(out, s)
			}
		}
		return out, nil
	}
	for _, s := range requested {
		if !slices.Contains(c.Scopes, s) || !c.grantGives(grant, s) {
			return nil, fmt.Errorf("%w: %q", ErrInvalidScope, s)
		}
	}
	return distinct(requested), nil
}

// refreshGives reports whether a refresh may carry scope on: the client is
// registered for it, and GrantScopes lets some grant that has refresh
// tokens give it (any grant but client_credentials).
func (c *Client) refreshGives(scope string) bool {
	if !slices.Contains(c.Scopes, scope) {
		return false
	}
	restricted := false
	for g, scopes := range c.GrantScopes {
		if slices.Contains(scopes, scope) {
			if g != GrantClientCredentials {
				return true
			}
			restricted = true
		}
	}
	return !restricted
}

// grantGives reports whether grant may give scope under GrantScopes.
func (c *Client) grantGives(grant, scope string) bool {
	restricted := false
	for g, scopes := range c.GrantScopes {
		if slices.Contains(scopes, scope) {
			if g == grant {
				return true
			}
			restricted = true
		}
	}
	return !restricted
}

// distinct drops the repeats of a scope list, keeping the first of each
// in its place.
func distinct(scopes []string) []string {
	out := scopes[:0:0]
	for _, s := range scopes {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// ClientStore keeps clients. It must be safe for concurrent use.
type ClientStore interface {
	// Client returns the client with this id, or ErrNotFound.
	Client(ctx context.Context, id string) (Client, error)
	// CreateClient stores c, or returns ErrConflict if its id is taken.
	CreateClient(ctx context.Context, c Client) error
	// UpdateClient replaces the client of c.ID, or returns ErrNotFound.
	UpdateClient(ctx context.Context, c Client) error
}

// Argon2Params are the argon2id parameters of new client-secret hashes.
// A hash records its own parameters, so changing them leaves existing
// secrets valid; they take effect at the next secret.
type Argon2Params struct {
	Time      uint32 // passes
	MemoryKiB uint32
	Threads   uint8
	SaltBytes uint32
	KeyBytes  uint32
}

// DefaultArgon2Params are OWASP's recommended minimum for argon2id (Password
// Storage Cheat Sheet): 19 MiB, 2 passes, 1 thread, with a 16-byte salt
// and a 32-byte hash; some 20 ms of one core per hash. A client secret is
// 256 random bits, out of reach of any guessing: the hash protects it at
// rest against whoever reads the table, not against a weak choice.
var DefaultArgon2Params = Argon2Params{Time: 2, MemoryKiB: 19 * 1024, Threads: 1, SaltBytes: 16, KeyBytes: 32}

// ClientsConfig configures Clients. The zero value keeps clients in
// memory with DefaultArgon2Params.
type ClientsConfig struct {
	// Store keeps the clients; nil means a new MemoryClientStore.
	Store ClientStore
	// Argon2 are the parameters of new secret hashes; zero means
	// DefaultArgon2Params.
	Argon2 Argon2Params
	// MaxConcurrentHashes bounds the argon2id computations running at
	// once (each holds MemoryKiB), so a flood of authentications costs a
	// queue, not the process's memory. Zero means GOMAXPROCS.
	MaxConcurrentHashes int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnSecretRegenerated is called after RegenerateSecret stored a client's
	// new secret, with the moment the old one stopped: to end the tokens
	// issued under the old secret (RevokeClientTokens does, through the
	// revocation layer). Nil: tokens already issued live out their
	// lifetime.
	OnSecretRegenerated func(ctx context.Context, clientID string, at time.Time)
}

// ClientRevoker refuses the tokens of a client issued before a time:
// revocation.Memory is one (redisrevocation.Store is too, through a
// closure that passes a context).
type ClientRevoker interface {
	RevokeRule(r revocation.Rule) error
}

// RevokeClientTokens returns an OnSecretRegenerated that revokes, in r,
// every token of the client issued before its secret was regenerated, for
// maxLifetime (the longest access-token lifetime the client gets), so
// whoever held the old secret keeps nothing it obtained with it. A failure
// is logged through slog.Default() at error level with the client id.
func RevokeClientTokens(r ClientRevoker, maxLifetime time.Duration) func(ctx context.Context, clientID string, at time.Time) {
	return func(ctx context.Context, clientID string, at time.Time) {
		if err := r.RevokeRule(revocation.Rule{Client: clientID, Before: at, Until: at.Add(maxLifetime)}); err != nil {
			slog.Default().ErrorContext(ctx, "tollgate: tokens issued under a regenerated client secret not revoked", "client_id", clientID, "error", err)
		}
	}
}

// Clients registers OAuth clients and authenticates them by id and secret.
// Secrets are 256 bits from crypto/rand, shown once by Create and
// RegenerateSecret, and stored only as argon2id hashes compared in
// constant time. Authenticating an unknown client costs a hash as well, so
// response time does not tell which ids exist. It is safe for concurrent
// use.
type Clients struct {
	cfg   ClientsConfig
	slots chan struct{}
	dummy string
}

// NewClients checks cfg.
func NewClients(cfg ClientsConfig) (*Clients, error) {
	if cfg.Store == nil {
		cfg.Store = &MemoryClientStore{}
	}
	if cfg.Argon2 == (Argon2Params{}) {
		cfg.Argon2 = DefaultArgon2Params
	}
	p := cfg.Argon2
	if p.Time < 1 || p.MemoryKiB < 8*uint32(p.Threads) || p.Threads < 1 || p.SaltBytes < 16 || p.KeyBytes < 16 {
		return nil, stderrors.New("issuer: ClientsConfig.Argon2: need Time ≥ 1, Threads ≥ 1, MemoryKiB ≥ 8 × Threads, SaltBytes ≥ 16, KeyBytes ≥ 16")
	}
	if cfg.MaxConcurrentHashes <= 0 {
		cfg.MaxConcurrentHashes = runtime.GOMAXPROCS(0)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Clients{cfg: cfg, slots: make(chan struct{}, cfg.MaxConcurrentHashes)}
	var err error
	if c.dummy, err = c.hash(context.Background(), randomString(32)); err != nil {
		return nil, err
	}
	return c, nil
}

// Create registers c with a new secret, which it returns: the only time
// the secret is seen. An empty c.ID gets a random one.
func (c *Clients) Create(ctx context.Context, cl Client) (Client, Token, error) {
	if err := cl.validate(); err != nil {
		return Client{}, "", err
	}
	if cl.ID == "" {
		cl.ID = randomString(16)
	}
	now := c.cfg.Now()
	cl.CreatedAt = now
	var secret Token
	if !cl.Public {
		secret = Token(randomString(32))
		h, err := c.hash(ctx, secret.Reveal())
		if err != nil {
			return Client{}, "", err
		}
		cl.SecretHash, cl.SecretRotatedAt = h, now
	}
	if err := c.cfg.Store.CreateClient(ctx, cl); err != nil {
		return Client{}, "", err
	}
	return cl, secret, nil
}

// RegenerateSecret gives client id a new secret and returns it; the old
// one stops working at once, and ClientsConfig.OnSecretRegenerated is told,
// to end the tokens issued under it.
func (c *Clients) RegenerateSecret(ctx context.Context, id string) (Token, error) {
	cl, err := c.cfg.Store.Client(ctx, id)
	if err != nil {
		return "", err
	}
	if cl.Public {
		return "", ErrPublicClient
	}
	secret := Token(randomString(32))
	if cl.SecretHash, err = c.hash(ctx, secret.Reveal()); err != nil {
		return "", err
	}
	cl.SecretRotatedAt = c.cfg.Now()
	if err := c.cfg.Store.UpdateClient(ctx, cl); err != nil {
		return "", err
	}
	if c.cfg.OnSecretRegenerated != nil {
		c.cfg.OnSecretRegenerated(ctx, id, cl.SecretRotatedAt)
	}
	return secret, nil
}

// Authenticate returns the client id whose secret is secret, or an
// ErrInvalidClient (or the store's error). It costs one argon2id hash
// whether or not the client exists.
func (c *Clients) Authenticate(ctx context.Context, id, secret string) (Client, error) {
	cl, err := c.cfg.Store.Client(ctx, id)
	if err != nil && !stderrors.Is(err, ErrNotFound) {
		return Client{}, err
	}
	known := err == nil && cl.SecretHash != ""
	stored := c.dummy
	if known {
		stored = cl.SecretHash
	}
	ok, herr := c.verify(ctx, stored, secret)
	switch {
	case herr != nil && ctx.Err() != nil:
		return Client{}, herr
	case !known:
		return Client{}, fmt.Errorf("%w: unknown client", ErrInvalidClient)
	case herr != nil:
		return Client{}, fmt.Errorf("%w: unreadable secret hash: %v", ErrInvalidClient, herr)
	case !ok:
		return Client{}, fmt.Errorf("%w: wrong secret", ErrInvalidClient)
	case cl.Disabled:
		return Client{}, fmt.Errorf("%w: disabled", ErrInvalidClient)
	}
	return cl, nil
}

// Client returns the client with this id, or ErrNotFound.
func (c *Clients) Client(ctx context.Context, id string) (Client, error) {
	return c.cfg.Store.Client(ctx, id)
}

// Update replaces a client's settings (grants, scopes, redirect URIs,
// lifetimes, Disabled), keeping its secret hash and creation time.
func (c *Clients) Update(ctx context.Context, cl Client) error {
	if err := cl.validate(); err != nil {
		return err
	}
	old, err := c.cfg.Store.Client(ctx, cl.ID)
	if err != nil {
		return err
	}
	if old.Public != cl.Public {
		return stderrors.New("issuer: a client cannot change between public and confidential")
	}
	cl.SecretHash, cl.CreatedAt, cl.SecretRotatedAt = old.SecretHash, old.CreatedAt, old.SecretRotatedAt
	return c.cfg.Store.UpdateClient(ctx, cl)
}

func (c *Clients) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case c.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hash is HashSecret under the cap on concurrent hashes.
func (c *Clients) hash(ctx context.Context, secret string) (string, error) {
	if err := c.acquire(ctx); err != nil {
		return "", err
	}
	defer func() { <-c.slots }()
	return HashSecret(c.cfg.Argon2, secret), nil
}

// verify is CheckSecret under the cap on concurrent hashes.
func (c *Clients) verify(ctx context.Context, stored, secret string) (bool, error) {
	if err := c.acquire(ctx); err != nil {
		return false, err
	}
	defer func() { <-c.slots }()
	return CheckSecret(stored, secret)
}

// MemoryClientStore is a ClientStore in memory. The zero value is ready.
type MemoryClientStore struct {
	mu      sync.Mutex
	clients map[string]Client
}

func cloneClient(c Client) Client {
	c.Grants, c.Scopes, c.Audience = slices.Clone(c.Grants), slices.Clone(c.Scopes), slices.Clone(c.Audience)
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	if c.GrantScopes != nil {
		gs := make(map[string][]string, len(c.GrantScopes))
		for g, s := range c.GrantScopes {
			gs[g] = slices.Clone(s)
		}
		c.GrantScopes = gs
	}
	return c
}

// Client returns a copy of the client with this id.
func (m *MemoryClientStore) Client(_ context.Context, id string) (Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.clients[id]
	if !ok {
		return Client{}, ErrNotFound
	}
	return cloneClient(c), nil
}

// CreateClient stores a copy of c.
func (m *MemoryClientStore) CreateClient(_ context.Context, c Client) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.clients[c.ID]; ok {
		return ErrConflict
	}
	if m.clients == nil {
		m.clients = make(map[string]Client)
	}
	m.clients[c.ID] = cloneClient(c)
	return nil
}

// UpdateClient replaces the client of c.ID.
func (m *MemoryClientStore) UpdateClient(_ context.Context, c Client) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.clients[c.ID]; !ok {
		return ErrNotFound
	}
	m.clients[c.ID] = cloneClient(c)
	return nil
}
