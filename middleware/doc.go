// Package middleware authenticates requests by bearer token and guards routes
// by token type and tenant.
//
// Authenticate is the gate: it reads the one bearer token of a request,
// hands it to a Verifier, and puts the *principal.Principal it gets back in
// the request context. Everything it refuses is written in the format chosen
// by errors.Use and never reaches the next handler.
//
//	v, err := jwt.NewVerifier(ctx, jwt.Config{Issuers: []jwt.Issuer{…}})
//	api := middleware.Chain(errors.Use(errors.OAuth), middleware.Authenticate(v))(mux)
//
// # Verifiers
//
// jwt.Verifier (package jwt) checks signed JWTs against keys it fetches and
// caches from each issuer's JWKS endpoint. A token verified once is answered
// from a bounded cache until its exp, which makes the common case (a client
// reusing one token for its lifetime) cost a map lookup. A Verifier that
// implements Remembering is asked first, before the token is even scanned.
//
// Cache gives a verifier of your own (one that adds roles from a database
// to jwt.Verifier's principal, say) the same cache and the same hot path:
// accepted principals only, by the exact token, never past the principal's
// ExpiresAt nor CacheConfig.MaxAge (default one minute), at most
// CacheConfig.Size tokens (default 10,000); refusals are not cached.
//
// introspect.Client verifies opaque tokens through RFC 7662. JWTOrOpaque
// sends each token to the right one by its shape, so one Authenticate serves
// both kinds (merchant API tokens that are opaque, customer tokens that are
// JWTs).
//
// # Bearer extraction (RFC 6750 §2)
//
// The token comes from exactly one Authorization header whose scheme is
// "Bearer" in any case. The query parameter and cookie sources are off
// unless FromQuery or FromCookie enable them. A request that carries two
// credentials (two headers, or a header and a query token) is refused with
// invalid_request: the client must use one method. Before any parsing or
// network call the token's length is capped (DefaultMaxTokenBytes) and its
// characters checked against the b64token set; a token that fails either is
// invalid_token. A request with an Authorization header of another scheme is
// treated as carrying no bearer credential (missing_token), as RFC 6750 §3.1
// advises for an unsupported method.
//
// # Routes without a token
//
// SkipPaths and SkipIf let health checks and metrics through without a
// token; AllowCORSPreflight answers a CORS preflight with your CORS handler; Optional admits
// a request that carries no credential at all as anonymous, still refusing
// a bad one. None of them gives the request a principal, so a scope, type
// or tenant check behind Authenticate still refuses it. FromHeader reads
// the token from a header of your choice (X-API-Key) and WithExtractor
// from wherever a function of yours finds it; their responses are kept
// private, as a query token's are.
//
// # What the client is told
//
// A refused token is invalid_token, whatever check failed, except that an
// expired token may be told so (expired_token, written as invalid_token with
// "The access token expired" in the OAuth format): RFC 6750 allows it, and
// it tells a well-behaved client to refresh. Which signature, issuer,
// audience or claim check failed goes to the refusal hook and the logs,
// never to the client. A verifier that cannot decide (no keys could be
// fetched and none are cached) answers unavailable (503), so an outage is not
// mistaken for a bad token.
//
// # Routes
//
// RequireType admits only the token types a route serves: a customer token
// on a merchant-only route is wrong_token_type (403). RequireTenant binds a
// header, such as an organization or app id, to a claim of the token:
// missing header is validation (400), a different value forbidden (403).
// Both refuse a request with no principal with missing_token, so a route
// guarded by them fails closed even if Authenticate was left out of its
// chain.
//
// # Refusal hook
//
// Authenticate reports each refusal (kind, issuer and client id when the
// token was verified, the internal cause) to a hook; the default logs through
// slog, at most one line per kind every 10 seconds, the next line of a kind
// carrying the count dropped in between. The token itself is never
// reported. To observe the refusals of every layer in one place, give an
// observe.Observer to errors.Use (errors.WithObserver): Authenticate,
// RequireType and RequireTenant report to it each refusal with their layer
// (a refusal by the verifier with the verifier's, see ObservedLayer), and
// Authenticate each token-cache look-up and revocation check, without
// allocating.
//
// # Cost
//
// A client reuses one token for its lifetime, so the common request carries
// a token the JWT verifier has already accepted. Authenticate asks the
// verifier's cache first: a token found there (byte for byte the one that
// passed every check when it was first seen) is admitted after the size cap
// without being scanned or parsed again, in well under a microsecond.
// Behind errors.Use such a request costs no allocation in Authenticate: the
// request's one context node, made by the first tollgate layer, receives the
// principal. Without any layer above it, Authenticate makes that node itself
// (two allocations: the node and the request copy).
package middleware
