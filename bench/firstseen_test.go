package bench

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// firstSeenPoolSize is how many distinct tokens BenchmarkFirstSeenRS256
// cycles through. The verifier under test keeps far fewer (see
// firstSeenCacheSize), so no token is ever found in its cache.
const firstSeenPoolSize = 1024

// firstSeenCacheSize is the tollgate verifier's CacheSize in the first-seen
// benchmark: the smallest cache (one entry), so that every Verify misses,
// verifies in full, inserts its token and evicts another, as a first-seen
// token does in production.
const firstSeenCacheSize = 1

// firstSeenTokens are RS256 tokens with the claims of theToken and a
// distinct jti each, minted once per run.
var firstSeenTokens = sync.OnceValue(func() []string {
	tokens := make([]string, firstSeenPoolSize)
	for i := range tokens {
		tokens[i] = mintToken("first-seen-" + strconv.Itoa(i))
	}
	return tokens
})

// BenchmarkFirstSeenRS256 is a token never seen before: a full RS256
// signature check and claims decoding per request. Sub-benchmarks, each over
// the same pool of distinct tokens, one token per iteration:
//
//   - tollgate_verify: jwt.Verifier.Verify with a cache too small to hit
//     (every call misses, verifies, inserts and evicts);
//   - tollgate_verify_nocache: the same with the cache disabled
//     (CacheSize < 0), so nothing is inserted;
//   - bare_rsa_json: the floor tollgate must stay within 1.5× of:
//     split the token, base64url-decode the signature, SHA-256 the signing
//     input, rsa.VerifyPKCS1v15, base64url-decode the claims and
//     json.Unmarshal them into map[string]any, with no checks at all;
//   - golangjwt_keyfunc: golang-jwt/jwt v5 Parse with a keyfunc v3 key set;
//   - jwx_parse: lestrrat-go/jwx v3 jwt.Parse with the key set, validating
//     issuer and audience (the library tollgate's verifier uses underneath
//     for keys);
//   - auth0_validator: auth0/go-jwt-middleware's ValidateToken.
func BenchmarkFirstSeenRS256(b *testing.B) {
	tokens := firstSeenTokens()
	key := issuer.PublicKey("RS256").(*rsa.PublicKey)

	run := func(b *testing.B, verify func(token string) error) {
		b.Helper()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := verify(tokens[i%len(tokens)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}

	b.Run("tollgate_verify", func(b *testing.B) {
		v := newVerifier(b, firstSeenCacheSize)
		ctx := context.Background()
		run(b, func(token string) error { _, err := v.Verify(ctx, token); return err })
	})
	b.Run("tollgate_verify_nocache", func(b *testing.B) {
		v := newVerifier(b, -1)
		ctx := context.Background()
		run(b, func(token string) error { _, err := v.Verify(ctx, token); return err })
	})
	b.Run("bare_rsa_json", func(b *testing.B) {
		run(b, func(token string) error { return bareRS256(key, token) })
	})
	b.Run("golangjwt_keyfunc", func(b *testing.B) {
		run(b, newGolangJWT(b).parse)
	})
	b.Run("jwx_parse", func(b *testing.B) {
		run(b, newJWX(b).parse)
	})
	b.Run("auth0_validator", func(b *testing.B) {
		v := newAuth0Validator(b)
		ctx := context.Background()
		run(b, func(token string) error { _, err := v.ValidateToken(ctx, token); return err })
	})
}

var b64 = base64.RawURLEncoding

// bareRS256 is the least any RS256 verifier must do: one signature check
// and one JSON decoding of the claims. It checks nothing else.
func bareRS256(key *rsa.PublicKey, token string) error {
	d1 := strings.IndexByte(token, '.')
	d2 := strings.LastIndexByte(token, '.')
	sig, err := b64.DecodeString(token[d2+1:])
	if err != nil {
		return err
	}
	digest := sha256.Sum256([]byte(token[:d2]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig); err != nil {
		return err
	}
	payload, err := b64.DecodeString(token[d1+1 : d2])
	if err != nil {
		return err
	}
	var claims map[string]any
	return json.Unmarshal(payload, &claims)
}
