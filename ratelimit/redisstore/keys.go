package redisstore

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/tollgate/tollgate/ratelimit"
)

// tagBytes is how much of a key's SHA-256 names its hash tag: 128 bits,
// 32 hex digits.
const tagBytes = 16

// redisKeys are the Redis keys of one request key's limits:
// Prefix + "{" + 32 hex digits of SHA-256(key) + "}:" + limit name.
//
// The hash tag is the digest, never the key: an application key is
// whatever its KeyFunc returns (a header, a client id), and one holding
// braces ("}{", "{}", "a{b}c", "{x}") would otherwise give its limits an
// empty or foreign hash tag, spreading them over slots (CROSSSLOT on Redis
// Cluster) or piling unrelated keys onto one. Hex digits hold no brace, and
// the Prefix none, so Redis reads exactly the digest as the tag. The key
// itself is not stored: Redis keys stay short however long the application
// key, and two keys' buckets meet only if their digests' first 128 bits do.
func redisKeys(prefix, key string, limits []ratelimit.Limit) []string {
	sum := sha256.Sum256([]byte(key))
	var tag [2*tagBytes + 3]byte
	tag[0] = '{'
	hex.Encode(tag[1:], sum[:tagBytes])
	tag[2*tagBytes+1], tag[2*tagBytes+2] = '}', ':'
	base := prefix + string(tag[:])
	keys := make([]string, len(limits))
	for i, l := range limits {
		name := l.Name
		if name == "" {
			name = strconv.Itoa(i)
		}
		keys[i] = base + name
	}
	return keys
}
