package issuer_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/issuer"
)

const (
	period  = 24 * time.Hour
	ahead   = time.Hour
	maxLife = 2 * time.Hour
	leeway  = time.Minute
)

func newRing(t testing.TB, c *clock, store issuer.KeyStore, alg string) *issuer.KeyRing {
	t.Helper()
	r, err := issuer.NewKeyRing(context.Background(), issuer.KeyRingConfig{
		Store: store, Algorithm: alg, SignPeriod: period, PublishAhead: ahead,
		MaxTokenLifetime: maxLife, Leeway: leeway, Now: c.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func kids(r *issuer.KeyRing) []string {
	var out []string
	for _, k := range r.PublicKeys() {
		out = append(out, k.ID)
	}
	return out
}

func signerID(t testing.TB, r *issuer.KeyRing, now time.Time) string {
	t.Helper()
	s, err := r.Signer(now)
	if err != nil {
		t.Fatal(err)
	}
	return s.KeyID()
}

func rotateAt(t testing.TB, r *issuer.KeyRing, c *clock, at time.Time) {
	t.Helper()
	c.Set(at)
	if err := r.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTheFirstKeyIsES256AndSignsAtOnce(t *testing.T) {
	c := newClock()
	r := newRing(t, c, nil, "")
	s, err := r.Signer(c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if s.Algorithm() != issuer.ES256 {
		t.Fatalf("alg %q, want ES256", s.Algorithm())
	}
	if _, ok := s.Public().(*ecdsa.PublicKey); !ok {
		t.Fatalf("public key %T", s.Public())
	}
	if got := kids(r); len(got) != 1 || got[0] != s.KeyID() {
		t.Fatalf("published %v, want only %q", got, s.KeyID())
	}
}

func TestKeysAreRotatedOnTheSchedule(t *testing.T) {
	c := newClock()
	t0 := c.Now()
	r := newRing(t, c, nil, "")
	first := signerID(t, r, t0)

	// Before the next key is due, nothing changes.
	rotateAt(t, r, c, t0.Add(period-2*ahead-time.Nanosecond))
	if got := kids(r); len(got) != 1 {
		t.Fatalf("published %v before the next key is due", got)
	}
	// Once due, the next key is published but the first still signs.
	rotateAt(t, r, c, t0.Add(period-2*ahead))
	got := kids(r)
	if len(got) != 2 || got[0] != first {
		t.Fatalf("published %v, want the first key and its successor", got)
	}
	second := got[1]
	if s := signerID(t, r, t0.Add(period-time.Nanosecond)); s != first {
		t.Fatalf("the successor signs at %v, before its NotBefore", period-time.Nanosecond)
	}
	// It signs from the end of the first key's period: published 2 × ahead before.
	if s := signerID(t, r, t0.Add(period)); s != second {
		t.Fatalf("signer at period end is %q, want the successor %q", s, second)
	}
	// The retired key stays published until its last token has expired.
	removeAt := t0.Add(period + maxLife + leeway)
	rotateAt(t, r, c, removeAt.Add(-time.Nanosecond))
	if got := kids(r); len(got) != 2 {
		t.Fatalf("published %v: the retired key left while its tokens live", got)
	}
	rotateAt(t, r, c, removeAt)
	if got := kids(r); len(got) != 1 || got[0] != second {
		t.Fatalf("published %v, want only %q once the first key's tokens expired", got, second)
	}
}

func TestALateRotationStillPublishesTheNextKeyAheadOfItsFirstSignature(t *testing.T) {
	c := newClock()
	t0 := c.Now()
	r := newRing(t, c, nil, "")
	first := signerID(t, r, t0)
	late := t0.Add(period + 10*time.Minute) // rotation stalled past the period
	rotateAt(t, r, c, late)
	if s := signerID(t, r, late.Add(ahead-time.Nanosecond)); s != first {
		t.Fatal("the new key signs before it has been published for PublishAhead")
	}
	if s := signerID(t, r, late.Add(ahead)); s == first {
		t.Fatal("the new key does not sign once published for PublishAhead")
	}
}

func TestAStalledRotationKeepsSigningWithTheCurrentKey(t *testing.T) {
	c := newClock()
	t0 := c.Now()
	r := newRing(t, c, nil, "")
	first := signerID(t, r, t0)
	if s := signerID(t, r, t0.Add(10*period)); s != first {
		t.Fatalf("signer %q, want the only key %q", s, first)
	}
}

func TestReplicasStartingTogetherAgreeOnOneKey(t *testing.T) {
	c := newClock()
	store := &issuer.MemoryKeyStore{}
	const n = 20
	rings := make([]*issuer.KeyRing, n)
	var wg sync.WaitGroup
	for i := range rings {
		wg.Go(func() { rings[i] = newRing(t, c, store, "") })
	}
	wg.Wait()
	want := signerID(t, rings[0], c.Now())
	for i, r := range rings {
		if s := signerID(t, r, c.Now()); s != want {
			t.Fatalf("replica %d signs with %q, replica 0 with %q", i, s, want)
		}
	}
	// And rotating together they agree on one successor.
	c.Advance(period - 2*ahead)
	for _, r := range rings {
		wg.Go(func() {
			if err := r.Rotate(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	keys, _ := store.Keys(context.Background())
	if len(keys) != 2 {
		t.Fatalf("store holds %d keys after a concurrent rotation, want 2", len(keys))
	}
	next := c.Now().Add(2 * ahead)
	want = signerID(t, rings[0], next)
	for i, r := range rings {
		if s := signerID(t, r, next); s != want {
			t.Fatalf("replica %d signs with %q after rotation, replica 0 with %q", i, s, want)
		}
	}
}

func TestEveryAlgorithmSignsWhatItsPublicKeyVerifies(t *testing.T) {
	input := []byte("header.payload")
	for _, alg := range []string{issuer.ES256, issuer.EdDSA, issuer.RS256} {
		t.Run(alg, func(t *testing.T) {
			c := newClock()
			s, err := newRing(t, c, nil, alg).Signer(c.Now())
			if err != nil {
				t.Fatal(err)
			}
			if s.Algorithm() != alg {
				t.Fatalf("alg %q", s.Algorithm())
			}
			sig, err := s.Sign(context.Background(), input)
			if err != nil {
				t.Fatal(err)
			}
			d := sha256.Sum256(input)
			var ok bool
			switch pub := s.Public().(type) {
			case *ecdsa.PublicKey:
				ok = len(sig) == 64 && ecdsa.Verify(pub, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
			case ed25519.PublicKey:
				ok = ed25519.Verify(pub, input, sig)
			case *rsa.PublicKey:
				ok = pub.N.BitLen() >= 3072 && rsa.VerifyPKCS1v15(pub, 5 /* crypto.SHA256 */, d[:], sig) == nil
			}
			if !ok {
				t.Fatalf("signature does not verify under %T", s.Public())
			}
		})
	}
}

func TestKeyRingConfigIsChecked(t *testing.T) {
	for name, cfg := range map[string]issuer.KeyRingConfig{
		"unknown algorithm":       {Algorithm: "HS256"},
		"none":                    {Algorithm: "none"},
		"negative period":         {SignPeriod: -time.Hour},
		"period under 2 × ahead":  {SignPeriod: 2 * time.Hour, PublishAhead: time.Hour},
		"negative token lifetime": {MaxTokenLifetime: -1},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := issuer.NewKeyRing(context.Background(), cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestAPrivateKeyIsNeverPrinted(t *testing.T) {
	c := newClock()
	store := &issuer.MemoryKeyStore{}
	newRing(t, c, store, "")
	keys, _ := store.Keys(context.Background())
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("key", "private", keys[0].Private, "record", keys[0])
	for _, s := range []string{fmt.Sprint(keys[0]), fmt.Sprintf("%v %+v %#v %s", keys[0].Private, keys[0], keys[0].Private, keys[0].Private), buf.String()} {
		if !strings.Contains(s, "REDACTED") || strings.Contains(s, string(keys[0].Private[:8])) {
			t.Fatalf("printed: %q", s)
		}
	}
}
