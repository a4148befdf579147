package issuer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
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
