package wasmtest

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/cputime"
)

// PerEvent reports the wall and CPU time per event of a benchmark that
// handled size events per iteration and started at cpu0 (a CPUTime).
func PerEvent(b *testing.B, size int, cpu0 time.Duration) {
	n := float64(b.N * size)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
	b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/n, "cpu-ns/event")
}
