// Package issuer mints the credentials tollgate checks: signing keys
// rotated on a schedule and published as a JWKS, RFC 9068 access tokens,
// opaque refresh tokens in sessions with reuse detection, and a registry of
// OAuth clients. It may import the checking packages (it hands its keys to
// jwt in-process); they never import it.
//
// # The pieces
//
//   - KeyRing generates signing keys (ES256 by default; EdDSA and RS256 by
//     KeyRingConfig.Algorithm) and rotates them: a key signs for
//     SignPeriod (24 h), is published PublishAhead (1 h) before it signs,
//     and stays published MaxTokenLifetime (24 h) + Leeway (5 min) after
//     its successor takes over. Keys live in a KeyStore: MemoryKeyStore, or
//     pgstore.KeyStore (sealed with AES-256-GCM under a key-encryption
//     key), where every replica finds the same current key and tokens
//     survive restarts. Call Run (or Rotate on your own schedule).
//     A Signer is the key's interface: a KMS-held key is a Signer of yours
//     behind FixedKeys.
//   - NewJWKSHandler serves the keys, with Cache-Control max-age equal to
//     PublishAhead. A service that verifies its own tokens gives the
//     KeyRing to jwt.Issuer.KeySource instead, and sees each rotation at
//     once without HTTP.
//   - Minter mints access tokens: typ at+jwt, iss, sub, aud, client_id,
//     scope, jti, iat, exp, sid; one hour by default, per grant
//     (MinterConfig.GrantLifetimes) or per client (AccessRequest.Lifetime),
//     never longer than the keys' MaxTokenLifetime; extra claims by a hook
//     that cannot override these; scope space-separated, or a JSON array
//     with MinterConfig.ScopeArray.
//   - Sessions issues refresh tokens: 256 random bits, stored as SHA-256,
//     single use, rotated on every refresh, with an absolute lifetime (7
//     days by default) and an idle one per client. A refresh token
//     presented twice ends its whole session (RFC 9700 §4.14.2), and
//     OnSessionEnded hands the sid to the revocation layer, so the
//     session's access tokens are refused too (RevokeSessions,
//     revocation.Memory.RevokeSession).
//   - Clients registers OAuth clients: secrets hashed with argon2id
//     (DefaultArgon2Params), allowed grants and scopes, lifetimes.
//   - NewClientCredentialsHandler is a token endpoint for the
//     client_credentials grant (RFC 6749 §4.4), with §5.2's errors.
//
// Every store is an interface with a memory implementation here, for one
// process and tests, and a PostgreSQL one in issuer/pgstore. Every type
// takes its clock as a Now func, so tests move time by hand.
//
// Tokens and secrets travel as Token, whose String and LogValue redact
// them; private keys as PrivateKey, likewise.
package issuer
