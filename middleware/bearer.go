package middleware

import (
	"net/http"

	tgerrors "github.com/tollgate/tollgate/errors"
)

// DefaultMaxTokenBytes caps a bearer token's length before any parsing or
// network call. Real access tokens are well under it; larger inputs are
// refused as invalid_token.
const DefaultMaxTokenBytes = 8 << 10

var (
	errTwoCredentials = tgerrors.New(tgerrors.InvalidRequest, "The request carries more than one credential")
	errMalformedAuth  = tgerrors.New(tgerrors.InvalidRequest, "The Authorization header is malformed")
	errMissingToken   = tgerrors.New(tgerrors.MissingToken, "")
	errBadToken       = tgerrors.New(tgerrors.InvalidToken, "")
)

// token68 marks, with 1, the bytes RFC 6750 §2.1 allows in a bearer token
// (b64token: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/", then "="
// padding).
var token68 [256]uint8

func init() {
	for c := 'A'; c <= 'Z'; c++ {
		token68[c] = 1
	}
	for c := 'a'; c <= 'z'; c++ {
		token68[c] = 1
	}
	for c := '0'; c <= '9'; c++ {
		token68[c] = 1
	}
	for _, c := range "-._~+/" {
		token68[c] = 1
	}
}

// validToken reports whether s is a non-empty b64token: token68 characters,
// then only "=" padding. It runs on every request over the whole token, so
// it reads eight bytes a step and branches once per step; it does not
// allocate.
func validToken(s string) bool {
	n := len(s)
	for n > 0 && s[n-1] == '=' {
		n--
	}
	if n == 0 {
		return false
	}
	body := s[:n]
	ok := uint8(1)
	i := 0
	for ; i+8 <= len(body); i += 8 {
		b := body[i : i+8]
		ok &= token68[b[0]] & token68[b[1]] & token68[b[2]] & token68[b[3]] &
			token68[b[4]] & token68[b[5]] & token68[b[6]] & token68[b[7]]
	}
	for ; i < len(body); i++ {
		ok &= token68[body[i]]
	}
	return ok == 1
}

// bearerFromHeader reads the token from the Authorization header. found is
// false when no Bearer credential was sent: no header, or another scheme
// (RFC 6750 §3.1 treats an unsupported method like no credentials). The
// token is a substring of the header; nothing is allocated.
func bearerFromHeader(h http.Header) (token string, found bool, err *tgerrors.Error) {
	values := h["Authorization"]
	switch len(values) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", false, errTwoCredentials
	}
	v := values[0]
	const scheme = "bearer"
	if len(v) < len(scheme) || !equalFoldASCII(v[:len(scheme)], scheme) {
		return "", false, nil
	}
	rest := v[len(scheme):]
	if rest == "" {
		return "", true, errMalformedAuth
	}
	if rest[0] != ' ' {
		// "Bearerish …" is another scheme, not a malformed Bearer.
		return "", false, nil
	}
	for rest != "" && rest[0] == ' ' {
		rest = rest[1:]
	}
	if rest == "" {
		return "", true, errMalformedAuth
	}
	return rest, true, nil
}

// equalFoldASCII compares a and b ignoring ASCII case, without allocating.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// extractToken finds the request's one bearer token: the Authorization
// header, and the query parameter and cookie when enabled. Two credentials,
// from one source or two, are invalid_request (RFC 6750 §2: a client uses
// one method). The token's size is checked here; its charset by
// authenticate, before any parsing or network call.
func (a *authenticator) extractToken(r *http.Request) (string, *tgerrors.Error) {
	token, found, err := bearerFromHeader(r.Header)
	if err != nil {
		return "", err
	}
	if a.queryParam != "" {
		if values, ok := r.URL.Query()[a.queryParam]; ok {
			if found || len(values) != 1 {
				return "", errTwoCredentials
			}
			token, found = values[0], true
		}
	}
	if a.cookieName != "" {
		cookies := r.CookiesNamed(a.cookieName)
		if len(cookies) > 0 {
			if found || len(cookies) != 1 {
				return "", errTwoCredentials
			}
			token, found = cookies[0].Value, true
		}
	}
	if !found {
		return "", errMissingToken
	}
	if len(token) > a.maxTokenBytes {
		return "", errBadToken
	}
	return token, nil
}
