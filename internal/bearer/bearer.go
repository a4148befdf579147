// Package bearer reads a bearer token from the Authorization header (RFC
// 6750 §2.1) and checks its charset. It is the one reading of that header
// that middleware.Authenticate and ratelimit.KeyByToken share, so that the
// credential a request is keyed by is the one it was authenticated with,
// the one check of a token's charset, which introspect.Client makes too,
// and the one digest of a token that stands for it in keys (Sum256).
package bearer

import (
	"crypto/sha256"
	"net/http"
	"unsafe"
)

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

// Valid reports whether s is a non-empty RFC 6750 §2.1 b64token, as a
// bearer token must be: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" /
// "/" ) *"=". It runs on every request over the whole token, so it reads
// eight bytes a step and branches once per step; it does not allocate.
func Valid(s string) bool {
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

// Sum256 is the SHA-256 of token, for a key that stands for a token
// without holding it (a cache's, a rate-limit bucket's, a revocation
// list's). It reads the string's bytes in place: converting to []byte would
// copy the token on every request, and sha256.Sum256 neither keeps nor
// modifies its input. It does not allocate.
func Sum256(token string) [sha256.Size]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
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
