package jwt

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tollgate/tollgate/internal/jose"
	"github.com/tollgate/tollgate/internal/jose/josetest"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
)

// decodeUnverified runs the checks verify makes before it needs a key: the
// compact form, both JSON objects, the header's rules and the claims'
// types. It returns the decoded header and claims bytes.
func decodeUnverified(token string) (header, claims []byte, err error) {
	d1, d2, err := splitCompact(token)
	if err != nil {
		return nil, nil, err
	}
	hm, err := decodeObject(token[:d1])
	if err != nil {
		return nil, nil, err
	}
	if _, err := parseHeader(hm); err != nil {
		return nil, nil, err
	}
	cm, err := decodeObject(token[d1+1 : d2])
	if err != nil {
		return nil, nil, err
	}
	if _, err := readClaims(cm); err != nil {
		return nil, nil, err
	}
	if _, err := strictB64.DecodeString(token[d2+1:]); err != nil {
		return nil, nil, err
	}
	header, _ = strictB64.DecodeString(token[:d1])
	claims, _ = strictB64.DecodeString(token[d1+1 : d2])
	return header, claims, nil
}

// FuzzCompactJWSDecoder: the decoder never panics, and what it lets through
// is canonical (each part is the one base64url spelling of its bytes),
// valid UTF-8 without a repeated name (by the reference check), and what
// JWTOrOpaque sends to the JWT verifier; no other token reaches it.
func FuzzCompactJWSDecoder(f *testing.F) {
	for _, v := range josetest.Vectors() {
		f.Add(v)
		for variant := range uint8(8) {
			f.Add(josetest.Respell(v, variant*9))
		}
	}
	to := func(name string) middleware.Verifier {
		return middleware.VerifierFunc(func(context.Context, string) (*principal.Principal, error) {
			return principal.New(principal.Fields{Type: name}), nil
		})
	}
	dispatch := middleware.JWTOrOpaque(to("jwt"), to("opaque"))
	f.Fuzz(func(t *testing.T, token string) {
		header, claims, err := decodeUnverified(token)
		p, _ := dispatch.Verify(context.Background(), token)
		if p != nil && p.Type() == "jwt" && jose.Classify(token) != jose.CompactJWS {
			t.Fatalf("middleware.JWTOrOpaque sent %q to the JWT verifier", token)
		}
		if p != nil && p.Type() == "opaque" && (strings.Count(token, ".") == 2 || jose.Classify(token) == jose.NotCanonical) {
			t.Fatalf("middleware.JWTOrOpaque sent the JOSE-shaped %q to introspection", token)
		}
		if err != nil {
			return
		}
		if p == nil || p.Type() != "jwt" {
			t.Fatalf("the decoder accepts %q, which middleware.JWTOrOpaque does not send to it", token)
		}
		for _, part := range strings.Split(token, ".") {
			raw, err := strictB64.DecodeString(part)
			if err != nil || b64.EncodeToString(raw) != part {
				t.Fatalf("accepted %q, whose part %q is not canonical", token, part)
			}
		}
		for _, js := range [][]byte{header, claims} {
			if !utf8.Valid(js) || josetest.Duplicate(js) {
				t.Fatalf("accepted %q, whose JSON %q is not strict", token, js)
			}
		}
	})
}

// FuzzJWTClaims signs any header and claims with an HMAC issuer's secret and
// verifies them in full: never a panic, and nothing accepted that the strict
// rules refuse (text, repeated names, token kind, alg, iss, exp).
func FuzzJWTClaims(f *testing.F) {
	const iss = "https://hmac.test"
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v, err := NewVerifier(context.Background(), Config{
		Issuers: []Issuer{{Issuer: iss, HMACSecret: secret, Audiences: []string{testAudience}, Algorithms: []string{"HS256"}}},
		Now:     func() time.Time { return now },
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = v.Close() })
	sign := func(header, claims []byte) string {
		input := b64.EncodeToString(header) + "." + b64.EncodeToString(claims)
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(input))
		return input + "." + b64.EncodeToString(mac.Sum(nil))
	}
	good := `{"iss":"https://hmac.test","aud":"orders-api","sub":"u","exp":1772370000}`
	for _, c := range []string{
		good,
		`{"iss":"https://hmac.test","aud":["orders-api"],"sub":"u","exp":1772370000,"nbf":1772366000,"iat":1772366000,"scope":"a b"}`,
		`{"iss":"https://hmac.test","aud":"orders-api","sub":"u","exp":1772370000,"nonce":"n"}`,
		`{"iss":"https://hmac.test","aud":"orders-api","sub":"u","exp":1772370000,"token_use":"refresh"}`,
		`{"iss":"https://hmac.test","aud":"orders-api","sub":"u","exp":1772370000,"ext":{"a":1,"\u0061":2}}`,
		`{"iss":"https://hmac.test","aud":"orders-api","sub":"adm\ud800","exp":1772370000}`,
		"{\"iss\":\"https://hmac.test\",\"aud\":\"orders-api\",\"sub\":\"adm\xff\",\"exp\":1772370000}",
	} {
		f.Add([]byte(`{"alg":"HS256"}`), []byte(c))
		f.Add([]byte(`{"alg":"HS256","typ":"JWT"}`), []byte(c))
	}
	if _, err := v.Verify(context.Background(), sign([]byte(`{"alg":"HS256"}`), []byte(good))); err != nil {
		f.Fatalf("the valid seed is refused: %v", err)
	}
	f.Add([]byte(`{"alg":"HS256","typ":"logout+jwt"}`), []byte(good))
	for _, p := range josetest.Parts() {
		f.Add([]byte(`{"alg":"HS256"}`), p)
	}
	f.Fuzz(func(t *testing.T, header, claims []byte) {
		p, err := v.Verify(context.Background(), sign(header, claims))
		if err != nil {
			return
		}
		for _, js := range [][]byte{header, claims} {
			if !utf8.Valid(js) || josetest.Duplicate(js) {
				t.Fatalf("accepted header %q, claims %q", header, claims)
			}
		}
		hm, _ := jose.DecodeObject(header)
		cm, _ := jose.DecodeObject(claims)
		if hm["alg"] != "HS256" || cm["iss"] != iss || p.Issuer() != iss || p.ExpiresAt().IsZero() {
			t.Fatalf("accepted header %q, claims %q as %+v", header, claims, p)
		}
		if why := (jose.KindPolicy{}).NotAccessToken(cm); why != "" {
			t.Fatalf("accepted a token that is not an access token (%s): %q", why, claims)
		}
		if typ, _ := hm["typ"].(string); (jose.KindPolicy{}).NotAccessTyp(typ) != "" {
			t.Fatalf("accepted typ %q", typ)
		}
		if s, _ := cm["sub"].(string); p.Subject() != s {
			t.Fatalf("subject %q, claims %q", p.Subject(), claims)
		}
	})
}
