package issuer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/internal/storetest"
)

type endpoint struct {
	h       http.Handler
	secret  string
	c       *clock
	ring    *issuer.KeyRing
	clients *issuer.Clients
}

func newEndpoint(t *testing.T) *endpoint {
	t.Helper()
	c := newClock()
	r := newRing(t, c, nil, "")
	clients, err := issuer.NewClients(issuer.ClientsConfig{Argon2: storetest.FastArgon2, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := clients.Create(context.Background(), issuer.Client{
		ID: "vendor-1", Grants: []string{issuer.GrantClientCredentials},
		Scopes: []string{"orders:read", "inventory"}, Audience: []string{"orders-api"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := clients.Create(context.Background(), issuer.Client{ID: "user-app", Grants: []string{issuer.GrantRefreshToken}, Audience: []string{"orders-api"}}); err != nil {
		t.Fatal(err)
	}
	h, err := issuer.NewClientCredentialsHandler(issuer.ClientCredentialsConfig{Clients: clients, Minter: newMinter(t, c, r)})
	if err != nil {
		t.Fatal(err)
	}
	return &endpoint{h: h, secret: secret.Reveal(), c: c, ring: r, clients: clients}
}

type tokenCall struct {
	method, contentType, query, body string
	basic                            [2]string // id, secret; empty for none
	rawAuth                          string
}

func (e *endpoint) call(tc tokenCall) *httptest.ResponseRecorder {
	if tc.method == "" {
		tc.method = http.MethodPost
	}
	if tc.contentType == "" {
		tc.contentType = "application/x-www-form-urlencoded"
	}
	req := httptest.NewRequest(tc.method, "/oauth/token?"+tc.query, strings.NewReader(tc.body))
	if tc.query == "" {
		req.URL.RawQuery = ""
	}
	req.Header.Set("Content-Type", tc.contentType)
	if tc.basic[0] != "" {
		req.SetBasicAuth(url.QueryEscape(tc.basic[0]), url.QueryEscape(tc.basic[1]))
	}
	if tc.rawAuth != "" {
		req.Header.Set("Authorization", tc.rawAuth)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func TestTheClientCredentialsGrantIssuesAVerifiableToken(t *testing.T) {
	e := newEndpoint(t)
	for name, tc := range map[string]tokenCall{
		"client_secret_basic": {body: "grant_type=client_credentials&scope=orders%3Aread", basic: [2]string{"vendor-1", e.secret}},
		"client_secret_post":  {body: "grant_type=client_credentials&scope=orders%3Aread&client_id=vendor-1&client_secret=" + url.QueryEscape(e.secret)},
		"content type params": {contentType: "application/x-www-form-urlencoded; charset=utf-8", body: "grant_type=client_credentials&scope=orders%3Aread", basic: [2]string{"vendor-1", e.secret}},
	} {
		t.Run(name, func(t *testing.T) {
			rec := e.call(tc)
			if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, headers %v, body %s", rec.Code, rec.Header(), rec.Body)
			}
			var resp struct {
				AccessToken string `json:"access_token"`
				TokenType   string `json:"token_type"`
				ExpiresIn   int64  `json:"expires_in"`
				Scope       string `json:"scope"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			if resp.TokenType != "Bearer" || resp.ExpiresIn != 3600 || resp.Scope != "orders:read" {
				t.Fatalf("response %+v", resp)
			}
			p, err := selfVerifier(t, e.c, e.ring).Verify(context.Background(), resp.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if p.Subject() != "vendor-1" || p.ClientID() != "vendor-1" || !p.HasScope("orders:read") || p.HasScope("inventory") {
				t.Fatalf("principal %+v", p.Fields())
			}
		})
	}
	// Without scope, the client gets all of its own.
	rec := e.call(tokenCall{body: "grant_type=client_credentials", basic: [2]string{"vendor-1", e.secret}})
	if !strings.Contains(rec.Body.String(), `"scope":"orders:read inventory"`) {
		t.Fatalf("body %s", rec.Body)
	}
}

func TestTheClientCredentialsEndpointRefusesWithRFC6749Errors(t *testing.T) {
	e := newEndpoint(t)
	good := "grant_type=client_credentials"
	basic := [2]string{"vendor-1", e.secret}
	for _, tc := range []struct {
		name   string
		call   tokenCall
		status int
		code   string
	}{
		{"GET", tokenCall{method: http.MethodGet, basic: basic}, 405, "invalid_request"},
		{"JSON body", tokenCall{contentType: "application/json", body: `{"grant_type":"client_credentials"}`, basic: basic}, 400, "invalid_request"},
		{"no content type", tokenCall{contentType: "-", body: good, basic: basic}, 400, "invalid_request"},
		{"body too large", tokenCall{body: good + "&x=" + strings.Repeat("a", issuer.DefaultTokenRequestBytes), basic: basic}, 413, "invalid_request"},
		{"bad form", tokenCall{body: "grant_type=%zz", basic: basic}, 400, "invalid_request"},
		{"repeated parameter", tokenCall{body: good + "&grant_type=client_credentials", basic: basic}, 400, "invalid_request"},
		{"parameters in the URL", tokenCall{query: "client_secret=x", body: good, basic: basic}, 400, "invalid_request"},
		{"no grant_type", tokenCall{body: "scope=orders%3Aread", basic: basic}, 400, "invalid_request"},
		{"two ways of authentication", tokenCall{body: good + "&client_id=vendor-1&client_secret=" + url.QueryEscape(e.secret), basic: basic}, 400, "invalid_request"},
		{"client_id differs from Basic", tokenCall{body: good + "&client_id=other", basic: basic}, 400, "invalid_request"},
		{"no authentication", tokenCall{body: good}, 401, "invalid_client"},
		{"client_id without secret", tokenCall{body: good + "&client_id=vendor-1"}, 401, "invalid_client"},
		{"wrong secret", tokenCall{body: good, basic: [2]string{"vendor-1", "nope"}}, 401, "invalid_client"},
		{"unknown client", tokenCall{body: good, basic: [2]string{"vendor-9", e.secret}}, 401, "invalid_client"},
		{"not Basic", tokenCall{body: good, rawAuth: "Bearer " + e.secret}, 401, "invalid_client"},
		{"bad Basic encoding", tokenCall{body: good, rawAuth: "Basic %%%"}, 401, "invalid_client"},
		{"another grant", tokenCall{body: "grant_type=password&username=a&password=b", basic: basic}, 400, "unsupported_grant_type"},
		{"empty secret", tokenCall{body: good, basic: [2]string{"user-app", ""}}, 401, "invalid_client"},
		{"a scope the client lacks", tokenCall{body: good + "&scope=orders%3Aread+admin", basic: basic}, 400, "invalid_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.call.contentType == "-" {
				tc.call.contentType = " "
			}
			rec := e.call(tc.call)
			var body struct {
				Error string `json:"error"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != tc.status || body.Error != tc.code || rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("status %d, error %q, headers %v; want %d %s", rec.Code, body.Error, rec.Header(), tc.status, tc.code)
			}
			if strings.Contains(rec.Body.String(), e.secret) || strings.Contains(rec.Body.String(), "access_token") {
				t.Fatalf("body %s", rec.Body)
			}
			if tc.status == 401 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Basic ") {
				t.Fatalf("401 without a Basic challenge: %v", rec.Header())
			}
		})
	}
}

func TestAClientNotAllowedTheGrantIsUnauthorizedClient(t *testing.T) {
	e := newEndpoint(t)
	secret, err := e.clients.RegenerateSecret(context.Background(), "user-app")
	if err != nil {
		t.Fatal(err)
	}
	rec := e.call(tokenCall{body: "grant_type=client_credentials", basic: [2]string{"user-app", secret.Reveal()}})
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), `"error":"unauthorized_client"`) {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
}

func TestAClientsOwnLifetimeGovernsItsTokens(t *testing.T) {
	e := newEndpoint(t)
	cl, _ := e.clients.Client(context.Background(), "vendor-1")
	cl.AccessTokenLifetime = 30 * time.Minute
	if err := e.clients.Update(context.Background(), cl); err != nil {
		t.Fatal(err)
	}
	rec := e.call(tokenCall{body: "grant_type=client_credentials", basic: [2]string{"vendor-1", e.secret}})
	if !strings.Contains(rec.Body.String(), `"expires_in":1800`) {
		t.Fatalf("body %s", rec.Body)
	}
}
