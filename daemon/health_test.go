package daemon_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/internal/metrictest"
)

// TestReadyzCheckpointFailure runs a file source whose state directory is
// replaced by a file while it runs, so that its checkpoint writes fail
// (ENOTDIR): /readyz answers 503 naming the source and the metric counts
// the failures; once the directory is back, /readyz is 200 again.
func TestReadyzCheckpointFailure(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{
		"dataDir": %q,
		"admin": {"addr": %q},
		"sources": {"tail": {"type": "file", "paths": [%q], "pollInterval": "10ms", "checkpointInterval": "20ms"}},
		"destinations": {"out": {"type": "file", "path": %q, "batch": {"age": "10ms"}}},
	}`, dir, addr, filepath.Join(dir, "*.log"), filepath.Join(dir, "out.ndjson"))
	d, err := daemon.New([]byte(cfg), testRegistry(&ackLog{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		// Generous: under a loaded CI machine the source's checkpoint
		// ticks can fall seconds behind; waiting costs time only when
		// something is wrong.
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitUntil("ready", func() bool { c, _ := get("/readyz"); return c == 200 })

	state := filepath.Join(dir, "state", "tail")
	// Ready comes before the source has read its state: the directory is
	// made first, then read (a failure there ends Run: the state cannot
	// be trusted), then the first scan's checkpoint is written. Moving the
	// directory is the test only once that checkpoint exists.
	waitUntil("the first checkpoint", func() bool { _, err := os.Stat(filepath.Join(state, "checkpoints.json")); return err == nil })
	if err := os.Rename(state, state+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var body string
	waitUntil("/readyz to fail", func() bool {
		var c int
		c, body = get("/readyz")
		return c == http.StatusServiceUnavailable
	})
	if !strings.Contains(body, "source tail: checkpoint:") || !strings.Contains(body, "not a directory") {
		t.Errorf("/readyz body %q does not name the source and the error", body)
	}
	series := `sluice_errors_total{cause="checkpoint",kind="source",name="tail"}`
	n := metrictest.Value(t, "http://"+addr+"/metrics", series)
	waitUntil("the counter to grow", func() bool { return metrictest.Value(t, "http://"+addr+"/metrics", series) > n })

	if err := os.Remove(state); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(state+".away", state); err != nil {
		t.Fatal(err)
	}
	waitUntil("/readyz to recover", func() bool { c, _ := get("/readyz"); return c == 200 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
