package bench

import (
	"context"
	"net/http"
	"testing"

	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/principal"
)

// ringSize is how many distinct requests a fresh-request benchmark cycles
// through: more than fit in a core's L1, few enough to build quickly.
const ringSize = 1024

// requestRing returns n requests for token, each built afresh with its own
// copies of the Authorization value and of RemoteAddr, so that a string
// compare against what a cache or a map holds cannot short-cut on the two
// strings being the same pointer, as it does when one request is reused.
func requestRing(token string, n int) []*http.Request {
	rs := make([]*http.Request, n)
	for i := range rs {
		r := newRequest(token)
		r.Header["Authorization"] = []string{string([]byte("Bearer " + token))}
		r.RemoteAddr = string([]byte("192.0.2.10:51234"))
		rs[i] = r
	}
	return rs
}

// verifiedToken is the benchmarks' token, a verifier that has it cached and
// the principal it verified to, which the floor serves.
func verifiedToken(b *testing.B) (string, *jwt.Verifier, *principal.Principal) {
	b.Helper()
	token := theToken()
	v := newVerifier(b, 0)
	p, err := v.Verify(context.Background(), token)
	if err != nil {
		b.Fatal(err)
	}
	return token, v, p
}

// BenchmarkCachedTokenFresh is the cached chain beside its hand-written
// floor (handChain: the same work, by hand), each on one reused request
// and on a ring of fresh ones:
//
//   - tollgate_chain/one_request, floor/one_request: one request reused,
//     as in BenchmarkCachedToken.
//   - tollgate_chain/fresh, floor/fresh: a ring of ringSize requests, each
//     with its own header strings.
//
// The ratio chain ÷ floor within one run is what the 1.2× target is about.
func BenchmarkCachedTokenFresh(b *testing.B) {
	token, v, p := verifiedToken(b)
	for _, h := range []struct {
		name string
		make func(c *counter) http.Handler
	}{
		{"tollgate_chain", func(c *counter) http.Handler { return newChain(v, c) }},
		{"floor", func(c *counter) http.Handler { return newHandChain(token, p, c) }},
	} {
		for _, n := range []struct {
			name string
			size int
		}{{"one_request", 1}, {"fresh", ringSize}} {
			b.Run(h.name+"/"+n.name, func(b *testing.B) {
				c := &counter{}
				hh := h.make(c)
				rs, w := requestRing(token, n.size), newDiscard()
				i := 0
				b.ReportAllocs()
				b.ResetTimer()
				reportCPU(b, func() {
					for b.Loop() {
						hh.ServeHTTP(w, rs[i%len(rs)])
						i++
					}
				})
				mustReach(b, c, w)
			})
		}
	}
}

// BenchmarkCachedTokenFreshParallel is the same on every core at once, on
// fresh requests (each goroutine its own ring), one hot token: run it with
// -cpu 1,2 and compare ns/op (wall time per request) across the two.
func BenchmarkCachedTokenFreshParallel(b *testing.B) {
	token, v, p := verifiedToken(b)
	for _, h := range []struct {
		name string
		h    http.Handler
	}{
		{"tollgate_chain", newChain(v, nopHandler{})},
		{"floor", newHandChain(token, p, nopHandler{})},
	} {
		b.Run(h.name, func(b *testing.B) {
			b.ReportAllocs()
			reportCPU(b, func() {
				b.RunParallel(func(pb *testing.PB) {
					rs, w := requestRing(token, ringSize), newDiscard()
					i := 0
					for pb.Next() {
						h.h.ServeHTTP(w, rs[i%len(rs)])
						i++
					}
					if w.status != 0 {
						b.Errorf("status %d: the benchmark measured a refusal", w.status)
					}
				})
			})
		})
	}
}
