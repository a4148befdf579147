package bench

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// memoryTokens is how many distinct tokens BenchmarkCacheMemoryPerToken
// caches (minting them is most of its running time).
const memoryTokens = 4096

var memoryPool = sync.OnceValue(func() []string {
	tokens := make([]string, memoryTokens)
	for i := range tokens {
		tokens[i] = mintToken("memory-" + strconv.Itoa(i))
	}
	return tokens
})

// BenchmarkCacheMemoryPerToken fills a verifier's cache of CacheSize
// memoryTokens with as many distinct tokens and reports what the cache
// holds for each beyond the token itself (the tokens are allocated before
// the first reading, and the cache keeps those strings as its keys), in
// B/token, and how many of the memoryTokens it still holds afterwards, in
// held/N (1 means CacheSize: N holds N). ns/op is meaningless here.
func BenchmarkCacheMemoryPerToken(b *testing.B) {
	tokens := memoryPool()
	ctx := context.Background()
	var perToken, held float64
	for b.Loop() {
		b.StopTimer()
		before := heapInUse()
		v := newVerifier(b, memoryTokens)
		b.StartTimer()
		for _, t := range tokens {
			if _, err := v.Verify(ctx, t); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		after := heapInUse()
		n := 0
		for _, t := range tokens {
			if v.Remembered(t) != nil {
				n++
			}
		}
		perToken = (float64(after) - float64(before)) / float64(n)
		held = float64(n) / float64(len(tokens))
		runtime.KeepAlive(v)
		_ = v.Close()
		b.StartTimer()
	}
	b.ReportMetric(perToken, "B/token")
	b.ReportMetric(held, "held/N")
}
