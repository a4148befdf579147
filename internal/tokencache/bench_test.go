package tokencache

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// processCPU is the CPU time the process has used, every thread.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGetOneTokenParallel is every goroutine hitting one 709-byte
// token among 5,001 cached, each with its own copy of the token's bytes (as requests
// bring their own). Run it with -cpu 1,2: cpu-ns/op is the process's CPU
// time per hit, which rises with the goroutines when hits contend on a
// shared cache line (a lock, a counter) and stays flat when they do not,
// whatever else runs on the machine; ns/op is wall time per hit.
func BenchmarkGetOneTokenParallel(b *testing.B) {
	token := strings.Repeat("x", 700) + "abcdefghi"
	c := New[int](10_000)
	for i := range 5_000 { // a cache in use, not one small map
		c.Put(fmt.Sprintf("%s%08d", token[:701], i), &Entry[int]{Expires: t0.Add(time.Hour)})
	}
	c.Put(token, &Entry[int]{Expires: t0.Add(time.Hour)})
	start := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		mine := string([]byte(token))
		for pb.Next() {
			if c.Get(mine, t0) == nil {
				b.Error("miss")
				return
			}
		}
	})
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}
