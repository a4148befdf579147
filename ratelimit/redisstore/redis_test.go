package redisstore_test

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// The Redis servers these tests use come from internal/redistest: the
// shared one `make test` starts (redistest.Shared, keys under
// redistest.Prefix) and servers of a test's own that it may kill, pause
// and restart (redistest.Start).

// liveTimeout bounds decisions on a Redis that is up. The default (100 ms)
// is what production wants; on a loaded test machine running -race, a
// decision can take longer, fall back to the local limiter and break an
// exact count, so tests that are not about timeouts give it room.
const liveTimeout = 5 * time.Second

// concurrently runs f n times at once and returns how many returned true.
func concurrently(n int, f func(i int) bool) int {
	var mu sync.Mutex
	count := 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if f(i) {
				mu.Lock()
				count++
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	return count
}

// hashTag is the hash tag the store gives an application key's Redis keys,
// as the package doc describes it: the first 16 bytes of its SHA-256, in
// hex, in braces.
func hashTag(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "{" + hex.EncodeToString(sum[:16]) + "}"
}
