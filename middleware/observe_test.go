package middleware

import (
	"context"
	"testing"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/observe"
	"github.com/tollgate/tollgate/principal"
)

type introspecting struct{}

func (introspecting) Verify(context.Context, string) (*principal.Principal, error) {
	return nil, tgerrors.New(tgerrors.InvalidToken, "")
}
func (introspecting) ObservedLayer(string) string { return observe.LayerIntrospect }

func TestARefusalIsReportedAsTheLayerOfTheVerifierThatRefused(t *testing.T) {
	plain := VerifierFunc(func(context.Context, string) (*principal.Principal, error) { return nil, nil })
	cases := []struct {
		name  string
		v     Verifier
		token string
		want  string
	}{
		{"a verifier that names no layer", plain, "abc", observe.LayerAuthenticate},
		{"a verifier that names its layer", introspecting{}, "abc", observe.LayerIntrospect},
		{"a cache around it", Cache(introspecting{}, CacheConfig{}), "abc", observe.LayerIntrospect},
		{"JWTOrOpaque sending an opaque token to it", JWTOrOpaque(plain, introspecting{}), "abc", observe.LayerIntrospect},
		{"JWTOrOpaque sending a JWT elsewhere", JWTOrOpaque(plain, introspecting{}), "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", observe.LayerAuthenticate},
		{"JWTOrOpaque with no verifier for the shape", JWTOrOpaque(plain, nil), "abc", observe.LayerAuthenticate},
	}
	for _, c := range cases {
		if got := verifierLayer(c.v, c.token); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
