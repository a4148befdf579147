package issuer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	tgerrors "github.com/tollgate/tollgate/errors"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/jwt"
)

// A service mints access tokens and verifies them in the same process,
// its verifier reading the key ring directly.
func Example() {
	ctx := context.Background()
	ring, err := issuer.NewKeyRing(ctx, issuer.KeyRingConfig{}) // ES256, keys in memory
	if err != nil {
		panic(err)
	}
	minter, err := issuer.NewMinter(issuer.MinterConfig{Issuer: "https://auth.example.com", Keys: ring})
	if err != nil {
		panic(err)
	}
	verifier, err := jwt.NewVerifier(ctx, jwt.Config{Issuers: []jwt.Issuer{{
		Issuer:      "https://auth.example.com",
		KeySource:   ring,
		Audiences:   []string{"orders-api"},
		Algorithms:  []string{"ES256"},
		RequiredTyp: "at+jwt",
	}}})
	if err != nil {
		panic(err)
	}
	defer verifier.Close()

	at, err := minter.Mint(ctx, issuer.AccessRequest{
		ClientID: "vendor-portal",
		Audience: []string{"orders-api"},
		Scopes:   []string{"orders:read"},
		Grant:    issuer.GrantClientCredentials,
	})
	if err != nil {
		panic(err)
	}
	p, err := verifier.Verify(ctx, at.Token.Reveal())
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Subject(), p.ClientID(), p.Scopes(), at.Lifetime)
	fmt.Println(at.Token) // redacted
	// Output:
	// vendor-portal vendor-portal [orders:read] 1h0m0s
	// [REDACTED]
}

// A token endpoint for a vendor portal's client_credentials and a first-
// party app's login and refresh, answering refusals as
// {"message":"Unauthorized"}.
func ExampleNewTokenHandler() {
	ctx := context.Background()
	ring, _ := issuer.NewKeyRing(ctx, issuer.KeyRingConfig{})
	minter, _ := issuer.NewMinter(issuer.MinterConfig{Issuer: "https://auth.example.com", Keys: ring})
	sessions, _ := issuer.NewSessions(issuer.SessionsConfig{})
	clients, _ := issuer.NewClients(issuer.ClientsConfig{})
	_, secret, _ := clients.Create(ctx, issuer.Client{
		ID: "vendor-portal", Grants: []string{issuer.GrantClientCredentials},
		Scopes: []string{"orders:read"}, Audience: []string{"orders-api"},
	})
	token, err := issuer.NewTokenHandler(issuer.TokenConfig{
		Clients: clients, Minter: minter, Sessions: sessions,
		Grants: []string{issuer.GrantClientCredentials, issuer.GrantPassword, issuer.GrantRefreshToken},
		Login: func(ctx context.Context, username, password string) (string, error) {
			return "", issuer.ErrBadCredentials // the provider's user store
		},
		ErrorFormat: tgerrors.Message,
	})
	if err != nil {
		panic(err)
	}
	post := func(body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		token.ServeHTTP(w, r)
		return w
	}
	ok := post(`{"client_id":"vendor-portal","client_secret":"` + secret.Reveal() + `"}`)
	var resp struct {
		TokenType string `json:"token_type"`
		ExpiresIn int    `json:"expires_in"`
		Scope     string `json:"scope"`
	}
	_ = json.Unmarshal(ok.Body.Bytes(), &resp)
	fmt.Println(ok.Code, ok.Header().Get("Cache-Control"), resp.TokenType, resp.ExpiresIn, resp.Scope)

	refused := post(`{"client_id":"vendor-portal","client_secret":"wrong"}`)
	fmt.Println(refused.Code, refused.Header().Get("WWW-Authenticate"), strings.TrimSpace(refused.Body.String()))
	// Output:
	// 200 no-store Bearer 3600 orders:read
	// 401 Basic realm="token", charset="UTF-8" {"message":"Unauthorized"}
}

// An authorization endpoint and a token endpoint for the authorization
// code grant with PKCE: the provider's page (Interact) signs the user in
// and asks for consent, then approves; the app exchanges the code.
func ExampleNewAuthorizeHandler() {
	ctx := context.Background()
	ring, _ := issuer.NewKeyRing(ctx, issuer.KeyRingConfig{})
	minter, _ := issuer.NewMinter(issuer.MinterConfig{Issuer: "https://auth.example.com", Keys: ring})
	sessions, _ := issuer.NewSessions(issuer.SessionsConfig{})
	grants, _ := issuer.NewGrants(issuer.GrantsConfig{Sessions: sessions})
	clients, _ := issuer.NewClients(issuer.ClientsConfig{})
	_, _, err := clients.Create(ctx, issuer.Client{
		ID: "mobile", Name: "Orders app", Public: true, // a native app: no secret, PKCE
		Grants:       []string{issuer.GrantAuthorizationCode, issuer.GrantRefreshToken},
		Scopes:       []string{"orders:read"},
		Audience:     []string{"orders-api"},
		RedirectURIs: []string{"com.example.orders:/callback"},
	})
	if err != nil {
		panic(err)
	}
	authorize, err := issuer.NewAuthorizeHandler(issuer.AuthorizeConfig{
		Issuer: "https://auth.example.com", Clients: clients, Grants: grants,
		Interact: func(w http.ResponseWriter, r *http.Request, req *issuer.AuthorizationRequest) {
			// The provider's login and consent page: here the user is
			// signed in already and allows everything asked for.
			fmt.Println("consent:", req.Client.Name, req.Scopes)
			if err := req.Approve(w, r, "user-42", nil); err != nil {
				fmt.Println(err)
			}
		},
	})
	if err != nil {
		panic(err)
	}
	token, _ := issuer.NewTokenHandler(issuer.TokenConfig{
		Clients: clients, Minter: minter, Sessions: sessions, CodeGrants: grants,
		Grants: []string{issuer.GrantAuthorizationCode, issuer.GrantRefreshToken},
	})

	verifier := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" // the app's secret of this request
	q := url.Values{
		"response_type": {"code"}, "client_id": {"mobile"}, "state": {"af0ifjsldkj"},
		"code_challenge": {issuer.S256Challenge(verifier)}, "code_challenge_method": {"S256"},
	}
	w := httptest.NewRecorder()
	authorize.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil))
	back, _ := url.Parse(w.Header().Get("Location"))
	fmt.Println(w.Code, back.Scheme+":"+back.Path, back.Query().Get("state"), back.Query().Get("iss"))

	body := url.Values{
		"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")},
		"client_id": {"mobile"}, "code_verifier": {verifier},
	}
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(body.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w = httptest.NewRecorder()
	token.ServeHTTP(w, r)
	var resp struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		Scope        string `json:"scope"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &resp)
	fmt.Println(w.Code, resp.AccessToken != "", resp.RefreshToken != "", resp.Scope)
	// Output:
	// consent: Orders app [orders:read]
	// 302 com.example.orders:/callback af0ifjsldkj https://auth.example.com
	// 200 true true orders:read
}
