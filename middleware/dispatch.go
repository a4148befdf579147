package middleware

import (
	"context"
	stderrors "errors"
	"strings"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/internal/jose"
	"github.com/tollgate/tollgate/observe"
	"github.com/tollgate/tollgate/principal"
)

// errNotCanonical is the cause of refusing a token shaped as a JOSE object
// but not spelled canonically.
var errNotCanonical = stderrors.New("a JOSE object not in canonical compact form")

// JWTOrOpaque returns a Verifier that sends JWT-shaped tokens to jwt and
// every other token to opaque: the merchant/customer style, where merchant
// API tokens are opaque and introspected while customer tokens are JWTs.
// Each verifier assigns its own token type. Either may be nil, and a token
// of that shape is then refused as invalid_token.
//
// A token is JWT-shaped if it has three dot-separated parts. Only a JWS in
// its one canonical spelling (three non-empty parts of unpadded base64url
// with zero trailing bits, RFC 7515 §7.1) reaches jwt. Any other spelling
// of a JOSE object is refused as invalid_token and reaches neither
// verifier: three parts with padding, '+' or '/', an empty part or
// non-zero trailing bits, and any token with a part that decodes, under any
// base64 variant, to a JSON object with an "alg" member. A lax
// authorization server would read such a token as the JWT it re-spells,
// while the revocation list and the caches, keyed by the token's bytes,
// would not; refusing it keeps a JWT revoked by token hash revoked in every
// spelling. A compact JWE (five canonical parts) is opaque to this server
// and goes to opaque.
func JWTOrOpaque(jwt, opaque Verifier) Verifier {
	d := &jwtOrOpaque{jwt: jwt, opaque: opaque}
	d.jwtCache, _ = jwt.(Remembering)
	return d
}

type jwtOrOpaque struct {
	jwt, opaque Verifier
	jwtCache    Remembering // jwt's verified-token cache, if it has one
}

// Verify implements Verifier.
func (d *jwtOrOpaque) Verify(ctx context.Context, token string) (*principal.Principal, error) {
	v := d.opaque
	switch shape := jose.Classify(token); {
	case shape == jose.CompactJWS:
		v = d.jwt
	case shape == jose.NotCanonical || strings.Count(token, ".") == 2:
		return nil, &tgerrors.Error{Kind: tgerrors.InvalidToken, Message: "The access token is invalid", Err: errNotCanonical}
	}
	if v == nil {
		return nil, errBadToken
	}
	return v.Verify(ctx, token)
}

// Remembered asks the JWT verifier's cache: a token in it was verified as a
// JWT, whatever its shape says.
func (d *jwtOrOpaque) Remembered(token string) *principal.Principal {
	if d.jwtCache == nil {
		return nil
	}
	return d.jwtCache.Remembered(token)
}

// ObservedLayer names the layer of the verifier token goes to, for the
// observer (see ObservedLayer).
func (d *jwtOrOpaque) ObservedLayer(token string) string {
	v := d.opaque
	if jose.Classify(token) == jose.CompactJWS {
		v = d.jwt
	}
	if v == nil {
		return observe.LayerAuthenticate
	}
	return verifierLayer(v, token)
}
