package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestSendAtRunning: a client that waits for sluiced's "running" line, as
// scripts and CI do, and sends that very instant, once, without polling
// any port, is never refused: the http source, both listeners of the otlp
// source (gRPC and HTTP) and the syslog source over TCP take its events,
// and /readyz answers 200. The log is read as sluiced writes it, so the
// sends start within a millisecond of the line.
//
// In the second case every listen(2) of sluiced is held 300ms by strace:
// a listener is bound then, but not listening, and a connection to it is
// refused. That is the moment the old order (running logged, and /readyz
// ready, before the sources listened) lost every time, not by chance.
func TestSendAtRunning(t *testing.T) {
	for _, tc := range []struct {
		name string
		held bool
	}{
		{name: "plain"},
		{name: "listen held 300ms", held: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var wrap []string
			if tc.held {
				wrap = []string{need(t, "strace"), "-f", "-o", "/dev/null", "--seccomp-bpf", "-e", "trace=listen", "-e", "inject=listen:delay_enter=300000"}
			}
			sendAtRunning(t, wrap)
		})
	}
}

func sendAtRunning(t *testing.T, wrap []string) {
	dir := t.TempDir()
	ports := make([]int, 5)
	for i := range ports {
		ports[i] = freePort(t)
	}
	admin, web, grpcPort, otlpHTTP, sys := ports[0], ports[1], ports[2], ports[3], ports[4]
	path := filepath.Join(dir, "sluiced.hujson")
	config := fmt.Sprintf(`{
		"admin": {"addr": "127.0.0.1:%d"},
		"sources": {
			"web": {"type": "http", "addr": "127.0.0.1:%d", "format": "lines"},
			"otel": {"type": "otlp", "grpcAddr": "127.0.0.1:%d", "httpAddr": "127.0.0.1:%d"},
			"sys": {"type": "syslog", "network": "tcp", "addr": "127.0.0.1:%d"},
		},
		"destinations": {"out": {"type": "file", "path": "out.ndjson"}},
	}`, admin, web, grpcPort, otlpHTTP, sys)
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(wrap, sluiced, "run", "--config", path)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	logs := &logBuffer{}
	running := &watch{logs: logs, word: "msg=running", seen: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = running, running
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // strace, if wrapped, kills sluiced with it
		<-exited
		if t.Failed() {
			t.Logf("sluiced logs:\n%s", logs.String())
		}
	})
	select {
	case <-running.seen:
	case err := <-exited:
		exited <- err
		if len(wrap) > 0 && strings.Contains(logs.String(), "Operation not permitted") {
			t.Skipf("this machine forbids ptrace, so the moment cannot be held:\n%s", logs.String())
		}
		t.Fatalf("sluiced exited before running: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal(`no "running" within 60s`)
	}

	// Now, each once: no retry.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	sends := []struct {
		name string
		send func() error
	}{
		{"http", func() error {
			return post(ctx, fmt.Sprintf("http://127.0.0.1:%d/", web), "text/plain", "at-running-http\n")
		}},
		{"otlp http", func() error {
			body := `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"at-running-otlp-http"}}]}]}]}`
			return post(ctx, fmt.Sprintf("http://127.0.0.1:%d/v1/logs", otlpHTTP), "application/json", body)
		}},
		{"otlp grpc", func() error {
			cc, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", grpcPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				return err
			}
			defer cc.Close()
			logs := plog.NewLogs()
			logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("at-running-otlp-grpc")
			// Not WaitForReady: a refused connection fails the call.
			_, err = plogotlp.NewGRPCClient(cc).Export(ctx, plogotlp.NewExportRequestFromLogs(logs))
			return err
		}},
		{"syslog tcp", func() error {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", sys))
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = io.WriteString(c, "<13>1 - host app - - - at-running-syslog\n")
			return err
		}},
		{"readyz", func() error {
			return get200(ctx, fmt.Sprintf("http://127.0.0.1:%d/readyz", admin))
		}},
	}
	errs := make([]error, len(sends))
	var wg sync.WaitGroup
	for i, s := range sends {
		wg.Go(func() { errs[i] = s.send() })
	}
	wg.Wait()
	for i, s := range sends {
		if errs[i] != nil {
			t.Errorf("%s, sent as \"running\" was logged: %v", s.name, errs[i])
		}
	}
	if t.Failed() {
		return
	}
	out := filepath.Join(dir, "out.ndjson")
	waitFor(t, "the 4 events in the file", func() bool { return len(events(t, out)) >= 4 })
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"at-running-http", "at-running-otlp-http", "at-running-otlp-grpc", "at-running-syslog"} {
		n := 0
		for l := range strings.Lines(string(data)) {
			if strings.Contains(l, w) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("the file holds %d events of %q, want 1", n, w)
		}
	}
	if n := len(events(t, out)); n != 4 {
		t.Errorf("the file holds %d events, want 4", n)
	}
	stopTraced(t, cmd, exited, len(wrap) > 0)
}

// stopTraced sends SIGTERM to sluiced, which is cmd or, if traced, cmd's
// child, and waits for a clean exit.
func stopTraced(t *testing.T, cmd *exec.Cmd, exited chan error, traced bool) {
	t.Helper()
	pid := cmd.Process.Pid
	if traced {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if err != nil || len(strings.Fields(string(b))) != 1 {
			t.Fatalf("the traced sluiced: %q, %v", b, err)
		}
		if pid, err = strconv.Atoi(strings.Fields(string(b))[0]); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("sluiced exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sluiced did not exit 30s after SIGTERM")
	}
}

func post(ctx context.Context, url, ctype, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ctype)
	return do(req)
}

func get200(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	return do(req)
}

// do sends req once on a new connection and wants 200.
func do(req *http.Request) error {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, b)
	}
	return nil
}

// watch is a log writer that closes seen as soon as word is written.
type watch struct {
	logs *logBuffer
	word string
	once sync.Once
	seen chan struct{}
}

func (w *watch) Write(p []byte) (int, error) {
	n, err := w.logs.Write(p)
	if strings.Contains(w.logs.String(), w.word) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}
