package main

import (
	stderrors "errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/tollgate/tollgate/internal/redistest"
	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/revocation/redisrevocation"
)

// flow is the marketplace served on loopback, the demo integration
// registered with the callback of a server of its own, and a real OAuth
// client (golang.org/x/oauth2) and browser to drive it.
type flow struct {
	*fixture
	srv      *httptest.Server
	redirect string
	conf     *oauth2.Config
	browser  *http.Client
}

func newFlow(t *testing.T, change func(*config)) *flow {
	t.Helper()
	f := newFixture(t, change)
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the browser went on to the callback: %s", r.URL)
	}))
	t.Cleanup(callback.Close)
	fl := &flow{fixture: f, srv: httptest.NewServer(f.m.Handler), redirect: callback.URL + "/callback"}
	t.Cleanup(fl.srv.Close)

	cl := integrationClient(demoApp, testAudience, fl.redirect)
	if err := f.m.Clients.Update(t.Context(), cl); err != nil {
		t.Fatal(err)
	}
	fl.conf = &oauth2.Config{
		ClientID: demoApp, ClientSecret: f.secret,
		Endpoint: oauth2.Endpoint{
			AuthURL: fl.srv.URL + "/auth/v2/authorize", TokenURL: fl.srv.URL + "/auth/v2/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		RedirectURL: fl.redirect,
		Scopes:      []string{scopeStore},
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	fl.browser = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), fl.redirect) {
			return http.ErrUseLastResponse // where the integration takes over
		}
		return nil
	}}
	return fl
}

// page is an HTML page the browser got.
type page struct {
	status int
	header http.Header
	body   string
}

func (fl *flow) visit(t *testing.T, method, target string, form url.Values) page {
	t.Helper()
	var resp *http.Response
	var err error
	if method == "GET" {
		resp, err = fl.browser.Get(target)
	} else {
		resp, err = fl.browser.PostForm(target, form)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

var formAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)

// action is the URL the page's first form posts to.
func (fl *flow) action(t *testing.T, p page) string {
	t.Helper()
	m := formAction.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no form on the page:\n%s", p.body)
	}
	u, err := url.Parse(fl.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return u.ResolveReference(ref).String()
}

// authorize is the store owner going through the consent page for the
// integration's request (state, the challenge of verifier) and allowing
// it; it returns the code the browser brings back to the callback.
func (fl *flow) authorize(t *testing.T, state, verifier string) string {
	t.Helper()
	p := fl.visit(t, "GET", fl.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), nil)
	if p.status != 200 || p.header.Get("X-Frame-Options") != "DENY" || !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") ||
		p.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("consent page: %d %v", p.status, p.header)
	}
	for _, want := range []string{"Demo integration", "<code>integration.store</code>", `name="username"`, `type="password" name="password"`,
		`name="decision" value="allow"`, `name="decision" value="deny"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the consent page lacks %s:\n%s", want, p.body)
		}
	}
	if strings.Contains(p.body, scopeOrder) || strings.Contains(p.body, scopeInventory) {
		t.Errorf("the consent page offers a client_credentials scope:\n%s", p.body)
	}

	p = fl.visit(t, "POST", fl.action(t, p), url.Values{"username": {demoOwner}, "password": {testPassword}, "decision": {"allow"}})
	loc, err := url.Parse(p.header.Get("Location"))
	if p.status != http.StatusSeeOther || err != nil {
		t.Fatalf("after Allow: %d, Location %q", p.status, p.header.Get("Location"))
	}
	q := loc.Query()
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != fl.redirect {
		t.Errorf("redirected to %s, want the callback %s", got, fl.redirect)
	}
	if q.Get("code") == "" || q.Get("state") != state || q.Get("iss") != testIssuer {
		t.Errorf("callback query %v; want a code, state %q and iss %q", q, state, testIssuer)
	}
	return q.Get("code")
}

// call is the integration calling the API with token.
func (fl *flow) call(t *testing.T, path, token string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", fl.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := fl.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate"), body: strings.TrimSuffix(string(b), "\n")}
}

// refresh makes the OAuth client refresh tok as it would once it expired.
func (fl *flow) refresh(t *testing.T, tok *oauth2.Token) (*oauth2.Token, error) {
	t.Helper()
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute)
	return fl.conf.TokenSource(t.Context(), &expired).Token()
}

// refusedGrant reports whether err is the token endpoint's invalid_grant.
func refusedGrant(err error) bool {
	var re *oauth2.RetrieveError
	return stderrors.As(err, &re) && re.Response.StatusCode == 400 && re.ErrorCode == "invalid_grant"
}

var refusedToken = response{status: 401, challenge: invalidChallenge, body: invalidBody}

// The whole documented flow, driven by a real OAuth client: the store
// owner consents on the page, the integration trades the code (PKCE) for
// tokens that read the store but never orders, refreshes them once each,
// and loses them all when the owner revokes the app.
func TestAStoreOwnerAuthorizesTheIntegrationThroughAnOAuthClient(t *testing.T) {
	testTheOAuthFlow(t, nil)
}

// On PostgreSQL (codes, grants, sessions, clients and keys there) the
// flow is the same.
func TestOnPostgresAStoreOwnerAuthorizesTheIntegration(t *testing.T) {
	testTheOAuthFlow(t, postgresStores(t))
}

func testTheOAuthFlow(t *testing.T, change func(*config)) {
	fl := newFlow(t, change)
	ctx := t.Context()

	verifier := oauth2.GenerateVerifier()
	code := fl.authorize(t, "state-1", verifier)
	tok, err := fl.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.Extra("scope") != scopeStore || time.Until(tok.Expiry) < 47*time.Hour {
		t.Errorf("token %+v, scope %v; want Bearer, a refresh token, integration.store, two days", tok, tok.Extra("scope"))
	}
	if got, want := fl.call(t, "/v1/stores/12", tok.AccessToken), (response{status: 200, body: `{"client_id":"app-9","store":"12","subject":"owner-5"}`}); got != want {
		t.Errorf("the owner's token on the store: %+v, want %+v", got, want)
	}
	if got, want := fl.call(t, "/v1/orders", tok.AccessToken), (response{status: 403, challenge: scopeChallenge(scopeOrder), body: scopeBody}); got != want {
		t.Errorf("the owner's token on orders: %+v, want %+v", got, want)
	}

	// Two days less an hour later, the client refreshes.
	fl.clk.Advance(47 * time.Hour)
	next, err := fl.refresh(t, tok)
	if err != nil {
		t.Fatal(err)
	}
	if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
		t.Fatalf("refresh gave %+v", next)
	}
	if got := fl.call(t, "/v1/stores/12", next.AccessToken); got.status != 200 {
		t.Errorf("the refreshed token: %+v", got)
	}
	// The old refresh token is single use: presented again it is refused
	// and ends its family, the refreshed tokens with it.
	if _, err := fl.refresh(t, tok); !refusedGrant(err) {
		t.Errorf("the used refresh token again: %v, want invalid_grant", err)
	}
	if got := fl.call(t, "/v1/stores/12", next.AccessToken); got != refusedToken {
		t.Errorf("the family's token after the reuse: %+v", got)
	}

	// The owner authorizes again, then revokes the app on the account page.
	verifier = oauth2.GenerateVerifier()
	tok, err = fl.conf.Exchange(ctx, fl.authorize(t, "state-2", verifier), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if got := fl.call(t, "/v1/stores/12", tok.AccessToken); got.status != 200 {
		t.Fatalf("the second authorization's token: %+v", got)
	}
	fl.clk.Advance(time.Minute)
	p := fl.visit(t, "GET", fl.srv.URL+"/account/apps", nil)
	if p.status != 200 || p.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(p.body, `type="password" name="password"`) {
		t.Fatalf("the sign-in page: %+v", p)
	}
	p = fl.visit(t, "POST", fl.action(t, p), url.Values{"username": {demoOwner}, "password": {testPassword}})
	if p.status != 200 || !strings.Contains(p.body, "<h2>Demo integration</h2>") || !strings.Contains(p.body, `name="client_id" value="app-9"`) ||
		!strings.Contains(p.body, "<button>Revoke</button>") {
		t.Fatalf("the owner's apps: %d\n%s", p.status, p.body)
	}
	p = fl.visit(t, "POST", fl.srv.URL+"/account/apps/revoke", url.Values{"username": {demoOwner}, "password": {testPassword}, "client_id": {demoApp}})
	if p.status != 200 || !strings.Contains(p.body, "Demo integration no longer has access") || !strings.Contains(p.body, "No app has access") {
		t.Fatalf("after Revoke: %d\n%s", p.status, p.body)
	}
	if _, err := fl.refresh(t, tok); !refusedGrant(err) {
		t.Errorf("the refresh token of the revoked app: %v, want invalid_grant", err)
	}
	if got := fl.call(t, "/v1/stores/12", tok.AccessToken); got != refusedToken {
		t.Errorf("the access token of the revoked app: %+v", got)
	}

	// The integration's own client_credentials token is no part of the
	// owner's grant: it still gets integration.order.
	app := decodeToken(t, fl.form(t, "grant_type", "client_credentials", "scope", scopeOrder, "client_id", demoApp, "client_secret", fl.secret))
	if app.Scope != scopeOrder {
		t.Errorf("client_credentials for integration.order: %+v", app)
	}
	if got := fl.call(t, "/v1/orders", app.AccessToken); got.status != 200 {
		t.Errorf("the integration's own token on orders after the owner revoked it: %+v", got)
	}

	// To act for the owner again, the integration runs the flow again.
	fl.clk.Advance(time.Minute)
	verifier = oauth2.GenerateVerifier()
	tok, err = fl.conf.Exchange(ctx, fl.authorize(t, "state-3", verifier), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if got := fl.call(t, "/v1/stores/12", tok.AccessToken); got.status != 200 {
		t.Errorf("the token of a new authorization after the revocation: %+v", got)
	}
}

// A code presented twice is refused, and the tokens its first exchange
// gave are revoked: the access token from the next call on, the refresh
// token at once.
func TestAReplayedCodeRevokesItsTokens(t *testing.T) {
	testAReplayedCode(t, nil)
}

func TestOnPostgresAReplayedCodeRevokesItsTokens(t *testing.T) {
	testAReplayedCode(t, postgresStores(t))
}

func testAReplayedCode(t *testing.T, change func(*config)) {
	fl := newFlow(t, change)
	verifier := oauth2.GenerateVerifier()
	code := fl.authorize(t, "s", verifier)
	tok, err := fl.conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if got := fl.call(t, "/v1/stores/12", tok.AccessToken); got.status != 200 {
		t.Fatalf("before the replay: %+v", got)
	}
	if _, err := fl.conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier)); !refusedGrant(err) {
		t.Errorf("the code again: %v, want invalid_grant", err)
	}
	if got := fl.call(t, "/v1/stores/12", tok.AccessToken); got != refusedToken {
		t.Errorf("the first exchange's access token after the replay: %+v", got)
	}
	if _, err := fl.refresh(t, tok); !refusedGrant(err) {
		t.Errorf("the first exchange's refresh token after the replay: %v, want invalid_grant", err)
	}
}

// A redirect_uri that is not byte for byte the registered one is shown to
// the user as an error page and never redirected to, on the page and on
// its form (with the owner's password). (The port of a loopback IP may
// differ, RFC 8252 §7.3: issuer's tests cover it.)
func TestTheAuthorizePageNeverRedirectsToAnUnregisteredURI(t *testing.T) {
	f := newFixture(t, nil)
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	for _, uri := range []string{
		"http://127.0.0.1:8081/Callback",                           // case of the path
		"HTTP://127.0.0.1:8081/callback",                           // case of the scheme
		"http://127.0.0.1:8081/callback/",                          // a trailing slash
		"http://127.0.0.1:8081/callback/evil",                      // an extra path
		"http://127.0.0.1:8081/callback/../evil",                   // a dot segment
		"http://evil.example@127.0.0.1:8081/callback",              // userinfo
		"http://127.0.0.1:8081@evil.example/callback",              // userinfo, the other way
		"http://127.0.0.1:8081/callback?next=https://evil.example", // an open redirect in a query
		"http://127.0.0.2:8081/callback",                           // another loopback address
		"http://[::1]:8081/callback",                               // another loopback address
		"http://localhost:8081/callback",                           // another name for the host
		"https://evil.example/callback",                            // another host
		"http://127.0.0.1:8081/callback#frag",                      // a fragment
	} {
		q := authorizeQuery(challenge, func(q url.Values) { q.Set("redirect_uri", uri) })
		for _, got := range []response{
			f.do(t, "GET", "/auth/v2/authorize?"+q.Encode(), nil, ""),
			f.allow(t, q),
		} {
			if got.status != 400 || got.location != "" || !strings.Contains(got.body, "redirect_uri is missing, repeated or not registered for this client") {
				t.Errorf("redirect_uri %s: %+v; want 400, the error page, no Location", uri, got)
			}
		}
	}
	q := authorizeQuery(challenge, func(q url.Values) { q.Add("redirect_uri", "https://evil.example/callback") })
	if got := f.do(t, "GET", "/auth/v2/authorize?"+q.Encode(), nil, ""); got.status != 400 || got.location != "" {
		t.Errorf("redirect_uri twice: %+v; want 400, no Location", got)
	}
	if grants, _ := f.m.Grants.List(t.Context(), demoOwner); len(grants) != 0 {
		t.Errorf("a grant was recorded: %+v", grants)
	}
}

// The consent page: Deny, a wrong password, a missing decision, and
// requests the endpoint refuses before it (back to the client with the
// error, state and iss).
func TestTheConsentPage(t *testing.T) {
	f := newFixture(t, nil)
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	back := func(params string) string {
		return testRedirect + "?" + params + "&state=st-1&iss=" + url.QueryEscape(testIssuer)
	}
	wrong := "The username or password is wrong."
	tests := []struct {
		name     string
		change   func(url.Values)
		raw      string   // added to the query unencoded
		form     []string // nil: GET
		status   int
		location string
		page     string // in the body
	}{
		{name: "GET shows the form", status: 200, page: `<button name="decision" value="allow">Allow</button>`},
		{name: "Deny goes back with access_denied, no password needed",
			form: []string{"decision", "deny"}, status: 303,
			location: back("error=access_denied&error_description=the+user+denied+the+request")},
		{name: "a wrong password shows the page again",
			form: []string{"username", demoOwner, "password", "wrong", "decision", "allow"}, status: 200, page: wrong},
		{name: "an unknown owner shows the page again",
			form: []string{"username", "owner-6", "password", testPassword, "decision", "allow"}, status: 200, page: wrong},
		{name: "an empty password shows the page again",
			form: []string{"username", demoOwner, "decision", "allow"}, status: 200, page: wrong},
		{name: "a password in the query is not the form's",
			change: func(q url.Values) { q.Set("password", testPassword); q.Set("username", demoOwner) },
			form:   []string{"decision", "allow"}, status: 200, page: wrong},
		{name: "neither Allow nor Deny shows the page again",
			form: []string{"username", demoOwner, "password", testPassword}, status: 400, page: "Choose Allow or Deny."},
		{name: "the username typed is shown escaped",
			form: []string{"username", `"><script>alert(1)</script>`, "password", "x", "decision", "allow"}, status: 200,
			page: `value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`},
		{name: "a state not URL-encoded is escaped in the form's action",
			change: func(q url.Values) { q.Del("state") }, raw: `&state="><script>alert(1)</script>`, status: 200,
			page: `state=%22%3e%3cscript%3ealert%281%29%3c/script%3e"`},
		{name: "no PKCE challenge goes back with invalid_request",
			change: func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, status: 302,
			location: back("error=invalid_request&error_description=a+PKCE+code_challenge+%28S256%29+is+required")},
		{name: "the plain PKCE method goes back with invalid_request",
			change: func(q url.Values) { q.Set("code_challenge_method", "plain") }, status: 302,
			location: back("error=invalid_request&error_description=code_challenge_method+must+be+S256")},
		{name: "asking a user for integration.order goes back with invalid_scope",
			change: func(q url.Values) { q.Set("scope", scopeStore+" "+scopeOrder) }, status: 302,
			location: back("error=invalid_scope&error_description=a+requested+scope+is+not+available+to+this+client")},
		{name: "asking a user for integration.inventory goes back with invalid_scope, even with the password",
			change: func(q url.Values) { q.Set("scope", scopeInventory) }, status: 303,
			form:     []string{"username", demoOwner, "password", testPassword, "decision", "allow"},
			location: back("error=invalid_scope&error_description=a+requested+scope+is+not+available+to+this+client")},
		{name: "an unknown client is an error page",
			change: func(q url.Values) { q.Set("client_id", "app-404") }, status: 400, page: "client_id is missing, repeated or not a registered client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := authorizeQuery(challenge, tt.change)
			var got response
			if tt.form == nil {
				got = f.do(t, "GET", "/auth/v2/authorize?"+q.Encode()+tt.raw, nil, "")
			} else {
				got = f.consent(t, q, tt.form...)
			}
			if got.status != tt.status || got.location != tt.location || !strings.Contains(got.body, tt.page) {
				t.Errorf("got %d, Location %q, body\n%s\nwant %d, Location %q, body with %q", got.status, got.location, got.body, tt.status, tt.location, tt.page)
			}
			if strings.Contains(got.body, "<script>") {
				t.Errorf("unescaped input on the page:\n%s", got.body)
			}
		})
	}
	if grants, _ := f.m.Grants.List(t.Context(), demoOwner); len(grants) != 0 {
		t.Errorf("a grant was recorded: %+v", grants)
	}
}

// The client's name is the registration's, which the developer chose: it
// is shown escaped.
func TestTheConsentPageEscapesTheClientName(t *testing.T) {
	f := newFixture(t, nil)
	cl := integrationClient(demoApp, testAudience, testRedirect)
	cl.Name = `<img src=x onerror=alert(1)>`
	if err := f.m.Clients.Update(t.Context(), cl); err != nil {
		t.Fatal(err)
	}
	got := f.do(t, "GET", "/auth/v2/authorize?"+authorizeQuery(oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier()), nil).Encode(), nil, "")
	if got.status != 200 || strings.Contains(got.body, "<img") || !strings.Contains(got.body, "<strong>&lt;img src=x onerror=alert(1)&gt;</strong>") {
		t.Errorf("got %d\n%s", got.status, got.body)
	}
}

// A code is redeemed only with its PKCE verifier, by its client, for its
// redirect URI; none of the failed attempts gives a token.
func TestACodeIsRedeemedOnlyWithWhatItIsBoundTo(t *testing.T) {
	f := newFixture(t, nil)
	otherSecret, err := registerIntegration(t.Context(), f.m.Clients, integrationClient("app-10", testAudience, testRedirect))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		params func(code, verifier string) []string
	}{
		{name: "no verifier (a PKCE downgrade)", params: func(code, _ string) []string {
			return []string{"grant_type", "authorization_code", "code", code, "redirect_uri", testRedirect, "client_id", demoApp, "client_secret", f.secret}
		}},
		{name: "another PKCE verifier", params: func(code, _ string) []string {
			return []string{"grant_type", "authorization_code", "code", code, "redirect_uri", testRedirect, "code_verifier", oauth2.GenerateVerifier(), "client_id", demoApp, "client_secret", f.secret}
		}},
		{name: "the challenge as the verifier", params: func(code, verifier string) []string {
			return []string{"grant_type", "authorization_code", "code", code, "redirect_uri", testRedirect, "code_verifier", oauth2.S256ChallengeFromVerifier(verifier), "client_id", demoApp, "client_secret", f.secret}
		}},
		{name: "another redirect URI", params: func(code, verifier string) []string {
			return []string{"grant_type", "authorization_code", "code", code, "redirect_uri", testRedirect + "/", "code_verifier", verifier, "client_id", demoApp, "client_secret", f.secret}
		}},
		{name: "another integration", params: func(code, verifier string) []string {
			return []string{"grant_type", "authorization_code", "code", code, "redirect_uri", testRedirect, "code_verifier", verifier, "client_id", "app-10", "client_secret", otherSecret.Reveal()}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, verifier := f.code(t)
			if got, want := f.form(t, tt.params(code, verifier)...), (response{status: 400, body: invalidGrantBody}); got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
	// A code more than 60 s old.
	code, verifier := f.code(t)
	f.clk.Advance(61 * time.Second)
	if got, want := f.exchange(t, code, verifier), (response{status: 400, body: invalidGrantBody}); got != want {
		t.Errorf("a code 61 s old: %+v, want %+v", got, want)
	}
}

// A refresh cannot widen the owner's grant: asking for the integration's
// own scopes is invalid_scope and does not spend the refresh token.
func TestARefreshCannotEscalateTheOwnersScopes(t *testing.T) {
	f := newFixture(t, nil)
	rt := f.ownerRefreshToken(t)
	for _, scope := range []string{scopeOrder, scopeInventory, scopeStore + " " + scopeOrder} {
		got := f.form(t, "grant_type", "refresh_token", "refresh_token", rt, "scope", scope, "client_id", demoApp, "client_secret", f.secret)
		if want := (response{status: 400, body: `{"error":"invalid_scope","error_description":"a requested scope is not granted"}`}); got != want {
			t.Errorf("scope %q: %+v, want %+v", scope, got, want)
		}
	}
	tr := decodeToken(t, f.form(t, "grant_type", "refresh_token", "refresh_token", rt, "scope", scopeStore, "client_id", demoApp, "client_secret", f.secret))
	if tr.Scope != scopeStore {
		t.Errorf("refresh for integration.store: %+v", tr)
	}
}

// Revoking the app refuses every token of the owner and the integration
// issued before, also one that names no session (OnGrantRevoked's rule),
// and only those.
func TestRevokingTheAppRefusesTokensOfNoSessionToo(t *testing.T) {
	f := newFixture(t, nil)
	f.ownerRefreshToken(t) // the grant
	loose, err := f.m.Minter.Mint(t.Context(), issuer.AccessRequest{
		Subject: demoOwner, ClientID: demoApp, Audience: []string{testAudience}, Scopes: []string{scopeStore}, Grant: issuer.GrantAuthorizationCode,
	})
	if err != nil {
		t.Fatal(err)
	}
	app := f.appToken(t)
	if got := f.do(t, "GET", "/v1/stores/12", bearer(loose.Token.Reveal()), ""); got.status != 200 {
		t.Fatalf("before: %+v", got)
	}
	f.clk.Advance(time.Minute)
	revoke := url.Values{"username": {demoOwner}, "password": {testPassword}, "client_id": {demoApp}}.Encode()
	if got := f.do(t, "POST", "/account/apps/revoke", formHeader, revoke); got.status != 200 || !strings.Contains(got.body, "no longer has access") {
		t.Fatalf("revoke: %+v", got)
	}
	if got := f.do(t, "GET", "/v1/stores/12", bearer(loose.Token.Reveal()), ""); got != refusedToken {
		t.Errorf("the owner's token of no session after the revocation: %+v", got)
	}
	if got := f.do(t, "GET", "/v1/orders", bearer(app), ""); got.status != 200 {
		t.Errorf("the integration's own token after the revocation: %+v", got)
	}
}

// The account page lists and revokes only with the owner's password.
func TestTheAccountPageNeedsThePassword(t *testing.T) {
	f := newFixture(t, nil)
	rt := f.ownerRefreshToken(t)
	wrong := "The username or password is wrong."
	tests := []struct {
		name, path string
		form       url.Values
		status     int
		page       string
	}{
		{name: "listing with a wrong password", path: "/account/apps",
			form: url.Values{"username": {demoOwner}, "password": {"wrong"}}, status: 200, page: wrong},
		{name: "revoking with a wrong password", path: "/account/apps/revoke",
			form: url.Values{"username": {demoOwner}, "password": {"wrong"}, "client_id": {demoApp}}, status: 200, page: wrong},
		{name: "revoking with no password", path: "/account/apps/revoke",
			form: url.Values{"username": {demoOwner}, "client_id": {demoApp}}, status: 200, page: wrong},
		{name: "revoking an app that has no grant", path: "/account/apps/revoke",
			form: url.Values{"username": {demoOwner}, "password": {testPassword}, "client_id": {"app-10"}}, status: 200, page: "That app has no access to revoke."},
		{name: "revoking with no client_id", path: "/account/apps/revoke",
			form: url.Values{"username": {demoOwner}, "password": {testPassword}}, status: 200, page: "That app has no access to revoke."},
		{name: "listing with the password", path: "/account/apps",
			form: url.Values{"username": {demoOwner}, "password": {testPassword}}, status: 200, page: "<h2>Demo integration</h2>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := f.do(t, "POST", tt.path, formHeader, tt.form.Encode())
			if got.status != tt.status || !strings.Contains(got.body, tt.page) {
				t.Errorf("got %d\n%s\nwant %d with %q", got.status, got.body, tt.status, tt.page)
			}
		})
	}
	f.refresh(t, rt) // nothing was revoked
}

// On PostgreSQL and Redis, replicas share the flow: a code approved on
// one is redeemed on another, once; its replay on the first revokes its
// tokens on both; and an app the owner revokes on one replica has its
// refresh and access tokens refused by the other.
func TestOnPostgresAndRedisReplicasShareCodesAndGrants(t *testing.T) {
	onPostgres := postgresStores(t)
	rdb := redistest.Shared(t)
	revoked := redisrevocation.New(rdb, redisrevocation.Config{Prefix: strings.NewReplacer("/", "-").Replace(redistest.Prefix(t))})
	if err := revoked.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	shared := func(c *config) { onPostgres(c); c.Revocations = revoked }
	a := newFixture(t, shared)
	b := newFixture(t, shared) // registering the integration again gave it a new secret
	a.secret = b.secret

	code, verifier := a.code(t)
	tr := decodeToken(t, b.exchange(t, code, verifier))
	if got := a.do(t, "GET", "/v1/stores/12", bearer(tr.AccessToken), ""); got.status != 200 {
		t.Fatalf("b's token on a: %+v", got)
	}
	if got, want := a.exchange(t, code, verifier), (response{status: 400, body: invalidGrantBody}); got != want {
		t.Errorf("the code replayed on a: %+v, want %+v", got, want)
	}
	for name, f := range map[string]*fixture{"a": a, "b": b} {
		if got := f.do(t, "GET", "/v1/stores/12", bearer(tr.AccessToken), ""); got != refusedToken {
			t.Errorf("the replayed code's access token on %s: %+v", name, got)
		}
	}
	if got := b.form(t, "grant_type", "refresh_token", "refresh_token", tr.RefreshToken, "client_id", demoApp, "client_secret", b.secret); got.status != 400 {
		t.Errorf("the replayed code's refresh token on b: %+v", got)
	}

	code, verifier = b.code(t)
	tr = decodeToken(t, a.exchange(t, code, verifier))
	apps := url.Values{"username": {demoOwner}, "password": {testPassword}}
	if got := a.do(t, "POST", "/account/apps", formHeader, apps.Encode()); !strings.Contains(got.body, "<h2>Demo integration</h2>") {
		t.Fatalf("the owner's apps on a: %+v", got)
	}
	b.clk.Advance(time.Minute)
	apps.Set("client_id", demoApp)
	if got := b.do(t, "POST", "/account/apps/revoke", formHeader, apps.Encode()); !strings.Contains(got.body, "no longer has access") {
		t.Fatalf("revoking on b: %+v", got)
	}
	if got := a.form(t, "grant_type", "refresh_token", "refresh_token", tr.RefreshToken, "client_id", demoApp, "client_secret", a.secret); got.status != 400 || got.body != invalidGrantBody {
		t.Errorf("the revoked app's refresh token on a: %+v", got)
	}
	if got := a.do(t, "GET", "/v1/stores/12", bearer(tr.AccessToken), ""); got != refusedToken {
		t.Errorf("the revoked app's access token on a: %+v", got)
	}
}
