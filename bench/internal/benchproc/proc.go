// Package benchproc runs the subjects of the standalone benchmark commands
// (bench/otlp, bench/brokers) as processes and measures them: wall time
// of the work, CPU seconds (utime+stime) and peak RSS (VmHWM) read from
// /proc just before the process is stopped.
package benchproc

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Result is one replica's figures.
type Result struct {
	Secs, CPU float64 // wall seconds of the work, CPU seconds of the process
	HWM       int64   // peak RSS in bytes
}

// Rate returns n events over the wall seconds.
func (r Result) Rate(n int) float64 { return float64(n) / r.Secs }

// Proc is a subject process.
type Proc struct {
	cmd    *exec.Cmd
	Start  time.Time // when the measured work starts; zero: when Measure is called
	done   chan error
	exited chan struct{} // closed when the process has exited
}

// Exited reports whether the process has exited (before Stop).
func (p *Proc) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Start starts cmd and waits for a line of its output holding ready.
func Start(cmd *exec.Cmd, ready string) (*Proc, error) {
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Proc{cmd: cmd, done: make(chan error, 1), exited: make(chan struct{})}
	go func() { err := cmd.Wait(); close(p.exited); p.done <- err; pw.Close() }()
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		ok := false
		for sc.Scan() {
			if !ok && strings.Contains(sc.Text(), ready) {
				ok = true
				found <- true
			}
		}
		if !ok {
			found <- false
		}
	}()
	select {
	case ok := <-found:
		if !ok {
			return nil, fmt.Errorf("%s exited before %q", cmd.Path, ready)
		}
	case <-time.After(30 * time.Second):
		p.Stop()
		return nil, fmt.Errorf("%s: no %q in 30s", cmd.Path, ready)
	}
	return p, nil
}

// StartSluiced runs sluiced (bin) with the config cfg, written in dir,
// and the extra arguments of sluiced run, and waits until it runs.
func StartSluiced(bin, dir, cfg string, args ...string) (*Proc, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "sluiced.hujson")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, append([]string{"run", "--config", path}, args...)...)
	cmd.Dir = dir
	return Start(cmd, "msg=running")
}

// Measure runs work, then reads the process's CPU time and peak RSS and
// stops it.
func (p *Proc) Measure(work func() error) (Result, error) {
	defer p.Stop()
	start := p.Start
	if start.IsZero() {
		start = time.Now()
	}
	if err := work(); err != nil {
		return Result{}, err
	}
	secs := time.Since(start).Seconds()
	cpu, hwm, err := Usage(p.cmd.Process.Pid)
	if err != nil {
		return Result{}, err
	}
	return Result{Secs: secs, CPU: cpu, HWM: hwm}, nil
}

// Stop stops the process: SIGTERM, then SIGKILL after 10s.
func (p *Proc) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Usage returns utime+stime in seconds and VmHWM in bytes of pid.
func Usage(pid int) (float64, int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	var hwm int64
	for line := range strings.SplitSeq(string(s), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			hwm = kb << 10
		}
	}
	return float64(ut+st) / 100, hwm, nil
}

// RunToEnd runs cmd, a subject that ends by itself once its work is done,
// and returns its wall time, CPU time and peak RSS from the kernel's
// accounting of the process.
func RunToEnd(cmd *exec.Cmd) (Result, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("%s: %v: %s", cmd.Path, err, out.String())
	}
	secs := time.Since(start).Seconds()
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return Result{}, fmt.Errorf("%s: no resource usage", cmd.Path)
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	return Result{Secs: secs, CPU: cpu, HWM: int64(ru.Maxrss) << 10}, nil
}

// Replicas runs run for replicas 0..k-1 and returns their results, fastest
// first: the median is the middle one.
func Replicas(k int, run func(i int) (Result, error)) ([]Result, error) {
	var rs []Result
	for i := range k {
		r, err := run(i)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Secs < rs[j].Secs })
	return rs, nil
}
