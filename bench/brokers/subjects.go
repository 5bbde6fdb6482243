package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	return p.Measure(untilExit(p, done))
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
	return p.Measure(untilExit(p, done))
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
		return waitFor(fmt.Sprintf("%s to hold %d events", path, n), func() (bool, error) {
			fi, err := os.Stat(path)
			return err == nil && fi.Size() >= int64(n*lineLen), nil
		})
	}
}

// waitFor polls ok every 2ms until it holds, fails, or timeout passes.
func waitFor(what string, ok func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		done, err := ok()
		if err != nil {
			return err
		}
		if done {
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
