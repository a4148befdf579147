package introspect

import (
	"context"
	"fmt"
	"testing"

	tgerrors "github.com/tollgate/tollgate/errors"
)

// Answers shaped like those of the servers named, expiring after t0.
var (
	hydraAnswer = fmt.Sprintf(`{"active":true,"client_id":"shop-portal","exp":%d,"iat":%d,"nbf":%d,
		"iss":"https://hydra.example.com/","scope":"orders.read","sub":"merchant-42","token_type":"Bearer",
		"token_use":"access_token","aud":["orders"],"ext":{"kind":"merchant"}}`, t0.Unix()+3600, t0.Unix()-60, t0.Unix()-60)
	hydraRefreshAnswer = fmt.Sprintf(`{"active":true,"client_id":"shop-portal","exp":%d,"sub":"merchant-42",
		"token_type":"Bearer","token_use":"refresh_token","aud":["orders"]}`, t0.Unix()+3600)
	keycloakAnswer = fmt.Sprintf(`{"exp":%d,"iat":%d,"jti":"onrtac:5c1f","iss":"https://kc.example.com/realms/shop",
		"aud":"orders","sub":"0b6f","typ":"Bearer","azp":"shop-portal","sid":"9a2e","scope":"profile email",
		"realm_access":{"roles":["merchant"]},"account_type":"merchant","client_id":"shop-portal","username":"jdoe",
		"token_type":"Bearer","active":true}`, t0.Unix()+300, t0.Unix()-10)
	keycloakIDAnswer = fmt.Sprintf(`{"exp":%d,"iss":"https://kc.example.com/realms/shop","aud":"shop-portal","sub":"0b6f",
		"typ":"ID","azp":"shop-portal","nonce":"n-0S6","at_hash":"x1","account_type":"merchant","active":true}`, t0.Unix()+300)
	keycloakRefreshAnswer = fmt.Sprintf(`{"exp":%d,"iss":"https://kc.example.com/realms/shop","aud":"https://kc.example.com/realms/shop",
		"sub":"0b6f","typ":"Refresh","azp":"shop-portal","account_type":"merchant","active":true}`, t0.Unix()+1800)
	zitadelAnswer = fmt.Sprintf(`{"active":true,"scope":"openid urn:zitadel:iam:org:project:id:zitadel:aud","client_id":"2512@shop",
		"token_type":"Bearer","exp":%d,"iat":%d,"nbf":%d,"sub":"2512345","iss":"https://acme.zitadel.cloud","jti":"2512-v1",
		"username":"svc-orders@shop.acme.zitadel.cloud"}`, t0.Unix()+43200, t0.Unix()-5, t0.Unix()-5)
)

func TestTypeClaimAndTypeValuesGiveThePrincipalItsType(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		cfg      func(*Config)
		wantType string
	}{
		{"TokenType alone", hydraAnswer, func(c *Config) { c.TokenType = "merchant" }, "merchant"},
		{"Keycloak: a mapped claim taken as is", keycloakAnswer,
			func(c *Config) { c.TypeClaim = "account_type" }, "merchant"},
		{"Keycloak: a mapped claim through TypeValues", keycloakAnswer,
			func(c *Config) {
				c.TypeClaim, c.TypeValues = "account_type", map[string]string{"merchant": "seller", "customer": "buyer"}
			}, "seller"},
		{"Hydra: client_id through TypeValues", hydraAnswer,
			func(c *Config) {
				c.TypeClaim, c.TypeValues, c.TokenType = "client_id", map[string]string{"shop-portal": "merchant"}, "customer"
			}, "merchant"},
		{"ZITADEL: client_id through TypeValues", zitadelAnswer,
			func(c *Config) { c.TypeClaim, c.TypeValues = "client_id", map[string]string{"2512@shop": "service"} }, "service"},
		{"a value TypeValues does not list gets TokenType", zitadelAnswer,
			func(c *Config) {
				c.TypeClaim, c.TypeValues, c.TokenType = "client_id", map[string]string{"other@shop": "service"}, "customer"
			}, "customer"},
		{"an answer without the claim gets TokenType", hydraAnswer,
			func(c *Config) { c.TypeClaim, c.TokenType = "account_type", "customer" }, "customer"},
		{"a claim that is not a string gets TokenType", keycloakAnswer,
			func(c *Config) { c.TypeClaim, c.TokenType = "realm_access", "customer" }, "customer"},
		{"token_use as the type claim admits the server's own names",
			`{"active":true,"sub":"u1","token_use":"merchant"}`,
			func(c *Config) { c.TypeClaim = "token_use" }, "merchant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := newEndpoint(t, answer(tt.body))
			p, err := newClient(t, ep, newClock(), tt.cfg).Verify(context.Background(), goodToken)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.Type() != tt.wantType {
				t.Errorf("Type %q, want %q", p.Type(), tt.wantType)
			}
		})
	}
}

// The type rules decide the Principal.Type of access tokens only: an
// answer for a refresh or ID token is refused whatever TypeClaim maps it to.
func TestTypeClaimNeverAdmitsATokenThatIsNotAnAccessToken(t *testing.T) {
	tests := []struct {
		name           string
		body           string
		cfg            func(*Config)
		acceptIDTokens bool // admitted with AcceptIDTokens
	}{
		{"Hydra refresh token", hydraRefreshAnswer, func(c *Config) { c.TypeClaim = "client_id" }, false},
		{"Keycloak refresh token", keycloakRefreshAnswer, func(c *Config) { c.TypeClaim = "account_type" }, false},
		{"Keycloak ID token", keycloakIDAnswer, func(c *Config) { c.TypeClaim = "account_type" }, true},
		{"token_use as the type claim still refuses a refresh token", `{"active":true,"token_use":"refresh_token"}`,
			func(c *Config) { c.TypeClaim = "token_use" }, false},
		{"token_use as the type claim still refuses an ID token", `{"active":true,"token_use":"id"}`,
			func(c *Config) { c.TypeClaim = "token_use" }, true},
		{"token_use as the type claim still refuses a logout token", `{"active":true,"token_use":"logout"}`,
			func(c *Config) { c.TypeClaim = "token_use" }, false},
		{"token_type naming an ID token, mapped", `{"active":true,"token_type":"id_token"}`,
			func(c *Config) { c.TypeClaim, c.TypeValues = "token_type", map[string]string{"id_token": "merchant"} }, true},
		{"token_type naming a refresh token, mapped", `{"active":true,"token_type":"refresh_token"}`,
			func(c *Config) {
				c.TypeClaim, c.TypeValues = "token_type", map[string]string{"refresh_token": "merchant"}
			}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := newEndpoint(t, answer(tt.body))
			p, err := newClient(t, ep, newClock(), tt.cfg).Verify(context.Background(), goodToken)
			if err == nil {
				t.Fatalf("admitted as %+v", p)
			}
			wantRefusal(t, err, tgerrors.InvalidToken)

			p, err = newClient(t, ep, newClock(), func(c *Config) { tt.cfg(c); c.AcceptIDTokens = true }).Verify(context.Background(), goodToken)
			switch {
			case tt.acceptIDTokens && err != nil:
				t.Errorf("with AcceptIDTokens: %v", err)
			case !tt.acceptIDTokens && err == nil:
				t.Errorf("with AcceptIDTokens, admitted as %+v", p)
			case !tt.acceptIDTokens:
				wantRefusal(t, err, tgerrors.InvalidToken)
			}
		})
	}
}

func TestTypeValuesIsCopiedByNew(t *testing.T) {
	ep := newEndpoint(t, answer(keycloakAnswer))
	values := map[string]string{"merchant": "seller"}
	c := newClient(t, ep, newClock(), func(c *Config) { c.TypeClaim, c.TypeValues = "account_type", values })
	values["merchant"] = "admin"
	p, err := c.Verify(context.Background(), goodToken)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if p.Type() != "seller" {
		t.Errorf("Type %q: a change to the map after New took effect", p.Type())
	}
}
