package introspect

import (
	"context"
	"testing"

	tgerrors "github.com/tollgate/tollgate/errors"
)

// An answer two JSON parsers could read differently has no single meaning:
// it is garbage, refused as unavailable and never cached.
func TestAnAnswerWithInvalidTextOrANestedRepeatedMemberIsUnavailable(t *testing.T) {
	for name, body := range map[string]string{
		"invalid UTF-8 in sub":              `{"active":true,"sub":"admin` + "\xff" + `"}`,
		"invalid UTF-8 in a name":           `{"active":true,"s` + "\xc0\xaf" + `b":"admin"}`,
		"a lone high surrogate":             `{"active":true,"sub":"admin\ud800"}`,
		"a lone low surrogate":              `{"active":true,"sub":"\udc00"}`,
		"a high surrogate, then no low":     `{"active":true,"sub":"\ud800\u0041"}`,
		"a repeated member, nested":         `{"active":true,"ext":{"role":"user","role":"admin"}}`,
		"a repeated member inside an array": `{"active":true,"ext":[{"a":1,"a":2}]}`,
		"a repeated member, escaped":        `{"active":true,"ext":{"role":"user","\u0072ole":"admin"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			ep := newEndpoint(t, answer(body))
			c := newClient(t, ep, newClock(), nil)
			for range 2 {
				p, err := c.Verify(context.Background(), goodToken)
				if err == nil {
					t.Fatalf("accepted as %+v", p)
				}
				wantRefusal(t, err, tgerrors.Unavailable)
			}
			if n := ep.calls.Load(); n != 2 {
				t.Errorf("%d calls for two requests: a garbage answer must not be cached", n)
			}
		})
	}

	ep := newEndpoint(t, answer(`{"active":true,"sub":"Zoë \ud83d\ude00","ext":{"sub":"x","ext":{"sub":"y"}}}`))
	p, err := newClient(t, ep, newClock(), nil).Verify(context.Background(), goodToken)
	if err != nil || p.Subject() != "Zoë 😀" {
		t.Errorf("valid text: %+v, %v", p, err)
	}
}
