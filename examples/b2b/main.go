// Command b2b is a B2B API in the envelope style, guarded by tollgate.
//
// An account logs in with POST /login {"username","password"} and gets a JWT
// access token (1 hour) and a refresh token (7 days), both signed with HS256
// under the API's own secret. POST /token/refresh {"refresh_token"} returns a
// new access token. POST /logout revokes the access token it is called with,
// by its "jti", and the session's refresh token: the next request with either
// is refused. A refresh token is never accepted as an access token, nor an
// access token as a refresh token: each kind has its own "typ" header
// ("at+jwt", "rt+jwt") and audience, and its own verifier.
//
// An account may have its own IP allow-list, and it covers login and refresh
// too: the account is read from the login body or the refresh token, and an
// address outside its list is refused with 403 before the password or token
// is looked at. The addresses on the static deny list are refused with 403
// before anything else, on every route.
//
// Every refusal is an errors.Envelope body,
// {"error":{"name":"UnauthorizedError","code":"UNAUTHORIZED","message":"…"}}:
// 401 UnauthorizedError for a missing, invalid, expired or revoked token or a
// wrong password, 403 ForbiddenError for an address not allowed, 400
// ValidationException/VALIDATION_FAILURE for a login without a username or
// password, 400 SyntaxError/SYNTAX_ERROR for a body that is not JSON.
//
// tollgate only verifies tokens; this service mints its own with jwx, the
// JOSE library tollgate's verifier already depends on, and verifies them
// exactly as any other issuer's.
//
// Run it with
//
//	go run ./examples/b2b
//
// and try the curl commands it prints.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	stderrors "errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	jwxjwt "github.com/lestrrat-go/jwx/v3/jwt"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/ipfilter"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/revocation"
)

const (
	issuer          = "https://b2b.example"
	accessAudience  = "b2b-api"
	refreshAudience = "b2b-api/token/refresh"
	accessLifetime  = time.Hour
	refreshLifetime = 7 * 24 * time.Hour
)

// config is what the API is built from.
type config struct {
	// Secret signs and verifies every token (HS256); at least 32 bytes.
	Secret []byte
	// Passwords are the accounts' passwords. A real service keeps password
	// hashes (bcrypt, argon2id), never passwords.
	Passwords map[string]string
	// Accounts holds each account's own IP allow-list.
	Accounts *ipfilter.MemoryAccounts
	// TrustedProxies are the load balancers whose X-Forwarded-For is
	// believed; Deny the addresses no one may call from.
	TrustedProxies, Deny []string
	// Now is the clock of every layer; nil means time.Now.
	Now func() time.Time
	// Instrument, if set, wraps each application handler below every guard
	// (metrics, tracing).
	Instrument func(http.Handler) http.Handler
}

// server holds what the handlers share: the two verifiers and the list of
// revoked tokens.
type server struct {
	config
	access, refresh *jwt.Verifier
	revoked         *revocation.Memory
}

// newAPI builds the guarded API. The verifiers stop when ctx is done.
func newAPI(ctx context.Context, cfg config) (http.Handler, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &server{config: cfg, revoked: revocation.NewMemory(revocation.MemoryConfig{Now: cfg.Now})}
	var err error
	if s.access, err = s.verifier(ctx, accessAudience, "at+jwt"); err != nil {
		return nil, err
	}
	if s.refresh, err = s.verifier(ctx, refreshAudience, "rt+jwt"); err != nil {
		return nil, err
	}

	app := func(h http.HandlerFunc) http.Handler {
		if cfg.Instrument != nil {
			return cfg.Instrument(h)
		}
		return h
	}
	allowList := func(account func(*http.Request) (string, error)) func(http.Handler) http.Handler {
		return ipfilter.ForPrincipal(ipfilter.AccountConfig{Lookup: cfg.Accounts, Account: account})
	}
	// Login and refresh check the account's allow-list before their
	// handler looks at the password or token; the other routes as soon as
	// the access token names the account.
	authenticated := middleware.Chain(
		middleware.Authenticate(s.access, middleware.WithRevocation(s.revoked)),
		allowList(ipfilter.BySubject),
	)
	mux := http.NewServeMux()
	mux.Handle("POST /login", allowList(loginAccount)(app(s.login)))
	mux.Handle("POST /token/refresh", allowList(s.refreshAccount)(app(s.refreshToken)))
	mux.Handle("POST /logout", authenticated(app(s.logout)))
	mux.Handle("GET /invoices", authenticated(app(invoices)))

	return middleware.Chain(
		tgerrors.Use(tgerrors.Envelope),
		// The static lists come first, before any route's checks.
		ipfilter.New(ipfilter.Config{TrustedProxies: cfg.TrustedProxies, Deny: cfg.Deny}),
	)(mux), nil
}

func (s *server) verifier(ctx context.Context, audience, typ string) (*jwt.Verifier, error) {
	return jwt.NewVerifier(ctx, jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer:      issuer,
			HMACSecret:  s.Secret,
			Algorithms:  []string{"HS256"},
			Audiences:   []string{audience},
			RequiredTyp: typ,
		}},
		Now: s.Now,
	})
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// loginAccount names the account a login is for, so that its allow-list is
// checked before the password. A body that names none is left to the
// handler to refuse.
func loginAccount(r *http.Request) (string, error) {
	var body loginRequest
	if peekJSON(r, &body) != nil {
		return "", nil
	}
	return body.Username, nil
}

// refreshAccount names the account of a valid refresh token. An invalid one
// names none and is left to the handler to refuse.
func (s *server) refreshAccount(r *http.Request) (string, error) {
	var body refreshRequest
	if peekJSON(r, &body) != nil {
		return "", nil
	}
	p, err := s.refresh.Verify(r.Context(), body.RefreshToken)
	if err != nil {
		return "", nil
	}
	return p.Subject(), nil
}

var errBadLogin = &tgerrors.Error{Kind: "invalid_credentials", Status: http.StatusUnauthorized, Message: "The username or password is wrong"}

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	var body loginRequest
	if !decodeJSON(w, r, &body) {
		return
	}
	if body.Username == "" || body.Password == "" {
		tgerrors.Write(w, r, tgerrors.New(tgerrors.Validation, "username and password are required"))
		return
	}
	want, ok := s.Passwords[body.Username]
	if !ok || subtle.ConstantTimeCompare([]byte(body.Password), []byte(want)) != 1 {
		tgerrors.Write(w, r, errBadLogin)
		return
	}
	session := rand.Text()
	refresh, err := s.mint(body.Username, session, refreshAudience, "rt+jwt", session, refreshLifetime)
	if err != nil {
		tgerrors.Write(w, r, tgerrors.Wrap(tgerrors.Unavailable, "", err))
		return
	}
	s.issueAccess(w, r, body.Username, session, map[string]any{"refresh_token": refresh})
}

// issueAccess answers with a new access token for account's session, and
// the extra members of the response.
func (s *server) issueAccess(w http.ResponseWriter, r *http.Request, account, session string, extra map[string]any) {
	access, err := s.mint(account, session, accessAudience, "at+jwt", rand.Text(), accessLifetime)
	if err != nil {
		tgerrors.Write(w, r, tgerrors.Wrap(tgerrors.Unavailable, "", err))
		return
	}
	resp := map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": int(accessLifetime.Seconds())}
	for k, v := range extra {
		resp[k] = v
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *server) refreshToken(w http.ResponseWriter, r *http.Request) {
	var body refreshRequest
	if !decodeJSON(w, r, &body) {
		return
	}
	if body.RefreshToken == "" {
		tgerrors.Write(w, r, tgerrors.New(tgerrors.Validation, "refresh_token is required"))
		return
	}
	p, err := s.refresh.Verify(r.Context(), body.RefreshToken)
	switch tgerrors.KindOf(err) {
	case "":
	case tgerrors.ExpiredToken:
		tgerrors.Write(w, r, tgerrors.Wrap(tgerrors.ExpiredToken, "The refresh token expired", err))
		return
	default:
		tgerrors.Write(w, r, tgerrors.Wrap(tgerrors.InvalidToken, "The refresh token is invalid", err))
		return
	}
	revoked, err := s.revoked.Revoked(r.Context(), body.RefreshToken, p)
	switch {
	case err != nil:
		tgerrors.Write(w, r, tgerrors.Wrap(tgerrors.Unavailable, "", err))
		return
	case revoked:
		tgerrors.Write(w, r, tgerrors.New(tgerrors.InvalidToken, "The refresh token was revoked"))
		return
	}
	s.issueAccess(w, r, p.Subject(), p.TokenID(), nil)
}

// logout revokes the access token and its session's refresh token, each
// until it would have expired anyway.
func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	p, _ := principal.From(r.Context())
	err := stderrors.Join(
		s.revoked.RevokeID(p.TokenID(), p.ExpiresAt()),
		s.revoked.RevokeID(p.StringClaim("sid"), p.IssuedAt().Add(refreshLifetime)),
	)
	if err != nil {
		tgerrors.Write(w, r, tgerrors.Wrap(tgerrors.Unavailable, "", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func invoices(w http.ResponseWriter, r *http.Request) {
	p, _ := principal.From(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"account": p.Subject(), "invoices": []string{"inv_1", "inv_2"}})
}

// mint signs a token of the given typ for account. Refresh tokens use the
// session id as their jti; access tokens carry it as "sid", so logout can
// end the session.
func (s *server) mint(account, session, audience, typ, jti string, lifetime time.Duration) (string, error) {
	now := s.Now()
	tok, err := jwxjwt.NewBuilder().
		Issuer(issuer).Subject(account).Audience([]string{audience}).JwtID(jti).
		IssuedAt(now).Expiration(now.Add(lifetime)).Claim("sid", session).
		Build()
	if err != nil {
		return "", err
	}
	h := jws.NewHeaders()
	if err := h.Set("typ", typ); err != nil {
		return "", err
	}
	signed, err := jwxjwt.Sign(tok, jwxjwt.WithKey(jwa.HS256(), s.Secret, jws.WithProtectedHeaders(h)))
	return string(signed), err
}

const maxBodyBytes = 16 << 10

// peekJSON decodes the request body into v and leaves the body readable
// again, for a handler that runs after an allow-list check that read it.
func peekJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return json.Unmarshal(b, v)
}

// decodeJSON decodes the request body into v, or writes the refusal: 400
// SyntaxError for a body that is not JSON, 400 ValidationException for one
// whose fields have the wrong types.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	err := peekJSON(r, v)
	var typeErr *json.UnmarshalTypeError
	switch {
	case stderrors.As(err, &typeErr):
		tgerrors.Write(w, r, tgerrors.New(tgerrors.Validation, "A field of the request body has the wrong type"))
	case err != nil:
		tgerrors.Write(w, r, tgerrors.New(tgerrors.Syntax, "The request body is not valid JSON"))
	}
	return err == nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	if err := run(*addr); err != nil {
		log.Fatal(err)
	}
}

// run serves the API on addr, with two accounts: acme, restricted to
// 203.0.113.0/24, and globex, unrestricted.
func run(addr string) error {
	accounts := &ipfilter.MemoryAccounts{}
	if err := accounts.Set("acme", "203.0.113.0/24"); err != nil { // acme calls only from its office
		return err
	}
	api, err := newAPI(context.Background(), config{
		Secret:    []byte(rand.Text() + rand.Text()), // 260 random bits
		Passwords: map[string]string{"acme": "acme-password", "globex": "globex-password"},
		Accounts:  accounts,
		Deny:      []string{"198.51.100.0/24"},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	fmt.Printf(`B2B API on %[1]s; acme may call only from 203.0.113.0/24, globex from anywhere. Try:

  # globex logs in; use its access_token and refresh_token below
  curl -i -d '{"username":"globex","password":"globex-password"}' %[1]s/login
  curl -i -H "Authorization: Bearer $ACCESS" %[1]s/invoices
  curl -i -d '{"refresh_token":"'$REFRESH'"}' %[1]s/token/refresh
  curl -i -X POST -H "Authorization: Bearer $ACCESS" %[1]s/logout   # then /invoices is 401

  # acme may not call from this machine: 403 before the password is checked
  curl -i -d '{"username":"acme","password":"wrong"}' %[1]s/login

  # 400 SyntaxError, 400 ValidationException
  curl -i -d 'username=globex' %[1]s/login
  curl -i -d '{"username":"globex"}' %[1]s/login

`, base)
	return http.Serve(ln, api)
}
