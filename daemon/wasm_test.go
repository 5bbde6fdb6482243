package daemon_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/builtin"
	"github.com/sluicehq/sluice/internal/wasmtest"
)

// The wasm example config, with the example modules built as its comment
// says: syslog lines over TCP are redacted, DEBUG lines dropped, and disk
// failures also go to the alerts file through the "alerts" route.
func TestWasmExamplePipeline(t *testing.T) {
	example, err := filepath.Abs("../examples/wasm/pipeline.hujson")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"redact", "alert"} {
		module := wasmtest.Build(t, "../examples/wasm/"+name)
		p := filepath.Join(dir, "examples", "wasm", name, name+".wasm")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, module, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir) // the config's paths are relative to the repository's root

	var out, errOut bytes.Buffer
	if code := daemon.Main([]string{"validate", "--config", example}, &out, &errOut, builtin.Registry()); code != 0 {
		t.Fatalf("validate exit %d: %s", code, errOut.String())
	}
	cfg, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cfg = bytes.Replace(cfg, []byte("127.0.0.1:5514"), []byte(addr), 1)
	d, err := daemon.New(cfg, builtin.Registry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	var lines bytes.Buffer
	const n = 300
	for i := range n {
		msg := fmt.Sprintf("request %d from card 4111111111111111 ok", i)
		switch i % 3 {
		case 1:
			msg = fmt.Sprintf("DEBUG request %d", i)
		case 2:
			msg = fmt.Sprintf("sda%d: disk failed, account 000012345678901", i)
		}
		fmt.Fprintf(&lines, "<14>1 2026-12-06T09:00:00Z host app - - - %s\n", msg)
	}
	var conn net.Conn
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if conn, err = net.Dial("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(lines.Bytes()); err != nil {
		t.Fatal(err)
	}
	conn.Close()

	logs, alerts := filepath.Join(dir, "sluice-data", "logs.ndjson"), filepath.Join(dir, "sluice-data", "alerts.ndjson")
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if countLines(logs) >= 2*n/3 && countLines(alerts) >= n/3 {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	got := readLines(t, logs)
	if len(got) != 2*n/3 {
		t.Fatalf("logs.ndjson holds %d events, want %d (the DEBUG ones dropped)", len(got), 2*n/3)
	}
	for _, e := range got {
		raw := e["raw"].(string)
		msg := e["syslog"].(map[string]any)["message"].(string)
		if strings.Contains(raw, "DEBUG") || strings.Contains(raw, "4111111111111111") || strings.Contains(msg, "000012345678901") || !strings.Contains(raw, "[redacted]") {
			t.Fatalf("not redacted or not dropped: %v", e)
		}
	}
	al := readLines(t, alerts)
	if len(al) != n/3 {
		t.Fatalf("alerts.ndjson holds %d events, want %d", len(al), n/3)
	}
	if raw := al[0]["raw"].(string); !strings.HasPrefix(raw, "ALERT sda2: disk failed, account [redacted]") {
		t.Errorf("first alert: %q", raw)
	}
	if _, err := os.Stat(filepath.Join(dir, "sluice-data", "wasm-cache")); err != nil {
		t.Errorf("no compilation cache: %v", err)
	}
}

func countLines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

// A module that traps on a batch, or runs past its timeout, sends it to
// the handler's dead letter with the reason, counted; the daemon goes on,
// delivers the rest, and every event counts as delivered.
func TestWasmFailureGoesToDeadLetter(t *testing.T) {
	dir := t.TempDir()
	module := filepath.Join(dir, "faulty.wasm")
	if err := os.WriteFile(module, wasmtest.Build(t, "../handler/wasm/testdata/faulty"), 0o644); err != nil {
		t.Fatal(err)
	}
	adminAddr := freeAddr(t)
	cfg := fmt.Sprintf(`{
		"dataDir": %q,
		"admin": {"addr": %q},
		"sources": {"g": {"type": "gen", "lines": ["a", "panic", "b", "loop", "c"], "block": true}},
		"destinations": {
			"out":    {"type": "file", "path": %q},
			"failed": {"type": "file", "path": %q},
		},
		"routes": [{"from": ["g"], "to": ["out"], "handlers": [
			{"type": "wasm", "module": %q, "deadLetter": "failed", "timeout": "200ms", "instances": 1},
		]}],
	}`, dir, adminAddr, filepath.Join(dir, "out.ndjson"), filepath.Join(dir, "failed.ndjson"), module)
	acked := &ackLog{}
	d, err := daemon.New([]byte(cfg), testRegistry(acked), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	const series = `sluice_errors_total{cause="wasm",kind="handler",name="routes[0].handlers[0]"}`
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		acked.mu.Lock()
		n := acked.n
		acked.mu.Unlock()
		if got, _ := scrape(adminAddr, series); got == 2 && n == 5 {
			break
		}
		if time.Now().After(deadline) {
			got, _ := scrape(adminAddr, series)
			t.Fatalf("%s = %v and %d events acked, want 2 and 5", series, got, n)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	var raws []string
	for _, e := range readLines(t, filepath.Join(dir, "out.ndjson")) {
		raws = append(raws, e["raw"].(string))
	}
	if fmt.Sprint(raws) != "[a! b! c!]" {
		t.Errorf("out.ndjson: %q", raws)
	}
	failed := readLines(t, filepath.Join(dir, "failed.ndjson"))
	if len(failed) != 2 {
		t.Fatalf("failed.ndjson holds %d events, want 2", len(failed))
	}
	for i, want := range []struct{ raw, reason string }{
		{"panic", "wasm module faulty: trap in sluice_handle: wasm error: unreachable: panic: guest panics on purpose"},
		{"loop", "wasm module faulty: timeout: sluice_handle ran past its deadline"},
	} {
		f := failed[i]["fields"].(map[string]any)
		if failed[i]["raw"] != want.raw || f["deadLetter.from"] != "routes[0].handlers[0]" || f["deadLetter.module"] != "faulty" ||
			!strings.HasPrefix(f["deadLetter.error"].(string), want.reason) {
			t.Errorf("dead letter %d: %v, want %s: %s", i, failed[i], want.raw, want.reason)
		}
	}
}
