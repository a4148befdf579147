package jwt

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
)

// Two different signed byte strings must never read as one principal
// (RFC 7519 §7.2, RFC 8259 §8.1): JSON that is not valid UTF-8, an escape
// that decodes to no character, and a member that appears twice at any
// depth are refused, not repaired or resolved.
func TestJWTWithInvalidTextOrRepeatedMembersIsRefused(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}})
	kid := iss.KID(authtest.RS256)
	header := fmt.Sprintf(`{"alg":"RS256","kid":%q}`, kid)
	payload := func(extra string) string {
		return fmt.Sprintf(`{"iss":%q,"aud":%q,"exp":%d%s}`, iss.URL(), testAudience, clock.Now().Unix()+3600, extra)
	}
	tests := []struct {
		name, header, payload string
		cause                 error
	}{
		{"invalid UTF-8 in sub", header, payload(`,"sub":"admin` + "\xff" + `"`), errJWTEncoding},
		{"a lone continuation byte", header, payload(`,"sub":"` + "\x80" + `"`), errJWTEncoding},
		{"an overlong encoding of '/'", header, payload(`,"sub":"` + "\xc0\xaf" + `"`), errJWTEncoding},
		{"a UTF-8-encoded surrogate", header, payload(`,"sub":"` + "\xed\xa0\x80" + `"`), errJWTEncoding},
		{"a truncated sequence", header, payload(`,"sub":"` + "\xe6\x97" + `"`), errJWTEncoding},
		{"invalid UTF-8 in a member name", header, payload(`,"s` + "\xff" + `b":"x"`), errJWTEncoding},
		{"invalid UTF-8 in the header", fmt.Sprintf(`{"alg":"RS256","kid":%q,"x":"`+"\xff"+`"}`, kid), payload(`,"sub":"u"`), errJWTEncoding},
		{"a lone high surrogate escape", header, payload(`,"sub":"admin\ud800"`), errJWTEncoding},
		{"a lone low surrogate escape", header, payload(`,"sub":"\udc00admin"`), errJWTEncoding},
		{"a high surrogate before a non-surrogate", header, payload(`,"sub":"\ud800\u0041"`), errJWTEncoding},
		{"two high surrogates", header, payload(`,"sub":"\ud800\ud800"`), errJWTEncoding},
		{"a lone surrogate in a member name", header, payload(`,"\udfff":1`), errJWTEncoding},
		{"duplicate inside a nested object", header, payload(`,"sub":"u","ext":{"role":"user","role":"admin"}`), errJWTDuplicate},
		{"duplicate inside an object in an array", header, payload(`,"sub":"u","orgs":[{"id":1},{"id":2,"id":3}]`), errJWTDuplicate},
		{"duplicate spelled with an escape, nested", header, payload(`,"sub":"u","ext":{"role":"user","\u0072ole":"admin"}`), errJWTDuplicate},
		{"duplicate three levels down", header, payload(`,"sub":"u","a":{"b":{"c":{"d":1,"d":1}}}`), errJWTDuplicate},
		{"duplicate in a nested header member", fmt.Sprintf(`{"alg":"RS256","kid":%q,"x":{"y":1,"y":2}}`, kid), payload(`,"sub":"u"`), errJWTDuplicate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), rawToken(iss, tt.header, tt.payload))
			wantRefusal(t, p, err, tgerrors.InvalidToken, tt.cause)
		})
	}

	t.Run("valid text and nested names that repeat only across objects are accepted", func(t *testing.T) {
		for _, extra := range []string{
			`,"sub":"Zoë 山田 😀"`,
			`,"sub":"\ud83d\ude00\u00e9\u0000"`,
			`,"sub":"u","ext":{"sub":"x","ext":{"sub":"y"}},"list":[{"a":1},{"a":2}]`,
			`,"sub":"u","ext":{"a":"\"a\":1","b":"\\","c":"x\"y"}`,
		} {
			p := mustVerify(t, v, rawToken(iss, header, payload(extra)))
			if p.Subject() == "" || strings.ContainsRune(p.Subject(), '\uFFFD') {
				t.Errorf("%s: subject %q", extra, p.Subject())
			}
		}
	})
}
