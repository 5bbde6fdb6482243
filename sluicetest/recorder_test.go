package sluicetest

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
)

// recorder is a tb that records what the suite reports instead of failing
// the test, so that a test can run the suite on a broken connector and see
// which rules it reports. Subtests run in goroutines of their own, as with
// testing.T: Fatalf and Skipf end only the subtest.
type recorder struct {
	name string
	log  *log

	mu       sync.Mutex
	failed   bool
	cleanups []func()
}

// log is what every recorder of one run reported.
type log struct {
	mu      sync.Mutex
	reports []report
	lines   []string // everything, for a failing test to show
}

type report struct{ test, msg string }

func newRecorder(name string) *recorder { return &recorder{name: name, log: new(log)} }

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return r.name }

func (r *recorder) Logf(format string, args ...any) { r.line("    ", fmt.Sprintf(format, args...)) }

func (r *recorder) Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.log.mu.Lock()
	r.log.reports = append(r.log.reports, report{r.name, msg})
	r.log.mu.Unlock()
	r.line("ERR ", msg)
	r.mu.Lock()
	r.failed = true
	r.mu.Unlock()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.line("SKIP", fmt.Sprintf(format, args...))
	runtime.Goexit()
}

func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	r.cleanups = append(r.cleanups, f)
	r.mu.Unlock()
}

func (r *recorder) Run(name string, f func(t tb)) bool {
	c := &recorder{name: r.name + "/" + name, log: r.log}
	c.do(f)
	if c.Failed() {
		r.mu.Lock()
		r.failed = true
		r.mu.Unlock()
	}
	return !c.Failed()
}

// do calls f(r) in a goroutine of its own, which Fatalf and Skipf end,
// then r's cleanups.
func (r *recorder) do(f func(t tb)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer r.cleanup()
		f(r)
	}()
	<-done
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) cleanup() {
	for {
		r.mu.Lock()
		n := len(r.cleanups)
		if n == 0 {
			r.mu.Unlock()
			return
		}
		f := r.cleanups[n-1]
		r.cleanups = r.cleanups[:n-1]
		r.mu.Unlock()
		f()
	}
}

func (r *recorder) line(kind, msg string) {
	r.log.mu.Lock()
	r.log.lines = append(r.log.lines, kind+" "+r.name+": "+msg)
	r.log.mu.Unlock()
}

// Reports returns what the run reported with Errorf or Fatalf.
func (r *recorder) Reports() []report {
	r.log.mu.Lock()
	defer r.log.mu.Unlock()
	return append([]report(nil), r.log.reports...)
}

// String returns everything the run logged, one line each.
func (r *recorder) String() string {
	r.log.mu.Lock()
	defer r.log.mu.Unlock()
	return strings.Join(r.log.lines, "\n")
}
