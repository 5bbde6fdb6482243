package daemon_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/builtin"
	"github.com/sluicehq/sluice/handler/wasm"
	"github.com/sluicehq/sluice/internal/wasmtest"
)

// A wasm handler's runtime is freed when a reload drops it, when
// "validate" is done with it, and when the daemon stops; one a reload
// adds runs (and redacts) until then.
func TestWasmHandlerIsClosed(t *testing.T) {
	dir := t.TempDir()
	module := filepath.Join(dir, "redact.wasm")
	if err := os.WriteFile(module, wasmtest.Build(t, "../examples/wasm/redact"), 0o644); err != nil {
		t.Fatal(err)
	}
	in, out := filepath.Join(dir, "in.log"), filepath.Join(dir, "out.ndjson")
	if err := os.WriteFile(in, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	config := func(withWasm bool) []byte {
		handlers := ""
		if withWasm {
			handlers = fmt.Sprintf(`{"type": "wasm", "module": %q, "instances": 1}`, module)
		}
		return fmt.Appendf(nil, `{
			"dataDir": %q,
			"sources": {"in": {"type": "file", "paths": [%q], "startAt": "beginning", "pollInterval": "10ms"}},
			"destinations": {"out": {"type": "file", "path": %q, "batch": {"age": "5ms"}}},
			"routes": [{"name": "main", "from": ["in"], "to": ["out"], "handlers": [%s]}],
		}`, filepath.Join(dir, "data"), in, out, handlers)
	}
	// Compiling the module takes seconds (minutes under -race): share the
	// wasm tests' compilation cache, keyed by the module's hash.
	cache := filepath.Join(os.TempDir(), "sluice-wasm-test-cache")
	for _, d := range []string{cache, filepath.Join(dir, "data")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(cache, filepath.Join(dir, "data", "wasm-cache")); err != nil {
		t.Fatal(err)
	}
	open := wasm.OpenHandlers()
	cfgFile := filepath.Join(dir, "sluiced.json")
	if err := os.WriteFile(cfgFile, config(true), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := daemon.Main([]string{"validate", cfgFile}, io.Discard, io.Discard, builtin.Registry()); code != 0 {
		t.Fatalf("validate exit %d", code)
	}
	if n := wasm.OpenHandlers() - open; n != 0 {
		t.Errorf("after validate: %d wasm handlers open", n)
	}

	dm, err := daemon.New(config(false), builtin.Registry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- dm.Run(ctx) }()
	lines := 0
	deliver := func(text string) string {
		t.Helper()
		f, err := os.OpenFile(in, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(f, text)
		f.Close()
		lines++
		var got string
		waitUntil(t, fmt.Sprintf("%d lines delivered", lines), func() bool {
			_, err := os.Stat(out)
			ls := []map[string]any{}
			if err == nil {
				ls = readLines(t, out)
			}
			if len(ls) < lines {
				return false
			}
			got = fmt.Sprint(ls[lines-1]["raw"])
			return true
		})
		return got
	}
	for i, step := range []struct {
		wasm       bool
		line, want string
		open       int
	}{
		{false, "card 4111111111111111", "card 4111111111111111", 0},
		{true, "card 4111111111111112", "card [redacted]", 1},
		{false, "card 4111111111111113", "card 4111111111111113", 0},
		{true, "card 4111111111111114", "card [redacted]", 1},
	} {
		if i > 0 {
			if err := dm.Reload(t.Context(), config(step.wasm)); err != nil {
				t.Fatal(err)
			}
		}
		if n := wasm.OpenHandlers() - open; n != step.open {
			t.Errorf("step %d: %d wasm handlers open, want %d", i, n, step.open)
		}
		if got := deliver(step.line); got != step.want {
			t.Errorf("step %d: delivered %q, want %q", i, got, step.want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if n := wasm.OpenHandlers() - open; n != 0 {
		t.Errorf("after the stop: %d wasm handlers open", n)
	}
}
