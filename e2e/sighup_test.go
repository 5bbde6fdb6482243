package e2e

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGHUP, which kills a process by default, is logged and ignored: the
// daemon goes on taking and delivering events, and still drains and exits
// 0 on SIGTERM.
func TestSIGHUPIsIgnored(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	d := start(t, dir, fmt.Sprintf(`{
		"sources": {"sys": {"type": "syslog", "addr": "127.0.0.1:%d", "network": "tcp"}},
		"destinations": {"out": {"type": "file", "path": "out.ndjson", "batch": {"age": "10ms"}}},
	}`, port))
	path := filepath.Join(dir, "out.ndjson")
	send := func(line string) {
		t.Helper()
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := fmt.Fprintf(c, "<13>1 - host app - - - %s\n", line); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the SIGHUP log line", func() bool {
			return strings.Count(d.logs.String(), "reload not supported yet") == i+1
		})
		send(fmt.Sprintf("after hup %d", i))
	}
	waitFor(t, "the events sent after SIGHUP", func() bool { return len(events(t, path)) == 3 })
	select {
	case err := <-d.done:
		t.Fatalf("sluiced exited after SIGHUP: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if !strings.Contains(d.logs.String(), "level=WARN") {
		t.Errorf("the SIGHUP line is not at WARN:\n%s", d.logs.String())
	}
	d.stop(t) // exit 0 after SIGTERM
}
