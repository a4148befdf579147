// Package principal is the verified caller: who presented the token, for
// which client, with which scopes, of which type, until when.
//
// A verifier (a JWT verifier, token introspection, an API-key verifier, one
// of your own) builds a Principal once, with New, when it accepts a token;
// middleware.Authenticate puts it in the request's context; every later
// layer and the application's handler read it with From.
//
// A Principal is read-only by construction. The verified-token caches hand
// the same *Principal to every request that presents the same token, at the
// same time, so nothing a handler does with one may reach another request:
// its fields are unexported, strings are returned as they are (Go strings
// are immutable), and every slice or map an accessor returns (Scopes,
// Audience, Claims, a JSON object or array from Claim) is a fresh copy the
// caller may keep or change. The hot-path readers (HasScope, HasAudience,
// StringClaim, Subject, Type, …) copy nothing and allocate nothing. (The
// JWT verifier keeps the claims of a principal it caches as the token
// encodes them, which costs no memory beyond the token; they are decoded
// once, on the first read of a claim, so that first StringClaim or Claim
// allocates.)
//
// Scopes are parsed once, at verification, by ParseScopes, and checked with
// HasScope without allocating. Roles (and groups) are kept apart from
// scopes: parsed once by ParseRoles from the claims an issuer names (none by
// default), checked with HasRole, and never mixed with scopes either way.
//
// A verifier may also decode the claims once into a type of the
// application's own (jwt.Issuer.Claims), which ClaimsAs returns on every
// request without walking a map and without allocating. Claim names are matched exactly: a "SCOPE"
// claim is not "scope".
package principal

import (
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tollgate/tollgate/internal/lazyclaims"
	"github.com/tollgate/tollgate/internal/reqstate"
)

// Fields are what a verifier knows of a caller, the input of New. Every
// field may be left empty.
type Fields struct {
	// Subject is the "sub" claim: the user or, for client-credentials
	// tokens, usually the client.
	Subject string
	// ClientID is the OAuth client the token was issued to ("client_id",
	// "azp", "appid" or "cid", depending on the issuer).
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
	// Roles are the roles or groups the token grants, parsed once from the
	// claims the issuer names (see ParseRoles). They are not scopes: a role
	// named like a scope grants no scope, and a scope grants no role.
	Roles []string
	// Claims holds every claim of the token, as encoding/json decodes
	// JSON: string, float64 (or json.Number), bool, nil, []any and
	// map[string]any.
	Claims map[string]any
	// TypedClaims is the token's claims decoded once, at verification, into
	// a type of the application's own (jwt.DecodeClaims), read with
	// ClaimsAs. Nil if the verifier decodes none.
	TypedClaims any
}

// Principal is a caller whose token was verified. It cannot be changed
// once made (see the package doc), so one value safely serves many
// concurrent requests. The zero value and nil are a principal with nothing
// set.
type Principal struct {
	f Fields
	// lazy, if set, holds the claims still encoded: f.Claims is unused
	// and claims decodes them once (see internal/lazyclaims).
	lazy *lazyClaims
}

// lazyClaims are a principal's claims as the token carried them, decoded
// on first use.
type lazyClaims struct {
	raw     string
	decode  func(string) (map[string]any, error)
	once    sync.Once
	decoded map[string]any
}

func init() {
	lazyclaims.New = func(f any, raw string, decode func(string) (map[string]any, error)) any {
		fields := f.(Fields)
		fields.Claims = nil
		return &Principal{f: fields, lazy: &lazyClaims{raw: raw, decode: decode}}
	}
}

// claims are p's claims, decoded now if they were kept encoded. The map is
// p's own: callers copy it or read it, never change it.
func (p *Principal) claims() map[string]any {
	l := p.lazy
	if l == nil {
		return p.f.Claims
	}
	l.once.Do(func() {
		l.decoded, _ = l.decode(l.raw)
	})
	return l.decoded
}

// New returns the principal f describes. New takes ownership of f's slices
// and map: the verifier that calls it must not change them afterwards (a
// verifier hands New what it has just decoded, so nothing is copied on the
// verification path). To derive a principal from another, start from its
// Fields, which are a copy.
func New(f Fields) *Principal {
	return &Principal{f: f}
}

// Fields returns a deep copy of what p holds (TypedClaims excepted: it is
// the same value, see ClaimsAs), for a verifier that wraps
// another and adds to its principal (roles from a database, say):
//
//	f := p.Fields()
//	f.Scopes = append(f.Scopes, "admin")
//	return principal.New(f), nil
func (p *Principal) Fields() Fields {
	if p == nil {
		return Fields{}
	}
	f := p.f
	f.Audience = slices.Clone(f.Audience)
	f.Scopes = slices.Clone(f.Scopes)
	f.Roles = slices.Clone(f.Roles)
	f.Claims = copyObject(p.claims())
	return f
}

// Subject is the "sub" claim.
func (p *Principal) Subject() string {
	if p == nil {
		return ""
	}
	return p.f.Subject
}

// ClientID is the OAuth client the token was issued to.
func (p *Principal) ClientID() string {
	if p == nil {
		return ""
	}
	return p.f.ClientID
}

// Issuer is the "iss" claim, exactly as the token carried it.
func (p *Principal) Issuer() string {
	if p == nil {
		return ""
	}
	return p.f.Issuer
}

// Type is the token type the verifier assigned ("merchant", "customer", …).
func (p *Principal) Type() string {
	if p == nil {
		return ""
	}
	return p.f.Type
}

// TokenID is the "jti" claim, or the identifier an opaque token's verifier
// assigned.
func (p *Principal) TokenID() string {
	if p == nil {
		return ""
	}
	return p.f.TokenID
}

// ExpiresAt is the token's "exp"; the zero Time where absent.
func (p *Principal) ExpiresAt() time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.f.ExpiresAt
}

// IssuedAt is the token's "iat"; the zero Time where absent.
func (p *Principal) IssuedAt() time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.f.IssuedAt
}

// NotBefore is the token's "nbf"; the zero Time where absent.
func (p *Principal) NotBefore() time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.f.NotBefore
}

// Scopes returns a copy of the scopes the token grants, in the order
// parsed. It allocates; to test for one scope use HasScope, which does not.
func (p *Principal) Scopes() []string {
	if p == nil {
		return nil
	}
	return slices.Clone(p.f.Scopes)
}

// HasScope reports whether the principal was granted scope. It compares
// exactly and does not allocate.
func (p *Principal) HasScope(scope string) bool {
	return p != nil && slices.Contains(p.f.Scopes, scope)
}

// Roles returns a copy of the roles the token grants, in the order parsed.
// It allocates; to test for one role use HasRole, which does not.
func (p *Principal) Roles() []string {
	if p == nil {
		return nil
	}
	return slices.Clone(p.f.Roles)
}

// HasRole reports whether the principal was granted role. It compares
// exactly (a role is not a scope: HasRole never looks at the scopes) and
// does not allocate.
func (p *Principal) HasRole(role string) bool {
	return p != nil && slices.Contains(p.f.Roles, role)
}

// Audience returns a copy of the token's "aud". It allocates; to test for
// one audience use HasAudience, which does not.
func (p *Principal) Audience() []string {
	if p == nil {
		return nil
	}
	return slices.Clone(p.f.Audience)
}

// HasAudience reports whether aud is one of the token's audiences, compared
// exactly, without allocating.
func (p *Principal) HasAudience(aud string) bool {
	return p != nil && slices.Contains(p.f.Audience, aud)
}

// Claim returns the claim called name, matched exactly. A JSON object or
// array is returned as a deep copy the caller owns; other values (string,
// number, bool, nil) are returned as they are and cost nothing.
func (p *Principal) Claim(name string) (any, bool) {
	if p == nil {
		return nil, false
	}
	v, ok := p.claims()[name]
	return copyValue(v), ok
}

// StringClaim returns the claim called name if it is a JSON string, and ""
// otherwise. It does not allocate, but for once: a principal whose
// verifier kept its claims encoded (the JWT verifier does, for the tokens
// it caches) decodes them the first time any claim is read.
func (p *Principal) StringClaim(name string) string {
	if p == nil {
		return ""
	}
	s, _ := p.claims()[name].(string)
	return s
}

// Claims returns a deep copy of every claim of the token. It allocates in
// proportion to the claims; prefer Claim or StringClaim on a request path.
func (p *Principal) Claims() map[string]any {
	if p == nil {
		return nil
	}
	return copyObject(p.claims())
}

// copyValue returns v with every JSON object and array in it copied, so the
// copy shares nothing mutable with v.
func copyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return copyObject(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = copyValue(e)
		}
		return out
	case []string:
		return slices.Clone(v)
	case string, float64, bool, nil, json.Number:
		return v
	default:
		return copyReflect(reflect.ValueOf(v)).Interface()
	}
}

// copyReflect deep-copies the maps and slices of a claim value a verifier
// of its own put in Fields.Claims in a type encoding/json does not decode
// to (map[string]string, []byte, [][]string, …). Pointers, channels and
// functions are not copied: a verifier must not put them in claims.
func copyReflect(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(it.Key(), copyElem(it.Value(), v.Type().Elem()))
		}
		return out
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(copyElem(v.Index(i), v.Type().Elem()))
		}
		return out
	case reflect.Array:
		out := reflect.New(v.Type()).Elem()
		for i := range v.Len() {
			out.Index(i).Set(copyElem(v.Index(i), v.Type().Elem()))
		}
		return out
	}
	return v
}

// copyElem copies one element of a map, slice or array, keeping its static
// type t (an interface element holds a value copied by copyValue).
func copyElem(e reflect.Value, t reflect.Type) reflect.Value {
	if t.Kind() == reflect.Interface {
		if e.IsNil() {
			return reflect.Zero(t)
		}
		return reflect.ValueOf(copyValue(e.Interface()))
	}
	return copyReflect(e)
}

func copyObject(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range maps.All(m) {
		out[k] = copyValue(v)
	}
	return out
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
