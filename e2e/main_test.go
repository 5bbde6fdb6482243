// Package e2e runs the sluiced binary against real programs: logger(1)
// and nginx. A test whose program is missing skips, unless SLUICE_E2E=1
// (as in CI), where it fails.
package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var sluiced string // the binary under test

// buildTags are scripts/build's, so that the binary under test is the
// released one.
const buildTags = "grpcnotrace"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluiced-e2e")
	if err != nil {
		panic(err)
	}
	sluiced = filepath.Join(dir, "sluiced")
	if out, err := exec.Command("go", "build", "-tags", buildTags, "-o", sluiced, "../cmd/sluiced").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build sluiced: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// need returns the path of program, skipping the test if it is missing
// (failing it under SLUICE_E2E=1).
func need(t *testing.T, program string, alt ...string) string {
	t.Helper()
	for _, p := range append([]string{program}, alt...) {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("SLUICE_E2E") == "1" {
		t.Fatalf("%s is not installed (SLUICE_E2E=1 requires it)", program)
	}
	t.Skipf("%s is not installed; set SLUICE_E2E=1 to make this a failure", program)
	return ""
}

// handedOut holds the ports freePort has seen: the kernel may give a
// just-closed port again, and two listeners of one daemon (its admin and
// a source) then collide.
var handedOut sync.Map // int -> bool

// freePort returns a port free on 127.0.0.1 for both UDP and TCP, never
// the same one twice in a run.
func freePort(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if _, dup := handedOut.LoadOrStore(port, true); dup {
			if err == nil {
				u.Close()
			}
			continue
		}
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// daemon is a running sluiced.
type daemon struct {
	cmd    *exec.Cmd
	logs   *logBuffer
	done   chan error
	tracer *os.Process // strace, if attached by trace
}

type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs sluiced with config and waits until its sources listen.
func start(t *testing.T, dir, config string) *daemon {
	t.Helper()
	return startWith(t, dir, config)
}

// startWith is start with more arguments for "sluiced run", such as
// --watch. The config is dir/sluiced.hujson.
func startWith(t *testing.T, dir, config string, args ...string) *daemon {
	t.Helper()
	path := filepath.Join(dir, "sluiced.hujson")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: exec.Command(sluiced, append([]string{"run", "--config", path}, args...)...), logs: &logBuffer{}, done: make(chan error, 1)}
	d.cmd.Dir = dir
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		<-d.done
		if t.Failed() {
			t.Logf("sluiced logs:\n%s", d.logs.String())
		}
	})
	waitFor(t, "sluiced to listen", func() bool { return strings.Contains(d.logs.String(), "msg=running") })
	return d
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		d.done <- err
		if err != nil {
			t.Fatalf("sluiced exited with %v; logs:\n%s", err, d.logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sluiced did not exit after SIGTERM")
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (d *daemon) kill() {
	_ = d.cmd.Process.Kill()
	if d.tracer != nil {
		// A killed tracee is reaped only once its tracer lets it go, which
		// strace does only after a delay it injected.
		_ = d.tracer.Kill()
	}
	err := <-d.done
	d.done <- err // for start's cleanup
}

// trace attaches strace(1) to the running sluiced with args (filters, and
// -e inject=... to hold it at a chosen system call) and returns once every
// thread is attached. Tests use it to stop sluiced at a dangerous moment on
// purpose: "-e inject=fsync:delay_enter=10000000" holds every fsync for 10s
// at its start, so that what sluiced wrote is visible and not yet synced
// until the test kills it. strace ends with sluiced (kill or stop).
func (d *daemon) trace(t *testing.T, args ...string) {
	t.Helper()
	pid := d.cmd.Process.Pid
	cmd := exec.Command(need(t, "strace"), append([]string{"-f", "-o", "/dev/null", "-p", strconv.Itoa(pid)}, args...)...)
	logs := &logBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	d.tracer = cmd.Process
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done }) // before start's: sluiced goes on, then is killed
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "strace to attach", func() bool {
		select {
		case err := <-done:
			done <- err
			if strings.Contains(logs.String(), "Operation not permitted") {
				// A property of the machine (no CAP_SYS_PTRACE, or Yama's
				// ptrace_scope), not a missing program .ci/run could install.
				t.Skipf("this machine forbids ptrace, so the moment cannot be held:\n%s", logs.String())
			}
			if os.Getenv("SLUICE_E2E") == "1" {
				t.Fatalf("strace could not attach (%v; ptrace must be allowed, SLUICE_E2E=1 requires it):\n%s", err, logs.String())
			}
			t.Skipf("strace could not attach (%v; ptrace must be allowed); set SLUICE_E2E=1 to make this a failure:\n%s", err, logs.String())
		default:
		}
		// One line for all threads, or one line per thread.
		if strings.Contains(logs.String(), fmt.Sprintf("Process %d attached with", pid)) {
			return true
		}
		for _, task := range tasks {
			if !strings.Contains(logs.String(), "Process "+task.Name()+" attached") {
				return false
			}
		}
		return true
	})
}

// dial connects to a TCP address of a running sluiced, once: sluiced
// logs "running" only once every listener is bound, so nothing is
// refused after start returns.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("connect to sluiced, running: %v", err)
	}
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // generous: CI machines may be loaded
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// events reads the NDJSON file at path.
func events(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func get(m map[string]any, path string) any {
	var v any = m
	for k := range strings.SplitSeq(path, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}
