package issuer

import (
	"context"
	stderrors "errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// MaxStateBytes bounds the state parameter the authorization endpoint
// echoes: 2 KiB, room for a signed state, and far from the header limits
// of the proxies the redirect passes.
const MaxStateBytes = 2 << 10

// errNoSubject refuses an approval without a subject.
var errNoSubject = stderrors.New("issuer: an approval needs the user's subject")

// AuthorizeConfig configures NewAuthorizeHandler.
type AuthorizeConfig struct {
	// Issuer is the issuer identifier (the Minter's Issuer), sent as the
	// "iss" of every authorization response (RFC 9207) so a client that
	// talks to several servers can tell which one answered. Required.
	Issuer string
	// Clients is the client registry; Grants records the consent and
	// issues the code, and must be the TokenConfig.CodeGrants of the
	// token endpoint that redeems it. Required.
	Clients *Clients
	Grants  *Grants
	// Interact is the provider's own page: it authenticates the user and
	// asks for consent to req.Scopes, then calls req.Approve (or
	// req.Deny). It is called only for a request that is valid: a known
	// client, a registered redirect URI, response_type=code, PKCE as
	// required and scopes the client may get. Required.
	//
	// Its forms post back to the same URL (r.URL.RequestURI()): the
	// authorization request stays in the query and is checked again
	// before Approve. Protecting that form (a CSRF token, or asking for
	// the password on it) is the page's job; the handler already forbids
	// framing (X-Frame-Options and CSP frame-ancestors) and caching.
	Interact func(w http.ResponseWriter, r *http.Request, req *AuthorizationRequest)
	// RequirePKCE requires a PKCE challenge of confidential clients too
	// (RFC 9700 §2.1.1 recommends it). Public clients always need one.
	RequirePKCE bool
	// ErrorPage shows the user an error that cannot go back to the client
	// (RFC 6749 §4.1.2.1: an unknown client or a redirect URI not
	// registered). Nil means a plain-text page with the status and the
	// description.
	ErrorPage func(w http.ResponseWriter, r *http.Request, e AuthorizeError)
	// Timeout bounds the stores' work on a request (the client lookup,
	// and Approve's consent record and code); zero means
	// DefaultEndpointTimeout (5 s). Past it the request is answered
	// temporarily_unavailable. Interact's own work is the page's to bound.
	Timeout time.Duration
	// Log receives failures of the stores (never a code or secret); nil
	// means slog.Default().
	Log *slog.Logger
}

// AuthorizeError is an error of the authorization endpoint: RFC 6749
// §4.1.2.1's code and a description safe to show (it never repeats the
// request's values).
type AuthorizeError struct {
	Status      int
	Code        string
	Description string
}

// Error returns the code and description.
func (e AuthorizeError) Error() string { return e.Code + ": " + e.Description }

// AuthorizationRequest is a valid authorization request (RFC 6749
// §4.1.1), as NewAuthorizeHandler hands it to the provider's page.
type AuthorizationRequest struct {
	// Client is the requesting client's registration, without its secret
	// hash: show the user its Name.
	Client Client
	// RedirectURI is where the user goes back to.
	RedirectURI string
	// Scopes are the scopes requested, all of them ones the client may get
	// by this grant (its whole registration for the grant when the
	// request named none): ask the user to consent to them.
	Scopes []string
	// State is the client's state value, returned to it as is.
	State string

	h             *authorizeHandler
	redirectGiven bool
	challenge     string
}

// Approve completes the request for the user subject, who consented to
// scopes: it records the grant, issues a code bound to the client, the
// redirect URI, the PKCE challenge and the scopes, and redirects the user
// back to the client with code, state and iss. Nil scopes means all of
// req.Scopes; others must be among them (the user may consent to fewer),
// and none at all is a refusal (access_denied). A failure of the stores
// is answered to the client as temporarily_unavailable and returned.
func (req *AuthorizationRequest) Approve(w http.ResponseWriter, r *http.Request, subject string, scopes []string) error {
	if subject == "" {
		req.redirectError(w, r, AuthorizeError{http.StatusInternalServerError, "server_error", "the request could not be completed"})
		return errNoSubject
	}
	if scopes == nil {
		scopes = req.Scopes
	}
	for _, s := range scopes {
		if !slices.Contains(req.Scopes, s) {
			req.redirectError(w, r, AuthorizeError{http.StatusInternalServerError, "server_error", "the request could not be completed"})
			return stderrors.New("issuer: Approve: scope " + s + " was not requested")
		}
	}
	if len(scopes) == 0 && len(req.Scopes) > 0 {
		req.Deny(w, r)
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), req.h.cfg.Timeout)
	defer cancel()
	code, err := req.h.cfg.Grants.issue(ctx, req, subject, distinct(scopes))
	if err != nil {
		req.h.cfg.Log.ErrorContext(r.Context(), "tollgate: authorization endpoint: issuing a code failed", "client_id", req.Client.ID, "error", err)
		req.redirectError(w, r, AuthorizeError{http.StatusServiceUnavailable, "temporarily_unavailable", "try again later"})
		return err
	}
	req.redirect(w, r, "code="+url.QueryEscape(code.Reveal()))
	return nil
}

// Deny completes the request as refused by the user: the client gets
// access_denied.
func (req *AuthorizationRequest) Deny(w http.ResponseWriter, r *http.Request) {
	req.redirectError(w, r, AuthorizeError{http.StatusForbidden, "access_denied", "the user denied the request"})
}

// redirectError sends e back to the client (RFC 6749 §4.1.2.1).
func (req *AuthorizationRequest) redirectError(w http.ResponseWriter, r *http.Request, e AuthorizeError) {
	req.redirect(w, r, "error="+url.QueryEscape(e.Code)+"&error_description="+url.QueryEscape(e.Description))
}

// redirect sends the user to the redirect URI with params, state and iss
// added to its query (which is kept as registered).
func (req *AuthorizationRequest) redirect(w http.ResponseWriter, r *http.Request, params string) {
	target := req.RedirectURI // registered URIs have no fragment
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
		if strings.HasSuffix(target, "?") || strings.HasSuffix(target, "&") {
			sep = ""
		}
	}
	target += sep + params
	if req.State != "" {
		target += "&state=" + url.QueryEscape(req.State)
	}
	target += "&iss=" + url.QueryEscape(req.h.cfg.Issuer)
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther // the browser follows with a GET
	}
	h := w.Header()
	h.Set("Location", target)
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
}

// NewAuthorizeHandler returns the authorization endpoint (RFC 6749
// §3.1, §4.1) for the authorization code grant, GET and POST at one URL,
// the request always in the query:
//
//	/authorize?response_type=code&client_id=…&redirect_uri=…&scope=…&state=…&code_challenge=…&code_challenge_method=S256
//
// Errors that cannot be trusted to go back to the client (a missing or
// unknown client_id, a redirect_uri that is not exactly one the client
// registered, either given twice) are shown to the user through
// cfg.ErrorPage and never redirected (§4.1.2.1), so the endpoint is no
// open redirector. Once the redirect URI is known good, errors go back to
// it with error, error_description, state and iss: invalid_request
// (parameters missing, repeated or malformed, a PKCE challenge missing
// for a public client, or not S256), unsupported_response_type,
// unauthorized_client (not registered for authorization_code),
// invalid_scope (a scope the client may not get by this grant),
// access_denied and temporarily_unavailable.
//
// A valid request goes to cfg.Interact, the provider's login and consent
// page, with the AuthorizationRequest; its Approve issues the code.
// Parameters it does not know are ignored (§3.1). The response is always
// in the query: a response_mode other than query is invalid_request.
func NewAuthorizeHandler(cfg AuthorizeConfig) (http.Handler, error) {
	if cfg.Issuer == "" || cfg.Clients == nil || cfg.Grants == nil || cfg.Interact == nil {
		return nil, stderrors.New("issuer: AuthorizeConfig needs Issuer, Clients, Grants and Interact")
	}
	if cfg.ErrorPage == nil {
		cfg.ErrorPage = plainErrorPage
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultEndpointTimeout
	}
	return &authorizeHandler{cfg: cfg}, nil
}

type authorizeHandler struct {
	cfg AuthorizeConfig
}

// plainErrorPage is the default AuthorizeConfig.ErrorPage.
func plainErrorPage(w http.ResponseWriter, _ *http.Request, e AuthorizeError) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Status)
	_, _ = w.Write([]byte("The authorization request cannot be completed (" + e.Code + "): " + e.Description + ".\n"))
}

// The errors shown to the user, never redirected.
var (
	errPageClient   = AuthorizeError{http.StatusBadRequest, "invalid_request", "client_id is missing, repeated or not a registered client"}
	errPageRedirect = AuthorizeError{http.StatusBadRequest, "invalid_request", "redirect_uri is missing, repeated or not registered for this client"}
	errPageQuery    = AuthorizeError{http.StatusBadRequest, "invalid_request", "the query cannot be read"}
	errPageMethod   = AuthorizeError{http.StatusMethodNotAllowed, "invalid_request", "use GET or POST"}
	errPageStore    = AuthorizeError{http.StatusServiceUnavailable, "temporarily_unavailable", "try again later"}
)

// once returns the single value of name in q, and whether it was given
// more than once.
func once(q url.Values, name string) (string, bool) {
	v := q[name]
	if len(v) > 1 {
		return "", false
	}
	if len(v) == 0 {
		return "", true
	}
	return v[0], true
}

func (h *authorizeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Content-Security-Policy", "frame-ancestors 'none'")
	hd.Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		hd.Set("Allow", "GET, POST")
		h.cfg.ErrorPage(w, r, errPageMethod)
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		h.cfg.ErrorPage(w, r, errPageQuery)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
	req, e := h.parse(ctx, q)
	cancel()
	if e != nil {
		if req == nil {
			h.cfg.ErrorPage(w, r, *e)
			return
		}
		req.redirectError(w, r, *e)
		return
	}
	h.cfg.Interact(w, r, req)
}

// parse checks an authorization request. A refusal with a nil request is
// shown to the user; with a request, sent back to its redirect URI.
func (h *authorizeHandler) parse(ctx context.Context, q url.Values) (*AuthorizationRequest, *AuthorizeError) {
	clientID, ok := once(q, "client_id")
	if !ok || clientID == "" {
		return nil, &errPageClient
	}
	client, err := h.cfg.Clients.Client(ctx, clientID)
	if err != nil {
		if stderrors.Is(err, ErrNotFound) {
			return nil, &errPageClient
		}
		h.cfg.Log.ErrorContext(ctx, "tollgate: authorization endpoint: client lookup failed", "error", err)
		return nil, &errPageStore
	}
	if client.Disabled {
		return nil, &errPageClient
	}
	raw, ok := once(q, "redirect_uri")
	if !ok {
		return nil, &errPageRedirect
	}
	uri, ok := client.redirectFor(raw)
	if !ok {
		return nil, &errPageRedirect
	}
	client.SecretHash = ""
	req := &AuthorizationRequest{Client: client, RedirectURI: uri, h: h, redirectGiven: raw != ""}

	// The redirect URI is trusted from here: errors go back to it.
	state, ok := once(q, "state")
	switch {
	case !ok:
		return req, invalidAuthorize("state is repeated")
	case len(state) > MaxStateBytes:
		return req, invalidAuthorize("state is too long")
	}
	req.State = state
	for _, name := range [...]string{"response_type", "scope", "code_challenge", "code_challenge_method", "response_mode"} {
		if _, ok := once(q, name); !ok {
			return req, invalidAuthorize(name + " is repeated")
		}
	}
	// The response is in the query; a client that asked for it elsewhere
	// (a fragment, a form post) would not find it there.
	if mode := q.Get("response_mode"); mode != "" && mode != "query" {
		return req, invalidAuthorize("only response_mode=query is supported")
	}
	switch rt := q.Get("response_type"); rt {
	case "code":
	case "":
		return req, invalidAuthorize("response_type is missing")
	default:
		return req, &AuthorizeError{http.StatusBadRequest, "unsupported_response_type", "only response_type=code is supported"}
	}
	if !client.AllowsGrant(GrantAuthorizationCode) {
		return req, &AuthorizeError{http.StatusBadRequest, "unauthorized_client", "the client may not use the authorization code grant"}
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return req, invalidAuthorize("code_challenge_method without code_challenge")
	case challenge == "" && (client.Public || h.cfg.RequirePKCE):
		return req, invalidAuthorize("a PKCE code_challenge (S256) is required")
	case challenge != "" && method != PKCEMethodS256:
		// RFC 7636 §4.3: no method means plain, which is refused.
		return req, invalidAuthorize("code_challenge_method must be S256")
	case challenge != "" && !is256Bits(challenge):
		return req, invalidAuthorize("code_challenge is not an S256 challenge")
	}
	req.challenge = challenge
	scopes, err := client.GrantScopesFor(GrantAuthorizationCode, strings.Fields(q.Get("scope")))
	if err != nil {
		return req, &AuthorizeError{http.StatusBadRequest, "invalid_scope", "a requested scope is not available to this client"}
	}
	req.Scopes = scopes
	return req, nil
}

func invalidAuthorize(desc string) *AuthorizeError {
	return &AuthorizeError{http.StatusBadRequest, "invalid_request", desc}
}

// issue records the consent and stores a new code for req.
func (g *Grants) issue(ctx context.Context, req *AuthorizationRequest, subject string, scopes []string) (Token, error) {
	grant, err := g.Record(ctx, subject, req.Client.ID, scopes)
	if err != nil {
		return "", err
	}
	code, hash := newCode()
	now := g.cfg.Now()
	err = g.cfg.Codes.CreateCode(ctx, AuthorizationCode{
		Hash: hash, ClientID: req.Client.ID, RedirectURI: req.RedirectURI, RedirectURIGiven: req.redirectGiven,
		Challenge: req.challenge, Subject: subject, Scopes: scopes, GrantID: grant.ID,
		CreatedAt: now, ExpiresAt: now.Add(g.cfg.CodeLifetime),
	})
	if err != nil {
		return "", err
	}
	return code, nil
}
