// Package principal is the verified caller: who presented the token, for
// which client, with which scopes, of which type, until when.
//
// A verifier (a JWT verifier, token introspection) builds a Principal once,
// when it accepts a token; middleware.Authenticate puts it in the request's
// context; every later layer and the application's handler read it with
// From. A Principal is shared between requests that present the same token
// (the verified-token cache hands out the same pointer), so it must be
// treated as read-only.
//
// Scopes are parsed once, at verification, by ParseScopes, and checked with
// HasScope without allocating. Claim names are matched exactly: a "SCOPE"
// claim is not "scope".
package principal

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/reqstate"
)

// Principal is a caller whose token was verified. Treat it as read-only: the
// same value may serve many concurrent requests.
type Principal struct {
	// Subject is the "sub" claim: the user or, for client-credentials
	// tokens, usually the client.
	Subject string
	// ClientID is the OAuth client the token was issued to ("client_id",
	// "azp" or "cid", depending on the issuer).
	ClientID string
	// Issuer is the "iss" claim, exactly as the token carried it.
	Issuer string
	// Type is the token type the verifier assigned: "merchant", "customer",
	// "client_credentials", … as configured per issuer.
	Type string
	// TokenID is the "jti" claim, or for opaque tokens the identifier their
	// verifier assigns. Revocation lists are keyed by it.
	TokenID string
	// Audience is the "aud" claim.
	Audience []string
	// Scopes are the scopes or permissions the token grants, parsed once
	// from the claims the issuer names (see ParseScopes).
	Scopes []string
	// ExpiresAt, IssuedAt and NotBefore are the token's "exp", "iat" and
	// "nbf"; the zero Time where absent.
	ExpiresAt, IssuedAt, NotBefore time.Time
	// Claims holds every claim of the token, for application use.
	Claims map[string]any
}

// HasScope reports whether the principal was granted scope. It compares
// exactly and does not allocate.
func (p *Principal) HasScope(scope string) bool {
	return p != nil && slices.Contains(p.Scopes, scope)
}

// Claim returns the claim called name, matched exactly.
func (p *Principal) Claim(name string) (any, bool) {
	if p == nil {
		return nil, false
	}
	v, ok := p.Claims[name]
	return v, ok
}

// StringClaim returns the claim called name if it is a JSON string, and ""
// otherwise.
func (p *Principal) StringClaim(name string) string {
	v, _ := p.Claim(name)
	s, _ := v.(string)
	return s
}

// DefaultScopeClaims are the claims ParseScopes reads when an issuer names
// none: OAuth's "scope" (RFC 8693 §4.2: space-delimited, also seen as a JSON
// array), "scp" and "permissions".
var DefaultScopeClaims = []string{"scope", "scp", "permissions"}

// ParseScopes collects the scopes granted by claims, reading each claim in
// names (DefaultScopeClaims if names is empty) in order. A claim may be a
// space-delimited string or a JSON array of strings; anything else in it is
// ignored. Duplicates are dropped; order is kept.
func ParseScopes(claims map[string]any, names ...string) []string {
	if len(names) == 0 {
		names = DefaultScopeClaims
	}
	var out []string
	add := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, name := range names {
		switch v := claims[name].(type) {
		case string:
			for _, s := range strings.Fields(v) {
				add(s)
			}
		case []string:
			for _, s := range v {
				add(s)
			}
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok {
					add(s)
				}
			}
		}
	}
	return out
}

// NewContext returns a copy of ctx that carries p; ctx itself is left as it
// was, as with context.WithValue.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return reqstate.WithPrincipal(ctx, p)
}

// From returns the principal that middleware.Authenticate put in ctx. It
// reports false if the request was not authenticated.
func From(ctx context.Context) (*Principal, bool) {
	s := reqstate.From(ctx)
	if s == nil {
		return nil, false
	}
	p, ok := s.Principal().(*Principal)
	return p, ok && p != nil
}
