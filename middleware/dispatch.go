package middleware

import (
	"context"

	"github.com/tollgate/tollgate/principal"
)

// JWTOrOpaque returns a Verifier that sends JWT-shaped tokens (three
// non-empty dot-separated base64url segments, RFC 7515 compact form) to jwt
// and every other token to opaque: the merchant/customer style, where
// merchant API tokens are opaque and introspected while customer tokens are
// JWTs. Each verifier assigns its own token type. Either may be nil, and a
// token of that shape is then refused as invalid_token.
func JWTOrOpaque(jwt, opaque Verifier) Verifier {
	d := &jwtOrOpaque{jwt: jwt, opaque: opaque}
	d.jwtCache, _ = jwt.(rememberingVerifier)
	return d
}

type jwtOrOpaque struct {
	jwt, opaque Verifier
	jwtCache    rememberingVerifier // jwt's verified-token cache, if it has one
}

// Verify implements Verifier.
func (d *jwtOrOpaque) Verify(ctx context.Context, token string) (*principal.Principal, error) {
	v := d.opaque
	if looksLikeJWT(token) {
		v = d.jwt
	}
	if v == nil {
		return nil, errBadToken
	}
	return v.Verify(ctx, token)
}

// remembered asks the JWT verifier's cache: a token in it was verified as a
// JWT, whatever its shape says.
func (d *jwtOrOpaque) remembered(token string) *principal.Principal {
	if d.jwtCache == nil {
		return nil
	}
	return d.jwtCache.remembered(token)
}

// looksLikeJWT reports whether token has the compact JWS shape. It does not
// allocate and decides nothing about validity.
func looksLikeJWT(token string) bool {
	dots, segLen := 0, 0
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case c == '.':
			if segLen == 0 {
				return false
			}
			dots, segLen = dots+1, 0
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_':
			segLen++
		default:
			return false
		}
	}
	return dots == 2 && segLen > 0
}
