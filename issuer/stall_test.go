package issuer_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/internal/storetest"
)

// stalledClients is a ClientStore that does not answer: a database that
// stopped responding. Its calls end with their context, and count the
// ones that came without a deadline (after 2 s, so that a broken
// endpoint fails the test instead of hanging it).
type stalledClients struct {
	issuer.MemoryClientStore
	unbounded atomic.Int32
}

func (s *stalledClients) Client(ctx context.Context, _ string) (issuer.Client, error) {
	if _, ok := ctx.Deadline(); !ok {
		s.unbounded.Add(1)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
	}
	<-ctx.Done()
	return issuer.Client{}, ctx.Err()
}

// With the client store stalled, the token, revocation and authorization
// endpoints answer 503 temporarily_unavailable once their Timeout passes,
// instead of holding the request as long as the client waits.
func TestEndpointsAnswerAStalledStoreWithinTheirTimeout(t *testing.T) {
	const timeout = 20 * time.Millisecond
	c := newClock()
	store := &stalledClients{}
	clients, err := issuer.NewClients(issuer.ClientsConfig{Store: store, Argon2: storetest.FastArgon2, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := issuer.NewSessions(issuer.SessionsConfig{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	grants, err := issuer.NewGrants(issuer.GrantsConfig{Sessions: sessions, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	token, err := issuer.NewTokenHandler(issuer.TokenConfig{Clients: clients, Minter: newMinter(t, c, newRing(t, c, nil, "")),
		Sessions: sessions, CodeGrants: grants, Grants: []string{issuer.GrantClientCredentials, issuer.GrantAuthorizationCode},
		Timeout: timeout, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	revoke, err := issuer.NewRevocationHandler(issuer.RevocationConfig{Clients: clients, Sessions: sessions, Timeout: timeout, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	reached := false
	authorize, err := issuer.NewAuthorizeHandler(issuer.AuthorizeConfig{Issuer: testIssuer, Clients: clients, Grants: grants,
		Timeout: timeout, Log: quiet,
		Interact: func(http.ResponseWriter, *http.Request, *issuer.AuthorizationRequest) { reached = true }})
	if err != nil {
		t.Fatal(err)
	}
	post := func(h http.Handler, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	tokenRefused(t, post(token, form("grant_type", "client_credentials", "client_id", "shop", "client_secret", "s")), 503, "temporarily_unavailable")
	tokenRefused(t, post(token, form("grant_type", "authorization_code", "client_id", "mobile", "code", "c")), 503, "temporarily_unavailable")
	tokenRefused(t, post(revoke, form("token", "t", "client_id", "shop", "client_secret", "s")), 503, "temporarily_unavailable")
	rec := httptest.NewRecorder()
	authorize.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/authorize?"+shopQuery(), nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Location") != "" || reached {
		t.Fatalf("authorize: %d, Location %q, page reached %v", rec.Code, rec.Header().Get("Location"), reached)
	}
	if n := store.unbounded.Load(); n != 0 {
		t.Fatalf("%d store calls had no deadline", n)
	}
}
