package interop

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/jwt"
)

// tollgateIssuer is tollgate's own token side on httptest, stores in
// memory: one token endpoint for client_credentials, the password login
// and refresh_token, and an API guarded by a jwt.Verifier that reads the
// issuer's key ring in-process.
type tollgateIssuer struct {
	*httptest.Server
	api     *guardedAPI
	secrets map[string]string
}

// issuerParts are what both of tollgate's servers here are built on: a
// key ring, a minter and client and session stores, all in memory, for an
// issuer at srv's URL whose routes go on mux.
type issuerParts struct {
	srv      *httptest.Server
	mux      *http.ServeMux
	ring     *issuer.KeyRing
	minter   *issuer.Minter
	clients  *issuer.Clients
	sessions *issuer.Sessions
}

func newIssuerParts(t *testing.T) *issuerParts {
	t.Helper()
	ring, err := issuer.NewKeyRing(context.Background(), issuer.KeyRingConfig{})
	if err != nil {
		t.Fatal(err)
	}
	p := &issuerParts{mux: http.NewServeMux(), ring: ring}
	p.srv = httptest.NewServer(p.mux)
	t.Cleanup(p.srv.Close)
	if p.minter, err = issuer.NewMinter(issuer.MinterConfig{Issuer: p.srv.URL, Keys: ring}); err != nil {
		t.Fatal(err)
	}
	if p.clients, err = issuer.NewClients(issuer.ClientsConfig{Argon2: issuer.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltBytes: 16, KeyBytes: 32}}); err != nil {
		t.Fatal(err)
	}
	if p.sessions, err = issuer.NewSessions(issuer.SessionsConfig{}); err != nil {
		t.Fatal(err)
	}
	return p
}

// api is an API guarded by a jwt.Verifier that reads the ring in-process.
func (p *issuerParts) api(t *testing.T) *guardedAPI {
	t.Helper()
	v, err := jwt.NewVerifier(context.Background(), jwt.Config{Issuers: []jwt.Issuer{{
		Issuer: p.srv.URL, KeySource: p.ring, Audiences: []string{apiAudience},
		Algorithms: []string{"ES256"}, RequiredTyp: "at+jwt",
	}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return newAPI(t, v)
}

func newTollgateIssuer(t *testing.T) *tollgateIssuer {
	t.Helper()
	ctx := context.Background()
	p := newIssuerParts(t)
	ti := &tollgateIssuer{Server: p.srv, secrets: map[string]string{}}
	for _, cl := range []issuer.Client{
		// The client's id and secret hold characters Basic must form-encode.
		{ID: "vendor:1 +x", Grants: []string{issuer.GrantClientCredentials}, Scopes: []string{scopeRead}, Audience: []string{apiAudience}},
		{ID: "app", Grants: []string{issuer.GrantPassword, issuer.GrantRefreshToken}, Scopes: []string{scopeRead}, Audience: []string{apiAudience}},
	} {
		_, s, err := p.clients.Create(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		ti.secrets[cl.ID] = s.Reveal()
	}
	token, err := issuer.NewTokenHandler(issuer.TokenConfig{
		Clients: p.clients, Minter: p.minter, Sessions: p.sessions,
		Grants: []string{issuer.GrantClientCredentials, issuer.GrantPassword, issuer.GrantRefreshToken},
		Login: func(_ context.Context, username, password string) (string, error) {
			if username == "bob" && password == "correct horse" {
				return "user-bob", nil
			}
			return "", issuer.ErrBadCredentials
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	p.mux.Handle("POST /oauth/token", token)
	ti.api = p.api(t)
	return ti
}

func TestXOAuth2GetsClientCredentialsTokensFromTollgatesIssuerInBothAuthStyles(t *testing.T) {
	ti := newTollgateIssuer(t)
	for name, style := range map[string]oauth2.AuthStyle{"Basic": oauth2.AuthStyleInHeader, "body": oauth2.AuthStyleInParams} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cc := clientcredentials.Config{
				ClientID: "vendor:1 +x", ClientSecret: ti.secrets["vendor:1 +x"], TokenURL: ti.URL + "/oauth/token",
				Scopes: []string{scopeRead}, AuthStyle: style,
			}
			tok, err := cc.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "Bearer" || tok.RefreshToken != "" || time.Until(tok.Expiry) < 59*time.Minute {
				t.Fatalf("token type %q, refresh %v, expiry %v", tok.TokenType, tok.RefreshToken != "", tok.Expiry)
			}
			ti.api.call(t, "/orders", tok.AccessToken, wantOK)
			ti.api.call(t, "/admin", tok.AccessToken, wantInsufficient)
			if p := ti.api.principal(); p.ClientID() != "vendor:1 +x" {
				t.Fatalf("client %q", p.ClientID())
			}
			// A wrong secret is x/oauth2's RetrieveError, invalid_client.
			cc.ClientSecret = "wrong"
			_, err = cc.Token(ctx)
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
				t.Fatalf("err %v", err)
			}
		})
	}
}

func TestXOAuth2LogsInAndRefreshesThroughTollgatesIssuer(t *testing.T) {
	ti := newTollgateIssuer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conf := oauth2.Config{
		ClientID: "app", ClientSecret: ti.secrets["app"],
		Endpoint: oauth2.Endpoint{TokenURL: ti.URL + "/oauth/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
	first, err := conf.PasswordCredentialsToken(ctx, "bob", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if first.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	ti.api.call(t, "/orders", first.AccessToken, wantOK)
	sid := ti.api.principal().StringClaim("sid")

	// An expired token makes the TokenSource refresh on the refresh grant.
	expired := *first
	expired.Expiry = time.Now().Add(-time.Minute)
	next, err := conf.TokenSource(ctx, &expired).Token()
	if err != nil {
		t.Fatal(err)
	}
	if next.AccessToken == first.AccessToken || next.RefreshToken == "" || next.RefreshToken == first.RefreshToken {
		t.Fatal("the refresh did not rotate")
	}
	ti.api.call(t, "/orders", next.AccessToken, wantOK)
	if p := ti.api.principal(); p.Subject() != "user-bob" || p.StringClaim("sid") != sid {
		t.Fatalf("subject %q, sid %q (want %q)", p.Subject(), p.StringClaim("sid"), sid)
	}

	// The first refresh token again is reuse: invalid_grant, and the
	// successor is refused too.
	for _, rt := range []string{first.RefreshToken, next.RefreshToken} {
		_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Fatalf("err %v", err)
		}
	}
	// A wrong password is invalid_grant.
	_, err = conf.PasswordCredentialsToken(ctx, "bob", "nope")
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || re.Response.StatusCode != 400 {
		t.Fatalf("err %v", err)
	}
}
