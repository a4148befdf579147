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
