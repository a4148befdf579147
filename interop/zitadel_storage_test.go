package interop

// A small in-memory storage for zitadel/oidc's OpenID Provider: confidential
// clients with secrets, the client_credentials grant (JWT or opaque access
// tokens, chosen per client), the authorization code grant with a login that
// the test performs, refresh tokens, introspection, revocation and signing
// keys that the test rotates. It follows the shape of zitadel/oidc's
// example/server/storage (Apache-2.0), cut to what the tests drive.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// zClient is one registered client of the zitadel provider.
type zClient struct {
	id, secret   string
	grants       []oidc.GrantType
	tokenType    op.AccessTokenType
	redirectURIs []string
	loginURL     string
}

func (c *zClient) GetID() string                    { return c.id }
func (c *zClient) RedirectURIs() []string           { return c.redirectURIs }
func (c *zClient) PostLogoutRedirectURIs() []string { return nil }
func (c *zClient) ApplicationType() op.ApplicationType {
	return op.ApplicationTypeWeb
}
func (c *zClient) AuthMethod() oidc.AuthMethod { return oidc.AuthMethodBasic }
func (c *zClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *zClient) GrantTypes() []oidc.GrantType         { return c.grants }
func (c *zClient) LoginURL(id string) string            { return c.loginURL + "?id=" + id }
func (c *zClient) AccessTokenType() op.AccessTokenType  { return c.tokenType }
func (c *zClient) IDTokenLifetime() time.Duration       { return time.Hour }
func (c *zClient) DevMode() bool                        { return false }
func (c *zClient) IsScopeAllowed(string) bool           { return true }
func (c *zClient) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *zClient) ClockSkew() time.Duration             { return 0 }
func (c *zClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *zClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// zKey is an RSA signing key; it serves as both op.SigningKey and op.Key.
type zKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *zKey) ID() string                                  { return k.id }
func (k *zKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }

// Key is the private key for signing; publicKey wraps it for the JWKS.
func (k *zKey) Key() any { return k.key }

type publicKey struct{ *zKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.key.PublicKey }

// zAuthRequest is one authorization request, done once the test logs in.
type zAuthRequest struct {
	id, clientID, redirectURI, state, nonce, subject string
	scopes                                           []string
	challenge                                        *oidc.CodeChallenge
	audience                                         []string
	done                                             bool
	authTime                                         time.Time
}

func (a *zAuthRequest) GetID() string                         { return a.id }
func (a *zAuthRequest) GetACR() string                        { return "" }
func (a *zAuthRequest) GetAMR() []string                      { return []string{"pwd"} }
func (a *zAuthRequest) GetAudience() []string                 { return a.audience }
func (a *zAuthRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *zAuthRequest) GetClientID() string                   { return a.clientID }
func (a *zAuthRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *zAuthRequest) GetNonce() string                      { return a.nonce }
func (a *zAuthRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *zAuthRequest) GetResponseType() oidc.ResponseType    { return oidc.ResponseTypeCode }
func (a *zAuthRequest) GetResponseMode() oidc.ResponseMode    { return oidc.ResponseModeQuery }
func (a *zAuthRequest) GetScopes() []string                   { return a.scopes }
func (a *zAuthRequest) GetState() string                      { return a.state }
func (a *zAuthRequest) GetSubject() string                    { return a.subject }
func (a *zAuthRequest) Done() bool                            { return a.done }

// zToken is an issued access token, known by its ID (the JWT's jti, or the
// ID inside zitadel's encrypted opaque token).
type zToken struct {
	id, clientID, subject string
	audience, scopes      []string
	exp                   time.Time
}

// zStorage implements op.Storage and op.ClientCredentialsStorage.
type zStorage struct {
	mu           sync.Mutex
	clients      map[string]*zClient
	authRequests map[string]*zAuthRequest
	codes        map[string]string
	tokens       map[string]*zToken
	refresh      map[string]*zToken // refresh token → the access token it came with
	keys         []*zKey            // published; the last one signs
	audience     string             // the API every token is also issued for
}

func newZStorage(audience string) *zStorage {
	s := &zStorage{
		clients:      map[string]*zClient{},
		authRequests: map[string]*zAuthRequest{},
		codes:        map[string]string{},
		tokens:       map[string]*zToken{},
		refresh:      map[string]*zToken{},
		audience:     audience,
	}
	s.rotate()
	return s
}

// rotate adds a new signing key, publishing it beside the old ones, and
// returns its kid.
func (s *zStorage) rotate() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, &zKey{id: randomID(), key: rsaKey()})
	return s.keys[len(s.keys)-1].id
}

// unpublish removes the key kid from the JWKS. The current signing key
// cannot be removed.
func (s *zStorage) unpublish(kid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys[len(s.keys)-1].id == kid {
		panic("unpublish: " + kid + " is the current signing key")
	}
	s.keys = slices.DeleteFunc(s.keys, func(k *zKey) bool { return k.id == kid })
}

func (s *zStorage) addClient(c *zClient) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.id] = c
}

func (s *zStorage) client(id, secret string) (*zClient, error) {
	s.mu.Lock()
	c, ok := s.clients[id]
	s.mu.Unlock()
	if !ok || subtle.ConstantTimeCompare([]byte(c.secret), []byte(secret)) != 1 {
		return nil, errors.New("unknown client or wrong secret")
	}
	return c, nil
}

// login marks the authorization request id as authenticated for subject,
// what a login page would do.
func (s *zStorage) login(id, subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authRequests[id]
	if !ok {
		return errors.New("no such authorization request")
	}
	a.subject, a.done, a.authTime = subject, true, time.Now()
	return nil
}

func (s *zStorage) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	a := &zAuthRequest{
		id: randomID(), clientID: r.ClientID, redirectURI: r.RedirectURI,
		state: r.State, nonce: r.Nonce, scopes: r.Scopes,
		audience: []string{r.ClientID, s.audience},
	}
	if r.CodeChallenge != "" {
		a.challenge = &oidc.CodeChallenge{Challenge: r.CodeChallenge, Method: r.CodeChallengeMethod}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authRequests[a.id] = a
	return a, nil
}

func (s *zStorage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.authRequests[id]; ok {
		return a, nil
	}
	return nil, errors.New("no such authorization request")
}

func (s *zStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, errors.New("invalid code")
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *zStorage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

func (s *zStorage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.authRequests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
	return nil
}

// accessTokenLifetime is long, so that tollgate's introspection cache
// (MaxTTL, 5 minutes by default) rather than the token's exp decides how
// long a revoked opaque token is still accepted.
const accessTokenLifetime = time.Hour

func (s *zStorage) newToken(clientID string, r op.TokenRequest) *zToken {
	t := &zToken{
		id: randomID(), clientID: clientID, subject: r.GetSubject(),
		audience: r.GetAudience(), scopes: r.GetScopes(),
		exp: time.Now().Add(accessTokenLifetime),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[t.id] = t
	return t
}

func clientOf(r op.TokenRequest) string {
	switch r := r.(type) {
	case *zAuthRequest:
		return r.clientID
	case *oidc.JWTTokenRequest:
		return r.Subject // a client_credentials token's subject is its client
	}
	return ""
}

func (s *zStorage) CreateAccessToken(_ context.Context, r op.TokenRequest) (string, time.Time, error) {
	t := s.newToken(clientOf(r), r)
	return t.id, t.exp, nil
}

func (s *zStorage) CreateAccessAndRefreshTokens(_ context.Context, r op.TokenRequest, current string) (string, string, time.Time, error) {
	if current != "" {
		return "", "", time.Time{}, errors.New("refresh grant not served")
	}
	t := s.newToken(clientOf(r), r)
	rt := randomID()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh[rt] = t
	return t.id, rt, t.exp, nil
}

func (s *zStorage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, errors.New("refresh grant not served")
}

func (s *zStorage) TerminateSession(context.Context, string, string) error { return nil }

func (s *zStorage) GetRefreshTokenInfo(_ context.Context, _ string, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.refresh[token]; ok {
		return t.subject, token, nil
	}
	return "", "", op.ErrInvalidRefreshToken
}

// RevokeToken forgets an access token (by its ID) or a refresh token.
func (s *zStorage) RevokeToken(_ context.Context, tokenOrID, _ string, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[tokenOrID]; ok {
		if t.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.tokens, tokenOrID)
	}
	delete(s.refresh, tokenOrID)
	return nil
}

func (s *zStorage) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[len(s.keys)-1], nil
}

func (s *zStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *zStorage) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]op.Key, len(s.keys))
	for i, k := range s.keys {
		keys[i] = publicKey{k}
	}
	return keys, nil
}

func (s *zStorage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[id]; ok {
		return c, nil
	}
	return nil, errors.New("unknown client")
}

func (s *zStorage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	_, err := s.client(id, secret)
	return err
}

func (s *zStorage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (s *zStorage) SetUserinfoFromToken(_ context.Context, u *oidc.UserInfo, _, subject, _ string) error {
	u.Subject = subject
	return nil
}

// SetIntrospectionFromToken answers for a live token issued for the
// introspecting resource server (clientID is in its audience).
func (s *zStorage) SetIntrospectionFromToken(_ context.Context, r *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	s.mu.Lock()
	t, ok := s.tokens[tokenID]
	s.mu.Unlock()
	if !ok || !time.Now().Before(t.exp) || !slices.Contains(t.audience, clientID) {
		return errors.New("token not active for this client")
	}
	r.Subject = subject
	r.Scope = t.scopes
	r.ClientID = t.clientID
	r.Audience = t.audience
	r.Expiration = oidc.FromTime(t.exp)
	r.JWTID = t.id
	return nil
}

// GetPrivateClaimsFromScopes puts the granted scopes in the JWT access
// token's "scope" claim (RFC 9068 §2.2.3). zitadel/oidc leaves every claim
// past iss, sub, aud, exp, iat, nbf, jti and client_id to the storage.
func (s *zStorage) GetPrivateClaimsFromScopes(_ context.Context, _, _ string, scopes []string) (map[string]any, error) {
	if len(scopes) == 0 {
		return nil, nil
	}
	return map[string]any{"scope": strings.Join(scopes, " ")}, nil
}

func (s *zStorage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT profile not served")
}

func (s *zStorage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("JWT profile not served")
}

func (s *zStorage) Health(context.Context) error { return nil }

// ClientCredentials authenticates a client for the client_credentials grant.
func (s *zStorage) ClientCredentials(_ context.Context, id, secret string) (op.Client, error) {
	return s.client(id, secret)
}

// ClientCredentialsTokenRequest issues the client's token for itself and
// for the API.
func (s *zStorage) ClientCredentialsTokenRequest(_ context.Context, id string, scopes []string) (op.TokenRequest, error) {
	return &oidc.JWTTokenRequest{Subject: id, Audience: []string{id, s.audience}, Scopes: scopes}, nil
}

func randomID() string { return rand.Text() }

// rsaKey makes a fresh 2048-bit signing key.
func rsaKey() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}
