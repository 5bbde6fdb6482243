package wasmtest

import (
	"syscall"
	"testing"
	"time"
)

// CPUTime is the process's CPU time, user and system: on a machine
// shared with other work it varies less than the wall clock.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// PerEvent reports the wall and CPU time per event of a benchmark that
// handled size events per iteration and started at cpu0 (a CPUTime).
func PerEvent(b *testing.B, size int, cpu0 time.Duration) {
	n := float64(b.N * size)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
	b.ReportMetric(float64((CPUTime()-cpu0).Nanoseconds())/n, "cpu-ns/event")
}
