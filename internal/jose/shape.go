// Package jose holds what tollgate's verifiers must agree on about JOSE
// objects: which spelling of a token is its one canonical form, how a JSON
// text is decoded strictly, and which claims mark a token that is not an
// access token.
//
// A compact JWS has exactly one canonical spelling: three non-empty parts of
// unpadded base64url whose unused trailing bits are zero (RFC 7515 §2, §7.1).
// Decoders in the wild are laxer: they take padding, the standard alphabet's
// '+' and '/', non-zero trailing bits, and some skip any byte outside their
// alphabet. To them one token has many spellings; to a cache or a revocation
// list keyed by the token's bytes, each spelling is another token. So every
// path that verifies a token first asks Classify and refuses a token that
// has the shape of a JOSE object but not its canonical spelling, and every
// path that hashes one hashes its Canonicalize'd form.
package jose

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// Shape is what a token looks like, judged by its bytes alone.
type Shape uint8

const (
	// Opaque is a token that is not a JOSE object in any spelling. This
	// includes tokens of three dot-separated parts that are not canonical
	// base64url and hold no JOSE header, such as RFC 6749's example
	// "mF_9.B5f-4.1JqM".
	Opaque Shape = iota
	// CompactJWS is a token of three non-empty parts of canonical
	// base64url: a compact JWS in its one spelling, if it is a JWS at all.
	CompactJWS
	// CompactJWE is a compact JWE (RFC 7516) in its canonical spelling:
	// five parts of canonical base64url, the first a JSON object with an
	// "alg" member. Its content is opaque to a resource server.
	CompactJWE
	// NotCanonical is a JOSE object spelled in any other way: a token that
	// is neither a CompactJWS nor a CompactJWE, with a dot-separated part
	// that decodes, under any base64 variant, to a JSON object with an
	// "alg" member. Such a token must be refused: a lax reader takes it for
	// the canonical token, a hash of its bytes does not.
	NotCanonical
)

// b64Value maps a byte to its 6-bit value in the union of the standard and
// URL-safe base64 alphabets, or to -1.
var b64Value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[c] = int8(i)
	}
	t['+'], t['/'] = 62, 63
	return t
}()

// Classify tells the shape of token. It reads a canonical three-part token
// once and does not allocate; it decodes a part of any other token with
// dots only when the part starts as the base64 of a JSON text does.
func Classify(token string) Shape {
	dots := strings.Count(token, ".")
	if dots == 0 {
		return Opaque
	}
	if dots == 2 && canonicalParts(token, false) {
		return CompactJWS
	}
	if !hasJOSEHeader(token) {
		return Opaque
	}
	if dots == 4 && canonicalParts(token, true) && isJOSEHeader(token[:strings.IndexByte(token, '.')]) {
		return CompactJWE
	}
	return NotCanonical
}

// hasJOSEHeader reports whether any dot-separated part of token is a JOSE
// header in some spelling: a lax reader may skip what comes before it.
func hasJOSEHeader(token string) bool {
	for {
		part, rest, more := strings.Cut(token, ".")
		if isJOSEHeader(part) {
			return true
		}
		if !more {
			return false
		}
		token = rest
	}
}

// canonicalParts reports whether every dot-separated part of token is
// canonical base64url, and non-empty unless emptyOK (the first part never
// may be empty).
func canonicalParts(token string, emptyOK bool) bool {
	for i := 0; ; i++ {
		part, rest, more := strings.Cut(token, ".")
		if part == "" && (i == 0 || !emptyOK) || !Canonical(part) {
			return false
		}
		if !more {
			return true
		}
		token = rest
	}
}

// Canonical reports whether s is canonical unpadded base64url: URL-safe
// alphabet only, a length that is not 1 modulo 4, and zero trailing bits in
// the last character, so that s is the only spelling of the bytes it
// encodes. It reads s once and does not allocate.
func Canonical(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; b64Value[c] < 0 || c == '+' || c == '/' {
			return false
		}
	}
	if len(s) == 0 {
		return true
	}
	last := b64Value[s[len(s)-1]]
	switch len(s) % 4 {
	case 1:
		return false
	case 2:
		return last&0x0f == 0
	case 3:
		return last&0x03 == 0
	}
	return true
}

// laxDecode appends to dst what the laxest base64 decoder reads in s: both
// alphabets, every other byte (padding, '~', whitespace) skipped, trailing
// bits dropped.
func laxDecode(dst []byte, s string) []byte {
	var acc uint32
	bits := 0
	for i := 0; i < len(s); i++ {
		v := b64Value[s[i]]
		if v < 0 {
			continue
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 8 {
			bits -= 8
			dst = append(dst, byte(acc>>bits))
		}
	}
	return dst
}

// isJOSEHeader reports whether part decodes, leniently, to a JSON object
// with an "alg" member. The first decoded byte, from the first two base64
// characters, tells most parts apart without decoding them: a JSON object
// starts with '{' or whitespace. It does not allocate for a part of up to
// 512 decoded bytes.
func isJOSEHeader(part string) bool {
	var first [2]int8
	n := 0
	for i := 0; i < len(part) && n < 2; i++ {
		if v := b64Value[part[i]]; v >= 0 {
			first[n] = v
			n++
		}
	}
	if n < 2 {
		return false
	}
	switch byte(first[0])<<2 | byte(first[1])>>4 {
	case '{', ' ', '\t', '\n', '\r':
	default:
		return false
	}
	var buf [512]byte
	b := laxDecode(buf[:0], part)
	return json.Valid(b) && hasTopLevelName(b, "alg")
}

// hasTopLevelName reports whether the JSON text b, which must be valid, is
// an object with a member called name once unescaped.
func hasTopLevelName(b []byte, name string) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	depth, expectName := 0, false
	for ; i < len(b); i++ {
		switch c := b[i]; c {
		case '{', '[':
			depth++
			expectName = depth == 1 && c == '{'
		case '}', ']':
			depth--
		case ',':
			expectName = depth == 1
		case '"':
			end := stringEnd(b, i)
			if depth == 1 && expectName && unescapedEquals(b[i+1:end], name) {
				return true
			}
			expectName = false
			i = end
		}
	}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index of the quote that closes the JSON string
// opening at b[start].
func stringEnd(b []byte, start int) int {
	for i := start + 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(b)
}

// unescapedEquals reports whether the body of a valid JSON string, once its
// escapes are decoded, is the ASCII text want.
func unescapedEquals(raw []byte, want string) bool {
	j := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\\' {
			i++
			switch e := raw[i]; e {
			case 'u':
				r := 0
				for _, h := range raw[i+1 : i+5] {
					r = r<<4 | hexValue(h)
				}
				i += 4
				if r >= 0x80 {
					return false
				}
				c = byte(r)
			case 'b', 'f', 'n', 'r', 't':
				return false
			default:
				c = e // '"', '\\', '/'
			}
		}
		if j >= len(want) || want[j] != c {
			return false
		}
		j++
	}
	return j == len(want)
}

func hexValue(h byte) int {
	switch {
	case '0' <= h && h <= '9':
		return int(h - '0')
	case 'a' <= h && h <= 'f':
		return int(h-'a') + 10
	default:
		return int(h-'A') + 10
	}
}

// Canonicalize returns the canonical spelling of a token that Classify
// calls NotCanonical: each dot-separated part decoded as the laxest decoder
// would and encoded again as unpadded base64url. Every spelling of one JWS
// has one canonical form, so a hash of it tells the token and not the
// spelling. Any other token is returned as it is.
func Canonicalize(token string) string {
	if Classify(token) != NotCanonical {
		return token
	}
	var out strings.Builder
	out.Grow(len(token))
	var buf []byte
	for i := 0; ; i++ {
		part, rest, more := strings.Cut(token, ".")
		if i > 0 {
			out.WriteByte('.')
		}
		buf = laxDecode(buf[:0], part)
		out.WriteString(base64.RawURLEncoding.EncodeToString(buf))
		if !more {
			return out.String()
		}
		token = rest
	}
}
