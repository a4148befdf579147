package issuer

import (
	"bytes"
	"context"
	"encoding/json"
	stderrors "errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"

	tgerrors "github.com/tollgate/tollgate/errors"
)

// DefaultTokenRequestBytes bounds a request body of
// NewClientCredentialsHandler: 16 KiB.
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
// client_credentials grant alone (RFC 6749 §4.4), reading only
// application/x-www-form-urlencoded bodies of at most MaxBodyBytes (16
// KiB): NewTokenHandler with Grants client_credentials. See
// NewTokenHandler for the endpoint that serves several grants and body
// formats.
//
// The client authenticates by HTTP Basic (client_secret_basic, id and
// secret form-encoded as §2.3.1 says) or by client_id and client_secret in
// the body (client_secret_post), never both. The answer is §5.1's JSON
// (access_token, token_type "Bearer", expires_in, scope) with
// Cache-Control: no-store. Refusals are §5.2's JSON error, with no-store
// too: invalid_request (400: another method is 405, a body over
// MaxBodyBytes 413, another content type, a parameter given twice, no
// grant_type, two ways of authentication), invalid_client (401 with a
// Basic challenge), unsupported_grant_type, unauthorized_client,
// invalid_scope and, when a store or the minter fails,
// temporarily_unavailable (503) or server_error (500), logged, the cause
// never in the body.
func NewClientCredentialsHandler(cfg ClientCredentialsConfig) (http.Handler, error) {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultTokenRequestBytes
	}
	return NewTokenHandler(TokenConfig{
		Clients: cfg.Clients, Minter: cfg.Minter, Grants: []string{GrantClientCredentials},
		MaxBodyBytes: cfg.MaxBodyBytes, Realm: cfg.Realm, Log: cfg.Log, formOnly: true,
	})
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

// params are a token or revocation request's parameters, each given once.
type params struct {
	v    map[string]string
	json bool
}

func (p params) get(name string) string { return p.v[name] }

func (p params) has(name string) bool {
	_, ok := p.v[name]
	return ok
}

// readParams reads the POSTed body, at most maxBytes, refusing what §3.2
// does not allow: parameters in the URL or given twice. It reads
// application/x-www-form-urlencoded and, unless formOnly,
// multipart/form-data without files and a JSON object of strings.
func readParams(w http.ResponseWriter, r *http.Request, maxBytes int64, formOnly bool) (params, *refusal) {
	if len(r.URL.RawQuery) > 0 {
		return params{}, invalidRequest("parameters belong in the body, not the URL")
	}
	mt, mp, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	kind := ""
	switch {
	case err != nil:
	case mt == "application/x-www-form-urlencoded":
		kind = "form"
	case formOnly:
	case mt == "multipart/form-data" && mp["boundary"] != "":
		kind = "multipart"
	case mt == "application/json":
		kind = "json"
	}
	if kind == "" {
		if formOnly {
			return params{}, invalidRequest("the body must be application/x-www-form-urlencoded")
		}
		return params{}, &refusal{http.StatusUnsupportedMediaType, "invalid_request", "the body must be a form, multipart/form-data or JSON", tgerrors.UnsupportedMediaType}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if stderrors.As(err, &tooLarge) {
			return params{}, errTooLarge
		}
		return params{}, invalidRequest("the body could not be read")
	}
	p, e := parseBody(kind, mp["boundary"], body)
	if e != nil {
		return params{}, e
	}
	return p, nil
}

func parseBody(kind, boundary string, body []byte) (params, *refusal) {
	p := params{v: map[string]string{}, json: kind == "json"}
	add := func(name, value string) *refusal {
		if _, dup := p.v[name]; dup {
			return invalidRequest(fmt.Sprintf("parameter %q is repeated", safeName(name)))
		}
		p.v[name] = value
		return nil
	}
	switch kind {
	case "form":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return params{}, invalidRequest("the body is not a valid form")
		}
		for name, vs := range form {
			if len(vs) > 1 {
				return params{}, invalidRequest(fmt.Sprintf("parameter %q is repeated", safeName(name)))
			}
			p.v[name] = vs[0]
		}
	case "multipart":
		mr := multipart.NewReader(bytes.NewReader(body), boundary)
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return params{}, invalidRequest("the body is not valid multipart/form-data")
			}
			if part.FileName() != "" || part.FormName() == "" {
				return params{}, invalidRequest("the body may hold form fields only")
			}
			v, err := io.ReadAll(part)
			if err != nil {
				return params{}, invalidRequest("the body is not valid multipart/form-data")
			}
			if e := add(part.FormName(), string(v)); e != nil {
				return params{}, e
			}
		}
	case "json":
		dec := json.NewDecoder(bytes.NewReader(body))
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			return params{}, invalidRequest("the body must be a JSON object")
		}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return params{}, invalidRequest("the body is not valid JSON")
			}
			v, err := dec.Token()
			s, ok := v.(string)
			if err != nil || !ok {
				return params{}, invalidRequest(fmt.Sprintf("parameter %q must be a string", safeName(k.(string))))
			}
			if e := add(k.(string), s); e != nil {
				return params{}, e
			}
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('}') {
			return params{}, invalidRequest("the body is not valid JSON")
		}
		if _, err := dec.Token(); err != io.EOF {
			return params{}, invalidRequest("the body holds more than one JSON value")
		}
	}
	return p, nil
}

// safeName keeps a client's parameter name out of the response unless it
// is one of ours.
func safeName(name string) string {
	switch name {
	case "grant_type", "scope", "client_id", "client_secret", "username", "password", "refresh_token", "token", "token_type_hint":
		return name
	}
	return "?"
}

// clientCredentialsOf returns the client's id and secret from HTTP Basic
// or the body, and whether Basic was used, refusing both at once. No
// secret at all is id "" (a client_id alone is left to the caller).
func clientCredentialsOf(r *http.Request, p params) (id, secret string, basic bool, e *refusal) {
	inBody := p.has("client_secret")
	if r.Header.Get("Authorization") != "" {
		if inBody {
			return "", "", true, invalidRequest("authenticate the client one way only")
		}
		user, pass, ok := r.BasicAuth()
		if !ok {
			return "", "", true, errInvalidClient
		}
		id, err1 := url.QueryUnescape(user)
		secret, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil || id == "" {
			return "", "", true, errInvalidClient
		}
		if cid := p.get("client_id"); cid != "" && cid != id {
			return "", "", true, invalidRequest("client_id differs from the authenticated client")
		}
		return id, secret, true, nil
	}
	if !inBody {
		return "", "", false, nil
	}
	if p.get("client_id") == "" {
		return "", "", false, errInvalidClient
	}
	return p.get("client_id"), p.get("client_secret"), false, nil
}

// How a request's client was established.
type clientAuth int

const (
	bySecret     clientAuth = iota // a confidential client, by its secret
	byClientID                     // a public client, by its id alone
	asFirstParty                   // TokenConfig.FirstPartyClient, standing in
)

// authenticateClient establishes the client of a request to the token or
// revocation endpoint (named by endpoint, for logs): a confidential
// client by its secret, in Basic or the body (§2.3.1); a public client
// (RFC 6749 §2.1), which has no secret, by client_id alone or by Basic
// with an empty password, as golang.org/x/oauth2's AuthStyleInHeader
// sends it; or firstParty, if set, for a request that names no other
// client. The first-party client is looked up, not authenticated, unless
// it is a confidential client with the authorization_code grant: the
// refresh tokens of its codes, which its back end holds, must not work
// for whoever copied one. An unknown id costs a secret hash like a known
// one (Clients.Authenticate).
func authenticateClient(ctx context.Context, r *http.Request, p params, clients *Clients, log *slog.Logger, endpoint, firstParty string) (Client, clientAuth, *refusal) {
	id, secret, basic, e := clientCredentialsOf(r, p)
	if e != nil {
		return Client{}, 0, e
	}
	how, lookup := bySecret, ""
	switch {
	case firstParty != "" && id == "" && !basic && (!p.has("client_id") || p.get("client_id") == firstParty):
		how, lookup = asFirstParty, firstParty
	case id == "" && !basic && p.get("client_id") != "":
		how, lookup = byClientID, p.get("client_id")
	case basic && secret == "":
		how, lookup = byClientID, id
	case id == "":
		return Client{}, 0, errInvalidClient
	}
	var c Client
	var err error
	if how == bySecret {
		c, err = clients.Authenticate(ctx, id, secret)
	} else {
		c, err = clients.Client(ctx, lookup)
	}
	switch {
	case err != nil && !stderrors.Is(err, ErrInvalidClient) && !stderrors.Is(err, ErrNotFound):
		log.ErrorContext(ctx, "tollgate: "+endpoint+": client lookup failed", "error", err)
		return Client{}, 0, errUnavailable
	case err != nil, c.Disabled,
		how == byClientID && !c.Public,
		how == asFirstParty && !c.Public && c.SecretHash != "" && c.AllowsGrant(GrantAuthorizationCode):
		return Client{}, 0, errInvalidClient
	}
	return c, how, nil
}
