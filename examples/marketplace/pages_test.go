package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/revocation"
	"golang.org/x/oauth2"
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

// A form posted from another site's page is refused before it is read:
// the consent (a login CSRF with the attacker's own password) and the
// account pages alike. The same forms posted from the marketplace's own
// pages, or by a client that sends no browser headers, work.
func TestTheFormsRefuseAPostFromAnotherSite(t *testing.T) {
	f := newFixture(t, nil)
	q := authorizeQuery(oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier()), nil)
	owner := url.Values{"username": {demoOwner}, "password": {testPassword}}
	for _, tc := range []struct{ path, body string }{
		{"/auth/v2/authorize?" + q.Encode(), url.Values{"username": {demoOwner}, "password": {testPassword}, "decision": {"allow"}}.Encode()},
		{"/account/apps", owner.Encode()},
		{"/account/apps/revoke", url.Values{"username": {demoOwner}, "password": {testPassword}, "client_id": {demoApp}}.Encode()},
	} {
		h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"cross-site"}}
		if got := f.do(t, "POST", tc.path, h, tc.body); got.status != http.StatusForbidden || got.location != "" {
			t.Errorf("%s from another site: %+v; want 403, no Location", tc.path, got)
		}
	}
	if grants, _ := f.m.Grants.List(t.Context(), demoOwner); len(grants) != 0 {
		t.Fatalf("a grant was recorded: %+v", grants)
	}
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}}
	if got := f.do(t, "POST", "/auth/v2/authorize?"+q.Encode(), h, url.Values{"username": {demoOwner}, "password": {testPassword}, "decision": {"allow"}}.Encode()); got.status != http.StatusSeeOther {
		t.Fatalf("from the marketplace's own page: %+v", got)
	}
}

// Guessing one owner's password from many addresses is held to the login
// rate of that username; another owner's sign-in is not held by it.
func TestPasswordGuessesFromManyAddressesAreLimitedPerUsername(t *testing.T) {
	f := newFixture(t, func(c *config) { c.LoginRate = ratelimit.Limit{Name: "login", Events: 3, Per: time.Minute} })
	post := func(addr, username string) int {
		body := url.Values{"username": {username}, "password": {"guess"}}.Encode()
		r := httptest.NewRequest(http.MethodPost, "/account/apps", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		f.m.Handler.ServeHTTP(w, r)
		return w.Code
	}
	for i := range 3 {
		if got := post(fmt.Sprintf("198.51.100.%d:4000", i+1), demoOwner); got == http.StatusTooManyRequests {
			t.Fatalf("guess %d limited already", i+1)
		}
	}
	if got := post("198.51.100.9:4000", demoOwner); got != http.StatusTooManyRequests {
		t.Fatalf("a fourth guess from a fourth address: %d, want 429", got)
	}
	if got := post("198.51.100.10:4000", "owner-6"); got == http.StatusTooManyRequests {
		t.Fatal("another username is limited too")
	}
}
