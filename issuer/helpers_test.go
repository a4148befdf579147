package issuer_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	"github.com/tollgate/tollgate/issuer"
)

// clock is a settable clock for tests; no test sleeps.
type clock = authtest.Clock

func newClock() *clock { return authtest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) }

// signJWT signs claims with s as a compact JWS, as a minter would.
func signJWT(t testing.TB, s issuer.Signer, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]any{"alg": s.Algorithm(), "kid": s.KeyID(), "typ": "at+jwt"})
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sig, err := s.Sign(context.Background(), []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

const testIssuer = "https://auth.example.com"

func tokenClaims(now time.Time) map[string]any {
	return map[string]any{"iss": testIssuer, "sub": "user-1", "aud": "orders-api", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "j1"}
}
