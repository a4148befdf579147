package introspect

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"unicode/utf8"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/internal/jose"
	"github.com/tollgate/tollgate/internal/jose/josetest"
)

// answering is a RoundTripper that answers every request with 200 and body,
// in memory.
type answering []byte

func (a answering) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(a))}, nil
}

// FuzzIntrospectionAnswer gives Verify any answer body: never a panic, only
// the three kinds a Verifier may return, and nothing admitted but a strict
// JSON object (valid UTF-8, no repeated name by the reference check) whose
// "active" is the JSON true and that names an access token.
func FuzzIntrospectionAnswer(f *testing.F) {
	for _, s := range []string{
		`{"active":true}`,
		`{"active":true,"sub":"u1","scope":"a b","client_id":"c","exp":1900003600,"iat":1899999000,"aud":["x"],"iss":"i","jti":"j"}`,
		`{"active":false,"active":true}`,
		`{"active":true,"ext":{"a":1,"\u0061":2}}`,
		`{"active":true,"sub":"\ud800"}`,
		"{\"active\":true,\"sub\":\"\xff\"}",
		`{"active":true,"token_use":"refresh_token"}`,
		`{"active":true,"typ":"Refresh"}`,
		`{"active":true,"token_type":"urn:ietf:params:oauth:token-type:id_token"}`,
		`{"active":"true"}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	for _, p := range josetest.Parts() {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := New(Config{Endpoint: "https://as.test/introspect", Auth: ClientSecretBasic("rs", "s"),
			HTTPClient: &http.Client{Transport: answering(body)}, CacheSize: 1, NegativeTTL: -1, Now: newClock().Now})
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.Verify(context.Background(), goodToken)
		if err != nil {
			switch k := tgerrors.KindOf(err); k {
			case tgerrors.InvalidToken, tgerrors.ExpiredToken, tgerrors.Unavailable:
			default:
				t.Fatalf("refused with %s: %v", k, err)
			}
			return
		}
		if !utf8.Valid(body) || josetest.Duplicate(body) {
			t.Fatalf("admitted the ambiguous answer %q", body)
		}
		m, err := jose.DecodeObject(body)
		if err != nil || m["active"] != true || p == nil {
			t.Fatalf("admitted %q (%v)", body, err)
		}
		if why := (jose.KindPolicy{}).NotAccessToken(m); why != "" {
			t.Fatalf("admitted %q, which is not an access token (%s)", body, why)
		}
	})
}
