package middleware_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
)

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkAuthenticateCachedHit is a repeated RS256 token through
// errors.Use and Authenticate: answered by jwt.Verifier's own cache, and by
// Cache around a verifier that adds roles to jwt.Verifier's principal. The
// floor is errors.Use and the handler without Authenticate: the two
// allocations there are the request's context node and request copy.
// Remembered alone is the cache lookup Authenticate makes.
func BenchmarkAuthenticateCachedHit(b *testing.B) {
	iss := authtest.NewIssuer(b)
	tokens, err := jwt.NewVerifier(context.Background(), jwt.Config{Issuers: []jwt.Issuer{{
		Issuer: iss.URL(), JWKSURL: iss.JWKSURL(), Audiences: []string{"orders-api"}, Algorithms: []string{"RS256"},
	}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tokens.Close() })
	token := iss.Mint(map[string]any{
		"sub": "merchant-42", "aud": "orders-api", "client_id": "app-7", "jti": "0f8e6a3c-1d2b",
		"scope": []string{"integration.store", "integration.order", "integration.inventory"},
	})
	withRoles := middleware.VerifierFunc(func(ctx context.Context, token string) (*principal.Principal, error) {
		p, err := tokens.Verify(ctx, token)
		if err != nil {
			return nil, err
		}
		f := p.Fields()
		f.Roles = []string{"refunder"}
		return principal.New(f), nil
	})
	b.Run("floor: errors.Use alone", func(b *testing.B) {
		h := tgerrors.Use(tgerrors.OAuth)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		req, _ := http.NewRequest(http.MethodGet, "https://api.test/orders", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		w := &discardWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, req)
		}
	})
	for _, bc := range []struct {
		name string
		v    middleware.Verifier
	}{
		{"jwt.Verifier", tokens},
		{"Cache(roles over jwt.Verifier)", middleware.Cache(withRoles, middleware.CacheConfig{})},
	} {
		b.Run(bc.name+"/Remembered", func(b *testing.B) {
			r := bc.v.(middleware.Remembering)
			if r.Remembered(token) == nil {
				if _, err := bc.v.Verify(context.Background(), token); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if r.Remembered(token) == nil {
					b.Fatal("not remembered")
				}
			}
		})
		b.Run(bc.name+"/Authenticate", func(b *testing.B) {
			reached := 0
			h := tgerrors.Use(tgerrors.OAuth)(middleware.Authenticate(bc.v, middleware.OnRefusal(nil))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ })))
			req, _ := http.NewRequest(http.MethodGet, "https://api.test/orders", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			w := &discardWriter{h: http.Header{}}
			h.ServeHTTP(w, req)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
			if reached == 0 {
				b.Fatal("handler never reached")
			}
		})
	}
}
