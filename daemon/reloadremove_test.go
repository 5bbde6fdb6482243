package daemon_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/builtin"
	"github.com/sluicehq/sluice/event"
)

// A reload that removes a destination with a disk buffer whose spool
// still holds events (its endpoint down) cannot deliver them: they were
// acknowledged to their source when spooled, so no source reads them
// again, and no destination of the new config reads that spool. They must
// not go quietly: the reload says so at ERROR, with the count and the
// directory, both when it replaces parts in place and when a Send that
// hangs past shutdownTimeout makes it restart everything; and a later
// config that brings the destination back delivers them, none missing.
func TestReloadRemovingADiskBuffer(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("restartEverything=%v", restart), func(t *testing.T) {
			dir := t.TempDir()
			in, hang, aPath := filepath.Join(dir, "in.log"), filepath.Join(dir, "hang.log"), filepath.Join(dir, "a.ndjson")
			const n = 50
			writeSeqs(t, in, n)
			if err := os.WriteFile(hang, []byte("hang\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			coll, bConfig := downEndpoint(t)
			admin := freeAddr(t)
			data := filepath.Join(dir, "data")
			release := make(chan struct{})
			config := func(withB bool) []byte {
				b, to, hangs, hangRoute := "", `"a"`, "", ""
				if withB {
					b, to = bConfig, `"a", "b"`
				}
				if restart { // a source whose Send hangs in "stuck" until released
					hangs = fmt.Sprintf(`, "hang": {"type": "file", "paths": [%q], "startAt": "beginning", "pollInterval": "10ms"}`, hang)
					hangRoute = `, {"name": "hang", "from": ["hang"], "to": ["s"]}`
				}
				return fmt.Appendf(nil, `{
					"dataDir": %q, "shutdownTimeout": "1s", "admin": {"addr": %q},
					"sources": {"in": {"type": "file", "paths": [%q], "startAt": "beginning", "pollInterval": "10ms", "checkpointInterval": "50ms"}%s},
					"destinations": {%s "a": {"type": "counted", "path": %q, "maxBytes": 0, "batch": {"age": "5ms"}}, "s": {"type": "stuck"}},
					"routes": [{"name": "main", "from": ["in"], "to": [%s]}%s],
				}`, data, admin, in, hangs, b, aPath, to, hangRoute)
			}
			var lc lifecycle
			r := lc.registry()
			daemon.RegisterDestination(r, "stuck", "Sends wait for the test", func() *struct{} { return &struct{}{} },
				func(daemon.Env, *struct{}) (sluice.Destination[event.Event], error) { return stuck{release}, nil })
			var logs syncBuf
			dm := runDaemon(t, config(true), r, &logs)
			waitLong(t, "a to write every line and b's spool to hold every line", func() bool {
				return len(seqCounts(t, aPath)) == n && metric(t, admin, `sluice_spool_records{buffer="b"}`) == n
			})
			if restart {
				waitLong(t, "a Send to hang", func() bool { return metric(t, admin, `sluice_events_in_total{kind="destination",name="s"}`) == 1 })
				go func() {
					for !strings.Contains(logs.String(), "restarting everything") {
						time.Sleep(10 * time.Millisecond)
					}
					close(release)
				}()
			} else {
				close(release)
			}
			if err := dm.Reload(t.Context(), config(false)); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(logs.String(), "restarting everything"); got != restart {
				t.Fatalf("restarted everything: %v, want %v", got, restart)
			}
			spoolDir := filepath.Join(data, "spool", "b")
			want := regexp.MustCompile(`level=ERROR msg="reload: a removed disk buffer left events in its spool[^"]*" buffer=b dir="?` +
				regexp.QuoteMeta(spoolDir) + `"? records=` + fmt.Sprint(n))
			if !want.MatchString(logs.String()) {
				t.Errorf("no ERROR naming b's spool %s and its %d events", spoolDir, n)
			}
			coll.down.Store(false)
			if err := dm.Reload(t.Context(), config(true)); err != nil {
				t.Fatal(err)
			}
			waitLong(t, "b's endpoint to get every line", func() bool { return len(coll.counts()) == n })
			if missing, _ := exactlyOnce(coll.counts(), n); missing > 0 {
				t.Errorf("b's endpoint: %d of %d lines missing", missing, n)
			}
		})
	}
}

// The same at a start: a config without the disk buffer whose spool
// still holds events, after a stop, says so at ERROR, with the count and
// the directory; a config that uses every spool says nothing of the kind.
func TestStartWithASpoolNoBufferUses(t *testing.T) {
	dir := t.TempDir()
	in, aPath := filepath.Join(dir, "in.log"), filepath.Join(dir, "a.ndjson")
	const n = 20
	writeSeqs(t, in, n)
	_, bConfig := downEndpoint(t)
	admin := freeAddr(t)
	data := filepath.Join(dir, "data")
	config := func(withB bool) []byte {
		b := ""
		if withB {
			b = bConfig
		}
		return fmt.Appendf(nil, `{
			"dataDir": %q, "shutdownTimeout": "1s", "admin": {"addr": %q},
			"sources": {"in": {"type": "file", "paths": [%q], "startAt": "beginning", "pollInterval": "10ms", "checkpointInterval": "50ms"}},
			"destinations": {%s "a": {"type": "file", "path": %q, "batch": {"age": "5ms"}}},
		}`, data, admin, in, b, aPath)
	}
	const line = "a spool no disk buffer of the config uses holds events"
	run := func(withB bool, until func() bool) string {
		var logs syncBuf
		dm, err := daemon.New(config(withB), builtin.Registry(), slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- dm.Run(ctx) }()
		waitLong(t, "the admin listener", func() bool {
			c, err := net.Dial("tcp", admin)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		waitLong(t, "the daemon to get there", until)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v\n%s", err, logs.String())
		}
		return logs.String()
	}
	if logs := run(true, func() bool { return metric(t, admin, `sluice_spool_records{buffer="b"}`) == n }); strings.Contains(logs, line) {
		t.Errorf("ERROR about spools with every spool in use:\n%s", logs)
	}
	logs := run(false, func() bool { return len(seqCounts(t, aPath)) == n })
	want := regexp.MustCompile(`level=ERROR msg="` + line + `[^"]*" dir="?` + regexp.QuoteMeta(filepath.Join(data, "spool", "b")) + `"? records=` + fmt.Sprint(n))
	if !want.MatchString(logs) {
		t.Errorf("no ERROR naming b's spool and its %d events:\n%s", n, logs)
	}
}

// writeSeqs writes n lines "seq=0" ... "seq=n-1" to path.
func writeSeqs(t *testing.T, path string, n int) {
	t.Helper()
	var lines []byte
	for i := range n {
		lines = fmt.Appendf(lines, "seq=%d\n", i)
	}
	if err := os.WriteFile(path, lines, 0o644); err != nil {
		t.Fatal(err)
	}
}

// downEndpoint returns a collector, down, serving until the test ends,
// and the config of destination "b" sending to it behind a disk buffer.
func downEndpoint(t *testing.T) (*collector, string) {
	t.Helper()
	coll := &collector{got: map[int]int{}}
	coll.down.Store(true)
	srv := httptest.NewServer(coll)
	t.Cleanup(srv.Close)
	return coll, fmt.Sprintf(`"b": {"type": "http", "url": %q, "buffer": {"type": "disk"},
		"batch": {"age": "5ms", "stopTimeout": "300ms", "retry": {"initial": "10ms", "max": "50ms"}}},`, srv.URL)
}
