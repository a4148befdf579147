package issuer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	jwxjwt "github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/tollgate/tollgate/issuer"
)

// The mint benchmarks sign the same claims with ES256: Minter.Mint (claims
// built, jti drawn, header cached) beside jwx signing a prebuilt payload
// (the floor: what signing alone costs in jwx) and jwx building and
// signing a JWT.

func BenchmarkMint(b *testing.B) {
	ctx := context.Background()
	r, err := issuer.NewKeyRing(ctx, issuer.KeyRingConfig{})
	if err != nil {
		b.Fatal(err)
	}
	m, err := issuer.NewMinter(issuer.MinterConfig{Issuer: testIssuer, Keys: r})
	if err != nil {
		b.Fatal(err)
	}
	req := ordersRequest()
	req.SessionID = "s1"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Mint(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func benchClaims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": testIssuer, "sub": "user-1", "aud": "orders-api", "client_id": "portal",
		"scope": "orders:read orders:write", "sid": "s1", "jti": "0123456789abcdefghijkl",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func BenchmarkJWXSignPayload(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	payload, _ := json.Marshal(benchClaims())
	h := jws.NewHeaders()
	_ = h.Set("typ", "at+jwt")
	_ = h.Set("kid", "k1")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jws.Sign(payload, jws.WithKey(jwa.ES256(), key, jws.WithProtectedHeaders(h))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJWXBuildAndSignJWT(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	h := jws.NewHeaders()
	_ = h.Set("typ", "at+jwt")
	_ = h.Set("kid", "k1")
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		tok, err := jwxjwt.NewBuilder().Issuer(testIssuer).Subject("user-1").Audience([]string{"orders-api"}).
			Claim("client_id", "portal").Claim("scope", "orders:read orders:write").Claim("sid", "s1").
			JwtID("0123456789abcdefghijkl").IssuedAt(now).Expiration(now.Add(time.Hour)).Build()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := jwxjwt.Sign(tok, jwxjwt.WithKey(jwa.ES256(), key, jws.WithProtectedHeaders(h))); err != nil {
			b.Fatal(err)
		}
	}
}
