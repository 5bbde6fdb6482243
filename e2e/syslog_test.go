package e2e

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// logger(1) sends RFC 5424 and RFC 3164 over UDP and TCP (with octet
// counting and with newlines); every message arrives parsed in the file.
func TestLoggerToFile(t *testing.T) {
	logger := need(t, "logger")
	dir := t.TempDir()
	port := freePort(t)
	d := start(t, dir, fmt.Sprintf(`{
		"sources": {"sys": {"type": "syslog", "addr": "127.0.0.1:%d", "timezone": "UTC"}},
		"destinations": {"out": {"type": "file", "path": "out.ndjson", "batch": {"age": "20ms"}}},
	}`, port))
	cases := []struct {
		name string
		args []string
		ver  float64
	}{
		{"udp-5424", []string{"-d", "--rfc5424"}, 1},
		{"udp-3164", []string{"-d", "--rfc3164"}, 0},
		{"tcp-5424-octet", []string{"-T", "--octet-count", "--rfc5424"}, 1},
		{"tcp-3164-octet", []string{"-T", "--octet-count", "--rfc3164"}, 0},
		{"tcp-5424-newline", []string{"-T", "--rfc5424"}, 1},
		{"tcp-3164-newline", []string{"-T", "--rfc3164"}, 0},
	}
	for _, c := range cases {
		args := append([]string{"-n", "127.0.0.1", "-P", strconv.Itoa(port), "-t", "e2eapp", "-p", "local3.warning", "--id=4242"}, c.args...)
		args = append(args, "message via "+c.name)
		if out, err := exec.Command(logger, args...).CombinedOutput(); err != nil {
			t.Fatalf("logger %v: %v\n%s", args, err, out)
		}
	}
	path := filepath.Join(dir, "out.ndjson")
	waitFor(t, "every message in the file", func() bool { return len(events(t, path)) >= len(cases) })
	d.stop(t)
	got := map[string]map[string]any{}
	for _, ev := range events(t, path) {
		got[fmt.Sprint(get(ev, "syslog.message"))] = ev
	}
	for _, c := range cases {
		ev, ok := got["message via "+c.name]
		if !ok {
			t.Errorf("%s: not in the file (got %v)", c.name, got)
			continue
		}
		for field, want := range map[string]any{
			"syslog.facility": float64(19), "syslog.severity": float64(4), "syslog.appName": "e2eapp",
			"syslog.procId": "4242", "sourceType": "syslog", "source": "sys",
		} {
			if v := get(ev, field); v != want {
				t.Errorf("%s: %s = %v, want %v", c.name, field, v, want)
			}
		}
		if v, _ := get(ev, "syslog.version").(float64); v != c.ver {
			t.Errorf("%s: version %v, want %v", c.name, v, c.ver)
		}
		if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(ev["ts"])); err != nil {
			t.Errorf("%s: ts %v: %v", c.name, ev["ts"], err)
		}
	}
	if n := len(events(t, path)); n != len(cases) {
		t.Errorf("file holds %d events, want %d (each once)", n, len(cases))
	}
}

// SIGTERM under load: every event the daemon received is in the file when
// it exits, and the file's count equals the daemon's own counter.
func TestSIGTERMDrainsUnderLoad(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	d := start(t, dir, fmt.Sprintf(`{
		"sources": {"sys": {"type": "syslog", "addr": "127.0.0.1:%d", "network": "tcp"}},
		"destinations": {"out": {"type": "file", "path": "out.ndjson"}},
	}`, port))
	var sent atomic.Int64
	stopSending := make(chan struct{})
	senders := make(chan struct{}, 4)
	for w := range 4 {
		c := dial(t, fmt.Sprintf("127.0.0.1:%d", port))
		go func() {
			defer func() { senders <- struct{}{} }()
			defer c.Close()
			for i := 0; ; i++ {
				select {
				case <-stopSending:
					return
				default:
				}
				line := fmt.Sprintf("<13>1 - - load - - - w=%d seq=%d", w, i)
				if _, err := fmt.Fprintf(c, "%d %s", len(line), line); err != nil {
					return // the daemon stopped reading
				}
				sent.Add(1)
			}
		}()
	}
	waitFor(t, "load to flow", func() bool { return sent.Load() > 20000 })
	d.stop(t)
	close(stopSending)
	for range 4 {
		<-senders
	}
	m := regexp.MustCompile(`msg="source stopped" source=sys received=(\d+)`).FindStringSubmatch(d.logs.String())
	if m == nil {
		t.Fatalf("no received count in the logs:\n%s", d.logs.String())
	}
	received, _ := strconv.Atoi(m[1])
	evs := events(t, filepath.Join(dir, "out.ndjson"))
	seen := map[string]bool{}
	for _, ev := range evs {
		seen[fmt.Sprint(get(ev, "syslog.message"))] = true
	}
	t.Logf("sent %d, daemon received %d, file holds %d (%d distinct)", sent.Load(), received, len(evs), len(seen))
	if received == 0 || len(evs) != received || len(seen) != received {
		t.Errorf("file holds %d events (%d distinct), daemon received %d: a received event was lost or doubled", len(evs), len(seen), received)
	}
	if !strings.Contains(d.logs.String(), "draining in-flight events") {
		t.Error("the daemon did not drain")
	}
}

// startStuck starts sluiced with a destination that can never finish: its
// file is a FIFO nobody reads, so opening it blocks, and a full drain would
// take the whole shutdownTimeout.
func startStuck(t *testing.T, shutdownTimeout string) *daemon {
	t.Helper()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "out.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	return start(t, dir, fmt.Sprintf(`{
		"shutdownTimeout": %q,
		"sources": {"sys": {"type": "syslog", "addr": "127.0.0.1:%d", "network": "tcp"}},
		"destinations": {"out": {"type": "file", "path": %q}},
	}`, shutdownTimeout, freePort(t), fifo))
}

// A second signal during the drain exits at once, with a failure code.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	d := startStuck(t, "1h")
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, "the drain to start", func() bool { return strings.Contains(d.logs.String(), "draining") })
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		d.done <- err
		if err == nil {
			t.Error("exit 0 after a second signal, want a failure code")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a second signal did not stop sluiced")
	}
}

// A drain that cannot finish ends at shutdownTimeout (plus a short grace)
// with a failure code, without a second signal.
func TestDrainTimeoutExits(t *testing.T) {
	d := startStuck(t, "500ms")
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		d.done <- err
		if err == nil {
			t.Error("exit 0 after an unfinished drain, want a failure code")
		}
		if !strings.Contains(d.logs.String(), "did not stop within shutdownTimeout") {
			t.Errorf("no word of the timeout in the logs:\n%s", d.logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("sluiced did not exit after its shutdown timeout")
	}
}

// The README's main job: "sluiced run" without a config listens for syslog
// on 127.0.0.1:5514 (UDP and TCP) and writes ./sluice-data/events.ndjson.
func TestDefaultConfig(t *testing.T) {
	logger := need(t, "logger")
	for _, addr := range []string{"127.0.0.1:5514", "127.0.0.1:9595"} {
		if c, err := net.Listen("tcp", addr); err != nil {
			t.Skipf("%s is taken (%v); the default config needs it", addr, err)
		} else {
			c.Close()
		}
	}
	dir := t.TempDir()
	d := &daemon{cmd: exec.Command(sluiced, "run"), logs: &logBuffer{}, done: make(chan error, 1)}
	d.cmd.Dir = dir
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() { _ = d.cmd.Process.Kill(); <-d.done })
	waitFor(t, "sluiced to listen", func() bool { return strings.Contains(d.logs.String(), "msg=listening") })
	for _, args := range [][]string{{"-d"}, {"-T", "--octet-count"}} {
		args = append([]string{"-n", "127.0.0.1", "-P", "5514", "--rfc5424"}, args...)
		if out, err := exec.Command(logger, append(args, "default config says hi")...).CombinedOutput(); err != nil {
			t.Fatalf("logger: %v\n%s", err, out)
		}
	}
	path := filepath.Join(dir, "sluice-data", "events.ndjson")
	waitFor(t, "two events in sluice-data/events.ndjson", func() bool { return len(events(t, path)) == 2 })
	d.stop(t)
	for _, ev := range events(t, path) {
		if get(ev, "syslog.message") != "default config says hi" || ev["source"] != "syslog" {
			t.Errorf("event %v", ev)
		}
	}
}
