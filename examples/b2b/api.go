package main

import (
	"bytes"
	"context"
	"encoding/json"
	stderrors "errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/examples/internal/demo"
	"github.com/tollgate/tollgate/ipfilter"
	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/revocation"
)

const (
	issuerURL = "https://b2b.example"
	audience  = "b2b-api"
	// clientID is the provider's own login page: a public client (no
	// secret), the one client of this API.
	clientID        = "b2b-web"
	accessLifetime  = time.Hour
	refreshLifetime = 7 * 24 * time.Hour
	maxBodyBytes    = 16 << 10
)

// revocationList refuses access tokens by their session: a
// revocation.Memory or a redisrevocation.Store.
type revocationList = demo.SessionRevocations

// config is what the API is built from. Nil stores are memory ones.
type config struct {
	// Users are the accounts' password hashes (argon2id PHC strings), by
	// username; the username is the account, the tokens' subject and the
	// key of its IP allow-list.
	Users map[string]string
	// Login, if set, checks passwords instead of Users.
	Login issuer.LoginFunc
	// Accounts holds each account's own IP allow-list.
	Accounts ipfilter.AccountLookup
	// Keys keeps the signing keys (pgstore.KeyStore with -postgres);
	// Sessions the refresh sessions (pgstore.SessionStore).
	Keys     issuer.KeyStore
	Sessions issuer.SessionStore
	// Revoked refuses the access tokens of ended sessions; nil means a
	// revocation.Memory.
	Revoked revocationList
	// TrustedProxies are the load balancers whose X-Forwarded-For is
	// believed; Deny the addresses no one may call from.
	TrustedProxies, Deny []string
	// Now is the clock of every layer; nil means time.Now.
	Now func() time.Time
	// Instrument, if set, wraps each application handler below every guard
	// (metrics, tracing; the tests count the requests that reach one).
	Instrument func(http.Handler) http.Handler
}

// api is the built API and the key ring, which main rotates.
type api struct {
	http.Handler
	ring     *issuer.KeyRing
	verifier *jwt.Verifier
}

// newAPI builds the guarded API. The verifier stops when ctx is done.
func newAPI(ctx context.Context, cfg config) (*api, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Revoked == nil {
		cfg.Revoked = demo.MemorySessions{Memory: revocation.NewMemory(revocation.MemoryConfig{Now: cfg.Now})}
	}
	ring, err := issuer.NewKeyRing(ctx, issuer.KeyRingConfig{Store: cfg.Keys, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	minter, err := issuer.NewMinter(issuer.MinterConfig{Issuer: issuerURL, Keys: ring, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	clients, err := issuer.NewClients(issuer.ClientsConfig{Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	if _, _, err := clients.Create(ctx, issuer.Client{
		ID: clientID, Name: "B2B portal", Grants: []string{issuer.GrantPassword, issuer.GrantRefreshToken},
		Audience: []string{audience}, AccessTokenLifetime: accessLifetime,
		RefreshAbsoluteLifetime: refreshLifetime,
	}); err != nil {
		return nil, err
	}
	revoked := cfg.Revoked
	sessions, err := issuer.NewSessions(issuer.SessionsConfig{
		Store: cfg.Sessions, AbsoluteLifetime: refreshLifetime, Now: cfg.Now,
		// A reused refresh token or a logout ends the session; its access
		// tokens are refused from then on, by their "sid".
		OnSessionEnded: func(ctx context.Context, sid string, until time.Time) {
			if err := revoked.RevokeSession(ctx, sid, until); err != nil {
				slog.Default().ErrorContext(ctx, "b2b: the access tokens of an ended session are not revoked", "sid", sid, "error", err)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	verifier, err := jwt.NewVerifier(ctx, jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer: issuerURL, KeySource: ring, Audiences: []string{audience},
			Algorithms: []string{"ES256"}, RequiredTyp: "at+jwt",
		}},
		Now: cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	users := cfg.Login
	if users == nil {
		users = passwordChecker(cfg.Users)
	}
	token := func(grant string) (http.Handler, error) {
		return issuer.NewTokenHandler(issuer.TokenConfig{
			Clients: clients, Minter: minter, Sessions: sessions,
			Grants: []string{grant}, Login: users, Accounts: cfg.Accounts,
			FirstPartyClient: clientID, MaxBodyBytes: maxBodyBytes,
			ErrorFormat: envelope, Realm: "b2b",
		})
	}
	login, err := token(issuer.GrantPassword)
	if err != nil {
		return nil, err
	}
	refresh, err := token(issuer.GrantRefreshToken)
	if err != nil {
		return nil, err
	}

	app := func(h http.Handler) http.Handler {
		if cfg.Instrument != nil {
			return cfg.Instrument(h)
		}
		return h
	}
	authenticated := middleware.Chain(
		middleware.Authenticate(verifier, middleware.WithRevocation(cfg.Revoked)),
		ipfilter.ForPrincipal(ipfilter.AccountConfig{Lookup: cfg.Accounts, Account: ipfilter.BySubject}),
	)
	shaped := &tokenShape{sessions: sessions, now: cfg.Now}
	mux := http.NewServeMux()
	mux.Handle("POST /auth/login", app(shaped.wrap(login, "username", "password")))
	mux.Handle("POST /auth/refresh", app(shaped.wrap(refresh, "refresh_token")))
	mux.Handle("POST /auth/logout", authenticated(app(logout(sessions))))
	mux.Handle("GET /api/v1/products", authenticated(app(http.HandlerFunc(products))))
	for _, p := range []string{"/auth/login", "/auth/refresh", "/auth/logout"} {
		mux.Handle(p, tgerrors.MethodNotAllowed(http.MethodPost))
	}
	mux.Handle("/api/v1/products", tgerrors.MethodNotAllowed(http.MethodGet, http.MethodHead))
	mux.Handle("/", tgerrors.NotFound)

	h := middleware.Chain(
		tgerrors.Use(envelope),
		// The static lists come first, before any route's checks.
		ipfilter.New(ipfilter.Config{TrustedProxies: cfg.TrustedProxies, Deny: cfg.Deny}),
	)(mux)
	return &api{Handler: h, ring: ring, verifier: verifier}, nil
}

// envelope is the provider's error body, {"success":false,"error":{"name",
// "code","message"}}: errors.Envelope's error object beside success. A
// wrong password and a bad refresh token (the token endpoint's
// invalid_grant) are 401 UnauthorizedError here.
var envelope = tgerrors.FormatFunc(func(w http.ResponseWriter, r *http.Request, e *tgerrors.Error) {
	out := *e
	if e.Kind == issuer.KindInvalidGrant || e.Kind == issuer.KindInvalidClient {
		out.Status = http.StatusUnauthorized
	}
	var body bytes.Buffer
	inner := &bodyWriter{header: w.Header(), body: &body}
	tgerrors.Envelope.WriteError(inner, r, &out)
	w.Header().Del("Content-Length")
	w.WriteHeader(out.HTTPStatus())
	// errors.Envelope writes {"error":{…}}\n: the same members after success.
	_, _ = io.WriteString(w, `{"success":false,`)
	_, _ = w.Write(bytes.TrimPrefix(body.Bytes(), []byte("{")))
})

// bodyWriter keeps what a format writes, its headers going to the real
// response.
type bodyWriter struct {
	header http.Header
	body   *bytes.Buffer
	status int
}

func (b *bodyWriter) Header() http.Header         { return b.header }
func (b *bodyWriter) WriteHeader(status int)      { b.status = status }
func (b *bodyWriter) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bodyWriter) statusOr(fallback int) int {
	if b.status == 0 {
		return fallback
	}
	return b.status
}

// success writes {"success":true,"data":data}.
func success(w http.ResponseWriter, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(struct {
		Success bool `json:"success"`
		Data    any  `json:"data"`
	}{true, data})
}

// tokenShape puts the token endpoint behind the provider's bodies: it
// checks the request ({"username","password"} or {"refresh_token"}, JSON,
// nothing else: no client credentials, no grant_type), hands the endpoint
// exactly those members, and answers its RFC 6749 §5.1 response as
// {"success":true,"data":{"access_token","refresh_token",
// "access_expires_at","refresh_expires_at","client_id"}}. The endpoint's
// refusals are already in the envelope (TokenConfig.ErrorFormat).
type tokenShape struct {
	sessions *issuer.Sessions
	now      func() time.Time
}

func (s *tokenShape) wrap(endpoint http.Handler, members ...string) http.Handler {
	var required string
	if len(members) == 1 {
		required = members[0] + " is required"
	} else {
		required = strings.Join(members, " and ") + " are required"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		params, ok := decodeJSON(w, r, members)
		if !ok {
			return
		}
		for _, m := range members {
			if params[m] == "" {
				tgerrors.Write(w, r, tgerrors.New(tgerrors.Validation, required))
				return
			}
		}
		clean, _ := json.Marshal(params)
		inner := r.Clone(r.Context())
		inner.Body = io.NopCloser(bytes.NewReader(clean))
		inner.ContentLength = int64(len(clean))
		inner.Header.Set("Content-Type", "application/json")
		inner.Header.Del("Authorization") // the first-party client, never another
		inner.URL.RawQuery = ""

		var buf bytes.Buffer
		rec := &bodyWriter{header: http.Header{}, body: &buf}
		issuedAt := s.now()
		endpoint.ServeHTTP(rec, inner)
		status := rec.statusOr(http.StatusOK)
		if status != http.StatusOK {
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(status)
			_, _ = w.Write(buf.Bytes())
			return
		}
		var tr struct {
			AccessToken  string `json:"access_token"`
			ExpiresIn    int64  `json:"expires_in"`
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.Unmarshal(buf.Bytes(), &tr); err != nil || tr.AccessToken == "" || tr.RefreshToken == "" {
			tgerrors.Write(w, r, tgerrors.Wrap(tgerrors.Internal, "", err))
			return
		}
		// The refresh token lives until its session's end (7 days after the
		// login): rotation does not extend it.
		sess, err := s.sessions.Peek(r.Context(), clientID, tr.RefreshToken)
		if err != nil {
			tgerrors.Write(w, r, tgerrors.Wrap(tgerrors.Unavailable, "", err))
			return
		}
		refreshEnd := issuedAt.Add(sess.IdleLifetime)
		if refreshEnd.After(sess.ExpiresAt) {
			refreshEnd = sess.ExpiresAt
		}
		w.Header().Set("Pragma", "no-cache")
		success(w, tokenData{
			AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken,
			AccessExpiresAt:  issuedAt.Add(time.Duration(tr.ExpiresIn) * time.Second).UTC().Format(time.RFC3339),
			RefreshExpiresAt: refreshEnd.UTC().Format(time.RFC3339),
			ClientID:         clientID,
		})
	})
}

// tokenData is the data of a login or refresh answer.
type tokenData struct {
	AccessToken      string `json:"access_token"`
	RefreshToken     string `json:"refresh_token"`
	AccessExpiresAt  string `json:"access_expires_at"`
	RefreshExpiresAt string `json:"refresh_expires_at"`
	ClientID         string `json:"client_id"`
}

// logout ends the session of the access token it is called with: its
// refresh token is refused from now on, and so is every access token of
// the session (this one included), by its "sid".
func logout(sessions *issuer.Sessions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := principal.From(r.Context())
		sid := p.StringClaim("sid")
		if sid == "" {
			tgerrors.Write(w, r, tgerrors.New(tgerrors.InvalidToken, "The access token has no session"))
			return
		}
		if err := sessions.End(r.Context(), sid); err != nil && !stderrors.Is(err, issuer.ErrNotFound) {
			tgerrors.Write(w, r, tgerrors.Wrap(tgerrors.Unavailable, "", err))
			return
		}
		success(w, map[string]bool{"logged_out": true})
	})
}

type product struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Price int    `json:"price_cents"`
}

func products(w http.ResponseWriter, r *http.Request) {
	success(w, []product{{"prod_1", "Pallet of widgets", 129900}, {"prod_2", "Crate of gadgets", 45000}})
}

// decodeJSON reads the request body, a JSON object whose members are
// among names, each a string, or writes the refusal: 415 for another
// content type, 413 past maxBodyBytes, 400 SyntaxError for a body that is
// not one JSON object, 400 ValidationException for a member of the wrong
// type or one the body may not have.
func decodeJSON(w http.ResponseWriter, r *http.Request, names []string) (map[string]string, bool) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); r.Header.Get("Content-Type") != "" && (err != nil || mt != "application/json") {
		tgerrors.Write(w, r, tgerrors.New(tgerrors.UnsupportedMediaType, "The request body must be application/json"))
		return nil, false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var raw map[string]json.RawMessage
	err := dec.Decode(&raw)
	if err == nil && (raw == nil || dec.More()) {
		err = stderrors.New("not one JSON object")
	}
	var tooLarge *http.MaxBytesError
	switch {
	case stderrors.As(err, &tooLarge):
		tgerrors.Write(w, r, tgerrors.New(tgerrors.PayloadTooLarge, "The request body is too large"))
		return nil, false
	case err != nil:
		tgerrors.Write(w, r, tgerrors.New(tgerrors.Syntax, "The request body is not valid JSON"))
		return nil, false
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if !slices.Contains(names, k) {
			tgerrors.Write(w, r, tgerrors.New(tgerrors.Validation, "The request body may hold only "+strings.Join(names, ", ")))
			return nil, false
		}
		if json.Unmarshal(v, &s) != nil {
			tgerrors.Write(w, r, tgerrors.New(tgerrors.Validation, k+" must be a string"))
			return nil, false
		}
		out[k] = s
	}
	return out, true
}
