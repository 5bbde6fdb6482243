package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/bench/internal/benchproc"
)

// timeout bounds one replica's work.
const timeout = 5 * time.Minute

// sluicedRun runs sluiced with cfg (dataDir added) until done holds; the
// wall time counts from its start.
func sluicedRun(e *env, name string, cfg func(dir string) string, done func() error) (benchproc.Result, error) {
	dir := filepath.Join(e.dir, name)
	if _, err := os.Stat(dir); err == nil {
		return benchproc.Result{}, fmt.Errorf("%s is used twice", dir)
	}
	start := time.Now()
	var args []string
	if *profile {
		args = []string{"--cpuprofile", filepath.Join(dir, "cpu.pprof")}
	}
	p, err := benchproc.StartSluiced(e.sluiced, dir, cfg(dir), args...)
	if err != nil {
		return benchproc.Result{}, err
	}
	p.Start = start
	return measure(p, start, done)
}

// firstSeen is when the run in progress first saw an event at its end
// (Unix nanoseconds; 0: not yet).
var firstSeen atomic.Int64

// lastFirst is the seconds from the start of the latest run of sluicedRun
// or plainRun until its first event was seen at the end (0: unknown).
var lastFirst float64

// measure measures p until done holds, and sets lastFirst.
func measure(p *benchproc.Proc, start time.Time, done func() error) (benchproc.Result, error) {
	firstSeen.Store(0)
	lastFirst = 0
	r, err := p.Measure(untilExit(p, done))
	if f := firstSeen.Load(); err == nil && f > 0 {
		lastFirst = time.Unix(0, f).Sub(start).Seconds()
	}
	return r, err
}

// plainRun runs this program in a plain-loop role until done holds; the
// wall time counts from its start.
func plainRun(e *env, role string, done func() error, args ...string) (benchproc.Result, error) {
	start := time.Now()
	p, err := benchproc.Start(exec.Command(e.self, append([]string{"-role", role}, args...)...), "ready")
	if err != nil {
		return benchproc.Result{}, err
	}
	p.Start = start
	return measure(p, start, done)
}

// untilExit is done, failing as soon as p exits: a subject that gives up
// is not waited for until the timeout.
func untilExit(p *benchproc.Proc, done func() error) func() error {
	return func() error {
		errc := make(chan error, 1)
		go func() { errc <- done() }()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case err := <-errc:
				return err
			case <-tick.C:
				if p.Exited() {
					return fmt.Errorf("the subject exited before its work was done")
				}
			}
		}
	}
}

// waitFile waits until path holds n events.
func waitFile(path string, n int) func() error {
	return func() error {
		return waitFor(fmt.Sprintf("%s to hold %d events", path, n), n, func() (int64, error) {
			fi, err := os.Stat(path)
			if err != nil {
				return 0, nil
			}
			return fi.Size() / lineLen, nil
		})
	}
}

// waitFor polls count every 2ms until it reaches n, fails, or timeout
// passes. It sets firstSeen when count is first above 0.
func waitFor(what string, n int, count func() (int64, error)) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c, err := count()
		if err != nil {
			return err
		}
		if c > 0 {
			firstSeen.CompareAndSwap(0, time.Now().UnixNano())
		}
		if c >= int64(n) {
			return nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return fmt.Errorf("waited %v for %s", timeout, what)
}

// fileDest is the config of sluiced's file destination writing lines
// (-file-format: raw, or json, the default's events) to path, fsyncing
// batches as large as a consumer's polls, and never rotating (waitFile
// looks at path alone).
func fileDest(path string) string {
	return fmt.Sprintf(`{"type": "file", "path": %q, "format": %q, "maxBytes": 1099511627776,
		"batch": {"count": 65536, "bytes": 8388608, "age": "200ms", "parallelism": 1, "eager": true}}`, path, *fileFormat)
}

// fileSource is the config of sluiced's file source reading path.
func fileSource(path string) string {
	return fmt.Sprintf(`{"type": "file", "paths": [%q], "startAt": "beginning"}`, path)
}
