package jwt

import (
	"context"
	stderrors "errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
)

func TestExplainReachesVerifysVerdictAndNamesTheFailedCheck(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	other := newIssuer(t, clock)
	is := jwksIssuer(iss, "ES256", "RS256")
	is.RoleClaims = []string{"roles"}
	is.MaxLifetime = 2 * time.Hour
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{is}, CacheSize: -1})
	now := clock.Now()

	good := iss.Mint(claims(map[string]any{"scope": "orders:read", "roles": []any{"admin"}}), authtest.WithAlg("ES256"))
	for _, tc := range []struct {
		name   string
		token  string
		failed StepName // "" for a token that verifies
	}{
		{"good", good, ""},
		{"good RS256", iss.Mint(claims(nil), authtest.WithAlg("RS256")), ""},
		{"two parts", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0", StepShape},
		{"garbage", "not a token", StepShape},
		{"jku header", iss.Mint(claims(nil), authtest.WithHeader("jku", "https://evil.example/jwks")), StepHeader},
		{"claims not JSON", "eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln", StepClaims},
		{"unknown issuer", other.Mint(claims(nil)), StepIssuer},
		{"EdDSA not allowed", iss.Mint(claims(nil), authtest.WithAlg("EdDSA")), StepAlgorithm},
		{"ID token", iss.Mint(claims(map[string]any{"nonce": "n"})), StepTokenKind},
		{"no exp", iss.Mint(claims(map[string]any{"exp": nil})), StepRegisteredClaims},
		{"other audience", iss.Mint(claims(map[string]any{"aud": "billing-api"})), StepAudience},
		{"unknown kid", iss.Mint(claims(nil), authtest.WithKID("gone")), StepKey},
		{"bad signature", good[:strings.LastIndexByte(good, '.')+1] + strings.Repeat("A", 86), StepSignature},
		{"expired", iss.Mint(claims(map[string]any{"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Minute).Unix()})), StepExpiry},
		{"expired within leeway", iss.Mint(claims(map[string]any{"exp": now.Add(-10 * time.Second).Unix()})), ""},
		{"not yet valid", iss.Mint(claims(map[string]any{"nbf": now.Add(time.Hour).Unix()})), StepNotBefore},
		{"issued in the future", iss.Mint(claims(map[string]any{"iat": now.Add(time.Hour).Unix(), "exp": now.Add(2 * time.Hour).Unix()})), StepIssuedAt},
		{"lives too long", iss.Mint(claims(map[string]any{"exp": now.Add(5 * time.Hour).Unix()})), StepLifetime},
		{"roles not strings", iss.Mint(claims(map[string]any{"roles": []any{1}})), StepRoles},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := v.Explain(context.Background(), tc.token)
			p, err := v.Verify(context.Background(), tc.token)
			switch {
			case (err == nil) != (ex.Err == nil):
				t.Fatalf("Verify = %v, Explain = %v", err, ex.Err)
			case err != nil:
				var a, b *tgerrors.Error
				if !stderrors.As(err, &a) || !stderrors.As(ex.Err, &b) || a.Kind != b.Kind || a.Err.Error() != b.Err.Error() {
					t.Errorf("Verify = %v, Explain = %v", err, ex.Err)
				}
			default:
				if ex.Principal == nil || ex.Principal.Subject() != p.Subject() {
					t.Errorf("Explain's principal %v, Verify's %v", ex.Principal, p)
				}
			}
			if len(ex.Steps) != len(steps) {
				t.Fatalf("%d steps, want %d", len(ex.Steps), len(steps))
			}
			seenFail := false
			for i, s := range ex.Steps {
				if s.Name != steps[i] {
					t.Errorf("step %d is %s, want %s", i, s.Name, steps[i])
				}
				switch {
				case s.Name == tc.failed:
					if s.Outcome != Failed || s.Detail == "" {
						t.Errorf("step %s: %v %q, want it failed with a reason", s.Name, s.Outcome, s.Detail)
					}
					seenFail = true
				case !seenFail && tc.failed != "" || tc.failed == "":
					if s.Outcome != Passed {
						t.Errorf("step %s: %v %q, want passed", s.Name, s.Outcome, s.Detail)
					}
				default:
					if s.Outcome != NotReached {
						t.Errorf("step %s after the failed one: %v", s.Name, s.Outcome)
					}
				}
			}
		})
	}
}

func TestExplainTellsNoKeyMaterial(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss, "ES256", "RS256")}})
	for _, alg := range []string{"ES256", "RS256"} {
		ex := v.Explain(context.Background(), iss.Mint(claims(nil), authtest.WithAlg(alg)))
		if ex.Err != nil {
			t.Fatal(ex.Err)
		}
		var key string
		for _, s := range ex.Steps {
			if s.Name == StepKey {
				key = s.Detail
			}
		}
		if !strings.Contains(key, iss.KID(alg)) || !strings.Contains(key, "thumbprint ") {
			t.Errorf("%s key step %q, want its kid and thumbprint", alg, key)
		}
		jwks := string(iss.JWKS())
		for _, part := range strings.FieldsFunc(jwks, func(r rune) bool { return r == '"' }) {
			if len(part) > 40 && strings.Contains(key, part) {
				t.Errorf("key step %q holds key material %q", key, part)
			}
		}
	}
}
