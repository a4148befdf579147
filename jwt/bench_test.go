package jwt

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/tollgate/tollgate/authtest"
	"github.com/tollgate/tollgate/middleware"
)

// benchSetup returns a verifier on the real clock and an RS256 token shaped
// like a marketplace access token.
func benchSetup(b *testing.B, cacheSize int, alg string) (*Verifier, *authtest.Issuer, string) {
	b.Helper()
	iss := authtest.NewIssuer(b)
	v, err := NewVerifier(context.Background(), Config{
		Issuers:   []Issuer{jwksIssuer(iss)},
		CacheSize: cacheSize,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = v.Close() })
	token := iss.Mint(map[string]any{
		"sub": "merchant-42", "aud": testAudience, "client_id": "app-7", "jti": "0f8e6a3c-1d2b",
		"scope": []string{"integration.store", "integration.order", "integration.inventory"},
	}, authtest.WithAlg(alg))
	if _, err := v.Verify(context.Background(), token); err != nil {
		b.Fatal(err)
	}
	return v, iss, token
}

// BenchmarkVerifyCached is the common case: a client reusing its token.
func BenchmarkVerifyCached(b *testing.B) {
	v, _, token := benchSetup(b, 0, authtest.RS256)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCachedParallel(b *testing.B) {
	v, _, token := benchSetup(b, 0, authtest.RS256)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
}

type discardResponse struct{ h http.Header }

func (d *discardResponse) Header() http.Header         { return d.h }
func (d *discardResponse) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardResponse) WriteHeader(int)             {}

// BenchmarkVerifyCachedThroughAuthenticate adds what middleware.Authenticate costs:
// header parsing and putting the principal in the context.
func BenchmarkVerifyCachedThroughAuthenticate(b *testing.B) {
	v, _, token := benchSetup(b, 0, authtest.RS256)
	reached := 0
	h := middleware.Authenticate(v)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ }))
	req, _ := http.NewRequest(http.MethodGet, "https://api.test/orders", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	w := &discardResponse{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
	if reached == 0 {
		b.Fatal("handler never reached")
	}
}

// BenchmarkVerifyFirstSeen is a token the verifier has not seen: the cache
// is disabled, so every iteration decodes and checks it in full.
func BenchmarkVerifyFirstSeen(b *testing.B) {
	for _, alg := range []string{authtest.RS256, authtest.ES256, authtest.EdDSA} {
		b.Run(alg, func(b *testing.B) {
			v, _, token := benchSetup(b, -1, alg)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBareJWXParse is jwx's own parse and validation of the same RS256
// token with the same key, the yardstick for BenchmarkVerifyFirstSeen/RS256.
func BenchmarkBareJWXParse(b *testing.B) {
	_, iss, token := benchSetup(b, -1, authtest.RS256)
	key := iss.PublicKey(authtest.RS256)
	src := []byte(token)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jwt.Parse(src, jwt.WithKey(jwa.RS256(), key)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareRSAVerifyAndJSON is the floor: base64-decode, one
// rsa.VerifyPKCS1v15 and one json.Unmarshal of the claims, with no checks.
func BenchmarkBareRSAVerifyAndJSON(b *testing.B) {
	_, iss, token := benchSetup(b, -1, authtest.RS256)
	key := iss.PublicKey(authtest.RS256).(*rsa.PublicKey)
	d1 := strings.IndexByte(token, '.')
	d2 := strings.LastIndexByte(token, '.')
	b.ReportAllocs()
	for b.Loop() {
		sig, err := b64.DecodeString(token[d2+1:])
		if err != nil {
			b.Fatal(err)
		}
		digest := sha256.Sum256([]byte(token[:d2]))
		if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig); err != nil {
			b.Fatal(err)
		}
		payload, err := b64.DecodeString(token[d1+1 : d2])
		if err != nil {
			b.Fatal(err)
		}
		var claims map[string]any
		if err := json.Unmarshal(payload, &claims); err != nil {
			b.Fatal(err)
		}
	}
}
