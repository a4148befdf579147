package revocation_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/introspect"
	"github.com/tollgate/tollgate/revocation"
)

// verifyAndCheck is what middleware.Authenticate does per request: verify
// (from the verifier's cache, after the first time), then ask the checker.
func verifyAndCheck(t *testing.T, c *introspect.Client, chk revocation.Checker, token string) (revoked bool) {
	t.Helper()
	p, err := c.Verify(context.Background(), token)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	revoked, err = chk.Revoked(context.Background(), token, p)
	if err != nil {
		t.Fatalf("Revoked: %v", err)
	}
	return revoked
}

func TestARevokedTokenIsRefusedFromTheNextRequestOnThoughItsAnswerIsCached(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		revoke func(m *revocation.Memory, token string) error
	}{
		{"by the jti of the introspection answer", `{"active":true,"jti":"tok-1"}`,
			func(m *revocation.Memory, _ string) error { return m.RevokeID("tok-1", time.Now().Add(time.Hour)) }},
		{"by the token's hash", `{"active":true}`,
			func(m *revocation.Memory, token string) error { return m.RevokeToken(token, time.Now().Add(time.Hour)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int64
			as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				io.WriteString(w, tt.body)
			}))
			defer as.Close()
			c, err := introspect.New(introspect.Config{Endpoint: as.URL, Auth: introspect.ClientSecretBasic("rs", "s")})
			if err != nil {
				t.Fatal(err)
			}
			m := revocation.NewMemory(revocation.MemoryConfig{})
			const token = "2YotnFZFEjr1zCsicMWpAA"

			if verifyAndCheck(t, c, m, token) {
				t.Fatal("revoked before any revocation")
			}
			if err := tt.revoke(m, token); err != nil {
				t.Fatal(err)
			}
			if !verifyAndCheck(t, c, m, token) {
				t.Error("the next request after the revocation was not refused")
			}
			if calls.Load() != 1 {
				t.Errorf("%d introspection calls, want 1: the second request was a cache hit", calls.Load())
			}
		})
	}
}
