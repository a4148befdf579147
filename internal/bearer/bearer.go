// Package bearer reads a bearer token from the Authorization header (RFC
// 6750 §2.1). It is the one reading of that header that
// middleware.Authenticate and ratelimit.KeyByToken share, so that the
// credential a request is keyed by is the one it was authenticated with.
package bearer

import "net/http"

// A Result says what a request's Authorization header holds.
type Result int

const (
	// None: no Authorization header, or one with another scheme (RFC 6750
	// §3.1 treats an unsupported method like no credentials).
	None Result = iota
	// Found: a Bearer credential, whose token FromHeader returns.
	Found
	// Malformed: "Bearer" with no token after it.
	Malformed
	// Several: more than one Authorization header.
	Several
)

// FromHeader reads the Bearer token of h's one Authorization header. The
// scheme is matched in any ASCII case and the spaces after it are skipped;
// "Bearerish …" is another scheme. The token is a substring of the header;
// nothing is allocated.
func FromHeader(h http.Header) (string, Result) {
	values := h["Authorization"]
	switch len(values) {
	case 0:
		return "", None
	case 1:
	default:
		return "", Several
	}
	v := values[0]
	const scheme = "bearer"
	if len(v) < len(scheme) || !equalFoldASCII(v[:len(scheme)], scheme) {
		return "", None
	}
	rest := v[len(scheme):]
	if rest == "" {
		return "", Malformed
	}
	if rest[0] != ' ' {
		return "", None
	}
	for rest != "" && rest[0] == ' ' {
		rest = rest[1:]
	}
	if rest == "" {
		return "", Malformed
	}
	return rest, Found
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
