package middleware

import (
	stderrors "errors"
	"net/http"

	tgerrors "github.com/tollgate/tollgate/errors"
)

// SkipIf admits, without a token and without a principal, every request
// for which skip returns true: health checks, metrics, a public page inside
// a guarded router. The request reaches the next handler untouched; a later
// layer that needs a principal (scopes.Require, RequireType, RequireTenant)
// still refuses it with missing_token, so a predicate that matches too much
// fails closed on every route that asks for a scope or type.
//
// skip runs on every request before anything else and must be cheap.
func SkipIf(skip func(r *http.Request) bool) Option {
	return func(a *authenticator) { a.skip = skip }
}

// SkipPaths is SkipIf for requests whose URL path is exactly one of paths
// ("/healthz", "/metrics"), compared byte for byte with the path as the
// client sent it (r.URL.EscapedPath), which is what routers match: no
// prefix, no pattern, no trailing-slash variant, no percent-encoded
// spelling. A path a router would route elsewhere ("/healthz/../admin",
// "/docs%2Fopenapi.json", which ServeMux routes to a "/{name}" pattern) is
// not skipped.
func SkipPaths(paths ...string) Option {
	set := make(map[string]struct{}, len(paths))
	for _, p := range paths {
		set[p] = struct{}{}
	}
	return SkipIf(func(r *http.Request) bool {
		_, ok := set[r.URL.EscapedPath()]
		return ok
	})
}

// AllowCORSPreflight answers a CORS preflight request, which browsers send
// without credentials, with preflight instead of a 401: an OPTIONS request
// with an Origin header and an Access-Control-Request-Method header (the
// Fetch standard's preflight). The preflight never reaches the next
// handler, so a handler registered for every method cannot run without a
// token; give your CORS middleware's preflight answer, e.g.
// cors(http.NotFoundHandler()) for a middleware that answers preflights
// itself. A nil preflight answers 204 No Content with no CORS headers (the
// browser then refuses the cross-origin call). An OPTIONS request without
// those headers still needs a token. Off by default.
func AllowCORSPreflight(preflight http.Handler) Option {
	if preflight == nil {
		preflight = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	}
	return func(a *authenticator) { a.preflight = preflight }
}

func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

// Optional admits a request that carries no credential at all, without a
// principal (only that: a verifier that answers missing_token for a token
// it was given does not make the request anonymous), so one route can serve both anonymous and signed-in callers
// (principal.From reports whether there is one). A request that carries a
// credential is treated exactly as without Optional: a bad, expired or
// revoked token is refused, never downgraded to anonymous. A request whose
// Authorization header has another scheme (Basic) carries no bearer
// credential and is admitted as anonymous.
func Optional() Option {
	return func(a *authenticator) { a.optional = true }
}

// FromHeader reads the token from the request header name instead of the
// Authorization header, as the header's whole value: an API key sent as
// "X-API-Key: mt_…". Exactly one such header is allowed (two are
// invalid_request), and a request that also carries an Authorization
// bearer token, a query or a cookie token carries two credentials
// (invalid_request). The size cap and the charset check apply as to a
// bearer token. Responses are kept out of shared caches as for a query
// token (Cache-Control: private), because RFC 9111 §3.5 protects only the
// Authorization header from shared caches.
func FromHeader(name string) Option {
	key := http.CanonicalHeaderKey(name)
	return func(a *authenticator) { a.headerName = key }
}

// An Extractor reads the credential from a request: found reports whether
// the request carries one, and err a malformed one (refused with
// invalid_request, or with err's own kind when err is an *errors.Error).
type Extractor func(r *http.Request) (token string, found bool, err error)

// WithExtractor replaces every source of the token (the Authorization
// header, FromQuery, FromCookie, FromHeader) with extract. Its token gets
// the size cap and the charset check, and its responses are kept out of
// shared caches as a query token's are, since tollgate cannot know where
// extract found it. A nil extract restores the default sources.
func WithExtractor(extract Extractor) Option {
	return func(a *authenticator) { a.extractor = extract }
}

var errMalformedCredential = tgerrors.New(tgerrors.InvalidRequest, "The request's credential is malformed")

// extractCustom runs the configured Extractor; extractToken checks what it
// found as it checks the other sources' token.
func (a *authenticator) extractCustom(r *http.Request) (string, bool, *tgerrors.Error) {
	token, found, err := a.extractor(r)
	if err != nil {
		var te *tgerrors.Error
		if stderrors.As(err, &te) {
			return "", false, te
		}
		return "", false, &tgerrors.Error{Kind: errMalformedCredential.Kind, Message: errMalformedCredential.Message, Err: err}
	}
	return token, found, nil
}

// fromNamedHeader reads the FromHeader header, if any.
func (a *authenticator) fromNamedHeader(r *http.Request) (token string, found bool, err *tgerrors.Error) {
	values := r.Header[a.headerName]
	switch len(values) {
	case 0:
		return "", false, nil
	case 1:
		if values[0] == "" {
			return "", false, errMalformedCredential
		}
		return values[0], true, nil
	}
	return "", false, errTwoCredentials
}
