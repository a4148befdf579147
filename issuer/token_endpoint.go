package issuer

import (
	"encoding/json"
	stderrors "errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// DefaultTokenRequestBytes bounds a token request's body: 16 KiB.
const DefaultTokenRequestBytes = 16 << 10

// ClientCredentialsConfig configures NewClientCredentialsHandler.
type ClientCredentialsConfig struct {
	// Clients authenticates the client, required.
	Clients *Clients
	// Minter mints the access token, required. Its GrantLifetimes
	// ["client_credentials"] applies, unless the client has its own
	// AccessTokenLifetime.
	Minter *Minter
	// MaxBodyBytes bounds the request body; zero means
	// DefaultTokenRequestBytes.
	MaxBodyBytes int64
	// Realm is the realm of the WWW-Authenticate challenge sent with a 401;
	// default "token".
	Realm string
	// Log receives failures of the stores or the minter (never a secret);
	// nil means slog.Default().
	Log *slog.Logger
}

// NewClientCredentialsHandler returns a token endpoint for the
// client_credentials grant (RFC 6749 §4.4): a POST of
// application/x-www-form-urlencoded grant_type=client_credentials and an
// optional space-separated scope, the client authenticated by HTTP Basic
// (client_secret_basic, id and secret form-encoded as §2.3.1 says) or by
// client_id and client_secret in the body (client_secret_post), never
// both. The answer is §5.1's JSON (access_token, token_type "Bearer",
// expires_in, scope) with Cache-Control: no-store.
//
// Refusals are §5.2's JSON error, with no-store too: invalid_request (400:
// another method is 405, a body over MaxBodyBytes 413, another content
// type, a parameter given twice, no grant_type, two ways of
// authentication), invalid_client (401 with a Basic challenge: no, unknown
// or wrong credentials, a disabled client), unsupported_grant_type,
// unauthorized_client (the client may not use the grant), invalid_scope
// (a scope the client does not have) and, when a store or the minter
// fails, temporarily_unavailable (503) or server_error (500), logged, the
// cause never in the body. No response echoes a secret.
func NewClientCredentialsHandler(cfg ClientCredentialsConfig) (http.Handler, error) {
	if cfg.Clients == nil || cfg.Minter == nil {
		return nil, stderrors.New("issuer: ClientCredentialsConfig needs Clients and Minter")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultTokenRequestBytes
	}
	if cfg.Realm == "" {
		cfg.Realm = "token"
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &clientCredentials{cfg: cfg}, nil
}

type clientCredentials struct {
	cfg ClientCredentialsConfig
}

// oauthError is an RFC 6749 §5.2 error response.
type oauthError struct {
	status      int
	code        string
	description string
}

func (h *clientCredentials) refuse(w http.ResponseWriter, e oauthError) {
	hd := w.Header()
	if e.status == http.StatusUnauthorized {
		hd.Set("WWW-Authenticate", `Basic realm="`+h.cfg.Realm+`", charset="UTF-8"`)
	}
	if e.status == http.StatusMethodNotAllowed {
		hd.Set("Allow", http.MethodPost)
	}
	writeJSON(w, e.status, struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{e.code, e.description})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Pragma", "no-cache")
	b, _ := json.Marshal(v)
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func invalidRequest(desc string) oauthError {
	return oauthError{http.StatusBadRequest, "invalid_request", desc}
}

var errInvalidClient = oauthError{http.StatusUnauthorized, "invalid_client", "client authentication failed"}

func (h *clientCredentials) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	form, e := h.readForm(w, r)
	if e != nil {
		h.refuse(w, *e)
		return
	}
	id, secret, e := clientCredentialsOf(r, form)
	if e != nil {
		h.refuse(w, *e)
		return
	}
	switch gt := form.Get("grant_type"); gt {
	case "":
		h.refuse(w, invalidRequest("grant_type is missing"))
		return
	case GrantClientCredentials:
	default:
		h.refuse(w, oauthError{http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported here"})
		return
	}
	ctx := r.Context()
	client, err := h.cfg.Clients.Authenticate(ctx, id, secret)
	if err != nil {
		if stderrors.Is(err, ErrInvalidClient) {
			h.refuse(w, errInvalidClient)
			return
		}
		h.cfg.Log.ErrorContext(ctx, "tollgate: token endpoint: client lookup failed", "error", err)
		h.refuse(w, oauthError{http.StatusServiceUnavailable, "temporarily_unavailable", "try again later"})
		return
	}
	if !client.AllowsGrant(GrantClientCredentials) {
		h.refuse(w, oauthError{http.StatusBadRequest, "unauthorized_client", "the client may not use client_credentials"})
		return
	}
	scopes, err := client.GrantedScopes(strings.Fields(form.Get("scope")))
	if err != nil {
		h.refuse(w, oauthError{http.StatusBadRequest, "invalid_scope", "a requested scope is not the client's"})
		return
	}
	at, err := h.cfg.Minter.Mint(ctx, AccessRequest{
		ClientID: client.ID, Audience: client.Audience, Scopes: scopes,
		Grant: GrantClientCredentials, Lifetime: client.AccessTokenLifetime,
	})
	if err != nil {
		h.cfg.Log.ErrorContext(ctx, "tollgate: token endpoint: minting failed", "client_id", client.ID, "error", err)
		h.refuse(w, oauthError{http.StatusInternalServerError, "server_error", "the token could not be issued"})
		return
	}
	writeJSON(w, http.StatusOK, struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		Scope       string `json:"scope,omitempty"`
	}{at.Token.Reveal(), "Bearer", int64(at.Lifetime.Seconds()), strings.Join(scopes, " ")})
}

// readForm reads the POSTed form, refusing what §3.2 does not allow.
func (h *clientCredentials) readForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthError) {
	if r.Method != http.MethodPost {
		return nil, &oauthError{http.StatusMethodNotAllowed, "invalid_request", "use POST"}
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, &oauthError{http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if stderrors.As(err, &tooLarge) {
			return nil, &oauthError{http.StatusRequestEntityTooLarge, "invalid_request", "the body is too large"}
		}
		return nil, &oauthError{http.StatusBadRequest, "invalid_request", "the body could not be read"}
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, &oauthError{http.StatusBadRequest, "invalid_request", "the body is not a valid form"}
	}
	for name, vs := range form {
		if len(vs) > 1 {
			return nil, &oauthError{http.StatusBadRequest, "invalid_request", fmt.Sprintf("parameter %q is repeated", safeName(name))}
		}
	}
	if len(r.URL.RawQuery) > 0 {
		return nil, &oauthError{http.StatusBadRequest, "invalid_request", "parameters belong in the body, not the URL"}
	}
	return form, nil
}

// safeName keeps a client's parameter name out of the response unless it
// is one of ours.
func safeName(name string) string {
	switch name {
	case "grant_type", "scope", "client_id", "client_secret":
		return name
	}
	return "?"
}

// clientCredentialsOf returns the client's id and secret from HTTP Basic
// or the body, refusing both at once and neither.
func clientCredentialsOf(r *http.Request, form url.Values) (string, string, *oauthError) {
	_, inBody := form["client_secret"]
	if r.Header.Get("Authorization") != "" {
		if inBody {
			return "", "", &oauthError{http.StatusBadRequest, "invalid_request", "authenticate the client one way only"}
		}
		user, pass, ok := r.BasicAuth()
		if !ok {
			return "", "", &errInvalidClient
		}
		id, err1 := url.QueryUnescape(user)
		secret, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return "", "", &errInvalidClient
		}
		if cid := form.Get("client_id"); cid != "" && cid != id {
			return "", "", &oauthError{http.StatusBadRequest, "invalid_request", "client_id differs from the authenticated client"}
		}
		return id, secret, nil
	}
	if !inBody || form.Get("client_id") == "" {
		return "", "", &errInvalidClient
	}
	return form.Get("client_id"), form.Get("client_secret"), nil
}
