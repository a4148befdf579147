package issuer_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/issuer"
)

// clock is a settable clock for tests; no test sleeps.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

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
