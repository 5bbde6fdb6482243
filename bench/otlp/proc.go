package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a subject process.
type proc struct {
	cmd   *exec.Cmd
	start time.Time // when the measured work starts; zero: when measure is called
	done  chan error
}

// startProc starts cmd and waits for a line of its output holding ready.
func startProc(cmd *exec.Cmd, ready string) (*proc, error) {
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); pw.Close() }()
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
		p.stop()
		return nil, fmt.Errorf("%s: no %q in 30s", cmd.Path, ready)
	}
	return p, nil
}

// startSluiced runs sluiced with cfg in dir.
func startSluiced(bin, dir, cfg string) (*proc, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "sluiced.hujson")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "--config", path)
	cmd.Dir = dir
	return startProc(cmd, "msg=running")
}

// measure runs work, then reads the process's CPU time and peak RSS and
// stops it.
func (p *proc) measure(work func() error) (result, error) {
	defer p.stop()
	start := p.start
	if start.IsZero() {
		start = time.Now()
	}
	if err := work(); err != nil {
		return result{}, err
	}
	secs := time.Since(start).Seconds()
	cpu, hwm, err := usage(p.cmd.Process.Pid)
	if err != nil {
		return result{}, err
	}
	return result{secs: secs, cpu: cpu, hwm: hwm}, nil
}

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// usage returns utime+stime in seconds and VmHWM in bytes of pid.
func usage(pid int) (float64, int64, error) {
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

// profiled runs work while it takes a CPU profile of the sluiced whose
// admin listener is at admin, then saves its block and mutex profiles
// (empty unless the binary sets their rates) and its allocations, as <name>.<kind>.pb.gz in
// the -profile directory.
func profiled(admin, name string, work func() error) error {
	if err := os.MkdirAll(*profile, 0o755); err != nil {
		return err
	}
	get := func(path, kind string) error {
		resp, err := http.Get("http://" + admin + "/debug/pprof/" + path)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("pprof %s: %s", path, resp.Status)
		}
		f, err := os.Create(filepath.Join(*profile, name+"."+kind+".pb.gz"))
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(f, resp.Body)
		return err
	}
	// The CPU profile covers the first -profile-seconds of the work: pick
	// -records so that the work lasts longer.
	cpu := make(chan error, 1)
	go func() {
		if os.Getenv("XTRACE") != "" {
			cpu <- get("trace?seconds=1", "trace")
			return
		}
		cpu <- get(fmt.Sprintf("profile?seconds=%d", *profileSecs), "cpu")
	}()
	if err := work(); err != nil {
		return err
	}
	if err := <-cpu; err != nil {
		return err
	}
	for _, kind := range []string{"block", "mutex", "allocs"} {
		if err := get(kind, kind); err != nil {
			return err
		}
	}
	return nil
}
