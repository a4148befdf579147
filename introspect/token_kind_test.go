package introspect

import (
	"context"
	"testing"

	tgerrors "github.com/tollgate/tollgate/errors"
)

// An authorization server answers active for a refresh token or an ID token
// as readily as for an access token; the answer says which it is, and only
// an access token is admitted.
func TestActiveAnswersForTokensThatAreNotAccessTokensAreRefused(t *testing.T) {
	tests := []struct {
		name, body string
		idToken    bool // admitted with AcceptIDTokens
	}{
		{"Ory Hydra refresh token", `{"active":true,"sub":"u1","token_use":"refresh_token","token_type":"Bearer"}`, false},
		{"Duende refresh token", `{"active":true,"sub":"u1","token_type":"refresh_token"}`, false},
		{"RFC 8693 refresh token type", `{"active":true,"sub":"u1","token_type":"urn:ietf:params:oauth:token-type:refresh_token"}`, false},
		{"Keycloak refresh token", `{"active":true,"sub":"u1","typ":"Refresh","token_type":"Bearer"}`, false},
		{"Keycloak offline token", `{"active":true,"sub":"u1","typ":"Offline"}`, false},
		{"a refresh token in capitals", `{"active":true,"sub":"u1","token_type":"REFRESH_TOKEN"}`, false},
		{"Keycloak logout token", `{"active":true,"sub":"u1","typ":"Logout"}`, false},
		{"a logout token's events claim", `{"active":true,"sub":"u1","events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`, false},
		{"token_use unknown", `{"active":true,"sub":"u1","token_use":"session"}`, false},
		{"token_use not a string", `{"active":true,"sub":"u1","token_use":["access"]}`, false},
		{"Keycloak ID token", `{"active":true,"sub":"u1","typ":"ID","nonce":"n","at_hash":"h"}`, true},
		{"an ID token's nonce", `{"active":true,"sub":"u1","nonce":"n-0S6_WzA2Mj"}`, true},
		{"Duende ID token", `{"active":true,"sub":"u1","token_type":"id_token"}`, true},
		{"Cognito-style ID token", `{"active":true,"sub":"u1","token_use":"id"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := newEndpoint(t, answer(tt.body))
			p, err := newClient(t, ep, newClock(), nil).Verify(context.Background(), goodToken)
			if err == nil {
				t.Fatalf("accepted as %+v", p)
			}
			wantRefusal(t, err, tgerrors.InvalidToken)

			p, err = newClient(t, ep, newClock(), func(c *Config) { c.AcceptIDTokens = true }).Verify(context.Background(), goodToken)
			if tt.idToken && err != nil {
				t.Errorf("with AcceptIDTokens: %v", err)
			}
			if !tt.idToken {
				if err == nil {
					t.Fatalf("with AcceptIDTokens, accepted as %+v", p)
				}
				wantRefusal(t, err, tgerrors.InvalidToken)
			}
		})
	}
	for name, body := range map[string]string{
		"Hydra access token":    `{"active":true,"token_use":"access_token","token_type":"Bearer"}`,
		"Duende access token":   `{"active":true,"token_type":"access_token"}`,
		"Keycloak access token": `{"active":true,"typ":"Bearer","auth_time":1}`,
		"DPoP-bound":            `{"active":true,"token_type":"DPoP"}`,
		"Keycloak N_A":          `{"active":true,"token_type":"N_A"}`,
	} {
		ep := newEndpoint(t, answer(body))
		if _, err := newClient(t, ep, newClock(), nil).Verify(context.Background(), goodToken); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
