package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	_ "crypto/sha256" // registers SHA-256 for crypto.Hash.New
	_ "crypto/sha512" // registers SHA-384 and SHA-512
	"fmt"
	"math/big"
	"sync/atomic"
)

type keyFamily uint8

const (
	familyRSA keyFamily = iota + 1
	familyEC
	familyEd25519
	familyHMAC
)

// jwsAlgorithm is one supported JWS "alg" (RFC 7518, RFC 8037).
type jwsAlgorithm struct {
	name   string
	family keyFamily
	hash   crypto.Hash
	pss    bool
	curve  elliptic.Curve
}

// jwsAlgorithms lists every accepted alg. "none" is absent by design.
var jwsAlgorithms = map[string]*jwsAlgorithm{
	"RS256": {name: "RS256", family: familyRSA, hash: crypto.SHA256},
	"RS384": {name: "RS384", family: familyRSA, hash: crypto.SHA384},
	"RS512": {name: "RS512", family: familyRSA, hash: crypto.SHA512},
	"PS256": {name: "PS256", family: familyRSA, hash: crypto.SHA256, pss: true},
	"PS384": {name: "PS384", family: familyRSA, hash: crypto.SHA384, pss: true},
	"PS512": {name: "PS512", family: familyRSA, hash: crypto.SHA512, pss: true},
	"ES256": {name: "ES256", family: familyEC, hash: crypto.SHA256, curve: elliptic.P256()},
	"ES384": {name: "ES384", family: familyEC, hash: crypto.SHA384, curve: elliptic.P384()},
	"ES512": {name: "ES512", family: familyEC, hash: crypto.SHA512, curve: elliptic.P521()},
	"EdDSA": {name: "EdDSA", family: familyEd25519},
	"HS256": {name: "HS256", family: familyHMAC, hash: crypto.SHA256},
	"HS384": {name: "HS384", family: familyHMAC, hash: crypto.SHA384},
	"HS512": {name: "HS512", family: familyHMAC, hash: crypto.SHA512},
}

// verifyKey is one key an issuer signs with. Exactly one of rsa, ec, ed and
// secret is set.
type verifyKey struct {
	kid    string
	alg    string // the only alg this key verifies, if set (the JWK's "alg")
	rsa    *rsa.PublicKey
	ec     *ecdsa.PublicKey
	ed     ed25519.PublicKey
	secret []byte
}

const minRSABits = 2048

// check refuses a key that must not be trusted to verify anything: one too
// weak, malformed, or of a kind that lets anyone forge a signature, and a
// key whose own alg does not suit it. It is the one gate for every key,
// static or fetched; see checkRSA, checkEC and checkEd25519 for what each
// type must be. It runs when keys are loaded, never on the request path.
func (k *verifyKey) check() error {
	var err error
	switch {
	case k.rsa != nil:
		err = checkRSA(k.rsa)
	case k.ec != nil:
		err = checkEC(k.ec)
	case k.ed != nil:
		err = checkEd25519(k.ed)
	}
	if err != nil {
		return err
	}
	if k.alg != "" {
		a := jwsAlgorithms[k.alg]
		if a == nil || !k.suitsFamily(a) {
			return fmt.Errorf("key algorithm %q does not suit the key", k.alg)
		}
	}
	return nil
}

// suits reports whether the key may verify a signature made with a: the
// key's type and curve match the alg's family, and the key's own alg, if it
// names one, is a. This is what keeps an RSA public key from being used as
// an HMAC secret, whatever the token's header says.
func (k *verifyKey) suits(a *jwsAlgorithm) bool {
	return (k.alg == "" || k.alg == a.name) && k.suitsFamily(a)
}

func (k *verifyKey) suitsFamily(a *jwsAlgorithm) bool {
	switch a.family {
	case familyRSA:
		return k.rsa != nil
	case familyEC:
		return k.ec != nil && k.ec.Curve == a.curve
	case familyEd25519:
		return k.ed != nil
	case familyHMAC:
		return k.secret != nil
	}
	return false
}

func (k *verifyKey) equal(o *verifyKey) bool {
	if k.kid != o.kid || k.alg != o.alg {
		return false
	}
	switch {
	case k.rsa != nil:
		return o.rsa != nil && k.rsa.Equal(o.rsa)
	case k.ec != nil:
		return o.ec != nil && k.ec.Equal(o.ec)
	case k.ed != nil:
		return o.ed != nil && k.ed.Equal(o.ed)
	}
	return o.secret != nil && hmac.Equal(k.secret, o.secret)
}

// verifySignature checks sig over input with k under a. k must suit a.
func verifySignature(a *jwsAlgorithm, k *verifyKey, input string, sig []byte) bool {
	if a.family == familyEd25519 {
		return ed25519.Verify(k.ed, []byte(input), sig)
	}
	if a.family == familyHMAC {
		m := hmac.New(a.hash.New, k.secret)
		m.Write([]byte(input))
		return hmac.Equal(m.Sum(nil), sig)
	}
	h := a.hash.New()
	h.Write([]byte(input))
	var buf [64]byte
	digest := h.Sum(buf[:0])
	switch a.family {
	case familyRSA:
		if a.pss {
			return rsa.VerifyPSS(k.rsa, a.hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
		return rsa.VerifyPKCS1v15(k.rsa, a.hash, digest, sig) == nil
	case familyEC:
		size := (a.curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return false
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(k.ec, digest, r, s)
	}
	return false
}

// keySet is an immutable set of an issuer's keys. A new set gets a new
// generation; cache entries remember the generation that verified them.
type keySet struct {
	gen  uint64
	keys []*verifyKey
}

var keySetGen atomic.Uint64

func nextKeySetGen() uint64 { return keySetGen.Add(1) }

func (s *keySet) byID(kid string) *verifyKey {
	for _, k := range s.keys {
		if k.kid == kid {
			return k
		}
	}
	return nil
}

// find returns the key that verifies a token with this kid and alg, or nil.
// A token without a kid is verified by the only key suited to its alg; an
// HMAC issuer's single secret verifies whatever the kid.
func (s *keySet) find(kid string, hasKID bool, a *jwsAlgorithm) *verifyKey {
	if a.family == familyHMAC {
		if len(s.keys) == 1 && s.keys[0].suits(a) {
			return s.keys[0]
		}
		return nil
	}
	if hasKID {
		if k := s.byID(kid); k != nil && k.suits(a) {
			return k
		}
		return nil
	}
	var found *verifyKey
	for _, k := range s.keys {
		if k.suits(a) {
			if found != nil {
				return nil
			}
			found = k
		}
	}
	return found
}

// sameKeys reports whether two sets hold the same keys, in any order, each
// as many times: every key of s is matched with a distinct equal key of o.
// Matching by kid alone is not enough, because keys without a kid share the
// kid "": a new set {A, A} must not pass for the old {A, B}, or B, removed,
// would keep verifying under the old generation.
func (s *keySet) sameKeys(o *keySet) bool {
	if s == nil || o == nil || len(s.keys) != len(o.keys) {
		return false
	}
	used := make([]bool, len(o.keys))
next:
	for _, k := range s.keys {
		for j, ok := range o.keys {
			if !used[j] && k.equal(ok) {
				used[j] = true
				continue next
			}
		}
		return false
	}
	return true
}
