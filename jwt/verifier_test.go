package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/revocation"
)

var b64 = base64.RawURLEncoding

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestJWTVerifierAcceptsValidTokens(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	secret := []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	static := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{
		jwksIssuer(iss),
		{Issuer: "https://hmac.test", HMACSecret: secret, Audiences: []string{testAudience}, Algorithms: []string{"HS256", "HS512"}, TokenType: "merchant"},
		{Issuer: "https://static.test", Audiences: []string{testAudience}, Algorithms: []string{"PS256", "RS256", "ES256"},
			Keys: []StaticKey{
				{ID: "rsa", Public: static.PublicKey(authtest.RS256)},
				{ID: "ec", Public: static.PublicKey(authtest.ES256), Algorithm: "ES256"},
			}},
	}})
	now := clock.Now()
	tests := []struct {
		name  string
		token string
		iss   string
	}{
		{"RS256 from the JWKS", iss.Mint(claims(nil)), iss.URL()},
		{"ES256 from the JWKS", iss.Mint(claims(nil), authtest.WithAlg(authtest.ES256)), iss.URL()},
		{"EdDSA from the JWKS", iss.Mint(claims(nil), authtest.WithAlg(authtest.EdDSA)), iss.URL()},
		{"RS256 without kid when one key suits the alg", iss.Mint(claims(nil), authtest.WithKID("")), iss.URL()},
		{"aud as an array containing the audience", iss.Mint(claims(map[string]any{"aud": []string{"other", testAudience}})), iss.URL()},
		{"HS256 with the shared secret", static.Mint(claims(map[string]any{"iss": "https://hmac.test"}), authtest.WithHMACSecret(secret)), "https://hmac.test"},
		{"HS512 with the shared secret", static.Mint(claims(map[string]any{"iss": "https://hmac.test"}), authtest.WithHMACSecret(secret), authtest.WithAlg("HS512")), "https://hmac.test"},
		{"PS256 with a static key", static.Mint(claims(map[string]any{"iss": "https://static.test"}), authtest.WithAlg("PS256"), authtest.WithKID("rsa")), "https://static.test"},
		{"ES256 with a static key", static.Mint(claims(map[string]any{"iss": "https://static.test"}), authtest.WithAlg("ES256"), authtest.WithKID("ec")), "https://static.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustVerify(t, v, tt.token)
			if p.Issuer() != tt.iss || p.Subject() != "user-1" || !p.ExpiresAt().Equal(now.Add(time.Hour).Truncate(time.Second)) ||
				!p.IssuedAt().Equal(now.Truncate(time.Second)) || !slices.Contains(p.Audience(), testAudience) {
				t.Errorf("principal = %+v", p)
			}
		})
	}

	// A static-key issuer has no JWKS to refetch: a kid it does not hold, or
	// a key that does not suit the alg, is refused at once.
	for name, token := range map[string]string{
		"unknown kid":        static.Mint(claims(map[string]any{"iss": "https://static.test"}), authtest.WithKID("nope")),
		"kid of another alg": static.Mint(claims(map[string]any{"iss": "https://static.test"}), authtest.WithAlg("ES256"), authtest.WithKID("rsa")),
	} {
		if _, err := v.Verify(context.Background(), token); tgerrors.KindOf(err) != tgerrors.InvalidToken {
			t.Errorf("static key, %s: %v, want invalid_token", name, err)
		}
	}
}

func TestJWTVerifierBuildsThePrincipalFromClaims(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	cfg := jwksIssuer(iss)
	cfg.TypeClaim = "token_use"
	cfg.TypeValues = map[string]string{"cc": "client_credentials"}
	cfg.TokenType = "customer"
	cfg.ScopeClaims = []string{"scope", "permissions"}
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{cfg}})

	p := mustVerify(t, v, iss.Mint(claims(map[string]any{
		"azp": "app-7", "jti": "t-1", "token_use": "cc", "nbf": clock.Now().Unix(),
		"scope": "integration.order integration.store", "permissions": []string{"can_read_order"},
	})))
	if p.ClientID() != "app-7" || p.TokenID() != "t-1" || p.Type() != "client_credentials" || p.NotBefore().IsZero() {
		t.Errorf("principal = %+v", p)
	}
	if want := []string{"integration.order", "integration.store", "can_read_order"}; !slices.Equal(p.Scopes(), want) {
		t.Errorf("scopes = %q, want %q", p.Scopes(), want)
	}
	if p.StringClaim("token_use") != "cc" {
		t.Errorf("claims not kept: %v", p.Claims())
	}

	p = mustVerify(t, v, iss.Mint(claims(map[string]any{"client_id": "app-1", "azp": "app-2", "token_use": "unlisted"})))
	if p.ClientID() != "app-1" || p.Type() != "customer" {
		t.Errorf("client_id must win over azp and an unlisted type fall back to TokenType: %+v", p)
	}
}

// rawToken signs exactly header and payload, with the issuer's RSA key
// unless opts say otherwise.
func rawToken(iss *authtest.Issuer, header, payload string, opts ...authtest.MintOption) string {
	return iss.Sign([]byte(header), []byte(payload), opts...)
}

func TestJWTVerifierRefuses(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	attacker := newIssuer(t, clock)
	cfg := jwksIssuer(iss, "RS256", "ES256")
	typed := newIssuer(t, clock)
	typedCfg := jwksIssuer(typed, "RS256")
	typedCfg.RequiredTyp = "at+jwt"
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{cfg, typedCfg}})

	kid := iss.KID(authtest.RS256)
	now := clock.Now().Unix()
	valid := iss.Mint(claims(nil))
	parts := strings.Split(valid, ".")
	payload := fmt.Sprintf(`{"iss":%q,"aud":%q,"sub":"user-1","exp":%d}`, iss.URL(), testAudience, now+3600)
	header := fmt.Sprintf(`{"alg":"RS256","kid":%q}`, kid)

	rsaPub := iss.PublicKey(authtest.RS256).(*rsa.PublicKey)
	der, _ := x509.MarshalPKIXPublicKey(rsaPub)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	var attackerSet struct{ Keys []map[string]any }
	if err := json.Unmarshal(attacker.JWKS(), &attackerSet); err != nil {
		t.Fatal(err)
	}
	attackerJWK := attackerSet.Keys[0]
	// A signature whose last character differs only in the bits base64url
	// leaves unused: the same bytes, spelled differently.
	sig := parts[2]
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, sig[len(sig)-1])
	respelled := parts[0] + "." + parts[1] + "." + sig[:len(sig)-1] + string(alphabet[last|1])

	jsonSerialization := string(mustJSON(map[string]any{"payload": parts[1], "protected": parts[0], "signature": parts[2]}))
	generalJSON := string(mustJSON(map[string]any{"payload": parts[1], "signatures": []any{map[string]any{"protected": parts[0], "signature": parts[2]}}}))

	tests := []struct {
		name  string
		token string
		kind  tgerrors.Kind
		cause error
	}{
		// Algorithms.
		{"alg none without a signature", b64.EncodeToString([]byte(`{"alg":"none"}`)) + "." + b64.EncodeToString([]byte(payload)) + ".", tgerrors.InvalidToken, errJWTMalformed},
		{"alg none with a signature", rawToken(iss, `{"alg":"none","kid":"`+kid+`"}`, payload), tgerrors.InvalidToken, errJWTAlgorithm},
		{"alg NONE in capitals", rawToken(iss, `{"alg":"NONE","kid":"`+kid+`"}`, payload), tgerrors.InvalidToken, errJWTAlgorithm},
		{"alg missing", rawToken(iss, `{"kid":"`+kid+`"}`, payload), tgerrors.InvalidToken, errJWTHeader},
		{"alg not a string", rawToken(iss, `{"alg":["RS256"],"kid":"`+kid+`"}`, payload), tgerrors.InvalidToken, errJWTHeader},
		{"HS256 signed with the issuer's RSA public key as PEM", iss.Mint(claims(nil), authtest.WithHMACSecret(pemBytes), authtest.WithKID(kid)), tgerrors.InvalidToken, errJWTAlgorithm},
		{"HS256 signed with the issuer's RSA public key as DER", iss.Mint(claims(nil), authtest.WithHMACSecret(der), authtest.WithKID(kid)), tgerrors.InvalidToken, errJWTAlgorithm},
		{"alg allowed for the issuer but not for the kid's key", iss.Mint(claims(nil), authtest.WithAlg(authtest.ES256), authtest.WithKID(kid)), tgerrors.InvalidToken, errJWTNoKey},
		{"alg of the same family as the key but not its JWK alg", iss.Mint(claims(nil), authtest.WithAlg("RS384")), tgerrors.InvalidToken, errJWTAlgorithm},
		{"alg header lies about the signature", rawToken(iss, `{"alg":"ES256","kid":"`+iss.KID(authtest.ES256)+`"}`, payload), tgerrors.InvalidToken, errJWTSignature},

		// Issuer and audience.
		{"issuer not configured", iss.Mint(claims(map[string]any{"iss": "https://evil.test"})), tgerrors.InvalidToken, errJWTUnknownIssuer},
		{"issuer differs only in a trailing slash", iss.Mint(claims(map[string]any{"iss": iss.URL() + "/"})), tgerrors.InvalidToken, errJWTUnknownIssuer},
		{"issuer missing", iss.Mint(claims(map[string]any{"iss": nil})), tgerrors.InvalidToken, errJWTUnknownIssuer},
		{"audience of another API", iss.Mint(claims(map[string]any{"aud": "billing-api"})), tgerrors.InvalidToken, errJWTAudience},
		{"audience missing", iss.Mint(claims(map[string]any{"aud": nil})), tgerrors.InvalidToken, errJWTAudience},
		{"audience array without ours", iss.Mint(claims(map[string]any{"aud": []string{"a", "b"}})), tgerrors.InvalidToken, errJWTAudience},
		{"audience of the wrong type", iss.Mint(claims(map[string]any{"aud": 7})), tgerrors.InvalidToken, errJWTClaim},

		// Lifetime.
		{"expired", iss.Mint(claims(map[string]any{"exp": now - 3600})), tgerrors.ExpiredToken, errJWTExpired},
		{"expired just past the leeway", iss.Mint(claims(map[string]any{"exp": now - 31})), tgerrors.ExpiredToken, errJWTExpired},
		{"expired with a bad signature is invalid, not expired", forge(iss.Mint(claims(map[string]any{"exp": now - 3600}))), tgerrors.InvalidToken, errJWTSignature},
		{"exp missing", iss.Mint(claims(map[string]any{"exp": nil})), tgerrors.InvalidToken, errJWTClaim},
		{"exp a string", iss.Mint(claims(map[string]any{"exp": fmt.Sprint(now + 3600)})), tgerrors.InvalidToken, errJWTClaim},
		{"exp beyond any date", iss.Mint(claims(map[string]any{"exp": 1e300})), tgerrors.InvalidToken, errJWTClaim},
		{"nbf in the future", iss.Mint(claims(map[string]any{"nbf": now + 60})), tgerrors.InvalidToken, errJWTNotYetValid},
		{"iat in the future", iss.Mint(claims(map[string]any{"iat": now + 60})), tgerrors.InvalidToken, errJWTIssuedInFuture},
		{"sub not a string", iss.Mint(claims(map[string]any{"sub": 42})), tgerrors.InvalidToken, errJWTClaim},

		// Signature.
		{"payload changed after signing", parts[0] + "." + b64.EncodeToString([]byte(strings.Replace(payload, "user-1", "admin", 1))) + "." + parts[2], tgerrors.InvalidToken, errJWTSignature},
		{"signed by another issuer's key under our kid", attacker.Mint(claims(map[string]any{"iss": iss.URL()}), authtest.WithKID(kid)), tgerrors.InvalidToken, errJWTSignature},
		{"ES256 signature of the wrong length", truncateSig(iss.Mint(claims(nil), authtest.WithAlg(authtest.ES256))), tgerrors.InvalidToken, errJWTSignature},
		{"kid unknown", iss.Mint(claims(nil), authtest.WithKID("no-such-kid")), tgerrors.InvalidToken, errJWTNoKey},

		// Serialization (RFC 7515 §7; RFC 8725 §3.1, §3.12).
		{"JWS JSON serialization, flattened", jsonSerialization, tgerrors.InvalidToken, errJWTMalformed},
		{"JWS JSON serialization, general", generalJSON, tgerrors.InvalidToken, errJWTMalformed},
		{"five parts, as JWE", valid + ".e30.e30", tgerrors.InvalidToken, errJWTMalformed},
		{"two parts", parts[0] + "." + parts[1], tgerrors.InvalidToken, errJWTMalformed},
		{"empty signature", parts[0] + "." + parts[1] + ".", tgerrors.InvalidToken, errJWTMalformed},
		{"newline inside the signature", parts[0] + "." + parts[1] + "." + sig[:10] + "\n" + sig[10:], tgerrors.InvalidToken, errJWTMalformed},
		{"CRLF inside the payload", parts[0] + "." + parts[1][:5] + "\r\n" + parts[1][5:] + "." + sig, tgerrors.InvalidToken, errJWTMalformed},
		{"space before the signature", parts[0] + "." + parts[1] + ". " + sig, tgerrors.InvalidToken, errJWTMalformed},
		{"padding", valid + "==", tgerrors.InvalidToken, errJWTMalformed},
		{"standard base64 alphabet", parts[0] + "." + parts[1] + ".+" + sig[1:], tgerrors.InvalidToken, errJWTMalformed},
		{"non-canonical base64 spelling of the signature", respelled, tgerrors.InvalidToken, errJWTMalformed},
		{"header not an object", rawToken(iss, `["RS256"]`, payload), tgerrors.InvalidToken, errJWTMalformed},
		{"header null", rawToken(iss, `null`, payload), tgerrors.InvalidToken, errJWTMalformed},
		{"claims not an object", rawToken(iss, header, `"x"`), tgerrors.InvalidToken, errJWTMalformed},
		{"claims not JSON", rawToken(iss, header, `{"iss":`), tgerrors.InvalidToken, errJWTMalformed},
		{"token longer than the limit", valid + strings.Repeat("A", maxJWTBytes), tgerrors.InvalidToken, errJWTMalformed},
		{"empty token", "", tgerrors.InvalidToken, errJWTMalformed},

		// Duplicate members (RFC 7515 §5.2, RFC 7519 §4).
		{"duplicate alg in the header", rawToken(iss, `{"alg":"none","kid":"`+kid+`","alg":"RS256"}`, payload), tgerrors.InvalidToken, errJWTDuplicate},
		{"duplicate sub in the claims", rawToken(iss, header, strings.Replace(payload, `"sub":"user-1"`, `"sub":"admin","sub":"user-1"`, 1)), tgerrors.InvalidToken, errJWTDuplicate},
		{"duplicate iss spelled with an escape", rawToken(iss, header, strings.Replace(payload, `"sub":"user-1"`, `"\u0069ss":"https://evil.test"`, 1)), tgerrors.InvalidToken, errJWTDuplicate},

		// Headers that would make the token choose its own rules (RFC 8725 §3.1, §3.10, §3.11).
		{"crit naming an unknown extension", iss.Mint(claims(nil), authtest.WithHeader("crit", []string{"exp"}), authtest.WithHeader("exp", now)), tgerrors.InvalidToken, errJWTHeader},
		{"unencoded payload (b64 false, RFC 7797)", rawToken(iss, `{"alg":"RS256","kid":"`+kid+`","b64":false,"crit":["b64"]}`, payload), tgerrors.InvalidToken, errJWTHeader},
		{"b64 without crit", rawToken(iss, `{"alg":"RS256","kid":"`+kid+`","b64":true}`, payload), tgerrors.InvalidToken, errJWTHeader},
		{"embedded jwk of the attacker's key", attacker.Mint(claims(map[string]any{"iss": iss.URL()}), authtest.WithHeader("jwk", attackerJWK)), tgerrors.InvalidToken, errJWTHeader},
		{"jku pointing at the attacker's JWKS", attacker.Mint(claims(map[string]any{"iss": iss.URL()}), authtest.WithHeader("jku", attacker.JWKSURL())), tgerrors.InvalidToken, errJWTHeader},
		{"x5u", iss.Mint(claims(nil), authtest.WithHeader("x5u", attacker.URL()+"/cert.pem")), tgerrors.InvalidToken, errJWTHeader},
		{"x5c", iss.Mint(claims(nil), authtest.WithHeader("x5c", []string{"MIIB"})), tgerrors.InvalidToken, errJWTHeader},
		{"nested JWT (cty JWT)", iss.Mint(claims(nil), authtest.WithHeader("cty", "JWT")), tgerrors.InvalidToken, errJWTHeader},
		{"zip", iss.Mint(claims(nil), authtest.WithHeader("zip", "DEF")), tgerrors.InvalidToken, errJWTHeader},
		{"kid not a string", iss.Mint(claims(nil), authtest.WithHeader("kid", 1)), tgerrors.InvalidToken, errJWTHeader},
		{"typ required but absent", typed.Mint(claims(nil), authtest.WithHeader("typ", nil)), tgerrors.InvalidToken, errJWTType},
		{"typ required but JWT", typed.Mint(claims(nil)), tgerrors.InvalidToken, errJWTType},
		{"typ of an ID token", typed.Mint(claims(nil), authtest.WithHeader("typ", "id_token+jwt")), tgerrors.InvalidToken, errJWTType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, beforeAttacker := iss.FetchCount(), attacker.FetchCount()
			p, err := v.Verify(context.Background(), tt.token)
			wantRefusal(t, p, err, tt.kind, tt.cause)
			if tt.cause != errJWTNoKey && iss.FetchCount() != before {
				t.Errorf("the refusal fetched the issuer's JWKS")
			}
			if attacker.FetchCount() != beforeAttacker {
				t.Errorf("the verifier fetched a key set the token pointed to")
			}
		})
	}

	t.Run("the valid token these were made from verifies", func(t *testing.T) {
		mustVerify(t, v, valid)
		mustVerify(t, v, rawToken(iss, header, payload))
	})
}

// forge replaces a token's signature with another token's: a well-formed
// token whose signature does not verify.
func forge(token string) string {
	i := strings.LastIndexByte(token, '.')
	sig := []byte(token[i+1:])
	if sig[0] == 'A' {
		sig[0] = 'B'
	} else {
		sig[0] = 'A'
	}
	return token[:i+1] + string(sig)
}

func truncateSig(token string) string {
	i := strings.LastIndexByte(token, '.')
	raw, _ := b64.DecodeString(token[i+1:])
	return token[:i+1] + b64.EncodeToString(raw[:len(raw)-1])
}

func TestJWTLeeway(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	now := clock.Now().Unix()
	tests := []struct {
		name   string
		leeway time.Duration
		claims map[string]any
		kind   tgerrors.Kind
	}{
		{"exp 20s ago within the default 30s leeway is accepted", 0, map[string]any{"exp": now - 20}, ""},
		{"exp 40s ago past the default leeway is expired", 0, map[string]any{"exp": now - 40}, tgerrors.ExpiredToken},
		{"exp now with no leeway is expired", -1, map[string]any{"exp": now}, tgerrors.ExpiredToken},
		{"exp 1s ahead with no leeway is accepted", -1, map[string]any{"exp": now + 1}, ""},
		{"nbf 20s ahead within the leeway is accepted", 0, map[string]any{"nbf": now + 20}, ""},
		{"nbf 20s ahead with no leeway is refused", -1, map[string]any{"nbf": now + 20}, tgerrors.InvalidToken},
		{"iat 20s ahead within the leeway is accepted", 0, map[string]any{"iat": now + 20}, ""},
		{"iat 4m ahead with a 5m leeway is accepted", 5 * time.Minute, map[string]any{"iat": now + 240}, ""},
		{"exp 4m ago with a 5m leeway is accepted", 5 * time.Minute, map[string]any{"exp": now - 240}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}, Leeway: tt.leeway})
			p, err := v.Verify(context.Background(), iss.Mint(claims(tt.claims)))
			if tt.kind == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantRefusal(t, p, err, tt.kind, nil)
		})
	}
}

func TestJWTRequiredTypAcceptsItsSpellings(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	cfg := jwksIssuer(iss)
	cfg.RequiredTyp = "at+jwt"
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{cfg}})
	for _, typ := range []string{"at+jwt", "AT+JWT", "application/at+jwt", "Application/At+JWT"} {
		t.Run(typ, func(t *testing.T) {
			mustVerify(t, v, iss.Mint(claims(nil), authtest.WithHeader("typ", typ)))
		})
	}
}

func TestJWTKeysAreLookedUpPerIssuer(t *testing.T) {
	clock := newTestClock()
	a, b := newIssuer(t, clock), newIssuer(t, clock)
	other := newIssuer(t, clock)
	// c uses static keys under the very kid a's JWKS uses, but its own key.
	c := Issuer{Issuer: "https://c.test", Audiences: []string{testAudience}, Algorithms: []string{"RS256"},
		Keys: []StaticKey{{ID: a.KID(authtest.RS256), Public: other.PublicKey(authtest.RS256)}}}
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(a), jwksIssuer(b), c}})

	if p := mustVerify(t, v, a.Mint(claims(nil))); p.Issuer() != a.URL() {
		t.Errorf("issuer = %q", p.Issuer())
	}
	if p := mustVerify(t, v, b.Mint(claims(nil))); p.Issuer() != b.URL() {
		t.Errorf("issuer = %q", p.Issuer())
	}
	if p := mustVerify(t, v, other.Mint(claims(map[string]any{"iss": "https://c.test"}), authtest.WithKID(a.KID(authtest.RS256)))); p.Issuer() != "https://c.test" {
		t.Errorf("issuer = %q", p.Issuer())
	}

	t.Run("a's token claiming to be b's is refused", func(t *testing.T) {
		p, err := v.Verify(context.Background(), a.Mint(claims(map[string]any{"iss": b.URL()})))
		wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTNoKey)
	})
	t.Run("a's token claiming to be c's, under the kid c also uses, is refused", func(t *testing.T) {
		p, err := v.Verify(context.Background(), a.Mint(claims(map[string]any{"iss": "https://c.test"})))
		wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTSignature)
	})
}

func TestNewJWTVerifierRefusesBadConfig(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	ok := jwksIssuer(iss)
	with := func(f func(*Issuer)) []Issuer {
		is := ok
		f(&is)
		return []Issuer{is}
	}
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	strong := iss.PublicKey(authtest.RS256)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	secret32 := []byte(strings.Repeat("k", 32))
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no issuers", Config{}},
		{"empty issuer name", Config{Issuers: with(func(is *Issuer) { is.Issuer = "" })}},
		{"issuer listed twice", Config{Issuers: []Issuer{ok, ok}}},
		{"no key source, and an issuer that is no URL to discover", Config{Issuers: with(func(is *Issuer) { is.Issuer, is.JWKSURL = "orders-idp", "" })}},
		{"no key source, and an issuer on plain http to a remote host", Config{Issuers: with(func(is *Issuer) { is.Issuer, is.JWKSURL = "http://idp.example.com", "" })}},
		{"two key sources", Config{Issuers: with(func(is *Issuer) { is.HMACSecret = secret32 })}},
		{"no audiences", Config{Issuers: with(func(is *Issuer) { is.Audiences = nil })}},
		{"an empty audience", Config{Issuers: with(func(is *Issuer) { is.Audiences = []string{""} })}},
		{"no algorithms", Config{Issuers: with(func(is *Issuer) { is.Algorithms = nil })}},
		{"alg none", Config{Issuers: with(func(is *Issuer) { is.Algorithms = []string{"none"} })}},
		{"alg in the wrong case", Config{Issuers: with(func(is *Issuer) { is.Algorithms = []string{"rs256"} })}},
		{"HMAC alg with a JWKS", Config{Issuers: with(func(is *Issuer) { is.Algorithms = []string{"RS256", "HS256"} })}},
		{"asymmetric alg with an HMAC secret", Config{Issuers: with(func(is *Issuer) {
			is.JWKSURL, is.HMACSecret, is.Algorithms = "", secret32, []string{"HS256", "RS256"}
		})}},
		{"HMAC secret shorter than SHA-256", Config{Issuers: with(func(is *Issuer) {
			is.JWKSURL, is.HMACSecret, is.Algorithms = "", secret32[:31], []string{"HS256"}
		})}},
		{"HMAC secret shorter than SHA-512 for HS512", Config{Issuers: with(func(is *Issuer) {
			is.JWKSURL, is.HMACSecret, is.Algorithms = "", secret32, []string{"HS256", "HS512"}
		})}},
		{"JWKS over plain http to a remote host", Config{Issuers: with(func(is *Issuer) { is.JWKSURL = "http://idp.example.com/jwks" })}},
		{"JWKS URL without a host", Config{Issuers: with(func(is *Issuer) { is.JWKSURL = "https:///jwks" })}},
		{"static RSA key of 1024 bits", Config{Issuers: with(func(is *Issuer) {
			is.JWKSURL, is.Keys = "", []StaticKey{{ID: "k", Public: &weak.PublicKey}}
		})}},
		{"static private key", Config{Issuers: with(func(is *Issuer) {
			is.JWKSURL, is.Keys = "", []StaticKey{{ID: "k", Public: weak}}
		})}},
		{"static key on P-224", Config{Issuers: with(func(is *Issuer) {
			is.JWKSURL, is.Keys, is.Algorithms = "", []StaticKey{{ID: "k", Public: &p224.PublicKey}}, []string{"ES256"}
		})}},
		{"static key whose alg is not allowed", Config{Issuers: with(func(is *Issuer) {
			is.JWKSURL, is.Keys, is.Algorithms = "", []StaticKey{{ID: "k", Public: strong, Algorithm: "PS256"}}, []string{"RS256"}
		})}},
		{"static key no allowed alg suits", Config{Issuers: with(func(is *Issuer) {
			is.JWKSURL, is.Keys, is.Algorithms = "", []StaticKey{{ID: "k", Public: strong}}, []string{"ES256"}
		})}},
		{"static key ID used twice", Config{Issuers: with(func(is *Issuer) {
			is.JWKSURL, is.Keys = "", []StaticKey{{ID: "k", Public: strong}, {ID: "k", Public: strong}}
		})}},
		{"negative stale limit", Config{Issuers: []Issuer{ok}, StaleLimit: -time.Second}},
		{"min refresh above max", Config{Issuers: []Issuer{ok}, MinRefreshInterval: time.Hour, MaxRefreshInterval: time.Minute}},
		{"negative JWKS size limit", Config{Issuers: []Issuer{ok}, MaxJWKSBytes: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := iss.FetchCount()
			v, err := NewVerifier(context.Background(), tt.cfg)
			if err == nil {
				_ = v.Close()
				t.Fatal("accepted")
			}
			if !strings.HasPrefix(err.Error(), "jwt: ") {
				t.Errorf("error %q does not say where it comes from", err)
			}
			if iss.FetchCount() != before {
				t.Error("a refused configuration fetched keys")
			}
		})
	}

	t.Run("AnyAudience stands in for Audiences", func(t *testing.T) {
		is := ok
		is.Audiences, is.AnyAudience = nil, true
		v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{is}})
		mustVerify(t, v, iss.Mint(claims(map[string]any{"aud": nil})))
	})
}

// The cause of a refusal is for logs; the message the client sees is the
// same whichever check failed.
func TestJWTRefusalMessagesDoNotTellWhichCheckFailed(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}})
	seen := map[string]bool{}
	for _, tok := range []string{
		"garbage",
		iss.Mint(claims(map[string]any{"aud": "x"})),
		iss.Mint(claims(map[string]any{"iss": "x"})),
		forge(iss.Mint(claims(nil))),
		iss.Mint(claims(nil), authtest.WithKID("x")),
	} {
		_, err := v.Verify(context.Background(), tok)
		e := tgerrors.From(err)
		seen[e.Message] = true
		if strings.Contains(e.Message, "kid") || strings.Contains(e.Message, "aud") {
			t.Errorf("message %q names a check", e.Message)
		}
	}
	if len(seen) != 1 {
		t.Errorf("messages differ by check: %v", seen)
	}
}

// Both signatures are valid, and legitimate signers produce either, so the
// verifier accepts both; revocation by token must refuse both.
func TestTheOtherECDSASignatureOfATokenRevokedByTokenIsRevokedToo(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss, "ES256")}})
	token := iss.Mint(claims(map[string]any{"jti": nil}), authtest.WithAlg(authtest.ES256))
	twin, err := authtest.ECDSATwin(token)
	if err != nil {
		t.Fatal(err)
	}
	if twin == token {
		t.Fatal("the twin is the token")
	}
	checker := revocation.NewMemory(revocation.MemoryConfig{Now: clock.Now})
	if err := checker.RevokeToken(token, clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"the token": token, "its (r, N-s) twin": twin} {
		p := mustVerify(t, v, tok)
		if revoked, err := checker.Revoked(context.Background(), tok, p); err != nil || !revoked {
			t.Errorf("%s: Revoked = %v, %v; want true", name, revoked, err)
		}
	}
}
