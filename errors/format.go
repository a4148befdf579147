package errors

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/reqstate"
	"github.com/tollgate/tollgate/observe"
)

// Format writes a refusal on the wire: status, headers and body. It must not
// write e.Err, which is internal.
type Format interface {
	WriteError(w http.ResponseWriter, r *http.Request, e *Error)
}

// FormatFunc lets a function be a Format: a provider's own error body is one
// small function.
type FormatFunc func(w http.ResponseWriter, r *http.Request, e *Error)

// WriteError calls f(w, r, e).
func (f FormatFunc) WriteError(w http.ResponseWriter, r *http.Request, e *Error) { f(w, r, e) }

// DefaultRealm is the realm of every Bearer challenge whose format names
// none. RFC 6750 §3 requires at least one auth-param after "Bearer", so a
// challenge always carries a realm: a format's Realm field, the realm given
// to WithRealm, or this one.
const DefaultRealm = "api"

// The four built-in formats, ready to pass to Use. Each is a value of its
// type with the default realm; build the type yourself to set one
// (errors.OAuthFormat{Realm: "orders"}), or use WithRealm.
var (
	// OAuth is RFC 6750: the WWW-Authenticate challenge and
	// {"error","error_description"}.
	OAuth Format = OAuthFormat{}
	// Problem is RFC 9457 application/problem+json.
	Problem Format = ProblemFormat{}
	// Message is {"message":"Unauthorized"}, the status text as the body.
	Message Format = MessageFormat{}
	// Envelope is {"error":{"name","code","message"}}.
	Envelope Format = EnvelopeFormat{}
)

// Use returns a middleware that makes f the format for every refusal written
// below it, by tollgate's layers and by the application's own handlers
// through Write. Put it at the top of the chain: as the first tollgate layer
// it makes the request's one context node, which the layers below fill
// without allocating as long as they are handed the same request (a
// middleware between them that calls r.WithContext makes the next layer
// start a node of its own). Options add what else the layers below share
// (WithObserver). Use panics if f is nil.
func Use(f Format, opts ...UseOption) func(http.Handler) http.Handler {
	if f == nil {
		panic("errors.Use: nil Format")
	}
	var u use
	for _, o := range opts {
		o(&u)
	}
	return func(next http.Handler) http.Handler {
		if u.observer != nil {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				next.ServeHTTP(w, reqstate.SetObserver(reqstate.SetFormat(r, f), u.observer))
			})
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, reqstate.SetFormat(r, f))
		})
	}
}

// UseOption configures Use.
type UseOption func(*use)

type use struct {
	observer *observe.Observer
}

// WithObserver makes o the observer every tollgate layer below Use reports
// its per-request events to (refusals, token-cache hits, rate-limit
// decisions, revocation checks; see package observe). It travels in the
// node Use makes, so it costs the layers one context lookup and no
// allocation. A nil o reports nothing.
func WithObserver(o *observe.Observer) UseOption {
	return func(u *use) { u.observer = o }
}

// WithRealm returns f with realm as the realm of its challenges. For a
// built-in format it is the format with its Realm field set; any other
// format (a FormatFunc) is wrapped, and Write sends the challenges it needs
// with realm before f writes the body.
func WithRealm(f Format, realm string) Format {
	switch f := f.(type) {
	case OAuthFormat:
		f.Realm = realm
		return f
	case ProblemFormat:
		f.Realm = realm
		return f
	case MessageFormat:
		f.Realm = realm
		return f
	case EnvelopeFormat:
		f.Realm = realm
		return f
	}
	return realmFormat{f, realm}
}

// realmFormat is a format of the user's with the realm WithRealm gave it.
type realmFormat struct {
	Format
	realm string
}

// realmOf is the realm Write sends f's challenges with. The built-in
// formats set their own challenge again, with their Realm.
func realmOf(f Format) string {
	if rf, ok := f.(realmFormat); ok {
		return rf.realm
	}
	return ""
}

// WithFormat returns a copy of ctx in which f is the format Write uses; ctx
// itself is left as it was.
func WithFormat(ctx context.Context, f Format) context.Context {
	return reqstate.WithFormat(ctx, f)
}

// FormatFrom returns the format chosen for ctx by Use or WithFormat, or OAuth
// if none was.
func FormatFrom(ctx context.Context) Format {
	if s := reqstate.From(ctx); s != nil {
		if f, ok := s.Format().(Format); ok {
			return f
		}
	}
	return OAuth
}

// Write writes err as a refusal in the request's format (see Use). An error
// that is not an *Error (nor wraps one) is written as Unavailable without its
// text. A nil err writes nothing.
//
// The headers a refusal needs leave whatever the format: before the format
// runs, Write sets Cache-Control: no-store, X-Content-Type-Options: nosniff,
// Retry-After when RetryAfter is set, and the Bearer challenge on a 401, on
// invalid_request and on insufficient_scope (RFC 6750 §3), with the realm of
// the format (DefaultRealm unless WithRealm named one). A FormatFunc that
// writes only a status and a body therefore still answers as RFC 6750 and
// RFC 9110 §15.5.2 require; a format may replace a header, as the built-in
// ones do with their own realm.
func Write(w http.ResponseWriter, r *http.Request, err error) {
	if err == nil {
		return
	}
	e := From(err)
	f := FormatFrom(r.Context())
	setRefusalHeaders(w.Header(), e, realmOf(f))
	f.WriteError(w, r, e)
}

// message is the client-facing sentence: e.Message, or a generic one for the
// kind.
func message(e *Error) string {
	if e.Message != "" {
		return e.Message
	}
	switch e.Kind {
	case MissingToken:
		return "Authentication is required"
	case InvalidRequest:
		return "The request is malformed"
	case InvalidToken:
		return "The access token is invalid"
	case ExpiredToken:
		return "The access token expired"
	case InsufficientScope:
		return "The access token does not grant the required scope"
	case WrongTokenType:
		return "The access token is of a type this resource does not accept"
	case Forbidden:
		return "Access to this resource is forbidden"
	case IPDenied:
		return "Access from this address is not allowed"
	case RateLimited:
		return "Too many requests"
	case Unavailable:
		return "The service is temporarily unavailable"
	case Validation:
		return "The request is invalid"
	case Syntax:
		return "The request could not be parsed"
	case ResourceNotFound:
		return "The resource does not exist"
	case WrongMethod:
		return "The resource does not answer this method"
	case Conflict:
		return "The request conflicts with the resource's current state"
	case PayloadTooLarge:
		return "The request body is too large"
	case UnsupportedMediaType:
		return "The request body is of a media type this API does not accept"
	case Unprocessable:
		return "The request cannot be processed"
	case Internal:
		return "The service failed to answer the request"
	}
	return statusText(e.HTTPStatus())
}

// statusText names a status for the Message format and Problem's title:
// http.StatusText, "Payload Too Large" for 413 (the name the envelope uses
// too), and the class of a status Go has no text for.
func statusText(status int) string {
	if status == http.StatusRequestEntityTooLarge {
		return "Payload Too Large"
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	if status >= 500 {
		return "Server Error"
	}
	return "Client Error"
}

// oauthCode maps a kind to the RFC 6750 §3.1 error code, or "" where RFC 6750
// has none (missing_token must carry no code; the others are not token
// errors).
func oauthCode(k Kind) string {
	switch k {
	case InvalidRequest:
		return "invalid_request"
	case InvalidToken, ExpiredToken:
		return "invalid_token"
	case InsufficientScope:
		return "insufficient_scope"
	}
	return ""
}

// writeHeaders sets what a built-in format sends: its Content-Type and the
// refusal's headers, and returns the status.
func writeHeaders(w http.ResponseWriter, e *Error, realm, contentType string) int {
	h := w.Header()
	h.Set("Content-Type", contentType)
	setRefusalHeaders(h, e, realm)
	return e.HTTPStatus()
}

// setRefusalHeaders sets what every refusal is sent with, whatever writes
// its body: Cache-Control, nosniff, the challenge where RFC 6750 §3 asks for
// one, and Retry-After.
func setRefusalHeaders(h http.Header, e *Error, realm string) {
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if needsChallenge(e) {
		h.Set("WWW-Authenticate", Challenge(realm, e))
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(RetryAfterSeconds(e.RetryAfter), 10))
	}
}

// needsChallenge reports whether e is sent with a Bearer challenge: every
// 401, and the two refusals RFC 6750 §3 gives an error code outside 401,
// invalid_request (a request without a usable token) and insufficient_scope.
func needsChallenge(e *Error) bool {
	return e.HTTPStatus() == http.StatusUnauthorized || e.Kind == InvalidRequest || e.Kind == InsufficientScope
}

// RetryAfterSeconds is d in whole seconds, rounded up, at least 1.
func RetryAfterSeconds(d time.Duration) int64 {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

// Challenge returns the RFC 6750 §3 WWW-Authenticate value for e:
// `Bearer realm="…", error="…", error_description="…", scope="…"`. The realm
// is always there (DefaultRealm when realm is empty), so the challenge has
// the auth-param RFC 6750 §3 requires even when it has nothing else to say.
// The error attributes are left out for missing_token (§3.1: no credentials,
// no error code). Characters RFC 6750 does not allow in an attribute are
// dropped, and the realm is escaped as a quoted-string, so no value can
// break the header.
func Challenge(realm string, e *Error) string {
	if realm == "" {
		realm = DefaultRealm
	}
	var b strings.Builder
	b.WriteString("Bearer")
	sep := " "
	attr := func(name, value string) {
		b.WriteString(sep)
		b.WriteString(name)
		b.WriteString(`="`)
		b.WriteString(value)
		b.WriteByte('"')
		sep = ", "
	}
	attr("realm", quoteEscape(realm))
	code := oauthCode(e.Kind)
	if code == "" {
		return b.String()
	}
	attr("error", code)
	if d := filterChars(message(e), false); d != "" {
		attr("error_description", d)
	}
	if e.Kind == InsufficientScope && len(e.Scopes) > 0 {
		scopes := make([]string, 0, len(e.Scopes))
		for _, s := range e.Scopes {
			if s = filterChars(s, true); s != "" {
				scopes = append(scopes, s)
			}
		}
		if len(scopes) > 0 {
			attr("scope", strings.Join(scopes, " "))
		}
	}
	return b.String()
}

// filterChars keeps what RFC 6750 §3 allows: %x20-21 / %x23-5B / %x5D-7E for
// error_description; scope tokens are the same without the space.
func filterChars(s string, scopeToken bool) string {
	ok := func(c byte) bool {
		if c == ' ' {
			return !scopeToken
		}
		return c >= 0x21 && c <= 0x7e && c != '"' && c != '\\'
	}
	clean := true
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if ok(s[i]) {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// quoteEscape escapes a quoted-string's content (RFC 9110 §5.6.4) and drops
// control characters.
func quoteEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.WriteHeader(status)
	// The bodies are built from strings and numbers: Encode cannot fail.
	_ = json.NewEncoder(w).Encode(body)
}

// OAuthFormat writes RFC 6750 refusals: the Bearer challenge on every 401,
// on invalid_request and on insufficient_scope, and a JSON body
// {"error", "error_description"} whose error is the RFC 6750 code where
// there is one, the Kind otherwise (missing_token, ip_denied, rate_limited,
// not_found, …).
type OAuthFormat struct {
	// Realm is the challenges' realm; empty means DefaultRealm.
	Realm string
}

// WriteError implements Format.
func (f OAuthFormat) WriteError(w http.ResponseWriter, r *http.Request, e *Error) {
	status := writeHeaders(w, e, f.Realm, "application/json")
	code := oauthCode(e.Kind)
	if code == "" {
		code = string(e.Kind)
	}
	writeJSON(w, status, struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, message(e)})
}

// ProblemFormat writes RFC 9457 application/problem+json: type about:blank,
// title (the status text), status, detail (the message), and the extension
// members code (the Kind), scopes (insufficient_scope) and retry_after
// (seconds). It sends the Bearer challenge where OAuthFormat does.
type ProblemFormat struct {
	// Realm is the challenges' realm; empty means DefaultRealm.
	Realm string
}

// WriteError implements Format.
func (f ProblemFormat) WriteError(w http.ResponseWriter, r *http.Request, e *Error) {
	status := writeHeaders(w, e, f.Realm, "application/problem+json")
	body := struct {
		Type       string   `json:"type"`
		Title      string   `json:"title"`
		Status     int      `json:"status"`
		Detail     string   `json:"detail"`
		Code       Kind     `json:"code"`
		Scopes     []string `json:"scopes,omitempty"`
		RetryAfter int64    `json:"retry_after,omitempty"`
	}{"about:blank", statusText(status), status, message(e), e.Kind, nil, 0}
	if e.Kind == InsufficientScope {
		body.Scopes = e.Scopes
	}
	if e.RetryAfter > 0 {
		body.RetryAfter = RetryAfterSeconds(e.RetryAfter)
	}
	writeJSON(w, status, body)
}

// MessageFormat writes {"message": status text}: "Unauthorized",
// "Forbidden", "Too Many Requests", "Not Found", "Payload Too Large", and
// the class ("Client Error", "Server Error") of a status with no text. It
// says no more than the status does.
type MessageFormat struct {
	// Realm is the challenges' realm; empty means DefaultRealm.
	Realm string
}

// WriteError implements Format.
func (f MessageFormat) WriteError(w http.ResponseWriter, r *http.Request, e *Error) {
	status := writeHeaders(w, e, f.Realm, "application/json")
	writeJSON(w, status, struct {
		Message string `json:"message"`
	}{statusText(status)})
}

// EnvelopeFormat writes {"error":{"name","code","message"}}. Two kinds
// have names of their own, ValidationException/VALIDATION_FAILURE
// (validation) and SyntaxError/SYNTAX_ERROR (syntax); every other refusal
// is named after its status:
//
//	400 BadRequestError/BAD_REQUEST          413 PayloadTooLargeError/PAYLOAD_TOO_LARGE
//	401 UnauthorizedError/UNAUTHORIZED       415 UnsupportedMediaTypeError/UNSUPPORTED_MEDIA_TYPE
//	403 ForbiddenError/FORBIDDEN             422 UnprocessableEntityError/UNPROCESSABLE_ENTITY
//	404 NotFoundError/NOT_FOUND              429 TooManyRequestsError/TOO_MANY_REQUESTS
//	405 MethodNotAllowedError/METHOD_NOT_ALLOWED  500 InternalServerError/INTERNAL_SERVER_ERROR
//	409 ConflictError/CONFLICT               503 ServiceUnavailableError/SERVICE_UNAVAILABLE
//
// and any other status the same way from its text (410 GoneError/GONE, 502
// BadGatewayError/BAD_GATEWAY), or its class (ClientError/CLIENT_ERROR,
// ServerError/SERVER_ERROR) when Go has no text for it.
type EnvelopeFormat struct {
	// Realm is the challenges' realm; empty means DefaultRealm.
	Realm string
}

// WriteError implements Format.
func (f EnvelopeFormat) WriteError(w http.ResponseWriter, r *http.Request, e *Error) {
	status := writeHeaders(w, e, f.Realm, "application/json")
	name, code := envelopeNames(e.Kind, status)
	type inner struct {
		Name    string `json:"name"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	writeJSON(w, status, struct {
		Error inner `json:"error"`
	}{inner{name, code, message(e)}})
}

func envelopeNames(k Kind, status int) (name, code string) {
	switch k {
	case Validation:
		return "ValidationException", "VALIDATION_FAILURE"
	case Syntax:
		return "SyntaxError", "SYNTAX_ERROR"
	}
	return statusNames(status)
}

// statusNames derives the envelope's name and code from the status text:
// "Not Found" is NotFoundError and NOT_FOUND, "Internal Server Error"
// InternalServerError (an Error suffix is not doubled) and
// INTERNAL_SERVER_ERROR. Characters other than letters and digits are
// dropped ("I'm a teapot": ImATeapotError, IM_A_TEAPOT).
func statusNames(status int) (name, code string) {
	var n, c strings.Builder
	for word := range strings.FieldsSeq(statusText(status)) {
		w := make([]byte, 0, len(word))
		for i := 0; i < len(word); i++ {
			if b := word[i]; 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' {
				w = append(w, b)
			}
		}
		if len(w) == 0 {
			continue
		}
		if c.Len() > 0 {
			c.WriteByte('_')
		}
		c.WriteString(strings.ToUpper(string(w)))
		n.WriteString(strings.ToUpper(string(w[:1])))
		n.WriteString(strings.ToLower(string(w[1:])))
	}
	name = n.String()
	if !strings.HasSuffix(name, "Error") {
		name += "Error"
	}
	return name, c.String()
}
