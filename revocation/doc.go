// Package revocation answers one question on every request: has this token
// been revoked since it was issued?
//
// A verified token stays verified until it expires: a JWT's signature does
// not change when its user logs out, and a cached introspection answer is
// reused for minutes. A Checker closes that gap. middleware.Authenticate
// consults it after the Verifier on every request, cache hits included, so a
// revocation takes effect from the next request on.
//
// # What is revoked
//
// A token is revoked when either
//
//   - its ID is in the revoked-ID set: Principal.TokenID, the "jti" of a JWT
//     or of an introspection answer. This is how a JWT is revoked without
//     keeping the token. IDs are matched exactly and are not scoped by
//     issuer: should two issuers share a jti, revoking one refuses both,
//     which errs on the safe side.
//   - its "sid" claim is in the revoked-session set: every access token
//     minted from a refresh session that was ended (logout, or the reuse
//     of a refresh token: see issuer.SessionsConfig.OnSessionEnded), by
//     Memory.RevokeSession.
//   - its hash (TokenHash) is in the revoked-token set. This is how an
//     opaque token, which has no ID of its own, is revoked, and a JWT
//     without a jti. Only the hash is stored, so the revocation list holds
//     no usable credential.
//
// Beyond single tokens, a Rule revokes many at once by what the principal
// says: a subject's or a client's tokens
// issued before a time (a password change, a rotated client secret, "sign
// out everywhere"), a grant (a subject's tokens through one client: the user
// revoked the app), or, with no time, a suspension that holds until
// LiftRule. RevokeRule and LiftRule manage them on both stores; see Rule.
// Rules are checked in memory on every request, in tens of nanoseconds and
// without allocation.
//
// TokenHash is the SHA-256 of an opaque token, but of a JWT (any token
// shaped as a compact JWS: three non-empty base64url parts joined by dots)
// only the signing input, header.payload, is hashed, not the signature.
// Signatures are not unique: an ECDSA signature (r, s) has a twin (r, N−s)
// that verifies as well and that anyone can compute from the token, so a
// hash of the whole string would let the twin of a revoked ES256 JWT
// through. Hashing the signing input makes every valid signature of one
// token the same revoked token. High-s signatures are not refused instead:
// legitimate signers produce them.
//
// Nor can a token escape its revocation by being spelled another way. A JOSE
// object spelled with padding, the standard alphabet's '+' and '/', non-zero
// trailing bits or bytes a lax decoder skips is hashed as its canonical
// spelling, so every re-encoding of a revoked JWT has the revoked hash.
// tollgate's verifiers refuse such spellings before revocation is asked; the
// hash holds for any other verifier too.
//
// Every revocation carries an until time, normally the token's own exp,
// and is kept for a Leeway past it (DefaultLeeway, 5 minutes, unless the
// store is configured otherwise). A JWT verifier admits a token up to its
// own leeway past exp (jwt.Config.Leeway, 30 seconds by default),
// so an entry dropped at exp would let the revoked token back in for that
// long; for the same reason a revocation made after exp but within the
// Leeway is still recorded. A store's Leeway must be at least the
// verifier's. After until plus the Leeway the verifier refuses the token
// anyway, so the entry is dropped and the lists stay as small as the set of
// revoked tokens that are still alive. A zero until keeps the entry for
// good, for tokens that never expire.
//
// # Implementations
//
// Memory keeps both sets in the process: for a single replica, or for tests.
// Its check is built for the hot path: for a token with a jti it does not
// hash the token unless some token has been revoked by hash (an atomic count
// says so), it takes only read locks, and it does not allocate. Its size is
// bounded: when full, a revocation is refused with ErrFull rather than
// silently dropping an older one, which would un-revoke a live token.
//
// Package redisrevocation keeps the sets in Redis, shared by every replica;
// a check is one round trip, bounded by a timeout of its own (50 ms by
// default), and a Redis that lost its data is an outage, not an empty list.
//
// # Failing closed
//
// A Checker that returns an error has not said the token is good.
// middleware.Authenticate then refuses the request with unavailable (503),
// and so should any other caller: a revocation list that cannot be read must
// not let a revoked token through. Memory never fails; redisrevocation fails
// when Redis fails, does not answer within its timeout, or has lost the
// list, and its errors are *errors.Error of kind Unavailable, unless it is
// configured to fail open.
package revocation
