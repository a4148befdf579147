package main

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/revocation"
)

// On PostgreSQL, a client_id posted as bytes that are not UTF-8 text is
// no app the owner authorized, not a failure of the store.
func TestOnPostgresRevokingAClientIDThatIsNotTextRevokesNothing(t *testing.T) {
	f := newFixture(t, postgresStores(t))
	rt := f.ownerRefreshToken(t)
	for _, id := range []string{"app-9\xff", "app-9\x00"} {
		form := url.Values{"username": {demoOwner}, "password": {testPassword}, "client_id": {id}}.Encode()
		if got := f.do(t, "POST", "/account/apps/revoke", formHeader, form); got.status != 200 || !strings.Contains(got.body, "That app has no access to revoke.") {
			t.Errorf("revoking %q: %d\n%s", id, got.status, got.body)
		}
	}
	f.refresh(t, rt) // nothing was revoked
}

// downRevocations is a revocation list whose writes fail.
type downRevocations struct{ revocationStore }

func (downRevocations) RevokeSession(context.Context, string, time.Time) error {
	return errors.New("revocations down")
}

func (downRevocations) RevokeRule(context.Context, revocation.Rule) error {
	return errors.New("revocations down")
}

// When the app's access tokens could not be revoked, the page does not
// tell the owner the app lost its access: the token still reads the
// store.
func TestRevokingTheAppSaysSoWhenItsAccessTokensCouldNotBeRevoked(t *testing.T) {
	f := newFixture(t, func(c *config) {
		c.Revocations = downRevocations{memoryRevocations{revocation.NewMemory(revocation.MemoryConfig{Now: c.Now})}}
	})
	rt := f.ownerRefreshToken(t)
	access, _ := f.refresh(t, rt)
	form := url.Values{"username": {demoOwner}, "password": {testPassword}, "client_id": {demoApp}}.Encode()
	got := f.do(t, "POST", "/account/apps/revoke", formHeader, form)
	if still := f.do(t, "GET", "/v1/stores/12", bearer(access), ""); still.status != 200 {
		t.Fatalf("the access token after a failed revocation: %+v (the test needs it live)", still)
	}
	if got.status == 200 || strings.Contains(got.body, "no longer has access") {
		t.Errorf("with its access token still good, the page said: %d\n%s", got.status, got.body)
	}
}
