// Package errors is tollgate's error vocabulary and the wire formats every
// refusal is written in.
//
// Every layer of tollgate (ipfilter, middleware, scopes, ratelimit,
// introspect) refuses a request by building an *Error with a Kind and handing
// it to Write. Write looks up the Format chosen for the request, by Use at the
// top of the chain, and lets it write status, headers and body. A provider's
// error format is therefore one line of configuration:
//
//	handler := errors.Use(errors.Envelope)(mux)
//
// Without Use, Write falls back to OAuth (RFC 6750), the format a bearer-token
// client is most likely to understand.
//
// # What is written, and what never is
//
// Message is the only free text that reaches the client, and every layer of
// tollgate fills it with a fixed, generic sentence ("The access token is
// invalid"). The underlying cause (a signature failure, an unreachable JWKS
// endpoint, a Redis timeout) travels in Err for logs and errors.Is/As, and no
// Format writes it. Client IPs, header values and key material are never put
// in an Error's Message.
//
// # Headers, whatever the format
//
// Write sets the headers a refusal needs before the format writes its body,
// so a FormatFunc that writes only a status and a body loses none of them:
//
//   - Cache-Control: no-store and X-Content-Type-Options: nosniff, on every
//     refusal;
//   - Retry-After, in whole seconds rounded up, whenever RetryAfter is set;
//   - the Bearer challenge (WWW-Authenticate) on every 401, as RFC 9110
//     §15.5.2 requires, and on invalid_request and insufficient_scope, whose
//     error codes RFC 6750 §3 puts in the challenge.
//
// Every challenge carries a realm, the auth-param RFC 6750 §3 requires after
// "Bearer": DefaultRealm ("api") unless the format names its own, with the
// Realm field of a built-in format (errors.OAuthFormat{Realm: "orders"}) or
// errors.WithRealm for any format. A missing_token challenge is the realm
// alone (`Bearer realm="api"`): RFC 6750 §3.1 gives no error code to a
// request that sent no credentials.
//
// # The rest of an API's errors
//
// So that an API answers every error in its one format, the package also
// has kinds for the statuses an API answers with besides tollgate's
// refusals (not_found 404, method_not_allowed 405, conflict 409,
// payload_too_large 413, unsupported_media_type 415, unprocessable 422,
// internal 500), the handlers a router falls back to (NotFound, and
// MethodNotAllowed, which sends Allow), and DecodeJSON, which reads a JSON
// request body and refuses it with syntax, validation, 413 or 415 without
// echoing the input. The envelope names each status in the B2B style
// (NotFoundError/NOT_FOUND, PayloadTooLargeError/PAYLOAD_TOO_LARGE,
// InternalServerError/INTERNAL_SERVER_ERROR; see EnvelopeFormat), and any
// other status after its text.
//
// This package shadows the standard library's errors; import it under
// another name where both are needed:
//
//	import tgerrors "github.com/tollgate/tollgate/errors"
package errors

import (
	stderrors "errors"
	"net/http"
	"time"
)

// Kind names why a request was refused. Each Kind has a default HTTP status
// (see Kind.Status); formats map kinds to their own codes and names.
type Kind string

// The kinds tollgate's layers refuse with. Applications may define their own
// Kind values; an unknown Kind has status 400 unless Error.Status says
// otherwise.
const (
	// MissingToken: no credentials were sent. 401. Per RFC 6750 §3.1 the
	// OAuth challenge then carries no error code.
	MissingToken Kind = "missing_token"
	// InvalidRequest: the request is malformed in a way that concerns
	// authentication (two credentials, a malformed Authorization header). 400.
	InvalidRequest Kind = "invalid_request"
	// InvalidToken: the token is not acceptable (bad signature, wrong issuer
	// or audience, revoked, unknown). 401.
	InvalidToken Kind = "invalid_token"
	// ExpiredToken: the token was valid but its lifetime is over. 401; RFC
	// 6750 lets a server say so.
	ExpiredToken Kind = "expired_token"
	// InsufficientScope: the token lacks a scope or permission the route
	// requires. 403.
	InsufficientScope Kind = "insufficient_scope"
	// WrongTokenType: the token is of another type than the route accepts
	// (a customer token on a merchant-only route). 403.
	WrongTokenType Kind = "wrong_token_type"
	// Forbidden: the caller is known but may not do this (a tenant header
	// that does not match the token). 403.
	Forbidden Kind = "forbidden"
	// IPDenied: the client IP is not allowed. 403.
	IPDenied Kind = "ip_denied"
	// RateLimited: the caller's rate limit is spent. 429, with Retry-After.
	RateLimited Kind = "rate_limited"
	// Unavailable: a dependency (JWKS, introspection, Redis) could not
	// answer and nothing valid was cached. 503.
	Unavailable Kind = "unavailable"
	// Validation: a required request field (a tenant header) is missing or
	// malformed. 400.
	Validation Kind = "validation"
	// Syntax: the request could not be parsed (a body that is not JSON).
	// 400.
	Syntax Kind = "syntax"

	// The kinds below are an API's own answers rather than tollgate's
	// refusals, so that a handler answers every error in the same format.

	// ResourceNotFound: nothing is at the path (the NotFound handler). 404.
	ResourceNotFound Kind = "not_found"
	// WrongMethod: the resource does not answer the method (the
	// MethodNotAllowed handler, which sends Allow). 405.
	WrongMethod Kind = "method_not_allowed"
	// Conflict: the request conflicts with the resource's state (a
	// duplicate, an outdated version). 409.
	Conflict Kind = "conflict"
	// PayloadTooLarge: the request body is over the limit (DecodeJSON).
	// 413.
	PayloadTooLarge Kind = "payload_too_large"
	// UnsupportedMediaType: the body is not of a media type the API reads
	// (DecodeJSON: not JSON). 415.
	UnsupportedMediaType Kind = "unsupported_media_type"
	// Unprocessable: the body is well formed and of the right shape, but
	// its content cannot be acted on. 422.
	Unprocessable Kind = "unprocessable"
	// Internal: the API failed (a bug, a failed invariant). 500. The cause
	// goes in Err, for logs; the client is told only that it failed.
	// (A dependency that could not answer is Unavailable, 503.)
	Internal Kind = "internal"
)

// Status is the HTTP status a refusal of this kind is sent with unless the
// Error overrides it.
func (k Kind) Status() int {
	switch k {
	case MissingToken, InvalidToken, ExpiredToken:
		return http.StatusUnauthorized
	case InsufficientScope, WrongTokenType, Forbidden, IPDenied:
		return http.StatusForbidden
	case RateLimited:
		return http.StatusTooManyRequests
	case Unavailable:
		return http.StatusServiceUnavailable
	case ResourceNotFound:
		return http.StatusNotFound
	case WrongMethod:
		return http.StatusMethodNotAllowed
	case Conflict:
		return http.StatusConflict
	case PayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case UnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case Unprocessable:
		return http.StatusUnprocessableEntity
	case Internal:
		return http.StatusInternalServerError
	default:
		return http.StatusBadRequest
	}
}

// Error is a refusal: why (Kind), with which status, what the client may be
// told (Message), and what it needs to act (Scopes, RetryAfter). Err holds
// the internal cause for logs; no Format writes it.
type Error struct {
	// Kind is why the request was refused.
	Kind Kind
	// Status overrides Kind.Status when non-zero.
	Status int
	// Message is a short sentence safe to show the client. Empty means a
	// generic sentence for the Kind. MessageFormat writes only the status
	// text and ignores it.
	Message string
	// Scopes are the scopes a client should ask for to be admitted
	// (insufficient_scope): everything the route needs, not only what the
	// token lacks. Written as the challenge's scope attribute.
	Scopes []string
	// RetryAfter tells the client when to try again (rate_limited,
	// unavailable). Written as Retry-After in whole seconds, rounded up.
	RetryAfter time.Duration
	// Err is the internal cause, for logs and errors.Is/As. Never written.
	Err error
}

// New returns an Error of the given kind with a client-safe message.
func New(kind Kind, message string) *Error {
	return &Error{Kind: kind, Message: message}
}

// Wrap returns an Error of the given kind whose internal cause is err. The
// message is what the client sees; err is not.
func Wrap(kind Kind, message string, err error) *Error {
	return &Error{Kind: kind, Message: message, Err: err}
}

// Error describes the refusal, cause included: it is for logs, not clients.
func (e *Error) Error() string {
	s := string(e.Kind)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error of the same Kind, so that
// errors.Is(err, &Error{Kind: InvalidToken}) matches any invalid_token
// refusal whatever its message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind
}

// HTTPStatus is the status the refusal is sent with.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	return e.Kind.Status()
}

// KindOf returns the Kind of the first *Error in err's chain, or "" if there
// is none.
func KindOf(err error) Kind {
	var e *Error
	if stderrors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// From turns any error into an *Error: the first *Error in err's chain, or
// else an Unavailable error wrapping err. An error that is not tollgate's own
// is treated as an internal failure, so its text is never written.
func From(err error) *Error {
	var e *Error
	if stderrors.As(err, &e) {
		return e
	}
	return &Error{Kind: Unavailable, Err: err}
}
