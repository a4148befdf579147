package bench

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/tollgate/tollgate/middleware"
)

// BenchmarkCachedToken is the common case: a client presents
// the token it presented before. The request is built once and reused; the
// handler does nothing. Sub-benchmarks:
//
//   - tollgate_chain: errors.Use + ipfilter.New (static allow-list) +
//     middleware.Authenticate (JWT verifier, RS256, JWKS) + ratelimit.New (in
//     memory, keyed by principal, never refusing) + scopes.Require.
//   - tollgate_authenticate: middleware.Authenticate alone, as the first
//     layer (so it makes the request's context node itself).
//   - tollgate_verify: jwt.Verifier.Verify alone, the verified-token cache hit.
//   - auth0_middleware: auth0/go-jwt-middleware's CheckJWT with its
//     validator and CachingProvider, the peer the 20× target is set against.
//   - auth0_validator: its ValidateToken alone.
//   - golangjwt_keyfunc: golang-jwt/jwt v5 Parse with a keyfunc v3 key set.
//
// The peers have no verified-token cache: for them a repeated token costs a
// full parse and signature check, which is the point of the comparison.
func BenchmarkCachedToken(b *testing.B) {
	token := theToken()

	b.Run("tollgate_chain", func(b *testing.B) {
		c := &counter{}
		h := newChain(newVerifier(b, 0), c)
		r, w := newRequest(token), newDiscard()
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
		mustReach(b, c, w)
	})

	b.Run("tollgate_authenticate", func(b *testing.B) {
		c := &counter{}
		h := middleware.Authenticate(newVerifier(b, 0), middleware.OnRefusal(nil))(c)
		r, w := newRequest(token), newDiscard()
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
		mustReach(b, c, w)
	})

	b.Run("tollgate_verify", func(b *testing.B) {
		v := newVerifier(b, 0)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("auth0_middleware", func(b *testing.B) {
		c := &counter{}
		h := jwtmiddleware.New(newAuth0Validator(b).ValidateToken).CheckJWT(c)
		r, w := newRequest(token), newDiscard()
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
		mustReach(b, c, w)
	})

	b.Run("auth0_validator", func(b *testing.B) {
		v := newAuth0Validator(b)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.ValidateToken(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("golangjwt_keyfunc", func(b *testing.B) {
		g := newGolangJWT(b)
		b.ReportAllocs()
		for b.Loop() {
			if err := g.parse(token); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCachedTokenParallel is tollgate_chain from every core at once:
// one hot token shared by all goroutines, the worst case for the token
// cache's and the limiter's locks.
func BenchmarkCachedTokenParallel(b *testing.B) {
	token := theToken()
	h := newChain(newVerifier(b, 0), &nopHandler{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r, w := newRequest(token), newDiscard()
		for pb.Next() {
			h.ServeHTTP(w, r)
		}
		if w.status != 0 {
			b.Errorf("status %d: the benchmark measured a refusal", w.status)
		}
	})
}

// nopHandler is a handler safe for concurrent use that does nothing.
type nopHandler struct{}

func (nopHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {}

// BenchmarkCachedTokenLayers builds the chain of BenchmarkCachedToken one
// layer at a time, so the difference between two lines is what a layer
// costs on the admitted path of a repeated token.
func BenchmarkCachedTokenLayers(b *testing.B) {
	v := newVerifier(b, 0)
	layers := chainLayers(v)
	for i := range layers {
		b.Run(fmt.Sprintf("%d_%s", i+1, layers[i].name), func(b *testing.B) {
			mws := make([]func(http.Handler) http.Handler, i+1)
			for j := range mws {
				mws[j] = layers[j].mw
			}
			c := &counter{}
			h := middleware.Chain(mws...)(c)
			r, w := newRequest(theToken()), newDiscard()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
			mustReach(b, c, w)
		})
	}
}
