package issuer_test

import (
	"testing"
)

// RFC 6749 §6: a confidential client authenticates to refresh. When
// TokenConfig.FirstPartyClient is a confidential client that also has the
// code grant, a refresh token its code gave it (leaked from its back end's
// logs or store) must still need its secret, as its codes do; and the
// client itself still refreshes it with its secret.
func TestAFirstPartyConfidentialClientRefreshesItsCodeTokensOnlyWithItsSecret(t *testing.T) {
	f := newCodeFlow(t)
	token := f.firstPartyEndpoint(t, "shop") // confidential: it has a secret
	for _, tc := range []struct {
		name        string
		contentType string
		body        func(rt string) string
	}{
		{"no client_id", "", func(rt string) string {
			return form("grant_type", "refresh_token", "refresh_token", rt)
		}},
		{"its client_id alone", "", func(rt string) string {
			return form("grant_type", "refresh_token", "refresh_token", rt, "client_id", "shop")
		}},
		{"a JSON body with the refresh token alone", "application/json", func(rt string) string {
			return `{"refresh_token":"` + rt + `"}`
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := f.approved(shopQuery(), shopCallback)
			rt := tokenOK(t, postToken(token, f.secrets, redeemShop(code))).RefreshToken
			if rt == "" {
				t.Fatal("no refresh token")
			}
			tokenRefused(t, postToken(token, f.secrets, req{contentType: tc.contentType, body: tc.body(rt)}), 401, "invalid_client")
			tokenOK(t, postToken(token, f.secrets, req{basic: "shop", body: form("grant_type", "refresh_token", "refresh_token", rt)}))
		})
	}
}
