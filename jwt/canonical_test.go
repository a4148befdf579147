package jwt

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/revocation"
)

const b64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// withTrailingBits respells a base64url segment by setting the lowest of the
// bits its last character carries beyond the data: the same bytes to a lax
// decoder. It panics on a segment without such bits (a length that is a
// multiple of 4), which the tests below never build.
func withTrailingBits(seg string) string {
	if len(seg)%4 == 0 {
		panic("segment without trailing bits")
	}
	v := strings.IndexByte(b64URLAlphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(b64URLAlphabet[v|1])
}

// leavesTrailingBits pads a JSON text with spaces until its base64url
// encoding ends in a character with unused bits.
func leavesTrailingBits(js string) string {
	for len(js)%3 == 0 {
		js += " "
	}
	return js
}

// respellings are the other spellings of the compact JWS token under the
// base64 variants lax decoders accept. Each decodes, leniently, to the very
// bytes token does.
func respellings(token string) map[string]string {
	p := strings.Split(token, ".")
	std := strings.NewReplacer("-", "+", "_", "/").Replace(token)
	return map[string]string{
		"a trailing =":                           token + "=",
		"trailing ==":                            token + "==",
		"the standard alphabet + and /":          std,
		"the standard alphabet with padding":     std + "=",
		"padding after the header":               p[0] + "==." + p[1] + "." + p[2],
		"non-canonical trailing bits, header":    withTrailingBits(p[0]) + "." + p[1] + "." + p[2],
		"non-canonical trailing bits, payload":   p[0] + "." + withTrailingBits(p[1]) + "." + p[2],
		"non-canonical trailing bits, signature": p[0] + "." + p[1] + "." + withTrailingBits(p[2]),
		"a ~ a lax decoder skips":                p[0][:4] + "~" + p[0][4:] + "." + p[1] + "." + p[2],
	}
}

// laxServer is an introspection verifier as lax as some authorization
// servers: it accepts every token, and counts the calls.
type laxServer struct{ calls atomic.Int64 }

func (l *laxServer) Verify(context.Context, string) (*principal.Principal, error) {
	l.calls.Add(1)
	return principal.New(principal.Fields{Subject: "user-1", Type: "opaque"}), nil
}

func TestARespelledJWTNeverReachesIntrospectionNorEscapesItsRevocation(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}})
	header := leavesTrailingBits(fmt.Sprintf(`{"alg":"RS256","kid":%q}`, iss.KID(authtest.RS256)))
	payload := leavesTrailingBits(fmt.Sprintf(`{"iss":%q,"aud":%q,"sub":"user-1","exp":%d}`,
		iss.URL(), testAudience, clock.Now().Add(time.Hour).Unix()))
	token := rawToken(iss, header, payload)
	other := iss.Mint(claims(nil))

	revoked := revocation.NewMemory(revocation.MemoryConfig{Now: clock.Now})
	if err := revoked.RevokeToken(token, clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	lax := &laxServer{}
	var reached bool
	h := tgerrors.Use(tgerrors.OAuth)(middleware.Authenticate(middleware.JWTOrOpaque(v, lax), middleware.WithRevocation(revoked), middleware.OnRefusal(nil))(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })))
	serve := func(tok string) *httptest.ResponseRecorder {
		reached = false
		r := httptest.NewRequest(http.MethodGet, "/orders", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	if w := serve(other); w.Code != http.StatusOK || !reached {
		t.Fatalf("a valid token that is not revoked: %d, reached %v", w.Code, reached)
	}
	cases := respellings(token)
	cases["the revoked token itself"] = token
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			if name != "the revoked token itself" && tok == token {
				t.Fatal("the respelling is the token")
			}
			w := serve(tok)
			if w.Code != http.StatusUnauthorized || reached {
				t.Fatalf("status %d, handler reached %v; want 401 and not reached", w.Code, reached)
			}
			if ch := w.Header().Get("WWW-Authenticate"); !strings.Contains(ch, `error="invalid_token"`) {
				t.Errorf("challenge %q", ch)
			}
			var body struct{ Error string }
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != "invalid_token" {
				t.Errorf("body %q", w.Body)
			}
		})
	}
	if n := lax.calls.Load(); n != 0 {
		t.Errorf("%d tokens went to introspection; a JWS in any spelling must not", n)
	}
}
