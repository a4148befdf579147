package apikey

import (
	"crypto/rand"
	"fmt"
	"hash/crc32"
)

// The token format is GitHub's: <prefix>_<random><checksum>.
//
//	mt_live_2Bq8k1xZ0pLw9cY4rT7uV3nH6mJ5sD0a 1kZp9Q
//	└prefix┘└──────── 32 random base62 ───────┘└crc┘
//
// The random part is RandomChars characters of [0-9A-Za-z] drawn uniformly
// from crypto/rand (32 × log2(62) ≈ 190.5 bits). The checksum is the CRC-32
// (IEEE) of everything before it, prefix and underscore included, written
// as six base62 digits. It is not a MAC: it lets a secret scanner or a typo
// check tell a real token from noise offline, and lets the verifier refuse
// malformed tokens before any storage lookup.
const (
	// RandomChars is how many random base62 characters a token carries.
	RandomChars = 32
	// ChecksumChars is how many base62 characters the CRC-32 takes.
	ChecksumChars = 6
	// bodyChars is what follows the prefix's underscore.
	bodyChars = RandomChars + ChecksumChars
	// maxPrefixLen bounds a prefix, so a token is never longer than
	// DefaultMaxTokenBytes would allow by a wide margin.
	maxPrefixLen = 32
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Prefix is one kind of key: what its tokens start with and the principal
// type its callers get. A provider typically has one per environment,
// {Name: "mt_live", Type: "merchant"} and {Name: "mt_test", Type:
// "merchant"}, so a test key is recognisable at a glance and never
// mistaken for a live one.
type Prefix struct {
	// Name is what the token starts with, before its final "_": lower-case
	// letters, digits and inner underscores, 1 to 32 characters. Tokens
	// are "<Name>_<random><checksum>".
	Name string
	// Type is the principal type of a caller with such a key (see
	// principal.Principal.Type and middleware.RequireType). Default:
	// "apikey".
	Type string
}

func (p Prefix) validate() error {
	n := p.Name
	if n == "" || len(n) > maxPrefixLen {
		return fmt.Errorf("apikey: prefix %q: 1 to %d characters", n, maxPrefixLen)
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' && i > 0 && i < len(n)-1) {
			return fmt.Errorf("apikey: prefix %q: only a-z, 0-9 and inner underscores", n)
		}
	}
	return nil
}

// newToken returns a fresh token of the given prefix name.
func newToken(prefix string) (string, error) {
	buf := make([]byte, 0, len(prefix)+1+bodyChars)
	buf = append(buf, prefix...)
	buf = append(buf, '_')
	var random [64]byte
	for len(buf) < len(prefix)+1+RandomChars {
		if _, err := rand.Read(random[:]); err != nil {
			return "", fmt.Errorf("apikey: reading random bytes: %w", err)
		}
		for _, b := range random {
			// 248 = 4 × 62: values at or above it would favour the
			// first characters of the alphabet.
			if b < 248 && len(buf) < len(prefix)+1+RandomChars {
				buf = append(buf, base62[b%62])
			}
		}
	}
	sum := crc32.ChecksumIEEE(buf)
	var digits [ChecksumChars]byte
	encodeChecksum(&digits, sum)
	buf = append(buf, digits[:]...)
	return string(buf), nil
}

// encodeChecksum writes sum as six base62 digits, most significant first
// (62^6 > 2^32, so every CRC-32 fits).
func encodeChecksum(dst *[ChecksumChars]byte, sum uint32) {
	for i := ChecksumChars - 1; i >= 0; i-- {
		dst[i] = base62[sum%62]
		sum /= 62
	}
}

// base62Value is the digit value of each base62 character, or 0xff.
var base62Value = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(base62); i++ {
		t[base62[i]] = byte(i)
	}
	return t
}()

// crcTables are the slicing-by-8 tables of CRC-32 (IEEE), the method
// hash/crc32 uses on short inputs. checksumString reads a string with them
// directly: hash/crc32 wants a []byte, and converting the token would
// allocate (the conversion escapes through the package's indirect call).
var crcTables = func() (t [8][256]uint32) {
	t[0] = *crc32.MakeTable(crc32.IEEE)
	for i := range 256 {
		crc := t[0][i]
		for j := 1; j < 8; j++ {
			crc = t[0][crc&0xff] ^ crc>>8
			t[j][i] = crc
		}
	}
	return t
}()

func checksumString(s string) uint32 {
	crc := ^uint32(0)
	for len(s) >= 8 {
		crc ^= uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
		crc = crcTables[0][s[7]] ^ crcTables[1][s[6]] ^ crcTables[2][s[5]] ^ crcTables[3][s[4]] ^
			crcTables[4][crc>>24] ^ crcTables[5][crc>>16&0xff] ^ crcTables[6][crc>>8&0xff] ^ crcTables[7][crc&0xff]
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		crc = crcTables[0][byte(crc)^s[i]] ^ crc>>8
	}
	return ^crc
}

// tokenPrefix returns the prefix of a token of the right shape: the
// right length and an underscore before the body. It reads three bytes;
// the body's characters and checksum are checkTail's.
func tokenPrefix(token string) (prefix string, ok bool) {
	n := len(token)
	if n < bodyChars+2 || n > maxPrefixLen+1+bodyChars || token[n-bodyChars-1] != '_' {
		return "", false
	}
	return token[:n-bodyChars-1], true
}

// checkTail reports whether a token of the right shape has a base62 body
// and a checksum that matches. It allocates nothing.
func checkTail(token string) bool {
	n := len(token)
	var bad byte
	for i := n - bodyChars; i < n-ChecksumChars; i++ {
		bad |= base62Value[token[i]]
	}
	var sum uint32
	for i := n - ChecksumChars; i < n; i++ {
		v := base62Value[token[i]]
		bad |= v
		sum = sum*62 + uint32(v)
	}
	// An invalid character has value 0xff; valid ones are below 62, so
	// the OR of valid ones stays below 64 and any invalid one sets the top
	// bits. Six
	// digits may spell more than 2^32-1 and wrap: no such checksum is
	// ever written, so the bound is checked before the comparison.
	return bad&0xc0 == 0 && checksumFits(token[n-ChecksumChars:]) && checksumString(token[:n-ChecksumChars]) == sum
}

// splitToken returns the prefix of a well-formed token: the right shape,
// a base62 body and a checksum that matches. It allocates nothing and
// looks nothing up.
func splitToken(token string) (prefix string, ok bool) {
	prefix, ok = tokenPrefix(token)
	if !ok || !checkTail(token) {
		return "", false
	}
	return prefix, true
}

// maxChecksum is 2^32-1 in six base62 digits.
const maxChecksum = "4gfFC3"

// checksumFits reports whether six base62 digits spell at most 2^32-1;
// digits compare in base62 order because the alphabet is in ASCII order.
func checksumFits(digits string) bool {
	return digits <= maxChecksum
}

// Hint is the short, non-secret form of a token shown in a portal's key
// list: the prefix and the token's last four characters,
// "mt_live_…a1b2". The four characters are checksum digits: they tell
// keys apart at a glance and disclose at most 24 bits about the 190-bit
// random part.
func Hint(token string) string {
	prefix, ok := splitToken(token)
	if !ok {
		return ""
	}
	return prefix + "_…" + token[len(token)-4:]
}

// WellFormed reports whether token has the shape and checksum of a key
// made by this package, whatever its prefix: what a secret scanner or a
// client-side typo check needs. It does not say the key exists. It
// allocates nothing.
func WellFormed(token string) bool {
	_, ok := splitToken(token)
	return ok
}
