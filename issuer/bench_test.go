package issuer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
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

// BenchmarkAuthorizationCodeFlow is one round of the authorization code
// grant on memory stores: the authorization request approved (grant
// recorded, code issued), then the code redeemed by a public client with
// PKCE (code checked and redeemed, session started and bound, an ES256
// access token minted). BenchmarkMint, in the same run, is its floor.
func BenchmarkAuthorizationCodeFlow(b *testing.B) {
	f := newCodeFlowWith(b, &issuer.MemoryCodeStore{MaxCodes: 1 << 30})
	rawQuery := mobileQuery()
	b.ReportAllocs()
	for b.Loop() {
		rec := f.visit(http.MethodGet, rawQuery)
		loc, err := url.Parse(rec.Header().Get("Location"))
		if err != nil || rec.Code != http.StatusFound {
			b.Fatalf("authorize: %d %v", rec.Code, err)
		}
		ex := f.exchange(redeemMobile(loc.Query().Get("code")))
		if ex.Code != http.StatusOK {
			b.Fatalf("exchange: %d %s", ex.Code, ex.Body)
		}
	}
}
