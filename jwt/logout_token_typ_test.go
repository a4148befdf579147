package jwt

import (
	"context"
	"testing"

	tgerrors "github.com/tollgate/tollgate/errors"
)

// An OpenID Connect back-channel logout token is recognised by its "events"
// claim (OIDC Back-Channel Logout 1.0 §2.4); "typ": "logout+jwt" is only
// recommended, and several servers leave it out. Such a token is not an
// access token and must be refused by default, as the logout+jwt typ is.
func TestALogoutTokenWithoutTypIsRefused(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}})
	tok := iss.Mint(claims(map[string]any{
		"jti": "logout-1",
		"sid": "session-1",
		"events": map[string]any{
			"http://schemas.openid.net/event/backchannel-logout": map[string]any{},
		},
	}))
	p, err := v.Verify(context.Background(), tok)
	wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTTokenKind)
}
