// Package jwt verifies signed JWT access tokens against the keys of the
// issuers it is configured for, and turns them into principals.
//
//	v, err := jwt.NewVerifier(ctx, jwt.Config{Issuers: []jwt.Issuer{{
//		Issuer:    "https://idp.example.com/",
//		JWKSURL:   "https://idp.example.com/.well-known/jwks.json",
//		Audiences: []string{"orders-api"},
//	}}})
//	api := middleware.Authenticate(v)(mux)
//
// The HTTP layers (Authenticate, RequireType, RequireTenant) live in package
// middleware; a *Verifier is the middleware.Verifier they are given.
//
// # Issuers
//
// The token's "iss" picks the issuer before any key is looked up; only the
// algorithms configured for that issuer are accepted, and never "none". Keys
// come from the issuer's JWKS endpoint (fetched, cached and refreshed in the
// background), from static keys, or from an HMAC secret. The token must be
// an access token: ID tokens, logout tokens, refresh tokens and other JOSE
// objects are refused by their "typ" and claims (see Issuer.AcceptIDTokens).
// Times are checked with Config.Leeway, at most MaxLeeway.
//
// # Identity providers
//
// Third-party identity providers work by configuration alone:
//
//   - Discovery: an Issuer with neither JWKSURL, Keys nor HMACSecret reads
//     the jwks_uri from its OpenID Connect Discovery document (or RFC 8414
//     metadata, where that is 404), again before each key-set fetch, so a
//     moved jwks_uri is followed. The document must name the Issuer
//     exactly, trailing slash included; the jwks_uri is held to the rules of
//     JWKSURL. While discovery has never succeeded, the issuer's tokens are
//     Unavailable (503), as when its keys cannot be fetched. An explicit
//     JWKSURL always wins and no metadata is read.
//   - Audiences: Issuer.ClientIDs accepts a token whose client ID
//     ("client_id", "azp", "cid", "appid" by default) is listed, for
//     providers whose access tokens name the client rather than the API
//     (Cognito, Keycloak's "account" audience, Entra ID v1).
//   - Tenants: an Issuer may hold TenantPlaceholder once in its path
//     (Entra ID's "https://login.microsoftonline.com/{tenantid}/v2.0"); the
//     tenant in "iss" must equal the token's "tid" and be one of Tenants,
//     if listed. With TenantPlaceholder in JWKSURL, or with discovery, each
//     tenant has its own key set and Tenants is required; otherwise the
//     tenants share one set.
//   - Aliases: other exact spellings of an issuer ("accounts.google.com"
//     beside "https://accounts.google.com").
//   - Lifetime: Issuer.MaxLifetime refuses tokens that live longer than the
//     issuer should mint them for.
//
// Without a Cache-Control max-age a key set is fetched again every 5
// minutes (Config.RefreshInterval), so a key the provider withdraws stops
// verifying within minutes. A refresh of an unchanged set costs little: it
// sends the last response's ETag and Last-Modified (If-None-Match,
// If-Modified-Since), keeps the set on 304 Not Modified, and does not
// parse a body byte-identical to the last one (compared by SHA-256).
//
// # Keys
//
// Keys are checked when they are loaded, never trusted blindly: RSA moduli
// too short or too long, or that anyone can factor (even, a square, with
// small factors or the ROCA fingerprint), Ed25519 keys of small order or
// encoded other than canonically, EC points off their curve, and JWKs that
// carry private key material are refused. A JWK verifies only if its "use"
// is "sig" (or absent) and its "key_ops", if any, include "verify". In a
// fetched key set such a key is dropped and logged with its kid while the
// other keys keep working; a set that is broken as a document is refused
// whole and the last good one kept. Key-set redirects stay on the JWKS
// URL's origin (scheme, host and port) unless jwt.Config.JWKSRedirectHosts
// lists another host, and never go from https to http.
//
// # Readiness and outages
//
// NewVerifier starts even when an issuer's keys cannot be loaded within
// Config.FetchTimeout, that issuer's tokens being Unavailable (503) until a
// fetch succeeds; Config.RequireKeysAtStart (false by default) makes it
// return an error naming the issuers instead. Verifier.Ready, for a
// readiness probe (see package health), names each issuer whose key set is
// not loaded or is stale, and fetches such a set first. While an issuer
// has no usable key set the unknown-kid cooldown does not hold, so the
// first token after the key set answers again is served.
//
// # Explaining a verdict
//
// Verifier.Explain runs Verify's own checks on a token and tells each one,
// in order, with what it saw or why it refused, and the verdict Verify
// gives; `tollgate explain` (cmd/tollgate) prints it.
//
// # Roles and typed claims
//
// Issuer.RoleClaims names the claims roles or groups are read from (none
// by default), nested ones included ("realm_access.roles") and names with
// dots in them ("https://example.com/roles"); they become Principal.Roles,
// checked with scopes.RequireRole, and never scopes. A role claim that
// cannot be read with certainty refuses the token (principal.ParseRoles).
//
// Issuer.Claims, made with DecodeClaims[T], decodes each token's claims
// once into the application's own T, after every other check passed; the
// value is cached with the principal and read with principal.ClaimsAs[T]
// without allocating. A decode error refuses the token as invalid_token.
//
// # Cache
//
// A token that verified is remembered, by its exact bytes, until its exp or
// until the key set that verified it changes; Remembered answers from that
// cache only and is what middleware.Authenticate asks first. The cache holds
// at most Config.CacheSize tokens. middleware.Cache gives a verifier of your
// own (one that adds roles from a database, say) the same cache.
package jwt
