package bench

import (
	"syscall"
	"testing"
	"time"
)

// processCPU is the CPU time the whole process has used so far, user and
// system, every thread (the garbage collector's included).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU runs loop and reports, beside ns/op (wall time, which on a
// machine shared with others measures the others too), cpu-ns/op: the
// process's CPU time over the iterations. Ratios of cpu-ns/op taken in
// one run are what the bench/README compares.
func reportCPU(b *testing.B, loop func()) {
	b.Helper()
	start := processCPU()
	loop()
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}
