package revocation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/tollgate/tollgate/internal/bearer"
	"github.com/tollgate/tollgate/internal/jose"
	"github.com/tollgate/tollgate/principal"
)

// Checker reports whether a verified token has been revoked. token is the
// token as presented, p the principal its verifier returned (p.TokenID may
// be empty).
//
// An error means the answer is unknown: callers must refuse the request (fail
// closed), as middleware.Authenticate does with unavailable. Revoked is
// called on every authenticated request and must be safe for concurrent use.
type Checker interface {
	Revoked(ctx context.Context, token string, p *principal.Principal) (bool, error)
}

// TokenHash is the lower-case hex SHA-256 of the part of token that
// identifies it: the form in which revocation lists store revoked tokens.
//
// For a token shaped as a compact JWS, three non-empty parts of base64url
// characters (A–Z, a–z, 0–9, '-', '_') separated by dots, that part is the
// JWS signing input: the header and payload, up to but not including the
// last dot. The signature is left out because every valid signature over
// one signing input is the same token, and a signature need not be unique:
// ECDSA accepts both (r, s) and (r, N−s), so each ES256/384/512 JWT has a
// second spelling anyone can compute, which a hash of the whole string would
// let through once the first is revoked. Two tokens that differ only in
// their signature thus share a hash; at most one signature is the issuer's
// and the verifier refuses the rest, so this revokes nothing more.
//
// A JOSE object in any other spelling (a part that decodes, under some
// base64 variant, to a JSON object with "alg", spelled with padding, the
// standard alphabet's '+' and '/', non-zero trailing bits or bytes a lax
// decoder skips) is first decoded as the laxest decoder would and encoded
// again canonically: every spelling a lax verifier takes for one JWS has
// that JWS's hash, so revoking one spelling revokes them all, and none
// escapes the revocation of the token. (tollgate's verifiers refuse these
// spellings anyway, before revocation is asked.) Every other token, an
// opaque token in particular, is hashed whole, byte for byte.
//
// An opaque token that happens to have the compact JWS shape is keyed by its
// first two parts too: for a format such as prefix.keyid.secret, revoking one
// token revokes every token with the same prefix and key ID. Such a format
// should be revoked by ID, or carry the secret before the last dot.
func TokenHash(token string) string {
	sum := hashToken(token)
	return hex.EncodeToString(sum[:])
}

// hashToken is the SHA-256 that TokenHash encodes, read in place
// (bearer.Sum256). A canonical JWS or an opaque token costs no allocation;
// only a non-canonical spelling is copied.
func hashToken(token string) [sha256.Size]byte {
	if jose.Classify(token) == jose.NotCanonical {
		token = jose.Canonicalize(token)
		if jose.Classify(token) == jose.CompactJWS {
			token = token[:strings.LastIndexByte(token, '.')]
		}
	} else if n := signingInputLen(token); n > 0 {
		token = token[:n]
	}
	return bearer.Sum256(token)
}

// signingInputLen returns the index of the second (last) dot of a token of
// three non-empty parts of base64url characters (A–Z, a–z, 0–9, '-', '_';
// no padding, no whitespace), or 0 if token is not shaped so. This is the
// rule revocation lists have always been keyed by; it is kept for every
// token that is not a JOSE object in a non-canonical spelling, so that
// hashes stored before stay valid.
func signingInputLen(token string) int {
	d1, d2 := -1, -1
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '.' && d1 < 0:
			d1 = i
		case c == '.' && d2 < 0:
			d2 = i
		default:
			return 0
		}
	}
	if d1 <= 0 || d2 < 0 || d2 == d1+1 || d2 == len(token)-1 {
		return 0
	}
	return d2
}
