package issuer_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/internal/storetest"
	"github.com/tollgate/tollgate/jwt"
)

// Each provider style tollgate's users run is configuration of the same
// core: the keys, the minter's lifetimes, the sessions' lifetimes and the
// clients' grants and scopes.
func TestTheProviderStylesAreConfiguration(t *testing.T) {
	const day = 24 * time.Hour
	for _, tc := range []struct {
		name        string
		alg         string
		maxLife     time.Duration
		minter      func(*issuer.MinterConfig)
		client      issuer.Client
		grant       string
		wantAccess  time.Duration
		wantRefresh time.Duration // absolute; 0 for no refresh token
	}{
		{
			name: "vendor portal: client id and secret for a 1-hour bearer token", alg: issuer.ES256, maxLife: day,
			client: issuer.Client{ID: "vendor", Grants: []string{issuer.GrantClientCredentials}, Audience: []string{"vendor-api"}},
			grant:  issuer.GrantClientCredentials, wantAccess: time.Hour,
		},
		{
			name: "B2B envelope: access 1 h, refresh 7 d", alg: issuer.ES256, maxLife: day,
			client: issuer.Client{ID: "b2b", Grants: []string{issuer.GrantPassword, issuer.GrantRefreshToken}, Audience: []string{"b2b-api"},
				RefreshAbsoluteLifetime: 7 * day},
			grant: issuer.GrantPassword, wantAccess: time.Hour, wantRefresh: 7 * day,
		},
		{
			name: "SaaS customer: access and refresh tokens", alg: issuer.EdDSA, maxLife: day,
			client: issuer.Client{ID: "saas", Grants: []string{issuer.GrantPassword, issuer.GrantRefreshToken}, Audience: []string{"saas-api"},
				AccessTokenLifetime: 15 * time.Minute, RefreshAbsoluteLifetime: 30 * day, RefreshIdleLifetime: 7 * day},
			grant: issuer.GrantRefreshToken, wantAccess: 15 * time.Minute, wantRefresh: 30 * day,
		},
		{
			name: "OAuth marketplace: RS256, scope array, 2-day access, refresh within 4 days", alg: issuer.RS256, maxLife: 2 * day,
			minter: func(c *issuer.MinterConfig) { c.ScopeArray = true; c.Lifetime = 2 * day },
			client: issuer.Client{ID: "market", Grants: []string{issuer.GrantAuthorizationCode, issuer.GrantRefreshToken}, Audience: []string{"market-api"}, RedirectURIs: []string{"https://app.example/cb"},
				Scopes: []string{"orders:read"}, RefreshAbsoluteLifetime: 4 * day},
			grant: issuer.GrantAuthorizationCode, wantAccess: 2 * day, wantRefresh: 4 * day,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c := newClock()
			ring, err := issuer.NewKeyRing(ctx, issuer.KeyRingConfig{Algorithm: tc.alg, MaxTokenLifetime: tc.maxLife, Now: c.Now})
			if err != nil {
				t.Fatal(err)
			}
			m := newMinter(t, c, ring, func(cfg *issuer.MinterConfig) {
				if tc.minter != nil {
					tc.minter(cfg)
				}
			})
			sessions, _ := issuer.NewSessions(issuer.SessionsConfig{Now: c.Now})
			clients, _ := issuer.NewClients(issuer.ClientsConfig{Argon2: storetest.FastArgon2, Now: c.Now})
			_, secret, err := clients.Create(ctx, tc.client)
			if err != nil {
				t.Fatal(err)
			}
			cl, err := clients.Authenticate(ctx, tc.client.ID, secret.Reveal())
			if err != nil || !cl.AllowsGrant(tc.grant) {
				t.Fatalf("client %+v, %v", cl, err)
			}
			req := issuer.AccessRequest{Subject: "user-1", ClientID: cl.ID, Audience: cl.Audience, Scopes: cl.Scopes, Grant: tc.grant, Lifetime: cl.AccessTokenLifetime}
			if tc.grant == issuer.GrantClientCredentials {
				req.Subject = ""
			}
			if tc.wantRefresh != 0 {
				rt, err := sessions.Start(ctx, issuer.SessionRequest{ClientID: cl.ID, Subject: "user-1", AbsoluteLifetime: cl.RefreshAbsoluteLifetime, IdleLifetime: cl.RefreshIdleLifetime})
				if err != nil {
					t.Fatal(err)
				}
				if got := rt.Session.ExpiresAt.Sub(rt.Session.CreatedAt); got != tc.wantRefresh {
					t.Fatalf("session lifetime %v, want %v", got, tc.wantRefresh)
				}
				// Single use: the successor works, the used token ends the family.
				next, err := sessions.Refresh(ctx, cl.ID, rt.Token.Reveal())
				if err != nil {
					t.Fatal(err)
				}
				if _, err := sessions.Refresh(ctx, cl.ID, rt.Token.Reveal()); !errors.Is(err, issuer.ErrRefreshReused) {
					t.Fatalf("reuse: %v", err)
				}
				req.SessionID = next.Session.ID
			}
			at := mint(t, m, req)
			if at.Lifetime != tc.wantAccess {
				t.Fatalf("access lifetime %v, want %v", at.Lifetime, tc.wantAccess)
			}
			v, err := jwt.NewVerifier(ctx, jwt.Config{Now: c.Now, Issuers: []jwt.Issuer{{
				Issuer: testIssuer, KeySource: ring, Audiences: cl.Audience, Algorithms: []string{tc.alg}, RequiredTyp: "at+jwt",
			}}})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			p, err := v.Verify(ctx, at.Token.Reveal())
			if err != nil {
				t.Fatal(err)
			}
			if p.ClientID() != cl.ID || fmt.Sprint(p.Scopes()) != fmt.Sprint(cl.Scopes) && len(cl.Scopes) > 0 {
				t.Fatalf("principal %+v", p.Fields())
			}
		})
	}
}
