package revocation_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/revocation"
)

// A JWT verifier admits a token until exp + Leeway; a revocation must hold
// that long too, or the revoked token comes back for the leeway's length.
func TestARevokedJWTStaysRefusedThroughTheVerifiersLeeway(t *testing.T) {
	const leeway = 30 * time.Second
	t0 := time.Unix(1_900_000_000, 0)
	tests := []struct {
		name string
		// revokeAt and checkAt are offsets from the token's exp.
		revokeAt, checkAt time.Duration
		revoke            bool
		want              int
	}{
		{"not revoked: admitted inside the leeway (the verifier's own rule)", 0, 10 * time.Second, false, http.StatusOK},
		{"revoked before exp: still refused inside the leeway", -time.Minute, 10 * time.Second, true, http.StatusUnauthorized},
		{"revoked before exp: refused at the leeway's last second", -time.Minute, leeway - time.Second, true, http.StatusUnauthorized},
		{"revoked after exp, inside the leeway: refused", 5 * time.Second, 10 * time.Second, true, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := authtest.NewClock(t0)
			iss := authtest.NewIssuer(t, authtest.WithClock(clock.Now))
			v, err := jwt.NewVerifier(context.Background(), jwt.Config{
				Issuers: []jwt.Issuer{{
					Issuer: iss.URL(), JWKSURL: iss.JWKSURL(), Audiences: []string{"api"}, Algorithms: []string{"RS256"},
				}},
				Leeway: leeway,
				Now:    clock.Now,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = v.Close() })
			token := iss.Mint(map[string]any{"sub": "u1", "aud": "api", "jti": "jti-1"})
			exp := t0.Add(time.Hour)

			m := revocation.NewMemory(revocation.MemoryConfig{Now: clock.Now})
			reached := false
			var refused []tgerrors.Kind
			h := middleware.Chain(
				tgerrors.Use(tgerrors.OAuth),
				middleware.Authenticate(v, middleware.WithRevocation(m),
					middleware.OnRefusal(func(_ *http.Request, ref middleware.Refusal) { refused = append(refused, ref.Kind) })),
			)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))

			clock.Set(exp.Add(tt.revokeAt))
			if tt.revoke {
				if err := m.RevokeID("jti-1", exp); err != nil {
					t.Fatal(err)
				}
			}
			clock.Set(exp.Add(tt.checkAt))
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("status %d, want %d (body %s)", rec.Code, tt.want, rec.Body)
			}
			if reached != (tt.want == http.StatusOK) {
				t.Errorf("handler reached = %v, want %v", reached, tt.want == http.StatusOK)
			}
			if tt.want == http.StatusUnauthorized {
				if got := rec.Header().Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
					t.Errorf("WWW-Authenticate = %q, want an invalid_token challenge", got)
				}
				if !strings.Contains(rec.Body.String(), `"error":"invalid_token"`) {
					t.Errorf("body = %s, want an invalid_token error", rec.Body)
				}
				if len(refused) != 1 || refused[0] != tgerrors.InvalidToken {
					t.Errorf("refusals %v, want one invalid_token (the revocation)", refused)
				}
			}
		})
	}
}
