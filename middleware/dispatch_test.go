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
	const jwe = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.T0tPYXdEbzEz.NDhWMV9BTGI2VVMwNFUzYg.NWV5bThUV19jOFN1SzBsdEo.WEZCb01ZVVpvZGV0WmR2VGlGdlNrUQ"
	tests := map[string]string{
		"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln": "jwt",
		"mk_live_9f8e7d6c5b4a":                      "opaque",
		"a.b":                                       "opaque",
		"a.b.c.d":                                   "opaque",
		"a-b.c_d~e+f/g==":                           "opaque",
		jwe:                                         "opaque",
		// Three parts are a JWS, in its one spelling or refused.
		"a..c":            "refused",
		"a.b/c.d":         "refused",
		"YWJj.ZGVm.":      "refused",
		"mF_9.B5f-4.1JqM": "refused",
		"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln=": "refused",
		// Any other shape with a JOSE header, in any base64 variant.
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0":          "refused",
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.c2ln.e30": "refused",
		"x.eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.c2ln":   "refused",
		jwe + "==": "refused",
	}
	for token, want := range tests {
		p, err := v.Verify(context.Background(), token)
		got := "refused"
		if err == nil {
			got = p.Type()
		} else if tgerrors.KindOf(err) != tgerrors.InvalidToken {
			t.Errorf("%q: refused with %v, want invalid_token", token, err)
		}
		if got != want {
			t.Errorf("%q went to %s (%v), want %s", token, got, err, want)
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
