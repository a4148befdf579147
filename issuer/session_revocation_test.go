package issuer_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/revocation"
)

func TestAnAccessTokenOfAnEndedFamilyIsRefusedThroughAuthenticate(t *testing.T) {
	for _, how := range []string{"refresh token reused", "session ended"} {
		t.Run(how, func(t *testing.T) {
			c := newClock()
			r := newRing(t, c, nil, "")
			m := newMinter(t, c, r)
			revoked := revocation.NewMemory(revocation.MemoryConfig{Now: c.Now})
			sessions, err := issuer.NewSessions(issuer.SessionsConfig{OnSessionEnded: issuer.RevokeSessions(revoked), Now: c.Now})
			if err != nil {
				t.Fatal(err)
			}
			reached := 0
			h := middleware.Authenticate(selfVerifier(t, c, r), middleware.WithRevocation(revoked))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached++ }))
			call := func(tok string) *httptest.ResponseRecorder {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodGet, "/orders", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				h.ServeHTTP(rec, req)
				return rec
			}

			first, err := sessions.Start(context.Background(), issuer.SessionRequest{ClientID: "portal", Subject: "user-1"})
			if err != nil {
				t.Fatal(err)
			}
			req := ordersRequest()
			req.SessionID = first.Session.ID
			access := mint(t, m, req).Token.Reveal()
			other := mint(t, m, ordersRequest()).Token.Reveal() // of no session
			if rec := call(access); rec.Code != http.StatusOK {
				t.Fatalf("before: status %d", rec.Code)
			}

			if how == "session ended" {
				if err := sessions.End(context.Background(), first.Session.ID); err != nil {
					t.Fatal(err)
				}
			} else {
				if _, err := sessions.Refresh(context.Background(), "portal", first.Token.Reveal()); err != nil {
					t.Fatal(err)
				}
				if _, err := sessions.Refresh(context.Background(), "portal", first.Token.Reveal()); err == nil {
					t.Fatal("a reused refresh token was accepted")
				}
			}
			reached = 0
			rec := call(access) // cached by the verifier: revocation still applies
			if rec.Code != http.StatusUnauthorized || reached != 0 || strings.Contains(rec.Body.String(), access) {
				t.Fatalf("after: status %d, handler reached %d times, body %q", rec.Code, reached, rec.Body)
			}
			if rec := call(other); rec.Code != http.StatusOK {
				t.Fatalf("a token of no session: status %d", rec.Code)
			}
		})
	}
}
