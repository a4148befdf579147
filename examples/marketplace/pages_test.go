package main

import (
	"net/url"
	"strings"
	"testing"
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
