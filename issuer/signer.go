package issuer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	stderrors "errors"
	"fmt"
	"log/slog"
)

// The signing algorithms a KeyRing generates keys for.
const (
	ES256 = "ES256" // ECDSA on P-256 with SHA-256: the default
	EdDSA = "EdDSA" // Ed25519 (RFC 8037)
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, 3072-bit keys
)

// rsaBits is the size of the RSA keys a KeyRing generates: 3072 bits, the
// size NIST SP 800-57 pairs with 128-bit security.
const rsaBits = 3072

// Signer signs JWS signing inputs with one private key. The key may live in
// this process (what a KeyRing makes) or in a KMS or HSM: implement Signer
// by calling the KMS's sign operation on the SHA-256 digest (ES256, RS256)
// or on the input itself (EdDSA), and give it to FixedKeys. tollgate needs no
// cloud SDK for this; the KMS's own client does the call.
type Signer interface {
	// KeyID is the key's "kid", unique among the issuer's keys.
	KeyID() string
	// Algorithm is the JWS "alg" the key signs with: ES256, EdDSA or RS256.
	Algorithm() string
	// Public is the key's public half: *ecdsa.PublicKey, ed25519.PublicKey
	// or *rsa.PublicKey.
	Public() crypto.PublicKey
	// Sign returns the JWS signature of signingInput (RFC 7515 §5.1):
	// for ES256 the 64 bytes R || S, not ASN.1.
	Sign(ctx context.Context, signingInput []byte) ([]byte, error)
}

// PrivateKey is a private key in PKCS #8 DER, as a KeyStore keeps it. Its
// String and LogValue redact it, so a stray %v or log line cannot print it.
type PrivateKey []byte

// String returns "[REDACTED]".
func (PrivateKey) String() string { return "[REDACTED]" }

// GoString returns "[REDACTED]".
func (PrivateKey) GoString() string { return "[REDACTED]" }

// LogValue returns "[REDACTED]".
func (PrivateKey) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// generateKey makes a new private key for alg and returns it in PKCS #8 DER.
func generateKey(alg string) (PrivateKey, error) {
	var k crypto.Signer
	var err error
	switch alg {
	case ES256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case RS256:
		k, err = rsa.GenerateKey(rand.Reader, rsaBits)
	default:
		return nil, fmt.Errorf("issuer: algorithm %q is not supported (ES256, EdDSA or RS256)", alg)
	}
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	return PrivateKey(der), err
}

// localSigner is a Signer whose private key is in this process.
type localSigner struct {
	kid, alg string
	key      crypto.Signer
}

// newLocalSigner parses der and checks that it suits alg.
func newLocalSigner(kid, alg string, der PrivateKey) (*localSigner, error) {
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, stderrors.New("issuer: private key is not PKCS #8")
	}
	s := &localSigner{kid: kid, alg: alg}
	switch k := parsed.(type) {
	case *ecdsa.PrivateKey:
		if alg == ES256 && k.Curve == elliptic.P256() {
			s.key = k
		}
	case ed25519.PrivateKey:
		if alg == EdDSA {
			s.key = k
		}
	case *rsa.PrivateKey:
		if alg == RS256 && k.N.BitLen() >= 2048 {
			s.key = k
		}
	}
	if s.key == nil {
		return nil, fmt.Errorf("issuer: key %q does not suit %s", kid, alg)
	}
	return s, nil
}

func (s *localSigner) KeyID() string            { return s.kid }
func (s *localSigner) Algorithm() string        { return s.alg }
func (s *localSigner) Public() crypto.PublicKey { return s.key.Public() }

func (s *localSigner) Sign(_ context.Context, input []byte) ([]byte, error) {
	switch k := s.key.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(k, input), nil
	case *ecdsa.PrivateKey:
		d := sha256.Sum256(input)
		r, ss, err := ecdsa.Sign(rand.Reader, k, d[:])
		if err != nil {
			return nil, err
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		ss.FillBytes(sig[32:])
		return sig, nil
	case *rsa.PrivateKey:
		d := sha256.Sum256(input)
		return rsa.SignPKCS1v15(nil, k, crypto.SHA256, d[:])
	}
	return nil, stderrors.New("issuer: unsupported key")
}

// newKeyID returns a random key ID: 16 bytes from crypto/rand, base64url.
func newKeyID() string {
	return randomString(16)
}

var b64 = base64.RawURLEncoding

// randomString is n bytes from crypto/rand in base64url without padding.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return b64.EncodeToString(b)
}
