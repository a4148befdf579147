package middleware_test

import (
	"context"
	"testing"

	tgerrors "github.com/tollgate/tollgate/errors"

	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
)

func TestJWTOrOpaqueSendsEachTokenToItsVerifier(t *testing.T) {
	named := func(name string) middleware.Verifier {
		return middleware.VerifierFunc(func(ctx context.Context, token string) (*principal.Principal, error) {
			return principal.New(principal.Fields{Type: name}), nil
		})
	}
	v := middleware.JWTOrOpaque(named("jwt"), named("opaque"))
	tests := map[string]string{
		"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln": "jwt",
		"mk_live_9f8e7d6c5b4a":                      "opaque",
		"a.b":                                       "opaque",
		"a..c":                                      "opaque",
		"a.b.c.d":                                   "opaque",
		"a.b/c.d":                                   "opaque",
		"YWJj.ZGVm.":                                "opaque",
	}
	for token, want := range tests {
		p, err := v.Verify(context.Background(), token)
		if err != nil || p.Type() != want {
			t.Errorf("%q went to %v (%v), want %s", token, p, err, want)
		}
	}
	onlyJWT := middleware.JWTOrOpaque(named("jwt"), nil)
	if _, err := onlyJWT.Verify(context.Background(), "opaque-token"); tgerrors.KindOf(err) != tgerrors.InvalidToken {
		t.Errorf("an opaque token with no opaque verifier: %v, want invalid_token", err)
	}
	onlyOpaque := middleware.JWTOrOpaque(nil, named("opaque"))
	if _, err := onlyOpaque.Verify(context.Background(), "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"); tgerrors.KindOf(err) != tgerrors.InvalidToken {
		t.Errorf("a JWT with no JWT verifier: %v, want invalid_token", err)
	}
}
