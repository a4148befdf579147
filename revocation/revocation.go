package revocation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"unsafe"

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

// TokenHash is the lower-case hex SHA-256 of token: the form in which
// revocation lists store opaque tokens.
func TokenHash(token string) string {
	sum := hashToken(token)
	return hex.EncodeToString(sum[:])
}

// hashToken is the SHA-256 of token. It reads the string's bytes in place:
// converting to []byte would copy the token on every check, and Sum256
// neither keeps nor modifies its input.
func hashToken(token string) [sha256.Size]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}
