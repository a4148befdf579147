// Package introspect verifies opaque access tokens by asking the
// authorization server about them (OAuth 2.0 Token Introspection, RFC 7662),
// and caches the answers.
//
// A Client is a Verifier for middleware.Authenticate: Verify turns a bearer
// token into the *principal.Principal it stands for, or refuses it with an
// *errors.Error from github.com/tollgate/tollgate/errors.
//
//	c, err := introspect.New(introspect.Config{
//		Endpoint:  "https://auth.example.com/oauth/introspect",
//		Auth:      introspect.ClientSecretBasic("orders-api", secret),
//		TokenType: "merchant",
//	})
//	handler := middleware.Authenticate(c)(mux)
//
// # The request
//
// Verify POSTs the token as an application/x-www-form-urlencoded body
// (token, and token_type_hint when configured) and authenticates the
// resource server itself, as RFC 7662 §2.1 requires, the way Config.Auth
// says (see Client authentication below). Every call has a timeout
// (Config.Timeout) and the response body is read up to a cap
// (Config.MaxResponseBytes). The default HTTP client follows no redirects:
// a redirected POST would lose its body or carry the credentials elsewhere.
// RFC 7662 §4 requires TLS, so New refuses an http:// endpoint unless its
// host is a loopback address or Config.AllowHTTP is set.
//
// # Client authentication
//
// Config.Auth is required; there is no default method, and the zero value
// is refused by New. The methods, by the name servers register them under:
//
//   - client_secret_basic, ClientSecretBasic(id, secret): HTTP Basic with
//     the id and the secret each form-encoded first (RFC 6749 §2.3.1), so
//     one holding ':', '%', '+' or non-ASCII arrives intact. What RFC 7662
//     servers expect by default (Keycloak, Okta, ZITADEL).
//   - client_secret_post, ClientSecretPost(id, secret): client_id and
//     client_secret in the form body.
//   - private_key_jwt, PrivateKeyJWT(id, signer, kid, opts) (RFC 7523,
//     OpenID Connect Core §9): client_assertion_type
//     urn:ietf:params:oauth:client-assertion-type:jwt-bearer and a
//     client_assertion JWT signed by a crypto.Signer (RS256, ES256 or
//     EdDSA, from the key unless opts.Algorithm says), header alg and kid,
//     claims iss = sub = the client id, aud = the endpoint's URL or
//     opts.Audience (ZITADEL wants its issuer), a random 128-bit jti, iat
//     now and exp one minute later at most (opts.Lifetime). A new
//     assertion is signed for every call and never reused: servers that
//     remember jti values (Okta, Keycloak) refuse a replay, and a
//     call is made only for a token missing from the cache.
//   - BearerToken(token): "Authorization: Bearer" with a token of the
//     resource server's own.
//   - NoClientAuth(): nothing, for an endpoint that needs nothing (Ory
//     Hydra's, on its admin port; a sidecar). It must be said; it is
//     never assumed.
//
// No credential is ever logged or put in an error: a ClientAuth prints
// (String, GoString, %v of the Config) and logs (slog.LogValuer) as its
// method and client id, e.g. "private_key_jwt(orders-api)". A signer that
// fails makes the call unavailable, logged with the signer's error, and
// nothing is sent.
//
// # The token
//
// The token is checked before anything else: it must be at most
// Config.MaxTokenBytes long and made of the RFC 6750 §2.1 token68 characters.
// Anything else is refused as invalid_token without a network call, so
// garbage never reaches the authorization server nor the cache. So is a
// JOSE object (a token with a part that decodes, under any base64 variant,
// to a JSON object with "alg") that is not in its one canonical compact
// spelling: a JWT with padding, '+' or '/', or non-zero trailing bits would
// be read as the JWT by a lax authorization server while hashing apart from
// it in the cache and in a revocation list.
//
// # The answer
//
// Only a JSON object whose "active" member is the JSON value true is an
// active token; "true" as a string, 1, null or a missing member are all
// inactive (RFC 7662 §2.2 defines active as a boolean, and anything looser is
// a way to be fooled). An inactive token is refused with invalid_token (401).
// Of an active answer, exp, iat and nbf must be numbers, aud a string or an
// array of strings, and sub, client_id, iss, jti, username and token_type
// strings; an answer that breaks these rules is treated like an unreachable
// endpoint. The Principal gets:
//
//	Subject    sub            ClientID  client_id      Issuer     iss
//	TokenID    jti ("" if none)          Audience  aud
//	ExpiresAt  exp            IssuedAt  iat            NotBefore  nbf
//	Scopes     principal.ParseScopes over Config.ScopeClaims
//	Roles      principal.ParseRoles over Config.RoleClaims (none by default)
//	Type       the member Config.TypeClaim names, through
//	           Config.TypeValues, else Config.TokenType (the response's
//	           token_type, usually "Bearer", stays in Claims)
//	Claims     the whole response, username and token_type included
//
// An active answer is not enough: the token must be an access token.
// Authorization servers answer active for refresh tokens and ID tokens as
// well, and say so in the answer; such an answer is refused with
// invalid_token (and cached as a refusal). Refused by default: "token_use"
// naming anything but an access token (Ory Hydra's "refresh_token"),
// "token_type" or Keycloak's "typ" naming a refresh, offline, ID or logout
// token ("refresh_token", "id_token", RFC 8693's token type URIs,
// "Refresh", "Offline", "ID", "Logout", in any case), and the claims only ID
// tokens carry ("nonce", "at_hash", "c_hash", "s_hash"). Config.AcceptIDTokens
// lets ID tokens through, for an API whose clients really call it with
// them; refresh and logout tokens are never admitted. The client is told
// only invalid_token, as for any other refusal.
//
// This works only where the server says what a token is. A server built
// directly on Ory fosite answers a refresh token as active with nothing that
// tells it from an access token (Ory Hydra adds "token_use"; the interop
// tests show both): such an answer cannot be refused, so a leaked refresh
// token would be admitted as an access token. Make such a server add
// "token_use" (or "token_type") to its answers, or give refresh and access
// tokens different audiences and set Audiences.
//
// These are the rules of jwt.Issuer, as far as an answer can carry them:
// TokenType, TypeClaim and TypeValues give Principal.Type as they do for a
// JWT (with TypeClaim "token_use", only a token_use naming an ID, refresh
// or logout token is refused), and AcceptIDTokens is the same switch. An
// answer has no JOSE header, so there is no RequiredTyp: what the server
// says of the token's kind is in the members above.
//
// Even when the server says active, an exp that has passed is refused with
// expired_token, an nbf still to come with invalid_token, and, when
// Config.Audiences is set, an aud that names none of them with
// invalid_token: the resource server checks what it relies on rather than
// trusting every authorization server to have done so. An answer without
// aud (or with "aud": null) is refused too, unless
// Config.AllowMissingAudience is set: ZITADEL, Hydra (for a token granted no
// audience) and Keycloak (without an audience mapper) send none. An aud
// that is present must name one of Audiences whatever that says; an empty
// array names none.
//
// # Failing closed
//
// An endpoint that cannot be reached, times out, answers anything but 200,
// or answers with a body that is too large or is not the JSON object above
// makes Verify return unavailable (503). So does an object that repeats a
// member name in any object at any depth ({"active":false,"active":true},
// or "role" and "\u0072ole" in a nested object), or whose text is not valid
// UTF-8 or holds a lone surrogate escape (\ud800): a JSON parser may keep
// either value, or turn either byte string into U+FFFD, so such an answer
// has no single meaning and is refused rather than read one way. Nothing is let through on a guess,
// and these answers are never cached, so the next request asks again.
// Tokens already cached keep being served while the endpoint is down, within
// their cache lifetime.
//
// # The cache
//
// Answers are cached under the SHA-256 of the token, never the token itself,
// so a memory dump of the cache yields no usable credential. An active
// answer is kept until the earlier of the token's exp and Config.MaxTTL
// after it was fetched, so a cached principal never outlives its token, and
// a token revoked at the authorization server is forgotten within MaxTTL.
// (For immediate revocation, use package revocation, which
// middleware.Authenticate consults on every request, cache hits included.)
// Refusals (inactive, expired, wrong or missing audience, not an access
// token) are kept for
// Config.NegativeTTL, so a client retrying a dead token does not hammer the
// authorization server. Active and refused answers live in two separate LRU
// caches of Config.CacheSize entries each, so a flood of unknown tokens
// cannot evict the active ones.
//
// Concurrent requests that miss the cache for the same token share one
// introspection call: a thousand requests carrying a new token cause one
// call, not a thousand. The call runs on its own, bounded by Config.Timeout,
// so a waiting request that gives up (its context is cancelled) does not
// cancel it for the others.
//
// Every request carrying the same token gets the same *principal.Principal:
// it is immutable by contract, and route checks (scopes, token type) apply to
// a cached principal exactly as to a fresh one.
//
// A cached hit costs one SHA-256 over the token (inherent: the cache is
// keyed by the hash, so the token is not kept), one LRU lookup under a mutex,
// and no allocation.
//
// # Bounded calls
//
// At most Config.MaxConcurrentCalls introspection calls are in flight at
// once (DefaultMaxConcurrentCalls, 64, when zero); requests waiting on the
// call of their own token share it and do not count again. A new token that
// would start a call beyond the cap is refused at once with unavailable
// (503) and nothing is cached, so the next request asks again. Nothing
// queues: an endpoint that hangs holds at most the cap in calls, goroutines
// and connections, each for at most Config.Timeout, however many tokens
// arrive, and every other new token is answered without waiting. The
// default HTTP client keeps as many connections to the endpoint, open or
// idle, as there may be calls, so calls reuse them; a Config.HTTPClient of
// your own keeps its transport's limits (see Config.HTTPClient).
//
// # Logs
//
// The client logs, through Config.Logger (slog.Default() if nil), a call
// that failed (Warn, with its cause), a token refused at the cap (Warn), and
// the first usable answer after a failure (Info). Each of the three is
// written at most once per 10 seconds; the next line written carries, as
// "dropped", how many of its kind were left out in between. A line never
// carries a token.
//
// # Discovery
//
// Discover builds a Client from an issuer URL alone, reading the
// introspection_endpoint from the server's OpenID Connect Discovery or RFC
// 8414 metadata, whose issuer must equal the one given exactly.
//
// # Readiness
//
// Client.Ready, for a readiness probe (see package health), is nil while
// the endpoint gave a usable answer within ReadyWindow (30 seconds) and no
// call failed since; otherwise it introspects a random token no one issued,
// with the client's credentials, under the probe's deadline, and passes if
// the endpoint calls it inactive.
package introspect
