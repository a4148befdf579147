package bench

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/ipfilter"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/scopes"
)

// chainAllocBudget is the allocation budget for a request whose token
// is cached, through the whole chain (ipfilter + Authenticate + ratelimit +
// scopes, behind errors.Use).
const chainAllocBudget = 3

// allocsPerRequest is how many allocations h makes serving r once, averaged
// over many runs after a warm-up (the first request fills caches).
func allocsPerRequest(h http.Handler, r *http.Request) float64 {
	w := newDiscard()
	h.ServeHTTP(w, r)
	return testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, r) })
}

// The whole chain stays within its budget of three allocations for a
// repeated token. The layers are added one at a time so that a failure names
// the layer that went over.
func TestCachedTokenThroughTheWholeChainStaysWithinTheAllocationBudget(t *testing.T) {
	v := newVerifier(t, 0)
	r := newRequest(theToken())
	layers := chainLayers(v)
	var breakdown []string
	prev := 0.0
	for i := range layers {
		mws := make([]func(http.Handler) http.Handler, i+1)
		for j := range mws {
			mws[j] = layers[j].mw
		}
		c := &counter{}
		n := allocsPerRequest(middleware.Chain(mws...)(c), r)
		if c.n == 0 {
			t.Fatalf("with %s the handler was never reached", layers[i].name)
		}
		breakdown = append(breakdown, fmt.Sprintf("%s +%g", layers[i].name, n-prev))
		prev = n
	}
	if prev > chainAllocBudget {
		t.Errorf("whole chain: %g allocations per request, budget %d (%s)", prev, chainAllocBudget, strings.Join(breakdown, ", "))
	} else {
		t.Logf("whole chain: %g allocations per request (%s)", prev, strings.Join(breakdown, ", "))
	}
	// And the chain as the benchmark builds it agrees.
	if n := allocsPerRequest(newChain(v, &counter{}), r); n != prev {
		t.Errorf("newChain: %g allocations per request, the layer by layer chain %g", n, prev)
	}
}

// Below errors.Use, the layers documented as allocating nothing on the
// admitted path do not: ipfilter.New (client IP into the shared context
// node), Authenticate with a cached token, scopes.Require.
func TestLayersDocumentedAsAllocationFreeAreSoBehindErrorsUse(t *testing.T) {
	v := newVerifier(t, 0)
	r := newRequest(theToken())
	use := tgerrors.Use(tgerrors.OAuth)
	auth := middleware.Authenticate(v, middleware.OnRefusal(nil))
	base := allocsPerRequest(use(&counter{}), r)
	cases := []struct {
		name string
		h    http.Handler
	}{
		{"ipfilter.New", use(ipfilter.New(ipfilter.Config{Allow: []string{"192.0.2.0/24"}})(&counter{}))},
		{"middleware.Authenticate (cached token)", use(auth(&counter{}))},
		{"scopes.Require", use(auth(scopes.Require(requiredScope)(&counter{})))},
	}
	for _, c := range cases {
		if n := allocsPerRequest(c.h, r) - base; n != 0 {
			t.Errorf("%s: %g allocations per request beyond errors.Use's own %g, want 0", c.name, n, base)
		}
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = v.Verify(context.Background(), theToken()) }); n != 0 {
		t.Errorf("jwt.Verifier.Verify, cached token: %g allocations, want 0", n)
	}
}

// The benchmarks compare verifiers that verify: each accepts the token and
// refuses it once its signature is altered, so no figure is that of an error
// path or of a library that skipped the check.
func TestEveryVerifierAcceptsTheTokenAndRefusesAForgery(t *testing.T) {
	token := theToken()
	forged := token[:len(token)-6] + flip(token[len(token)-6:len(token)-5]) + token[len(token)-5:]
	v := newVerifier(t, -1)
	a0 := newAuth0Validator(t)
	g := newGolangJWT(t)
	j := newJWX(t)
	key := issuer.PublicKey("RS256")
	ctx := context.Background()
	verifiers := []struct {
		name   string
		verify func(string) error
	}{
		{"tollgate", func(s string) error { _, err := v.Verify(ctx, s); return err }},
		{"auth0", func(s string) error { _, err := a0.ValidateToken(ctx, s); return err }},
		{"golang-jwt+keyfunc", g.parse},
		{"jwx", j.parse},
		{"bare rsa+json", func(s string) error { return bareRS256(rsaKey(t, key), s) }},
	}
	for _, vf := range verifiers {
		if err := vf.verify(token); err != nil {
			t.Errorf("%s refused the benchmark token: %v", vf.name, err)
		}
		if err := vf.verify(forged); err == nil {
			t.Errorf("%s accepted a token with an altered signature", vf.name)
		}
	}
}

// flip changes one base64url character to another.
func flip(c string) string {
	if c == "A" {
		return "B"
	}
	return "A"
}
