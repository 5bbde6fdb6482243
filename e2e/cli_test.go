package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runSluiced runs the binary with args until it exits (or 20 s pass, a
// failure) and returns its exit code and its output.
func runSluiced(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit) && exit.Exited():
		return exit.ExitCode(), string(out)
	default:
		t.Fatalf("%s: %v\n%s", cmd, err, out)
		return 0, ""
	}
}

func sluicedCmd(t *testing.T, args ...string) *exec.Cmd { return binCmd(t, sluiced, args...) }

// binCmd runs bin, killed if it runs for longer than 20 s.
func binCmd(t *testing.T, bin string, args ...string) *exec.Cmd {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return exec.CommandContext(ctx, bin, args...)
}

// "sluiced version" names the version, commit and build date. A build
// without -X (and, here, -buildvcs=false) says what it does not know; a
// build like scripts/build's, with -X, says what it was given.
func TestVersion(t *testing.T) {
	code, out := runSluiced(t, sluicedCmd(t, "version"))
	if code != 0 {
		t.Fatalf("version: exit %d: %s", code, out)
	}
	for _, want := range []string{"sluiced ", "\ncommit: ", "\nbuilt: ", "\ngo: go1."} {
		if !strings.Contains(out, want) {
			t.Errorf("version printed %q, without %q", out, want)
		}
	}

	bin := filepath.Join(t.TempDir(), "sluiced")
	const pkg = "github.com/sluicehq/sluice/daemon"
	ldflags := fmt.Sprintf("-X %s.Version=v0.0.0-test -X %s.Commit=0123456789abcdef -X %s.Date=2026-12-06T08:00:00Z", pkg, pkg, pkg)
	if out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, "../cmd/sluiced").CombinedOutput(); err != nil {
		t.Fatalf("go build -ldflags: %v\n%s", err, out)
	}
	got, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "sluiced v0.0.0-test\ncommit: 0123456789abcdef\nbuilt: 2026-12-06T08:00:00Z\ngo: go1."; !strings.HasPrefix(string(got), want) {
		t.Errorf("version printed %q, want it to start %q", got, want)
	}
}

// "sluiced run CONFIG" runs CONFIG: its source listens on CONFIG's port
// and its destination gets the event sent there. A CONFIG that is missing
// fails, and never runs the embedded default (which would listen on 5514).
func TestRunPositionalConfig(t *testing.T) {
	logger := need(t, "logger")
	dir := t.TempDir()
	port := freePort(t)
	path := filepath.Join(dir, "mine.hujson")
	cfg := fmt.Sprintf(`{"dataDir": %q,
		"sources": {"mine": {"type": "syslog", "addr": "127.0.0.1:%d", "network": "udp"}},
		"destinations": {"out": {"type": "file", "path": %q}}}`, dir, port, filepath.Join(dir, "out.ndjson"))
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: exec.Command(sluiced, "run", path), logs: &logBuffer{}, done: make(chan error, 1)}
	d.cmd.Dir = dir
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(d.kill)
	waitFor(t, "sluiced to run", func() bool { return strings.Contains(d.logs.String(), "msg=running") })
	if logs := d.logs.String(); !strings.Contains(logs, fmt.Sprintf("127.0.0.1:%d", port)) || regexp.MustCompile(`:5514\b`).MatchString(logs) {
		t.Fatalf("not running %s:\n%s", path, logs)
	}
	if out, err := exec.Command(logger, "-d", "-n", "127.0.0.1", "-P", fmt.Sprint(port), "--rfc5424", "positional").CombinedOutput(); err != nil {
		t.Fatalf("logger: %v: %s", err, out)
	}
	waitFor(t, "the event", func() bool { return len(events(t, filepath.Join(dir, "out.ndjson"))) == 1 })
	d.stop(t)

	missing := filepath.Join(dir, "missing.hujson")
	cmd := sluicedCmd(t, "run", missing)
	cmd.Dir = dir
	code, out := runSluiced(t, cmd)
	if code == 0 || !strings.Contains(out, missing+": no such file") || strings.Contains(out, "listening") {
		t.Errorf("run %s: exit %d, output:\n%s", missing, code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "sluice-data")); err == nil {
		t.Error("the embedded default ran: ./sluice-data exists")
	}
}

// A daemon that cannot start logs at ERROR what failed (the component and
// its address or path) and exits non-zero, never silently and never after
// saying it is running. Each case takes the resource away on purpose.
func TestStartupErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup returns the config's extra top-level fields and source,
		// and the words the ERROR line must hold.
		setup func(t *testing.T, dir string) (extra, source string, want []string)
		// asNobody runs sluiced as uid 65534 when the test runs as root,
		// for whom no directory is read-only.
		asNobody bool
	}{
		{name: "admin address in use", setup: func(t *testing.T, dir string) (string, string, []string) {
			addr := holdTCP(t)
			return fmt.Sprintf(`"admin": {"addr": %q},`, addr), udpSource(freePort(t)), []string{"component=admin", "addr=" + addr, "address already in use"}
		}},
		// Sources bind in Run, after the start: "running" waits for them,
		// so the failure comes first.
		{name: "syslog address in use", setup: func(t *testing.T, dir string) (string, string, []string) {
			addr := holdTCP(t)
			return "", fmt.Sprintf(`{"type": "syslog", "addr": %q, "network": "tcp"}`, addr), []string{"sources.s.addr: listen tcp " + addr, "address already in use"}
		}},
		{name: "http address in use", setup: func(t *testing.T, dir string) (string, string, []string) {
			addr := holdTCP(t)
			return "", fmt.Sprintf(`{"type": "http", "addr": %q}`, addr), []string{"sources.s.addr: listen tcp " + addr, "address already in use"}
		}},
		{name: "otlp address in use", setup: func(t *testing.T, dir string) (string, string, []string) {
			addr := holdTCP(t)
			return "", fmt.Sprintf(`{"type": "otlp", "grpcAddr": "127.0.0.1:%d", "httpAddr": %q}`, freePort(t), addr), []string{"sources.s.httpAddr: listen tcp " + addr, "address already in use"}
		}},
		{name: "privileged port", asNobody: true, setup: func(t *testing.T, dir string) (string, string, []string) {
			if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); err == nil && strings.TrimSpace(string(b)) == "0" {
				t.Skip("every port is unprivileged on this machine (net.ipv4.ip_unprivileged_port_start=0)")
			}
			if os.Geteuid() != 0 {
				t.Skip("needs root, to run sluiced as nobody")
			}
			data := filepath.Join(dir, "data")
			if err := os.Mkdir(data, 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(data, 0o777); err != nil { // past the umask
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "out.ndjson"), nil, 0o666); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Join(dir, "out.ndjson"), 0o666); err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf(`"dataDir": %q,`, data), `{"type": "http", "addr": "127.0.0.1:1"}`, []string{"sources.s.addr: listen tcp 127.0.0.1:1", "permission denied"}
		}},
		{name: "data dir under a file", setup: func(t *testing.T, dir string) (string, string, []string) {
			file := filepath.Join(dir, "file")
			if err := os.WriteFile(file, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			data := filepath.Join(file, "data")
			return fmt.Sprintf(`"dataDir": %q,`, data), udpSource(freePort(t)), []string{"component=dataDir", "path=" + data, "not a directory"}
		}},
		{name: "data dir read-only", asNobody: true, setup: func(t *testing.T, dir string) (string, string, []string) {
			data := filepath.Join(dir, "data")
			if err := os.Mkdir(data, 0o555); err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf(`"dataDir": %q,`, data), udpSource(freePort(t)), []string{"component=dataDir", "path=" + data, "not writable", "permission denied"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := worldReadableDir(t)
			extra, source, want := tc.setup(t, dir)
			if !strings.Contains(extra, "dataDir") {
				extra += fmt.Sprintf(`"dataDir": %q,`, filepath.Join(dir, "data"))
			}
			path := filepath.Join(dir, "sluiced.hujson")
			cfg := fmt.Sprintf(`{%s "sources": {"s": %s}, "destinations": {"out": {"type": "file", "path": %q}}}`,
				extra, source, filepath.Join(dir, "out.ndjson"))
			if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := sluicedCmd(t, "run", "--config", path)
			if tc.asNobody && os.Geteuid() == 0 {
				bin := filepath.Join(dir, "sluiced")
				copyFile(t, sluiced, bin, 0o755)
				cmd = binCmd(t, bin, "run", "--config", path)
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			}
			cmd.Dir = dir
			code, out := runSluiced(t, cmd)
			if code == 0 {
				t.Errorf("exit 0, want non-zero; output:\n%s", out)
			}
			var errLine string
			for l := range strings.Lines(out) {
				if strings.Contains(l, "level=ERROR") && errLine == "" {
					errLine = l
				}
			}
			if errLine == "" {
				t.Fatalf("no ERROR line; output:\n%s", out)
			}
			for _, w := range want {
				if !strings.Contains(errLine, w) {
					t.Errorf("ERROR line %q does not hold %q", errLine, w)
				}
			}
			if strings.Contains(out, "msg=running") {
				t.Errorf("said it was running:\n%s", out)
			}
		})
	}
}

func udpSource(port int) string {
	return fmt.Sprintf(`{"type": "syslog", "addr": "127.0.0.1:%d", "network": "udp"}`, port)
}

// holdTCP listens on a free port until the test ends, and returns its
// address.
func holdTCP(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}

// worldReadableDir is a temporary directory that another user can read
// (t.TempDir's parents are private).
func worldReadableDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sluiced-cli")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, mode); err != nil {
		t.Fatal(err)
	}
}
