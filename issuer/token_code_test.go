package issuer_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/principal"
)

func TestS256ChallengeIsRFC7636AppendixB(t *testing.T) {
	if got := issuer.S256Challenge(testVerifier); got != testChallenge {
		t.Fatalf("S256Challenge = %q", got)
	}
}

// RFC 6749 §4.1.3–4.1.4: a code is exchanged for an access token of the
// user who approved, with the session's "sid", and a refresh token.
func TestACodeIsExchangedForTokensOfTheApprovedUser(t *testing.T) {
	pkce := []string{"code_challenge", testChallenge, "code_challenge_method", "S256"}
	for _, tc := range []struct {
		name, client, query, redirectURI string
		redeem                           func(code string) req
	}{
		{"confidential, Basic, no PKCE", "shop", shopQuery(), shopCallback, func(code string) req { return redeemShop(code) }},
		{"confidential, Basic, PKCE", "shop", shopQuery(pkce...), shopCallback, func(code string) req { return redeemShop(code, "code_verifier", testVerifier) }},
		{"confidential, client_secret_post, PKCE", "shop", shopQuery(pkce...), shopCallback, func(code string) req {
			return req{body: form("grant_type", "authorization_code", "code", code, "redirect_uri", shopCallback, "code_verifier", testVerifier,
				"client_id", "shop", "client_secret", "{shop}")}
		}},
		{"confidential, JSON body without grant_type", "shop", shopQuery(), shopCallback, func(code string) req {
			return req{basic: "shop", contentType: "application/json", body: `{"code":"` + code + `","redirect_uri":"` + shopCallback + `"}`}
		}},
		{"public, client_id alone, PKCE", "mobile", mobileQuery(), mobileCallback, redeemMobile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newCodeFlow(t)
			rq := tc.redeem(f.approved(tc.query, tc.redirectURI))
			rq.body = strings.Replace(rq.body, "%7Bshop%7D", f.secrets["shop"], 1)
			b := tokenOK(t, f.exchange(rq))
			if b.RefreshToken == "" || b.Scope != strings.Join(f.last.Scopes, " ") || b.ExpiresIn != 3600 {
				t.Fatalf("body %+v", b)
			}
			p := f.verify(b.AccessToken)
			if p.Subject() != testSubject || p.ClientID() != tc.client || p.StringClaim("sid") == "" || !slices.Equal(p.Scopes(), f.last.Scopes) {
				t.Fatalf("principal %+v", p.Fields())
			}
			if f.store.creates.Load() != 1 {
				t.Fatalf("%d sessions started", f.store.creates.Load())
			}
			// The refresh token is the client's, and rotates.
			n := tokenOK(t, f.exchange(refreshAs(tc.client, b.RefreshToken)))
			if n.RefreshToken == b.RefreshToken || f.verify(n.AccessToken).StringClaim("sid") != p.StringClaim("sid") {
				t.Fatalf("refresh %+v", n)
			}
		})
	}
}

// RFC 6749 §4.1.2, RFC 9700 §4.5: a code presented a second time is
// refused, and what the first presentation issued is revoked: its refresh
// session is ended, and its access token refused by "sid". Whoever
// presents it again.
func TestAReplayedCodeIsRefusedAndRevokesTheTokensIssuedFromIt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		replay func(code string) req
	}{
		{"by the same client", func(code string) req { return redeemShop(code) }},
		{"by another client", func(code string) req {
			return req{basic: "other", body: form("grant_type", "authorization_code", "code", code, "redirect_uri", otherCallback)}
		}},
		{"by a public client", func(code string) req {
			return req{body: form("grant_type", "authorization_code", "code", code, "client_id", "mobile", "code_verifier", testVerifier)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newCodeFlow(t)
			code := f.approved(shopQuery(), shopCallback)
			first := tokenOK(t, f.exchange(redeemShop(code)))
			p := f.verify(first.AccessToken)
			if f.revokedBySid(first.AccessToken, p) {
				t.Fatal("revoked before the replay")
			}
			tokenRefused(t, f.exchange(tc.replay(code)), 400, "invalid_grant")
			if !slices.Contains(f.endedSessions(), p.StringClaim("sid")) {
				t.Fatalf("ended sessions %v, want %s", f.endedSessions(), p.StringClaim("sid"))
			}
			if !f.revokedBySid(first.AccessToken, p) {
				t.Fatal("the access token of the first exchange is not revoked")
			}
			tokenRefused(t, f.exchange(refreshAs("shop", first.RefreshToken)), 400, "invalid_grant")
			// And again: still refused, nothing started.
			tokenRefused(t, f.exchange(redeemShop(code)), 400, "invalid_grant")
			if f.store.creates.Load() != 1 {
				t.Fatalf("%d sessions started", f.store.creates.Load())
			}
		})
	}
}

// RFC 6749 §4.1.3: a code is redeemed only by the client it was issued
// to; another client's attempt spends nothing, so a code leaked to or
// guessed by another client does not lock the right one out.
func TestACodeOfAnotherClientIsRefusedAndStillWorksForItsOwn(t *testing.T) {
	f := newCodeFlow(t)
	code := f.approved(shopQuery(), shopCallback)
	for name, rq := range map[string]req{
		"another confidential client": {basic: "other", body: form("grant_type", "authorization_code", "code", code, "redirect_uri", shopCallback)},
		"a public client":             {body: form("grant_type", "authorization_code", "code", code, "redirect_uri", shopCallback, "client_id", "mobile", "code_verifier", testVerifier)},
	} {
		t.Run(name, func(t *testing.T) {
			tokenRefused(t, f.exchange(rq), 400, "invalid_grant")
		})
	}
	tokenRefused(t, f.exchange(req{body: form("grant_type", "authorization_code", "code", code, "redirect_uri", shopCallback, "client_id", "shop")}), 401, "invalid_client")
	if f.store.creates.Load() != 0 || len(f.endedSessions()) != 0 {
		t.Fatal("a refused request started or ended a session")
	}
	tokenOK(t, f.exchange(redeemShop(code)))
}

// RFC 6749 §4.1.3, RFC 7636 §4.6, RFC 9700 §2.1.1: the code's redirect
// URI and PKCE challenge bind it. A request that gets either wrong is
// invalid_grant, starts nothing and leaves the code to the right request.
func TestACodeIsBoundToItsRedirectURIAndVerifierAndAWrongOneDoesNotSpendIt(t *testing.T) {
	pkce := []string{"code_challenge", testChallenge, "code_challenge_method", "S256"}
	grant := []string{"grant_type", "authorization_code"}
	shop := func(kv ...string) req { return req{basic: "shop", body: form(append(slices.Clone(grant), kv...)...)} }
	mobile := func(kv ...string) req {
		return req{body: form(append(append(slices.Clone(grant), "client_id", "mobile"), kv...)...)}
	}
	for _, tc := range []struct {
		name, query, redirectURI string
		wrong                    func(code string) req
		right                    func(code string) req
	}{
		{"redirect_uri missing when the request had one", shopQuery(), shopCallback,
			func(code string) req { return shop("code", code) }, func(code string) req { return redeemShop(code) }},
		{"another registered redirect_uri", shopQuery(), shopCallback,
			func(code string) req { return shop("code", code, "redirect_uri", shopTenant) }, func(code string) req { return redeemShop(code) }},
		{"a redirect_uri with a trailing slash", shopQuery(), shopCallback,
			func(code string) req { return shop("code", code, "redirect_uri", shopCallback+"/") }, func(code string) req { return redeemShop(code) }},
		{"a redirect_uri the request did not name", mobileQuery(), mobileCallback,
			func(code string) req {
				return mobile("code", code, "code_verifier", testVerifier, "redirect_uri", "com.example.app:/other")
			}, redeemMobile},
		{"no verifier for a challenge", shopQuery(pkce...), shopCallback,
			func(code string) req { return redeemShop(code) }, func(code string) req { return redeemShop(code, "code_verifier", testVerifier) }},
		{"a wrong verifier", shopQuery(pkce...), shopCallback,
			func(code string) req { return redeemShop(code, "code_verifier", otherVerifier) }, func(code string) req { return redeemShop(code, "code_verifier", testVerifier) }},
		{"the challenge as verifier (plain)", shopQuery(pkce...), shopCallback,
			func(code string) req { return redeemShop(code, "code_verifier", testChallenge) }, func(code string) req { return redeemShop(code, "code_verifier", testVerifier) }},
		{"a verifier too short", shopQuery(pkce...), shopCallback,
			func(code string) req { return redeemShop(code, "code_verifier", testVerifier[:42]) }, func(code string) req { return redeemShop(code, "code_verifier", testVerifier) }},
		{"a public client without its verifier", mobileQuery(), mobileCallback,
			func(code string) req { return mobile("code", code) }, redeemMobile},
		{"a public client with a wrong verifier", mobileQuery(), mobileCallback,
			func(code string) req { return mobile("code", code, "code_verifier", otherVerifier) }, redeemMobile},
		{"a verifier without a challenge (downgrade)", shopQuery(), shopCallback,
			func(code string) req { return redeemShop(code, "code_verifier", testVerifier) }, func(code string) req { return redeemShop(code) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newCodeFlow(t)
			code := f.approved(tc.query, tc.redirectURI)
			tokenRefused(t, f.exchange(tc.wrong(code)), 400, "invalid_grant")
			if f.store.creates.Load() != 0 || len(f.endedSessions()) != 0 {
				t.Fatal("a refused request started or ended a session")
			}
			tokenOK(t, f.exchange(tc.right(code)))
		})
	}
}

// A code lives 60 seconds (RFC 6749 §4.1.2 allows ten minutes; RFC 9700
// asks for short).
func TestACodeExpiresAfterSixtySeconds(t *testing.T) {
	f := newCodeFlow(t)
	late := f.approved(shopQuery(), shopCallback)
	f.c.Advance(59 * time.Second)
	tokenOK(t, f.exchange(redeemShop(f.approved(shopQuery(), shopCallback))))
	tokenOK(t, f.exchange(redeemShop(late)))

	expired := f.approved(shopQuery(), shopCallback)
	f.c.Advance(issuer.MaxCodeLifetime)
	tokenRefused(t, f.exchange(redeemShop(expired)), 400, "invalid_grant")
	if f.store.creates.Load() != 2 {
		t.Fatalf("%d sessions started", f.store.creates.Load())
	}
}

func TestAnUnknownOrMalformedCodeIsRefused(t *testing.T) {
	f := newCodeFlow(t)
	code := f.approved(shopQuery(), shopCallback)
	flipped := code[:42] + "A"
	if code[42] == 'A' {
		flipped = code[:42] + "B"
	}
	for _, tc := range []struct {
		name, code, error string
		status            int
	}{
		{"no code", "", "invalid_request", 400},
		{"too short", code[:42], "invalid_grant", 400},
		{"too long", code + "A", "invalid_grant", 400},
		{"not base64url", code[:42] + "+", "invalid_grant", 400},
		{"unknown", flipped, "invalid_grant", 400},
		{"a refresh token's shape", strings.Repeat("A", 43), "invalid_grant", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokenRefused(t, f.exchange(redeemShop(tc.code)), tc.status, tc.error)
		})
	}
	if f.store.creates.Load() != 0 {
		t.Fatal("a refused request started a session")
	}
	tokenOK(t, f.exchange(redeemShop(code)))
}

// RFC 6749 §2.1, §3.2.1: a public client authenticates by client_id alone,
// and only where it needs no secret; a confidential one must present its
// secret.
func TestClientAuthenticationOnTheCodeGrant(t *testing.T) {
	f := newCodeFlow(t)
	code := f.approved(shopQuery(), shopCallback)
	for _, tc := range []struct {
		name string
		rq   req
	}{
		{"a public client asking for client_credentials", req{body: form("grant_type", "client_credentials", "client_id", "mobile")}},
		{"a confidential client by client_id alone", req{body: form("grant_type", "authorization_code", "code", code, "redirect_uri", shopCallback, "client_id", "shop")}},
		{"a confidential client with a wrong secret", req{body: form("grant_type", "authorization_code", "code", code, "redirect_uri", shopCallback, "client_id", "shop", "client_secret", "nope")}},
		{"a disabled public client", req{body: form("grant_type", "authorization_code", "code", code, "client_id", "gone")}},
		{"an unknown client_id", req{body: form("grant_type", "authorization_code", "code", code, "client_id", "nobody")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokenRefused(t, f.exchange(tc.rq), 401, "invalid_client")
		})
	}
	tokenRefused(t, f.exchange(req{basic: "vendor", body: form("grant_type", "authorization_code", "code", code, "redirect_uri", shopCallback)}), 400, "unauthorized_client")
	if f.store.creates.Load() != 0 {
		t.Fatal("a refused request started a session")
	}
	tokenOK(t, f.exchange(redeemShop(code)))
}

// RFC 6749 §6: a refresh after a code gives at most what the user
// approved; asking for more is invalid_scope and rotates nothing.
func TestARefreshAfterACodeCannotWidenTheApprovedScope(t *testing.T) {
	f := newCodeFlow(t)
	b := tokenOK(t, f.exchange(redeemShop(f.approved(shopQuery("scope", "orders:read"), shopCallback))))
	if b.Scope != "orders:read" {
		t.Fatalf("scope %q", b.Scope)
	}
	for _, scope := range []string{"orders:read orders:write", "orders:write", "integration.order"} {
		tokenRefused(t, f.exchange(refreshAs("shop", b.RefreshToken, "scope", scope)), 400, "invalid_scope")
	}
	if f.store.rotations.Load() != 0 {
		t.Fatal("a widening refresh rotated the token")
	}
	if n := tokenOK(t, f.exchange(refreshAs("shop", b.RefreshToken))); n.Scope != "orders:read" {
		t.Fatalf("scope %q", n.Scope)
	}
}

// A refresh token of the code flow is its client's: another client's
// attempt is invalid_grant and does not rotate it (nor end it).
func TestACodeFlowRefreshTokenOfAnotherClientIsRefusedAndDoesNotRotate(t *testing.T) {
	f := newCodeFlow(t)
	shop := tokenOK(t, f.exchange(redeemShop(f.approved(shopQuery(), shopCallback))))
	mobile := tokenOK(t, f.exchange(redeemMobile(f.approved(mobileQuery(), mobileCallback))))
	tokenRefused(t, f.exchange(refreshAs("other", shop.RefreshToken)), 400, "invalid_grant")
	tokenRefused(t, f.exchange(refreshAs("mobile", shop.RefreshToken)), 400, "invalid_grant")
	tokenRefused(t, f.exchange(refreshAs("shop", mobile.RefreshToken)), 400, "invalid_grant")
	if f.store.rotations.Load() != 0 || len(f.endedSessions()) != 0 {
		t.Fatalf("%d rotations, ended %v", f.store.rotations.Load(), f.endedSessions())
	}
	tokenOK(t, f.exchange(refreshAs("shop", shop.RefreshToken)))
	tokenOK(t, f.exchange(refreshAs("mobile", mobile.RefreshToken)))
}

// A user revoking an app (Grants.Revoke) ends what the grant gave: its
// refresh tokens, its access tokens through the revocation layer, and its
// codes not yet redeemed. The user's grant to another app stands.
func TestRevokingAGrantEndsItsTokensAndCodes(t *testing.T) {
	ctx := context.Background()
	f := newCodeFlow(t)
	shop := tokenOK(t, f.exchange(redeemShop(f.approved(shopQuery(), shopCallback))))
	pending := f.approved(shopQuery(), shopCallback)
	other := tokenOK(t, f.exchange(req{basic: "other", body: form("grant_type", "authorization_code", "code",
		f.approved(query("response_type", "code", "client_id", "other", "state", "s"), otherCallback))})) // no redirect_uri: its only one
	shopP, otherP := f.verify(shop.AccessToken), f.verify(other.AccessToken)

	f.c.Advance(time.Second)
	if err := f.grants.Revoke(ctx, testSubject, "shop"); err != nil {
		t.Fatal(err)
	}
	if ended := f.endedSessions(); !slices.Equal(ended, []string{shopP.StringClaim("sid")}) {
		t.Fatalf("ended sessions %v, want %s alone", ended, shopP.StringClaim("sid"))
	}
	if len(f.revokedGrants) != 1 || f.revokedGrants[0].Subject != testSubject || f.revokedGrants[0].ClientID != "shop" ||
		!slices.Equal(f.revokedGrants[0].Scopes, []string{"orders:read", "orders:write"}) {
		t.Fatalf("OnGrantRevoked told %+v", f.revokedGrants)
	}
	tokenRefused(t, f.exchange(refreshAs("shop", shop.RefreshToken)), 400, "invalid_grant")
	tokenRefused(t, f.exchange(redeemShop(pending)), 400, "invalid_grant")
	// RevokeGrantTokens: the grant's access tokens are refused by the
	// rule alone; another app's of the same user is not.
	for name, tc := range map[string]struct {
		token   string
		p       *principal.Principal
		revoked bool
	}{"the revoked app's": {shop.AccessToken, shopP, true}, "another app's": {other.AccessToken, otherP, false}} {
		if got, err := f.grantRevoked.Revoked(ctx, tc.token, tc.p); err != nil || got != tc.revoked {
			t.Errorf("%s access token: revoked %v (%v), want %v", name, got, err, tc.revoked)
		}
	}
	tokenOK(t, f.exchange(refreshAs("other", other.RefreshToken)))
	if _, err := f.grants.Lookup(ctx, testSubject, "shop"); !errors.Is(err, issuer.ErrNotFound) {
		t.Fatalf("Lookup after Revoke: %v", err)
	}
	if list, err := f.grants.List(ctx, testSubject); err != nil || len(list) != 1 || list[0].ClientID != "other" {
		t.Fatalf("List %+v, %v", list, err)
	}

	// Authorized again, the app gets tokens the rule does not refuse.
	f.c.Advance(time.Second)
	again := tokenOK(t, f.exchange(redeemShop(f.approved(shopQuery(), shopCallback))))
	if got, _ := f.grantRevoked.Revoked(ctx, again.AccessToken, f.verify(again.AccessToken)); got {
		t.Fatal("a token of the new grant is revoked")
	}
}

// A code approved before the grant's revocation is refused after it, even
// when the user approved the app again in between (a new grant).
func TestACodeOfARevokedGrantIsRefusedAfterAReapproval(t *testing.T) {
	f := newCodeFlow(t)
	old := f.approved(shopQuery(), shopCallback)
	if err := f.grants.Revoke(context.Background(), testSubject, "shop"); err != nil {
		t.Fatal(err)
	}
	fresh := f.approved(shopQuery(), shopCallback)
	tokenRefused(t, f.exchange(redeemShop(old)), 400, "invalid_grant")
	// Whatever the refused redemption started is ended.
	if started, ended := f.store.creates.Load(), len(f.endedSessions()); started != int64(ended) {
		t.Fatalf("%d sessions started, %d ended", started, ended)
	}
	tokenOK(t, f.exchange(redeemShop(fresh)))
}

// lockstepCodes holds every lookup of a code until n requests have looked
// it up: they all find it unredeemed and race to redeem it.
type lockstepCodes struct {
	issuer.MemoryCodeStore
	reads sync.WaitGroup
}

func (s *lockstepCodes) Code(ctx context.Context, h issuer.TokenHash) (issuer.AuthorizationCode, error) {
	c, err := s.MemoryCodeStore.Code(ctx, h)
	s.reads.Done()
	s.reads.Wait()
	return c, err
}

// RFC 6749 §4.1.2 (a code is used once) under concurrency: of N
// presentations at once, all past the checks, exactly one redeems the
// code, and no two get tokens. (The others are replays, which end what
// the winner got: it may itself be refused, or get tokens already
// revoked.)
func TestConcurrentPresentationsOfACodeRedeemItOnce(t *testing.T) {
	const n = 8
	codes := &lockstepCodes{}
	f := newCodeFlowWith(t, codes)
	code := f.approved(mobileQuery(), mobileCallback)
	codes.reads.Add(n)
	var wg sync.WaitGroup
	statuses := make([]int, n)
	bodies := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := f.exchange(redeemMobile(code))
			statuses[i], bodies[i] = rec.Code, rec.Body.String()
		}()
	}
	wg.Wait()
	ok := 0
	for i := range n {
		switch {
		case statuses[i] == http.StatusOK:
			ok++
		case statuses[i] != 400 || !strings.Contains(bodies[i], `"error":"invalid_grant"`):
			t.Fatalf("status %d, body %s", statuses[i], bodies[i])
		}
	}
	if ok > 1 || f.store.creates.Load() != 1 {
		t.Fatalf("%d successes, %d sessions started; want one redemption", ok, f.store.creates.Load())
	}
	// Whatever was issued is revoked: the code was presented again.
	if ended := slices.Compact(f.endedSessions()); len(ended) != 1 {
		t.Fatalf("ended sessions %v, want the one started", ended)
	}
}

// RFC 7009 §2.1: a public client revokes its own refresh token by
// client_id alone, and only its own; a confidential client still needs
// its secret.
func TestAPublicClientRevokesItsOwnRefreshTokenByClientIDAlone(t *testing.T) {
	f := newCodeFlow(t)
	revoke, err := issuer.NewRevocationHandler(issuer.RevocationConfig{Clients: f.clients, Sessions: f.sessions})
	if err != nil {
		t.Fatal(err)
	}
	mobile := tokenOK(t, f.exchange(redeemMobile(f.approved(mobileQuery(), mobileCallback))))
	shop := tokenOK(t, f.exchange(redeemShop(f.approved(shopQuery(), shopCallback))))
	post := func(rq req) int { return postToken(revoke, f.secrets, rq).Code }

	if got := post(req{body: form("token", shop.RefreshToken, "client_id", "mobile")}); got != 200 {
		t.Fatalf("another client's token: status %d", got)
	}
	tokenRefused(t, postToken(revoke, f.secrets, req{body: form("token", shop.RefreshToken, "client_id", "shop")}), 401, "invalid_client")
	tokenOK(t, f.exchange(refreshAs("shop", shop.RefreshToken)))

	if got := post(req{body: form("token", mobile.RefreshToken, "client_id", "mobile", "token_type_hint", "refresh_token")}); got != 200 {
		t.Fatalf("status %d", got)
	}
	tokenRefused(t, f.exchange(refreshAs("mobile", mobile.RefreshToken)), 400, "invalid_grant")
	if sid := f.verify(mobile.AccessToken).StringClaim("sid"); !slices.Equal(f.endedSessions(), []string{sid}) {
		t.Fatalf("ended sessions %v, want %s", f.endedSessions(), sid)
	}
}

// A user who revokes an app and authorizes it again within the same
// second gets tokens that work: "iat" is in whole seconds, so the grant's
// rule reaches only the seconds before the revocation, and the earlier
// tokens of that second are refused by their ended session.
func TestReauthorizingInTheSecondOfARevocationGivesWorkingTokens(t *testing.T) {
	ctx := context.Background()
	f := newCodeFlow(t)
	f.c.Set(f.c.Now().Truncate(time.Second).Add(time.Minute + 200*time.Millisecond))
	before := tokenOK(t, f.exchange(redeemShop(f.approved(shopQuery(), shopCallback))))
	beforeP := f.verify(before.AccessToken)

	f.c.Advance(300 * time.Millisecond)
	if err := f.grants.Revoke(ctx, testSubject, "shop"); err != nil {
		t.Fatal(err)
	}
	f.c.Advance(200 * time.Millisecond)
	again := tokenOK(t, f.exchange(redeemShop(f.approved(shopQuery(), shopCallback))))
	againP := f.verify(again.AccessToken)
	if !againP.IssuedAt().Equal(beforeP.IssuedAt()) {
		t.Fatalf("the tokens are not of one second: iat %v and %v", beforeP.IssuedAt(), againP.IssuedAt())
	}
	if !f.revokedBySid(before.AccessToken, beforeP) {
		t.Error("the token issued before the revocation is not refused by its session")
	}
	if got, _ := f.grantRevoked.Revoked(ctx, again.AccessToken, againP); got {
		t.Error("the token of the new grant is refused by the old grant's rule")
	}
	if f.revokedBySid(again.AccessToken, againP) {
		t.Error("the token of the new grant is refused by session")
	}
}

// RFC 6749 §3.2: a parameter sent without a value is treated as omitted,
// so an empty code_verifier or redirect_uri for a code that had neither
// is no downgrade and no mismatch.
func TestEmptyParametersAtTheTokenEndpointCountAsOmitted(t *testing.T) {
	f := newCodeFlow(t)
	code := f.approved(query("response_type", "code", "client_id", "other", "state", "s"), otherCallback) // no redirect_uri, no PKCE
	tokenOK(t, f.exchange(req{basic: "other", body: form("grant_type", "authorization_code", "code", code,
		"code_verifier", "", "redirect_uri", "")}))
}

// When OnGrantRevoked cannot refuse the grant's tokens, Revoke says so and
// changes nothing, so the user's retry revokes the grant whole.
func TestARevocationWhoseRuleFailsChangesNothingAndCanBeRetried(t *testing.T) {
	ctx := context.Background()
	f := newCodeFlow(t)
	down := errors.New("revocation list down")
	failing := true
	var told int
	g, err := issuer.NewGrants(issuer.GrantsConfig{Sessions: f.sessions, Now: f.c.Now,
		OnGrantRevoked: func(context.Context, issuer.Grant, time.Time) error {
			told++
			if failing {
				return down
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Record(ctx, testSubject, "shop", []string{"orders:read"}); err != nil {
		t.Fatal(err)
	}
	rt, err := f.sessions.Start(ctx, issuer.SessionRequest{ClientID: "shop", Subject: testSubject, Scopes: []string{"orders:read"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Revoke(ctx, testSubject, "shop"); !errors.Is(err, down) {
		t.Fatalf("Revoke with the rule failing: %v", err)
	}
	if _, err := g.Lookup(ctx, testSubject, "shop"); err != nil {
		t.Fatalf("the grant is gone after a failed revocation: %v", err)
	}
	if _, err := f.sessions.Peek(ctx, "shop", rt.Token.Reveal()); err != nil {
		t.Fatalf("the session ended after a failed revocation: %v", err)
	}
	failing = false
	if err := g.Revoke(ctx, testSubject, "shop"); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	if _, err := f.sessions.Peek(ctx, "shop", rt.Token.Reveal()); !errors.Is(err, issuer.ErrSessionEnded) {
		t.Fatalf("the session after the retry: %v", err)
	}
	if _, err := g.Lookup(ctx, testSubject, "shop"); !errors.Is(err, issuer.ErrNotFound) {
		t.Fatalf("the grant after the retry: %v", err)
	}
	if told != 2 {
		t.Fatalf("OnGrantRevoked told %d times, want 2", told)
	}
}

// A refresh carries on only what the grant that started the session still
// gives: a scope the client's registration now restricts to the password
// grant drops out of a code session's refreshed tokens, and asking for it
// by name is invalid_scope.
func TestARefreshGivesWhatTheSessionsOwnGrantStillGives(t *testing.T) {
	ctx := context.Background()
	f := newCodeFlow(t)
	tok := tokenOK(t, f.exchange(redeemShop(f.approved(shopQuery(), shopCallback))))
	if tok.Scope != "orders:read orders:write" {
		t.Fatalf("scope %q", tok.Scope)
	}
	shop, err := f.clients.Client(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	shop.GrantScopes[issuer.GrantPassword] = []string{"orders:write"}
	if err := f.clients.Update(ctx, shop); err != nil {
		t.Fatal(err)
	}
	tokenRefused(t, f.exchange(refreshAs("shop", tok.RefreshToken, "scope", "orders:write")), 400, "invalid_scope")
	next := tokenOK(t, f.exchange(refreshAs("shop", tok.RefreshToken)))
	if next.Scope != "orders:read" {
		t.Fatalf("refreshed scope %q, want orders:read alone", next.Scope)
	}
}
