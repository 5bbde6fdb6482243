package cputime_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/cputime"
)

// Both clocks move forward while the calling thread spins, and by no
// more than the wall time passed (one thread: the process may use more).
func TestClocksCountWork(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p0, t0, w0 := cputime.Process(), cputime.Thread(), time.Now()
	for time.Since(w0) < 50*time.Millisecond {
	}
	p, th, wall := cputime.Process()-p0, cputime.Thread()-t0, time.Since(w0)
	if p <= 0 {
		t.Errorf("process CPU moved %v while spinning", p)
	}
	if runtime.GOOS == "linux" && (th <= 0 || th > wall+time.Millisecond) {
		t.Errorf("thread CPU moved %v while spinning for %v", th, wall)
	}
}
