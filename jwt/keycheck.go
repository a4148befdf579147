package jwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	stderrors "errors"
	"fmt"
	"math/big"
	"sync"
)

// The checks below run when a key is loaded (a static key at start-up, a
// JWKS key at each fetch), never per request. They refuse keys under which
// a signature can be made without the issuer's private key: keys too small
// to resist factoring or whose modulus anyone can factor, Ed25519 points of
// small order, and encodings that are not the one canonical form of a key.
// The errors name the defect and never the key material.

var (
	errRSAFactorable = stderrors.New("RSA modulus can be factored by anyone")
	errRSAROCA       = stderrors.New("RSA modulus has the ROCA fingerprint (CVE-2017-15361): it was made by a broken generator and can be factored")
	errECPoint       = stderrors.New("ECDSA public key is not a point of its curve")
	errEdNonCanon    = stderrors.New("Ed25519 public key is not canonically encoded")
	errEdNotOnCurve  = stderrors.New("Ed25519 public key is not a point of the curve")
	errEdSmallOrder  = stderrors.New("Ed25519 public key is a point of small order, under which forged signatures verify")
)

// maxRSAExponent is the largest public exponent crypto/rsa verifies with.
const maxRSAExponent = 1<<31 - 1

// maxRSABits bounds a modulus, as BoringSSL and OpenSSL bound theirs: a
// larger one costs every signature check, and every load, more than any
// issuer needs.
const maxRSABits = 16384

// checkRSA refuses a modulus shorter than minRSABits, longer than
// maxRSABits, or that anyone can
// factor (even, with a prime factor below smallPrimeBound, a perfect square,
// or with the ROCA fingerprint), and an exponent that is even, below 3 or
// beyond what crypto/rsa verifies with. It costs a GCD, a square root and 38
// small remainders, some tens of microseconds per key load. A prime modulus
// is not looked for: no generator makes one by mistake, and the test would
// cost a modular exponentiation per key at every fetch.
func checkRSA(k *rsa.PublicKey) error {
	if k.N == nil || k.N.Sign() <= 0 || k.N.BitLen() < minRSABits {
		return fmt.Errorf("RSA key shorter than %d bits", minRSABits)
	}
	if k.N.BitLen() > maxRSABits {
		return fmt.Errorf("RSA key longer than %d bits", maxRSABits)
	}
	if k.E < 3 || k.E%2 == 0 || k.E > maxRSAExponent {
		return fmt.Errorf("RSA public exponent %d is not an odd number from 3 to 2^31-1", k.E)
	}
	n := k.N
	if n.Bit(0) == 0 {
		return fmt.Errorf("%w: it is even", errRSAFactorable)
	}
	if new(big.Int).GCD(nil, nil, n, smallPrimeProduct()).Cmp(bigOne) != 0 {
		return fmt.Errorf("%w: it has a prime factor below %d", errRSAFactorable, smallPrimeBound)
	}
	if r := new(big.Int).Sqrt(n); r.Mul(r, r).Cmp(n) == 0 {
		return fmt.Errorf("%w: it is a square", errRSAFactorable)
	}
	if rocaFingerprint(n) {
		return errRSAROCA
	}
	return nil
}

var bigOne = big.NewInt(1)

// smallPrimeBound bounds the primes a modulus is checked against by GCD. A
// modulus with a factor this small comes from a broken generator.
const smallPrimeBound = 1 << 14

// smallPrimeProduct is the product of the primes below smallPrimeBound.
var smallPrimeProduct = sync.OnceValue(func() *big.Int {
	composite := make([]bool, smallPrimeBound)
	prod := big.NewInt(1)
	var f big.Int
	for i := 2; i < smallPrimeBound; i++ {
		if composite[i] {
			continue
		}
		prod.Mul(prod, f.SetInt64(int64(i)))
		for j := i * i; j < smallPrimeBound; j += i {
			composite[j] = true
		}
	}
	return prod
})

// rocaPrimes are the primes of the ROCA fingerprint, those of roca-detect
// (Nemec et al., "The Return of Coppersmith's Attack", CCS 2017). Every
// prime the Infineon generator built its primes on is among them: each of
// its primes is k·M + (65537^a mod M) for a primorial M, so a modulus n it
// made is, modulo each of these primes, a power of 65537.
var rocaPrimes = [...]int64{3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73,
	79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167}

// rocaGenerator is the generator of the Infineon primes' structure.
const rocaGenerator = 65537

// rocaPrime is one prime of the fingerprint: the order of 65537 modulo it,
// and the discrete logarithm base 65537 of each residue (-1 for residues
// outside the subgroup 65537 generates).
type rocaPrime struct {
	p     int64
	order int64
	logs  []int16
}

var rocaTable = sync.OnceValue(func() []rocaPrime {
	t := make([]rocaPrime, len(rocaPrimes))
	for i, p := range rocaPrimes {
		rp := rocaPrime{p: p, logs: make([]int16, p)}
		for r := range rp.logs {
			rp.logs[r] = -1
		}
		g := rocaGenerator % p
		for x, e := int64(1), int16(0); rp.logs[x] < 0; x, e = x*g%p, e+1 {
			rp.logs[x] = e
			rp.order++
		}
		t[i] = rp
	}
	return t
})

// rocaFingerprint reports whether n has the structure of a modulus made by
// the Infineon generator of CVE-2017-15361: n mod M is a power of 65537,
// where M is the product of rocaPrimes (and 2). It is the exact test of
// roca-detect's discrete-logarithm detector, done prime by prime: n mod p
// must lie in the subgroup 65537 generates modulo each prime p (the
// published residue fingerprint), and the logarithms l_p found modulo each
// subgroup order o_p must agree, which is when the congruences k ≡ l_p
// (mod o_p) have a common solution k: pairwise, l_p ≡ l_q mod gcd(o_p, o_q).
// The residue test alone flags about one random modulus in 2^28; the whole
// test about one in 2^155.
func rocaFingerprint(n *big.Int) bool {
	table := rocaTable()
	var logs [len(rocaPrimes)]int64
	var m, r big.Int
	for i, rp := range table {
		r.Mod(n, m.SetInt64(rp.p))
		l := rp.logs[r.Int64()]
		if l < 0 {
			return false
		}
		logs[i] = int64(l)
	}
	for i := range table {
		for j := i + 1; j < len(table); j++ {
			g := gcd(table[i].order, table[j].order)
			if (logs[i]-logs[j])%g != 0 {
				return false
			}
		}
	}
	return true
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// checkEC refuses a key whose point is not on its curve (or is the point at
// infinity, or has a coordinate out of range), and a curve no alg uses.
// crypto/ecdsa would refuse such a key at every verification; refusing it
// at load says why, once. k must not be modified afterwards.
func checkEC(k *ecdsa.PublicKey) error {
	switch k.Curve {
	case elliptic.P256(), elliptic.P384(), elliptic.P521():
	default:
		return stderrors.New("ECDSA key on an unsupported curve")
	}
	//lint:ignore SA1019 a nil coordinate would panic in Bytes; this only reads it
	if k.X == nil || k.Y == nil {
		return errECPoint
	}
	if _, err := k.Bytes(); err != nil {
		return errECPoint
	}
	return nil
}

// The edwards25519 field and curve constants (RFC 8032 §5.1).
var (
	ed25519P      = new(big.Int).Sub(new(big.Int).Lsh(bigOne, 255), big.NewInt(19))
	ed25519D      = edD()
	ed25519SqrtM1 = new(big.Int).Exp(big.NewInt(2), new(big.Int).Rsh(new(big.Int).Sub(ed25519P, bigOne), 2), ed25519P)
)

// edD is d = -121665/121666 mod p.
func edD() *big.Int {
	d := new(big.Int).ModInverse(big.NewInt(121666), ed25519P)
	d.Mul(d, big.NewInt(-121665))
	return d.Mod(d, ed25519P)
}

// checkEd25519 decodes the key as RFC 8032 §5.1.3 does, strictly, and
// refuses it unless it is the canonical encoding of a point of the curve
// that is not of small order:
//
//   - y ≥ p: a second encoding of a point, which crypto/ed25519 accepts;
//   - x = 0 with the sign bit set ("negative zero"), likewise;
//   - no x for this y: not a point;
//   - [8]A is the identity: A is one of the eight points of order 1, 2, 4
//     or 8, under which a signature made without any private key verifies
//     (under the identity, R = identity and S = 0 verify every message).
//
// Keys with both a small-order and a prime-order component (never made by
// a key generator) are not refused: they let no one but the key's owner
// sign.
func checkEd25519(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return stderrors.New("Ed25519 key of the wrong size")
	}
	var be [ed25519.PublicKeySize]byte
	for i, b := range pub {
		be[len(pub)-1-i] = b
	}
	sign := be[0] >> 7
	be[0] &= 0x7f
	y := new(big.Int).SetBytes(be[:])
	if y.Cmp(ed25519P) >= 0 {
		return errEdNonCanon
	}
	x := edRecoverX(y)
	if x == nil {
		return errEdNotOnCurve
	}
	if x.Sign() == 0 && sign == 1 {
		return errEdNonCanon
	}
	if x.Bit(0) != uint(sign) {
		x.Sub(ed25519P, x)
	}
	for range 3 {
		x, y = edAdd(x, y, x, y)
	}
	if x.Sign() == 0 && y.Cmp(bigOne) == 0 {
		return errEdSmallOrder
	}
	return nil
}

// edRecoverX returns an x with x² = (y² - 1) / (d·y² + 1) mod p, or nil if
// there is none.
func edRecoverX(y *big.Int) *big.Int {
	p := ed25519P
	y2 := new(big.Int).Mul(y, y)
	u := new(big.Int).Sub(y2, bigOne)
	v := new(big.Int).Mul(ed25519D, y2)
	v.Add(v, bigOne)
	xx := u.Mul(u, v.ModInverse(v.Mod(v, p), p))
	xx.Mod(xx, p)
	// p ≡ 5 mod 8: a square root of xx is xx^((p+3)/8), possibly times √-1.
	e := new(big.Int).Add(p, big.NewInt(3))
	x := new(big.Int).Exp(xx, e.Rsh(e, 3), p)
	check := func() bool {
		s := new(big.Int).Mul(x, x)
		return s.Mod(s, p).Cmp(xx) == 0
	}
	if check() {
		return x
	}
	x.Mul(x, ed25519SqrtM1).Mod(x, p)
	if check() {
		return x
	}
	return nil
}

// edAdd adds two points of the twisted Edwards curve -x² + y² = 1 + d·x²·y²
// in affine coordinates. The formulas are complete: no denominator is zero
// for points of the curve, since d is not a square.
func edAdd(x1, y1, x2, y2 *big.Int) (*big.Int, *big.Int) {
	p := ed25519P
	t := new(big.Int).Mul(x1, x2)
	t.Mul(t, y1).Mul(t, y2).Mul(t, ed25519D).Mod(t, p)
	xn := new(big.Int).Mul(x1, y2)
	xn.Add(xn, new(big.Int).Mul(y1, x2))
	yn := new(big.Int).Mul(y1, y2)
	yn.Add(yn, new(big.Int).Mul(x1, x2))
	xd := new(big.Int).Add(bigOne, t)
	yd := new(big.Int).Sub(bigOne, t)
	xd.ModInverse(xd.Mod(xd, p), p)
	yd.ModInverse(yd.Mod(yd, p), p)
	xn.Mul(xn, xd).Mod(xn, p)
	yn.Mul(yn, yd).Mod(yn, p)
	return xn, yn
}
