// Package observe is the one place every tollgate layer reports what it
// did: refusals, token-cache hits, rate-limit decisions, revocation checks,
// JWKS fetches, introspection calls and the Redis store's state. An
// Observer is a struct of optional funcs; the adapters in the nested
// modules github.com/tollgate/tollgate/otel and
// github.com/tollgate/tollgate/prometheus fill it with metrics and spans,
// and an application may fill it (or one field of it) itself.
//
// # How events reach it
//
// Per-request events travel in the request's one context node (the node
// errors.Use makes for the error format): give the observer to errors.Use,
//
//	chain := errors.Use(errors.OAuth, errors.WithObserver(o))
//
// and Authenticate, scopes, RequireType, RequireTenant, ipfilter and
// ratelimit below it find it with From, one context lookup that neither
// allocates nor copies the request. Without an observer a layer's report is
// that lookup and a nil check.
//
// The node is the cheapest carrier: errors.Use already makes it for the
// format, so the observer rides in it for free, and one option at the top
// of the chain reaches every layer below without an option on each.
//
// Background events, which happen outside any request (a JWKS refresh, an
// introspection call's outcome, the Redis store falling back to memory),
// go to the Observer of the component's configuration: jwt.Config.Observer,
// introspect.Config.Observer and redisstore's Config.Observer. The same
// *Observer may be given to all of them.
//
// # What events carry
//
// Events never carry a token, a key, a client IP or a rate-limit key (an IP
// or a token digest): only the layer, the kind of refusal, the name of a
// configured limit, an issuer URL and outcomes, so that an adapter can use
// every field as a metric label without leaking a secret or blowing up its
// cardinality.
//
// Every func is called synchronously on the goroutine that did the work,
// and must be fast and safe for concurrent use. A nil func, a nil
// *Observer and a request with no observer all report nothing.
package observe

import (
	"context"
	"time"

	"github.com/tollgate/tollgate/internal/reqstate"
)

// The layers a Refusal names.
const (
	// LayerAuthenticate: middleware.Authenticate refused the credential
	// (missing, malformed, a JWT the verifier refused, revoked).
	LayerAuthenticate = "authenticate"
	// LayerIntrospect: an opaque token the introspection verifier refused.
	LayerIntrospect = "introspect"
	// LayerAPIKey: an API key the apikey verifier refused.
	LayerAPIKey = "apikey"
	// LayerScopes: scopes.Require or RequireAny.
	LayerScopes = "scopes"
	// LayerRequireType: middleware.RequireType.
	LayerRequireType = "require_type"
	// LayerRequireTenant: middleware.RequireTenant.
	LayerRequireTenant = "require_tenant"
	// LayerIPFilter: ipfilter.New.
	LayerIPFilter = "ipfilter"
	// LayerRateLimit: ratelimit.New (rate_limited, or unavailable when the
	// store failed).
	LayerRateLimit = "ratelimit"
)

// The outcomes events carry.
const (
	// OutcomeOK: the check passed, the call or fetch succeeded.
	OutcomeOK = "ok"
	// OutcomeRevoked: the token was revoked.
	OutcomeRevoked = "revoked"
	// OutcomeInactive: the introspection server said the token is not
	// active.
	OutcomeInactive = "inactive"
	// OutcomeError: the check, call or fetch failed.
	OutcomeError = "error"
)

// The store states a StoreState carries.
const (
	// StoreRemote: the store answers from its server (Redis).
	StoreRemote = "remote"
	// StoreFallback: the server cannot be reached and the store answers
	// from its local fallback.
	StoreFallback = "fallback"
)

// Refusal is one refused request.
type Refusal struct {
	// Layer is the layer that refused (LayerAuthenticate, …).
	Layer string
	// Kind is the refusal's errors.Kind ("invalid_token", …).
	Kind string
}

// RateLimitDecision is one request weighed by ratelimit.
type RateLimitDecision struct {
	// Limit is the configured name of the limit reported (ratelimit.Limit
	// Name): the refusing one when refused. Never the key.
	Limit string
	// Allowed reports whether the request went on.
	Allowed bool
}

// RevocationCheck is one revocation lookup by Authenticate.
type RevocationCheck struct {
	// Outcome is OutcomeOK, OutcomeRevoked or OutcomeError.
	Outcome string
}

// JWKSFetch is one fetch of an issuer's key set.
type JWKSFetch struct {
	// Issuer is the issuer whose set was fetched.
	Issuer string
	// Outcome is OutcomeOK or OutcomeError.
	Outcome string
	// Duration is how long the fetch took.
	Duration time.Duration
	// Keys is how many usable keys the set in use holds after the fetch.
	Keys int
	// Age is how old the set in use is after the fetch: zero after a
	// success, the time since the last success after a failure.
	Age time.Duration
	// Stale reports whether the set in use is past its refresh time (a
	// failed fetch left an old set serving).
	Stale bool
}

// JWKSRecovery is a key set that loads again after failed fetches.
type JWKSRecovery struct {
	// Issuer is the issuer whose set loads again.
	Issuer string
	// Down is how long its fetches failed, from the first failure.
	Down time.Duration
}

// IntrospectionCall is one RFC 7662 lookup: a call to the server, or an
// answer from the introspection cache.
type IntrospectionCall struct {
	// Outcome is OutcomeOK (active), OutcomeInactive or OutcomeError.
	Outcome string
	// Latency is how long the call took; zero for a cache hit.
	Latency time.Duration
	// CacheHit reports whether the answer came from the cache.
	CacheHit bool
}

// StoreState is a store changing where it answers from.
type StoreState struct {
	// Store names the store ("ratelimit/redisstore").
	Store string
	// State is StoreRemote or StoreFallback.
	State string
}

// Observer receives tollgate's events. Every field is optional.
type Observer struct {
	// Refused is called for every request a layer refuses.
	Refused func(ctx context.Context, r Refusal)
	// TokenCache is called for every token Authenticate looks up in its
	// verifier's cache of verified tokens (jwt.Verifier's): hit or miss.
	TokenCache func(ctx context.Context, hit bool)
	// RateLimit is called for every request ratelimit weighs.
	RateLimit func(ctx context.Context, d RateLimitDecision)
	// Revocation is called for every revocation check Authenticate makes.
	Revocation func(ctx context.Context, c RevocationCheck)
	// Introspection is called for every introspection lookup.
	Introspection func(ctx context.Context, c IntrospectionCall)
	// JWKSFetch is called after every key-set fetch.
	JWKSFetch func(f JWKSFetch)
	// JWKSRecovered is called when a key set whose fetches failed loads
	// again.
	JWKSRecovered func(r JWKSRecovery)
	// StoreState is called when a store starts or stops answering from
	// its fallback.
	StoreState func(s StoreState)
}

// From returns the observer of ctx's request (errors.WithObserver), or nil.
// It does not allocate.
func From(ctx context.Context) *Observer {
	if s := reqstate.From(ctx); s != nil {
		o, _ := s.Observer().(*Observer)
		return o
	}
	return nil
}

// Refuse reports a refusal by layer to ctx's observer, if any.
func Refuse(ctx context.Context, layer, kind string) {
	From(ctx).ReportRefusal(ctx, layer, kind)
}

// ReportRefusal reports a refusal to o; o may be nil.
func (o *Observer) ReportRefusal(ctx context.Context, layer, kind string) {
	if o != nil && o.Refused != nil {
		o.Refused(ctx, Refusal{Layer: layer, Kind: kind})
	}
}

// ReportTokenCache reports a token-cache lookup to o; o may be nil.
func (o *Observer) ReportTokenCache(ctx context.Context, hit bool) {
	if o != nil && o.TokenCache != nil {
		o.TokenCache(ctx, hit)
	}
}

// ReportRateLimit reports a rate-limit decision to o; o may be nil.
func (o *Observer) ReportRateLimit(ctx context.Context, limit string, allowed bool) {
	if o != nil && o.RateLimit != nil {
		o.RateLimit(ctx, RateLimitDecision{Limit: limit, Allowed: allowed})
	}
}

// ReportRevocation reports a revocation check to o; o may be nil.
func (o *Observer) ReportRevocation(ctx context.Context, outcome string) {
	if o != nil && o.Revocation != nil {
		o.Revocation(ctx, RevocationCheck{Outcome: outcome})
	}
}

// ReportIntrospection reports an introspection lookup to o; o may be nil.
func (o *Observer) ReportIntrospection(ctx context.Context, c IntrospectionCall) {
	if o != nil && o.Introspection != nil {
		o.Introspection(ctx, c)
	}
}

// ReportJWKSFetch reports a key-set fetch to o; o may be nil.
func (o *Observer) ReportJWKSFetch(f JWKSFetch) {
	if o != nil && o.JWKSFetch != nil {
		o.JWKSFetch(f)
	}
}

// ReportJWKSRecovered reports a key set that loads again to o; o may be
// nil.
func (o *Observer) ReportJWKSRecovered(r JWKSRecovery) {
	if o != nil && o.JWKSRecovered != nil {
		o.JWKSRecovered(r)
	}
}

// ReportStoreState reports a store's state change to o; o may be nil.
func (o *Observer) ReportStoreState(s StoreState) {
	if o != nil && o.StoreState != nil {
		o.StoreState(s)
	}
}
