package issuer_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/ratelimit"
)

func TestARateLimitPerClientAndPerAccountInFrontOfTheTokenEndpoint(t *testing.T) {
	g := newGrants(t)
	perClient := ratelimit.New(ratelimit.Config{
		Limits: []ratelimit.Limit{{Name: "token", Events: 2, Per: time.Hour}},
		Key:    ratelimit.FirstKey(issuer.KeyByTokenClient, ratelimit.KeyByIP), Now: g.c.Now,
	})
	perAccount := ratelimit.New(ratelimit.Config{
		Limits: []ratelimit.Limit{{Name: "login", Events: 1, Per: time.Hour}},
		Key:    ratelimit.FirstKey(issuer.KeyByTokenAccount, issuer.KeyByTokenClient), Now: g.c.Now,
	})
	cc := req{body: form("grant_type", "client_credentials"), basic: "vendor-1", mw: perClient}
	post := req{body: form("grant_type", "client_credentials", "client_id", "market", "client_secret", g.secrets["market"]), mw: perClient}
	// The key functions leave the body whole: the endpoint still reads it.
	g.ok(g.do(cc))
	g.ok(g.do(cc))
	if rec := g.do(cc); rec.Code != 429 {
		t.Fatalf("third request: status %d", rec.Code)
	}
	g.ok(g.do(post)) // another client, named in the body, has its own bucket
	g.ok(g.do(post))
	if rec := g.do(post); rec.Code != 429 {
		t.Fatalf("third request in the body: status %d", rec.Code)
	}
	// One account, two clients: the second login is limited by the account.
	login := form("grant_type", "password", "username", "bob", "password", "correct horse")
	mw := func(h http.Handler) http.Handler { return perClient(perAccount(h)) }
	g.ok(g.do(req{body: login, basic: "b2b-app", mw: mw}))
	if rec := g.do(req{body: login, basic: "other-app", mw: mw}); rec.Code != 429 || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("second login of the account: status %d", rec.Code)
	}
	if n := g.logins.Load(); n != 1 {
		t.Fatalf("%d logins reached the password check", n)
	}
}
