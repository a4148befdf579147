package authtest

import (
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
)

// ECDSATwin returns token, an ES256, ES384 or ES512 compact JWS, with its
// signature (r, s) replaced by (r, n−s): the other signature ECDSA accepts
// over the same signing input. Anyone holding a token can compute it, so it
// is the same token spelled differently; tests use it to check that nothing
// keys on a token's signature bytes (revocation by token, caches). It fails
// on a token whose signature is not a raw ECDSA signature of one of those
// curves.
func ECDSATwin(token string) (string, error) {
	dot := strings.LastIndexByte(token, '.')
	if dot < 0 {
		return "", errors.New("authtest.ECDSATwin: not a compact JWS")
	}
	sig, err := base64.RawURLEncoding.DecodeString(token[dot+1:])
	if err != nil {
		return "", err
	}
	var curve elliptic.Curve
	switch len(sig) {
	case 64:
		curve = elliptic.P256()
	case 96:
		curve = elliptic.P384()
	case 132:
		curve = elliptic.P521()
	default:
		return "", errors.New("authtest.ECDSATwin: not an ES256, ES384 or ES512 signature")
	}
	half := len(sig) / 2
	s := new(big.Int).SetBytes(sig[half:])
	s.Sub(curve.Params().N, s)
	twin := make([]byte, len(sig))
	copy(twin, sig[:half])
	s.FillBytes(twin[half:])
	return token[:dot+1] + base64.RawURLEncoding.EncodeToString(twin), nil
}
