package jwt

import (
	"context"
	stderrors "errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
)

type orderClaims struct {
	OrgID  string   `json:"org_id"`
	Stores []string `json:"stores"`
	Level  int      `json:"level"`
}

// countingDecoder is DecodeClaims[orderClaims] that counts its runs.
func countingDecoder(n *atomic.Int64) ClaimsDecoder {
	d := DecodeClaims[orderClaims]()
	return func(payload []byte) (any, error) {
		n.Add(1)
		return d(payload)
	}
}

// The claims are decoded once, on the first-seen path; a cached hit hands
// back the same value without decoding again and without allocating.
func TestTypedClaimsAreDecodedOncePerToken(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	var decodes atomic.Int64
	is := jwksIssuer(iss)
	is.Claims = countingDecoder(&decodes)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{is}})
	token := iss.Mint(claims(map[string]any{"org_id": "org-7", "stores": []any{"s1", "s2"}, "level": 3}))

	p := mustVerify(t, v, token)
	c, ok := principal.ClaimsAs[orderClaims](p)
	if !ok || c.OrgID != "org-7" || len(c.Stores) != 2 || c.Stores[1] != "s2" || c.Level != 3 {
		t.Fatalf("ClaimsAs = %+v, %v", c, ok)
	}
	for range 10 {
		mustVerify(t, v, token)
	}
	if n := decodes.Load(); n != 1 {
		t.Errorf("decoded %d times for one token, want 1", n)
	}
	if testing.Short() {
		return
	}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		p, err := v.Verify(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if c, _ := principal.ClaimsAs[orderClaims](p); c.OrgID != "org-7" {
			t.Fatal("lost the typed claims")
		}
	})
	if allocs != 0 {
		t.Errorf("a cached hit with typed claims allocates %.1f times, want 0", allocs)
	}
}

// A decode error refuses the token as invalid_token with the cause in Err;
// the decoder never sees a token whose signature failed.
func TestTypedClaimsRefusals(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	var decodes atomic.Int64
	is := jwksIssuer(iss)
	is.Claims = countingDecoder(&decodes)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{is}})

	t.Run("a claim of the wrong type", func(t *testing.T) {
		p, err := v.Verify(context.Background(), iss.Mint(claims(map[string]any{"level": "high"})))
		wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTClaim)
		if !strings.Contains(err.(*tgerrors.Error).Err.Error(), "level") {
			t.Errorf("cause %v does not say which claim", err)
		}
	})
	t.Run("a decoder's own error", func(t *testing.T) {
		bad := stderrors.New("org_id not allowed")
		is := jwksIssuer(iss)
		is.Claims = func([]byte) (any, error) { return nil, bad }
		v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{is}})
		p, err := v.Verify(context.Background(), iss.Mint(claims(nil)))
		wantRefusal(t, p, err, tgerrors.InvalidToken, bad)
	})
	t.Run("a forged signature is refused before decoding", func(t *testing.T) {
		before := decodes.Load()
		p, err := v.Verify(context.Background(), forge(iss.Mint(claims(nil))))
		wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTSignature)
		if decodes.Load() != before {
			t.Error("the decoder ran on a token whose signature failed")
		}
	})
}

// Through Authenticate, the handler reads the typed claims, on the first
// request and on the cached second; a token whose claims do not decode
// never reaches it.
func TestTypedClaimsThroughAuthenticate(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	is := jwksIssuer(iss)
	is.Claims = DecodeClaims[orderClaims]()
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{is}})
	var got []string
	h := tgerrors.Use(tgerrors.OAuth)(middleware.Authenticate(v, middleware.OnRefusal(nil))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := principal.From(r.Context())
		c, _ := principal.ClaimsAs[orderClaims](p)
		got = append(got, c.OrgID)
	})))
	tests := []struct {
		name       string
		token      string
		wantStatus int
		wantOrg    string
	}{
		{"claims decode: the handler reads them", iss.Mint(claims(map[string]any{"org_id": "org-7"})), 200, "org-7"},
		{"another token: its own claims, not the cached ones", iss.Mint(claims(map[string]any{"org_id": "org-8"})), 200, "org-8"},
		{"claims that do not decode: 401", iss.Mint(claims(map[string]any{"org_id": 7})), 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			for range 2 {
				req := httptest.NewRequest("GET", "/orders", nil)
				req.Header.Set("Authorization", "Bearer "+tt.token)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != tt.wantStatus {
					t.Fatalf("status %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
				}
				if tt.wantStatus == 401 {
					if ch := rec.Header().Get("WWW-Authenticate"); !strings.Contains(ch, `error="invalid_token"`) {
						t.Errorf("challenge %q, want invalid_token", ch)
					}
					if strings.Contains(rec.Body.String(), "org_id") {
						t.Errorf("the body tells the cause: %s", rec.Body)
					}
				}
			}
			want := []string{tt.wantOrg, tt.wantOrg}
			if tt.wantStatus != 200 {
				want = nil
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("handler saw %q, want %q", got, want)
			}
		})
	}
}
