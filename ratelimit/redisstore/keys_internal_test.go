package redisstore

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/ratelimit"
)

// hashTagOf is what Redis Cluster hashes of key: the text between the first
// '{' and the first '}' after it, if that is not empty; else the whole key.
func hashTagOf(key string) string {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return key
	}
	end := strings.IndexByte(key[open+1:], '}')
	if end <= 0 {
		return key
	}
	return key[open+1 : open+1+end]
}

// Whatever the application key, Redis reads the key's digest as the hash
// tag of every one of its limits: never empty, never a part of the key.
func FuzzRedisKeysHashTagIsTheDigest(f *testing.F) {
	for _, k := range []string{"}{", "{}", "a{b}c", "{x}", "{x}y", "", "{", "}", "{{}}", "client:app-1"} {
		f.Add(k, "burst")
	}
	f.Add("a", "}{")
	f.Add("{", "")
	f.Fuzz(func(t *testing.T, key, name string) {
		// A limit name may hold braces too: they come after the tag.
		sum := sha256.Sum256([]byte(key))
		want := hex.EncodeToString(sum[:tagBytes])
		for _, k := range redisKeys("tollgate:rl:", key, []ratelimit.Limit{{Name: name}, {Name: "other"}}) {
			if got := hashTagOf(k); got != want {
				t.Fatalf("key %q: Redis key %q has hash tag %q, want the digest %q", key, k, got, want)
			}
			if !strings.HasPrefix(k, "tollgate:rl:{"+want+"}:") {
				t.Fatalf("key %q: Redis key %q", key, k)
			}
		}
	})
}
