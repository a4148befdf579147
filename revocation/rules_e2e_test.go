package revocation_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/revocation"
)

// Ending a session, rotating a subject's credentials and revoking a grant
// refuse the tokens they cover through Authenticate from the next request
// on, cached tokens included, and leave every other token alone.
func TestRulesRefuseCachedTokensThroughAuthenticate(t *testing.T) {
	t0 := time.Unix(1_900_000_000, 0)
	clock := authtest.NewClock(t0)
	iss := authtest.NewIssuer(t, authtest.WithClock(clock.Now))
	v, err := jwt.NewVerifier(context.Background(), jwt.Config{
		Issuers: []jwt.Issuer{{Issuer: iss.URL(), JWKSURL: iss.JWKSURL(), Audiences: []string{"api"}, Algorithms: []string{"RS256"}}},
		Now:     clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	revoked := revocation.NewMemory(revocation.MemoryConfig{Now: clock.Now})
	reached := 0
	h := tgerrors.Use(tgerrors.OAuth)(middleware.Authenticate(v, middleware.WithRevocation(revoked), middleware.OnRefusal(nil))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ })))
	call := func(token string) int {
		req := httptest.NewRequest("GET", "/orders", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}

	session := iss.Mint(map[string]any{"sub": "u1", "aud": "api", "client_id": "app", "sid": "s1"})
	otherSession := iss.Mint(map[string]any{"sub": "u1", "aud": "api", "client_id": "app", "sid": "s2"})
	viaOther := iss.Mint(map[string]any{"sub": "u2", "aud": "api", "client_id": "other"})
	for _, tok := range []string{session, otherSession, viaOther} {
		if got := call(tok); got != 200 { // verified and cached
			t.Fatalf("before any rule: %d", got)
		}
	}

	exp := t0.Add(time.Hour)
	if err := revoked.RevokeSession("s1", exp); err != nil {
		t.Fatal(err)
	}
	reached = 0
	if got := call(session); got != 401 || reached != 0 {
		t.Fatalf("a token of the ended session: %d, reached %d", got, reached)
	}
	if got := call(otherSession); got != 200 {
		t.Fatalf("a token of another session: %d", got)
	}

	// The user changes their password: every token of u1 issued so far
	// goes, the next one it gets is good.
	clock.Advance(time.Minute)
	if err := revoked.RevokeRule(revocation.Rule{Subject: "u1", Before: clock.Now(), Until: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got := call(otherSession); got != 401 {
		t.Fatalf("an older token of the subject: %d", got)
	}
	clock.Advance(time.Second)
	if got := call(iss.Mint(map[string]any{"sub": "u1", "aud": "api", "client_id": "app", "sid": "s3"})); got != 200 {
		t.Fatalf("a token issued after the rule: %d", got)
	}

	// u2 revokes the app "other".
	if err := revoked.RevokeRule(revocation.Rule{Subject: "u2", Client: "other", Before: clock.Now(), Until: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got := call(viaOther); got != 401 {
		t.Fatalf("a token of the revoked grant: %d", got)
	}
}
