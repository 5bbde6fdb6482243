package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/builtin"
)

// Reload refuses an invalid config (counted "failed", the running one
// goes on delivering), and runs a valid one (counted "ok"): a disk buffer
// added opens its spool, one removed drains and closes it, one kept runs
// on, and /metrics reports each spool once.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	in, admin := filepath.Join(dir, "in.log"), freeAddr(t)
	if err := os.WriteFile(in, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	config := func(dests ...string) []byte {
		var ds []string
		for _, d := range dests {
			ds = append(ds, fmt.Sprintf(`%q: {"type": "file", "path": %q, "buffer": {"type": "disk"}, "batch": {"age": "5ms"}}`,
				d, filepath.Join(dir, d+".ndjson")))
		}
		return fmt.Appendf(nil, `{
			"dataDir": %q, "admin": {"addr": %q},
			"sources": {"in": {"type": "file", "paths": [%q], "startAt": "beginning", "pollInterval": "10ms"}},
			"destinations": {%s},
		}`, filepath.Join(dir, "data"), admin, in, strings.Join(ds, ", "))
	}
	dm, err := daemon.New(config("a"), builtin.Registry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- dm.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	line := 0
	appendLine := func() {
		t.Helper()
		f, err := os.OpenFile(in, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		line++
		fmt.Fprintf(f, "line %d\n", line)
	}
	// delivered waits until dest holds n events.
	delivered := func(dest string, n int) {
		t.Helper()
		path := filepath.Join(dir, dest+".ndjson")
		waitUntil(t, fmt.Sprintf("%d events in %s", n, dest), func() bool {
			_, err := os.Stat(path)
			return err == nil && len(readLines(t, path)) == n
		})
	}
	reloads := func(result string) float64 {
		return metric(t, admin, `sluice_reloads_total{result="`+result+`"}`)
	}
	waitUntil(t, "the admin listener", func() bool {
		c, err := net.Dial("tcp", admin)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	appendLine()
	delivered("a", 1)
	if ok, failed := reloads("ok"), reloads("failed"); ok != 0 || failed != 0 {
		t.Fatalf("before any reload: ok %v, failed %v", ok, failed)
	}

	bad := strings.Replace(string(config("a")), `"type": "file", "path"`, `"type": "file", "pathz"`, 1)
	err = dm.Reload(t.Context(), []byte(bad))
	if err == nil || !strings.Contains(err.Error(), "destinations.a") {
		t.Fatalf("Reload(invalid) = %v, want an error naming destinations.a", err)
	}
	if got := reloads("failed"); got != 1 {
		t.Errorf("failed reloads = %v, want 1", got)
	}
	appendLine()
	delivered("a", 2) // the old config runs on

	if err := dm.Reload(t.Context(), config("a", "b")); err != nil {
		t.Fatalf("Reload(a, b) = %v", err)
	}
	if got := reloads("ok"); got != 1 {
		t.Errorf("ok reloads = %v, want 1", got)
	}
	appendLine()
	delivered("a", 3)
	delivered("b", 1) // what was read since it is configured: the source resumes at its checkpoint
	for _, name := range []string{"a", "b"} {
		metric(t, admin, `sluice_spool_records{buffer="`+name+`"}`) // each spool reported once
	}

	if err := dm.Reload(t.Context(), config("a", "b")); err != nil {
		t.Fatalf("Reload(unchanged) = %v", err)
	}
	if err := dm.Reload(t.Context(), config("a")); err != nil {
		t.Fatalf("Reload(a) = %v", err)
	}
	if got := reloads("ok"); got != 3 {
		t.Errorf("ok reloads = %v, want 3", got)
	}
	appendLine()
	delivered("a", 4)
	delivered("b", 1)
	if got := reloads("failed"); got != 1 {
		t.Errorf("failed reloads = %v, want 1", got)
	}
}

// waitUntil polls cond for up to 15s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A reload restarts only what changed: adding a destination rebuilds the
// destinations and routes but leaves the syslog source running, so a
// TCP connection made before it goes on delivering, to both
// destinations; changing the source's config restarts it, which closes
// the connection.
func TestReloadRestartsOnlyWhatChanged(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	config := func(maxConns int, dests ...string) []byte {
		var ds []string
		for _, d := range dests {
			ds = append(ds, fmt.Sprintf(`%q: {"type": "file", "path": %q, "batch": {"age": "5ms"}}`, d, filepath.Join(dir, d+".ndjson")))
		}
		return fmt.Appendf(nil, `{
			"dataDir": %q,
			"sources": {"in": {"type": "syslog", "network": "tcp", "addr": %q, "maxConnections": %d}},
			"destinations": {%s},
		}`, filepath.Join(dir, "data"), addr, maxConns, strings.Join(ds, ", "))
	}
	var logs syncBuf
	dm := runDaemon(t, config(10, "a"), builtin.Registry(), &logs)
	var conn net.Conn
	waitUntil(t, "the syslog listener", func() bool {
		var err error
		conn, err = net.Dial("tcp", addr)
		return err == nil
	})
	defer conn.Close()
	send := func(line string) {
		t.Helper()
		if _, err := fmt.Fprintf(conn, "<13>1 - host app - - - %s\n", line); err != nil {
			t.Fatal(err)
		}
	}
	delivered := func(dest string, n int) {
		t.Helper()
		path := filepath.Join(dir, dest+".ndjson")
		waitUntil(t, fmt.Sprintf("%d events in %s", n, dest), func() bool {
			_, err := os.Stat(path)
			return err == nil && len(readLines(t, path)) == n
		})
	}
	send("one")
	delivered("a", 1)

	if err := dm.Reload(t.Context(), config(10, "a", "b")); err != nil {
		t.Fatal(err)
	}
	send("two") // on the connection made before the reload
	delivered("a", 2)
	delivered("b", 1)
	if !strings.Contains(logs.String(), "restartSources=[] replaceDestinations=[] replaceRoutes=[default] keepDestinations=[a]") {
		t.Errorf("the reload did not say it kept the source and destination a:\n%s", logs.String())
	}

	if err := dm.Reload(t.Context(), config(11, "a", "b")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `restartSources=[in] replaceDestinations=[] replaceRoutes=[] keepDestinations="[a b]"`) {
		t.Errorf("the reload did not say it restarted the source alone:\n%s", logs.String())
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the connection to the replaced source is still open: read = %v", err)
	}
	var c2 net.Conn
	waitUntil(t, "the restarted source to listen", func() bool {
		var err error
		c2, err = net.Dial("tcp", addr)
		return err == nil
	})
	defer c2.Close()
	fmt.Fprintf(c2, "<13>1 - host app - - - three\n")
	delivered("a", 3)
	delivered("b", 2)
}

// A reload that replaces a destination which never acked what it took
// (its server down) restarts the source that sent it, though the
// source's config did not change: the file source reads those lines
// again from its checkpoint, and the new destination gets every line.
func TestReloadReplaysWhatTheOldDestinationDidNotAck(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.log")
	var lines []byte
	for i := range 50 {
		lines = fmt.Appendf(lines, "line %d\n", i)
	}
	if err := os.WriteFile(in, lines, 0o644); err != nil {
		t.Fatal(err)
	}
	source := fmt.Sprintf(`"sources": {"in": {"type": "file", "paths": [%q], "startAt": "beginning", "pollInterval": "10ms"}}`, in)
	h := &hold{}
	dm, err := daemon.New(fmt.Appendf(nil, `{"dataDir": %q, "shutdownTimeout": "2s", %s, "destinations": {"down": {"type": "hold"}}}`,
		filepath.Join(dir, "data"), source), bufferRegistry(&ackLog{}, h), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- dm.Run(ctx) }()
	waitUntil(t, "the held destination to take 50 lines", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.got == 50
	})
	out := filepath.Join(dir, "out.ndjson")
	if err := dm.Reload(t.Context(), fmt.Appendf(nil, `{"dataDir": %q, "shutdownTimeout": "2s", %s, "destinations": {"out": {"type": "file", "path": %q, "batch": {"age": "5ms"}}}}`,
		filepath.Join(dir, "data"), source, out)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "50 lines in the new destination", func() bool {
		_, err := os.Stat(out)
		return err == nil && len(readLines(t, out)) == 50
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}
