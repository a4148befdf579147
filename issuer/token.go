package issuer

import (
	"context"
	stderrors "errors"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/internal/reqstate"
	"github.com/tollgate/tollgate/ipfilter"
)

// DefaultTokenBodyBytes bounds the body of a request to NewTokenHandler
// and NewRevocationHandler: 64 KiB.
const DefaultTokenBodyBytes = 64 << 10

// DefaultEndpointTimeout bounds the work of one request to the token,
// revocation and authorization endpoints: the stores (PostgreSQL), the
// client-secret hash and the login. A store that does not answer within
// it is an outage, answered 503 temporarily_unavailable, and nothing is
// issued.
const DefaultEndpointTimeout = 5 * time.Second

// withDeadline bounds r's context by d.
func withDeadline(r *http.Request, d time.Duration) (*http.Request, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(r.Context(), d)
	return r.WithContext(ctx), cancel
}

// The kinds of the token endpoint's refusals, for an error format of the
// provider's own (TokenConfig.ErrorFormat): RFC 6749 §5.2's codes that
// package errors has no kind for. The others are errors.InvalidRequest,
// errors.PayloadTooLarge (413), errors.WrongMethod (405),
// errors.UnsupportedMediaType (415), errors.IPDenied (403),
// errors.Unavailable (503) and errors.Internal (500).
const (
	// KindInvalidClient: client authentication failed. 401, with a Basic
	// challenge.
	KindInvalidClient tgerrors.Kind = "invalid_client"
	// KindInvalidGrant: a wrong username or password, an unknown, used,
	// expired or another client's refresh token. 400.
	KindInvalidGrant tgerrors.Kind = "invalid_grant"
	// KindUnauthorizedClient: the client may not use the grant. 400.
	KindUnauthorizedClient tgerrors.Kind = "unauthorized_client"
	// KindUnsupportedGrantType: the endpoint does not serve the grant. 400.
	KindUnsupportedGrantType tgerrors.Kind = "unsupported_grant_type"
	// KindInvalidScope: a scope the client, the grant or the refresh
	// session does not give. 400.
	KindInvalidScope tgerrors.Kind = "invalid_scope"
)

// ErrBadCredentials is what a TokenConfig.Login func returns (errors.Is)
// for a wrong username or password: the endpoint answers invalid_grant.
// Any other error is a failure of the provider's store, answered 503.
var ErrBadCredentials = stderrors.New("issuer: wrong username or password")

// LoginFunc checks a user's password and returns the subject of the
// user's tokens, or an error that is ErrBadCredentials for a wrong
// username or password (errors.Is).
type LoginFunc func(ctx context.Context, username, password string) (subject string, err error)

// TokenConfig configures NewTokenHandler.
type TokenConfig struct {
	// Clients authenticates the client, required.
	Clients *Clients
	// Minter mints the access tokens, required. Its GrantLifetimes apply
	// per grant, unless the client has its own AccessTokenLifetime.
	Minter *Minter
	// Grants are the grant types the endpoint serves: GrantClientCredentials,
	// GrantRefreshToken, GrantPassword (the first-party login),
	// GrantAuthorizationCode. Empty means client_credentials alone.
	// refresh_token needs Sessions; password needs Login and Sessions;
	// authorization_code needs CodeGrants and Sessions.
	Grants []string
	// CodeGrants redeems the codes of the authorization endpoint: the
	// AuthorizeConfig.Grants that issued them.
	CodeGrants *Grants
	// Sessions starts the login's refresh session and rotates it on
	// refresh.
	Sessions *Sessions
	// Login checks a username and password (the password grant, RFC 6749
	// §4.3, for the provider's own login form or app).
	Login LoginFunc
	// Accounts, if set, is the accounts' IP allow-lists (ipfilter): a login
	// is refused before its password is checked, and a refresh before its
	// token rotates, when the client IP is not in the account's list. The
	// account is the username, at login and at refresh alike: the session
	// keeps the username its login used (Session.Account), whatever
	// subject Login returned. (A session stored without one, from before
	// issuer/pgstore's migration 0005, is checked by its subject.) The
	// refusal is invalid_grant (errors.IPDenied, 403, in a provider's
	// format).
	Accounts ipfilter.AccountLookup
	// ClientIP resolves the client IP for Accounts; nil means
	// ipfilter.ClientIP (the address an ipfilter layer above resolved, or
	// the connection's).
	ClientIP func(r *http.Request) (netip.Addr, bool)
	// FirstPartyClient, if set, is the registered client a request that
	// authenticates no client is taken for, on the password and
	// refresh_token grants only: the provider's own login page or app,
	// which holds no secret (a public client, RFC 6749 §2.1; register it
	// with Client.Public). It is looked up, not authenticated; its
	// registration still governs grants and scopes. A confidential
	// registration that also has the authorization_code grant is not
	// stood in for: it authenticates on every grant, since the refresh
	// tokens of its codes must not work without its secret.
	FirstPartyClient string
	// MaxBodyBytes bounds the request body; zero means
	// DefaultTokenBodyBytes. A larger body is 413.
	MaxBodyBytes int64
	// Timeout bounds the stores', the secret hash's and Login's work for
	// one request; zero means DefaultEndpointTimeout (5 s). Past it the
	// answer is 503 temporarily_unavailable.
	Timeout time.Duration
	// ErrorFormat, if set, writes the refusals in the provider's own
	// format (errors.Format) instead of RFC 6749 §5.2's JSON; without it,
	// a format chosen by errors.Use above the handler is honoured, except
	// errors.OAuth, whose token-endpoint form is §5.2. Every refusal keeps
	// Cache-Control: no-store, and its challenge is Basic: a 401 is sent
	// with WWW-Authenticate: Basic, and no other refusal with a challenge.
	ErrorFormat tgerrors.Format
	// Realm is the realm of the Basic challenge; default "token".
	Realm string
	// Log receives failures of the stores or the minter (never a secret);
	// nil means slog.Default().
	Log *slog.Logger

	// formOnly keeps NewClientCredentialsHandler's original body rules.
	formOnly bool
}

// NewTokenHandler returns one token endpoint (RFC 6749 §3.2) for the
// grants in cfg.Grants:
//
//   - client_credentials (§4.4): an access token for the client itself,
//     no refresh token.
//   - password (§4.3), the first-party login: username and password go to
//     cfg.Login (after the account's IP allow-list, if cfg.Accounts); the
//     answer has an access token for the subject and the first refresh
//     token of a new session.
//   - refresh_token (§6): the token rotates through cfg.Sessions; the
//     answer has the new access token, with the session's "sid", and the
//     successor refresh token. A token used before ends its session
//     (RFC 9700 §4.14.2), a token of another client does not rotate, and
//     both are invalid_grant; scope may name fewer scopes than the session
//     holds, never more.
//
// The body is application/x-www-form-urlencoded, multipart/form-data
// (curl -F; no files) or a JSON object of strings, at most MaxBodyBytes
// (64 KiB); a parameter given twice is refused, and so are parameters in
// the URL. In a JSON body without grant_type the grant follows from the
// fields: username → password, refresh_token → refresh_token, code →
// authorization_code, else client_credentials. The client authenticates by HTTP Basic (id and
// secret form-encoded, §2.3.1) or client_id and client_secret in the
// body, never both (§2.3), or is cfg.FirstPartyClient.
//
// A client's registration restricts scopes per grant (Client.GrantScopes).
// The answer is §5.1's JSON with Cache-Control: no-store and Pragma:
// no-cache; refusals are §5.2's JSON (see TokenConfig.ErrorFormat for the
// provider's own), and a refused request changes nothing: no token is
// minted, no session started or rotated.
func NewTokenHandler(cfg TokenConfig) (http.Handler, error) {
	if cfg.Clients == nil || cfg.Minter == nil {
		return nil, stderrors.New("issuer: TokenConfig needs Clients and Minter")
	}
	if len(cfg.Grants) == 0 {
		cfg.Grants = []string{GrantClientCredentials}
	}
	for _, g := range cfg.Grants {
		switch g {
		case GrantClientCredentials:
		case GrantRefreshToken:
			if cfg.Sessions == nil {
				return nil, stderrors.New("issuer: TokenConfig: the refresh_token grant needs Sessions")
			}
		case GrantPassword:
			if cfg.Sessions == nil || cfg.Login == nil {
				return nil, stderrors.New("issuer: TokenConfig: the password grant needs Login and Sessions")
			}
		case GrantAuthorizationCode:
			if cfg.Sessions == nil || cfg.CodeGrants == nil {
				return nil, stderrors.New("issuer: TokenConfig: the authorization_code grant needs CodeGrants and Sessions")
			}
			if cfg.CodeGrants.cfg.Sessions != cfg.Sessions {
				return nil, stderrors.New("issuer: TokenConfig: CodeGrants must end the same Sessions the endpoint starts")
			}
		default:
			return nil, stderrors.New("issuer: TokenConfig: unsupported grant " + g)
		}
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultTokenBodyBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultEndpointTimeout
	}
	if cfg.Realm == "" {
		cfg.Realm = "token"
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = ipfilter.ClientIP
	}
	return &tokenHandler{cfg: cfg}, nil
}

type tokenHandler struct {
	cfg TokenConfig
}

// refusal is one refusal: §5.2's code and status, and the kind a
// provider's format sees.
type refusal struct {
	status int
	code   string
	desc   string
	kind   tgerrors.Kind
}

func invalidRequest(desc string) *refusal {
	return &refusal{http.StatusBadRequest, "invalid_request", desc, tgerrors.InvalidRequest}
}

var (
	errInvalidClient  = &refusal{http.StatusUnauthorized, "invalid_client", "client authentication failed", KindInvalidClient}
	errInvalidGrant   = &refusal{http.StatusBadRequest, "invalid_grant", "the grant is invalid, expired or revoked", KindInvalidGrant}
	errBadCredentials = &refusal{http.StatusBadRequest, "invalid_grant", "wrong username or password", KindInvalidGrant}
	errIPDenied       = &refusal{http.StatusBadRequest, "invalid_grant", "sign-in is not allowed from this address", tgerrors.IPDenied}
	errInvalidScope   = &refusal{http.StatusBadRequest, "invalid_scope", "a requested scope is not granted", KindInvalidScope}
	errUnavailable    = &refusal{http.StatusServiceUnavailable, "temporarily_unavailable", "try again later", tgerrors.Unavailable}
	errServer         = &refusal{http.StatusInternalServerError, "server_error", "the token could not be issued", tgerrors.Internal}
	errMethod         = &refusal{http.StatusMethodNotAllowed, "invalid_request", "use POST", tgerrors.WrongMethod}
	errTooLarge       = &refusal{http.StatusRequestEntityTooLarge, "invalid_request", "the body is too large", tgerrors.PayloadTooLarge}
)

func unauthorizedClient(grant string) *refusal {
	return &refusal{http.StatusBadRequest, "unauthorized_client", "the client may not use " + grant, KindUnauthorizedClient}
}

var errUnsupportedGrant = &refusal{http.StatusBadRequest, "unsupported_grant_type", "the grant type is not supported here", KindUnsupportedGrantType}

// formatOf is the provider's format for r, or nil for §5.2's.
func formatOf(configured tgerrors.Format, r *http.Request) tgerrors.Format {
	f := configured
	if f == nil {
		if s := reqstate.From(r.Context()); s != nil {
			f, _ = s.Format().(tgerrors.Format)
		}
	}
	if _, oauth := f.(tgerrors.OAuthFormat); oauth {
		return nil
	}
	return f
}

// writeRefusal writes e as §5.2's JSON or in format f, with no-store, a
// Basic challenge on a 401 and no other challenge.
func writeRefusal(w http.ResponseWriter, r *http.Request, f tgerrors.Format, realm string, e *refusal) {
	if e.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	challenge := `Basic realm="` + realm + `", charset="UTF-8"`
	if f == nil {
		if e.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", challenge)
		}
		writeJSON(w, e.status, struct {
			Error       string `json:"error"`
			Description string `json:"error_description,omitempty"`
		}{e.code, e.desc})
		return
	}
	status := e.status
	if e.kind == tgerrors.IPDenied {
		status = http.StatusForbidden
	}
	te := &tgerrors.Error{Kind: e.kind, Status: status, Message: e.desc}
	rw := &refusalWriter{ResponseWriter: w, challenge: challenge, status: status}
	f.WriteError(rw, r, te)
	if !rw.wrote {
		rw.WriteHeader(status)
	}
}

// refusalWriter fixes a format's headers as the token endpoint needs
// them: the Basic challenge instead of a Bearer one, and no-store; a
// format that writes a body without a status gets the refusal's.
type refusalWriter struct {
	http.ResponseWriter
	challenge string
	status    int
	wrote     bool
}

func (w *refusalWriter) WriteHeader(status int) {
	if w.wrote {
		return
	}
	w.wrote = true
	h := w.Header()
	h.Del("WWW-Authenticate")
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", w.challenge)
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.ResponseWriter.WriteHeader(status)
}

func (w *refusalWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(w.status)
	}
	return w.ResponseWriter.Write(b)
}

func (h *tokenHandler) refuse(w http.ResponseWriter, r *http.Request, e *refusal) {
	writeRefusal(w, r, formatOf(h.cfg.ErrorFormat, r), h.cfg.Realm, e)
}

// tokenResponse is RFC 6749 §5.1's answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

func (h *tokenHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		h.refuse(w, r, errMethod)
		return
	}
	r, cancel := withDeadline(r, h.cfg.Timeout)
	defer cancel()
	p, e := readParams(w, r, h.cfg.MaxBodyBytes, h.cfg.formOnly)
	if e != nil {
		h.refuse(w, r, e)
		return
	}
	grant := p.get("grant_type")
	if grant == "" && p.json {
		switch {
		case p.has("username"):
			grant = GrantPassword
		case p.has("refresh_token"):
			grant = GrantRefreshToken
		case p.has("code"):
			grant = GrantAuthorizationCode
		default:
			grant = GrantClientCredentials
		}
	}
	if grant == "" {
		h.refuse(w, r, invalidRequest("grant_type is missing"))
		return
	}
	if !slices.Contains(h.cfg.Grants, grant) {
		h.refuse(w, r, errUnsupportedGrant)
		return
	}
	ctx := r.Context()
	// The first-party client stands in on its login and its refresh
	// alone: a code it redeems, like any confidential client's, needs its
	// secret (RFC 6749 §4.1.3).
	firstParty := ""
	if grant == GrantPassword || grant == GrantRefreshToken {
		firstParty = h.cfg.FirstPartyClient
	}
	client, how, e := authenticateClient(ctx, r, p, h.cfg.Clients, h.cfg.Log, "token endpoint", firstParty)
	if e == nil && how == byClientID && grant != GrantAuthorizationCode && grant != GrantRefreshToken {
		e = errInvalidClient // a public client has no grant of its own
	}
	if e != nil {
		h.refuse(w, r, e)
		return
	}
	if !client.AllowsGrant(grant) {
		h.refuse(w, r, unauthorizedClient(grant))
		return
	}
	var resp tokenResponse
	switch grant {
	case GrantClientCredentials:
		e = h.clientCredentials(ctx, &client, p, &resp)
	case GrantPassword:
		e = h.login(r, &client, p, &resp)
	case GrantRefreshToken:
		e = h.refresh(r, &client, p, &resp)
	case GrantAuthorizationCode:
		e = h.authorizationCode(r, &client, p, &resp)
	}
	if e != nil {
		h.refuse(w, r, e)
		return
	}
	resp.TokenType = "Bearer"
	writeJSON(w, http.StatusOK, resp)
}

func (h *tokenHandler) mint(ctx context.Context, req AccessRequest, resp *tokenResponse) *refusal {
	at, err := h.cfg.Minter.Mint(ctx, req)
	if err != nil {
		h.cfg.Log.ErrorContext(ctx, "tollgate: token endpoint: minting failed", "client_id", req.ClientID, "error", err)
		return errServer
	}
	resp.AccessToken = at.Token.Reveal()
	resp.ExpiresIn = int64(at.Lifetime.Seconds())
	resp.Scope = strings.Join(req.Scopes, " ")
	return nil
}

func (h *tokenHandler) clientCredentials(ctx context.Context, client *Client, p params, resp *tokenResponse) *refusal {
	scopes, err := client.GrantScopesFor(GrantClientCredentials, strings.Fields(p.get("scope")))
	if err != nil {
		return errInvalidScope
	}
	return h.mint(ctx, AccessRequest{
		ClientID: client.ID, Audience: client.Audience, Scopes: scopes,
		Grant: GrantClientCredentials, Lifetime: client.AccessTokenLifetime,
	}, resp)
}

// allowedFrom checks account's allow-list against the client IP.
func (h *tokenHandler) allowedFrom(r *http.Request, account string) *refusal {
	if h.cfg.Accounts == nil {
		return nil
	}
	addr, _ := h.cfg.ClientIP(r)
	ok, err := ipfilter.Allowed(r.Context(), h.cfg.Accounts, account, addr)
	if err != nil {
		h.cfg.Log.ErrorContext(r.Context(), "tollgate: token endpoint: account allow-list lookup failed", "error", err)
		return errUnavailable
	}
	if !ok {
		return errIPDenied
	}
	return nil
}

func (h *tokenHandler) login(r *http.Request, client *Client, p params, resp *tokenResponse) *refusal {
	ctx := r.Context()
	username, password := p.get("username"), p.get("password")
	if username == "" || !p.has("password") {
		return invalidRequest("username and password are required")
	}
	scopes, err := client.GrantScopesFor(GrantPassword, strings.Fields(p.get("scope")))
	if err != nil {
		return errInvalidScope
	}
	if e := h.allowedFrom(r, username); e != nil {
		return e
	}
	subject, err := h.cfg.Login(ctx, username, password)
	switch {
	case stderrors.Is(err, ErrBadCredentials):
		return errBadCredentials
	case err != nil:
		h.cfg.Log.ErrorContext(ctx, "tollgate: token endpoint: login failed", "client_id", client.ID, "error", err)
		return errUnavailable
	case subject == "":
		h.cfg.Log.ErrorContext(ctx, "tollgate: token endpoint: Login returned no subject", "client_id", client.ID)
		return errServer
	}
	rt, err := h.cfg.Sessions.Start(ctx, SessionRequest{
		ClientID: client.ID, Subject: subject, Account: username, Grant: GrantPassword, Scopes: scopes, Audience: client.Audience,
		AbsoluteLifetime: client.RefreshAbsoluteLifetime, IdleLifetime: client.RefreshIdleLifetime,
	})
	if err != nil {
		h.cfg.Log.ErrorContext(ctx, "tollgate: token endpoint: starting a session failed", "client_id", client.ID, "error", err)
		return errUnavailable
	}
	if e := h.mint(ctx, AccessRequest{
		Subject: subject, ClientID: client.ID, Audience: client.Audience, Scopes: scopes,
		SessionID: rt.Session.ID, Grant: GrantPassword, Lifetime: client.AccessTokenLifetime,
	}, resp); e != nil {
		_ = h.cfg.Sessions.End(ctx, rt.Session.ID)
		return e
	}
	resp.RefreshToken = rt.Token.Reveal()
	return nil
}

func (h *tokenHandler) refresh(r *http.Request, client *Client, p params, resp *tokenResponse) *refusal {
	ctx := r.Context()
	token := p.get("refresh_token")
	if token == "" {
		return invalidRequest("refresh_token is required")
	}
	requested := strings.Fields(p.get("scope"))
	// What the session holds is known only once the token rotates; a
	// request for more than it holds is refused before that, by Peek.
	sess, err := h.cfg.Sessions.Peek(ctx, client.ID, token)
	if err != nil {
		if stderrors.Is(err, ErrInvalidGrant) {
			// Rotate to learn why: a used token ends its session.
			if _, err := h.cfg.Sessions.Refresh(ctx, client.ID, token); err != nil && !stderrors.Is(err, ErrInvalidGrant) {
				h.cfg.Log.ErrorContext(ctx, "tollgate: token endpoint: refresh failed", "client_id", client.ID, "error", err)
				return errUnavailable
			}
			return errInvalidGrant
		}
		h.cfg.Log.ErrorContext(ctx, "tollgate: token endpoint: refresh failed", "client_id", client.ID, "error", err)
		return errUnavailable
	}
	// A refresh gives only what the session holds and the client may still
	// get through the grant that started it (or, for a session that does
	// not say, through any grant that has refresh tokens): a scope the
	// client lost since, or one its registration now gives through other
	// grants alone, is dropped (refused if asked for by name).
	var scopes []string
	for _, s := range sess.Scopes {
		if sess.Grant != "" && slices.Contains(client.Scopes, s) && client.grantGives(sess.Grant, s) ||
			sess.Grant == "" && client.refreshGives(s) {
			scopes = append(scopes, s)
		}
	}
	if len(requested) > 0 {
		for _, s := range requested {
			if !slices.Contains(scopes, s) {
				return errInvalidScope
			}
		}
		scopes = distinct(requested)
	}
	account := sess.Account
	if account == "" {
		account = sess.Subject
	}
	if e := h.allowedFrom(r, account); e != nil {
		return e
	}
	rt, err := h.cfg.Sessions.Refresh(ctx, client.ID, token)
	if err != nil {
		if stderrors.Is(err, ErrInvalidGrant) {
			return errInvalidGrant
		}
		h.cfg.Log.ErrorContext(ctx, "tollgate: token endpoint: refresh failed", "client_id", client.ID, "error", err)
		return errUnavailable
	}
	if e := h.mint(ctx, AccessRequest{
		Subject: rt.Session.Subject, ClientID: client.ID, Audience: rt.Session.Audience, Scopes: scopes,
		SessionID: rt.Session.ID, Grant: GrantRefreshToken, Lifetime: client.AccessTokenLifetime,
	}, resp); e != nil {
		return e
	}
	resp.RefreshToken = rt.Token.Reveal()
	return nil
}
