package jwt

import (
	"context"
	"crypto/ed25519"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
)

// fakeKeySource is a KeySource whose keys a test sets.
type fakeKeySource struct {
	mu      sync.Mutex
	keys    []StaticKey
	version atomic.Uint64
	reads   atomic.Int64
}

func (s *fakeKeySource) set(keys ...StaticKey) {
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
	s.version.Add(1)
}

func (s *fakeKeySource) KeysVersion() uint64 { return s.version.Load() }

func (s *fakeKeySource) PublicKeys() []StaticKey {
	s.reads.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]StaticKey(nil), s.keys...)
}

func keySourceIssuer(url string, src KeySource) Issuer {
	return Issuer{Issuer: url, KeySource: src, Audiences: []string{testAudience}, Algorithms: []string{"ES256", "EdDSA", "RS256"}}
}

func TestAKeySourceVerifiesTokensWithoutFetchingAJWKS(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	src := &fakeKeySource{}
	src.set(StaticKey{ID: iss.KID("ES256"), Algorithm: "ES256", Public: iss.PublicKey("ES256")})
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{keySourceIssuer(iss.URL(), src)}})
	p := mustVerify(t, v, iss.Mint(claims(nil), authtest.WithAlg("ES256")))
	if p.Subject() != "user-1" {
		t.Fatalf("subject %q", p.Subject())
	}
	if n := iss.FetchCount(); n != 0 {
		t.Fatalf("%d JWKS fetches, want none", n)
	}
	// The keys are read again only when the version changes.
	reads := src.reads.Load()
	mustVerify(t, v, iss.Mint(claims(map[string]any{"jti": "2"}), authtest.WithAlg("ES256")))
	if src.reads.Load() != reads {
		t.Fatal("the keys were read again without a version change")
	}
}

func TestAKeySourceRotationIsSeenWithoutARestart(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	src := &fakeKeySource{}
	src.set(StaticKey{ID: iss.KID("ES256"), Algorithm: "ES256", Public: iss.PublicKey("ES256")})
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{keySourceIssuer(iss.URL(), src)}})
	old := iss.Mint(claims(nil), authtest.WithAlg("ES256"))
	mustVerify(t, v, old) // now cached

	iss.Rotate()
	src.set(StaticKey{ID: iss.KID("ES256"), Algorithm: "ES256", Public: iss.PublicKey("ES256")})
	if p := v.Remembered(old); p != nil {
		t.Fatal("a token of a removed key is still answered from the cache")
	}
	p, err := v.Verify(context.Background(), old)
	wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTNoKey)
	mustVerify(t, v, iss.Mint(claims(nil), authtest.WithAlg("ES256")))
}

func TestAKeySourceChangeWithTheSameKeysKeepsCachedTokens(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	src := &fakeKeySource{}
	key := StaticKey{ID: iss.KID("ES256"), Algorithm: "ES256", Public: iss.PublicKey("ES256")}
	src.set(key)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{keySourceIssuer(iss.URL(), src)}})
	tok := iss.Mint(claims(nil), authtest.WithAlg("ES256"))
	first := mustVerify(t, v, tok)
	src.set(key)
	if p := v.Remembered(tok); p != first {
		t.Fatal("the same keys under a new version dropped the cached token")
	}
	reads := src.reads.Load()
	if p := mustVerify(t, v, tok); p != first {
		t.Fatal("the token was verified again, not answered from the cache")
	}
	if src.reads.Load() != reads {
		t.Fatal("the keys were read again without a version change")
	}
}

func TestAKeySourceKeyIsCheckedAsAFetchedKeyIs(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	src := &fakeKeySource{}
	smallOrder := ed25519.PublicKey(append([]byte{1}, make([]byte, 31)...)) // the identity point
	src.set(
		StaticKey{ID: "weak", Algorithm: "EdDSA", Public: smallOrder},
		StaticKey{ID: "hmac-alg", Algorithm: "HS256", Public: iss.PublicKey("ES256")},
		StaticKey{ID: iss.KID("ES256"), Algorithm: "ES256", Public: iss.PublicKey("ES256")},
	)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{keySourceIssuer(iss.URL(), src)}})
	mustVerify(t, v, iss.Mint(claims(nil), authtest.WithAlg("ES256")))
	for _, kid := range []string{"weak", "hmac-alg"} {
		p, err := v.Verify(context.Background(), iss.Mint(claims(nil), authtest.WithAlg("EdDSA"), authtest.WithKID(kid)))
		wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTNoKey)
	}
}

func TestAKeySourceIsOneKeySourceAmongOthersAndNeverHMAC(t *testing.T) {
	src := &fakeKeySource{}
	for name, is := range map[string]Issuer{
		"with Keys":    {Issuer: "https://a", KeySource: src, Keys: []StaticKey{{ID: "x"}}, AnyAudience: true, Algorithms: []string{"ES256"}},
		"with JWKSURL": {Issuer: "https://a", KeySource: src, JWKSURL: "https://a/jwks", AnyAudience: true, Algorithms: []string{"ES256"}},
		"with HS256":   {Issuer: "https://a", KeySource: src, AnyAudience: true, Algorithms: []string{"HS256"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewVerifier(context.Background(), Config{Issuers: []Issuer{is}}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestACachedTokenOfAKeySourceCostsNoAllocation(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	src := &fakeKeySource{}
	src.set(StaticKey{ID: iss.KID("ES256"), Algorithm: "ES256", Public: iss.PublicKey("ES256")})
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{keySourceIssuer(iss.URL(), src)}})
	tok := iss.Mint(claims(nil), authtest.WithAlg("ES256"))
	mustVerify(t, v, tok)
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() { _, _ = v.Verify(ctx, tok) }); n != 0 {
		t.Fatalf("%g allocations per cached verification, want 0", n)
	}
}
