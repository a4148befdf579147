package jwt

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/middleware"
)

// kindCase is a token of one issuer that is or is not an access token.
type kindCase struct {
	name   string
	claims map[string]any
	opts   []authtest.MintOption
	idOnly bool // an ID token's sign, which AcceptIDTokens lets through
}

func typ(v any) []authtest.MintOption { return []authtest.MintOption{authtest.WithHeader("typ", v)} }

var notAccessTokens = []kindCase{
	{"an OIDC ID token (nonce)", map[string]any{"nonce": "n-0S6_WzA2Mj"}, nil, true},
	{"an ID token with at_hash", map[string]any{"at_hash": "77QmUPtjPfzWtF2AnpK9RQ"}, nil, true},
	{"an ID token with c_hash", map[string]any{"c_hash": "LDktKdoQak3Pk0cnXxCltA"}, nil, true},
	{"an ID token with s_hash", map[string]any{"s_hash": "x"}, nil, true},
	{"auth_time together with nonce", map[string]any{"auth_time": 1.0, "nonce": "n"}, nil, true},
	{"a Cognito ID token (token_use id)", map[string]any{"token_use": "id"}, nil, true},
	{"typ id_token+jwt", nil, typ("id_token+jwt"), true},
	{"a Keycloak ID token (typ claim ID)", map[string]any{"typ": "ID"}, nil, true},
	{"token_type id_token", map[string]any{"token_type": "urn:ietf:params:oauth:token-type:id_token"}, nil, true},
	{"token_use refresh", map[string]any{"token_use": "refresh"}, nil, false},
	{"token_use not a string", map[string]any{"token_use": 1}, nil, false},
	{"token_use unknown", map[string]any{"token_use": "cc"}, nil, false},
	{"a Keycloak refresh token (typ claim Refresh)", map[string]any{"typ": "Refresh"}, nil, false},
	{"a Keycloak offline token", map[string]any{"typ": "Offline"}, nil, false},
	{"a Keycloak logout token", map[string]any{"typ": "Logout"}, nil, false},
	{"a Keycloak serialized ID token", map[string]any{"typ": "Serialized-ID"}, nil, true},
	{"a back-channel logout token without its typ", map[string]any{"sid": "s-1", "events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}}, nil, false},
	{"a security event token without its typ", map[string]any{"events": map[string]any{"https://schemas.openid.net/secevent/risc/event-type/account-disabled": map[string]any{}}}, nil, false},
	{"token_type refresh_token", map[string]any{"token_type": "refresh_token"}, nil, false},
	{"typ logout+jwt", nil, typ("logout+jwt"), false},
	{"typ application/logout+jwt", nil, typ("application/logout+jwt"), false},
	{"typ secevent+jwt", nil, typ("secevent+jwt"), false},
	{"typ dpop+jwt", nil, typ("dpop+jwt"), false},
	{"typ token-introspection+jwt", nil, typ("token-introspection+jwt"), false},
	{"typ oauth-authz-req+jwt", nil, typ("oauth-authz-req+jwt"), false},
}

var accessTokens = []kindCase{
	{"typ JWT", nil, typ("JWT"), false},
	{"typ at+jwt", nil, typ("at+jwt"), false},
	{"no typ", nil, typ(nil), false},
	{"auth_time alone (RFC 9068)", map[string]any{"auth_time": 1.0}, nil, false},
	{"a Cognito access token (token_use access)", map[string]any{"token_use": "access"}, nil, false},
	{"a Keycloak access token (typ claim Bearer)", map[string]any{"typ": "Bearer"}, nil, false},
	{"token_type Bearer", map[string]any{"token_type": "Bearer"}, nil, false},
}

func TestTokensThatAreNotAccessTokensAreRefused(t *testing.T) {
	clock := newTestClock()
	iss, lenient := newIssuer(t, clock), newIssuer(t, clock)
	cfg := jwksIssuer(lenient)
	cfg.AcceptIDTokens = true
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss), cfg}})
	for _, tt := range notAccessTokens {
		t.Run(tt.name, func(t *testing.T) {
			fetches := iss.FetchCount()
			p, err := v.Verify(context.Background(), iss.Mint(claims(tt.claims), tt.opts...))
			wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTTokenKind)
			if iss.FetchCount() != fetches {
				t.Error("the refusal fetched keys")
			}
			p, err = v.Verify(context.Background(), lenient.Mint(claims(tt.claims), tt.opts...))
			if tt.idOnly {
				if err != nil {
					t.Errorf("with AcceptIDTokens: %v", err)
				}
			} else {
				wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTTokenKind)
			}
		})
	}
	for _, tt := range accessTokens {
		t.Run(tt.name, func(t *testing.T) {
			mustVerify(t, v, iss.Mint(claims(tt.claims), tt.opts...))
		})
	}
}

// Through Authenticate the refusal is a plain RFC 6750 invalid_token: the
// client is not told which check failed.
func TestAnIDTokenPresentedAsBearerGets401InvalidToken(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}})
	var reached bool
	h := tgerrors.Use(tgerrors.OAuth)(middleware.Authenticate(v, middleware.OnRefusal(nil))(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })))
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.Header.Set("Authorization", "Bearer "+iss.Mint(claims(map[string]any{"nonce": "n-0S6_WzA2Mj", "auth_time": clock.Now().Unix()})))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized || reached {
		t.Fatalf("status %d, reached %v", w.Code, reached)
	}
	if ch := w.Header().Get("WWW-Authenticate"); !strings.Contains(ch, `error="invalid_token"`) {
		t.Errorf("challenge %q", ch)
	}
	var body struct{ Error, ErrorDescription string }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q", w.Body)
	}
	if body.Error != "invalid_token" || strings.Contains(strings.ToLower(w.Body.String()), "id token") ||
		strings.Contains(w.Body.String(), "nonce") {
		t.Errorf("body %q tells more than RFC 6750 does", w.Body)
	}
}

// An issuer whose TypeClaim is token_use names its own types there; only
// values naming another kind of token are refused.
func TestTokenUseAsTheTypeClaimRefusesOnlyOtherKinds(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	cfg := jwksIssuer(iss)
	cfg.TypeClaim = "token_use"
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{cfg}})
	if p := mustVerify(t, v, iss.Mint(claims(map[string]any{"token_use": "merchant"}))); p.Type() != "merchant" {
		t.Errorf("type %q", p.Type())
	}
	for _, use := range []string{"id", "refresh_token", "Offline", "logout"} {
		p, err := v.Verify(context.Background(), iss.Mint(claims(map[string]any{"token_use": use})))
		wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTTokenKind)
	}
}
