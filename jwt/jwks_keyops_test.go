package jwt

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
)

// jwkOutcome is what parseJWKS does with one key.
type jwkOutcome int

const (
	kept       jwkOutcome = iota // verifies tokens
	skipped                      // not a verification key; silently left out
	dropped                      // must not be trusted; left out and logged
	setRefused                   // the whole set is refused
)

func (o jwkOutcome) String() string {
	return [...]string{"kept", "skipped", "dropped", "set refused"}[o]
}

// outcomeOf parses a set of the key under test (kid "k") and a good key,
// and says what became of the key under test.
func outcomeOf(t *testing.T, jwk map[string]any) jwkOutcome {
	t.Helper()
	b, err := json.Marshal(jwk)
	if err != nil {
		t.Fatal(err)
	}
	set, refused, err := parseJWKS([]byte(`{"keys":[` + string(b) + `,` + okpJWK("good", goodEd25519(t)) + `]}`))
	switch {
	case err != nil:
		return setRefused
	case set.byID("k") != nil:
		return kept
	case len(refused) == 1 && refused[0].kid == "k":
		return dropped
	}
	return skipped
}

// authtestJWK is the JWK authtest serves for alg, as a map to change.
func authtestJWK(t *testing.T, iss *authtest.Issuer, alg string) map[string]any {
	t.Helper()
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(iss.JWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range doc.Keys {
		if k["alg"] == alg {
			return k
		}
	}
	t.Fatalf("authtest serves no %s key", alg)
	return nil
}

func TestKeyOpsAndUseDecideWhetherAKeyVerifies(t *testing.T) {
	iss := newIssuer(t, newTestClock())
	base := authtestJWK(t, iss, authtest.RS256)
	tests := []struct {
		name string
		set  map[string]any // members to set; nil values delete
		want jwkOutcome
	}{
		{"use sig, no key_ops", map[string]any{"use": "sig"}, kept},
		{"neither use nor key_ops", map[string]any{"use": nil}, kept},
		{"key_ops verify", map[string]any{"use": nil, "key_ops": []string{"verify"}}, kept},
		{"key_ops sign and verify", map[string]any{"use": nil, "key_ops": []string{"sign", "verify"}}, kept},
		{"use sig and key_ops verify", map[string]any{"key_ops": []string{"verify"}}, kept},
		{"key_ops verify and an unrelated operation, no use", map[string]any{"use": nil, "key_ops": []string{"verify", "encrypt"}}, kept},

		{"key_ops sign only", map[string]any{"use": nil, "key_ops": []string{"sign"}}, skipped},
		{"key_ops encrypt", map[string]any{"use": nil, "key_ops": []string{"encrypt"}}, skipped},
		{"key_ops empty", map[string]any{"use": nil, "key_ops": []string{}}, skipped},
		{"key_ops Verify (operations are case-sensitive)", map[string]any{"use": nil, "key_ops": []string{"Verify"}}, skipped},
		{"use sig and key_ops sign", map[string]any{"key_ops": []string{"sign"}}, skipped},
		{"use enc", map[string]any{"use": "enc"}, skipped},
		{"use enc and key_ops encrypt", map[string]any{"use": "enc", "key_ops": []string{"encrypt"}}, skipped},

		{"use sig and key_ops encrypt", map[string]any{"key_ops": []string{"encrypt"}}, dropped},
		{"use sig and key_ops verify, decrypt", map[string]any{"key_ops": []string{"verify", "decrypt"}}, dropped},
		{"use enc and key_ops verify", map[string]any{"use": "enc", "key_ops": []string{"verify"}}, dropped},
		{"key_ops verify twice", map[string]any{"use": nil, "key_ops": []string{"verify", "verify"}}, dropped},

		{"key_ops a string", map[string]any{"key_ops": "verify"}, setRefused},
		{"key_ops holding a number", map[string]any{"key_ops": []any{"verify", 1}}, setRefused},
		{"use a number", map[string]any{"use": 1}, setRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jwk := map[string]any{}
			for k, v := range base {
				jwk[k] = v
			}
			jwk["kid"] = "k"
			for k, v := range tt.set {
				if v == nil {
					delete(jwk, k)
				} else {
					jwk[k] = v
				}
			}
			if got := outcomeOf(t, jwk); got != tt.want {
				t.Errorf("%s, want %s", got, tt.want)
			}
		})
	}
}

// TestKeyWithoutVerifyInKeyOpsVerifiesNoToken drives the verifier: a token
// signed with a key published for signing only ("key_ops": ["sign"]) is
// refused as if the key were absent, while the issuer's other keys keep
// working.
func TestKeyWithoutVerifyInKeyOpsVerifiesNoToken(t *testing.T) {
	tests := []struct {
		name string
		ops  any
	}{
		{"sign only", []string{"sign"}},
		{"encrypt, contradicting use sig", []string{"encrypt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			iss := newIssuer(t, clock)
			keys := []map[string]any{authtestJWK(t, iss, authtest.RS256), authtestJWK(t, iss, authtest.ES256)}
			keys[0]["key_ops"] = tt.ops
			body, _ := json.Marshal(map[string]any{"keys": keys})
			iss.SetBody(body)
			v, rec := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}})
			if rec.count() != 0 {
				t.Fatalf("refresh errors: %v", rec.errs)
			}
			p, err := v.Verify(context.Background(), iss.Mint(claims(nil), authtest.WithAlg(authtest.RS256)))
			wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTNoKey)
			mustVerify(t, v, iss.Mint(claims(nil), authtest.WithAlg(authtest.ES256)))
		})
	}
}

// TestJWKSDropsAnUntrustedKeyAndKeepsTheOthers is the policy for a set with
// one bad key: the bad key is dropped and logged by kid, the fetch
// succeeds, and the other keys, a new one included, verify.
func TestJWKSDropsAnUntrustedKeyAndKeepsTheOthers(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, rec := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}})
	old := iss.Mint(claims(map[string]any{"jti": "old"}))
	mustVerify(t, v, old)

	iss.Rotate()
	rsaKey := authtestJWK(t, iss, authtest.RS256)
	leaked := authtestJWK(t, iss, authtest.ES256)
	leaked["d"] = "870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE" // private material in a public set
	body, _ := json.Marshal(map[string]any{"keys": []any{rsaKey, leaked, json.RawMessage(okpJWK("small-order", mustHex(t, smallOrderEd25519[0].hex)))}})
	iss.SetBody(body)
	logs := captureLogs(t)
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatalf("a set with good and bad keys was refused whole: %v", err)
	}
	if rec.count() != 0 {
		t.Errorf("OnRefreshError calls = %d, want 0", rec.count())
	}
	mustVerify(t, v, iss.Mint(claims(nil), authtest.WithAlg(authtest.RS256)))
	p, err := v.Verify(context.Background(), iss.Mint(claims(nil), authtest.WithAlg(authtest.ES256)))
	wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTNoKey)
	p, err = v.Verify(context.Background(), old)
	wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTNoKey)
	logs.want(t, slog.LevelError, "JWKS key refused", "kid="+leaked["kid"].(string), "private key material")
	logs.want(t, slog.LevelError, "JWKS key refused", "kid=small-order", "small order")
	if strings.Contains(logs.String(), "870MB6gf") {
		t.Error("the log holds key material")
	}
}
