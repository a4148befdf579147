package issuer_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
)

func newMinter(t testing.TB, c *clock, r issuer.SigningKeys, tweak ...func(*issuer.MinterConfig)) *issuer.Minter {
	t.Helper()
	cfg := issuer.MinterConfig{Issuer: testIssuer, Keys: r, Now: c.Now}
	for _, f := range tweak {
		f(&cfg)
	}
	m, err := issuer.NewMinter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mint(t testing.TB, m *issuer.Minter, req issuer.AccessRequest) issuer.AccessToken {
	t.Helper()
	at, err := m.Mint(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func decodePart(t testing.TB, token string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("%d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func ordersRequest() issuer.AccessRequest {
	return issuer.AccessRequest{Subject: "user-1", ClientID: "portal", Audience: []string{"orders-api"}, Scopes: []string{"orders:read", "orders:write"}}
}

func TestAnAccessTokenHasTheClaimsOfRFC9068(t *testing.T) {
	c := newClock()
	r := newRing(t, c, nil, "")
	m := newMinter(t, c, r)
	at := mint(t, m, ordersRequest())
	s, _ := r.Signer(c.Now())
	h := decodePart(t, at.Token.Reveal(), 0)
	if h["typ"] != "at+jwt" || h["alg"] != "ES256" || h["kid"] != s.KeyID() || len(h) != 3 {
		t.Fatalf("header %v", h)
	}
	claims := decodePart(t, at.Token.Reveal(), 1)
	want := map[string]any{
		"iss": testIssuer, "sub": "user-1", "aud": "orders-api", "client_id": "portal",
		"scope": "orders:read orders:write", "jti": at.ID,
		"iat": float64(c.Now().Unix()), "exp": float64(c.Now().Add(time.Hour).Unix()),
	}
	if fmt.Sprint(claims) != fmt.Sprint(want) {
		t.Fatalf("claims\n%v\nwant\n%v", claims, want)
	}
	if len(at.ID) != 22 || at.Lifetime != time.Hour || !at.ExpiresAt.Equal(c.Now().Add(time.Hour)) {
		t.Fatalf("jti %q, lifetime %v, exp %v", at.ID, at.Lifetime, at.ExpiresAt)
	}
	if other := mint(t, m, ordersRequest()); other.ID == at.ID {
		t.Fatal("two tokens share a jti")
	}
}

func TestAnAccessTokenCarriesSidOnlyFromASessionAndSeveralAudiencesAsAnArray(t *testing.T) {
	c := newClock()
	m := newMinter(t, c, newRing(t, c, nil, ""))
	req := issuer.AccessRequest{ClientID: "svc", Audience: []string{"a", "b"}, SessionID: "s1"}
	claims := decodePart(t, mint(t, m, req).Token.Reveal(), 1)
	if claims["sid"] != "s1" || fmt.Sprint(claims["aud"]) != "[a b]" || claims["sub"] != "svc" {
		t.Fatalf("claims %v", claims)
	}
	if _, ok := claims["scope"]; ok {
		t.Fatal("scope without scopes")
	}
	req.SessionID = ""
	if _, ok := decodePart(t, mint(t, m, req).Token.Reveal(), 1)["sid"]; ok {
		t.Fatal("sid without a session")
	}
}

func TestTheLifetimeIsTheRequestsThenTheGrantsThenTheDefault(t *testing.T) {
	c := newClock()
	m := newMinter(t, c, newRing(t, c, nil, ""), func(cfg *issuer.MinterConfig) {
		cfg.GrantLifetimes = map[string]time.Duration{"client_credentials": 2 * time.Hour}
	})
	for _, tc := range []struct {
		grant string
		life  time.Duration
		want  time.Duration
	}{
		{"", 0, time.Hour},
		{"refresh_token", 0, time.Hour},
		{"client_credentials", 0, 2 * time.Hour},
		{"client_credentials", 30 * time.Minute, 30 * time.Minute},
	} {
		req := ordersRequest()
		req.Grant, req.Lifetime = tc.grant, tc.life
		at := mint(t, m, req)
		exp := decodePart(t, at.Token.Reveal(), 1)["exp"].(float64)
		if at.Lifetime != tc.want || int64(exp) != c.Now().Add(tc.want).Unix() {
			t.Errorf("grant %q, lifetime %v: got %v (exp %v), want %v", tc.grant, tc.life, at.Lifetime, exp, tc.want)
		}
	}
	req := ordersRequest()
	req.Lifetime = 3 * time.Hour // over the ring's MaxTokenLifetime
	if _, err := m.Mint(context.Background(), req); err == nil {
		t.Fatal("minted a token outliving its key's publication")
	}
}

func TestExtraClaimsAreAddedButCannotOverrideRegisteredOnes(t *testing.T) {
	c := newClock()
	r := newRing(t, c, nil, "")
	extra := map[string]any{"tenant": "t1", "roles": []string{"admin"}}
	m := newMinter(t, c, r, func(cfg *issuer.MinterConfig) {
		cfg.ExtraClaims = func(_ context.Context, req *issuer.AccessRequest) (map[string]any, error) {
			if req.ClientID == "fails" {
				return nil, errors.New("hook failed")
			}
			return extra, nil
		}
	})
	claims := decodePart(t, mint(t, m, ordersRequest()).Token.Reveal(), 1)
	if claims["tenant"] != "t1" || fmt.Sprint(claims["roles"]) != "[admin]" || claims["sub"] != "user-1" {
		t.Fatalf("claims %v", claims)
	}
	for _, name := range issuer.ReservedClaims {
		extra = map[string]any{name: "forged"}
		if at, err := m.Mint(context.Background(), ordersRequest()); err == nil {
			t.Errorf("ExtraClaims set %q: minted %v", name, decodePart(t, at.Token.Reveal(), 1))
		}
	}
	req := ordersRequest()
	req.ClientID = "fails"
	if _, err := m.Mint(context.Background(), req); err == nil || err.Error() != "hook failed" {
		t.Fatalf("err %v, want the hook's", err)
	}
}

func TestAMintedTokenIsNeverPrinted(t *testing.T) {
	c := newClock()
	at := mint(t, newMinter(t, c, newRing(t, c, nil, "")), ordersRequest())
	for _, s := range []string{fmt.Sprint(at.Token), fmt.Sprintf("%v %+v %#v", at, at, at.Token)} {
		if strings.Contains(s, at.Token.Reveal()[:20]) {
			t.Fatalf("printed %q", s)
		}
	}
}

func TestMinterConfigIsChecked(t *testing.T) {
	c := newClock()
	r := newRing(t, c, nil, "")
	for name, cfg := range map[string]issuer.MinterConfig{
		"no issuer":            {Keys: r},
		"no keys":              {Issuer: testIssuer},
		"negative lifetime":    {Issuer: testIssuer, Keys: r, Lifetime: -1},
		"lifetime over max":    {Issuer: testIssuer, Keys: r, Lifetime: maxLife + 1},
		"grant lifetime > max": {Issuer: testIssuer, Keys: r, GrantLifetimes: map[string]time.Duration{"x": maxLife + 1}},
	} {
		if _, err := issuer.NewMinter(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	m := newMinter(t, c, r)
	for name, req := range map[string]issuer.AccessRequest{
		"no client":   {Audience: []string{"a"}},
		"no audience": {ClientID: "c"},
	} {
		if _, err := m.Mint(context.Background(), req); err == nil {
			t.Errorf("%s: minted", name)
		}
	}
}

func selfVerifier(t testing.TB, c *clock, keys jwt.KeySource) *jwt.Verifier {
	t.Helper()
	v, err := jwt.NewVerifier(context.Background(), jwt.Config{
		Now: c.Now,
		Issuers: []jwt.Issuer{{
			Issuer: testIssuer, KeySource: keys, Audiences: []string{"orders-api"},
			Algorithms: []string{"ES256", "EdDSA", "RS256"}, RequiredTyp: "at+jwt",
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v
}

func TestAMintedTokenIsVerifiedThroughAuthenticateWithTheInProcessKeys(t *testing.T) {
	for _, alg := range []string{issuer.ES256, issuer.EdDSA, issuer.RS256} {
		t.Run(alg, func(t *testing.T) {
			c := newClock()
			r := newRing(t, c, nil, alg)
			m := newMinter(t, c, r)
			var got *principal.Principal
			h := middleware.Authenticate(selfVerifier(t, c, r))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, _ = principal.From(r.Context())
			}))
			req := ordersRequest()
			req.SessionID = "s1"
			tok := mint(t, m, req).Token.Reveal()
			rec := httptest.NewRecorder()
			hr := httptest.NewRequest(http.MethodGet, "/orders", nil)
			hr.Header.Set("Authorization", "Bearer "+tok)
			h.ServeHTTP(rec, hr)
			if rec.Code != http.StatusOK || got == nil {
				t.Fatalf("status %d, body %q", rec.Code, rec.Body)
			}
			if got.Subject() != "user-1" || got.ClientID() != "portal" || !got.HasScope("orders:write") || got.StringClaim("sid") != "s1" || got.Issuer() != testIssuer {
				t.Fatalf("principal %+v", got.Fields())
			}
			// The same token past its exp (and the verifier's leeway) is refused.
			c.Advance(time.Hour + jwt.MaxLeeway)
			got = nil
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, hr)
			if rec.Code != http.StatusUnauthorized || got != nil {
				t.Fatalf("expired token: status %d, handler reached %v", rec.Code, got != nil)
			}
		})
	}
}

func TestFixedKeysSignAndPublishOneKey(t *testing.T) {
	c := newClock()
	s, _ := newRing(t, c, nil, "").Signer(c.Now())
	fixed := issuer.NewFixedKeys(s, time.Hour)
	tok := mint(t, newMinter(t, c, fixed), ordersRequest()).Token.Reveal()
	if _, err := selfVerifier(t, c, fixed).Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
}

func TestScopeArrayWritesTheScopesAsAJSONArrayTheVerifierReads(t *testing.T) {
	c := newClock()
	r := newRing(t, c, nil, issuer.RS256)
	m := newMinter(t, c, r, func(cfg *issuer.MinterConfig) { cfg.ScopeArray = true })
	tok := mint(t, m, ordersRequest()).Token.Reveal()
	if got := fmt.Sprint(decodePart(t, tok, 1)["scope"]); got != "[orders:read orders:write]" {
		t.Fatalf("scope %s, want an array", got)
	}
	p, err := selfVerifier(t, c, r).Verify(context.Background(), tok)
	if err != nil || !p.HasScope("orders:write") {
		t.Fatalf("%v, %v", p, err)
	}
	req := ordersRequest()
	req.Scopes = nil
	if _, ok := decodePart(t, mint(t, m, req).Token.Reveal(), 1)["scope"]; ok {
		t.Fatal("scope without scopes")
	}
}
